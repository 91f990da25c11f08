/*
 * The push hook's operations of the SQLite store: its state lives on the
 * watermarks rows (pushed_seq, push_due_ms, part), one per (conv, user),
 * so it is O(members) like the receipts, never a row per message.
 */

#include "chat_store_sqlite.h"


/*
 * The pushable messages of user ?2 in conv ?1 (chat_store.h), in seq
 * order: the members row gives what user may see, the messages' (conv,
 * seq) key the range above "after", a list of seqs. A message expired by
 * the machine's clock (in ms, as expires_ms) is not pushed: the push
 * hook's operations take no clock of the caller's.
 */
#define CHAT_STORE_SQLITE_PUSHABLE(after)                                     \
    "  FROM members AS b"                                                     \
    "  JOIN messages AS m ON m.conv = b.conv"                                 \
    "   AND m.seq > max(b.joined_seq, " after ")"                             \
    "   AND (b.left_seq IS NULL OR m.seq <= b.left_seq)"                      \
    " WHERE b.conv = ?1 AND b.user = ?2 AND m.sender <> ?2"                   \
    "   AND m.kind = 'msg' AND" CHAT_STORE_SQLITE_LIVE(                       \
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)")         \
    " ORDER BY m.seq"


const char  *const chat_store_sqlite_push_sql[CHAT_SQL_PUSH_N] = {

    /* min(): the earliest due wins, whatever order the nginx nodes'
     * clocks gave the messages */
    "INSERT INTO watermarks"
    "  (conv, user, delivered_seq, read_seq, push_due_ms, part)"
    "  VALUES (?1, ?2, 0, 0, ?3, ?4)"
    "  ON CONFLICT (conv, user) DO UPDATE SET"
    "    push_due_ms = min(coalesce(push_due_ms, excluded.push_due_ms),"
    "                      excluded.push_due_ms),"
    "    part = excluded.part",

    /* the partial index watermarks_push_due, in due order */
    "SELECT conv, user FROM watermarks"
    "  WHERE part = ?1 AND push_due_ms IS NOT NULL AND push_due_ms <= ?2"
    "  ORDER BY push_due_ms LIMIT ?3",

    "SELECT " CHAT_STORE_SQLITE_MSG_COLS
    CHAT_STORE_SQLITE_PUSHABLE(
        "(SELECT max(w.delivered_seq, w.pushed_seq) FROM watermarks AS w"
        "  WHERE w.conv = ?1 AND w.user = ?2)")
    " LIMIT ?3",

    /* the subquery sees the row as it was before this update, hence ?3
     * among the seqs it starts above */
    "UPDATE watermarks SET"
    "  pushed_seq = max(pushed_seq, ?3),"
    "  push_due_ms = (SELECT m.ts + ?4"
    CHAT_STORE_SQLITE_PUSHABLE(
        "watermarks.delivered_seq, watermarks.pushed_seq, ?3")
    "    LIMIT 1)"
    "  WHERE conv = ?1 AND user = ?2",
};


/* The state of a walk over rows: the caller's callback, one of two. */
typedef struct {
    chat_store_due_pt   due;
    chat_store_msg_pt   msg;
    void               *data;
} chat_store_sqlite_walk_t;


static int
chat_store_sqlite_push_row(sqlite3_stmt *stmt, void *data)
{
    chat_store_msg_t           msg;
    chat_store_sqlite_walk_t  *walk = data;

    if (walk->due != NULL) {
        return walk->due(chat_store_sqlite_column_str(stmt, 0),
                         chat_store_sqlite_column_str(stmt, 1), walk->data);
    }

    chat_store_sqlite_row(stmt, &msg);

    return walk->msg(&msg, walk->data);
}


/* Walks the rows of push statement which, its parameters bound. */

static int
chat_store_sqlite_push_walk(chat_store_sqlite_t *s,
    chat_store_sqlite_push_stmt_e which, chat_store_due_pt due,
    chat_store_msg_pt msg, void *data, const char *what)
{
    chat_store_sqlite_walk_t  walk;

    walk.due = due;
    walk.msg = msg;
    walk.data = data;

    return chat_store_sqlite_walk(s, s->push[which],
                                  chat_store_sqlite_push_row, &walk, what);
}


/* Runs push statement which, a write of (conv, user) with two numbers. */

static int
chat_store_sqlite_push_write(chat_store_t *store,
    chat_store_sqlite_push_stmt_e which, chat_str_t conv, chat_str_t user,
    int64_t a, int64_t b, const char *what)
{
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->push[which];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    chat_store_sqlite_bind_str(stmt, 2, user);
    sqlite3_bind_int64(stmt, 3, a);
    sqlite3_bind_int64(stmt, 4, b);

    return chat_store_sqlite_run(s, stmt, what);
}


int
chat_store_sqlite_push_schedule(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t due_ms, int32_t part)
{
    return chat_store_sqlite_push_write(store, CHAT_SQL_PUSH_SCHEDULE, conv,
                                        user, due_ms, part,
                                        "scheduling a push");
}


int
chat_store_sqlite_push_due(chat_store_t *store, int32_t part,
    int64_t now_ms, int64_t limit, chat_store_due_pt cb, void *data)
{
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->push[CHAT_SQL_PUSH_DUE];

    sqlite3_bind_int(stmt, 1, part);
    sqlite3_bind_int64(stmt, 2, now_ms);
    sqlite3_bind_int64(stmt, 3, limit);

    return chat_store_sqlite_push_walk(s, CHAT_SQL_PUSH_DUE, cb, NULL, data,
                                       "push_due");
}


int
chat_store_sqlite_push_messages(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t limit, chat_store_msg_pt cb, void *data)
{
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->push[CHAT_SQL_PUSH_MESSAGES];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    chat_store_sqlite_bind_str(stmt, 2, user);
    sqlite3_bind_int64(stmt, 3, limit);

    return chat_store_sqlite_push_walk(s, CHAT_SQL_PUSH_MESSAGES, NULL, cb,
                                       data, "push_messages");
}


int
chat_store_sqlite_push_advance(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t seq, int64_t delay_ms)
{
    return chat_store_sqlite_push_write(store, CHAT_SQL_PUSH_ADVANCE, conv,
                                        user, seq, delay_ms,
                                        "advancing a push");
}
