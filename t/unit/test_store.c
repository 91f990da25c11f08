/*
 * Unit tests of the store (store/chat_store.h) on its SQLite backend:
 * opening, and the operations that write (t/unit/test_store.h has the
 * helpers; the reads, pending and history, are in test_store_read.c).
 */

#include "test_store.h"


static chat_store_t *
test_reopen(void)
{
    char  err[256];

    return chat_store_open(test_uri, err, sizeof(err));
}


static int
test_collect_user(chat_str_t user, void *data)
{
    test_rows_t  *rows = data;

    if (++rows->n == rows->stop_at) {
        return -1;
    }

    if (rows->n <= 32) {
        snprintf(rows->rows[rows->n - 1], 128, "%.*s", (int) user.len,
                 user.s);
    }

    return 0;
}


/* Takes a version 4 file back to version 3: what issue 15 added dropped. */
#define TEST_BACK_TO_3                                                        \
    "DROP INDEX messages_live;"                                               \
    "DROP INDEX messages_expiring;"                                           \
    "DROP INDEX messages_media;"                                              \
    "DROP TABLE media;"                                                       \
    "ALTER TABLE conversations DROP COLUMN ttl;"                              \
    "ALTER TABLE messages DROP COLUMN expires_ms;"                            \
    "ALTER TABLE messages DROP COLUMN media_id;"


TEST(open_refuses_bad_uris)
{
    char           err[256];
    chat_store_t  *store;

    err[0] = '\0';
    store = chat_store_open("chat.db", err, sizeof(err));
    CHECK(store == NULL);
    CHECK(strstr(err, "<scheme>:<location>") != NULL);

    store = chat_store_open("postgres://x/y", err, sizeof(err));
    CHECK(store == NULL);
    CHECK(strstr(err, "unknown scheme \"postgres\"") != NULL);

    store = chat_store_open("sqlite:", err, sizeof(err));
    CHECK(store == NULL);
    CHECK(strstr(err, "no file name") != NULL);

    store = chat_store_open("sqlite:/nonexistent-dir/x/chat.db", err,
                            sizeof(err));
    CHECK(store == NULL);
    CHECK(strstr(err, "/nonexistent-dir/x/chat.db") != NULL);
}


TEST(open_creates_wal_schema_and_reopens)
{
    sqlite3       *db;
    sqlite3_stmt  *st;
    chat_store_t  *store;

    store = test_open();
    CHECK(store != NULL);
    if (store == NULL) {
        return;
    }

    chat_store_close(store);

    CHECK(sqlite3_open(test_db, &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL)
          == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK(strcmp((const char *) sqlite3_column_text(st, 0), "wal") == 0);
    sqlite3_finalize(st);

    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema "
                             "WHERE name IN ('conversations', 'members', "
                             "'messages', 'watermarks', 'members_by_user')",
                             -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(st, 0), 5);
    sqlite3_finalize(st);
    sqlite3_close(db);

    store = test_reopen();
    CHECK(store != NULL);
    chat_store_close(store);
}


TEST(open_refuses_another_schema_version)
{
    char           err[256];
    sqlite3       *db;
    chat_store_t  *store;

    store = test_open();
    CHECK(store != NULL);
    chat_store_close(store);

    CHECK(sqlite3_open(test_db, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL)
          == SQLITE_OK);
    sqlite3_close(db);

    err[0] = '\0';
    store = chat_store_open(test_uri, err, sizeof(err));
    CHECK(store == NULL);
    CHECK(strstr(err, "schema version 99") != NULL);
}


/* A store of issue 3 (version 1) opens, gaining the push hook's state. */
TEST(open_upgrades_version_1)
{
    sqlite3       *db;
    sqlite3_stmt  *stmt;
    chat_store_t  *store;

    /* version 4 taken back to version 1 */
    store = test_open();
    CHECK(store != NULL);
    if (store) {
        chat_store_close(store);
    }

    CHECK(sqlite3_open(test_db, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
              TEST_BACK_TO_3
              "DROP TABLE groups;"
              "ALTER TABLE messages DROP COLUMN kind;"
              "DROP INDEX watermarks_push_due;"
              "ALTER TABLE watermarks DROP COLUMN pushed_seq;"
              "ALTER TABLE watermarks DROP COLUMN push_due_ms;"
              "ALTER TABLE watermarks DROP COLUMN part;"
              "INSERT INTO watermarks VALUES ('dm:a:b', 'b', 3, 2);"
              "PRAGMA user_version = 1;", NULL, NULL, NULL)
          == SQLITE_OK);
    sqlite3_close(db);

    store = test_reopen();
    CHECK(store != NULL);
    if (store) {
        chat_store_close(store);
    }

    CHECK(sqlite3_open(test_db, &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "SELECT delivered_seq, pushed_seq,"
                             " push_due_ms IS NULL FROM watermarks",
                             -1, &stmt, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(stmt) == SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(stmt, 0), 3);
    CHECK_EQ(sqlite3_column_int(stmt, 1), 0);
    CHECK_EQ(sqlite3_column_int(stmt, 2), 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}


/* A store of issue 4 (version 2) opens, gaining groups: its rows are
 * messages. */
TEST(open_upgrades_version_2)
{
    sqlite3           *db;
    chat_store_t      *store;
    chat_store_msg_t   m, got;

    store = test_open();
    CHECK(store != NULL);
    if (store) {
        chat_store_close(store);
    }

    CHECK(sqlite3_open(test_db, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
              TEST_BACK_TO_3
              "DROP TABLE groups;"
              "ALTER TABLE messages DROP COLUMN kind;"
              "INSERT INTO messages (conv, seq, mid, sender, client_id, body,"
              "  ts) VALUES ('dm:a:b', 1, 'M1', 'a', 'c-1', 'hi', 5);"
              "PRAGMA user_version = 2;", NULL, NULL, NULL)
          == SQLITE_OK);
    sqlite3_close(db);

    store = test_reopen();
    CHECK(store != NULL);
    if (store == NULL) {
        return;
    }

    memset(&got, 0, sizeof(got));
    got.kind = -1;
    CHECK_EQ(chat_store_find_by_client_id(store, S("a"), S("c-1"), &got),
             CHAT_STORE_OK);
    CHECK_EQ(got.kind, CHAT_STORE_KIND_MSG);

    CHECK_EQ(chat_store_begin(store), 0);
    m = test_msg("grp:team", 1, "M2", "a", "~M2", "{}");
    m.kind = CHAT_STORE_KIND_GROUP;
    CHECK_EQ(chat_store_insert_message(store, &m), CHAT_STORE_OK);
    CHECK_EQ(chat_store_group_create(store, S("grp:team"), S("Team"), 5),
             CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(store), 0);
    CHECK_EQ(chat_store_find_by_client_id(store, S("a"), S("~M2"), &got),
             CHAT_STORE_OK);
    CHECK_EQ(got.kind, CHAT_STORE_KIND_GROUP);

    chat_store_close(store);
}


/* A store of issue 5 (version 3), made with that version's schema:
 * it opens, gaining ttl, expires_ms, media_id and media, its rows kept
 * and read as messages that never expire. */
TEST(open_upgrades_version_3)
{
    int                n;
    int64_t            ttl;
    sqlite3           *db;
    sqlite3_stmt      *st;
    chat_store_t      *store;
    chat_store_msg_t   got;

    unlink(test_db);
    CHECK(sqlite3_open(test_db, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
              "CREATE TABLE conversations (conv TEXT PRIMARY KEY,"
              "  kind TEXT NOT NULL, last_seq INTEGER NOT NULL,"
              "  created_ms INTEGER NOT NULL) WITHOUT ROWID;"
              "CREATE TABLE members (conv TEXT NOT NULL, user TEXT NOT NULL,"
              "  role TEXT NOT NULL, joined_seq INTEGER NOT NULL,"
              "  left_seq INTEGER, PRIMARY KEY (conv, user)) WITHOUT ROWID;"
              "CREATE UNIQUE INDEX members_by_user ON members (user, conv);"
              "CREATE TABLE messages (conv TEXT NOT NULL,"
              "  seq INTEGER NOT NULL, mid TEXT NOT NULL UNIQUE,"
              "  sender TEXT NOT NULL, client_id TEXT NOT NULL,"
              "  body TEXT NOT NULL, media TEXT, ts INTEGER NOT NULL,"
              "  kind TEXT NOT NULL DEFAULT 'msg', UNIQUE (conv, seq),"
              "  UNIQUE (sender, client_id));"
              "CREATE TABLE watermarks (conv TEXT NOT NULL,"
              "  user TEXT NOT NULL, delivered_seq INTEGER NOT NULL,"
              "  read_seq INTEGER NOT NULL,"
              "  pushed_seq INTEGER NOT NULL DEFAULT 0,"
              "  push_due_ms INTEGER, part INTEGER,"
              "  PRIMARY KEY (conv, user)) WITHOUT ROWID;"
              "CREATE INDEX watermarks_push_due ON watermarks"
              "  (part, push_due_ms) WHERE push_due_ms IS NOT NULL;"
              "CREATE TABLE groups (grp TEXT PRIMARY KEY,"
              "  name TEXT NOT NULL, created_ms INTEGER NOT NULL)"
              "  WITHOUT ROWID;"
              "INSERT INTO conversations VALUES ('dm:a:b', 'dm', 2, 5);"
              "INSERT INTO members VALUES ('dm:a:b', 'a', 'member', 0, NULL),"
              "  ('dm:a:b', 'b', 'member', 0, NULL);"
              "INSERT INTO messages (conv, seq, mid, sender, client_id,"
              "  body, media, ts) VALUES"
              "  ('dm:a:b', 1, 'M1', 'a', 'c-1', 'hi', NULL, 5),"
              "  ('dm:a:b', 2, 'M2', 'b', 'c-1', 'yo',"
              "   '{\"url\":\"/media/x\"}', 6);"
              "INSERT INTO watermarks (conv, user, delivered_seq, read_seq)"
              "  VALUES ('dm:a:b', 'a', 1, 1);"
              "PRAGMA user_version = 3;", NULL, NULL, NULL)
          == SQLITE_OK);
    sqlite3_close(db);

    store = test_reopen();
    CHECK(store != NULL);
    if (store == NULL) {
        return;
    }

    memset(&got, 0, sizeof(got));
    CHECK_EQ(chat_store_find_by_client_id(store, S("b"), S("c-1"), &got),
             CHAT_STORE_OK);
    CHECK_STR(got.mid.s, got.mid.len, "M2");
    CHECK_EQ(got.expires, 0);
    CHECK_EQ(got.media_id.len, 0);
    CHECK_STR(got.media.s, got.media.len, "{\"url\":\"/media/x\"}");

    ttl = -1;
    CHECK_EQ(chat_store_conv_ttl(store, S("dm:a:b"), &ttl), CHAT_STORE_OK);
    CHECK_EQ(ttl, 0);

    /* the old rows in the new indexes: read at any clock */
    n = 0;
    CHECK_EQ(chat_store_history(store, S("dm:a:b"), S("a"), 0,
                                CHAT_STORE_NEWEST, 100,
                                INT64_MAX, test_count_msg, &n),
             CHAT_STORE_OK);
    CHECK_EQ(n, 2);

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(chat_store_media_insert(store, S("m1"), S("a"), S("image/png"),
                                     3, 7), CHAT_STORE_OK);
    CHECK_EQ(chat_store_conv_set_ttl(store, S("dm:a:b"), 60), CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);

    CHECK(sqlite3_open(test_db, &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL)
          == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(st, 0), 4);
    sqlite3_finalize(st);
    sqlite3_close(db);
}


TEST(find_by_client_id_found_and_not_found)
{
    chat_store_t      *store;
    chat_store_msg_t   m, got;
    static const char  body[] = "a\0b";

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);

    CHECK_EQ(chat_store_find_by_client_id(store, S("alice"), S("c-1"), &got),
             CHAT_STORE_NOT_FOUND);

    m = test_msg(CONV_AB, 1, "MID1", "alice", "c-1", "");
    m.body = (chat_str_t) { body, 3 };
    m.media = S("{\"url\":\"/media/x\",\"mime\":\"image/png\",\"size\":3}");
    CHECK_EQ(chat_store_insert_message(store, &m), CHAT_STORE_OK);

    CHECK_EQ(chat_store_find_by_client_id(store, S("alice"), S("c-1"), &got),
             CHAT_STORE_OK);
    CHECK_STR(got.conv.s, got.conv.len, CONV_AB);
    CHECK_EQ(got.seq, 1);
    CHECK_STR(got.mid.s, got.mid.len, "MID1");
    CHECK_STR(got.sender.s, got.sender.len, "alice");
    CHECK_STR(got.client_id.s, got.client_id.len, "c-1");
    CHECK(got.body.len == 3 && memcmp(got.body.s, body, 3) == 0);
    CHECK_STR(got.media.s, got.media.len,
              "{\"url\":\"/media/x\",\"mime\":\"image/png\",\"size\":3}");
    CHECK_EQ(got.ts, 1001);

    /* the same client id of another sender is another message */
    CHECK_EQ(chat_store_find_by_client_id(store, S("bob"), S("c-1"), &got),
             CHAT_STORE_NOT_FOUND);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


TEST(insert_creates_conversation_and_members)
{
    int64_t        seq;
    test_rows_t    rows;
    chat_store_t  *store;

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);

    seq = -1;
    CHECK_EQ(chat_store_conv_last_seq(store, S(CONV_AB), &seq),
             CHAT_STORE_OK);
    CHECK_EQ(seq, 0);

    memset(&rows, 0, sizeof(rows));
    CHECK_EQ(chat_store_members(store, S(CONV_AB), test_collect_user, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 0);

    CHECK_EQ(test_insert(store, CONV_AB, 1, "M1", "bob", "c-1"),
             CHAT_STORE_OK);
    CHECK_EQ(test_insert(store, CONV_AB, 2, "M2", "alice", "c-1"),
             CHAT_STORE_OK);

    CHECK_EQ(chat_store_conv_last_seq(store, S(CONV_AB), &seq),
             CHAT_STORE_OK);
    CHECK_EQ(seq, 2);

    memset(&rows, 0, sizeof(rows));
    CHECK_EQ(chat_store_members(store, S(CONV_AB), test_collect_user, &rows),
             CHAT_STORE_OK);
    CHECK_EQ(rows.n, 2);
    CHECK(strcmp(rows.rows[0], "alice") == 0);
    CHECK(strcmp(rows.rows[1], "bob") == 0);

    /* a callback that stops the walk makes it an error */
    memset(&rows, 0, sizeof(rows));
    rows.stop_at = 1;
    CHECK_EQ(chat_store_members(store, S(CONV_AB), test_collect_user, &rows),
             CHAT_STORE_ERROR);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


TEST(insert_refuses_taken_keys_and_writes_nothing)
{
    int64_t        seq;
    chat_store_t  *store;

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_insert(store, CONV_AB, 1, "M1", "alice", "c-1"),
             CHAT_STORE_OK);

    /* the same (conv, seq), the same mid, the same (sender, client id) */
    CHECK_EQ(test_insert(store, CONV_AB, 1, "M2", "alice", "c-2"),
             CHAT_STORE_EXISTS);
    CHECK_EQ(test_insert(store, CONV_AB, 2, "M1", "alice", "c-2"),
             CHAT_STORE_EXISTS);
    CHECK_EQ(test_insert(store, CONV_AC, 1, "M3", "alice", "c-1"),
             CHAT_STORE_EXISTS);
    CHECK(strstr(chat_store_errstr(store), "taken") != NULL);

    CHECK_EQ(chat_store_conv_last_seq(store, S(CONV_AB), &seq),
             CHAT_STORE_OK);
    CHECK_EQ(seq, 1);
    CHECK_EQ(chat_store_conv_last_seq(store, S(CONV_AC), &seq),
             CHAT_STORE_OK);
    CHECK_EQ(seq, 0);

    /* the transaction is still usable */
    CHECK_EQ(test_insert(store, CONV_AB, 2, "M2", "alice", "c-2"),
             CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


TEST(commit_keeps_and_rollback_discards)
{
    int64_t            seq;
    chat_store_t      *store;
    chat_store_msg_t   got;

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    /* a rollback without a transaction is harmless */
    CHECK_EQ(chat_store_rollback(store), CHAT_STORE_OK);

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_insert(store, CONV_AB, 1, "M1", "alice", "c-1"),
             CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_insert(store, CONV_AB, 2, "M2", "alice", "c-2"),
             CHAT_STORE_OK);
    CHECK_EQ(chat_store_rollback(store), CHAT_STORE_OK);

    /* a commit without a transaction is an error */
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_ERROR);
    CHECK(strstr(chat_store_errstr(store), "commit") != NULL);

    chat_store_close(store);

    store = test_reopen();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_conv_last_seq(store, S(CONV_AB), &seq),
             CHAT_STORE_OK);
    CHECK_EQ(seq, 1);
    CHECK_EQ(chat_store_find_by_client_id(store, S("alice"), S("c-1"), &got),
             CHAT_STORE_OK);
    CHECK_EQ(chat_store_find_by_client_id(store, S("alice"), S("c-2"), &got),
             CHAT_STORE_NOT_FOUND);

    chat_store_close(store);
}


TEST(second_handle_reads_beside_the_writer)
{
    int64_t        seq;
    chat_store_t  *a, *b;

    a = test_open();
    b = test_reopen();
    if (a == NULL || b == NULL) {
        CHECK(0);
        chat_store_close(a);
        chat_store_close(b);
        return;
    }

    CHECK_EQ(chat_store_begin(a), CHAT_STORE_OK);
    CHECK_EQ(test_insert(a, CONV_AB, 1, "M1", "alice", "c-1"),
             CHAT_STORE_OK);

    /* WAL: a reader does not wait for the writer, nor see its writes */
    CHECK_EQ(chat_store_conv_last_seq(b, S(CONV_AB), &seq), CHAT_STORE_OK);
    CHECK_EQ(seq, 0);

    CHECK_EQ(chat_store_commit(a), CHAT_STORE_OK);

    CHECK_EQ(chat_store_begin(b), CHAT_STORE_OK);
    CHECK_EQ(chat_store_conv_last_seq(b, S(CONV_AB), &seq), CHAT_STORE_OK);
    CHECK_EQ(seq, 1);
    CHECK_EQ(test_insert(b, CONV_AB, 2, "M2", "bob", "c-1"), CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(b), CHAT_STORE_OK);

    CHECK_EQ(chat_store_conv_last_seq(a, S(CONV_AB), &seq), CHAT_STORE_OK);
    CHECK_EQ(seq, 2);

    chat_store_close(a);
    chat_store_close(b);
}


TEST(watermarks_rise_and_never_fall)
{
    chat_store_t        *store;
    chat_store_marks_t   mk;

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);

    /* the first one rises from nothing */
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("bob"),
                                        CHAT_RECEIPT_DELIVERED, 5, &mk),
             CHAT_STORE_OK);
    CHECK(mk.rose && mk.delivered_seq == 5 && mk.read_seq == 0);

    /* lower and equal do not */
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("bob"),
                                        CHAT_RECEIPT_DELIVERED, 3, &mk),
             CHAT_STORE_OK);
    CHECK(!mk.rose && mk.delivered_seq == 5 && mk.read_seq == 0);
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("bob"),
                                        CHAT_RECEIPT_DELIVERED, 5, &mk),
             CHAT_STORE_OK);
    CHECK(!mk.rose && mk.delivered_seq == 5);

    /* read below delivered raises read only */
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("bob"),
                                        CHAT_RECEIPT_READ, 4, &mk),
             CHAT_STORE_OK);
    CHECK(mk.rose && mk.delivered_seq == 5 && mk.read_seq == 4);

    /* read above delivered raises both */
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("bob"),
                                        CHAT_RECEIPT_READ, 9, &mk),
             CHAT_STORE_OK);
    CHECK(mk.rose && mk.delivered_seq == 9 && mk.read_seq == 9);

    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("bob"),
                                        CHAT_RECEIPT_READ, 7, &mk),
             CHAT_STORE_OK);
    CHECK(!mk.rose && mk.delivered_seq == 9 && mk.read_seq == 9);

    /* per (conv, user) */
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("alice"),
                                        CHAT_RECEIPT_READ, 2, &mk),
             CHAT_STORE_OK);
    CHECK(mk.rose && mk.delivered_seq == 2 && mk.read_seq == 2);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "store") != 0) {
        return 1;
    }

    RUN(open_refuses_bad_uris);
    RUN(open_creates_wal_schema_and_reopens);
    RUN(open_refuses_another_schema_version);
    RUN(open_upgrades_version_1);
    RUN(open_upgrades_version_2);
    RUN(open_upgrades_version_3);
    RUN(find_by_client_id_found_and_not_found);
    RUN(insert_creates_conversation_and_members);
    RUN(insert_refuses_taken_keys_and_writes_nothing);
    RUN(commit_keeps_and_rollback_discards);
    RUN(second_handle_reads_beside_the_writer);
    RUN(watermarks_rise_and_never_fall);

    test_tmpdir_remove(test_dir);

    return test_summary("store");
}
