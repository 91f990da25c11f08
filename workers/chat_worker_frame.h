/*
 * The frames of stored rows as the chat-worker publishes them (docs/PROTOCOL.md
 * section 4): store/chat_store_frame.h builds them, with the media URLs
 * signed by the worker's key; the other frames the chat-worker publishes
 * are built by common/chat_frame.h.
 */

#ifndef CHAT_WORKER_FRAME_H
#define CHAT_WORKER_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "chat_frame.h"
#include "chat_media.h"
#include "chat_store.h"


/* How the frames of a record sign the URLs of their media. */
typedef struct {
    const chat_media_key_t  *key;         /* NULL: no media key given */
    int64_t                  url_expiry;  /* Unix s: the URLs signed now
                                             are valid until then */
} chat_worker_sign_t;


/*
 * The frame of a stored row (chat_store_frame_msg()): a message's msg
 * frame, with its media URL signed now, a membership change's group
 * frame, a conv_set's conv frame. NULL when out of memory or when the row
 * does not make a frame (a bad conv, media or event body).
 */
json_t *chat_worker_frame_msg(const chat_store_msg_t *msg,
    const chat_worker_sign_t *sign);

/* The bytes of frame as it is published (compact JSON). */
size_t chat_worker_frame_size(const json_t *frame);

#endif /* CHAT_WORKER_FRAME_H */
