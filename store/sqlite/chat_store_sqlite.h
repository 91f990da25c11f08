/*
 * The SQLite backend of the store, shared by its files:
 * chat_store_sqlite.c (the handle: open, schema, transactions),
 * chat_store_sqlite_ops.c (the operations on conversations, messages and
 * watermarks), _group.c (groups), _conv.c (the conversation list and a
 * conversation's ttl), _media.c (media, expiry) and _push.c (the push
 * hook's state). Not for users of the store.
 */

#ifndef CHAT_STORE_SQLITE_H
#define CHAT_STORE_SQLITE_H

#include <sqlite3.h>

#include "chat_store_backend.h"


typedef enum {
    CHAT_SQL_BEGIN = 0,
    CHAT_SQL_COMMIT,
    CHAT_SQL_ROLLBACK,
    CHAT_SQL_FIND,
    CHAT_SQL_LAST_SEQ,
    CHAT_SQL_INSERT_MSG,
    CHAT_SQL_CONV_CREATE,
    CHAT_SQL_CONV_SEQ,
    CHAT_SQL_MEMBER_ADD,
    CHAT_SQL_RAISE,
    CHAT_SQL_MARKS,
    CHAT_SQL_PENDING,
    CHAT_SQL_WINDOW,
    CHAT_SQL_HISTORY,
    CHAT_SQL_HISTORY_AFTER,
    CHAT_SQL_LOG,
    CHAT_SQL_MEMBERS,
    CHAT_SQL_N
} chat_store_sqlite_stmt_e;

/* The statements of groups (chat_store_sqlite_group.c). */
typedef enum {
    CHAT_SQL_GROUP_ROSTER = 0,
    CHAT_SQL_GROUP_JOIN,
    CHAT_SQL_GROUP_LEAVE,
    CHAT_SQL_GROUP_CREATE,
    CHAT_SQL_GROUP_SENDERS,
    CHAT_SQL_GROUP_N
} chat_store_sqlite_group_stmt_e;

/* The statements of the conversation list and of a conversation's
 * settings (chat_store_sqlite_conv.c). */
typedef enum {
    CHAT_SQL_CONV_TTL = 0,
    CHAT_SQL_CONV_SET_TTL,
    CHAT_SQL_CONV_GROUP_GET,
    CHAT_SQL_CONV_LIST,
    CHAT_SQL_CONV_LAST,
    CHAT_SQL_CONV_UNREAD,
    CHAT_SQL_CONV_N
} chat_store_sqlite_conv_stmt_e;

/* The statements of media and expiry (chat_store_sqlite_media.c). */
typedef enum {
    CHAT_SQL_MEDIA_INSERT = 0,
    CHAT_SQL_MEDIA_USE,
    CHAT_SQL_MEDIA_RELEASE,
    CHAT_SQL_MEDIA_EXPIRE,
    CHAT_SQL_MEDIA_SWEEP,
    CHAT_SQL_MEDIA_N
} chat_store_sqlite_media_stmt_e;

/* The push hook's statements (chat_store_sqlite_push.c). */
typedef enum {
    CHAT_SQL_PUSH_SCHEDULE = 0,
    CHAT_SQL_PUSH_DUE,
    CHAT_SQL_PUSH_MESSAGES,
    CHAT_SQL_PUSH_ADVANCE,
    CHAT_SQL_PUSH_N
} chat_store_sqlite_push_stmt_e;


typedef struct {
    chat_store_t   store;
    sqlite3       *db;
    sqlite3_stmt  *stmt[CHAT_SQL_N];
    sqlite3_stmt  *push[CHAT_SQL_PUSH_N];
    sqlite3_stmt  *group[CHAT_SQL_GROUP_N];
    sqlite3_stmt  *conv[CHAT_SQL_CONV_N];
    sqlite3_stmt  *media[CHAT_SQL_MEDIA_N];

    /* the strings of the last find_by_client_id() */
    char          *found;
    size_t         found_size;

    /* the strings of the last group_get() or media_use() */
    char          *kept;
    size_t         kept_size;
} chat_store_sqlite_t;



/* The text of each statement, prepared at open and kept. */
extern const char  *const chat_store_sqlite_sql[CHAT_SQL_N];
extern const char  *const chat_store_sqlite_push_sql[CHAT_SQL_PUSH_N];
extern const char  *const chat_store_sqlite_group_sql[CHAT_SQL_GROUP_N];
extern const char  *const chat_store_sqlite_conv_sql[CHAT_SQL_CONV_N];
extern const char  *const chat_store_sqlite_media_sql[CHAT_SQL_MEDIA_N];


/* Sets the store's error to what and SQLite's message; CHAT_STORE_ERROR. */
int chat_store_sqlite_fail(chat_store_sqlite_t *s, const char *what);

/* Resets stmt and clears its bindings, so that it holds no lock and no
 * pointer; returns rc. */
int chat_store_sqlite_done(sqlite3_stmt *stmt, int rc);

/* Steps stmt to its one row: CHAT_STORE_OK with the row to read (the
 * caller resets it with chat_store_sqlite_done()), or, reset already,
 * CHAT_STORE_NOT_FOUND when there is none and CHAT_STORE_ERROR (what
 * named in the error) when the step failed. */
int chat_store_sqlite_one_row(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    const char *what);

/* Runs a statement that returns no row, then resets it: CHAT_STORE_OK or
 * CHAT_STORE_ERROR with what in the reason. */
int chat_store_sqlite_run(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    const char *what);

/* Binds a string without copying it: reset the statement before it goes. */
int chat_store_sqlite_bind_str(sqlite3_stmt *stmt, int i, chat_str_t s);

/* A text column; "" for NULL. Points into the statement's row. */
chat_str_t chat_store_sqlite_column_str(sqlite3_stmt *stmt, int i);

/* Runs stmt, a read of one number of a conversation (?1 = conv), into *v:
 * 0 when the conversation has no row. */
int chat_store_sqlite_conv_int(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    chat_str_t conv, int64_t *v, const char *what);

/* Copies the n strings *str[i] into *buf (grown as needed, *size bytes)
 * and points them at the copies, so that they outlive the statement they
 * came from: CHAT_STORE_OK, or CHAT_STORE_ERROR when out of memory. */
int chat_store_sqlite_copy(chat_store_sqlite_t *s, char **buf,
    size_t *size, chat_str_t *const *str, size_t n);

/* Reads the current row of a walk for its caller; non-zero stops it. */
typedef int (*chat_store_sqlite_row_pt)(sqlite3_stmt *stmt, void *data);

/* Steps stmt, its parameters bound, calling row for each row, then resets
 * it: CHAT_STORE_OK (also when row returned CHAT_STORE_STOP: enough), or
 * CHAT_STORE_ERROR when row returned another non-zero value or SQLite
 * failed (what names the operation in the reason). */
int chat_store_sqlite_walk(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    chat_store_sqlite_row_pt row, void *data, const char *what);

/* Columns of a message row, as chat_store_sqlite_row() reads them. */
#define CHAT_STORE_SQLITE_MSG_COLS                                            \
    "m.conv, m.seq, m.mid, m.sender, m.client_id, m.body, m.media, m.ts,"    \
    " CASE ltrim(m.kind, '~') WHEN 'group' THEN 1 WHEN 'conv' THEN 2"        \
    "  ELSE 0 END, m.media_id, m.expires_ms"

/* A row of m that is live at ?N: it never expires, or expires after it
 * (CHAT_STORE_SQLITE_LIVE("?5")). */
#define CHAT_STORE_SQLITE_LIVE(now)                                           \
    " (m.expires_ms = 0 OR m.expires_ms > " now ")"

/* Fills msg from the current row; the strings point into the statement. */
void chat_store_sqlite_row(sqlite3_stmt *stmt, chat_store_msg_t *msg);


int chat_store_sqlite_find_by_client_id(chat_store_t *store,
    chat_str_t sender, chat_str_t client_id, chat_store_msg_t *msg);
int chat_store_sqlite_conv_last_seq(chat_store_t *store, chat_str_t conv,
    int64_t *seq);
int chat_store_sqlite_insert_message(chat_store_t *store,
    const chat_store_msg_t *msg);
int chat_store_sqlite_raise_watermark(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_receipt_status_e status, int64_t seq,
    chat_store_marks_t *marks);
int chat_store_sqlite_pending(chat_store_t *store, chat_str_t user,
    chat_str_t after_conv, int64_t after_seq, int64_t limit, int64_t now_ms,
    chat_store_msg_pt cb, void *data);
int chat_store_sqlite_history(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t before_seq, int64_t after_seq, int64_t limit,
    int64_t now_ms, chat_store_msg_pt cb, void *data);
int chat_store_sqlite_log(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t before_seq, int64_t limit, int64_t now_ms,
    chat_store_msg_pt cb, void *data);
int chat_store_sqlite_members(chat_store_t *store, chat_str_t conv,
    chat_store_user_pt cb, void *data);

int chat_store_sqlite_roster(chat_store_t *store, chat_str_t conv,
    chat_store_member_pt cb, void *data);
int chat_store_sqlite_member_join(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int admin, int64_t joined_seq);
int chat_store_sqlite_member_leave(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t left_seq);
int chat_store_sqlite_group_create(chat_store_t *store, chat_str_t conv,
    chat_str_t name, int64_t created_ms);
int chat_store_sqlite_senders(chat_store_t *store, chat_str_t conv,
    int64_t lo, int64_t hi, chat_store_user_pt cb, void *data);

int chat_store_sqlite_conv_ttl(chat_store_t *store, chat_str_t conv,
    int64_t *ttl);
int chat_store_sqlite_conv_set_ttl(chat_store_t *store, chat_str_t conv,
    int64_t ttl);
int chat_store_sqlite_group_get(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_store_group_t *group);
int chat_store_sqlite_conversations(chat_store_t *store, chat_str_t user,
    int64_t before_ts, int64_t limit, int64_t now_ms, chat_store_conv_pt cb,
    void *data);

int chat_store_sqlite_media_insert(chat_store_t *store, chat_str_t id,
    chat_str_t owner, chat_str_t mime, int64_t size, int64_t created_ms);
int chat_store_sqlite_media_use(chat_store_t *store, chat_str_t id,
    chat_str_t *mime, int64_t *size);
int chat_store_sqlite_expire(chat_store_t *store, int64_t now_ms,
    int64_t limit, int64_t *deleted);
int chat_store_sqlite_media_sweep(chat_store_t *store, int64_t now_ms,
    int64_t grace_ms, int64_t limit, chat_store_user_pt cb, void *data);

int chat_store_sqlite_push_schedule(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t due_ms, int32_t part);
int chat_store_sqlite_push_due(chat_store_t *store, int32_t part,
    int64_t now_ms, int64_t limit, chat_store_due_pt cb, void *data);
int chat_store_sqlite_push_messages(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t limit, chat_store_msg_pt cb, void *data);
int chat_store_sqlite_push_advance(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t seq, int64_t delay_ms);

#endif /* CHAT_STORE_SQLITE_H */
