/*
 * The frames chat-worker publishes (PROTOCOL.md section 4): msg, receipt,
 * and the sync_done marker that the module keeps for itself.
 */

#ifndef CHAT_WORKER_FRAME_H
#define CHAT_WORKER_FRAME_H

#include <jansson.h>

#include "chat_store.h"


/*
 * The msg frame of a stored message: mid, conv, seq, from, "to" the other
 * member of a DM ("group" for a group), body, ts, id (the sender's client
 * id) and media when it has some. NULL when out of memory or when the
 * message does not make a frame (a bad conv or media).
 */
json_t *chat_worker_frame_msg(const chat_store_msg_t *msg);

json_t *chat_worker_frame_receipt(chat_str_t conv,
    chat_receipt_status_e status, int64_t seq, chat_str_t by, int64_t ts);

json_t *chat_worker_frame_sync_done(void);

#endif /* CHAT_WORKER_FRAME_H */
