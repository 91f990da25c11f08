/*
 * The push hook's due state, set while a batch is applied (docs/PROTOCOL.md
 * section 5: a message that no device of a recipient acknowledges within
 * chat_push_delay triggers one push notification for that recipient).
 *
 * Per (conv, recipient), not per message: a new message makes a push due
 * at its ts + chat_push_delay unless one is due earlier already; the pusher
 * (chat_worker_push.h) finds what is due, checks it against the delivered
 * watermark of that moment, and moves the state on.
 */

#ifndef CHAT_WORKER_PUSH_DUE_H
#define CHAT_WORKER_PUSH_DUE_H

#include <stdint.h>

#include "chat_store.h"
#include "chat_worker_apply.h"
#include "chat_worker_conf.h"
#include "chat_record.h"


/*
 * After rec was applied with res, in the same transaction: for a send that
 * was not a duplicate, and when push is on, makes a push due for every
 * member of the conversation but the sender, in partition part. Returns
 * CHAT_WORKER_APPLIED, or CHAT_WORKER_FAILED with the reason in
 * res->reason.
 */
int chat_worker_push_due(chat_store_t *store, const chat_worker_conf_t *conf,
    const chat_record_t *rec, int32_t part, chat_worker_result_t *res);

#endif /* CHAT_WORKER_PUSH_DUE_H */
