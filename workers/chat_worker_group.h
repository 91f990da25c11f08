/*
 * The group records of chat-worker (docs/INTERNALS.md, "Groups"): a send
 * in a group and a membership change, both writes of the conversation
 * grp:<group>, answered by the worker itself (sent, group_ok, or an error)
 * to the connection named in the record: only it knows the members at the
 * seq.
 */

#ifndef CHAT_WORKER_GROUP_H
#define CHAT_WORKER_GROUP_H

#include <stdint.h>

#include "chat_worker_apply.h"


/*
 * A send in a group, and a membership change within limits->group_max
 * members. Called by chat_worker_apply(), with its codes; a refused one is
 * APPLIED with res->refused set, its error frame appended.
 */
int chat_worker_group_send(chat_store_t *store,
    const chat_record_t *rec, const chat_worker_limits_t *limits,
    chat_worker_out_t *out, chat_worker_result_t *res);
int chat_worker_group_change(chat_store_t *store,
    const chat_record_t *rec, const chat_worker_limits_t *limits,
    chat_worker_out_t *out, chat_worker_result_t *res);

#endif /* CHAT_WORKER_GROUP_H */
