/*
 * Unit tests of the store (store/chat_store.h) on the backend of
 * t/unit/test_backend.h: opening, and the operations that write
 * (t/unit/test_store.h has the helpers; the reads, pending and history,
 * are in test_store_read.c). Each backend's own schema and failures have
 * tests of their own, run on it alone: SQLite's file and upgrades,
 * PostgreSQL's schema, a connection killed mid-batch.
 */

#include <pthread.h>

#include "test_store.h"


/* Another handle on the test's store (told on stderr when it fails). */

static chat_store_t *
test_reopen(void)
{
    char           err[256];
    chat_store_t  *store;

    store = chat_store_open(test_uri, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "  open: %s\n", err);
    }

    return store;
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


TEST(a_store_uri_is_logged_without_its_password)
{
    size_t  i;
    char    out[128];

    static const char  *cases[][2] = {
        { "sqlite:/var/lib/chat/chat.db", "sqlite:/var/lib/chat/chat.db" },
        { "postgres:host=db port=5432 password=s3cret dbname=chat",
          "postgres:host=db port=5432 password=*** dbname=chat" },
        { "postgres:password=s3cret", "postgres:password=***" },
        { "postgres:postgresql://chat:s3cret@db:5432/chat?x=1",
          "postgres:postgresql://chat:***@db:5432/chat?x=1" },
        { "postgres:postgresql://chat@db/chat",
          "postgres:postgresql://chat@db/chat" },
        { "postgres:host=db mypassword=x", "postgres:host=db mypassword=x" },
        { "postgres:postgresql://db/chat?password=s3cret&sslmode=require",
          "postgres:postgresql://db/chat?password=***&sslmode=require" },
        { "postgres:postgresql://db/chat?sslmode=require&password=s3cret",
          "postgres:postgresql://db/chat?sslmode=require&password=***" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        chat_store_uri_redacted(cases[i][0], out, sizeof(out));
        CHECK(strcmp(out, cases[i][1]) == 0);
    }

    /* cut to the buffer, still a string */
    chat_store_uri_redacted("postgres:password=s3cret", out, 12);
    CHECK(strlen(out) == 11 && strstr(out, "s3cret") == NULL);
}


TEST(open_refuses_bad_uris)
{
    char           err[256];
    chat_store_t  *store;

    err[0] = '\0';
    store = chat_store_open("chat.db", err, sizeof(err));
    CHECK(store == NULL);
    CHECK(strstr(err, "<scheme>:<location>") != NULL);

    store = chat_store_open("mysql://x/y", err, sizeof(err));
    CHECK(store == NULL);
    CHECK(strstr(err, "unknown scheme \"mysql\"") != NULL);

    /* no server there: the reason names the store */
    err[0] = '\0';
    store = chat_store_open("postgres:host=/nonexistent-dir port=1", err,
                            sizeof(err));
    CHECK(store == NULL);
    CHECK(strstr(err, "postgres:host=/nonexistent-dir") != NULL);

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
    chat_store_t  *store;

    store = test_open();
    CHECK(store != NULL);
    chat_store_close(store);

    CHECK_EQ(test_backend_sql(test_dir, "chat", test_on_pg()
                              ? "UPDATE schema_version SET version = 99"
                              : "PRAGMA user_version = 99"), 0);

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


/* PostgreSQL: the schema made at open, at its version, in the URI's
 * schema; a second open (a worker starting beside another) finds it. */
TEST(pg_open_creates_the_schema_and_reopens)
{
    char           text[64];
    chat_store_t  *store;

    store = test_open();
    CHECK(store != NULL);
    if (store == NULL) {
        return;
    }

    chat_store_close(store);

    CHECK_EQ(test_backend_text(test_dir, "chat",
                               "SELECT count(*) FROM pg_tables"
                               " WHERE schemaname = current_schema()"
                               "   AND tablename IN ('conversations',"
                               "   'members', 'messages', 'watermarks',"
                               "   'groups', 'media', 'schema_version')",
                               text, sizeof(text)), 0);
    CHECK(strcmp(text, "7") == 0);

    CHECK_EQ(test_backend_text(test_dir, "chat",
                               "SELECT count(*) FROM pg_indexes"
                               " WHERE schemaname = current_schema()"
                               "   AND indexname IN ('members_by_user',"
                               "   'messages_live', 'messages_expiring',"
                               "   'messages_media', 'media_sweepable',"
                               "   'watermarks_push_due')",
                               text, sizeof(text)), 0);
    CHECK(strcmp(text, "6") == 0);

    CHECK_EQ(test_backend_text(test_dir, "chat",
                               "SELECT version FROM schema_version",
                               text, sizeof(text)), 0);
    CHECK(strcmp(text, "1") == 0);

    store = test_reopen();
    CHECK(store != NULL);
    chat_store_close(store);
}


/* Opens test_uri, then closes it; *(int *) arg gets 1 when it failed. */

static void *
test_open_close(void *arg)
{
    chat_store_t  *store;

    store = test_reopen();
    if (store == NULL) {
        *(int *) arg = 1;
    }

    chat_store_close(store);

    return NULL;
}


/* PostgreSQL: workers and chat-apis that start together on a new
 * database all open it: the first one makes the schema under the
 * migrations' lock, the others wait and find it made. */
TEST(pg_opens_at_once_on_a_new_database_all_succeed)
{
    int        i, failed[4];
    char       text[16];
    pthread_t  t[4];

    /* a new, empty schema: test_open()'s, then dropped again */
    chat_store_close(test_open());
    CHECK_EQ(test_backend_sql(test_dir, "chat",
                              "DROP SCHEMA chat_test_chat CASCADE;"
                              "CREATE SCHEMA chat_test_chat"), 0);

    for (i = 0; i < 4; i++) {
        failed[i] = 0;
        CHECK_EQ(pthread_create(&t[i], NULL, test_open_close, &failed[i]),
                 0);
    }

    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(failed[i], 0);
    }

    CHECK_EQ(test_backend_text(test_dir, "chat",
                               "SELECT count(*) || ',' || max(version)"
                               " FROM schema_version", text, sizeof(text)),
             0);
    CHECK(strcmp(text, "1,1") == 0);
}


/* One batch of the worker's: two messages of CONV_AB after its last seq,
 * each skipped when its client id is stored already. */

static int
test_batch(chat_store_t *store, const char *mid1, const char *mid2)
{
    int                i, rc;
    int64_t            last;
    const char        *mids[2];
    chat_store_msg_t   m, got;

    mids[0] = mid1;
    mids[1] = mid2;

    for (i = 0; i < 2; i++) {
        rc = chat_store_find_by_client_id(store, S("alice"),
                                          (chat_str_t) { mids[i],
                                                         strlen(mids[i]) },
                                          &got);
        if (rc == CHAT_STORE_OK) {
            continue;
        }

        if (rc != CHAT_STORE_NOT_FOUND
            || chat_store_conv_last_seq(store, S(CONV_AB), &last)
               != CHAT_STORE_OK)
        {
            return CHAT_STORE_ERROR;
        }

        m = test_msg(CONV_AB, last + 1, mids[i], "alice", mids[i], "hi");

        rc = chat_store_insert_message(store, &m);
        if (rc != CHAT_STORE_OK) {
            return rc;
        }
    }

    return CHAT_STORE_OK;
}


/*
 * PostgreSQL: the server ends the store's connection in the middle of a
 * batch. The next operation fails as the store's fault (the worker
 * retries the batch), the rollback is fine, the next begin connects
 * again, and the batch run again stores each message once, in seq order.
 */
TEST(pg_a_connection_killed_mid_batch_fails_then_the_retry_stores_once)
{
    int64_t        last;
    chat_store_t  *store;

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_insert(store, CONV_AB, 1, "M0", "alice", "M0"), 0);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_batch(store, "M1", "M1b"), CHAT_STORE_OK);

    CHECK_EQ(test_pg_kill(store), 0);

    chat_store_clear_error(store);
    CHECK_EQ(test_batch(store, "M2", "M2b"), CHAT_STORE_ERROR);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_STORE);
    CHECK(strstr(chat_store_errstr(store), "postgres") != NULL);

    /* still in the lost transaction: nothing goes until the rollback */
    CHECK_EQ(chat_store_conv_last_seq(store, S(CONV_AB), &last),
             CHAT_STORE_ERROR);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_STORE);
    CHECK_EQ(chat_store_rollback(store), CHAT_STORE_OK);

    /* the retry of the whole batch, on a new connection */
    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_batch(store, "M1", "M1b"), CHAT_STORE_OK);
    CHECK_EQ(test_batch(store, "M2", "M2b"), CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    /* run once more (a zombie's replay): nothing doubled */
    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_batch(store, "M1", "M2"), CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    CHECK_EQ(chat_store_conv_last_seq(store, S(CONV_AB), &last),
             CHAT_STORE_OK);
    CHECK_EQ(last, 5);

    {
        char  text[128];

        CHECK_EQ(test_backend_text(test_dir, "chat",
                                   "SELECT string_agg(seq || '=' || mid, ','"
                                   " ORDER BY seq) FROM messages",
                                   text, sizeof(text)), 0);
        CHECK(strcmp(text, "1=M0,2=M1,3=M1b,4=M2,5=M2b") == 0);
    }

    /* outside a transaction, a connection the server closed while it was
     * idle is found closed and made again before the call (or, when the
     * close had not arrived yet, the call fails and the next one makes
     * it) */
    CHECK_EQ(test_pg_kill(store), 0);
    last = 0;
    if (chat_store_conv_last_seq(store, S(CONV_AB), &last)
        != CHAT_STORE_OK)
    {
        CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_STORE);
        CHECK_EQ(chat_store_conv_last_seq(store, S(CONV_AB), &last),
                 CHAT_STORE_OK);
    }
    CHECK_EQ(last, 5);

    chat_store_close(store);
}


/*
 * PostgreSQL: two interleaved handles on one conversation, as a zombie
 * and the new owner of its partition. The second waits for the first
 * one's lock on the conversation; one held past the lock timeout (a
 * zombie stuck in its transaction) fails the second's batch as the
 * store's fault, and once the first committed, the retry reads the seq
 * it left.
 */
TEST(pg_a_conversation_locked_by_another_handle_is_retried)
{
    int64_t        last;
    chat_store_t  *a, *b;

    a = test_open();
    b = a ? test_reopen() : NULL;
    if (b == NULL) {
        CHECK(0);
        chat_store_close(a);
        return;
    }

    CHECK_EQ(chat_store_begin(a), CHAT_STORE_OK);
    CHECK_EQ(test_batch(a, "A1", "A2"), CHAT_STORE_OK);

    CHECK_EQ(chat_store_begin(b), CHAT_STORE_OK);
    chat_store_clear_error(b);
    CHECK_EQ(chat_store_conv_last_seq(b, S(CONV_AB), &last),
             CHAT_STORE_ERROR);
    CHECK_EQ(chat_store_fault(b), CHAT_STORE_FAULT_STORE);
    CHECK(strstr(chat_store_errstr(b), "55P03") != NULL);
    CHECK_EQ(chat_store_rollback(b), CHAT_STORE_OK);

    CHECK_EQ(chat_store_commit(a), CHAT_STORE_OK);

    CHECK_EQ(chat_store_begin(b), CHAT_STORE_OK);
    CHECK_EQ(test_batch(b, "A2", "B1"), CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(b), CHAT_STORE_OK);

    CHECK_EQ(chat_store_conv_last_seq(a, S(CONV_AB), &last), CHAT_STORE_OK);
    CHECK_EQ(last, 3);

    chat_store_close(a);
    chat_store_close(b);
}


/*
 * The zombie and the new owner of a partition apply the same record: the
 * second one's find comes before the first one's commit (nothing found),
 * its seq after it. Its insert then meets the message stored: a failure
 * of the store (the batch is retried), not CHAT_STORE_EXISTS, which the
 * worker answers as a refused record; the retry finds the message, once.
 */
TEST(pg_the_same_record_applied_by_two_workers_is_retried_not_refused)
{
    int64_t            last;
    chat_store_t      *a, *b;
    chat_store_msg_t   m, got;

    a = test_open();
    b = a ? test_reopen() : NULL;
    if (b == NULL) {
        CHECK(0);
        chat_store_close(a);
        return;
    }

    CHECK_EQ(chat_store_begin(b), CHAT_STORE_OK);
    CHECK_EQ(chat_store_find_by_client_id(b, S("alice"), S("c-1"), &got),
             CHAT_STORE_NOT_FOUND);

    CHECK_EQ(chat_store_begin(a), CHAT_STORE_OK);
    CHECK_EQ(test_batch(a, "c-1", "c-2"), CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(a), CHAT_STORE_OK);

    CHECK_EQ(chat_store_conv_last_seq(b, S(CONV_AB), &last), CHAT_STORE_OK);
    CHECK_EQ(last, 2);
    m = test_msg(CONV_AB, last + 1, "c-1", "alice", "c-1", "hi");
    chat_store_clear_error(b);
    CHECK_EQ(chat_store_insert_message(b, &m), CHAT_STORE_ERROR);
    CHECK_EQ(chat_store_fault(b), CHAT_STORE_FAULT_STORE);
    CHECK(strstr(chat_store_errstr(b), "another writer") != NULL);
    CHECK_EQ(chat_store_rollback(b), CHAT_STORE_OK);

    /* the retry: both found, nothing stored twice */
    CHECK_EQ(chat_store_begin(b), CHAT_STORE_OK);
    CHECK_EQ(test_batch(b, "c-1", "c-2"), CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(b), CHAT_STORE_OK);
    CHECK_EQ(chat_store_conv_last_seq(b, S(CONV_AB), &last), CHAT_STORE_OK);
    CHECK_EQ(last, 2);

    /* a key its own transaction took is still the caller's mistake */
    CHECK_EQ(chat_store_begin(b), CHAT_STORE_OK);
    CHECK_EQ(chat_store_find_by_client_id(b, S("alice"), S("c-3"), &got),
             CHAT_STORE_NOT_FOUND);
    CHECK_EQ(test_insert(b, CONV_AB, 3, "c-3", "alice", "c-3"),
             CHAT_STORE_OK);
    CHECK_EQ(test_insert(b, CONV_AB, 4, "c-3b", "alice", "c-3"),
             CHAT_STORE_EXISTS);
    CHECK_EQ(chat_store_commit(b), CHAT_STORE_OK);

    chat_store_close(a);
    chat_store_close(b);
}


/* A value the server refuses for its content (a NUL in a text) is the
 * data's fault: the record is refused, not retried. The server then
 * fails the whole transaction, which a commit does not hide. */
TEST(pg_a_value_refused_for_its_content_is_the_datas_fault)
{
    chat_store_t        *store;
    chat_store_marks_t   mk;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    chat_store_clear_error(store);
    CHECK_EQ(chat_store_group_create(store, S("grp:g"),
                                     ((chat_str_t) { "a\0b", 3 }), 5),
             CHAT_STORE_ERROR);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_DATA);

    /* the server failed the transaction: its commit keeps nothing and
     * says so */
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_ERROR);
    CHECK(strstr(chat_store_errstr(store), "rolled back") != NULL);
    CHECK_EQ(chat_store_rollback(store), CHAT_STORE_OK);

    /* the first of a pipeline of two (the old marks, the raise) failing:
     * the second is not run, the pipeline is read to its end */
    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    chat_store_clear_error(store);
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB),
                                        ((chat_str_t) { "b\0b", 3 }),
                                        CHAT_RECEIPT_READ, 1, &mk),
             CHAT_STORE_ERROR);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_DATA);
    CHECK_EQ(chat_store_rollback(store), CHAT_STORE_OK);

    /* and the handle goes on */
    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(chat_store_group_create(store, S("grp:g"), S("G"), 5),
             CHAT_STORE_OK);
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("bob"),
                                        CHAT_RECEIPT_READ, 1, &mk),
             CHAT_STORE_OK);
    CHECK(mk.rose && mk.read_seq == 1);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    chat_store_close(store);
}


#define TEST_RACE_BATCHES  40

/* One of two workers applying batches to CONV_AB at once: each batch,
 * retried until it commits, stores two messages of its own. */

static void *
test_race_worker(void *arg)
{
    int            i, tries, *failed;
    char           mid1[32], mid2[32];
    chat_store_t  *store;

    failed = arg;

    store = test_reopen();
    if (store == NULL) {
        *failed = 1;
        return NULL;
    }

    for (i = 0; i < TEST_RACE_BATCHES; i++) {
        snprintf(mid1, sizeof(mid1), "W%p-%d-a", (void *) failed, i);
        snprintf(mid2, sizeof(mid2), "W%p-%d-b", (void *) failed, i);

        for (tries = 0; tries < 100; tries++) {
            if (chat_store_begin(store) == CHAT_STORE_OK
                && test_batch(store, mid1, mid2) == CHAT_STORE_OK
                && chat_store_commit(store) == CHAT_STORE_OK)
            {
                break;
            }

            chat_store_rollback(store);
        }

        if (tries == 100) {
            *failed = 1;
        }
    }

    chat_store_close(store);

    return NULL;
}


/* Two handles (two workers during a rebalance) apply to one conversation
 * at once: every seq from 1 to the last is taken once, no gap, no
 * duplicate, and every message is stored once. */
TEST(two_handles_racing_on_one_conversation_leave_no_gap)
{
    int            failed[2];
    char           text[64];
    pthread_t      t[2];
    chat_store_t  *store;

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    failed[0] = 0;
    failed[1] = 0;

    CHECK_EQ(pthread_create(&t[0], NULL, test_race_worker, &failed[0]), 0);
    CHECK_EQ(pthread_create(&t[1], NULL, test_race_worker, &failed[1]), 0);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);

    CHECK_EQ(failed[0], 0);
    CHECK_EQ(failed[1], 0);

    /* 4 x BATCHES rows, seqs 1..4 x BATCHES, mids all distinct */
    CHECK_EQ(test_backend_text(test_dir, "chat",
                               "SELECT count(*) || ',' || min(seq) || ','"
                               " || max(seq) || ',' || count(DISTINCT seq)"
                               " || ',' || count(DISTINCT mid)"
                               " FROM messages WHERE conv = '" CONV_AB "'",
                               text, sizeof(text)), 0);
    CHECK(strcmp(text, "160,1,160,160,160") == 0);

    chat_store_close(store);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "store") != 0) {
        return 1;
    }

    RUN(a_store_uri_is_logged_without_its_password);
    RUN(open_refuses_bad_uris);

    if (test_on_pg()) {
        RUN(pg_open_creates_the_schema_and_reopens);
        RUN(pg_opens_at_once_on_a_new_database_all_succeed);
        RUN(pg_a_connection_killed_mid_batch_fails_then_the_retry_stores_once);
        RUN(pg_a_conversation_locked_by_another_handle_is_retried);
        RUN(pg_the_same_record_applied_by_two_workers_is_retried_not_refused);
        RUN(pg_a_value_refused_for_its_content_is_the_datas_fault);

    } else {
        RUN(open_creates_wal_schema_and_reopens);
        RUN(open_upgrades_version_1);
        RUN(open_upgrades_version_2);
        RUN(open_upgrades_version_3);
    }

    RUN(open_refuses_another_schema_version);
    RUN(find_by_client_id_found_and_not_found);
    RUN(insert_creates_conversation_and_members);
    RUN(insert_refuses_taken_keys_and_writes_nothing);
    RUN(commit_keeps_and_rollback_discards);
    RUN(second_handle_reads_beside_the_writer);
    RUN(watermarks_rise_and_never_fall);
    RUN(two_handles_racing_on_one_conversation_leave_no_gap);

    test_tmpdir_remove(test_dir);

    return test_summary("store");
}
