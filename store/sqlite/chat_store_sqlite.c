/*
 * The SQLite backend of the store, "sqlite:/path/to/file.db": the handle
 * (open, schema, statements, transactions) and the helpers of
 * chat_store_sqlite_ops.c, which has the operations.
 *
 * Several worker processes may share one file: the database is in WAL mode
 * (readers never block the writer), a write transaction is taken with
 * BEGIN IMMEDIATE (the write lock at once, so two writers never deadlock
 * upgrading a read lock) and a busy writer is waited for up to
 * CHAT_STORE_SQLITE_BUSY_MS. Every statement is prepared once at open and
 * kept for the life of the handle.
 *
 * Durability: synchronous=NORMAL, and chat_store_sync() syncs the WAL.
 * A commit is then in the OS's page cache, which survives any crash of the
 * process; a power loss or kernel crash may roll back the transactions
 * since the last sync. The worker syncs before it commits the Kafka offsets
 * of what it stored, so what a power loss rolls back is consumed again from
 * Kafka and applied again in the same order to the same state: the same
 * seqs for the same messages. One fsync per commit interval (a second),
 * instead of one per batch (FULL), which on a busy worker was a fifth of
 * its CPU and a millisecond or more of every message's latency.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_store_sqlite.h"


#define CHAT_STORE_SQLITE_BUSY_MS  5000
#define CHAT_STORE_SQLITE_VERSION  4      /* PRAGMA user_version */


/* The name of each group; its members are rows of members. */
#define CHAT_STORE_SQLITE_GROUPS                                              \
    "CREATE TABLE groups ("                                                   \
    "  grp         TEXT PRIMARY KEY,"          /* the conv, grp:<id> */       \
    "  name        TEXT NOT NULL,"                                            \
    "  created_ms  INTEGER NOT NULL"                                          \
    ") WITHOUT ROWID;"


/*
 * What version 4 (issue 15: disappearing messages, media, the read side)
 * adds besides its columns: the index of the live messages, the index of
 * what expiry has to delete, the messages by media and the media.
 *
 * messages_live holds the messages (kind 'msg', so neither events nor
 * tombstones) with what the conversation list reads of them: the newest
 * live one of a window and the unread count are walks of it that never
 * touch the table (kind is a column too, though the same in every entry,
 * because SQLite counts an index as covering only with every column the
 * query names). history and pending walk it too, so that the
 * tombstones of a disappearing conversation are never stepped over.
 *
 * messages_expiring holds the rows that will expire and are not deleted
 * yet, in the order they expire: chat_store_expire() takes the head.
 *
 * media: used is 0 until a send takes the media (chat_store_media_use()),
 * 1 while messages may reference it, 2 once expiry deleted one of them:
 * media_sweepable holds the 0 and 2 rows, which the sweep checks, and
 * messages_media tells whether a message still references one.
 */
#define CHAT_STORE_SQLITE_V4                                                  \
    "CREATE INDEX messages_live ON messages"                                  \
    "  (conv, seq, sender, expires_ms, ts, kind) WHERE kind = 'msg';"         \
    "CREATE INDEX messages_expiring ON messages (expires_ms)"                 \
    "  WHERE expires_ms > 0 AND kind IN ('msg', 'group', 'conv');"            \
    "CREATE INDEX messages_media ON messages (media_id)"                      \
    "  WHERE media_id IS NOT NULL;"                                           \
    "CREATE TABLE media ("                                                    \
    "  id          TEXT PRIMARY KEY,"                                         \
    "  owner       TEXT NOT NULL,"             /* who uploaded it */          \
    "  mime        TEXT NOT NULL,"                                            \
    "  size        INTEGER NOT NULL,"                                         \
    "  created_ms  INTEGER NOT NULL,"                                         \
    "  used        INTEGER NOT NULL DEFAULT 0"  /* 0, 1 or 2: above */        \
    ") WITHOUT ROWID;"                                                        \
    "CREATE INDEX media_sweepable ON media (used, created_ms)"                \
    "  WHERE used <> 1;"


/* Version 4 of the schema (docs/INTERNALS.md, "Store"). */
static const char  chat_store_sqlite_schema[] =
    "CREATE TABLE conversations ("
    "  conv        TEXT PRIMARY KEY,"
    "  kind        TEXT NOT NULL,"             /* 'dm' or 'group' */
    "  last_seq    INTEGER NOT NULL,"
    "  created_ms  INTEGER NOT NULL,"
    "  ttl         INTEGER NOT NULL DEFAULT 0"  /* s; 0: forever */
    ") WITHOUT ROWID;"

    "CREATE TABLE members ("
    "  conv        TEXT NOT NULL,"
    "  user        TEXT NOT NULL,"
    "  role        TEXT NOT NULL,"             /* 'member' or 'admin' */
    "  joined_seq  INTEGER NOT NULL,"          /* sees messages above it */
    "  left_seq    INTEGER,"                   /* NULL while a member */
    "  PRIMARY KEY (conv, user)"
    ") WITHOUT ROWID;"

    /* the conversations of a user, for pending(); UNIQUE tells the planner
     * that each conv comes once, so (conv, seq) order needs no sort */
    "CREATE UNIQUE INDEX members_by_user ON members (user, conv);"

    /* a rowid table: a body may be up to chat_max_message (64k) long */
    "CREATE TABLE messages ("
    "  conv        TEXT NOT NULL,"
    "  seq         INTEGER NOT NULL,"
    "  mid         TEXT NOT NULL UNIQUE,"
    "  sender      TEXT NOT NULL,"
    "  client_id   TEXT NOT NULL,"
    "  body        TEXT NOT NULL,"
    "  media       TEXT,"                      /* JSON object, or NULL */
    "  ts          INTEGER NOT NULL,"
    /* 'msg', 'group' or 'conv'; a tombstone's has a '~' before it */
    "  kind        TEXT NOT NULL DEFAULT 'msg',"
    "  expires_ms  INTEGER NOT NULL DEFAULT 0,"  /* 0: never */
    "  media_id    TEXT,"                      /* NULL: no media */
    "  UNIQUE (conv, seq),"                    /* history, pending */
    "  UNIQUE (sender, client_id)"             /* dedupe */
    ");"

    "CREATE TABLE watermarks ("
    "  conv           TEXT NOT NULL,"
    "  user           TEXT NOT NULL,"
    "  delivered_seq  INTEGER NOT NULL,"
    "  read_seq       INTEGER NOT NULL,"
    "  pushed_seq     INTEGER NOT NULL DEFAULT 0,"  /* push hook: done to */
    "  push_due_ms    INTEGER,"                     /* NULL: none due */
    "  part           INTEGER,"                     /* conv's partition */
    "  PRIMARY KEY (conv, user)"
    ") WITHOUT ROWID;"

    /* the pushes due in a partition, earliest first; only rows with one
     * due are in it, so it stays as small as what is unacknowledged */
    "CREATE INDEX IF NOT EXISTS watermarks_push_due"
    "  ON watermarks (part, push_due_ms) WHERE push_due_ms IS NOT NULL;"

    CHAT_STORE_SQLITE_GROUPS
    CHAT_STORE_SQLITE_V4;


/* Version 1 (issue 3) had no push hook state. */
static const char  chat_store_sqlite_from_1[] =
    "ALTER TABLE watermarks ADD COLUMN pushed_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE watermarks ADD COLUMN push_due_ms INTEGER;"
    "ALTER TABLE watermarks ADD COLUMN part INTEGER;"
    "CREATE INDEX IF NOT EXISTS watermarks_push_due"
    "  ON watermarks (part, push_due_ms) WHERE push_due_ms IS NOT NULL;";


/* Version 2 (issue 4) had no groups: every row of messages was a message,
 * which the default of kind says. */
static const char  chat_store_sqlite_from_2[] =
    "ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'msg';"
    CHAT_STORE_SQLITE_GROUPS;


/* Version 3 (issue 5) had neither disappearing messages nor media: every
 * conversation keeps its messages forever, no message has a media id. */
static const char  chat_store_sqlite_from_3[] =
    "ALTER TABLE conversations ADD COLUMN ttl INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN expires_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN media_id TEXT;"
    CHAT_STORE_SQLITE_V4;


static chat_store_t *chat_store_sqlite_open(const char *location, char *err,
    size_t errlen);
static int chat_store_sqlite_configure(chat_store_sqlite_t *s,
    const char *location, char *err, size_t errlen);
static int chat_store_sqlite_schema_init(chat_store_sqlite_t *s, char *err,
    size_t errlen);
static int chat_store_sqlite_prepare(chat_store_sqlite_t *s, char *err,
    size_t errlen);
static void chat_store_sqlite_close(chat_store_t *store);


int
chat_store_sqlite_fail(chat_store_sqlite_t *s, const char *what)
{
    int  code;

    code = sqlite3_errcode(s->db);

    (void) chat_store_set_error(&s->store, "sqlite: %s: %s", what,
                                sqlite3_errmsg(s->db));

    /* only what the values themselves cause is the data's: BUSY, LOCKED,
     * IOERR, FULL, READONLY, NOMEM, CORRUPT... are the store's */

    switch (code) {
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        s->store.fault = CHAT_STORE_FAULT_DATA;
        break;
    }

    return CHAT_STORE_ERROR;
}


int
chat_store_sqlite_done(sqlite3_stmt *stmt, int rc)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);

    return rc;
}


int
chat_store_sqlite_one_row(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    const char *what)
{
    int  rc;

    rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW) {
        return CHAT_STORE_OK;
    }

    if (rc == SQLITE_DONE) {
        return chat_store_sqlite_done(stmt, CHAT_STORE_NOT_FOUND);
    }

    chat_store_sqlite_fail(s, what);

    return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
}


int
chat_store_sqlite_bind_str(sqlite3_stmt *stmt, int i, chat_str_t s)
{
    /* SQLITE_STATIC: every statement is reset before its strings go away */
    return sqlite3_bind_text(stmt, i, s.len ? s.s : "", (int) s.len,
                             SQLITE_STATIC);
}


chat_str_t
chat_store_sqlite_column_str(sqlite3_stmt *stmt, int i)
{
    chat_str_t  s;

    /* text first, then its length: the documented order */
    s.s = (const char *) sqlite3_column_text(stmt, i);
    s.len = (size_t) sqlite3_column_bytes(stmt, i);

    if (s.s == NULL) {
        s.s = "";
        s.len = 0;
    }

    return s;
}


void
chat_store_sqlite_row(sqlite3_stmt *stmt, chat_store_msg_t *msg)
{
    msg->conv = chat_store_sqlite_column_str(stmt, 0);
    msg->seq = sqlite3_column_int64(stmt, 1);
    msg->mid = chat_store_sqlite_column_str(stmt, 2);
    msg->sender = chat_store_sqlite_column_str(stmt, 3);
    msg->client_id = chat_store_sqlite_column_str(stmt, 4);
    msg->body = chat_store_sqlite_column_str(stmt, 5);
    msg->media = chat_store_sqlite_column_str(stmt, 6);
    msg->ts = sqlite3_column_int64(stmt, 7);
    msg->kind = sqlite3_column_int(stmt, 8);
    msg->media_id = chat_store_sqlite_column_str(stmt, 9);
    msg->expires = sqlite3_column_int64(stmt, 10);
}


int
chat_store_sqlite_copy(chat_store_sqlite_t *s, char **buf, size_t *size,
    chat_str_t *const *str, size_t n)
{
    char    *p;
    size_t   i, need;

    need = 1;

    for (i = 0; i < n; i++) {
        need += str[i]->len;
    }

    if (need > *size) {
        p = realloc(*buf, need);
        if (p == NULL) {
            return chat_store_set_error(&s->store, "out of memory");
        }

        *buf = p;
        *size = need;
    }

    p = *buf;

    for (i = 0; i < n; i++) {
        memcpy(p, str[i]->s, str[i]->len);
        str[i]->s = p;
        p += str[i]->len;
    }

    return CHAT_STORE_OK;
}


int
chat_store_sqlite_conv_int(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    chat_str_t conv, int64_t *v, const char *what)
{
    int  rc;

    chat_store_sqlite_bind_str(stmt, 1, conv);

    *v = 0;

    rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(stmt, 0);

    } else if (rc != SQLITE_DONE) {
        chat_store_sqlite_fail(s, what);
        return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
    }

    return chat_store_sqlite_done(stmt, CHAT_STORE_OK);
}


int
chat_store_sqlite_run(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    const char *what)
{
    int  rc;

    rc = CHAT_STORE_OK;

    if (sqlite3_step(stmt) != SQLITE_DONE) {
        rc = chat_store_sqlite_fail(s, what);
    }

    return chat_store_sqlite_done(stmt, rc);
}


int
chat_store_sqlite_walk(chat_store_sqlite_t *s, sqlite3_stmt *stmt,
    chat_store_sqlite_row_pt row, void *data, const char *what)
{
    int  rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        rc = row(stmt, data);

        if (rc == CHAT_STORE_STOP) {
            return chat_store_sqlite_done(stmt, CHAT_STORE_OK);
        }

        if (rc != 0) {
            chat_store_set_error(&s->store, "%s: stopped by the caller",
                                 what);
            return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
        }
    }

    if (rc != SQLITE_DONE) {
        chat_store_sqlite_fail(s, what);
        return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
    }

    return chat_store_sqlite_done(stmt, CHAT_STORE_OK);
}


static chat_store_t *
chat_store_sqlite_open(const char *location, char *err, size_t errlen)
{
    int                   rc;
    chat_store_sqlite_t  *s;

    if (*location == '\0') {
        snprintf(err, errlen, "store \"sqlite:\": no file name");
        return NULL;
    }

    s = calloc(1, sizeof(chat_store_sqlite_t));
    if (s == NULL) {
        snprintf(err, errlen, "store: out of memory");
        return NULL;
    }

    /* one handle per thread: SQLite's own mutexes are not needed */

    rc = sqlite3_open_v2(location, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "store \"sqlite:%s\": %s", location,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        chat_store_sqlite_close(&s->store);
        return NULL;
    }

    if (chat_store_sqlite_configure(s, location, err, errlen) != 0
        || chat_store_sqlite_schema_init(s, err, errlen) != 0
        || chat_store_sqlite_prepare(s, err, errlen) != 0)
    {
        chat_store_sqlite_close(&s->store);
        return NULL;
    }

    return &s->store;
}


static int
chat_store_sqlite_configure(chat_store_sqlite_t *s, const char *location,
    char *err, size_t errlen)
{
    int            rc, tries;
    const char    *mode;
    sqlite3_stmt  *stmt;

    sqlite3_busy_timeout(s->db, CHAT_STORE_SQLITE_BUSY_MS);

    /*
     * journal_mode answers the mode in effect: a file on a file system
     * without shared memory stays in another mode. Switching a new file to
     * WAL needs it to itself and does not wait on the busy handler, so when
     * workers start together on a new file, the loser retries for a while.
     */

    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &stmt,
                            NULL);
    if (rc != SQLITE_OK) {
        goto failed;
    }

    for (tries = 0; ; tries++) {
        rc = sqlite3_step(stmt);

        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
            break;
        }

        if (tries == CHAT_STORE_SQLITE_BUSY_MS / 100) {
            break;
        }

        sqlite3_reset(stmt);
        usleep(100 * 1000);
    }

    mode = (rc == SQLITE_ROW) ? (const char *) sqlite3_column_text(stmt, 0)
                              : NULL;

    if (mode == NULL
        || (strcmp(mode, "wal") != 0 && strcmp(location, ":memory:") != 0))
    {
        snprintf(err, errlen, "store \"sqlite:%s\": WAL mode refused (%s)",
                 location, mode ? mode : sqlite3_errmsg(s->db));
        sqlite3_finalize(stmt);
        return -1;
    }

    sqlite3_finalize(stmt);

    rc = sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK) {
        goto failed;
    }

    return 0;

failed:

    snprintf(err, errlen, "store \"sqlite:%s\": %s", location,
             sqlite3_errmsg(s->db));
    return -1;
}


/*
 * Creates the schema of an empty database, or checks the version of an
 * existing one. In one write transaction, so that workers starting together
 * on a new file do not both create it.
 */

static int
chat_store_sqlite_schema_init(chat_store_sqlite_t *s, char *err,
    size_t errlen)
{
    int            rc, version;
    char           sql[64];
    sqlite3_stmt  *stmt;

    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)
        != SQLITE_OK)
    {
        goto failed;
    }

    rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        goto failed;
    }

    rc = sqlite3_step(stmt);
    version = (rc == SQLITE_ROW) ? sqlite3_column_int(stmt, 0) : -1;
    sqlite3_finalize(stmt);

    if (version == -1) {
        goto failed;
    }

    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
             CHAT_STORE_SQLITE_VERSION);

    if (version > CHAT_STORE_SQLITE_VERSION) {
        snprintf(err, errlen, "store: schema version %d, this worker "
                 "knows version %d", version, CHAT_STORE_SQLITE_VERSION);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }

    /* a new file gets the schema; an older one each upgrade in turn */

    if ((version == 0
         && sqlite3_exec(s->db, chat_store_sqlite_schema, NULL, NULL, NULL)
            != SQLITE_OK)
        || (version == 1
            && sqlite3_exec(s->db, chat_store_sqlite_from_1, NULL, NULL,
                            NULL)
               != SQLITE_OK)
        || ((version == 1 || version == 2)
            && sqlite3_exec(s->db, chat_store_sqlite_from_2, NULL, NULL,
                            NULL)
               != SQLITE_OK)
        || (version >= 1 && version <= 3
            && sqlite3_exec(s->db, chat_store_sqlite_from_3, NULL, NULL,
                            NULL)
               != SQLITE_OK)
        || (version != CHAT_STORE_SQLITE_VERSION
            && sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK))
    {
        goto failed;
    }

    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        goto failed;
    }

    return 0;

failed:

    snprintf(err, errlen, "store: schema: %s", sqlite3_errmsg(s->db));

    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }

    return -1;
}


/* Prepares n statements of sql into stmt. */

static int
chat_store_sqlite_prepare_all(chat_store_sqlite_t *s,
    const char *const *sql, sqlite3_stmt **stmt, int n, char *err,
    size_t errlen)
{
    int  i;

    for (i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &stmt[i], NULL)
            != SQLITE_OK)
        {
            snprintf(err, errlen, "store: preparing \"%s\": %s", sql[i],
                     sqlite3_errmsg(s->db));
            return -1;
        }
    }

    return 0;
}


static int
chat_store_sqlite_prepare(chat_store_sqlite_t *s, char *err, size_t errlen)
{
    if (chat_store_sqlite_prepare_all(s, chat_store_sqlite_sql, s->stmt,
                                      CHAT_SQL_N, err, errlen) != 0)
    {
        return -1;
    }

    if (chat_store_sqlite_prepare_all(s, chat_store_sqlite_group_sql,
                                      s->group, CHAT_SQL_GROUP_N, err,
                                      errlen) != 0
        || chat_store_sqlite_prepare_all(s, chat_store_sqlite_conv_sql,
                                         s->conv, CHAT_SQL_CONV_N, err,
                                         errlen) != 0
        || chat_store_sqlite_prepare_all(s, chat_store_sqlite_media_sql,
                                         s->media, CHAT_SQL_MEDIA_N, err,
                                         errlen) != 0)
    {
        return -1;
    }

    return chat_store_sqlite_prepare_all(s, chat_store_sqlite_push_sql,
                                         s->push, CHAT_SQL_PUSH_N, err,
                                         errlen);
}


static void
chat_store_sqlite_close(chat_store_t *store)
{
    int                   i;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    for (i = 0; i < CHAT_SQL_N; i++) {
        sqlite3_finalize(s->stmt[i]);
    }

    for (i = 0; i < CHAT_SQL_PUSH_N; i++) {
        sqlite3_finalize(s->push[i]);
    }

    for (i = 0; i < CHAT_SQL_GROUP_N; i++) {
        sqlite3_finalize(s->group[i]);
    }

    for (i = 0; i < CHAT_SQL_CONV_N; i++) {
        sqlite3_finalize(s->conv[i]);
    }

    for (i = 0; i < CHAT_SQL_MEDIA_N; i++) {
        sqlite3_finalize(s->media[i]);
    }

    /* an open transaction is rolled back by the close */
    sqlite3_close(s->db);

    free(s->found);
    free(s->kept);
    free(s);
}


static int
chat_store_sqlite_begin(chat_store_t *store)
{
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    return chat_store_sqlite_run(s, s->stmt[CHAT_SQL_BEGIN], "begin");
}


static int
chat_store_sqlite_commit(chat_store_t *store)
{
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    return chat_store_sqlite_run(s, s->stmt[CHAT_SQL_COMMIT], "commit");
}


static int
chat_store_sqlite_rollback(chat_store_t *store)
{
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    /* some errors (a full disk, ...) end the transaction by themselves */

    if (sqlite3_get_autocommit(s->db)) {
        return CHAT_STORE_OK;
    }

    return chat_store_sqlite_run(s, s->stmt[CHAT_SQL_ROLLBACK], "rollback");
}


/*
 * Syncs the WAL, through SQLite's own handle of it: in NORMAL mode the WAL
 * holds every commit since the last checkpoint, and a checkpoint syncs the
 * database file before the WAL is reused. No WAL open (":memory:", or
 * nothing written yet): nothing to sync.
 */

static int
chat_store_sqlite_sync(chat_store_t *store)
{
    int                   rc;
    sqlite3_file         *wal;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    wal = NULL;

    rc = sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
                              &wal);

    if (rc != SQLITE_OK || wal == NULL || wal->pMethods == NULL) {
        return CHAT_STORE_OK;
    }

    rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);

    if (rc != SQLITE_OK) {
        return chat_store_set_error(store, "sync: %s", sqlite3_errstr(rc));
    }

    return CHAT_STORE_OK;
}


const chat_store_ops_t  chat_store_sqlite_ops = {
    "sqlite",
    chat_store_sqlite_open,
    chat_store_sqlite_close,
    chat_store_sqlite_begin,
    chat_store_sqlite_commit,
    chat_store_sqlite_rollback,
    chat_store_sqlite_sync,
    chat_store_sqlite_find_by_client_id,
    chat_store_sqlite_conv_last_seq,
    chat_store_sqlite_insert_message,
    chat_store_sqlite_raise_watermark,
    chat_store_sqlite_pending,
    chat_store_sqlite_history,
    chat_store_sqlite_log,
    chat_store_sqlite_members,
    chat_store_sqlite_roster,
    chat_store_sqlite_member_join,
    chat_store_sqlite_member_leave,
    chat_store_sqlite_group_create,
    chat_store_sqlite_senders,
    chat_store_sqlite_conv_ttl,
    chat_store_sqlite_conv_set_ttl,
    chat_store_sqlite_group_get,
    chat_store_sqlite_conversations,
    chat_store_sqlite_media_insert,
    chat_store_sqlite_media_use,
    chat_store_sqlite_expire,
    chat_store_sqlite_media_sweep,
    chat_store_sqlite_push_schedule,
    chat_store_sqlite_push_due,
    chat_store_sqlite_push_messages,
    chat_store_sqlite_push_advance
};
