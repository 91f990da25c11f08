/*
 * The backend the store's unit tests run on, chosen by the environment:
 * CHAT_TEST_STORE=postgres with CHAT_TEST_PG, the conninfo of a running
 * server in keyword form ("host=/dir port=5432 user=postgres
 * dbname=postgres"), or SQLite (the default, CHAT_TEST_STORE unset or
 * "sqlite"). `make unit` runs the store's tests on both (scripts/run-unit,
 * with a throwaway cluster of scripts/pg).
 *
 * A store of a test is named (its file, or its schema): each
 * test_backend_uri() of a name makes it new and empty, a SQLite file
 * removed or a PostgreSQL schema chat_test_<name> dropped and made again,
 * which the URI's search_path then names.
 */

#ifndef CHAT_TEST_BACKEND_H
#define CHAT_TEST_BACKEND_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "chat_store_pg.h"


/* 1 when the tests run on PostgreSQL. */

static inline int
test_on_pg(void)
{
    const char  *b = getenv("CHAT_TEST_STORE");

    return b != NULL && strcmp(b, "postgres") == 0;
}


/* A connection to the test server, on the schema of name when not NULL;
 * NULL (told on stderr) when it cannot be made. */

static inline PGconn *
test_pg_connect(const char *name)
{
    char         info[512];
    PGconn      *conn;
    const char  *pg = getenv("CHAT_TEST_PG");

    if (pg == NULL) {
        fprintf(stderr, "  CHAT_TEST_STORE=postgres needs CHAT_TEST_PG\n");
        return NULL;
    }

    if (name != NULL) {
        snprintf(info, sizeof(info),
                 "%s options='-c search_path=chat_test_%s'", pg, name);

    } else {
        snprintf(info, sizeof(info), "%s", pg);
    }

    conn = PQconnectdb(info);

    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "  postgres: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }

    PQclear(PQexec(conn, "SET client_min_messages = warning"));

    return conn;
}


/* Runs sql (one or more statements) on conn; 0, or -1 (told). */

static inline int
test_pg_exec(PGconn *conn, const char *sql)
{
    int        ok;
    PGresult  *res;

    res = PQexec(conn, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK
         || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok) {
        fprintf(stderr, "  postgres: %s: %s", sql, PQerrorMessage(conn));
    }

    PQclear(res);

    return ok ? 0 : -1;
}


/*
 * The URI of a new, empty store called name (dir holds SQLite's files)
 * into uri; 0, or -1.
 */

static inline int
test_backend_uri(char *uri, size_t size, const char *dir, const char *name)
{
    int      rc;
    char     path[256], sql[300];
    PGconn  *conn;

    if (!test_on_pg()) {
        snprintf(path, sizeof(path), "%s/%s.db", dir, name);
        unlink(path);
        snprintf(sql, sizeof(sql), "%s-wal", path);
        unlink(sql);
        snprintf(sql, sizeof(sql), "%s-shm", path);
        unlink(sql);

        snprintf(uri, size, "sqlite:%s", path);
        return 0;
    }

    conn = test_pg_connect(NULL);
    if (conn == NULL) {
        return -1;
    }

    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS chat_test_%s CASCADE;"
             "CREATE SCHEMA chat_test_%s", name, name);
    rc = test_pg_exec(conn, sql);
    PQfinish(conn);

    snprintf(uri, size, "postgres:%s options='-c search_path=chat_test_%s'",
             getenv("CHAT_TEST_PG"), name);

    return rc;
}


/* Runs sql, statements without rows, on the store called name beside its
 * handles; 0, or -1. */

static inline int
test_backend_sql(const char *dir, const char *name, const char *sql)
{
    int       rc;
    char      path[256];
    PGconn   *conn;
    sqlite3  *db;

    if (test_on_pg()) {
        conn = test_pg_connect(name);
        if (conn == NULL) {
            return -1;
        }

        rc = test_pg_exec(conn, sql);
        PQfinish(conn);
        return rc;
    }

    snprintf(path, sizeof(path), "%s/%s.db", dir, name);

    if (sqlite3_open(path, &db) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }

    rc = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;

    if (rc != 0) {
        fprintf(stderr, "  sqlite: %s: %s\n", sql, sqlite3_errmsg(db));
    }

    sqlite3_close(db);

    return rc;
}


/* The text of the first column of the first row of query on the store
 * called name into out; 0, or -1 (no row, or an error). */

static inline int
test_backend_text(const char *dir, const char *name, const char *query,
    char *out, size_t outlen)
{
    int            rc;
    char           path[256];
    PGconn        *conn;
    sqlite3       *db;
    PGresult      *res;
    sqlite3_stmt  *st;

    rc = -1;

    if (test_on_pg()) {
        conn = test_pg_connect(name);
        if (conn == NULL) {
            return -1;
        }

        res = PQexec(conn, query);

        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
            snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
            rc = 0;
        }

        PQclear(res);
        PQfinish(conn);
        return rc;
    }

    snprintf(path, sizeof(path), "%s/%s.db", dir, name);

    if (sqlite3_open(path, &db) == SQLITE_OK
        && sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK)
    {
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(out, outlen, "%s",
                     (const char *) sqlite3_column_text(st, 0));
            rc = 0;
        }

        sqlite3_finalize(st);
    }

    sqlite3_close(db);

    return rc;
}

/*
 * Ends the server process of a PostgreSQL store's connection from another
 * connection (pg_terminate_backend, as an operator or a server restart
 * would), and waits until it is gone; 0, or -1.
 */

static inline int
test_pg_kill(chat_store_t *store)
{
    int        i, rc, pid;
    char       sql[160];
    PGconn    *conn;
    PGresult  *res;

    pid = PQbackendPID(((chat_store_pg_t *) store)->conn);

    conn = test_pg_connect(NULL);
    if (conn == NULL) {
        return -1;
    }

    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
    rc = test_pg_exec(conn, sql);

    snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_stat_activity"
             " WHERE pid = %d", pid);

    for (i = 0; rc == 0 && i < 500; i++) {
        res = PQexec(conn, sql);
        rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;

        if (rc == 0 && PQntuples(res) == 0) {
            PQclear(res);
            break;
        }

        PQclear(res);
        usleep(10 * 1000);
    }

    PQfinish(conn);

    return rc;
}

#endif /* CHAT_TEST_BACKEND_H */
