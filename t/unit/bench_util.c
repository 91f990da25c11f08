/*
 * The store benchmarks' shared steps (bench_util.h).
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"


int64_t
bench_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


int
bench_apply(chat_store_t *store, chat_worker_out_t *out, const char *text,
    const chat_worker_limits_t *limits)
{
    int                    rc;
    const char            *reason;
    chat_record_t          rec;
    chat_worker_result_t   res;

    if (chat_record_decode(text, strlen(text), &rec, &reason) != 0) {
        fprintf(stderr, "refused: %s: %s\n", reason, text);
        chat_record_free(&rec);
        return -1;
    }

    memset(&res, 0, sizeof(res));
    rc = chat_worker_apply(store, &rec, limits, out, &res);
    chat_record_free(&rec);

    if (rc != CHAT_WORKER_APPLIED || res.refused) {
        fprintf(stderr, "not applied (%s): %s\n",
                res.reason != NULL ? res.reason : chat_store_errstr(store),
                text);
        return -1;
    }

    return 0;
}
