/*
 * The push hook's operations of the PostgreSQL store: its state lives on
 * the watermarks rows (pushed_seq, push_due_ms, part), one per (conv,
 * user), as in SQLite (chat_store_sqlite_push.c).
 */

#include "chat_store_pg.h"


typedef enum {
    CHAT_PG_PUSH_SCHEDULE = 0,
    CHAT_PG_PUSH_DUE,
    CHAT_PG_PUSH_MESSAGES,
    CHAT_PG_PUSH_ADVANCE,
    CHAT_PG_PUSH_N
} chat_store_pg_push_e;


/* The server's clock in ms, as expires_ms: the push hook's operations
 * take no clock of the caller's. */
#define CHAT_STORE_PG_NOW_MS                                                  \
    "(extract(epoch FROM statement_timestamp()) * 1000)::int8"

/* The pushable messages of user $2 in conv $1 (chat_store.h), in seq
 * order, above "lower" (NULL, for a user without a watermarks row: none,
 * as SQLite's max() answers NULL then). */
#define CHAT_STORE_PG_PUSHABLE(lower)                                         \
    "  FROM members AS b"                                                     \
    "  JOIN messages AS m ON m.conv = b.conv"                                 \
    "   AND m.seq > " lower                                                   \
    "   AND (b.left_seq IS NULL OR m.seq <= b.left_seq)"                      \
    " WHERE b.conv = $1::text AND b.\"user\" = $2::text"                      \
    "   AND m.sender <> $2::text"                                             \
    "   AND m.kind = 'msg' AND" CHAT_STORE_PG_LIVE(CHAT_STORE_PG_NOW_MS)      \
    " ORDER BY m.seq"


const chat_store_pg_stmt_t  chat_store_pg_push_sql[CHAT_PG_PUSH_N] = {

    /* LEAST: the earliest due wins, whatever order the nginx nodes'
     * clocks gave the messages */
    { "push_schedule",
      "INSERT INTO watermarks AS w"
      "  (conv, \"user\", delivered_seq, read_seq, push_due_ms, part)"
      "  VALUES ($1::text, $2::text, 0, 0, $3::int8, $4::int8)"
      "  ON CONFLICT (conv, \"user\") DO UPDATE SET"
      "    push_due_ms = LEAST(coalesce(w.push_due_ms,"
      "                                 excluded.push_due_ms),"
      "                        excluded.push_due_ms),"
      "    part = excluded.part" },

    /* the partial index watermarks_push_due, in due order */
    { "push_due",
      "SELECT conv, \"user\" FROM watermarks"
      "  WHERE part = $1::int8 AND push_due_ms IS NOT NULL"
      "    AND push_due_ms <= $2::int8"
      "  ORDER BY push_due_ms LIMIT $3::int8" },

    { "push_messages",
      "SELECT " CHAT_STORE_PG_MSG_COLS
      CHAT_STORE_PG_PUSHABLE(
          "(SELECT GREATEST(b.joined_seq, w.delivered_seq, w.pushed_seq)"
          "   FROM watermarks AS w"
          "  WHERE w.conv = $1::text AND w.\"user\" = $2::text)")
      " LIMIT $3::int8" },

    /* the subquery sees the row as it was before this update, hence $3
     * among the seqs it starts above */
    { "push_advance",
      "UPDATE watermarks SET"
      "  pushed_seq = GREATEST(pushed_seq, $3::int8),"
      "  push_due_ms = (SELECT m.ts + $4::int8"
      CHAT_STORE_PG_PUSHABLE(
          "GREATEST(b.joined_seq, watermarks.delivered_seq,"
          " watermarks.pushed_seq, $3::int8)")
      "    LIMIT 1)"
      "  WHERE conv = $1::text AND \"user\" = $2::text" },
};

const size_t  chat_store_pg_push_n = CHAT_PG_PUSH_N;


#define CHAT_PG_PUSH(i)  (&chat_store_pg_push_sql[i])


/* Runs push statement which, a write of (conv, user) with two numbers. */

static int
chat_store_pg_push_write(chat_store_t *store, chat_store_pg_push_e which,
    chat_str_t conv, chat_str_t user, int64_t a, int64_t b, const char *what)
{
    chat_store_pg_params_t  p;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);
    chat_store_pg_str(&p, user);
    chat_store_pg_int(&p, a);
    chat_store_pg_int(&p, b);

    return chat_store_pg_exec((chat_store_pg_t *) store, CHAT_PG_PUSH(which),
                              &p, NULL, what);
}


int
chat_store_pg_push_schedule(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t due_ms, int32_t part)
{
    return chat_store_pg_push_write(store, CHAT_PG_PUSH_SCHEDULE, conv, user,
                                    due_ms, part, "scheduling a push");
}


int
chat_store_pg_push_due(chat_store_t *store, int32_t part, int64_t now_ms,
    int64_t limit, chat_store_due_pt cb, void *data)
{
    int                      i, rc;
    PGresult                *res;
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_int(&p, part);
    chat_store_pg_int(&p, now_ms);
    chat_store_pg_limit(&p, limit);

    res = chat_store_pg_query(s, CHAT_PG_PUSH(CHAT_PG_PUSH_DUE), &p,
                              "push_due");
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    rc = CHAT_STORE_OK;

    for (i = 0; i < PQntuples(res); i++) {
        rc = cb(chat_store_pg_get_str(res, i, 0),
                chat_store_pg_get_str(res, i, 1), data);

        if (rc != 0) {
            rc = chat_store_pg_answer(s, rc, "push_due");
            break;
        }
    }

    PQclear(res);

    return rc;
}


int
chat_store_pg_push_messages(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t limit, chat_store_msg_pt cb, void *data)
{
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);
    chat_store_pg_str(&p, user);
    chat_store_pg_limit(&p, limit);

    return chat_store_pg_walk_msg(s, CHAT_PG_PUSH(CHAT_PG_PUSH_MESSAGES), &p,
                                  cb, data, "push_messages");
}


int
chat_store_pg_push_advance(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t seq, int64_t delay_ms)
{
    return chat_store_pg_push_write(store, CHAT_PG_PUSH_ADVANCE, conv, user,
                                    seq, delay_ms, "advancing a push");
}
