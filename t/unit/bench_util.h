/*
 * What the store benchmarks of t/unit share: a monotonic clock, and one
 * record applied through chat-worker's apply path as the worker applies
 * it (decoded from its JSON, then chat_worker_apply()).
 */

#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdint.h>

#include "chat_worker_apply.h"


/* CLOCK_MONOTONIC, in ns */
int64_t bench_ns(void);

/*
 * Decodes text and applies it within limits, publishes appended to out.
 * Returns 0 when it was applied and not refused; else -1, with the reason
 * and the record on stderr.
 */
int bench_apply(chat_store_t *store, chat_worker_out_t *out,
    const char *text, const chat_worker_limits_t *limits);

#endif /* BENCH_UTIL_H */
