/*
 * Disappearing messages (docs/PROTOCOL.md 3, docs/INTERNALS.md
 * "Disappearing messages"): conv_set, a write of its conversation ordered
 * like a membership change, which sets the ttl that the messages accepted
 * after it get as "expires".
 */

#ifndef CHAT_WORKER_CONV_H
#define CHAT_WORKER_CONV_H

#include "chat_worker_apply.h"


/*
 * conv_set: the setter's right first (a DM: either member; a group: an
 * admin; an unknown group: not_found; anyone else: forbidden), then its
 * ttl (CHAT_PROTO_TTL_BAD: bad_request); then a row of kind
 * CHAT_STORE_KIND_CONV at the next seq, the conversation's ttl, conv_ok to
 * the setter's connection and the conv event to every device of every
 * member. A retry (the same dedupe key) is answered and published again,
 * nothing stored. Called by chat_worker_apply(), with its codes; a refused
 * one is APPLIED with res->refused set, its error frame appended.
 */
int chat_worker_conv_set(chat_store_t *store, const chat_record_t *rec,
    const chat_worker_limits_t *limits, chat_worker_out_t *out,
    chat_worker_result_t *res);

#endif /* CHAT_WORKER_CONV_H */
