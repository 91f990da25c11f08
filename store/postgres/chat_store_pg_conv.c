/*
 * The operations of the PostgreSQL store that the read side's lists need:
 * a conversation's ttl, a group as its members and former members see it,
 * and the conversation list of a user with its unread counts.
 */

#include <string.h>

#include "chat_store_pg.h"


typedef enum {
    CHAT_PG_CONV_TTL = 0,
    CHAT_PG_CONV_SET_TTL,
    CHAT_PG_CONV_GROUP_GET,
    CHAT_PG_CONV_LIST,
    CHAT_PG_CONV_N
} chat_store_pg_conv_e;


/* The newest live message of the window of a member (its conv and
 * joined_seq) at $2: a walk backwards of messages_live. */
#define CHAT_STORE_PG_NEWEST(cols, conv, joined)                              \
    "SELECT " cols " FROM messages AS m"                                      \
    "  WHERE m.conv = " conv " AND m.seq > " joined " AND m.kind = 'msg'"     \
    "    AND" CHAT_STORE_PG_LIVE("$2::int8")                                  \
    "  ORDER BY m.seq DESC LIMIT 1"


const chat_store_pg_stmt_t  chat_store_pg_conv_sql[CHAT_PG_CONV_N] = {

    { "conv_ttl",
      "SELECT ttl FROM conversations WHERE conv = $1::text" },

    { "conv_set_ttl",
      "UPDATE conversations SET ttl = $2::int8 WHERE conv = $1::text" },

    { "group_get",
      "SELECT g.name, g.created_ms, coalesce(c.ttl, 0),"
      "    b.\"user\" IS NOT NULL AND b.left_seq IS NULL,"
      "    b.left_seq IS NOT NULL"
      "  FROM groups AS g"
      "  LEFT JOIN conversations AS c ON c.conv = g.grp"
      "  LEFT JOIN members AS b ON b.conv = g.grp AND b.\"user\" = $2::text"
      " WHERE g.grp = $1::text" },

    /*
     * The page of the list, as SQLite's (chat_store_sqlite_conv.c): the
     * user's current conversations with each one's activity (the newest
     * live message's ts; for a group with none, the ts of the event that
     * added the user, else the group's creation), sorted, cut to the page;
     * then, for the page's rows only, the name, the watermarks, the unread
     * count (the live messages of others above the larger of read_seq and
     * joined_seq, counted on messages_live, never stored) and the newest
     * message itself. All in one statement: one round trip per page, where
     * SQLite, in process, reads each row's count and last on its own.
     */
    { "conv_list",
      "WITH mine AS MATERIALIZED ("
      "  SELECT b.conv AS conv, b.joined_seq AS joined, c.kind AS kind,"
      "    c.ttl AS ttl, c.created_ms AS created,"
      "    (" CHAT_STORE_PG_NEWEST("m.ts", "b.conv", "b.joined_seq")
      "    ) AS last_ts"
      "    FROM members AS b JOIN conversations AS c ON c.conv = b.conv"
      "   WHERE b.\"user\" = $1::text AND b.left_seq IS NULL"
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
      "      FROM mine) AS a"
      "   WHERE activity IS NOT NULL"
      "     AND ($3::int8 = 0 OR activity < $3::int8)"
      "   ORDER BY activity DESC, conv LIMIT $4::int8"
      ")"
      "SELECT p.conv, coalesce(g.name, ''), p.ttl,"
      "    coalesce(w.delivered_seq, 0), coalesce(w.read_seq, 0), p.joined,"
      "    p.activity, p.last_ts IS NOT NULL,"
      "    (SELECT count(*) FROM messages AS m"
      "      WHERE m.conv = p.conv"
      "        AND m.seq > GREATEST(coalesce(w.read_seq, 0), p.joined)"
      "        AND m.kind = 'msg' AND m.sender <> $1::text"
      "        AND" CHAT_STORE_PG_LIVE("$2::int8") "),"
      "    l.*"
      "  FROM page AS p"
      "  LEFT JOIN groups AS g ON g.grp = p.conv"
      "  LEFT JOIN watermarks AS w"
      "    ON w.conv = p.conv AND w.\"user\" = $1::text"
      "  LEFT JOIN LATERAL ("
      CHAT_STORE_PG_NEWEST(CHAT_STORE_PG_MSG_COLS, "p.conv", "p.joined")
      "  ) AS l ON true"
      " ORDER BY p.activity DESC, p.conv" },
};

const size_t  chat_store_pg_conv_n = CHAT_PG_CONV_N;


#define CHAT_PG_CONV(i)  (&chat_store_pg_conv_sql[i])


int
chat_store_pg_conv_ttl(chat_store_t *store, chat_str_t conv, int64_t *ttl)
{
    return chat_store_pg_conv_int((chat_store_pg_t *) store,
                                  CHAT_PG_CONV(CHAT_PG_CONV_TTL), conv, ttl,
                                  "conv_ttl");
}


int
chat_store_pg_conv_set_ttl(chat_store_t *store, chat_str_t conv,
    int64_t ttl)
{
    int64_t                  rows;
    chat_store_pg_params_t   p;

    if (ttl < 0) {
        (void) chat_store_set_error(store, "ttl %lld: below 0",
                                    (long long) ttl);
        store->fault = CHAT_STORE_FAULT_DATA;
        return CHAT_STORE_ERROR;
    }

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);
    chat_store_pg_int(&p, ttl);

    if (chat_store_pg_exec((chat_store_pg_t *) store,
                           CHAT_PG_CONV(CHAT_PG_CONV_SET_TTL), &p, &rows,
                           "setting a ttl") != CHAT_STORE_OK)
    {
        return CHAT_STORE_ERROR;
    }

    return rows ? CHAT_STORE_OK : CHAT_STORE_NOT_FOUND;
}


int
chat_store_pg_group_get(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_store_group_t *group)
{
    int                      rc;
    PGresult                *res;
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);
    chat_store_pg_str(&p, user);

    /* the strings point into the result, kept until the next such
     * call */

    rc = chat_store_pg_keep_row(s, CHAT_PG_CONV(CHAT_PG_CONV_GROUP_GET),
                                &p, &s->kept,
                                "group_get");
    if (rc != CHAT_STORE_OK) {
        return rc;
    }

    res = s->kept;

    group->name = chat_store_pg_get_str(res, 0, 0);
    group->created_ms = chat_store_pg_get_int(res, 0, 1);
    group->ttl = chat_store_pg_get_int(res, 0, 2);
    group->member = (int) chat_store_pg_get_int(res, 0, 3);
    group->former = (int) chat_store_pg_get_int(res, 0, 4);

    return CHAT_STORE_OK;
}


int
chat_store_pg_conversations(chat_store_t *store, chat_str_t user,
    int64_t before_ts, int64_t limit, int64_t now_ms, chat_store_conv_pt cb,
    void *data)
{
    int                      i, rc;
    PGresult                *res;
    chat_store_pg_t         *s;
    chat_store_conv_row_t    row;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, user);
    chat_store_pg_int(&p, now_ms);
    chat_store_pg_int(&p, before_ts);
    chat_store_pg_limit(&p, limit);

    res = chat_store_pg_query(s, CHAT_PG_CONV(CHAT_PG_CONV_LIST), &p,
                              "conversations");
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    rc = CHAT_STORE_OK;

    for (i = 0; i < PQntuples(res); i++) {
        memset(&row, 0, sizeof(row));

        row.conv = chat_store_pg_get_str(res, i, 0);
        row.name = chat_store_pg_get_str(res, i, 1);
        row.ttl = chat_store_pg_get_int(res, i, 2);
        row.delivered_seq = chat_store_pg_get_int(res, i, 3);
        row.read_seq = chat_store_pg_get_int(res, i, 4);
        row.activity_ts = chat_store_pg_get_int(res, i, 6);
        row.has_last = (int) chat_store_pg_get_int(res, i, 7);
        row.unread = chat_store_pg_get_int(res, i, 8);

        if (row.has_last) {
            chat_store_pg_get_msg(res, i, 9, &row.last);
        }

        rc = cb(&row, data);

        if (rc != 0) {
            rc = chat_store_pg_answer(s, rc, "conversations");
            break;
        }
    }

    PQclear(res);

    return rc;
}
