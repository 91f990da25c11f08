/*
 * The reads of chat-worker (docs/INTERNALS.md, "What the worker does with
 * each record"): sync, a page of the user's pending messages, and history,
 * a page of one conversation. Each is answered to the one connection that
 * asked, and writes nothing to the store.
 *
 * Called by chat_worker_apply(), with its return codes and result.
 */

#ifndef CHAT_WORKER_READ_H
#define CHAT_WORKER_READ_H

#include <stdint.h>

#include "chat_worker_apply.h"


/*
 * sync: the pending messages after the record's cursor not expired at
 * limits->now_ms, at most limits->sync_limit of them and at most its
 * max_bytes of frames (one message at least), then the marker: sync_more
 * with the last message published when more remain, else sync_done.
 */
int chat_worker_read_sync(chat_store_t *store,
    const chat_record_t *rec, const chat_worker_limits_t *limits,
    chat_worker_out_t *out, chat_worker_result_t *res);

/*
 * history: the newest messages before the record's before_seq that the
 * user may read and that are not expired at limits->now_ms, oldest first,
 * in one history frame of at most max_bytes (the oldest dropped to fit,
 * one message at least); or the error forbidden when the user may not
 * read the conversation.
 */
int chat_worker_read_history(chat_store_t *store,
    const chat_record_t *rec, const chat_worker_limits_t *limits,
    chat_worker_out_t *out, chat_worker_result_t *res);

#endif /* CHAT_WORKER_READ_H */
