/*
 * The schema of the PostgreSQL store and its migrations (docs/INTERNALS.md,
 * "Store"). schema_version holds the version of the database; each
 * migration takes it from one version to the next. All of them run at
 * open in one transaction under a transaction-scoped advisory lock, so
 * that workers and chat-apis that start together on a new database wait
 * for the first one and then find the schema made; a database newer than
 * this code is refused.
 *
 * The tables and indexes are SQLite's schema 4, in PostgreSQL's types.
 * Every id is text in the "C" collation, so that rows sort by their bytes
 * as SQLite's do (members in user order, the list's ties by conv); a body
 * is bytea, since it may hold NUL bytes, which text cannot.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_store_pg.h"


/* the key of the advisory lock the migrations hold: "chat" */
#define CHAT_STORE_PG_MIGRATE_LOCK  "1667785076"

#define CHAT_STORE_PG_ID  "text COLLATE \"C\" NOT NULL"


/* Version 1: SQLite's version 4 (issue 15). */
static const char  chat_store_pg_v1[] =
    "CREATE TABLE conversations ("
    "  conv        " CHAT_STORE_PG_ID " PRIMARY KEY,"
    "  kind        text NOT NULL,"             /* 'dm' or 'group' */
    "  last_seq    bigint NOT NULL,"
    "  created_ms  bigint NOT NULL,"
    "  ttl         bigint NOT NULL DEFAULT 0"  /* s; 0: forever */
    ");"

    "CREATE TABLE members ("
    "  conv        " CHAT_STORE_PG_ID ","
    "  \"user\"      " CHAT_STORE_PG_ID ","
    "  role        text NOT NULL,"             /* 'member' or 'admin' */
    "  joined_seq  bigint NOT NULL,"           /* sees messages above it */
    "  left_seq    bigint,"                    /* NULL while a member */
    "  PRIMARY KEY (conv, \"user\")"
    ");"

    /* the conversations of a user, for pending() and the list */
    "CREATE UNIQUE INDEX members_by_user ON members (\"user\", conv);"

    /* (conv, seq) the key: gapless per conversation, a second insert of
     * a seq fails (chat_store_pg_ops.c) */
    "CREATE TABLE messages ("
    "  conv        " CHAT_STORE_PG_ID ","
    "  seq         bigint NOT NULL,"
    "  mid         " CHAT_STORE_PG_ID " UNIQUE,"
    "  sender      " CHAT_STORE_PG_ID ","
    "  client_id   " CHAT_STORE_PG_ID ","
    "  body        bytea NOT NULL,"
    "  media       text,"                      /* JSON object, or NULL */
    "  ts          bigint NOT NULL,"
    /* 'msg', 'group' or 'conv'; a tombstone's has a '~' before it */
    "  kind        text NOT NULL DEFAULT 'msg',"
    "  expires_ms  bigint NOT NULL DEFAULT 0," /* 0: never */
    "  media_id    text COLLATE \"C\","        /* NULL: no media */
    "  PRIMARY KEY (conv, seq),"
    "  UNIQUE (sender, client_id)"             /* dedupe */
    ");"

    "CREATE TABLE watermarks ("
    "  conv           " CHAT_STORE_PG_ID ","
    "  \"user\"         " CHAT_STORE_PG_ID ","
    "  delivered_seq  bigint NOT NULL,"
    "  read_seq       bigint NOT NULL,"
    "  pushed_seq     bigint NOT NULL DEFAULT 0,"  /* push hook: done to */
    "  push_due_ms    bigint,"                     /* NULL: none due */
    "  part           integer,"                    /* conv's partition */
    "  PRIMARY KEY (conv, \"user\")"
    ");"

    "CREATE INDEX watermarks_push_due"
    "  ON watermarks (part, push_due_ms) WHERE push_due_ms IS NOT NULL;"

    "CREATE TABLE groups ("
    "  grp         " CHAT_STORE_PG_ID " PRIMARY KEY,"
    "  name        text NOT NULL,"
    "  created_ms  bigint NOT NULL"
    ");"

    /* the live messages with what the list and the unread counts read of
     * them (an index-only walk); neither events nor tombstones */
    "CREATE INDEX messages_live ON messages (conv, seq)"
    "  INCLUDE (sender, expires_ms, ts) WHERE kind = 'msg';"
    "CREATE INDEX messages_expiring ON messages (expires_ms)"
    "  WHERE expires_ms > 0 AND kind IN ('msg', 'group', 'conv');"
    "CREATE INDEX messages_media ON messages (media_id)"
    "  WHERE media_id IS NOT NULL;"

    /* used: 0 until a send takes it, 1 while messages may reference it,
     * 2 once expiry deleted one of them (chat_store_pg_media.c) */
    "CREATE TABLE media ("
    "  id          " CHAT_STORE_PG_ID " PRIMARY KEY,"
    "  owner       " CHAT_STORE_PG_ID ","
    "  mime        text NOT NULL,"
    "  size        bigint NOT NULL,"
    "  created_ms  bigint NOT NULL,"
    "  used        smallint NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX media_sweepable ON media (used, created_ms)"
    "  WHERE used <> 1;";


/* migration[i] takes a database from version i to i + 1 */
static const char  *const chat_store_pg_migrations[] = {
    chat_store_pg_v1,
};

#define CHAT_STORE_PG_VERSION                                                 \
    (int) (sizeof(chat_store_pg_migrations)                                   \
           / sizeof(chat_store_pg_migrations[0]))


/* Runs sql; 0, or -1 with its error in err. */

static int
chat_store_pg_migrate_exec(PGconn *conn, const char *sql, char *err,
    size_t errlen)
{
    int        ok;
    PGresult  *res;

    res = PQexec(conn, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK
         || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok) {
        snprintf(err, errlen, "store: postgres: schema: %.*s",
                 (int) strcspn(PQerrorMessage(conn), "\n"),
                 PQerrorMessage(conn));
    }

    PQclear(res);

    return ok ? 0 : -1;
}


/* The version of the database, 0 for a new one; -1 on error. */

static int
chat_store_pg_version(PGconn *conn, char *err, size_t errlen)
{
    int        version;
    PGresult  *res;

    if (chat_store_pg_migrate_exec(conn,
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "  version integer NOT NULL)", err, errlen) != 0)
    {
        return -1;
    }

    res = PQexec(conn, "SELECT max(version) FROM schema_version");

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "store: postgres: schema: %s",
                 PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }

    version = PQgetisnull(res, 0, 0)
              ? 0 : (int) strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    return version;
}


int
chat_store_pg_migrate(PGconn *conn, char *err, size_t errlen)
{
    int   version, v;
    char  sql[96];

    if (chat_store_pg_migrate_exec(conn, "BEGIN", err, errlen) != 0) {
        return -1;
    }

    /* the others wait here, then find the schema made */

    if (chat_store_pg_migrate_exec(conn, "SET LOCAL client_min_messages = "
                                   "warning", err, errlen) != 0
        || chat_store_pg_migrate_exec(conn, "SELECT pg_advisory_xact_lock("
                                   CHAT_STORE_PG_MIGRATE_LOCK ")", err,
                                   errlen) != 0
        || (version = chat_store_pg_version(conn, err, errlen)) < 0)
    {
        goto failed;
    }

    if (version > CHAT_STORE_PG_VERSION) {
        snprintf(err, errlen, "store: postgres: schema version %d, this "
                 "program knows version %d: upgrade it", version,
                 CHAT_STORE_PG_VERSION);
        goto failed;
    }

    for (v = version; v < CHAT_STORE_PG_VERSION; v++) {
        if (chat_store_pg_migrate_exec(conn, chat_store_pg_migrations[v],
                                       err, errlen) != 0)
        {
            goto failed;
        }
    }

    if (version != CHAT_STORE_PG_VERSION) {
        snprintf(sql, sizeof(sql), "DELETE FROM schema_version;"
                 "INSERT INTO schema_version VALUES (%d)",
                 CHAT_STORE_PG_VERSION);

        if (chat_store_pg_migrate_exec(conn, sql, err, errlen) != 0) {
            goto failed;
        }
    }

    return chat_store_pg_migrate_exec(conn, "COMMIT", err, errlen);

failed:

    PQclear(PQexec(conn, "ROLLBACK"));

    return -1;
}
