/*
 * Unit tests of the store's media and expiry on its SQLite backend: the
 * uploads and their use by a send, the deletion of expired messages (a
 * tombstone that dedupe still finds) and the sweep of unreferenced media,
 * by one sweeper or several (t/unit/test_store.h has the helpers).
 */

#include "test_store.h"


#define TEST_ID_A  "0123456789abcdef0123456789abcdea"
#define TEST_ID_B  "0123456789abcdef0123456789abcdeb"
#define TEST_ID_C  "0123456789abcdef0123456789abcdec"
#define TEST_GRACE  1000


/* The ids a sweep reported, comma-separated. */
typedef struct {
    int   n;
    int   stop;             /* answer this at the first id; 0: go on */
    char  ids[256];
} test_swept_t;


static int
test_collect_id(chat_str_t id, void *data)
{
    size_t         len;
    test_swept_t  *sw = data;

    len = strlen(sw->ids);
    snprintf(sw->ids + len, sizeof(sw->ids) - len, "%s%.*s",
             sw->n++ ? "," : "", (int) id.len, id.s);

    return sw->stop;
}


/* One sweep at now in its own transaction, committed; its code. */

static int
test_sweep(chat_store_t *store, int64_t now, test_swept_t *sw)
{
    int  rc;

    memset(sw, 0, sizeof(*sw));

    if (chat_store_begin(store) != CHAT_STORE_OK) {
        return CHAT_STORE_ERROR;
    }

    rc = chat_store_media_sweep(store, now, TEST_GRACE, 100, test_collect_id,
                                sw);

    if (rc != CHAT_STORE_OK) {
        chat_store_rollback(store);
        return rc;
    }

    return chat_store_commit(store);
}


static int
test_upload(chat_store_t *store, const char *id, int64_t created)
{
    return chat_store_media_insert(store, (chat_str_t) { id, strlen(id) },
                                   S("alice"), S("image/png"), 48213,
                                   created);
}


/* A message of alice in dm:alice:bob with media id, expiring at expires
 * (0: never). */

static int
test_send_media(chat_store_t *store, int64_t seq, const char *mid,
    const char *id, int64_t expires)
{
    int64_t           size;
    chat_str_t        mime;
    chat_store_msg_t  m;

    if (id != NULL
        && chat_store_media_use(store, (chat_str_t) { id, strlen(id) },
                                &mime, &size) != CHAT_STORE_OK)
    {
        return -1;
    }

    m = test_msg(CONV_AB, seq, mid, "alice", mid, "look");
    m.expires = expires;

    if (id != NULL) {
        m.media = S("{\"id\":\"x\",\"mime\":\"image/png\",\"size\":48213}");
        m.media_id = (chat_str_t) { id, strlen(id) };
    }

    return chat_store_insert_message(store, &m);
}


TEST(media_insert_and_use)
{
    int64_t        size;
    chat_str_t     mime;
    chat_store_t  *store;

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_upload(store, TEST_ID_A, 10), CHAT_STORE_OK);

    /* the same id again: refused, the first kept */
    CHECK_EQ(chat_store_media_insert(store, S(TEST_ID_A), S("bob"),
                                     S("video/mp4"), 1, 20),
             CHAT_STORE_EXISTS);

    /* bad input: a clear error, the data's */
    chat_store_clear_error(store);
    CHECK_EQ(chat_store_media_insert(store, S(TEST_ID_B), S("bob"), S(""), 1,
                                     20), CHAT_STORE_ERROR);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_DATA);
    CHECK_EQ(chat_store_media_insert(store, S(TEST_ID_B), S("bob"),
                                     S("image/png"), -1, 20),
             CHAT_STORE_ERROR);
    CHECK(strstr(chat_store_errstr(store), "size below 0") != NULL);

    size = 0;
    CHECK_EQ(chat_store_media_use(store, S(TEST_ID_A), &mime, &size),
             CHAT_STORE_OK);
    CHECK_STR(mime.s, mime.len, "image/png");
    CHECK_EQ(size, 48213);

    /* twice is fine (a forward of the same media) */
    CHECK_EQ(chat_store_media_use(store, S(TEST_ID_A), &mime, &size),
             CHAT_STORE_OK);

    CHECK_EQ(chat_store_media_use(store, S(TEST_ID_B), &mime, &size),
             CHAT_STORE_NOT_FOUND);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


/*
 * The sweep: an upload never used goes after the grace (at created +
 * grace, not before), a used one stays while a message has it and goes
 * once expiry deleted the last one, at once.
 */
TEST(sweep_takes_the_unused_after_grace_and_the_released)
{
    int64_t        n;
    test_swept_t   sw;
    chat_store_t  *store;

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_upload(store, TEST_ID_A, 100), CHAT_STORE_OK);
    CHECK_EQ(test_upload(store, TEST_ID_B, 100), CHAT_STORE_OK);
    CHECK_EQ(test_upload(store, TEST_ID_C, 100), CHAT_STORE_OK);

    /* B in a message for ever, C in one expiring at 5000 and in another
     * that never does */
    CHECK_EQ(test_send_media(store, 1, "M1", TEST_ID_B, 0), 0);
    CHECK_EQ(test_send_media(store, 2, "M2", TEST_ID_C, 5000), 0);
    CHECK_EQ(test_send_media(store, 3, "M3", TEST_ID_C, 0), 0);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    CHECK_EQ(test_sweep(store, 100 + TEST_GRACE - 1, &sw), CHAT_STORE_OK);
    CHECK_EQ(sw.n, 0);

    CHECK_EQ(test_sweep(store, 100 + TEST_GRACE, &sw), CHAT_STORE_OK);
    CHECK(strcmp(sw.ids, TEST_ID_A) == 0);

    /* M2 expires: C stays, M3 still has it */
    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(chat_store_expire(store, 5000, 100, &n), CHAT_STORE_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    CHECK_EQ(test_sweep(store, 1000000, &sw), CHAT_STORE_OK);
    CHECK_EQ(sw.n, 0);

    /* M3 made to expire too (a test's shortcut): C goes at once */
    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_send_media(store, 4, "M4", NULL, 6000), 0);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    CHECK_EQ(test_backend_sql(test_dir, "chat",
                              "UPDATE messages SET expires_ms = 6000"
                              " WHERE mid = 'M3'"), 0);

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(chat_store_expire(store, 6000, 100, &n), CHAT_STORE_OK);
    CHECK_EQ(n, 2);
    CHECK_EQ(chat_store_expire(store, 6000, 100, &n), CHAT_STORE_OK);
    CHECK_EQ(n, 0);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    CHECK_EQ(test_sweep(store, 6000, &sw), CHAT_STORE_OK);
    CHECK(strcmp(sw.ids, TEST_ID_C) == 0);

    /* B, used and referenced, is never taken */
    CHECK_EQ(test_sweep(store, 1000000000, &sw), CHAT_STORE_OK);
    CHECK_EQ(sw.n, 0);

    chat_store_close(store);
}


/* Two sweepers on one file, each in its own transaction: the rows go
 * once, and only the one that deleted them reports them. A sweeper whose
 * callback fails rolls back and has deleted nothing. */
TEST(sweepers_report_only_what_they_deleted)
{
    char           err[256];
    test_swept_t   sw;
    chat_store_t  *a, *b;

    a = test_open();
    b = a ? chat_store_open(test_uri, err, sizeof(err)) : NULL;
    if (b == NULL) {
        CHECK(0);
        chat_store_close(a);
        return;
    }

    CHECK_EQ(chat_store_begin(a), CHAT_STORE_OK);
    CHECK_EQ(test_upload(a, TEST_ID_A, 0), CHAT_STORE_OK);
    CHECK_EQ(test_upload(a, TEST_ID_B, 0), CHAT_STORE_OK);
    CHECK_EQ(chat_store_commit(a), CHAT_STORE_OK);

    memset(&sw, 0, sizeof(sw));
    sw.stop = CHAT_STORE_STOP;
    CHECK_EQ(chat_store_begin(b), CHAT_STORE_OK);
    CHECK_EQ(chat_store_media_sweep(b, TEST_GRACE, TEST_GRACE, 100,
                                    test_collect_id, &sw),
             CHAT_STORE_ERROR);
    CHECK(strstr(chat_store_errstr(b), "roll back") != NULL);
    CHECK_EQ(chat_store_rollback(b), CHAT_STORE_OK);

    CHECK_EQ(test_sweep(a, TEST_GRACE, &sw), CHAT_STORE_OK);
    CHECK_EQ(sw.n, 2);
    CHECK_EQ(test_sweep(b, TEST_GRACE, &sw), CHAT_STORE_OK);
    CHECK_EQ(sw.n, 0);

    /* a use after the sweep finds nothing: the send is refused */
    CHECK_EQ(chat_store_begin(b), CHAT_STORE_OK);
    CHECK_EQ(test_send_media(b, 1, "M1", TEST_ID_A, 0), -1);
    CHECK_EQ(chat_store_rollback(b), CHAT_STORE_OK);

    chat_store_close(b);
    chat_store_close(a);
}


/*
 * Expiry leaves a tombstone: the retry of a deleted message's send finds
 * the same mid, seq and ts (and an empty body), its insert creates
 * nothing, and no read answers it; an event keeps its body.
 */
TEST(expiry_leaves_a_tombstone_that_dedupe_finds)
{
    int                n;
    char               text[64];
    int64_t            deleted;
    chat_store_t      *store;
    chat_store_msg_t   m, got;

    store = test_open();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_upload(store, TEST_ID_A, 0), CHAT_STORE_OK);
    CHECK_EQ(test_send_media(store, 1, "M1", TEST_ID_A, 5000), 0);
    CHECK_EQ(test_insert(store, CONV_AB, 2, "M2", "bob", "c-2"), 0);

    m = test_msg(CONV_AB, 3, "E3", "bob", "s-3", "{\"event\":\"ttl\"}");
    m.kind = CHAT_STORE_KIND_CONV;
    m.expires = 5000;
    CHECK_EQ(chat_store_insert_message(store, &m), CHAT_STORE_OK);

    /* not yet: limit bounds a call */
    CHECK_EQ(chat_store_expire(store, 4999, 100, &deleted), CHAT_STORE_OK);
    CHECK_EQ(deleted, 0);
    CHECK_EQ(chat_store_expire(store, 5000, 1, &deleted), CHAT_STORE_OK);
    CHECK_EQ(deleted, 1);
    CHECK_EQ(chat_store_expire(store, 5000, 100, &deleted), CHAT_STORE_OK);
    CHECK_EQ(deleted, 1);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    memset(&got, 0, sizeof(got));
    CHECK_EQ(chat_store_find_by_client_id(store, S("alice"), S("M1"), &got),
             CHAT_STORE_OK);
    CHECK_EQ(got.kind, CHAT_STORE_KIND_MSG);
    CHECK_STR(got.mid.s, got.mid.len, "M1");
    CHECK_STR(got.conv.s, got.conv.len, CONV_AB);
    CHECK_EQ(got.seq, 1);
    CHECK_EQ(got.ts, 1001);
    CHECK_EQ(got.body.len, 0);
    CHECK_EQ(got.media.len, 0);
    CHECK_EQ(got.media_id.len, 0);

    CHECK_EQ(chat_store_find_by_client_id(store, S("bob"), S("s-3"), &got),
             CHAT_STORE_OK);
    CHECK_EQ(got.kind, CHAT_STORE_KIND_CONV);
    CHECK_STR(got.body.s, got.body.len, "{\"event\":\"ttl\"}");

    /* the retry creates nothing */
    CHECK_EQ(chat_store_begin(store), CHAT_STORE_OK);
    CHECK_EQ(test_insert(store, CONV_AB, 4, "M1b", "alice", "M1"),
             CHAT_STORE_EXISTS);
    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);

    /* gone from every read, even at a clock before its expiry */
    n = 0;
    CHECK_EQ(chat_store_history(store, S(CONV_AB), S("bob"), 0,
                                CHAT_STORE_NEWEST, 100, 1,
                                test_count_msg, &n), CHAT_STORE_OK);
    CHECK_EQ(n, 1);
    n = 0;
    CHECK_EQ(chat_store_pending(store, S("bob"), NO_CONV, 0, 100, 1,
                                test_count_msg, &n), CHAT_STORE_OK);
    CHECK_EQ(n, 0);

    /* its body and media are gone from the store */
    CHECK_EQ(test_backend_text(test_dir, "chat",
                               "SELECT kind || '|' || length(body) || '|'"
                               " || CASE WHEN media IS NULL"
                               "    AND media_id IS NULL THEN 1 ELSE 0 END"
                               " FROM messages WHERE mid = 'M1'",
                               text, sizeof(text)), 0);
    CHECK(strcmp(text, "~msg|0|1") == 0);

    chat_store_close(store);
}


/* An expired message is not pushed, even before expiry deleted it (by
 * the machine's clock: 1 ms after the epoch is long past). */
TEST(an_expired_message_is_not_pushable)
{
    int                n;
    chat_store_t      *store;
    chat_store_msg_t   m;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    m = test_msg(CONV_AB, 1, "M1", "alice", "c-1", "gone");
    m.expires = 1;
    CHECK_EQ(chat_store_insert_message(store, &m), CHAT_STORE_OK);
    m = test_msg(CONV_AB, 2, "M2", "alice", "c-2", "kept");
    m.expires = INT64_MAX;
    CHECK_EQ(chat_store_insert_message(store, &m), CHAT_STORE_OK);
    CHECK_EQ(test_insert(store, CONV_AB, 3, "M3", "alice", "c-3"), 0);
    CHECK_EQ(chat_store_push_schedule(store, S(CONV_AB), S("bob"), 5, 0),
             CHAT_STORE_OK);

    n = 0;
    CHECK_EQ(chat_store_push_messages(store, S(CONV_AB), S("bob"), 100,
                                      test_count_msg, &n), CHAT_STORE_OK);
    CHECK_EQ(n, 2);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "store-media") != 0) {
        return 1;
    }

    RUN(media_insert_and_use);
    RUN(sweep_takes_the_unused_after_grace_and_the_released);
    RUN(sweepers_report_only_what_they_deleted);
    RUN(expiry_leaves_a_tombstone_that_dedupe_finds);
    RUN(an_expired_message_is_not_pushable);

    test_tmpdir_remove(test_dir);

    return test_summary("store_media");
}
