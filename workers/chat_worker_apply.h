/*
 * What chat-worker does with each record (docs/INTERNALS.md, "What the
 * worker does with each record"): what it stores and what it publishes.
 *
 * Pure of Kafka and Redis: the record comes decoded, the store is any
 * backend with a transaction open, and the publishes are appended to out,
 * to be sent once the transaction has committed.
 */

#ifndef CHAT_WORKER_APPLY_H
#define CHAT_WORKER_APPLY_H

#include <stdint.h>

#include "chat_store.h"
#include "chat_worker_frame.h"
#include "chat_worker_out.h"
#include "chat_record.h"


#define CHAT_WORKER_APPLIED   0
#define CHAT_WORKER_SKIPPED   1    /* its content breaks a rule or
                                      conflicts with stored data: nothing
                                      stored */
#define CHAT_WORKER_FAILED   -1    /* the store failed: retry the batch */

/* What bounds and shapes the work of a record (from the worker's settings
 * and its clock). */
typedef struct {
    int64_t             sync_limit;  /* most messages of one sync page */
    int64_t             group_max;   /* most members of a group */
    int64_t             now_ms;      /* Unix ms: what is expired (reads
                                        skip it) */
    chat_worker_sign_t  sign;        /* the media URLs of the frames; a
                                        send with media needs a key */
} chat_worker_limits_t;

typedef struct {
    const char  *reason;      /* SKIPPED, FAILED: why */
    int          duplicate;   /* send, group: it was stored already */
    int          refused;     /* answered with an error, nothing
                                 stored (group send, group, conv_set, a
                                 send with unknown media) */
    int64_t      seq;         /* send, group, conv_set: its seq;
                                 receipt: the
                                 clamped seq */
    int          rose;        /* receipt: a watermark rose */
    size_t       published;   /* publishes appended to out */
} chat_worker_result_t;


/*
 * Applies one valid record within limits. Returns CHAT_WORKER_APPLIED,
 * CHAT_WORKER_SKIPPED with nothing written (and nothing appended but, for
 * an id that names another request, the bad_request error to its sender),
 * or CHAT_WORKER_FAILED, after which the transaction must be rolled back
 * and out dropped (it may hold part of the record's publishes); whether a
 * failure is retried is chat_worker_fault_sort()'s to say. A history that
 * the user may not read is APPLIED: its answer is the error frame.
 */
int chat_worker_apply(chat_store_t *store, const chat_record_t *rec,
    const chat_worker_limits_t *limits, chat_worker_out_t *out,
    chat_worker_result_t *res);

#endif /* CHAT_WORKER_APPLY_H */
