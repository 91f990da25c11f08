/*
 * The operations of the SQLite store that the read side's lists need: a
 * conversation's ttl, a group as its members and former members see it,
 * and the conversation list of a user with its unread counts.
 */

#include <string.h>

#include "chat_store_sqlite.h"


/*
 * Column col of the newest live message of the window of member row b at
 * ?2 (now): a walk backwards of messages_live from the window's top, which
 * stops at the first live row (the expired not deleted yet, at most a
 * minute's worth, are stepped over; tombstones and events are not in the
 * index).
 */
#define CHAT_STORE_SQLITE_NEWEST(col)                                         \
    "(SELECT m." col " FROM messages AS m INDEXED BY messages_live"           \
    "  WHERE m.conv = b.conv AND m.seq > b.joined_seq AND m.kind = 'msg'"     \
    "    AND" CHAT_STORE_SQLITE_LIVE("?2")                                    \
    "  ORDER BY m.seq DESC LIMIT 1)"


const char  *const chat_store_sqlite_conv_sql[CHAT_SQL_CONV_N] = {

    "SELECT ttl FROM conversations WHERE conv = ?1",

    "UPDATE conversations SET ttl = ?2 WHERE conv = ?1",

    "SELECT g.name, g.created_ms, coalesce(c.ttl, 0),"
    "    b.user IS NOT NULL AND b.left_seq IS NULL, b.left_seq IS NOT NULL"
    "  FROM groups AS g"
    "  LEFT JOIN conversations AS c ON c.conv = g.grp"
    "  LEFT JOIN members AS b ON b.conv = g.grp AND b.user = ?2"
    " WHERE g.grp = ?1",

    /*
     * The page of the list: members_by_user gives the user's current
     * conversations; for each, one seek of messages_live (the newest live
     * message's ts), and for a group with none the ts of the event that
     * added the user (seq joined_seq + 1: a tombstone keeps its ts), else
     * the group's creation. MATERIALIZED: each row's activity is computed
     * once, not again for the filter and the sort. The sort is of the
     * user's conversations (1,000 rows for a heavy user), and only the
     * page's rows are joined to their names and watermarks.
     */
    "WITH mine AS MATERIALIZED ("
    "  SELECT b.conv AS conv, b.joined_seq AS joined, c.kind AS kind,"
    "    c.ttl AS ttl, c.created_ms AS created,"
    "    " CHAT_STORE_SQLITE_NEWEST("ts") " AS last_ts"
    "    FROM members AS b JOIN conversations AS c ON c.conv = b.conv"
    "   WHERE b.user = ?1 AND b.left_seq IS NULL"
    "), page AS MATERIALIZED ("
    "  SELECT * FROM ("
    "    SELECT conv, joined, ttl, last_ts,"
    "      CASE WHEN last_ts IS NOT NULL THEN last_ts"
    "        WHEN kind = 'group' THEN coalesce("
    "          (SELECT j.ts FROM messages AS j"
    "            WHERE j.conv = mine.conv AND j.seq = mine.joined + 1),"
    "          (SELECT g.created_ms FROM groups AS g"
    "            WHERE g.grp = mine.conv),"
    "          created) END AS activity"
    "      FROM mine)"
    "   WHERE activity IS NOT NULL AND (?3 = 0 OR activity < ?3)"
    "   ORDER BY activity DESC, conv LIMIT ?4"
    ")"
    "SELECT p.conv, coalesce(g.name, ''), p.ttl,"
    "    coalesce(w.delivered_seq, 0), coalesce(w.read_seq, 0), p.joined,"
    "    p.activity, p.last_ts IS NOT NULL"
    "  FROM page AS p"
    "  LEFT JOIN groups AS g ON g.grp = p.conv"
    "  LEFT JOIN watermarks AS w ON w.conv = p.conv AND w.user = ?1"
    " ORDER BY p.activity DESC, p.conv",

    /* the newest live message of the window, as the list found its ts */
    "SELECT " CHAT_STORE_SQLITE_MSG_COLS
    "  FROM messages AS m INDEXED BY messages_live"
    " WHERE m.conv = ?1 AND m.seq > ?2 AND m.kind = 'msg'"
    "   AND" CHAT_STORE_SQLITE_LIVE("?3")
    " ORDER BY m.seq DESC LIMIT 1",

    /*
     * The unread count of one row of the page, computed when read, never
     * stored: the live messages of others above ?2 (the larger of the
     * user's read_seq and joined_seq) at ?4, counted on messages_live,
     * which holds every column the test needs (no table row is read).
     * Expiry so needs no bookkeeping: an expired message stops counting at
     * its expires_ms, and its deletion (a tombstone, out of the index)
     * changes nothing more. The cost is bounded by the unread messages of
     * the page's conversations (limit of them, at most 200), not by the
     * user's conversations nor by the store's size.
     */
    "SELECT count(*) FROM messages AS m INDEXED BY messages_live"
    " WHERE m.conv = ?1 AND m.seq > ?2 AND m.kind = 'msg' AND m.sender <> ?3"
    "   AND" CHAT_STORE_SQLITE_LIVE("?4"),
};


int
chat_store_sqlite_conv_ttl(chat_store_t *store, chat_str_t conv,
    int64_t *ttl)
{
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    return chat_store_sqlite_conv_int(s, s->conv[CHAT_SQL_CONV_TTL], conv,
                                      ttl, "conv_ttl");
}


int
chat_store_sqlite_conv_set_ttl(chat_store_t *store, chat_str_t conv,
    int64_t ttl)
{
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    if (ttl < 0) {
        (void) chat_store_set_error(store, "ttl %lld: below 0",
                                    (long long) ttl);
        store->fault = CHAT_STORE_FAULT_DATA;
        return CHAT_STORE_ERROR;
    }

    stmt = s->conv[CHAT_SQL_CONV_SET_TTL];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    sqlite3_bind_int64(stmt, 2, ttl);

    if (chat_store_sqlite_run(s, stmt, "setting a ttl") != CHAT_STORE_OK) {
        return CHAT_STORE_ERROR;
    }

    return sqlite3_changes(s->db) ? CHAT_STORE_OK : CHAT_STORE_NOT_FOUND;
}


int
chat_store_sqlite_group_get(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_store_group_t *group)
{
    int                   rc;
    chat_str_t           *name;
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->conv[CHAT_SQL_CONV_GROUP_GET];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    chat_store_sqlite_bind_str(stmt, 2, user);

    rc = chat_store_sqlite_one_row(s, stmt, "group_get");
    if (rc != CHAT_STORE_OK) {
        return rc;
    }

    group->name = chat_store_sqlite_column_str(stmt, 0);
    group->created_ms = sqlite3_column_int64(stmt, 1);
    group->ttl = sqlite3_column_int64(stmt, 2);
    group->member = sqlite3_column_int(stmt, 3);
    group->former = sqlite3_column_int(stmt, 4);

    name = &group->name;
    rc = chat_store_sqlite_copy(s, &s->kept, &s->kept_size, &name, 1);

    return chat_store_sqlite_done(stmt, rc);
}


/* Fills the last message and the unread count of the page's row. */

static int
chat_store_sqlite_conv_row(chat_store_sqlite_t *s, sqlite3_stmt *list,
    chat_str_t user, int64_t now_ms, chat_store_conv_row_t *row)
{
    int            rc;
    int64_t        above;
    sqlite3_stmt  *stmt;

    row->conv = chat_store_sqlite_column_str(list, 0);
    row->name = chat_store_sqlite_column_str(list, 1);
    row->ttl = sqlite3_column_int64(list, 2);
    row->delivered_seq = sqlite3_column_int64(list, 3);
    row->read_seq = sqlite3_column_int64(list, 4);
    row->activity_ts = sqlite3_column_int64(list, 6);
    row->has_last = sqlite3_column_int(list, 7);

    above = sqlite3_column_int64(list, 5);
    if (row->read_seq > above) {
        above = row->read_seq;
    }

    stmt = s->conv[CHAT_SQL_CONV_UNREAD];

    chat_store_sqlite_bind_str(stmt, 1, row->conv);
    sqlite3_bind_int64(stmt, 2, above);
    chat_store_sqlite_bind_str(stmt, 3, user);
    sqlite3_bind_int64(stmt, 4, now_ms);

    if (sqlite3_step(stmt) != SQLITE_ROW) {
        chat_store_sqlite_fail(s, "counting the unread");
        return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
    }

    row->unread = sqlite3_column_int64(stmt, 0);
    chat_store_sqlite_done(stmt, CHAT_STORE_OK);

    if (!row->has_last) {
        return CHAT_STORE_OK;
    }

    /* kept on its row: its strings stay valid until the caller's callback
     * is done, and the statement is reset after it */

    stmt = s->conv[CHAT_SQL_CONV_LAST];

    chat_store_sqlite_bind_str(stmt, 1, row->conv);
    sqlite3_bind_int64(stmt, 2, sqlite3_column_int64(list, 5));
    sqlite3_bind_int64(stmt, 3, now_ms);

    rc = sqlite3_step(stmt);

    if (rc != SQLITE_ROW) {
        chat_store_sqlite_fail(s, "reading the last message");
        return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
    }

    chat_store_sqlite_row(stmt, &row->last);

    return CHAT_STORE_OK;
}


int
chat_store_sqlite_conversations(chat_store_t *store, chat_str_t user,
    int64_t before_ts, int64_t limit, int64_t now_ms, chat_store_conv_pt cb,
    void *data)
{
    int                     rc, cb_rc;
    sqlite3_stmt           *list;
    chat_store_sqlite_t    *s;
    chat_store_conv_row_t   row;

    s = (chat_store_sqlite_t *) store;
    list = s->conv[CHAT_SQL_CONV_LIST];

    chat_store_sqlite_bind_str(list, 1, user);
    sqlite3_bind_int64(list, 2, now_ms);
    sqlite3_bind_int64(list, 3, before_ts);
    sqlite3_bind_int64(list, 4, limit);

    while ((rc = sqlite3_step(list)) == SQLITE_ROW) {
        memset(&row, 0, sizeof(row));

        if (chat_store_sqlite_conv_row(s, list, user, now_ms, &row)
            != CHAT_STORE_OK)
        {
            return chat_store_sqlite_done(list, CHAT_STORE_ERROR);
        }

        cb_rc = cb(&row, data);

        if (row.has_last) {
            chat_store_sqlite_done(s->conv[CHAT_SQL_CONV_LAST], 0);
        }

        if (cb_rc == CHAT_STORE_STOP) {
            return chat_store_sqlite_done(list, CHAT_STORE_OK);
        }

        if (cb_rc != 0) {
            chat_store_set_error(store, "conversations: stopped by the "
                                 "caller");
            return chat_store_sqlite_done(list, CHAT_STORE_ERROR);
        }
    }

    if (rc != SQLITE_DONE) {
        chat_store_sqlite_fail(s, "conversations");
        return chat_store_sqlite_done(list, CHAT_STORE_ERROR);
    }

    return chat_store_sqlite_done(list, CHAT_STORE_OK);
}
