/*
 * The frames of stored rows (docs/PROTOCOL.md section 4): a message's msg
 * frame, a membership change's group frame, as common/chat_frame.h builds
 * them; the other frames the chat-worker publishes are built there too.
 */

#ifndef CHAT_WORKER_FRAME_H
#define CHAT_WORKER_FRAME_H

#include <jansson.h>

#include "chat_frame.h"
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

/* The bytes of frame as it is published (compact JSON). */
size_t chat_worker_frame_size(const json_t *frame);

#endif /* CHAT_WORKER_FRAME_H */
