/*
 * The PostgreSQL backend of the store, "postgres:<conninfo>", where
 * conninfo is what libpq takes ("host=db port=5432 dbname=chat" or a
 * "postgresql://" URI): the handle (connect, reconnect, transactions),
 * running statements and reading their results, and the errors.
 *
 * Each connection has every statement prepared once, by name, and runs in
 * libpq's pipeline mode: what one operation sends goes in one round trip
 * with one sync (the BEGIN of a transaction travels with its first
 * statement, conv_last_seq's lock with its read, raise_watermark's two
 * statements together). Statements of two calls are never pipelined
 * together: the worker learns from each call whether the record it is
 * applying failed for its content (chat_worker_fault.c) and then refuses
 * that record; a write deferred to the next call would report its error
 * against the next record.
 *
 * Durability: a COMMIT answers once its WAL is flushed, as long as
 * synchronous_commit is on, which the connection sets for itself: every
 * committed batch survives a crash of the server or of its machine, so
 * chat_store_sync() has nothing left to do.
 *
 * Failures: a connection that drops (a server restart,
 * pg_terminate_backend) fails the operation as the store's fault; the
 * worker rolls the batch back and runs it again, and the next begin (or
 * the next call outside a transaction) connects again and prepares the
 * statements again. Errors are sorted by SQLSTATE (chat_store_pg_fail()).
 */

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_store_pg.h"


#define CHAT_STORE_PG_LOCK_TIMEOUT  "'5s'"
/* a statement, and a transaction left idle by a stuck client (its
 * conversations' locks with it), are ended by the server past these */
#define CHAT_STORE_PG_STATEMENT_TIMEOUT  "'60s'"
#define CHAT_STORE_PG_IDLE_TX_TIMEOUT    "'120s'"


static PGconn *chat_store_pg_connectdb(const char *conninfo);


/* READ COMMITTED whatever the server's default: conv_last_seq's read
 * must see what was committed while it waited for the lock
 * (chat_store_pg_ops.c) */
static const chat_store_pg_stmt_t  chat_store_pg_tx_sql[] = {
    { "begin", "BEGIN ISOLATION LEVEL READ COMMITTED" },
    { "commit", "COMMIT" },
    { "rollback", "ROLLBACK" },
};

#define CHAT_STORE_PG_BEGIN     (&chat_store_pg_tx_sql[0])
#define CHAT_STORE_PG_COMMIT    (&chat_store_pg_tx_sql[1])
#define CHAT_STORE_PG_ROLLBACK  (&chat_store_pg_tx_sql[2])


static chat_store_t *chat_store_pg_open(const char *location, char *err,
    size_t errlen);
static void chat_store_pg_close(chat_store_t *store);


/*
 * The fault of an error by its SQLSTATE: what the values cause (class 22,
 * data exceptions such as a value too long or a byte sequence invalid in
 * the encoding; class 23, constraints; 54000, a value over a limit, such
 * as an index row too big) is the data's, as SQLite's CONSTRAINT, TOOBIG,
 * MISMATCH and RANGE are; everything else is the store's and is retried:
 * 40001 and 40P01 (serialization, deadlock), 55P03 (a lock not had
 * within lock_timeout), 08 (the connection), 57P
 * (the server shut down or the backend was terminated), 53 (out of
 * resources), 25P02 (a transaction already failed).
 */

static int
chat_store_pg_fault(const char *state)
{
    if (state == NULL) {
        return CHAT_STORE_FAULT_STORE;
    }

    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0
        || strcmp(state, "54000") == 0)
    {
        return CHAT_STORE_FAULT_DATA;
    }

    return CHAT_STORE_FAULT_STORE;
}


/* Sets the error of res (NULL: of the connection) for what. */

static int
chat_store_pg_fail(chat_store_pg_t *s, const PGresult *res, const char *what)
{
    const char  *state, *msg;

    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (msg == NULL) {
        msg = PQerrorMessage(s->conn);
    }

    (void) chat_store_set_error(&s->store, "postgres: %s: %s%s%.*s", what,
                                state ? state : "", state ? ": " : "",
                                (int) strcspn(msg, "\n"), msg);

    s->store.fault = chat_store_pg_fault(state);

    /* the connection's own trouble: lost, or closed by the server */

    /* a read-only server (25006): a standby, or a primary demoted by a
     * failover; the next connection may reach the new primary */

    if (PQstatus(s->conn) == CONNECTION_BAD
        || (state != NULL && (strncmp(state, "08", 2) == 0
                              || strncmp(state, "57P", 3) == 0
                              || strcmp(state, "25006") == 0)))
    {
        s->broken = 1;
    }

    return CHAT_STORE_ERROR;
}


static int
chat_store_pg_stopped(chat_store_pg_t *s, const char *what)
{
    return chat_store_set_error(&s->store, "%s: stopped by the caller",
                                what);
}


void
chat_store_pg_params_init(chat_store_pg_params_t *p)
{
    p->n = 0;
}


void
chat_store_pg_str(chat_store_pg_params_t *p, chat_str_t v)
{
    p->v[p->n] = v.len ? v.s : "";
    p->len[p->n] = (int) v.len;
    p->fmt[p->n] = 1;
    p->n++;
}


void
chat_store_pg_cstr(chat_store_pg_params_t *p, const char *v)
{
    chat_store_pg_str(p, (chat_str_t) { v, strlen(v) });
}


void
chat_store_pg_int(chat_store_pg_params_t *p, int64_t v)
{
    uint64_t  be;

    be = htobe64((uint64_t) v);
    memcpy(p->num[p->n], &be, 8);

    p->v[p->n] = p->num[p->n];
    p->len[p->n] = 8;
    p->fmt[p->n] = 1;
    p->n++;
}


void
chat_store_pg_null(chat_store_pg_params_t *p)
{
    p->v[p->n] = NULL;
    p->len[p->n] = 0;
    p->fmt[p->n] = 1;
    p->n++;
}


void
chat_store_pg_limit(chat_store_pg_params_t *p, int64_t limit)
{
    if (limit < 0) {
        chat_store_pg_null(p);

    } else {
        chat_store_pg_int(p, limit);
    }
}


void
chat_store_pg_str_or_null(chat_store_pg_params_t *p, chat_str_t v)
{
    if (v.len) {
        chat_store_pg_str(p, v);

    } else {
        chat_store_pg_null(p);
    }
}


chat_str_t
chat_store_pg_get_str(const PGresult *res, int row, int col)
{
    chat_str_t  v;

    if (PQgetisnull(res, row, col)) {
        return (chat_str_t) { "", 0 };
    }

    v.s = PQgetvalue(res, row, col);
    v.len = (size_t) PQgetlength(res, row, col);

    return v;
}


int64_t
chat_store_pg_get_int(const PGresult *res, int row, int col)
{
    int                   i, n;
    uint64_t              v;
    const unsigned char  *p;

    if (PQgetisnull(res, row, col)) {
        return 0;
    }

    p = (const unsigned char *) PQgetvalue(res, row, col);
    n = PQgetlength(res, row, col);

    /* big-endian, sign-extended from its width: int8, int4, int2, bool */

    v = (n > 0 && (p[0] & 0x80) && n < 8) ? ~(uint64_t) 0 : 0;

    for (i = 0; i < n && i < 8; i++) {
        v = (v << 8) | p[i];
    }

    return (int64_t) v;
}


void
chat_store_pg_get_msg(const PGresult *res, int row, int col,
    chat_store_msg_t *msg)
{
    msg->conv = chat_store_pg_get_str(res, row, col);
    msg->seq = chat_store_pg_get_int(res, row, col + 1);
    msg->mid = chat_store_pg_get_str(res, row, col + 2);
    msg->sender = chat_store_pg_get_str(res, row, col + 3);
    msg->client_id = chat_store_pg_get_str(res, row, col + 4);
    msg->body = chat_store_pg_get_str(res, row, col + 5);
    msg->media = chat_store_pg_get_str(res, row, col + 6);
    msg->ts = chat_store_pg_get_int(res, row, col + 7);
    msg->kind = (int) chat_store_pg_get_int(res, row, col + 8);
    msg->media_id = chat_store_pg_get_str(res, row, col + 9);
    msg->expires = chat_store_pg_get_int(res, row, col + 10);
}


/* Sends one prepared statement into the pipeline; 0, or -1. */

static int
chat_store_pg_send(chat_store_pg_t *s, const chat_store_pg_stmt_t *stmt,
    const chat_store_pg_params_t *p)
{
    return PQsendQueryPrepared(s->conn, stmt->name, p ? p->n : 0,
                               p ? p->v : NULL, p ? p->len : NULL,
                               p ? p->fmt : NULL, 1) == 1 ? 0 : -1;
}


/*
 * Reads the result of one statement of the pipeline and the NULL that
 * ends it: the result (the caller's), or NULL when the connection failed.
 */

static PGresult *
chat_store_pg_next(chat_store_pg_t *s)
{
    PGresult  *res, *end;

    res = PQgetResult(s->conn);

    if (res == NULL) {
        return NULL;
    }

    end = PQgetResult(s->conn);

    if (end != NULL) {
        /* not the end of one statement: the pipeline is lost */
        PQclear(end);
        s->broken = 1;
    }

    return res;
}


/* Reads up to the sync that ends the pipeline; -1 when it never came. */

static int
chat_store_pg_synced(chat_store_pg_t *s)
{
    int        ok;
    PGresult  *res;

    res = PQgetResult(s->conn);
    ok = (res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC);
    PQclear(res);

    if (!ok) {
        s->broken = 1;
    }

    return ok ? 0 : -1;
}


/* Before a statement: reconnects a failed connection outside a
 * transaction; within one, the transaction is lost and only the rollback
 * may go on. */

static int
chat_store_pg_ready(chat_store_pg_t *s, const char *what)
{
    char  err[CHAT_STORE_ERRSTR_LEN];

    /* between transactions, what the server said while the connection
     * was idle is read first (without waiting: libpq's socket never
     * blocks): a server that ended it (a restart, pg_terminate_backend)
     * sent its reason, then closed it, which the second read finds. A new
     * one is then made now rather than failing one more batch. */

    if (!s->in_tx && !s->broken
        && (PQconsumeInput(s->conn) == 0 || PQconsumeInput(s->conn) == 0))
    {
        s->broken = 1;
    }

    if (!s->broken && PQstatus(s->conn) == CONNECTION_OK) {
        return CHAT_STORE_OK;
    }

    if (s->in_tx) {
        return chat_store_set_error(&s->store, "postgres: %s: the "
                                    "connection was lost in the "
                                    "transaction", what);
    }

    if (chat_store_pg_connect(s, err, sizeof(err)) != 0) {
        return chat_store_set_error(&s->store, "%s", err);
    }

    return CHAT_STORE_OK;
}


int
chat_store_pg_run(chat_store_pg_t *s, size_t n,
    const chat_store_pg_stmt_t *const *stmt,
    chat_store_pg_params_t *const *param, PGresult **res, const char *what)
{
    int        begin;
    size_t     i;
    PGresult  *r, *failed;

    for (i = 0; i < n; i++) {
        res[i] = NULL;
    }

    if (chat_store_pg_ready(s, what) != CHAT_STORE_OK) {
        return CHAT_STORE_ERROR;
    }

    begin = s->begin_due;
    s->begin_due = 0;

    /* a pipeline that could not be sent whole is not to be read: the
     * connection is made again */

    if ((begin && chat_store_pg_send(s, CHAT_STORE_PG_BEGIN, NULL) != 0)
        || PQpipelineStatus(s->conn) != PQ_PIPELINE_ON)
    {
        goto lost;
    }

    for (i = 0; i < n; i++) {
        if (chat_store_pg_send(s, stmt[i], param[i]) != 0) {
            goto lost;
        }
    }

    if (PQpipelineSync(s->conn) != 1) {
        goto lost;
    }

    /* the first error is the one to tell; those after it are the
     * pipeline's aborted statements */

    failed = NULL;

    for (i = 0; i < n + (size_t) begin; i++) {
        r = chat_store_pg_next(s);

        if (r == NULL) {
            break;
        }

        switch (PQresultStatus(r)) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
            if (i >= (size_t) begin) {
                res[i - begin] = r;
                r = NULL;
            }
            break;
        case PGRES_PIPELINE_ABORTED:
            break;
        default:
            if (failed == NULL) {
                failed = r;
                r = NULL;
            }
        }

        PQclear(r);

        if (s->broken) {
            break;
        }
    }

    if (failed == NULL && i == n + (size_t) begin && !s->broken
        && chat_store_pg_synced(s) == 0)
    {
        return CHAT_STORE_OK;
    }

    if (failed != NULL && !s->broken) {
        (void) chat_store_pg_synced(s);
    }

    chat_store_pg_fail(s, failed, what);
    PQclear(failed);

    if (failed == NULL) {
        s->broken = 1;      /* the results stopped short */
    }

    for (i = 0; i < n; i++) {
        PQclear(res[i]);
        res[i] = NULL;
    }

    return CHAT_STORE_ERROR;

lost:

    s->broken = 1;

    return chat_store_pg_fail(s, NULL, what);
}


PGresult *
chat_store_pg_query(chat_store_pg_t *s, const chat_store_pg_stmt_t *stmt,
    chat_store_pg_params_t *p, const char *what)
{
    PGresult  *res;

    if (chat_store_pg_run(s, 1, &stmt, &p, &res, what) != CHAT_STORE_OK) {
        return NULL;
    }

    return res;
}


int
chat_store_pg_keep_row(chat_store_pg_t *s, const chat_store_pg_stmt_t *stmt,
    chat_store_pg_params_t *p, PGresult **keep, const char *what)
{
    PGresult  *res;

    res = chat_store_pg_query(s, stmt, p, what);
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return CHAT_STORE_NOT_FOUND;
    }

    PQclear(*keep);
    *keep = res;

    return CHAT_STORE_OK;
}


int
chat_store_pg_exec(chat_store_pg_t *s, const chat_store_pg_stmt_t *stmt,
    chat_store_pg_params_t *p, int64_t *rows, const char *what)
{
    PGresult  *res;

    res = chat_store_pg_query(s, stmt, p, what);
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    if (rows != NULL) {
        *rows = PQresultStatus(res) == PGRES_TUPLES_OK
                ? PQntuples(res)
                : strtoll(PQcmdTuples(res), NULL, 10);
    }

    PQclear(res);

    return CHAT_STORE_OK;
}


int
chat_store_pg_answer(chat_store_pg_t *s, int rc, const char *what)
{
    return rc == CHAT_STORE_STOP ? CHAT_STORE_OK
                                 : chat_store_pg_stopped(s, what);
}


/* Calls cb (a chat_store_msg_pt or chat_store_user_pt, by msgs) for each
 * row of res, then clears it. */

static int
chat_store_pg_each(chat_store_pg_t *s, PGresult *res, int msgs,
    chat_store_msg_pt msg_cb, chat_store_user_pt user_cb, void *data,
    const char *what)
{
    int               i, rc;
    chat_store_msg_t  msg;

    rc = CHAT_STORE_OK;

    for (i = 0; i < PQntuples(res); i++) {
        if (msgs) {
            chat_store_pg_get_msg(res, i, 0, &msg);
            rc = msg_cb(&msg, data);

        } else {
            rc = user_cb(chat_store_pg_get_str(res, i, 0), data);
        }

        if (rc != 0) {
            rc = chat_store_pg_answer(s, rc, what);
            break;
        }
    }

    PQclear(res);

    return rc;
}


int
chat_store_pg_each_msg(chat_store_pg_t *s, PGresult *res,
    chat_store_msg_pt cb, void *data, const char *what)
{
    return chat_store_pg_each(s, res, 1, cb, NULL, data, what);
}


int
chat_store_pg_walk_msg(chat_store_pg_t *s, const chat_store_pg_stmt_t *stmt,
    chat_store_pg_params_t *p, chat_store_msg_pt cb, void *data,
    const char *what)
{
    PGresult  *res;

    res = chat_store_pg_query(s, stmt, p, what);
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    return chat_store_pg_each(s, res, 1, cb, NULL, data, what);
}


int
chat_store_pg_walk_user(chat_store_pg_t *s,
    const chat_store_pg_stmt_t *stmt, chat_store_pg_params_t *p,
    chat_store_user_pt cb, void *data, const char *what)
{
    PGresult  *res;

    res = chat_store_pg_query(s, stmt, p, what);
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    return chat_store_pg_each(s, res, 0, NULL, cb, data, what);
}


int
chat_store_pg_conv_int(chat_store_pg_t *s, const chat_store_pg_stmt_t *stmt,
    chat_str_t conv, int64_t *v, const char *what)
{
    PGresult                *res;
    chat_store_pg_params_t   p;

    *v = 0;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);

    res = chat_store_pg_query(s, stmt, &p, what);
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    if (PQntuples(res) > 0) {
        *v = chat_store_pg_get_int(res, 0, 0);
    }

    PQclear(res);

    return CHAT_STORE_OK;
}


/* Prepares the n statements of sql in one round trip. */

static int
chat_store_pg_prepare(PGconn *conn, const chat_store_pg_stmt_t *sql,
    size_t n, char *err, size_t errlen)
{
    int        ok;
    size_t     i, j;
    PGresult  *res;

    for (i = 0; i < n; i++) {
        if (PQsendPrepare(conn, sql[i].name, sql[i].sql, 0, NULL) != 1) {
            break;
        }
    }

    if (i < n || PQpipelineSync(conn) != 1) {
        snprintf(err, errlen, "store: postgres: preparing: %s",
                 PQerrorMessage(conn));
        return -1;
    }

    ok = 1;

    for (j = 0; j < n; j++) {
        res = PQgetResult(conn);

        if (res == NULL) {
            ok = 0;
            snprintf(err, errlen, "store: postgres: preparing \"%s\": %s",
                     sql[j].name, PQerrorMessage(conn));
            break;
        }

        if (PQresultStatus(res) != PGRES_COMMAND_OK && ok) {
            ok = 0;
            snprintf(err, errlen, "store: postgres: preparing \"%s\": %s",
                     sql[j].name,
                     PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        }

        PQclear(res);
        PQclear(PQgetResult(conn));
    }

    res = PQgetResult(conn);

    if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
        if (ok) {
            snprintf(err, errlen, "store: postgres: preparing: %s",
                     PQerrorMessage(conn));
        }
        ok = 0;
    }

    PQclear(res);

    return ok ? 0 : -1;
}


int
chat_store_pg_connect(chat_store_pg_t *s, char *err, size_t errlen)
{
    PGresult  *res;

    size_t  i;

    struct {
        const chat_store_pg_stmt_t  *sql;
        size_t                       n;
    } sets[] = {
        { chat_store_pg_tx_sql,
          sizeof(chat_store_pg_tx_sql) / sizeof(chat_store_pg_tx_sql[0]) },
        { chat_store_pg_ops_sql, chat_store_pg_ops_n },
        { chat_store_pg_group_sql, chat_store_pg_group_n },
        { chat_store_pg_conv_sql, chat_store_pg_conv_n },
        { chat_store_pg_media_sql, chat_store_pg_media_n },
        { chat_store_pg_push_sql, chat_store_pg_push_n },
    };

    PQfinish(s->conn);

    s->broken = 1;
    s->in_tx = 0;
    s->begin_due = 0;

    s->conn = chat_store_pg_connectdb(s->conninfo);

    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        snprintf(err, errlen, "store: postgres: connecting: %.*s",
                 s->conn ? (int) strcspn(PQerrorMessage(s->conn), "\n")
                         : 13,
                 s->conn ? PQerrorMessage(s->conn) : "out of memory");
        return -1;
    }

    /* a commit answers once it is durable (chat_store_sync()), whatever
     * the server's default; a lock held by another worker (a zombie's
     * conversation, stuck in its transaction) is waited for as long as
     * SQLite waits for its write lock, then the batch fails (55P03) and
     * is retried */

    res = PQexec(s->conn, "SET synchronous_commit = on;"
                 "SET lock_timeout = " CHAT_STORE_PG_LOCK_TIMEOUT ";"
                 "SET statement_timeout = " CHAT_STORE_PG_STATEMENT_TIMEOUT ";"
                 "SET idle_in_transaction_session_timeout = "
                 CHAT_STORE_PG_IDLE_TX_TIMEOUT);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "store: postgres: %s",
                 PQerrorMessage(s->conn));
        PQclear(res);
        return -1;
    }

    PQclear(res);

    if (PQenterPipelineMode(s->conn) != 1) {
        snprintf(err, errlen, "store: postgres: pipeline mode: %s",
                 PQerrorMessage(s->conn));
        return -1;
    }

    for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        if (chat_store_pg_prepare(s->conn, sets[i].sql, sets[i].n, err,
                                  errlen) != 0)
        {
            return -1;
        }
    }

    s->broken = 0;

    return 0;
}


static chat_store_t *
chat_store_pg_open(const char *location, char *err, size_t errlen)
{
    char              where[256];
    chat_store_pg_t  *s;

    s = calloc(1, sizeof(chat_store_pg_t));
    if (s == NULL || (s->conninfo = strdup(location)) == NULL) {
        snprintf(err, errlen, "store: out of memory");
        free(s);
        return NULL;
    }

    /* the schema first, on a plain connection: then every statement can
     * be prepared against it */

    s->conn = chat_store_pg_connectdb(location);

    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        chat_store_uri_redacted(location, where, sizeof(where));
        snprintf(err, errlen, "store \"postgres:%s\": %.*s", where,
                 s->conn ? (int) strcspn(PQerrorMessage(s->conn), "\n")
                         : 13,
                 s->conn ? PQerrorMessage(s->conn) : "out of memory");
        chat_store_pg_close(&s->store);
        return NULL;
    }

    if (chat_store_pg_migrate(s->conn, err, errlen) != 0
        || chat_store_pg_connect(s, err, errlen) != 0)
    {
        chat_store_pg_close(&s->store);
        return NULL;
    }

    return &s->store;
}


/*
 * libpq blocks: a server that vanishes (its host down, a network cut)
 * must not hold a call until the system's keepalive notices, hours later.
 * These defaults come first, so that the store's conninfo (the last
 * "dbname", expanded) overrides any of them.
 */
static PGconn *
chat_store_pg_connectdb(const char *conninfo)
{
    static const char  *keys[] = {
        "connect_timeout", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout",
        "dbname", NULL
    };
    const char         *values[] = {
        "10", "1", "10", "5", "3", "30000", conninfo, NULL
    };

    return PQconnectdbParams(keys, values, 1);
}


static void
chat_store_pg_close(chat_store_t *store)
{
    chat_store_pg_t  *s;

    s = (chat_store_pg_t *) store;

    /* an open transaction is rolled back by the server */
    PQfinish(s->conn);

    PQclear(s->found);
    PQclear(s->kept);
    free(s->conninfo);
    free(s);
}


/* BEGIN is sent with the transaction's first statement; a connection that
 * failed is made again here, as the worker's retry of a batch starts. */

static int
chat_store_pg_begin(chat_store_t *store)
{
    chat_store_pg_t  *s;

    s = (chat_store_pg_t *) store;

    if (s->in_tx) {
        return chat_store_set_error(store, "postgres: begin: a transaction "
                                    "is open");
    }

    if (chat_store_pg_ready(s, "begin") != CHAT_STORE_OK) {
        return CHAT_STORE_ERROR;
    }

    s->in_tx = 1;
    s->begin_due = 1;
    s->missing_sender = 0;
    s->missing_cid = 0;

    return CHAT_STORE_OK;
}


static int
chat_store_pg_commit(chat_store_t *store)
{
    int               rc;
    PGresult         *res;
    chat_store_pg_t  *s;

    s = (chat_store_pg_t *) store;

    if (!s->in_tx) {
        return chat_store_set_error(store, "postgres: commit: no "
                                    "transaction");
    }

    if (s->begin_due) {
        s->begin_due = 0;
        s->in_tx = 0;
        return CHAT_STORE_OK;   /* nothing was sent */
    }

    /* a commit that fails (or whose answer is lost) is retried as a whole
     * batch: the apply is idempotent */

    res = chat_store_pg_query(s, CHAT_STORE_PG_COMMIT, NULL, "commit");

    s->in_tx = 0;

    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    /* a transaction in which a statement failed is rolled back by its
     * COMMIT, which answers ROLLBACK and no error: never a success, where
     * SQLite would have kept the writes that did not fail */

    rc = strcmp(PQcmdStatus(res), "ROLLBACK") == 0
         ? chat_store_set_error(store, "postgres: commit: the transaction "
                                "had failed and was rolled back")
         : CHAT_STORE_OK;

    PQclear(res);

    return rc;
}


static int
chat_store_pg_rollback(chat_store_t *store)
{
    chat_store_pg_t  *s;

    s = (chat_store_pg_t *) store;

    if (!s->in_tx || s->begin_due || s->broken) {
        /* nothing sent, or the server dropped it with the connection */
        s->in_tx = 0;
        s->begin_due = 0;
        return CHAT_STORE_OK;
    }

    s->in_tx = 0;

    if (chat_store_pg_exec(s, CHAT_STORE_PG_ROLLBACK, NULL, NULL,
                           "rollback") != CHAT_STORE_OK)
    {
        /* a connection that failed on the way ended the transaction */
        return s->broken ? CHAT_STORE_OK : CHAT_STORE_ERROR;
    }

    return CHAT_STORE_OK;
}


/* Every commit is durable already (synchronous_commit on, above). */

static int
chat_store_pg_sync(chat_store_t *store)
{
    (void) store;

    return CHAT_STORE_OK;
}


const chat_store_ops_t  chat_store_pg_ops = {
    "postgres",
    chat_store_pg_open,
    chat_store_pg_close,
    chat_store_pg_begin,
    chat_store_pg_commit,
    chat_store_pg_rollback,
    chat_store_pg_sync,
    chat_store_pg_find_by_client_id,
    chat_store_pg_conv_last_seq,
    chat_store_pg_insert_message,
    chat_store_pg_raise_watermark,
    chat_store_pg_pending,
    chat_store_pg_history,
    chat_store_pg_log,
    chat_store_pg_members,
    chat_store_pg_roster,
    chat_store_pg_member_join,
    chat_store_pg_member_leave,
    chat_store_pg_group_create,
    chat_store_pg_senders,
    chat_store_pg_conv_ttl,
    chat_store_pg_conv_set_ttl,
    chat_store_pg_group_get,
    chat_store_pg_conversations,
    chat_store_pg_media_insert,
    chat_store_pg_media_use,
    chat_store_pg_expire,
    chat_store_pg_media_sweep,
    chat_store_pg_push_schedule,
    chat_store_pg_push_due,
    chat_store_pg_push_messages,
    chat_store_pg_push_advance
};
