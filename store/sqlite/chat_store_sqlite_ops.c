/*
 * The operations of the SQLite store on conversations, members, messages
 * and watermarks, each one or a few of the statements below, prepared at
 * open (chat_store_sqlite.c).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_store_sqlite.h"


const char  *const chat_store_sqlite_sql[CHAT_SQL_N] = {

    "BEGIN IMMEDIATE",

    "COMMIT",

    "ROLLBACK",

    "SELECT " CHAT_STORE_SQLITE_MSG_COLS
    "  FROM messages AS m WHERE m.sender = ?1 AND m.client_id = ?2",

    "SELECT last_seq FROM conversations WHERE conv = ?1",

    /* any unique key taken: nothing is written (sqlite3_changes() == 0) */
    "INSERT INTO messages (conv, seq, mid, sender, client_id, body, media,"
    "    ts, kind, expires_ms, media_id)"
    "  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    "  ON CONFLICT DO NOTHING",

    "INSERT INTO conversations (conv, kind, last_seq, created_ms)"
    "  VALUES (?1, ?2, 0, ?3) ON CONFLICT (conv) DO NOTHING",

    "UPDATE conversations SET last_seq = ?2 WHERE conv = ?1",

    "INSERT INTO members (conv, user, role, joined_seq, left_seq)"
    "  VALUES (?1, ?2, 'member', 0, NULL) ON CONFLICT (conv, user) DO NOTHING",

    /* ?3 new delivered_seq, ?4 new read_seq (0: unchanged); a row comes
     * back only when the insert or the update happened */
    "INSERT INTO watermarks (conv, user, delivered_seq, read_seq)"
    "  VALUES (?1, ?2, ?3, ?4)"
    "  ON CONFLICT (conv, user) DO UPDATE SET"
    "    delivered_seq = max(delivered_seq, excluded.delivered_seq),"
    "    read_seq = max(read_seq, excluded.read_seq)"
    "  WHERE excluded.delivered_seq > delivered_seq"
    "     OR excluded.read_seq > read_seq"
    "  RETURNING delivered_seq, read_seq",

    "SELECT delivered_seq, read_seq FROM watermarks"
    "  WHERE conv = ?1 AND user = ?2",

    /* members_by_user gives the conversations of ?1 from the cursor's ?2
     * on in conv order, and (conv, seq) each one's range above the
     * watermark (and above ?3 in the cursor's conv) in seq order: no sort,
     * and LIMIT stops the scan; events come as they were published, the
     * tombstones and the expired that are not deleted yet (a minute's
     * worth) are skipped */
    "SELECT " CHAT_STORE_SQLITE_MSG_COLS
    "  FROM members AS b"
    "  LEFT JOIN watermarks AS w ON w.conv = b.conv AND w.user = b.user"
    "  JOIN messages AS m ON m.conv = b.conv"
    "   AND m.seq > max(b.joined_seq, coalesce(w.delivered_seq, 0),"
    "                   CASE WHEN b.conv = ?2 THEN ?3 ELSE 0 END)"
    "   AND (b.left_seq IS NULL OR m.seq <= b.left_seq)"
    " WHERE b.user = ?1 AND b.conv >= ?2 AND m.sender <> ?1"
    "   AND m.kind IN ('msg', 'group', 'conv') AND"
    CHAT_STORE_SQLITE_LIVE("?5")
    " ORDER BY b.conv, m.seq"
    " LIMIT ?4",

    "SELECT joined_seq, left_seq FROM members WHERE conv = ?1 AND user = ?2",

    /* messages_live walked backwards from ?3: no sort, and neither the
     * events nor the tombstones of the range are stepped over */
    "SELECT " CHAT_STORE_SQLITE_MSG_COLS
    "  FROM messages AS m INDEXED BY messages_live"
    " WHERE m.conv = ?1 AND m.seq > ?2 AND m.seq <= ?3 AND m.kind = 'msg'"
    "   AND" CHAT_STORE_SQLITE_LIVE("?5")
    " ORDER BY m.seq DESC"
    " LIMIT ?4",

    /* the same walked forwards from ?2, catching up */
    "SELECT " CHAT_STORE_SQLITE_MSG_COLS
    "  FROM messages AS m INDEXED BY messages_live"
    " WHERE m.conv = ?1 AND m.seq > ?2 AND m.seq <= ?3 AND m.kind = 'msg'"
    "   AND" CHAT_STORE_SQLITE_LIVE("?5")
    " ORDER BY m.seq"
    " LIMIT ?4",

    /* the log: (conv, seq) walked backwards from ?3, events included */
    "SELECT " CHAT_STORE_SQLITE_MSG_COLS
    "  FROM messages AS m"
    " WHERE m.conv = ?1 AND m.seq > ?2 AND m.seq <= ?3"
    "   AND m.kind IN ('msg', 'group', 'conv') AND"
    CHAT_STORE_SQLITE_LIVE("?5")
    " ORDER BY m.seq DESC"
    " LIMIT ?4",

    "SELECT user FROM members WHERE conv = ?1 AND left_seq IS NULL"
    "  ORDER BY user",
};


/*
 * Copies the strings of msg into the handle's buffer and points msg at the
 * copies, so that they outlive the statement's reset.
 */

static int
chat_store_sqlite_keep(chat_store_sqlite_t *s, chat_store_msg_t *msg)
{
    chat_str_t  *str[7];

    str[0] = &msg->conv;
    str[1] = &msg->mid;
    str[2] = &msg->sender;
    str[3] = &msg->client_id;
    str[4] = &msg->body;
    str[5] = &msg->media;
    str[6] = &msg->media_id;

    return chat_store_sqlite_copy(s, &s->found, &s->found_size, str, 7);
}


int
chat_store_sqlite_find_by_client_id(chat_store_t *store, chat_str_t sender,
    chat_str_t client_id, chat_store_msg_t *msg)
{
    int                   rc;
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->stmt[CHAT_SQL_FIND];

    chat_store_sqlite_bind_str(stmt, 1, sender);
    chat_store_sqlite_bind_str(stmt, 2, client_id);

    rc = chat_store_sqlite_one_row(s, stmt, "find_by_client_id");
    if (rc != CHAT_STORE_OK) {
        return rc;
    }

    chat_store_sqlite_row(stmt, msg);
    rc = chat_store_sqlite_keep(s, msg);

    return chat_store_sqlite_done(stmt, rc);
}


int
chat_store_sqlite_conv_last_seq(chat_store_t *store, chat_str_t conv,
    int64_t *seq)
{
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    return chat_store_sqlite_conv_int(s, s->stmt[CHAT_SQL_LAST_SEQ], conv,
                                      seq, "conv_last_seq");
}


/*
 * Creates the row of msg's conversation when it is missing, with the
 * members of a DM, then sets its last seq.
 */

static int
chat_store_sqlite_conv_update(chat_store_sqlite_t *s,
    const chat_store_msg_t *msg, const chat_conv_t *conv)
{
    sqlite3_stmt  *stmt;

    stmt = s->stmt[CHAT_SQL_CONV_CREATE];
    chat_store_sqlite_bind_str(stmt, 1, msg->conv);
    sqlite3_bind_text(stmt, 2, conv->kind == CHAT_CONV_DM ? "dm" : "group",
                      -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, msg->ts);

    if (chat_store_sqlite_run(s, stmt, "creating a conversation") != 0) {
        return CHAT_STORE_ERROR;
    }

    if (sqlite3_changes(s->db) && conv->kind == CHAT_CONV_DM) {
        stmt = s->stmt[CHAT_SQL_MEMBER_ADD];

        chat_store_sqlite_bind_str(stmt, 1, msg->conv);
        chat_store_sqlite_bind_str(stmt, 2, conv->a);

        if (chat_store_sqlite_run(s, stmt, "adding a member") != 0) {
            return CHAT_STORE_ERROR;
        }

        chat_store_sqlite_bind_str(stmt, 1, msg->conv);
        chat_store_sqlite_bind_str(stmt, 2, conv->b);

        if (chat_store_sqlite_run(s, stmt, "adding a member") != 0) {
            return CHAT_STORE_ERROR;
        }
    }

    stmt = s->stmt[CHAT_SQL_CONV_SEQ];
    chat_store_sqlite_bind_str(stmt, 1, msg->conv);
    sqlite3_bind_int64(stmt, 2, msg->seq);

    return chat_store_sqlite_run(s, stmt, "setting the last seq");
}


/* The kind column of a row of kind (CHAT_STORE_KIND_*). */

static const char *
chat_store_sqlite_kind(int kind)
{
    switch (kind) {
    case CHAT_STORE_KIND_GROUP:
        return "group";
    case CHAT_STORE_KIND_CONV:
        return "conv";
    default:
        return "msg";
    }
}


int
chat_store_sqlite_insert_message(chat_store_t *store,
    const chat_store_msg_t *msg)
{
    chat_conv_t           conv;
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    if (chat_conv_parse(msg->conv.s, msg->conv.len, &conv) != 0) {
        (void) chat_store_set_error(store, "invalid conv \"%.*s\"",
                                    (int) msg->conv.len, msg->conv.s);
        store->fault = CHAT_STORE_FAULT_DATA;
        return CHAT_STORE_ERROR;
    }

    stmt = s->stmt[CHAT_SQL_INSERT_MSG];

    chat_store_sqlite_bind_str(stmt, 1, msg->conv);
    sqlite3_bind_int64(stmt, 2, msg->seq);
    chat_store_sqlite_bind_str(stmt, 3, msg->mid);
    chat_store_sqlite_bind_str(stmt, 4, msg->sender);
    chat_store_sqlite_bind_str(stmt, 5, msg->client_id);
    chat_store_sqlite_bind_str(stmt, 6, msg->body);

    if (msg->media.len) {
        chat_store_sqlite_bind_str(stmt, 7, msg->media);

    } else {
        sqlite3_bind_null(stmt, 7);
    }

    sqlite3_bind_int64(stmt, 8, msg->ts);
    sqlite3_bind_text(stmt, 9, chat_store_sqlite_kind(msg->kind), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 10, msg->expires);

    if (msg->media_id.len) {
        chat_store_sqlite_bind_str(stmt, 11, msg->media_id);

    } else {
        sqlite3_bind_null(stmt, 11);
    }

    if (chat_store_sqlite_run(s, stmt, "inserting a message") != 0) {
        return CHAT_STORE_ERROR;
    }

    if (sqlite3_changes(s->db) == 0) {
        chat_store_set_error(store, "conv \"%.*s\" seq %lld, mid \"%.*s\" "
                             "or client id is taken",
                             (int) msg->conv.len, msg->conv.s,
                             (long long) msg->seq,
                             (int) msg->mid.len, msg->mid.s);
        return CHAT_STORE_EXISTS;
    }

    return chat_store_sqlite_conv_update(s, msg, &conv);
}


/* Reads the current watermarks of (conv, user); 0 when there is none. */

static int
chat_store_sqlite_marks(chat_store_sqlite_t *s, chat_str_t conv,
    chat_str_t user, chat_store_marks_t *marks)
{
    int            rc;
    sqlite3_stmt  *stmt;

    stmt = s->stmt[CHAT_SQL_MARKS];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    chat_store_sqlite_bind_str(stmt, 2, user);

    marks->delivered_seq = 0;
    marks->read_seq = 0;

    rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW) {
        marks->delivered_seq = sqlite3_column_int64(stmt, 0);
        marks->read_seq = sqlite3_column_int64(stmt, 1);

    } else if (rc != SQLITE_DONE) {
        chat_store_sqlite_fail(s, "reading a watermark");
        return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
    }

    return chat_store_sqlite_done(stmt, CHAT_STORE_OK);
}


int
chat_store_sqlite_raise_watermark(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_receipt_status_e status, int64_t seq,
    chat_store_marks_t *marks)
{
    int                   rc;
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    /* the marks before: a receipt tells the senders of (before, after] */

    if (chat_store_sqlite_marks(s, conv, user, marks) != CHAT_STORE_OK) {
        return CHAT_STORE_ERROR;
    }

    marks->delivered_before = marks->delivered_seq;
    marks->read_before = marks->read_seq;

    stmt = s->stmt[CHAT_SQL_RAISE];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    chat_store_sqlite_bind_str(stmt, 2, user);
    sqlite3_bind_int64(stmt, 3, seq);
    sqlite3_bind_int64(stmt, 4, status == CHAT_RECEIPT_READ ? seq : 0);

    marks->rose = 0;

    rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW) {
        marks->rose = 1;
        marks->delivered_seq = sqlite3_column_int64(stmt, 0);
        marks->read_seq = sqlite3_column_int64(stmt, 1);

        /* the change is made by the first step; this one ends it */
        rc = sqlite3_step(stmt);
    }

    if (rc != SQLITE_DONE) {
        chat_store_sqlite_fail(s, "raising a watermark");
        return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
    }

    /* unchanged when it did not rise: the marks read before */

    return chat_store_sqlite_done(stmt, CHAT_STORE_OK);
}


/* The caller's callback of a walk over message or user rows. */
typedef struct {
    chat_store_msg_pt    msg;
    chat_store_user_pt   user;
    void                *data;
} chat_store_sqlite_cb_t;


static int
chat_store_sqlite_msg_row(sqlite3_stmt *stmt, void *data)
{
    chat_store_msg_t         msg;
    chat_store_sqlite_cb_t  *cb = data;

    chat_store_sqlite_row(stmt, &msg);

    return cb->msg(&msg, cb->data);
}


static int
chat_store_sqlite_user_row(sqlite3_stmt *stmt, void *data)
{
    chat_store_sqlite_cb_t  *cb = data;

    return cb->user(chat_store_sqlite_column_str(stmt, 0), cb->data);
}


/* Walks the message rows of stmt (bound by the caller) for cb. */

static int
chat_store_sqlite_each_msg(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    chat_store_msg_pt msg, void *data, const char *what)
{
    chat_store_sqlite_cb_t  cb;

    cb.msg = msg;
    cb.user = NULL;
    cb.data = data;

    return chat_store_sqlite_walk(s, stmt, chat_store_sqlite_msg_row, &cb,
                                  what);
}


int
chat_store_sqlite_pending(chat_store_t *store, chat_str_t user,
    chat_str_t after_conv, int64_t after_seq, int64_t limit, int64_t now_ms,
    chat_store_msg_pt cb, void *data)
{
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->stmt[CHAT_SQL_PENDING];

    chat_store_sqlite_bind_str(stmt, 1, user);
    chat_store_sqlite_bind_str(stmt, 2, after_conv);
    sqlite3_bind_int64(stmt, 3, after_seq);
    sqlite3_bind_int64(stmt, 4, limit);
    sqlite3_bind_int64(stmt, 5, now_ms);

    return chat_store_sqlite_each_msg(s, stmt, cb, data, "pending");
}


/*
 * The seqs of conv that user may read, lo < seq <= hi, from their member
 * row; CHAT_STORE_NOT_FOUND when there is none.
 */

static int
chat_store_sqlite_window(chat_store_sqlite_t *s, chat_str_t conv,
    chat_str_t user, int64_t *lo, int64_t *hi)
{
    int            rc;
    sqlite3_stmt  *stmt;

    *lo = 0;
    *hi = 0;

    stmt = s->stmt[CHAT_SQL_WINDOW];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    chat_store_sqlite_bind_str(stmt, 2, user);

    rc = sqlite3_step(stmt);

    if (rc == SQLITE_DONE) {
        return chat_store_sqlite_done(stmt, CHAT_STORE_NOT_FOUND);
    }

    if (rc != SQLITE_ROW) {
        chat_store_sqlite_fail(s, "reading a membership");
        return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
    }

    /* a former member still reads what was sent while they were one */

    *lo = sqlite3_column_int64(stmt, 0);
    *hi = sqlite3_column_type(stmt, 1) == SQLITE_NULL
          ? INT64_MAX : sqlite3_column_int64(stmt, 1);

    return chat_store_sqlite_done(stmt, CHAT_STORE_OK);
}


/*
 * The rows of the window of user in conv, at most limit, that statement
 * stmt gives for (conv, lo, hi, limit, now_ms): those below before_seq
 * (when not 0) and above after_seq.
 */
static int
chat_store_sqlite_range(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    chat_str_t conv, chat_str_t user, int64_t before_seq, int64_t after_seq,
    int64_t limit, int64_t now_ms, chat_store_msg_pt cb, void *data,
    const char *what)
{
    int      rc;
    int64_t  lo, hi;

    rc = chat_store_sqlite_window(s, conv, user, &lo, &hi);
    if (rc != CHAT_STORE_OK) {
        return rc;
    }

    if (before_seq > 0 && before_seq - 1 < hi) {
        hi = before_seq - 1;
    }

    if (after_seq > lo) {
        lo = after_seq;
    }

    chat_store_sqlite_bind_str(stmt, 1, conv);
    sqlite3_bind_int64(stmt, 2, lo);
    sqlite3_bind_int64(stmt, 3, hi);
    sqlite3_bind_int64(stmt, 4, limit);
    sqlite3_bind_int64(stmt, 5, now_ms);

    return chat_store_sqlite_each_msg(s, stmt, cb, data, what);
}


int
chat_store_sqlite_history(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t before_seq, int64_t after_seq, int64_t limit,
    int64_t now_ms, chat_store_msg_pt cb, void *data)
{
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    /* catching up (after_seq): the oldest above it first */
    return chat_store_sqlite_range(s, s->stmt[after_seq >= 0
                                              ? CHAT_SQL_HISTORY_AFTER
                                              : CHAT_SQL_HISTORY],
                                   conv, user, before_seq, after_seq, limit,
                                   now_ms, cb, data, "history");
}


int
chat_store_sqlite_log(chat_store_t *store, chat_str_t conv, chat_str_t user,
    int64_t before_seq, int64_t limit, int64_t now_ms, chat_store_msg_pt cb,
    void *data)
{
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    return chat_store_sqlite_range(s, s->stmt[CHAT_SQL_LOG], conv, user,
                                   before_seq, CHAT_STORE_NEWEST, limit,
                                   now_ms, cb, data, "log");
}


int
chat_store_sqlite_members(chat_store_t *store, chat_str_t conv,
    chat_store_user_pt user, void *data)
{
    sqlite3_stmt            *stmt;
    chat_store_sqlite_t     *s;
    chat_store_sqlite_cb_t   cb;

    s = (chat_store_sqlite_t *) store;
    stmt = s->stmt[CHAT_SQL_MEMBERS];

    chat_store_sqlite_bind_str(stmt, 1, conv);

    cb.msg = NULL;
    cb.user = user;
    cb.data = data;

    return chat_store_sqlite_walk(s, stmt, chat_store_sqlite_user_row, &cb,
                                  "members");
}


