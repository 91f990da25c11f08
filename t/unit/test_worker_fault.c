/*
 * Unit tests of how chat-worker sorts what became of a record
 * (workers/chat_worker_fault.c): what a record holds can only make it
 * skipped, never the batch retried; only a failure of the store itself
 * (read-only, locked) is retried (t/unit/test_worker.h has the store and
 * the helpers). Each backend's failures of its own are staged on it
 * alone: SQLite's read-only and locked file, PostgreSQL's dropped
 * connection and read-only server.
 */

#include <sqlite3.h>

#include "test_worker.h"
#include "chat_store_sqlite.h"
#include "chat_worker_fault.h"


/* What the batch would do with a record's code, as chat_worker_batch.c
 * asks it: the store's errors cleared before the record. */

static chat_worker_fault_e
sorted(int rc)
{
    return chat_worker_fault_sort(store, rc < 0 && rc != CHAT_WORKER_FAILED
                                         ? CHAT_WORKER_SKIPPED : rc);
}


static sqlite3 *
db_of(chat_store_t *s)
{
    return ((chat_store_sqlite_t *) s)->db;
}


TEST(applied_records_are_done)
{
    chat_store_clear_error(store);
    CHECK_EQ(sorted(send_msg("M1", "alice", "bob", "c-1", 10)),
             CHAT_WORKER_DONE);
    check_msg(pub(0, "chat:u:{alice}", "*"), "M1", 1, "alice", "bob", "c-1",
              10);
    CHECK_EQ(sorted(receipt(AB, "bob", "read", 1)), CHAT_WORKER_DONE);
    CHECK(res.rose);
}


TEST(content_failures_are_skipped)
{
    chat_store_msg_t   msg;

    /* unparseable, or against a rule of the contract */
    check_refused("{\"v\":1,\"op\":\"send\"", "malformed");
    CHECK_EQ(sorted(-2), CHAT_WORKER_SKIP);
    CHECK_EQ(sorted(receipt(AB, "carol", "read", 1)), CHAT_WORKER_SKIP);

    /* against the stored data: an id that names another request */
    CHECK_EQ(send_msg("M1", "alice", "bob", "x1", 10), 0);
    chat_store_clear_error(store);
    CHECK_EQ(sorted(send_msg("M2", "alice", "carol", "x1", 11)),
             CHAT_WORKER_SKIP);
    check_error(pub(0, "chat:u:{alice}", "*"), "bad_request", "x1");

    /* a store error about the data given to it */
    memset(&msg, 0, sizeof(msg));
    msg.conv = S("not-a-conv");
    msg.seq = 1;
    msg.mid = S("M3");
    msg.sender = S("alice");
    msg.client_id = S("x3");
    chat_store_clear_error(store);
    CHECK_EQ(chat_store_insert_message(store, &msg), CHAT_STORE_ERROR);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_DATA);
    CHECK_EQ(chat_worker_fault_sort(store, CHAT_WORKER_FAILED),
             CHAT_WORKER_SKIP);
}


TEST(a_read_only_store_is_retried)
{
    sqlite3  *db = db_of(store);

    CHECK_EQ(sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL),
             SQLITE_OK);

    chat_store_clear_error(store);
    CHECK_EQ(send_msg("M1", "alice", "bob", "c-1", 10), CHAT_WORKER_FAILED);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_STORE);
    CHECK_EQ(sorted(CHAT_WORKER_FAILED), CHAT_WORKER_RETRY);

    CHECK_EQ(sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL, NULL),
             SQLITE_OK);

    /* once the store is back, the same record applies */
    chat_store_clear_error(store);
    CHECK_EQ(sorted(send_msg("M1", "alice", "bob", "c-1", 10)),
             CHAT_WORKER_DONE);
}


TEST(a_locked_store_is_retried)
{
    char      path[128];
    sqlite3  *other, *db = db_of(store);

    /* another process holds the write lock; no waiting for it here */
    CHECK_EQ(chat_store_rollback(store), 0);
    sqlite3_busy_timeout(db, 0);

    snprintf(path, sizeof(path), "%s/chat.db", test_dir);
    CHECK_EQ(sqlite3_open(path, &other), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
             SQLITE_OK);

    chat_store_clear_error(store);
    CHECK_EQ(send_msg("M1", "alice", "bob", "c-1", 10), CHAT_WORKER_FAILED);
    CHECK(strstr(chat_store_errstr(store), "locked") != NULL);
    CHECK_EQ(sorted(CHAT_WORKER_FAILED), CHAT_WORKER_RETRY);

    CHECK_EQ(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);

    sqlite3_busy_timeout(db, 5000);
    CHECK_EQ(chat_store_begin(store), 0);
}


/* PostgreSQL: the server ends the connection (a restart, an operator's
 * pg_terminate_backend) under a record: the record fails as the store's
 * fault, the batch is retried, and after the rollback the next begin
 * connects again and the same record applies. */
TEST(pg_a_dropped_connection_is_retried)
{
    CHECK_EQ(test_pg_kill(store), 0);

    chat_store_clear_error(store);
    CHECK_EQ(send_msg("M1", "alice", "bob", "c-1", 10), CHAT_WORKER_FAILED);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_STORE);
    CHECK_EQ(sorted(CHAT_WORKER_FAILED), CHAT_WORKER_RETRY);

    CHECK_EQ(chat_store_rollback(store), CHAT_STORE_OK);
    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);

    chat_store_clear_error(store);
    CHECK_EQ(sorted(send_msg("M1", "alice", "bob", "c-1", 10)),
             CHAT_WORKER_DONE);
    check_msg(pub(0, "chat:u:{alice}", "*"), "M1", 1, "alice", "bob", "c-1",
              10);
}


/* Sends M1 in a new transaction after the store's connection was killed:
 * the first try may still meet the connection lost (57P01), which the
 * batch retries; the code of the first try that meets the server. */

static int
send_after_kill(void)
{
    int  i, rc;

    rc = CHAT_WORKER_FAILED;

    for (i = 0; i < 2; i++) {
        CHECK_EQ(chat_store_begin(store), 0);
        chat_store_clear_error(store);

        rc = send_msg("M1", "alice", "bob", "c-1", 10);

        if (rc != CHAT_WORKER_FAILED
            || strstr(chat_store_errstr(store), "57P01") == NULL)
        {
            break;
        }

        CHECK_EQ(sorted(rc), CHAT_WORKER_RETRY);
        CHECK_EQ(chat_store_rollback(store), 0);
    }

    return rc;
}


/* PostgreSQL: a server that refuses writes (a standby, or read-only for
 * its role) fails the record as the store's fault, never the data's. */
TEST(pg_a_read_only_store_is_retried)
{
    CHECK_EQ(chat_store_rollback(store), 0);
    CHECK_EQ(test_backend_sql(test_dir, "chat", "ALTER ROLE CURRENT_USER"
                              " SET default_transaction_read_only = on"), 0);

    /* its next connection has the role's new default */
    CHECK_EQ(test_pg_kill(store), 0);

    CHECK_EQ(send_after_kill(), CHAT_WORKER_FAILED);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_STORE);
    CHECK(strstr(chat_store_errstr(store), "25006") != NULL);
    CHECK_EQ(sorted(CHAT_WORKER_FAILED), CHAT_WORKER_RETRY);
    CHECK_EQ(chat_store_rollback(store), 0);

    CHECK_EQ(test_backend_sql(test_dir, "chat",
                              "BEGIN READ WRITE;"
                              "ALTER ROLE CURRENT_USER"
                              " RESET default_transaction_read_only;"
                              "COMMIT"), 0);

    /* once the store is back, the same record applies */
    CHECK_EQ(test_pg_kill(store), 0);
    CHECK_EQ(sorted(send_after_kill()), CHAT_WORKER_DONE);
}


TEST(media_unknown_to_the_store_is_answered_not_retried)
{
    /* swept, or never uploaded here: the sender is told, and the record
     * is done rather than retried forever */
    chat_store_clear_error(store);
    CHECK_EQ(sorted(send_body("M1", "alice", "bob", "c-1", "b", 10)),
             CHAT_WORKER_DONE);
    chat_store_clear_error(store);
    CHECK_EQ(sorted(apply("{\"v\":1,\"op\":\"send\",\"mid\":\"M2\",\"conv\":"
                          "\"" AB "\",\"from\":\"bob\",\"to\":\"alice\","
                          "\"body\":\"x\",\"id\":\"c-2\",\"ts\":5,\"media\":"
                          "{\"id\":\"0123456789abcdef0123456789abcdef\"}}")),
             CHAT_WORKER_DONE);
    CHECK_EQ(out.npubs, 1);
    CHECK_EQ(res.refused, 1);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "fault") != 0) {
        return 1;
    }

    RUN_WITH_STORE(applied_records_are_done);
    RUN_WITH_STORE(content_failures_are_skipped);

    if (test_on_pg()) {
        RUN_WITH_STORE(pg_a_dropped_connection_is_retried);
        RUN_WITH_STORE(pg_a_read_only_store_is_retried);

    } else {
        RUN_WITH_STORE(a_read_only_store_is_retried);
        RUN_WITH_STORE(a_locked_store_is_retried);
    }

    RUN_WITH_STORE(media_unknown_to_the_store_is_answered_not_retried);

    test_tmpdir_remove(test_dir);

    return test_summary("worker_fault");
}
