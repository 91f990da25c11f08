/*
 * The frames chat-worker publishes (docs/PROTOCOL.md sections 3 and 4): msg,
 * group, receipt, history, sent, group_ok and error, and the sync_done and sync_more markers that
 * the module keeps for itself.
 */

#ifndef CHAT_WORKER_FRAME_H
#define CHAT_WORKER_FRAME_H

#include <jansson.h>

#include "chat_store.h"


/*
 * The frame of a stored row. For a message, the msg frame: mid, conv, seq,
 * from, "to" the other member of a DM ("group" for a group), body, ts, id
 * (the sender's client id) and media when it has some. For a group event,
 * the group frame: conv, seq, event, by, members, ts. NULL when out of
 * memory or when the row does not make a frame (a bad conv, media or
 * event body).
 */
json_t *chat_worker_frame_msg(const chat_store_msg_t *msg);

json_t *chat_worker_frame_receipt(chat_str_t conv,
    chat_receipt_status_e status, int64_t seq, chat_str_t by, int64_t ts);

/* {"type":"sync_done"}: the module compares it byte for byte. */
json_t *chat_worker_frame_sync_done(void);

/* {"type":"sync_more","conv":..,"seq":..}: the last message of a page, the
 * cursor of the next sync. */
json_t *chat_worker_frame_sync_more(chat_str_t conv, int64_t seq);

/*
 * {"type":"history","id":..,"conv":..,"messages":messages,"more":false}
 * ("id" left out when id.len is 0); the caller fills messages, which the
 * frame references, and sets "more".
 */
json_t *chat_worker_frame_history(chat_str_t id, chat_str_t conv,
    json_t *messages);

/* {"type":"sent","id":..,"mid":..,"conv":..,"ts":..}: the answer of a
 * group send, which the worker gives ("id" left out when id.len is 0). */
json_t *chat_worker_frame_sent(chat_str_t id, const chat_store_msg_t *msg);

/* {"type":"group_ok","id":..,"group":..,"seq":..} ("id" left out when
 * id.len is 0). */
json_t *chat_worker_frame_group_ok(chat_str_t id, chat_str_t group,
    int64_t seq);

/* {"type":"error","id":..,"code":..,"message":..} ("id" left out when
 * id.len is 0). */
json_t *chat_worker_frame_error(chat_str_t id, const char *code,
    const char *message);

/* The bytes of frame as it is published (compact JSON). */
size_t chat_worker_frame_size(const json_t *frame);

#endif /* CHAT_WORKER_FRAME_H */
