/*
 * Unit tests of media in chat-worker: a send names an upload by its id
 * and the stored row takes the upload's type and size
 * (workers/chat_worker_send.c), media the store does not know is answered
 * bad_request, every msg frame carries a URL signed when it is built
 * (store/chat_store_frame.c), and the cleanup job
 * (workers/chat_worker_cleanup.c) deletes expired messages, sweeps the
 * media no message references and unlinks their files, leaving referenced
 * media alone (t/unit/test_worker.h has the store and the helpers).
 */

#include <errno.h>
#include <sys/stat.h>

#include "test_worker.h"
#include "chat_worker_cleanup.h"
#include "chat_worker_fault.h"


#define TEAM  "grp:team"
#define T0    (TEST_NOW - 1000)

#define IMG   "0123456789abcdef0123456789abcdef"
#define PDF   "fedcba9876543210fedcba9876543210"
#define OLD   "00000000000000000000000000000001"
#define GONE  "00000000000000000000000000000002"
#define NEW   "00000000000000000000000000000003"


/* An upload by alice, as chat-api records it. */

static int
upload(const char *id, const char *mime, long long size, long long ts)
{
    return chat_store_media_insert(store, (chat_str_t) { id, strlen(id) },
                                   S("alice"),
                                   (chat_str_t) { mime, strlen(mime) },
                                   size, ts);
}


/* A DM send from alice to bob with media id (the module's record: the id
 * alone, the type and size it carries none of). */

static int
send_media(const char *mid, const char *to, const char *id,
    const char *media, long long ts)
{
    const char  *a, *b;

    a = strcmp("alice", to) < 0 ? "alice" : to;
    b = strcmp("alice", to) < 0 ? to : "alice";

    return apply("{\"v\":1,\"op\":\"send\",\"mid\":\"%s\",\"conv\":"
                 "\"dm:%s:%s\",\"from\":\"alice\",\"to\":\"%s\",\"conn\":"
                 "\"k-alice\",\"body\":"
                 "\"\",\"id\":\"%s\",\"ts\":%lld,\"media\":{\"id\":\"%s\"}}",
                 mid, a, b, to, id, ts, media);
}


/* The media of a msg frame: {"url","mime","size"}, the URL signed with the
 * test key for id, valid until expiry. Frees f. */

static void
check_media(json_t *f, const char *id, const char *mime, long long size,
    long long expiry)
{
    json_t      *m;
    int64_t      e;
    chat_str_t   got, sid, sig;
    const char  *url;

    CHECK(f != NULL);
    m = json_object_get(f, "media");
    CHECK(json_is_object(m));
    if (m == NULL) {
        json_decref(f);
        return;
    }

    CHECK_EQ(json_object_size(m), 3);
    CHECK(strcmp(str(m, "mime"), mime) == 0);
    CHECK_EQ(num(m, "size"), size);

    url = str(m, "url");
    CHECK_EQ(chat_media_url_parse(url, strlen(url), &sid, &e, &sig), 0);
    CHECK_EQ(e, expiry);
    CHECK_EQ(chat_media_check_url(&test_media_key, url, strlen(url),
                                  (now_ms / 1000), &got),
             CHAT_MEDIA_URL_OK);
    CHECK(got.len == strlen(id) && memcmp(got.s, id, got.len) == 0);

    /* signed with this key, not any other */
    CHECK_EQ(chat_media_check_url(&(chat_media_key_t) {
                 (const unsigned char *) "another key of 32 bytes, or more",
                 32 }, url, strlen(url), now_ms / 1000, &got),
             CHAT_MEDIA_URL_FORGED);

    json_decref(f);
}


TEST(a_send_takes_the_type_and_size_of_the_upload_and_a_signed_url)
{
    json_t  *f;

    CHECK_EQ(upload(IMG, "image/png", 48213, T0 - 5000), 0);
    CHECK_EQ(send_media("M1", "bob", "c-1", IMG, T0), CHAT_WORKER_APPLIED);
    CHECK_EQ(res.refused, 0);
    CHECK_EQ(res.seq, 1);

    /* the module left the answer to the worker: sent on the connection,
     * then both members, each device: a URL valid for the URL lifetime */
    CHECK_EQ(out.npubs, 3);
    f = pub(0, "chat:u:{alice}", "k-alice");
    CHECK(f != NULL && strcmp(str(f, "type"), "sent") == 0
          && strcmp(str(f, "id"), "c-1") == 0
          && strcmp(str(f, "mid"), "M1") == 0);
    json_decref(f);
    check_media(pub(1, "chat:u:{alice}", "*"), IMG, "image/png", 48213,
                TEST_NOW / 1000 + TEST_URL_TTL);
    check_media(pub(2, "chat:u:{bob}", "*"), IMG, "image/png", 48213,
                TEST_NOW / 1000 + TEST_URL_TTL);
}


TEST(unknown_media_is_bad_request_and_stores_nothing)
{
    int64_t  last;

    CHECK_EQ(send_media("M1", "bob", "c-1", IMG, T0), CHAT_WORKER_APPLIED);
    CHECK_EQ(res.refused, 1);
    CHECK(res.reason != NULL && strcmp(res.reason, "unknown media") == 0);
    CHECK_EQ(out.npubs, 1);
    check_error(pub(0, "chat:u:{alice}", "k-alice"), "bad_request", "c-1");

    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, 0);

    /* done: not a store failure that the batch would retry forever */
    CHECK_EQ(chat_worker_fault_sort(store, CHAT_WORKER_APPLIED),
             CHAT_WORKER_DONE);

    /* a group send is answered on its connection */
    CHECK_EQ(apply("{\"v\":1,\"op\":\"group\",\"action\":\"create\","
                   "\"group\":\"team\",\"by\":\"alice\",\"mid\":\"G1\","
                   "\"conn\":\"k-alice\",\"ts\":5,\"members\":[\"bob\"]}"),
             0);
    CHECK_EQ(apply("{\"v\":1,\"op\":\"send\",\"mid\":\"M2\",\"conv\":\"" TEAM
                   "\",\"group\":\"team\",\"from\":\"bob\",\"conn\":"
                   "\"k-bob\",\"body\":\"\",\"id\":\"c-2\",\"ts\":6,"
                   "\"media\":{\"id\":\"" PDF "\"}}"), 0);
    CHECK_EQ(res.refused, 1);
    CHECK_EQ(out.npubs, 1);
    check_error(pub(0, "chat:u:{bob}", "k-bob"), "bad_request", "c-2");
    CHECK_EQ(chat_store_conv_last_seq(store, S(TEAM), &last), 0);
    CHECK_EQ(last, 1);

    /* a record whose media is not an id is refused whole */
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M3\",\"conv\":\"" AB
                  "\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"\","
                  "\"id\":\"c-3\",\"ts\":7,\"media\":{\"id\":\"/media/x\"}}",
                  "\"media\"");
}


TEST(without_a_media_key_a_send_with_media_is_bad_request)
{
    int64_t  last;

    no_media_key = 1;
    CHECK_EQ(upload(IMG, "image/png", 3, T0), 0);
    CHECK_EQ(send_media("M1", "bob", "c-1", IMG, T0), CHAT_WORKER_APPLIED);
    CHECK_EQ(res.refused, 1);
    check_error(pub(0, "chat:u:{alice}", "k-alice"), "bad_request", "c-1");
    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, 0);

    /* and a message without media goes as ever */
    CHECK_EQ(send_msg("M2", "alice", "bob", "c-2", T0), 0);
    check_msg(pub(1, "chat:u:{bob}", "*"), "M2", 1, "alice", "bob", "c-2", T0);
}


TEST(a_retried_send_is_sent_again_before_its_media_is_looked_at)
{
    json_t  *f;

    CHECK_EQ(upload(IMG, "image/png", 3, T0), 0);
    CHECK_EQ(send_media("M1", "bob", "c-1", IMG, T0), 0);
    CHECK_EQ(res.seq, 1);

    /* the retry names media that is no more: still the first message */
    CHECK_EQ(send_media("M1", "bob", "c-1", PDF, T0), 0);
    CHECK_EQ(res.duplicate, 1);
    CHECK_EQ(res.refused, 0);
    CHECK_EQ(res.seq, 1);
    f = pub(2, "chat:u:{bob}", "*");
    CHECK(strcmp(str(f, "mid"), "M1") == 0);
    check_media(f, IMG, "image/png", 3, TEST_NOW / 1000 + TEST_URL_TTL);
}


TEST(pending_and_history_sign_the_url_when_they_are_read)
{
    json_t  *f;

    CHECK_EQ(upload(PDF, "application/pdf", 1234, T0), 0);
    CHECK_EQ(send_media("M1", "bob", "c-1", PDF, T0), 0);

    /* a day later: the URL of each read is valid from then on */
    now_ms = TEST_NOW + 86400000;
    CHECK_EQ(apply("{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":"
                   "\"k\",\"ts\":9}"), 0);
    check_media(pub(0, "chat:u:{bob}", "k"), PDF, "application/pdf", 1234,
                now_ms / 1000 + TEST_URL_TTL);

    now_ms += 1000;
    CHECK_EQ(apply("{\"v\":1,\"op\":\"history\",\"conv\":\"" AB "\","
                   "\"user\":\"alice\",\"conn\":\"k\",\"ts\":9}"), 0);
    f = pub(0, "chat:u:{alice}", "k");
    check_media(json_incref(json_array_get(json_object_get(f, "messages"),
                                           0)),
                PDF, "application/pdf", 1234, now_ms / 1000 + TEST_URL_TTL);
    json_decref(f);

    /* the receipt that ends it being pending changes nothing of that */
    CHECK_EQ(receipt(AB, "bob", "delivered", 1), 0);
    CHECK_EQ(res.rose, 1);
}


/* The path of media id under dir, its directory made; with a file when
 * make is 1. */

static void
media_file(const char *dir, const char *id, int make, char *path,
    size_t size)
{
    FILE  *f;
    char   sub[256];

    CHECK(chat_media_path(path, size, dir, (chat_str_t) { id, strlen(id) })
          > 0);
    snprintf(sub, sizeof(sub), "%s/%.2s", dir, id);
    CHECK(mkdir(sub, 0700) == 0 || errno == EEXIST);

    if (make) {
        f = fopen(path, "w");
        CHECK(f != NULL);
        if (f != NULL) {
            fputs("bytes", f);
            fclose(f);
        }
    }
}


static int
exists(const char *path)
{
    struct stat  st;

    return stat(path, &st) == 0;
}


TEST(cleanup_deletes_expired_messages_and_unused_media_and_their_files)
{
    char                   dir[128], img[256], pdf[256], old[256],
                           gone[256], fresh[256];
    int64_t                expired, swept;
    chat_worker_conf_t     conf;
    chat_worker_cleanup_t  c;

    snprintf(dir, sizeof(dir), "%s/media", test_dir);
    CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);

    media_file(dir, IMG, 1, img, sizeof(img));
    media_file(dir, PDF, 1, pdf, sizeof(pdf));
    media_file(dir, OLD, 1, old, sizeof(old));
    media_file(dir, GONE, 0, gone, sizeof(gone));
    media_file(dir, NEW, 1, fresh, sizeof(fresh));

    /* IMG in a message of a 10 s ttl; PDF in one that lives; OLD and GONE
     * (its file already gone) uploaded two hours ago and never used; NEW
     * uploaded just now and not used yet */
    CHECK_EQ(upload(IMG, "image/png", 5, T0), 0);
    CHECK_EQ(upload(PDF, "application/pdf", 5, T0), 0);
    CHECK_EQ(upload(OLD, "image/png", 5, T0 - 7200000), 0);
    CHECK_EQ(upload(GONE, "image/png", 5, T0 - 7200000), 0);
    CHECK_EQ(upload(NEW, "image/png", 5, T0 + 15000), 0);

    CHECK_EQ(apply("{\"v\":1,\"op\":\"conv_set\",\"conv\":\"" AB "\","
                   "\"from\":\"alice\",\"mid\":\"S1\",\"conn\":\"k\","
                   "\"ts\":%lld,\"ttl\":10}", (long long) T0), 0);
    CHECK_EQ(send_media("M1", "bob", "c-1", IMG, T0), 0);
    CHECK_EQ(send_media("M2", "carol", "c-2", PDF, T0), 0);
    CHECK_EQ(res.refused, 0);

    memset(&conf, 0, sizeof(conf));
    conf.media_dir = dir;
    conf.media_grace = 3600;
    conf.cleanup_interval = 10000;

    /* the job's steps are transactions of their own */
    CHECK_EQ(chat_store_commit(store), 0);
    chat_worker_cleanup_init(&c, &conf, store);

    /* before M1 expires: only what was never used, past the grace */
    CHECK_EQ(chat_worker_cleanup_once(&c, T0 + 9999, &expired, &swept), 0);
    CHECK_EQ(expired, 0);
    CHECK_EQ(swept, 2);
    CHECK(!exists(old));
    CHECK(exists(img) && exists(pdf) && exists(fresh));

    /* after: M1 and then its media, at once, whatever the grace */
    CHECK_EQ(chat_worker_cleanup_once(&c, T0 + 20000, &expired, &swept), 0);
    CHECK_EQ(expired, 1);
    CHECK_EQ(swept, 1);
    CHECK(!exists(img));
    CHECK(exists(pdf) && exists(fresh));

    /* a day later: NEW, never used, is past its grace; what a message
     * references is never swept */
    CHECK_EQ(chat_worker_cleanup_once(&c, T0 + 86400000, &expired, &swept),
             0);
    CHECK_EQ(expired, 0);
    CHECK_EQ(swept, 1);
    CHECK(exists(pdf));
    CHECK(!exists(fresh));

    CHECK_EQ(chat_store_begin(store), 0);

    /* swept media is unknown from then on */
    CHECK_EQ(send_media("M3", "bob", "c-3", IMG, T0 + 30000), 0);
    CHECK_EQ(res.refused, 1);
    CHECK_EQ(send_media("M4", "bob", "c-4", PDF, T0 + 30000), 0);
    CHECK_EQ(res.refused, 0);
}


TEST(cleanup_work_is_bounded_per_run)
{
    int                    i;
    char                   mid[32], id[32];
    int64_t                expired, swept;
    chat_worker_conf_t     conf;
    chat_worker_cleanup_t  c;

    CHECK_EQ(apply("{\"v\":1,\"op\":\"conv_set\",\"conv\":\"" AB "\","
                   "\"from\":\"alice\",\"mid\":\"S1\",\"conn\":\"k\","
                   "\"ts\":%lld,\"ttl\":1}", (long long) T0), 0);

    for (i = 0; i < CHAT_WORKER_CLEANUP_EXPIRE_MAX + 1; i++) {
        snprintf(mid, sizeof(mid), "M%d", i);
        snprintf(id, sizeof(id), "c-%d", i);
        CHECK_EQ(send_msg(mid, "alice", "bob", id, T0), 0);
    }

    memset(&conf, 0, sizeof(conf));
    conf.media_grace = 3600;
    conf.cleanup_interval = 10000;

    CHECK_EQ(chat_store_commit(store), 0);
    chat_worker_cleanup_init(&c, &conf, store);

    /* a backlog goes a bounded step at a time, never in one long
     * transaction that would hold the batches up */
    CHECK_EQ(chat_worker_cleanup_once(&c, T0 + 2000, &expired, &swept), 0);
    CHECK_EQ(expired, CHAT_WORKER_CLEANUP_EXPIRE_MAX);
    CHECK_EQ(chat_worker_cleanup_once(&c, T0 + 2000, &expired, &swept), 0);
    CHECK_EQ(expired, 1);
    CHECK_EQ(chat_worker_cleanup_once(&c, T0 + 2000, &expired, &swept), 0);
    CHECK_EQ(expired, 0);

    CHECK_EQ(chat_store_begin(store), 0);
}


TEST(cleanup_without_a_media_dir_sweeps_no_media)
{
    int64_t                expired, swept;
    chat_worker_conf_t     conf;
    chat_worker_cleanup_t  c;

    CHECK_EQ(upload(OLD, "image/png", 5, T0 - 7200000), 0);

    memset(&conf, 0, sizeof(conf));
    conf.media_grace = 3600;
    conf.cleanup_interval = 10000;

    CHECK_EQ(chat_store_commit(store), 0);
    chat_worker_cleanup_init(&c, &conf, store);
    CHECK_EQ(chat_worker_cleanup_once(&c, T0, &expired, &swept), 0);
    CHECK_EQ(expired, 0);
    CHECK_EQ(swept, 0);
    CHECK_EQ(chat_store_begin(store), 0);

    /* its row stays, and so it can be sent */
    CHECK_EQ(send_media("M1", "bob", "c-1", OLD, T0), 0);
    CHECK_EQ(res.refused, 0);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "media") != 0) {
        return 1;
    }

    RUN_WITH_STORE(a_send_takes_the_type_and_size_of_the_upload_and_a_signed_url);
    RUN_WITH_STORE(unknown_media_is_bad_request_and_stores_nothing);
    RUN_WITH_STORE(without_a_media_key_a_send_with_media_is_bad_request);
    RUN_WITH_STORE(a_retried_send_is_sent_again_before_its_media_is_looked_at);
    RUN_WITH_STORE(pending_and_history_sign_the_url_when_they_are_read);
    RUN_WITH_STORE(cleanup_deletes_expired_messages_and_unused_media_and_their_files);
    RUN_WITH_STORE(cleanup_work_is_bounded_per_run);
    RUN_WITH_STORE(cleanup_without_a_media_dir_sweeps_no_media);

    test_tmpdir_remove(test_dir);

    return test_summary("worker_media");
}
