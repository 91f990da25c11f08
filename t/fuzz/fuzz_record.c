/*
 * libFuzzer target: every input is a few records of the topic of writes,
 * one a line, decoded with chat_record_decode() (common/chat_record.c)
 * and applied in turn to one in-memory SQLite store (rolled back after
 * each input), each sorted by chat_worker_fault_sort(). No record content
 * may ever be sorted "retry": that would stop its partition (issue 13).
 * Whatever records come before it, a record is applied, refused or
 * skipped. A record that decodes is also encoded again with
 * chat_record_encode(): those bytes must decode to the same fields.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_worker_apply.h"
#include "chat_worker_fault.h"
#include "fuzz.h"


#define FUZZ_RECORDS_MAX  16


static chat_store_t       *fuzz_store;
static chat_worker_out_t   fuzz_out;


static void
fuzz_open(void)
{
    char  err[256];

    fuzz_store = chat_store_open("sqlite::memory:", err, sizeof(err));

    if (fuzz_store == NULL) {
        fprintf(stderr, "fuzz_record: %s\n", err);
        abort();
    }

    chat_worker_out_init(&fuzz_out);
}


static int
fuzz_same(chat_str_t a, chat_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}


/* The fields of a decoded record that its encoding carries. */

static int
fuzz_same_record(const chat_record_t *a, const chat_record_t *b)
{
    return a->op == b->op && a->ts == b->ts
           && fuzz_same(a->conv, b->conv) && fuzz_same(a->mid, b->mid)
           && fuzz_same(a->from, b->from) && fuzz_same(a->to, b->to)
           && fuzz_same(a->group, b->group) && fuzz_same(a->body, b->body)
           && fuzz_same(a->id, b->id) && a->has_media == b->has_media
           && fuzz_same(a->media_id, b->media_id) && a->ttl == b->ttl
           && fuzz_same(a->by, b->by) && a->status == b->status
           && a->seq == b->seq && fuzz_same(a->user, b->user)
           && fuzz_same(a->conn, b->conn) && a->max_bytes == b->max_bytes
           && fuzz_same(a->after_conv, b->after_conv)
           && a->after_seq == b->after_seq && a->before_seq == b->before_seq
           && a->limit == b->limit && a->action == b->action
           && fuzz_same(a->name, b->name)
           && fuzz_same(a->client_id, b->client_id)
           && (a->members == NULL) == (b->members == NULL)
           && (a->members == NULL || json_equal(a->members, b->members));
}


/* A decoded record, encoded and decoded again: the same; else abort. */

static void
fuzz_round_trip(const chat_record_t *rec)
{
    char           *bytes;
    size_t          len;
    json_t         *json;
    const char     *reason;
    chat_record_t   again;

    json = chat_record_encode(rec);
    if (json == NULL) {
        abort();
    }

    bytes = chat_record_dump(json, &len);
    json_decref(json);

    if (bytes == NULL) {
        abort();
    }

    if (chat_record_decode(bytes, len, &again, &reason) != 0) {
        fprintf(stderr, "fuzz_record: %.*s refused: %s\n", (int) len, bytes,
                reason);
        abort();
    }

    if (!fuzz_same_record(rec, &again)) {
        fprintf(stderr, "fuzz_record: %.*s decodes otherwise\n", (int) len,
                bytes);
        abort();
    }

    chat_record_free(&again);
    free(bytes);
}


/* One record: parsed, applied, sorted; a retry aborts. */

static void
fuzz_record(const char *p, size_t len)
{
    int                    rc;
    const char            *reason;
    chat_worker_limits_t   limits;
    chat_record_t          rec;
    chat_worker_result_t   res;

    static const unsigned char  key[] = "fuzz media key, 32 bytes or more";
    static const chat_media_key_t  media_key = { key, sizeof(key) - 1 };

    memset(&limits, 0, sizeof(limits));
    limits.sync_limit = 50;
    limits.group_max = 8;
    limits.now_ms = 1795318602103;
    limits.sign.key = &media_key;
    limits.sign.url_expiry = 1795318602 + CHAT_MEDIA_DEFAULT_URL_TTL;

    chat_store_clear_error(fuzz_store);
    memset(&res, 0, sizeof(res));

    if (chat_record_decode(p, len, &rec, &reason) != 0) {
        rc = CHAT_WORKER_SKIPPED;
        res.reason = reason;

    } else {
        fuzz_round_trip(&rec);
        rc = chat_worker_apply(fuzz_store, &rec, &limits, &fuzz_out, &res);
    }

    chat_record_free(&rec);

    if (chat_worker_fault_sort(fuzz_store, rc) == CHAT_WORKER_RETRY) {
        fprintf(stderr, "fuzz_record: retry for %.*s: %s (store: %s)\n",
                (int) len, p, res.reason ? res.reason : "?",
                chat_store_errstr(fuzz_store));
        abort();
    }

    /* what a skipped record publishes is at most its refusal */
    if (rc == CHAT_WORKER_SKIPPED && res.published > 1) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          n;
    const char  *p, *end, *nl;

    if (fuzz_store == NULL) {
        fuzz_open();
    }

    if (chat_store_begin(fuzz_store) != CHAT_STORE_OK) {
        abort();
    }

    chat_worker_out_reset(&fuzz_out);

    p = (const char *) data;
    end = p + size;

    for (n = 0; p < end && n < FUZZ_RECORDS_MAX; n++) {
        nl = memchr(p, '\n', (size_t) (end - p));

        fuzz_record(p, (size_t) ((nl ? nl : end) - p));

        p = nl ? nl + 1 : end;
    }

    if (chat_store_rollback(fuzz_store) != CHAT_STORE_OK) {
        abort();
    }

    return 0;
}
