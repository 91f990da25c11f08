/*
 * The PostgreSQL backend of the store, shared by its files:
 * chat_store_pg.c (the handle: connect, reconnect, transactions, running
 * statements, errors), chat_store_pg_schema.c (the versioned migrations),
 * chat_store_pg_ops.c (conversations, messages, watermarks, reads),
 * _group.c (groups), _conv.c (the conversation list and a conversation's
 * ttl), _media.c (media, expiry) and _push.c (the push hook's state).
 * Not for users of the store.
 */

#ifndef CHAT_STORE_PG_H
#define CHAT_STORE_PG_H

#include <libpq-fe.h>

#include "chat_store_backend.h"


/* A statement, prepared on each connection under its name. Every
 * parameter carries its type in the text ($1::text, $2::int8), so that
 * the binary values of chat_store_pg_params_t match what the server
 * infers. */
typedef struct {
    const char  *name;
    const char  *sql;
} chat_store_pg_stmt_t;

/* The statements of each file, prepared at every (re)connect. */
extern const chat_store_pg_stmt_t  chat_store_pg_ops_sql[];
extern const chat_store_pg_stmt_t  chat_store_pg_group_sql[];
extern const chat_store_pg_stmt_t  chat_store_pg_conv_sql[];
extern const chat_store_pg_stmt_t  chat_store_pg_media_sql[];
extern const chat_store_pg_stmt_t  chat_store_pg_push_sql[];
extern const size_t  chat_store_pg_ops_n, chat_store_pg_group_n,
    chat_store_pg_conv_n, chat_store_pg_media_n, chat_store_pg_push_n;

#define CHAT_STORE_PG_PARAMS  16
#define CHAT_STORE_PG_KEY_MAX  128      /* a sender, a client id */

/* The parameters of one statement, all sent in binary: a text is its
 * bytes, a number 8 bytes in network order. */
typedef struct {
    int          n;
    const char  *v[CHAT_STORE_PG_PARAMS];
    int          len[CHAT_STORE_PG_PARAMS];
    int          fmt[CHAT_STORE_PG_PARAMS];
    char         num[CHAT_STORE_PG_PARAMS][8];
} chat_store_pg_params_t;


typedef struct {
    chat_store_t   store;
    PGconn        *conn;
    char          *conninfo;

    int            in_tx;       /* BEGIN sent (or to send) */
    int            begin_due;   /* BEGIN not sent yet: it goes with the
                                   transaction's first statement */
    int            broken;      /* the connection failed: no statement
                                   goes before a reconnect */

    PGresult      *found;       /* the rows of the last find_by_client_id */

    /* the (sender, client id) that the last find_by_client_id() of the
     * transaction did not find: an insert of it that conflicts then met
     * another writer's (chat_store_pg_insert_message()) */
    char           missing[2 * CHAT_STORE_PG_KEY_MAX];
    size_t         missing_sender, missing_cid;   /* 0, 0: none */
    PGresult      *kept;        /* of the last group_get() or media_use() */
} chat_store_pg_t;


/* Makes the connection (or a new one) ready: connected, in pipeline mode,
 * every statement prepared. 0, or -1 with the reason in err. */
int chat_store_pg_connect(chat_store_pg_t *s, char *err, size_t errlen);

/* Applies the migrations the database lacks (chat_store_pg_schema.c), on
 * a connection not in pipeline mode yet. */
int chat_store_pg_migrate(PGconn *conn, char *err, size_t errlen);

void chat_store_pg_params_init(chat_store_pg_params_t *p);
void chat_store_pg_str(chat_store_pg_params_t *p, chat_str_t v);
void chat_store_pg_cstr(chat_store_pg_params_t *p, const char *v);
void chat_store_pg_int(chat_store_pg_params_t *p, int64_t v);
void chat_store_pg_null(chat_store_pg_params_t *p);
/* a LIMIT: below 0, none (NULL), as SQLite takes -1 */
void chat_store_pg_limit(chat_store_pg_params_t *p, int64_t limit);
/* a string, or NULL when it is empty */
void chat_store_pg_str_or_null(chat_store_pg_params_t *p, chat_str_t v);

/*
 * Runs n statements in one round trip (libpq's pipeline mode): the BEGIN
 * of the transaction when it is due, then each of stmt[i] with param[i],
 * then one sync; res[i] gets each result (the caller PQclear()s them).
 * CHAT_STORE_OK, or CHAT_STORE_ERROR with the reason (what) and its fault
 * set from the SQLSTATE (chat_store_pg_fail()) and every res[i] NULL.
 */
int chat_store_pg_run(chat_store_pg_t *s, size_t n,
    const chat_store_pg_stmt_t *const *stmt,
    chat_store_pg_params_t *const *param, PGresult **res, const char *what);

/* chat_store_pg_run() of one statement: its result, or NULL on error. */
PGresult *chat_store_pg_query(chat_store_pg_t *s,
    const chat_store_pg_stmt_t *stmt, chat_store_pg_params_t *p,
    const char *what);

/* Runs stmt for its one row: CHAT_STORE_NOT_FOUND when there is none,
 * else CHAT_STORE_OK with the result in *keep (the one it held cleared),
 * where the strings read from it stay until the next such call. */
int chat_store_pg_keep_row(chat_store_pg_t *s,
    const chat_store_pg_stmt_t *stmt, chat_store_pg_params_t *p,
    PGresult **keep, const char *what);

/* Runs a statement for its effect; *rows (when not NULL) the rows it
 * changed or returned. */
int chat_store_pg_exec(chat_store_pg_t *s, const chat_store_pg_stmt_t *stmt,
    chat_store_pg_params_t *p, int64_t *rows, const char *what);

/* A text or bytea column of a binary result; "" for NULL. Points into
 * res. */
chat_str_t chat_store_pg_get_str(const PGresult *res, int row, int col);

/* A bigint, integer, smallint or boolean column; 0 for NULL. */
int64_t chat_store_pg_get_int(const PGresult *res, int row, int col);

/* Columns of a message row, as chat_store_pg_get_msg() reads them. */
#define CHAT_STORE_PG_MSG_COLS                                                \
    "m.conv, m.seq, m.mid, m.sender, m.client_id, m.body, m.media, m.ts,"    \
    " CASE ltrim(m.kind, '~') WHEN 'group' THEN 1 WHEN 'conv' THEN 2"        \
    "  ELSE 0 END, m.media_id, m.expires_ms"

/* A row of m live at now: it never expires, or expires after it. */
#define CHAT_STORE_PG_LIVE(now)                                               \
    " (m.expires_ms = 0 OR m.expires_ms > " now ")"

/* Fills msg from row of res from column col on; the strings point into
 * res. */
void chat_store_pg_get_msg(const PGresult *res, int row, int col,
    chat_store_msg_t *msg);

/* Calls cb for each message row of res, then clears it; CHAT_STORE_STOP
 * ends the walk (CHAT_STORE_OK), another non-zero answer makes it
 * CHAT_STORE_ERROR. */
int chat_store_pg_each_msg(chat_store_pg_t *s, PGresult *res,
    chat_store_msg_pt cb, void *data, const char *what);

/* Runs stmt with p, then calls cb for each row, as each_msg(): rows of
 * messages, or whose column 0 is a user. */
int chat_store_pg_walk_msg(chat_store_pg_t *s,
    const chat_store_pg_stmt_t *stmt, chat_store_pg_params_t *p,
    chat_store_msg_pt cb, void *data, const char *what);
int chat_store_pg_walk_user(chat_store_pg_t *s,
    const chat_store_pg_stmt_t *stmt, chat_store_pg_params_t *p,
    chat_store_user_pt cb, void *data, const char *what);

/* What a walk returns once the caller's callback answered rc (non-zero):
 * CHAT_STORE_OK for CHAT_STORE_STOP, else CHAT_STORE_ERROR. */
int chat_store_pg_answer(chat_store_pg_t *s, int rc, const char *what);

/* Reads column 0 of the one row of stmt(conv) into *v: 0 when none. */
int chat_store_pg_conv_int(chat_store_pg_t *s,
    const chat_store_pg_stmt_t *stmt, chat_str_t conv, int64_t *v,
    const char *what);



int chat_store_pg_find_by_client_id(chat_store_t *store, chat_str_t sender,
    chat_str_t client_id, chat_store_msg_t *msg);
int chat_store_pg_conv_last_seq(chat_store_t *store, chat_str_t conv,
    int64_t *seq);
int chat_store_pg_insert_message(chat_store_t *store,
    const chat_store_msg_t *msg);
int chat_store_pg_raise_watermark(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_receipt_status_e status, int64_t seq,
    chat_store_marks_t *marks);
int chat_store_pg_pending(chat_store_t *store, chat_str_t user,
    chat_str_t after_conv, int64_t after_seq, int64_t limit, int64_t now_ms,
    chat_store_msg_pt cb, void *data);
int chat_store_pg_history(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t before_seq, int64_t after_seq, int64_t limit,
    int64_t now_ms, chat_store_msg_pt cb, void *data);
int chat_store_pg_log(chat_store_t *store, chat_str_t conv, chat_str_t user,
    int64_t before_seq, int64_t limit, int64_t now_ms, chat_store_msg_pt cb,
    void *data);
int chat_store_pg_members(chat_store_t *store, chat_str_t conv,
    chat_store_user_pt cb, void *data);

int chat_store_pg_roster(chat_store_t *store, chat_str_t conv,
    chat_store_member_pt cb, void *data);
int chat_store_pg_member_join(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int admin, int64_t joined_seq);
int chat_store_pg_member_leave(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t left_seq);
int chat_store_pg_group_create(chat_store_t *store, chat_str_t conv,
    chat_str_t name, int64_t created_ms);
int chat_store_pg_senders(chat_store_t *store, chat_str_t conv, int64_t lo,
    int64_t hi, chat_store_user_pt cb, void *data);

int chat_store_pg_conv_ttl(chat_store_t *store, chat_str_t conv,
    int64_t *ttl);
int chat_store_pg_conv_set_ttl(chat_store_t *store, chat_str_t conv,
    int64_t ttl);
int chat_store_pg_group_get(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_store_group_t *group);
int chat_store_pg_conversations(chat_store_t *store, chat_str_t user,
    int64_t before_ts, int64_t limit, int64_t now_ms, chat_store_conv_pt cb,
    void *data);

int chat_store_pg_media_insert(chat_store_t *store, chat_str_t id,
    chat_str_t owner, chat_str_t mime, int64_t size, int64_t created_ms);
int chat_store_pg_media_use(chat_store_t *store, chat_str_t id,
    chat_str_t *mime, int64_t *size);
int chat_store_pg_expire(chat_store_t *store, int64_t now_ms, int64_t limit,
    int64_t *deleted);
int chat_store_pg_media_sweep(chat_store_t *store, int64_t now_ms,
    int64_t grace_ms, int64_t limit, chat_store_user_pt cb, void *data);

int chat_store_pg_push_schedule(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t due_ms, int32_t part);
int chat_store_pg_push_due(chat_store_t *store, int32_t part,
    int64_t now_ms, int64_t limit, chat_store_due_pt cb, void *data);
int chat_store_pg_push_messages(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t limit, chat_store_msg_pt cb, void *data);
int chat_store_pg_push_advance(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t seq, int64_t delay_ms);

#endif /* CHAT_STORE_PG_H */
