/*
 * What the unit tests of chat-worker's records share
 * (t/unit/test_worker_*.c): a new store for each test (a SQLite file in
 * a temporary directory, or a PostgreSQL schema: t/unit/test_backend.h),
 * records that go in as the JSON the module produces, and what would be
 * published coming out as (channel, payload) pairs.
 *
 * Each test file includes it once, after test.h; its helpers are static,
 * and each file uses them all.
 */

#ifndef CHAT_TEST_WORKER_H
#define CHAT_TEST_WORKER_H

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "test_tmpdir.h"
#include "test_backend.h"
#include "chat_worker_apply.h"


#define S(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })

#define AB  "dm:alice:bob"
#define AC  "dm:alice:carol"
#define BC  "dm:bob:carol"


static char                  test_dir[64];
static chat_store_t         *store;
static chat_worker_out_t     out;
static chat_worker_result_t  res;
static int64_t               sync_limit;    /* 100 at each setup() */
static int64_t               group_max;     /* 256 at each setup() */
static int64_t               now_ms;        /* the records' clock:
                                               TEST_NOW at each setup() */
static int                   no_media_key;  /* 0 at each setup() */

/* the key frames sign with, and the clock */
#define TEST_MEDIA_KEY  "a media key of the unit tests, 32 bytes or more"
#define TEST_NOW        1795318602103LL
#define TEST_URL_TTL    3600

static const chat_media_key_t  test_media_key = {
    (const unsigned char *) TEST_MEDIA_KEY, sizeof(TEST_MEDIA_KEY) - 1
};


/* A new empty store with a transaction open, and an empty out. */

static int
setup(void)
{
    char  path[640], err[256];

    if (test_backend_uri(path, sizeof(path), test_dir, "chat") != 0) {
        return -1;
    }

    store = chat_store_open(path, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "  open: %s\n", err);
        return -1;
    }

    chat_worker_out_init(&out);
    sync_limit = 100;
    group_max = 256;
    now_ms = TEST_NOW;
    no_media_key = 0;

    return chat_store_begin(store);
}


static void
teardown(void)
{
    chat_store_rollback(store);
    chat_store_close(store);
    chat_worker_out_free(&out);
}


/* Parses and applies one record; the publishes of this record alone are
 * left in out. Returns the parse or apply code; -2 for a refused record. */

static int
apply(const char *fmt, ...)
{
    int                    rc;
    static char            buf[16384];
    va_list                args;
    const char            *reason;
    chat_worker_limits_t   limits;
    chat_record_t          rec;

    va_start(args, fmt);
    vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);

    chat_worker_out_reset(&out);
    memset(&res, 0, sizeof(res));

    if (chat_record_decode(buf, strlen(buf), &rec, &reason) != 0) {
        res.reason = reason;
        chat_record_free(&rec);
        return -2;
    }

    memset(&limits, 0, sizeof(limits));
    limits.sync_limit = sync_limit;
    limits.group_max = group_max;
    limits.now_ms = now_ms;
    limits.sign.key = no_media_key ? NULL : &test_media_key;
    limits.sign.url_expiry = now_ms / 1000 + TEST_URL_TTL;

    rc = chat_worker_apply(store, &rec, &limits, &out, &res);
    chat_record_free(&rec);

    return rc;
}


static int
send_body(const char *mid, const char *from, const char *to, const char *id,
    const char *body, long long ts)
{
    const char  *a, *b;

    a = strcmp(from, to) < 0 ? from : to;
    b = strcmp(from, to) < 0 ? to : from;

    return apply("{\"v\":1,\"op\":\"send\",\"mid\":\"%s\",\"conv\":"
                 "\"dm:%s:%s\",\"from\":\"%s\",\"to\":\"%s\",\"body\":"
                 "\"%s\",\"id\":\"%s\",\"ts\":%lld}",
                 mid, a, b, from, to, body, id, ts);
}


static int
send_msg(const char *mid, const char *from, const char *to, const char *id,
    long long ts)
{
    char  body[128];

    snprintf(body, sizeof(body), "hello %s", id);

    return send_body(mid, from, to, id, body, ts);
}


static int
receipt(const char *conv, const char *by, const char *status, int seq)
{
    return apply("{\"v\":1,\"op\":\"receipt\",\"conv\":\"%s\",\"by\":\"%s\","
                 "\"status\":\"%s\",\"seq\":%d,\"ts\":777}",
                 conv, by, status, seq);
}


/* Publish i: checks its channel and target, returns its frame (to be
 * freed) or NULL. */

static json_t *
pub(size_t i, const char *channel, const char *target)
{
    chat_str_t    ch, pl;
    const char   *nl;
    json_error_t  jerr;

    if (i >= out.npubs) {
        fprintf(stderr, "  no publish %zu (%zu)\n", i, out.npubs);
        return NULL;
    }

    ch = chat_worker_out_channel(&out, i);
    pl = chat_worker_out_payload(&out, i);

    if (ch.len != strlen(channel) || memcmp(ch.s, channel, ch.len) != 0) {
        fprintf(stderr, "  publish %zu: channel %.*s, expected %s\n", i,
                (int) ch.len, ch.s, channel);
        return NULL;
    }

    nl = memchr(pl.s, '\n', pl.len);

    if (nl == NULL || (size_t) (nl - pl.s) != strlen(target)
        || memcmp(pl.s, target, strlen(target)) != 0)
    {
        fprintf(stderr, "  publish %zu: payload %.*s, expected target %s\n",
                i, (int) pl.len, pl.s, target);
        return NULL;
    }

    return json_loadb(nl + 1, pl.len - (size_t) (nl + 1 - pl.s),
                      JSON_ALLOW_NUL, &jerr);
}


static const char *
str(json_t *frame, const char *key)
{
    const char  *s;

    s = json_string_value(json_object_get(frame, key));

    return s ? s : "(none)";
}


static long long
num(json_t *frame, const char *key)
{
    json_t  *v;

    v = json_object_get(frame, key);

    return json_is_integer(v) ? (long long) json_integer_value(v) : -1;
}


/* A msg frame: exactly the fields of docs/PROTOCOL.md section 4. */

static void
check_msg(json_t *f, const char *mid, int seq, const char *from,
    const char *to, const char *id, long long ts)
{
    char  conv[160];

    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }

    CHECK(strcmp(str(f, "type"), "msg") == 0);
    CHECK(strcmp(str(f, "mid"), mid) == 0);
    CHECK_EQ(num(f, "seq"), seq);
    CHECK(strcmp(str(f, "from"), from) == 0);
    CHECK(strcmp(str(f, "to"), to) == 0);
    CHECK(strcmp(str(f, "id"), id) == 0);
    CHECK(strncmp(str(f, "body"), "hello ", 6) == 0);
    snprintf(conv, sizeof(conv), "dm:%s:%s",
             strcmp(from, to) < 0 ? from : to,
             strcmp(from, to) < 0 ? to : from);
    CHECK(strcmp(str(f, "conv"), conv) == 0);
    CHECK_EQ(num(f, "ts"), ts);
    CHECK_EQ(json_object_size(f), 9);

    json_decref(f);
}


/* An error frame with code and id (frees f). Inline: not every file
 * that includes this one has an error to check. */

static inline void
check_error(json_t *f, const char *code, const char *id)
{
    CHECK(f != NULL);
    CHECK(strcmp(str(f, "type"), "error") == 0);
    CHECK(strcmp(str(f, "code"), code) == 0);
    CHECK(strcmp(str(f, "id"), id) == 0);
    json_decref(f);
}


/* A refused record: the reason names the problem; nothing is stored. */

static void
check_refused(const char *record, const char *reason)
{
    int64_t  last;

    memset(&res, 0, sizeof(res));

    if (apply("%s", record) != -2) {
        fprintf(stderr, "  accepted: %s\n", record);
        CHECK(0);
        return;
    }

    if (res.reason == NULL || strstr(res.reason, reason) == NULL) {
        fprintf(stderr, "  %s: reason \"%s\", expected \"%s\"\n", record,
                res.reason ? res.reason : "(null)", reason);
        CHECK(0);
    }

    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, 0);
}


#define RUN_WITH_STORE(name)                                                  \
    do {                                                                      \
        if (setup() != 0) {                                                   \
            fprintf(stderr, "FAIL %s: no store\n", #name);                    \
            test_failed++;                                                    \
            break;                                                            \
        }                                                                     \
        RUN(name);                                                            \
        teardown();                                                           \
    } while (0)



#endif /* CHAT_TEST_WORKER_H */
