/*
 * libFuzzer target: every input is a few records of the topic of writes,
 * one a line, decoded with chat_worker_record_parse() and applied in turn
 * to one in-memory SQLite store (rolled back after each input), each
 * sorted by chat_worker_fault_sort(). No record content may ever be
 * sorted "retry": that would stop its partition (issue 13). Whatever
 * records come before it, a record is applied, refused or skipped.
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


/* One record: parsed, applied, sorted; a retry aborts. */

static void
fuzz_record(const char *p, size_t len)
{
    int                    rc;
    const char            *reason;
    chat_worker_limits_t   limits;
    chat_worker_record_t   rec;
    chat_worker_result_t   res;

    limits.sync_limit = 50;
    limits.group_max = 8;

    chat_store_clear_error(fuzz_store);
    memset(&res, 0, sizeof(res));

    if (chat_worker_record_parse(p, len, &rec, &reason) != 0) {
        rc = CHAT_WORKER_SKIPPED;
        res.reason = reason;

    } else {
        rc = chat_worker_apply(fuzz_store, &rec, &limits, &fuzz_out, &res);
    }

    chat_worker_record_free(&rec);

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
