/*
 * A client id names one request (PROTOCOL.md section 3): a record's dedupe
 * looks its (sender, client id) up in the store and compares what the
 * stored row was for (its kind, its conversation and, for a membership
 * change, its event) with what the record asks, so that a retry is
 * answered like the first attempt and a reuse of the id for another
 * request is refused, never answered with another request's row.
 */

#ifndef CHAT_WORKER_DEDUPE_H
#define CHAT_WORKER_DEDUPE_H

#include "chat_worker_apply.h"


/*
 * The row stored under the record's dedupe key (send: from and id; group:
 * by and client_id; conv_set: from and client_id). CHAT_STORE_OK with it in msg when it is this very
 * request; CHAT_STORE_NOT_FOUND when the key is free; CHAT_STORE_EXISTS
 * when the key names another request; CHAT_STORE_ERROR when the store
 * failed.
 */
int chat_worker_dedupe_find(chat_store_t *store,
    const chat_record_t *rec, chat_store_msg_t *msg);

/*
 * Refuses a record whose id names another request: a bad_request error
 * with its id to its sender (to the record's connection when it names one,
 * else to every device), nothing stored. CHAT_WORKER_SKIPPED with the
 * reason set: the record conflicts with stored data (chat_worker_fault.h);
 * CHAT_WORKER_FAILED when out of memory.
 */
int chat_worker_dedupe_refuse(const chat_record_t *rec,
    chat_worker_out_t *out, chat_worker_result_t *res);

#endif /* CHAT_WORKER_DEDUPE_H */
