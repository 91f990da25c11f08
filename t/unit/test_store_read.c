/*
 * Unit tests of the store's reads on its SQLite backend: pending (the
 * messages a user has not received, after a cursor) and history (a page
 * of a conversation within the reader's window), and that their queries
 * use the indexes (t/unit/test_store.h has the helpers).
 */

#include "test_store.h"


/* The clock of the reads: after every ts of test_msg(). */
#define TEST_NOW  100000


static int
test_collect_msg(const chat_store_msg_t *msg, void *data)
{
    test_rows_t  *rows = data;

    if (++rows->n == rows->stop_at) {
        return rows->stop_rc ? rows->stop_rc : -1;
    }

    if (rows->n <= 32) {
        snprintf(rows->rows[rows->n - 1], 128, "%.*s/%lld/%.*s",
                 (int) msg->conv.len, msg->conv.s, (long long) msg->seq,
                 (int) msg->mid.len, msg->mid.s);
    }

    return 0;
}


/* pending() of user after (conv, seq) into rows (emptied first); its
 * code. */

static int
test_pending(chat_store_t *store, const char *user, const char *conv,
    int64_t seq, int64_t limit, test_rows_t *rows)
{
    chat_str_t  c, u;

    c.s = conv;
    c.len = strlen(conv);
    u.s = user;
    u.len = strlen(user);

    memset(rows, 0, sizeof(*rows));

    return chat_store_pending(store, u, c, seq, limit, TEST_NOW,
                              test_collect_msg, rows);
}


TEST(pending_empty_then_ordered_by_conv_and_seq)
{
    test_rows_t          rows;
    chat_store_t        *store;
    chat_store_marks_t   mk;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(test_pending(store, "alice", "", 0, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 0);

    /* interleaved: dm:alice:carol sorts after dm:alice:bob */
    CHECK_EQ(test_insert(store, CONV_AC, 1, "C1", "carol", "x1"), 0);
    CHECK_EQ(test_insert(store, CONV_AB, 1, "B1", "bob", "x1"), 0);
    CHECK_EQ(test_insert(store, CONV_AB, 2, "B2", "alice", "x1"), 0);
    CHECK_EQ(test_insert(store, CONV_AC, 2, "C2", "carol", "x2"), 0);
    CHECK_EQ(test_insert(store, CONV_AB, 3, "B3", "bob", "x2"), 0);
    CHECK_EQ(test_insert(store, "dm:bob:carol", 1, "D1", "bob", "x3"), 0);

    CHECK_EQ(test_pending(store, "alice", "", 0, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 4);
    CHECK(strcmp(rows.rows[0], CONV_AB "/1/B1") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AB "/3/B3") == 0);
    CHECK(strcmp(rows.rows[2], CONV_AC "/1/C1") == 0);
    CHECK(strcmp(rows.rows[3], CONV_AC "/2/C2") == 0);

    /* the limit */
    CHECK_EQ(test_pending(store, "alice", "", 0, 3, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 3);
    CHECK(strcmp(rows.rows[2], CONV_AC "/1/C1") == 0);

    /* above the delivered watermark only; read is not delivered's business
     * except that it raises it */
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("alice"),
                                        CHAT_RECEIPT_DELIVERED, 1, &mk), 0);
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AC), S("alice"),
                                        CHAT_RECEIPT_READ, 2, &mk), 0);

    CHECK_EQ(test_pending(store, "alice", "", 0, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 1);
    CHECK(strcmp(rows.rows[0], CONV_AB "/3/B3") == 0);

    /* bob: alice's message in dm:alice:bob; carol's 2 in dm:bob:carol are
     * not his (he sent D1) */
    CHECK_EQ(test_pending(store, "bob", "", 0, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 1);
    CHECK(strcmp(rows.rows[0], CONV_AB "/2/B2") == 0);

    memset(&rows, 0, sizeof(rows));
    rows.stop_at = 1;
    CHECK_EQ(chat_store_pending(store, S("carol"), NO_CONV, 0, 100, 0,
                                test_collect_msg, &rows), CHAT_STORE_ERROR);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


/*
 * Checks the query plan of the statement text on the schema: each table is
 * searched by an index (no SCAN) and nothing is sorted in a temporary
 * b-tree.
 */

static void
test_plan_of(const char *text)
{
    int            sorted, scanned;
    char           sql[4096];
    sqlite3       *db;
    const char    *d;
    sqlite3_stmt  *st;
    chat_store_t  *store;

    store = test_open();
    CHECK(store != NULL);
    chat_store_close(store);

    CHECK(sqlite3_open(test_db, &db) == SQLITE_OK);
    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", text);
    CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);

    sorted = 0;
    scanned = 0;

    while (sqlite3_step(st) == SQLITE_ROW) {
        d = (const char *) sqlite3_column_text(st, 3);
        sorted |= strstr(d, "TEMP B-TREE") != NULL;
        scanned |= strncmp(d, "SCAN", 4) == 0;
    }

    CHECK(!sorted);
    CHECK(!scanned);

    sqlite3_finalize(st);
    sqlite3_close(db);
}


static void
test_plan_uses_indexes(chat_store_sqlite_stmt_e i)
{
    test_plan_of(chat_store_sqlite_sql[i]);
}


TEST(pending_query_needs_no_sort_nor_scan)
{
    test_plan_uses_indexes(CHAT_SQL_PENDING);
}


TEST(pending_starts_after_the_cursor)
{
    test_rows_t    rows;
    chat_store_t  *store;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(test_insert(store, CONV_AB, 1, "B1", "bob", "x1"), 0);
    CHECK_EQ(test_insert(store, CONV_AB, 2, "B2", "bob", "x2"), 0);
    CHECK_EQ(test_insert(store, CONV_AB, 3, "B3", "bob", "x3"), 0);
    CHECK_EQ(test_insert(store, CONV_AC, 1, "C1", "carol", "x1"), 0);
    CHECK_EQ(test_insert(store, CONV_AC, 2, "C2", "carol", "x2"), 0);
    CHECK_EQ(test_insert(store, CONV_AD, 1, "D1", "dave", "x1"), 0);

    /* within the cursor's conversation, then the next ones whole */
    CHECK_EQ(test_pending(store, "alice", CONV_AB, 2, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 4);
    CHECK(strcmp(rows.rows[0], CONV_AB "/3/B3") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AC "/1/C1") == 0);
    CHECK(strcmp(rows.rows[3], CONV_AD "/1/D1") == 0);

    /* with the limit: the page after C1 */
    CHECK_EQ(test_pending(store, "alice", CONV_AC, 1, 2, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 2);
    CHECK(strcmp(rows.rows[0], CONV_AC "/2/C2") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AD "/1/D1") == 0);

    /* a cursor past a conversation's end, or on one the user is not in */
    CHECK_EQ(test_pending(store, "alice", CONV_AB, 99, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 3);
    CHECK(strcmp(rows.rows[0], CONV_AC "/1/C1") == 0);

    CHECK_EQ(test_pending(store, "alice", "dm:alice:b", 5, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 6);

    /* after the last one: nothing */
    CHECK_EQ(test_pending(store, "alice", CONV_AD, 1, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 0);

    /* CHAT_STORE_STOP ends the walk without an error */
    memset(&rows, 0, sizeof(rows));
    rows.stop_at = 2;
    rows.stop_rc = CHAT_STORE_STOP;
    CHECK_EQ(chat_store_pending(store, S("alice"), NO_CONV, 0, 100, 0,
                                test_collect_msg, &rows), CHAT_STORE_OK);
    CHECK_EQ(rows.n, 2);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


/* Sets the membership window of user in conv, beside the store's handle
 * (no transaction may be open on it). */

static void
test_set_window(const char *conv, const char *user, int joined, int left)
{
    char  sql[256], text[16];

    /* RETURNING: one row when one row was changed */
    snprintf(sql, sizeof(sql), "UPDATE members SET joined_seq = %d, "
             "left_seq = %d WHERE conv = '%s' AND \"user\" = '%s'"
             " RETURNING 'one'", joined, left, conv, user);

    CHECK_EQ(test_backend_text(test_dir, "chat", sql, text, sizeof(text)),
             0);
}


/*
 * A new database with a transaction open and ten messages in
 * dm:alice:bob, M1 to M10, alice's and bob's in turn.
 */

static chat_store_t *
test_open_ten(void)
{
    int            i;
    char           mid[16], cid[16];
    chat_store_t  *store;

    store = test_open_begun();
    if (store == NULL) {
        return NULL;
    }

    for (i = 1; i <= 10; i++) {
        snprintf(mid, sizeof(mid), "M%d", i);
        snprintf(cid, sizeof(cid), "c-%d", i);
        CHECK_EQ(test_insert(store, CONV_AB, i, mid, i % 2 ? "alice" : "bob",
                             cid), 0);
    }

    return store;
}


/* history() of conv for user into rows (emptied first); its code. */

static int
test_history(chat_store_t *store, const char *conv, const char *user,
    int64_t before_seq, int64_t limit, test_rows_t *rows)
{
    chat_str_t  c, u;

    c.s = conv;
    c.len = strlen(conv);
    u.s = user;
    u.len = strlen(user);

    memset(rows, 0, sizeof(*rows));

    return chat_store_history(store, c, u, before_seq, CHAT_STORE_NEWEST,
                              limit, TEST_NOW, test_collect_msg, rows);
}


TEST(history_is_newest_first_below_before_seq)
{
    test_rows_t    rows;
    chat_store_t  *store;

    store = test_open_ten();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(test_insert(store, CONV_AC, 1, "X1", "carol", "x1"), 0);

    CHECK_EQ(test_history(store, CONV_AB, "alice", 0, 3, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 3);
    CHECK(strcmp(rows.rows[0], CONV_AB "/10/M10") == 0);
    CHECK(strcmp(rows.rows[2], CONV_AB "/8/M8") == 0);

    /* below before_seq, sent by anyone, and only of this conversation */
    CHECK_EQ(test_history(store, CONV_AB, "bob", 5, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 4);
    CHECK(strcmp(rows.rows[0], CONV_AB "/4/M4") == 0);
    CHECK(strcmp(rows.rows[3], CONV_AB "/1/M1") == 0);

    CHECK_EQ(test_history(store, CONV_AB, "bob", 1, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 0);

    /* no member row: not a member, or no conversation yet */
    CHECK_EQ(test_history(store, CONV_AB, "carol", 0, 100, &rows),
             CHAT_STORE_NOT_FOUND);
    CHECK_EQ(test_history(store, "dm:bob:carol", "bob", 0, 100, &rows),
             CHAT_STORE_NOT_FOUND);
    CHECK_EQ(rows.n, 0);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


TEST(history_keeps_to_the_members_window)
{
    test_rows_t    rows;
    chat_store_t  *store;

    store = test_open_ten();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    /* bob joined after 3 and left at 7: he reads 4 to 7, newest first */
    test_set_window(CONV_AB, "bob", 3, 7);

    CHECK_EQ(test_history(store, CONV_AB, "bob", 0, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 4);
    CHECK(strcmp(rows.rows[0], CONV_AB "/7/M7") == 0);
    CHECK(strcmp(rows.rows[3], CONV_AB "/4/M4") == 0);

    CHECK_EQ(test_history(store, CONV_AB, "bob", 6, 1, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 1);
    CHECK(strcmp(rows.rows[0], CONV_AB "/5/M5") == 0);

    CHECK_EQ(test_history(store, CONV_AB, "bob", 4, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 0);

    /* alice's window is whole */
    CHECK_EQ(test_history(store, CONV_AB, "alice", 0, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 10);

    /* pending keeps to it too: alice's 5 and 7, nothing after left_seq */
    CHECK_EQ(test_pending(store, "bob", "", 0, 100, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 2);
    CHECK(strcmp(rows.rows[0], CONV_AB "/5/M5") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AB "/7/M7") == 0);

    chat_store_close(store);
}


TEST(history_queries_need_no_sort_nor_scan)
{
    test_plan_uses_indexes(CHAT_SQL_WINDOW);
    test_plan_uses_indexes(CHAT_SQL_HISTORY);
    test_plan_uses_indexes(CHAT_SQL_HISTORY_AFTER);
}


/* The list's per-row reads, expiry and the sweep walk indexes too (the
 * list itself sorts the user's conversations: bench-store measures it). */
TEST(list_expiry_and_sweep_queries_use_indexes)
{
    test_plan_of(chat_store_sqlite_conv_sql[CHAT_SQL_CONV_LAST]);
    test_plan_of(chat_store_sqlite_conv_sql[CHAT_SQL_CONV_UNREAD]);
    test_plan_of(chat_store_sqlite_media_sql[CHAT_SQL_MEDIA_RELEASE]);
    test_plan_of(chat_store_sqlite_media_sql[CHAT_SQL_MEDIA_EXPIRE]);
    test_plan_of(chat_store_sqlite_media_sql[CHAT_SQL_MEDIA_SWEEP]);
}


/*
 * history() of conv for user after after_seq (0: before before_seq) at
 * now into rows; its code.
 */

static int
test_history_at(chat_store_t *store, const char *user, int64_t before_seq,
    int64_t after_seq, int64_t limit, int64_t now, test_rows_t *rows)
{
    memset(rows, 0, sizeof(*rows));

    return chat_store_history(store, S(CONV_AB),
                              (chat_str_t) { user, strlen(user) },
                              before_seq, after_seq, limit, now,
                              test_collect_msg, rows);
}


/*
 * dm:alice:bob with M1..M10 where M3 and M4 expire at 5000 and M6 at
 * 7000, and a conv event at seq 11: the reads at 4999 see all ten
 * messages, at 5000 (expires is the first moment it is gone) eight, at
 * 7000 seven; never the event.
 */
TEST(history_skips_the_expired_and_events_pending_and_the_log_keep_events)
{
    int               i;
    char              mid[16], cid[16];
    test_rows_t       rows;
    chat_store_t     *store;
    chat_store_msg_t  m;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    for (i = 1; i <= 10; i++) {
        snprintf(mid, sizeof(mid), "M%d", i);
        snprintf(cid, sizeof(cid), "c-%d", i);
        m = test_msg(CONV_AB, i, mid, i % 2 ? "alice" : "bob", cid, "hi");
        m.expires = (i == 3 || i == 4) ? 5000 : i == 6 ? 7000 : 0;
        CHECK_EQ(chat_store_insert_message(store, &m), CHAT_STORE_OK);
    }

    m = test_msg(CONV_AB, 11, "E11", "alice", "s1",
                 "{\"event\":\"ttl\",\"ttl\":60}");
    m.kind = CHAT_STORE_KIND_CONV;
    CHECK_EQ(chat_store_insert_message(store, &m), CHAT_STORE_OK);

    CHECK_EQ(test_history_at(store, "bob", 0, CHAT_STORE_NEWEST, 100, 4999, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 10);
    CHECK(strcmp(rows.rows[0], CONV_AB "/10/M10") == 0);

    CHECK_EQ(test_history_at(store, "bob", 0, CHAT_STORE_NEWEST, 100, 5000, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 8);
    CHECK(strcmp(rows.rows[5], CONV_AB "/5/M5") == 0);
    CHECK(strcmp(rows.rows[6], CONV_AB "/2/M2") == 0);

    /* before_seq pages on over the gap: the limit counts live messages */
    CHECK_EQ(test_history_at(store, "bob", 6, CHAT_STORE_NEWEST, 2, 7000, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 2);
    CHECK(strcmp(rows.rows[0], CONV_AB "/5/M5") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AB "/2/M2") == 0);

    /* after_seq: the oldest above it first, over the gap, no event */
    CHECK_EQ(test_history_at(store, "bob", 0, 2, 3, 7000, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 3);
    CHECK(strcmp(rows.rows[0], CONV_AB "/5/M5") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AB "/7/M7") == 0);
    CHECK(strcmp(rows.rows[2], CONV_AB "/8/M8") == 0);

    CHECK_EQ(test_history_at(store, "bob", 0, 8, 100, 7000, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 2);
    CHECK(strcmp(rows.rows[1], CONV_AB "/10/M10") == 0);

    CHECK_EQ(test_history_at(store, "bob", 0, 10, 100, 7000, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 0);

    /* after_seq keeps to the window as before_seq does */
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    test_set_window(CONV_AB, "bob", 4, 8);
    CHECK_EQ(test_history_at(store, "bob", 0, 1, 100, 7000, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 3);
    CHECK(strcmp(rows.rows[0], CONV_AB "/5/M5") == 0);
    CHECK(strcmp(rows.rows[2], CONV_AB "/8/M8") == 0);
    test_set_window(CONV_AB, "bob", 0, 11);

    /* after_seq 0: oldest first from the very first */
    CHECK_EQ(test_history_at(store, "bob", 0, 0, 2, 7000, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 2);
    CHECK(strcmp(rows.rows[0], CONV_AB "/1/M1") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AB "/2/M2") == 0);

    /* pending: alice's odd ones to bob, less the expired M3, and alice's
     * event: an event is pending like a message */
    memset(&rows, 0, sizeof(rows));
    CHECK_EQ(chat_store_pending(store, S("bob"), NO_CONV, 0, 100, 4999,
                                test_collect_msg, &rows), CHAT_STORE_OK);
    CHECK_EQ(rows.n, 6);

    memset(&rows, 0, sizeof(rows));
    CHECK_EQ(chat_store_pending(store, S("bob"), NO_CONV, 0, 100, 5000,
                                test_collect_msg, &rows), CHAT_STORE_OK);
    CHECK_EQ(rows.n, 5);
    CHECK(strcmp(rows.rows[0], CONV_AB "/1/M1") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AB "/5/M5") == 0);
    CHECK(strcmp(rows.rows[4], CONV_AB "/11/E11") == 0);

    /* the log: the event too, newest first, the expired still left out */
    memset(&rows, 0, sizeof(rows));
    CHECK_EQ(chat_store_log(store, S(CONV_AB), S("bob"), 0, 3, 7000,
                            test_collect_msg, &rows), CHAT_STORE_OK);
    CHECK_EQ(rows.n, 3);
    CHECK(strcmp(rows.rows[0], CONV_AB "/11/E11") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AB "/10/M10") == 0);
    CHECK(strcmp(rows.rows[2], CONV_AB "/9/M9") == 0);
    memset(&rows, 0, sizeof(rows));
    CHECK_EQ(chat_store_log(store, S(CONV_AB), S("bob"), 8, 100, 7000,
                            test_collect_msg, &rows), CHAT_STORE_OK);
    CHECK_EQ(rows.n, 4);
    CHECK(strcmp(rows.rows[0], CONV_AB "/7/M7") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AB "/5/M5") == 0);
    CHECK(strcmp(rows.rows[2], CONV_AB "/2/M2") == 0);

    memset(&rows, 0, sizeof(rows));
    CHECK_EQ(chat_store_pending(store, S("alice"), NO_CONV, 0, 100, 7000,
                                test_collect_msg, &rows), CHAT_STORE_OK);
    CHECK_EQ(rows.n, 3);
    CHECK(strcmp(rows.rows[0], CONV_AB "/2/M2") == 0);
    CHECK(strcmp(rows.rows[1], CONV_AB "/8/M8") == 0);

    chat_store_close(store);
}



/* The highest $N of sql: how many parameters it takes. */

static int
test_pg_nparams(const char *sql)
{
    int          n, max;
    const char  *p;

    max = 0;

    for (p = strchr(sql, '$'); p != NULL; p = strchr(p + 1, '$')) {
        n = atoi(p + 1);
        max = n > max ? n : max;
    }

    return max;
}


/*
 * The generic plan of each statement of set (n of them), sequential
 * scans disabled: none may still scan a table, so that each has an index
 * to walk (the plans of a few empty tables would scan them anyway).
 */

static void
test_pg_plans_use_indexes(PGconn *conn, const chat_store_pg_stmt_t *set,
    size_t n)
{
    int        i, k, rows;
    char       sql[4096], args[128];
    size_t     j;
    PGresult  *res;

    for (j = 0; j < n; j++) {
        snprintf(sql, sizeof(sql), "PREPARE plan_%s AS %s", set[j].name,
                 set[j].sql);
        CHECK_EQ(test_pg_exec(conn, sql), 0);

        args[0] = '\0';
        k = test_pg_nparams(set[j].sql);

        for (i = 0; i < k; i++) {
            strcat(args, i ? ", NULL" : "(NULL");
        }

        if (k) {
            strcat(args, ")");
        }

        snprintf(sql, sizeof(sql), "EXPLAIN EXECUTE plan_%s%s", set[j].name,
                 args);
        res = PQexec(conn, sql);
        CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);

        rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;

        for (i = 0; i < rows; i++) {
            if (strstr(PQgetvalue(res, i, 0), "Seq Scan") != NULL) {
                fprintf(stderr, "  %s: %s\n", set[j].name,
                        PQgetvalue(res, i, 0));
                CHECK(0);
            }
        }

        PQclear(res);
    }
}


TEST(pg_every_statement_has_an_index_to_walk)
{
    PGconn        *conn;
    chat_store_t  *store;

    store = test_open();
    CHECK(store != NULL);
    chat_store_close(store);

    conn = test_pg_connect("chat");
    if (conn == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(test_pg_exec(conn, "SET enable_seqscan = off;"
                          "SET plan_cache_mode = force_generic_plan"), 0);

    test_pg_plans_use_indexes(conn, chat_store_pg_ops_sql,
                              chat_store_pg_ops_n);
    test_pg_plans_use_indexes(conn, chat_store_pg_group_sql,
                              chat_store_pg_group_n);
    test_pg_plans_use_indexes(conn, chat_store_pg_conv_sql,
                              chat_store_pg_conv_n);
    test_pg_plans_use_indexes(conn, chat_store_pg_media_sql,
                              chat_store_pg_media_n);
    test_pg_plans_use_indexes(conn, chat_store_pg_push_sql,
                              chat_store_pg_push_n);

    PQfinish(conn);
}

int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "store-read") != 0) {
        return 1;
    }

    RUN(pending_empty_then_ordered_by_conv_and_seq);
    RUN(pending_starts_after_the_cursor);
    RUN(history_is_newest_first_below_before_seq);
    RUN(history_keeps_to_the_members_window);

    /* the plans of each backend's statements */
    if (test_on_pg()) {
        RUN(pg_every_statement_has_an_index_to_walk);

    } else {
        RUN(pending_query_needs_no_sort_nor_scan);
        RUN(history_queries_need_no_sort_nor_scan);
        RUN(list_expiry_and_sweep_queries_use_indexes);
    }

    RUN(history_skips_the_expired_and_events_pending_and_the_log_keep_events);

    test_tmpdir_remove(test_dir);

    return test_summary("store_read");
}
