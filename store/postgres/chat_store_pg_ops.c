/*
 * The operations of the PostgreSQL store on conversations, members,
 * messages and watermarks, each one round trip of the statements below.
 *
 * Gapless seqs with several workers: the worker reads a conversation's
 * last seq (conv_last_seq), then inserts last + 1. conv_last_seq first
 * takes a transaction-scoped advisory lock of the conversation, then
 * reads: two statements, since under READ COMMITTED each statement reads
 * the commits before it started, and the read must start after the lock
 * is held. A second worker applying to the same conversation (a zombie
 * during a rebalance) waits for the first one's commit, then reads the
 * seq it left. The lock needs no row (a conversation's row is made by its
 * first message) and is released by COMMIT or ROLLBACK. Two workers whose
 * batches lock two conversations in opposite orders deadlock: the server
 * fails one of them (40P01), whose batch is retried. (conv, seq) is
 * the key of messages, so that a writer that skipped the lock fails on a
 * taken seq (CHAT_STORE_EXISTS) and never leaves a duplicate; a batch that
 * so fails is rolled back and retried, and a record that the other worker
 * stored is found by its client id then.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_store_pg.h"


typedef enum {
    CHAT_PG_FIND = 0,
    CHAT_PG_LOCK,
    CHAT_PG_LAST_SEQ,
    CHAT_PG_INSERT_MSG,
    CHAT_PG_MARKS,
    CHAT_PG_RAISE,
    CHAT_PG_PENDING,
    CHAT_PG_WINDOW,
    CHAT_PG_HISTORY,
    CHAT_PG_HISTORY_AFTER,
    CHAT_PG_LOG,
    CHAT_PG_MEMBERS,
    CHAT_PG_N
} chat_store_pg_ops_e;


/* The rows of the window of member b (conv $1, user $2): below $3 (when
 * above 0), above $4, live at $6; $5 at most. */
#define CHAT_STORE_PG_RANGE(kinds, order)                                     \
    "SELECT " CHAT_STORE_PG_MSG_COLS                                          \
    "  FROM members AS b JOIN messages AS m ON m.conv = b.conv"               \
    "   AND m.seq > GREATEST(b.joined_seq, $4::int8)"                         \
    "   AND (b.left_seq IS NULL OR m.seq <= b.left_seq)"                      \
    " WHERE b.conv = $1::text AND b.\"user\" = $2::text"                      \
    "   AND ($3::int8 <= 0 OR m.seq < $3::int8)"                              \
    "   AND m.kind " kinds " AND" CHAT_STORE_PG_LIVE("$6::int8")              \
    " ORDER BY m.seq " order " LIMIT $5::int8"


const chat_store_pg_stmt_t  chat_store_pg_ops_sql[CHAT_PG_N] = {

    { "find",
      "SELECT " CHAT_STORE_PG_MSG_COLS
      "  FROM messages AS m"
      " WHERE m.sender = $1::text AND m.client_id = $2::text" },

    /* a 64-bit hash of the schema and conv (advisory locks are the
     * database's: two stores in two schemas must not share them); two
     * that collide only wait for each other */
    { "lock",
      "SELECT pg_advisory_xact_lock(hashtextextended("
      "  current_schema() || ' ' || $1::text, 0))" },

    { "last_seq",
      "SELECT last_seq FROM conversations WHERE conv = $1::text" },

    /*
     * One statement: the message ($1..$11; nothing when a unique key is
     * taken), its conversation's row made or its last seq set ($12 its
     * kind), and the two members of a new DM ($13, $14). The count of
     * messages inserted tells whether it was.
     */
    { "insert_msg",
      "WITH ins AS ("
      "  INSERT INTO messages (conv, seq, mid, sender, client_id, body,"
      "      media, ts, kind, expires_ms, media_id)"
      "    VALUES ($1::text, $2::int8, $3::text, $4::text, $5::text,"
      "      $6::bytea, $7::text, $8::int8, $9::text, $10::int8, $11::text)"
      "    ON CONFLICT DO NOTHING"
      "    RETURNING conv, seq, ts"
      "), conv AS ("
      "  INSERT INTO conversations AS c (conv, kind, last_seq, created_ms)"
      "    SELECT conv, $12::text, seq, ts FROM ins"
      "    ON CONFLICT (conv) DO UPDATE SET last_seq = excluded.last_seq"
      "    RETURNING c.xmax = 0 AS created"
      "), dm AS ("
      "  INSERT INTO members (conv, \"user\", role, joined_seq, left_seq)"
      "    SELECT $1::text, u, 'member', 0, NULL"
      "      FROM conv, unnest(ARRAY[$13::text, $14::text]) AS u"
      "     WHERE conv.created AND $12::text = 'dm'"
      "    ON CONFLICT (conv, \"user\") DO NOTHING"
      ")"
      "SELECT count(*) FROM ins" },

    { "marks",
      "SELECT delivered_seq, read_seq FROM watermarks"
      "  WHERE conv = $1::text AND \"user\" = $2::text" },

    /* $3 new delivered_seq, $4 new read_seq (0: unchanged); a row comes
     * back only when the insert or the update happened */
    { "raise",
      "INSERT INTO watermarks AS w (conv, \"user\", delivered_seq, read_seq)"
      "  VALUES ($1::text, $2::text, $3::int8, $4::int8)"
      "  ON CONFLICT (conv, \"user\") DO UPDATE SET"
      "    delivered_seq = GREATEST(w.delivered_seq, excluded.delivered_seq),"
      "    read_seq = GREATEST(w.read_seq, excluded.read_seq)"
      "  WHERE excluded.delivered_seq > w.delivered_seq"
      "     OR excluded.read_seq > w.read_seq"
      "  RETURNING w.delivered_seq, w.read_seq" },

    /* members_by_user gives the conversations of $1 from the cursor's $2
     * on, (conv, seq) each one's range above the watermark (and above $3
     * in the cursor's conv) */
    { "pending",
      "SELECT " CHAT_STORE_PG_MSG_COLS
      "  FROM members AS b"
      "  LEFT JOIN watermarks AS w"
      "    ON w.conv = b.conv AND w.\"user\" = b.\"user\""
      "  JOIN messages AS m ON m.conv = b.conv"
      "   AND m.seq > GREATEST(b.joined_seq, coalesce(w.delivered_seq, 0),"
      "                        CASE WHEN b.conv = $2::text THEN $3::int8"
      "                        ELSE 0 END)"
      "   AND (b.left_seq IS NULL OR m.seq <= b.left_seq)"
      " WHERE b.\"user\" = $1::text AND b.conv >= $2::text"
      "   AND m.sender <> $1::text"
      "   AND m.kind IN ('msg', 'group', 'conv') AND"
      CHAT_STORE_PG_LIVE("$5::int8")
      " ORDER BY b.conv, m.seq"
      " LIMIT $4::int8" },

    { "window",
      "SELECT joined_seq FROM members"
      "  WHERE conv = $1::text AND \"user\" = $2::text" },

    /* messages_live (the partial index of kind 'msg') walked backwards */
    { "history",
      CHAT_STORE_PG_RANGE("= 'msg'", "DESC") },

    /* the same forwards from $4, catching up */
    { "history_after",
      CHAT_STORE_PG_RANGE("= 'msg'", "") },

    /* the log: (conv, seq) walked backwards, events included */
    { "log",
      CHAT_STORE_PG_RANGE("IN ('msg', 'group', 'conv')", "DESC") },

    { "members",
      "SELECT \"user\" FROM members"
      "  WHERE conv = $1::text AND left_seq IS NULL ORDER BY \"user\"" },
};

const size_t  chat_store_pg_ops_n = CHAT_PG_N;


#define CHAT_PG_STMT(i)  (&chat_store_pg_ops_sql[i])


int
chat_store_pg_find_by_client_id(chat_store_t *store, chat_str_t sender,
    chat_str_t client_id, chat_store_msg_t *msg)
{
    int                      rc;
    PGresult                *res;
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, sender);
    chat_store_pg_str(&p, client_id);

    /* the strings point into the result, kept until the next such
     * call */

    rc = chat_store_pg_keep_row(s, CHAT_PG_STMT(CHAT_PG_FIND), &p,
                                &s->found,
                                "find_by_client_id");

    if (rc == CHAT_STORE_NOT_FOUND && s->in_tx
        && sender.len && sender.len <= CHAT_STORE_PG_KEY_MAX
        && client_id.len && client_id.len <= CHAT_STORE_PG_KEY_MAX)
    {
        memcpy(s->missing, sender.s, sender.len);
        memcpy(s->missing + sender.len, client_id.s, client_id.len);
        s->missing_sender = sender.len;
        s->missing_cid = client_id.len;
    }

    if (rc != CHAT_STORE_OK) {
        return rc;
    }

    res = s->found;

    chat_store_pg_get_msg(res, 0, 0, msg);

    return CHAT_STORE_OK;
}


int
chat_store_pg_conv_last_seq(chat_store_t *store, chat_str_t conv,
    int64_t *seq)
{
    int                            rc;
    PGresult                      *res[2];
    chat_store_pg_t               *s;
    chat_store_pg_params_t         p;
    chat_store_pg_params_t        *param[2];
    const chat_store_pg_stmt_t    *stmt[2];

    s = (chat_store_pg_t *) store;
    *seq = 0;

    /* the lock, then the read: one round trip */

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);

    stmt[0] = CHAT_PG_STMT(CHAT_PG_LOCK);
    stmt[1] = CHAT_PG_STMT(CHAT_PG_LAST_SEQ);
    param[0] = &p;
    param[1] = &p;

    rc = chat_store_pg_run(s, 2, stmt, param, res, "conv_last_seq");
    if (rc != CHAT_STORE_OK) {
        return rc;
    }

    if (PQntuples(res[1]) > 0) {
        *seq = chat_store_pg_get_int(res[1], 0, 0);
    }

    PQclear(res[0]);
    PQclear(res[1]);

    return CHAT_STORE_OK;
}


/* The kind column of a row of kind (CHAT_STORE_KIND_*). */

static const char *
chat_store_pg_kind(int kind)
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


/*
 * 1 when the insert of msg met the row of another writer that committed
 * the same (sender, client id) since this transaction's find did not find
 * it: the zombie and the new owner of a partition during a rebalance,
 * applying the same record; the conversation's lock made this one wait,
 * then read the seq the other one left. Not the record's fault, and not
 * its refusal (CHAT_STORE_EXISTS, "mid belongs to another message"): a
 * failure of the store, so that the batch is retried and its find then
 * answers the message stored. SQLite, one writer at a time, never meets
 * this.
 */

/* 1 when msg has the (sender, client id) the transaction's last find
 * did not find. */

static int
chat_store_pg_was_missing(chat_store_pg_t *s, const chat_store_msg_t *msg)
{
    return msg->sender.len == s->missing_sender
           && msg->client_id.len == s->missing_cid
           && msg->sender.len != 0
           && memcmp(s->missing, msg->sender.s, msg->sender.len) == 0
           && memcmp(s->missing + s->missing_sender, msg->client_id.s,
                     msg->client_id.len) == 0;
}


/* 1 (the error set) when so, 0 when not, -1 when the check failed. */

static int
chat_store_pg_stored_meanwhile(chat_store_pg_t *s,
    const chat_store_msg_t *msg)
{
    int                      found;
    PGresult                *res;
    chat_store_pg_params_t   p;

    if (!chat_store_pg_was_missing(s, msg)) {
        return 0;
    }

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, msg->sender);
    chat_store_pg_str(&p, msg->client_id);

    res = chat_store_pg_query(s, CHAT_PG_STMT(CHAT_PG_FIND), &p,
                              "inserting a message");
    if (res == NULL) {
        return -1;
    }

    found = PQntuples(res) > 0;
    PQclear(res);

    if (found) {
        chat_store_set_error(&s->store, "postgres: inserting a message: "
                             "client id \"%.*s\" of \"%.*s\" was stored "
                             "meanwhile by another writer (a worker that "
                             "held its partition): retry the batch",
                             (int) msg->client_id.len, msg->client_id.s,
                             (int) msg->sender.len, msg->sender.s);
    }

    return found;
}


int
chat_store_pg_insert_message(chat_store_t *store,
    const chat_store_msg_t *msg)
{
    int64_t                  n;
    PGresult                *res;
    chat_conv_t              conv;
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    if (chat_conv_parse(msg->conv.s, msg->conv.len, &conv) != 0) {
        (void) chat_store_set_error(store, "invalid conv \"%.*s\"",
                                    (int) msg->conv.len, msg->conv.s);
        store->fault = CHAT_STORE_FAULT_DATA;
        return CHAT_STORE_ERROR;
    }

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, msg->conv);
    chat_store_pg_int(&p, msg->seq);
    chat_store_pg_str(&p, msg->mid);
    chat_store_pg_str(&p, msg->sender);
    chat_store_pg_str(&p, msg->client_id);
    chat_store_pg_str(&p, msg->body);
    chat_store_pg_str_or_null(&p, msg->media);
    chat_store_pg_int(&p, msg->ts);
    chat_store_pg_cstr(&p, chat_store_pg_kind(msg->kind));
    chat_store_pg_int(&p, msg->expires);
    chat_store_pg_str_or_null(&p, msg->media_id);
    chat_store_pg_cstr(&p, conv.kind == CHAT_CONV_DM ? "dm" : "group");

    if (conv.kind == CHAT_CONV_DM) {
        chat_store_pg_str(&p, conv.a);
        chat_store_pg_str(&p, conv.b);

    } else {
        chat_store_pg_null(&p);
        chat_store_pg_null(&p);
    }

    res = chat_store_pg_query(s, CHAT_PG_STMT(CHAT_PG_INSERT_MSG), &p,
                              "inserting a message");
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    n = chat_store_pg_get_int(res, 0, 0);
    PQclear(res);

    if (n != 0) {
        /* the key is taken now, by this transaction */
        if (chat_store_pg_was_missing(s, msg)) {
            s->missing_sender = 0;
            s->missing_cid = 0;
        }

        return CHAT_STORE_OK;
    }

    if (chat_store_pg_stored_meanwhile(s, msg) != 0) {
        return CHAT_STORE_ERROR;
    }

    chat_store_set_error(store, "conv \"%.*s\" seq %lld, mid \"%.*s\" or "
                         "client id is taken",
                         (int) msg->conv.len, msg->conv.s,
                         (long long) msg->seq, (int) msg->mid.len,
                         msg->mid.s);

    return CHAT_STORE_EXISTS;
}


int
chat_store_pg_raise_watermark(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_receipt_status_e status, int64_t seq,
    chat_store_marks_t *marks)
{
    PGresult                      *res[2];
    chat_store_pg_t               *s;
    chat_store_pg_params_t         key, raise;
    chat_store_pg_params_t        *param[2];
    const chat_store_pg_stmt_t    *stmt[2];

    s = (chat_store_pg_t *) store;

    /* the marks before (a receipt tells the senders of (before, after])
     * and the raise, in one round trip */

    chat_store_pg_params_init(&key);
    chat_store_pg_str(&key, conv);
    chat_store_pg_str(&key, user);

    raise = key;
    chat_store_pg_int(&raise, seq);
    chat_store_pg_int(&raise, status == CHAT_RECEIPT_READ ? seq : 0);

    stmt[0] = CHAT_PG_STMT(CHAT_PG_MARKS);
    stmt[1] = CHAT_PG_STMT(CHAT_PG_RAISE);
    param[0] = &key;
    param[1] = &raise;

    if (chat_store_pg_run(s, 2, stmt, param, res, "raising a watermark")
        != CHAT_STORE_OK)
    {
        return CHAT_STORE_ERROR;
    }

    marks->delivered_seq = 0;
    marks->read_seq = 0;

    if (PQntuples(res[0]) > 0) {
        marks->delivered_seq = chat_store_pg_get_int(res[0], 0, 0);
        marks->read_seq = chat_store_pg_get_int(res[0], 0, 1);
    }

    marks->delivered_before = marks->delivered_seq;
    marks->read_before = marks->read_seq;
    marks->rose = 0;

    /* unchanged when it did not rise: the marks read before */

    if (PQntuples(res[1]) > 0) {
        marks->rose = 1;
        marks->delivered_seq = chat_store_pg_get_int(res[1], 0, 0);
        marks->read_seq = chat_store_pg_get_int(res[1], 0, 1);
    }

    PQclear(res[0]);
    PQclear(res[1]);

    return CHAT_STORE_OK;
}


int
chat_store_pg_pending(chat_store_t *store, chat_str_t user,
    chat_str_t after_conv, int64_t after_seq, int64_t limit, int64_t now_ms,
    chat_store_msg_pt cb, void *data)
{
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, user);
    chat_store_pg_str(&p, after_conv);
    chat_store_pg_int(&p, after_seq);
    chat_store_pg_limit(&p, limit);
    chat_store_pg_int(&p, now_ms);

    return chat_store_pg_walk_msg(s, CHAT_PG_STMT(CHAT_PG_PENDING), &p,
                                  cb, data, "pending");
}


/*
 * The rows of the window of user in conv that statement which gives, in
 * one round trip with the read of the member row: CHAT_STORE_NOT_FOUND
 * when there is none.
 */

static int
chat_store_pg_range(chat_store_pg_t *s, chat_store_pg_ops_e which,
    chat_str_t conv, chat_str_t user, int64_t before_seq, int64_t after_seq,
    int64_t limit, int64_t now_ms, chat_store_msg_pt cb, void *data,
    const char *what)
{
    PGresult                      *res[2];
    chat_store_pg_params_t         key, range;
    chat_store_pg_params_t        *param[2];
    const chat_store_pg_stmt_t    *stmt[2];

    chat_store_pg_params_init(&key);
    chat_store_pg_str(&key, conv);
    chat_store_pg_str(&key, user);

    chat_store_pg_params_init(&range);
    chat_store_pg_str(&range, conv);
    chat_store_pg_str(&range, user);
    chat_store_pg_int(&range, before_seq);
    chat_store_pg_int(&range, after_seq);
    chat_store_pg_limit(&range, limit);
    chat_store_pg_int(&range, now_ms);

    stmt[0] = CHAT_PG_STMT(CHAT_PG_WINDOW);
    stmt[1] = CHAT_PG_STMT(which);
    param[0] = &key;
    param[1] = &range;

    if (chat_store_pg_run(s, 2, stmt, param, res, what) != CHAT_STORE_OK) {
        return CHAT_STORE_ERROR;
    }

    if (PQntuples(res[0]) == 0) {
        PQclear(res[0]);
        PQclear(res[1]);
        return CHAT_STORE_NOT_FOUND;
    }

    PQclear(res[0]);

    return chat_store_pg_each_msg(s, res[1], cb, data, what);
}


int
chat_store_pg_history(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t before_seq, int64_t after_seq, int64_t limit,
    int64_t now_ms, chat_store_msg_pt cb, void *data)
{
    /* catching up (after_seq): the oldest above it first */
    return chat_store_pg_range((chat_store_pg_t *) store,
                               after_seq >= 0 ? CHAT_PG_HISTORY_AFTER
                                              : CHAT_PG_HISTORY,
                               conv, user, before_seq, after_seq, limit,
                               now_ms, cb, data, "history");
}


int
chat_store_pg_log(chat_store_t *store, chat_str_t conv, chat_str_t user,
    int64_t before_seq, int64_t limit, int64_t now_ms, chat_store_msg_pt cb,
    void *data)
{
    return chat_store_pg_range((chat_store_pg_t *) store, CHAT_PG_LOG, conv,
                               user, before_seq, CHAT_STORE_NEWEST, limit,
                               now_ms, cb, data, "log");
}


int
chat_store_pg_members(chat_store_t *store, chat_str_t conv,
    chat_store_user_pt cb, void *data)
{
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);

    return chat_store_pg_walk_user(s, CHAT_PG_STMT(CHAT_PG_MEMBERS), &p,
                                   cb, data, "members");
}
