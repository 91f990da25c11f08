/*
 * The frame of a stored row (docs/PROTOCOL.md section 4), for every
 * process that reads the store and answers clients: the chat-workers (live
 * fan-out, pending, WebSocket history) and chat-api (HTTP history, the
 * conversation list). One function, so that a message looks the same
 * whichever way it reaches a client.
 *
 * A row's media is stored as {"id","mime","size"}, the type and size that
 * chat-api recorded at upload; the URL is not stored but signed here, at
 * the moment the frame is built (common/chat_media.h), so that every frame
 * carries one valid for the configured lifetime from then on.
 */

#ifndef CHAT_STORE_FRAME_H
#define CHAT_STORE_FRAME_H

#include <stdint.h>
#include <jansson.h>

#include "chat_frame.h"
#include "chat_media.h"
#include "chat_store.h"


/*
 * The frame of a stored row:
 *
 * - a message (CHAT_STORE_KIND_MSG): the msg frame, with mid, conv, seq,
 *   from, "to" the other member of a DM ("group" for a group), body, ts, id
 *   (the sender's client id), "expires" when msg->expires is not 0, and
 *   "media" {"url","mime","size"} when it has some, its URL signed with key
 *   and valid until url_expiry (Unix seconds);
 * - a membership change (CHAT_STORE_KIND_GROUP): the group frame;
 * - a conv_set (CHAT_STORE_KIND_CONV): the conv frame.
 *
 * Media stored before URLs were signed on read (no "id") comes as stored.
 * With key NULL (a process given no media key) a message's media comes
 * with its mime and size but no URL, since none can be signed.
 *
 * NULL when out of memory or when the row does not make a frame (a bad
 * conv, media or event body).
 */
json_t *chat_store_frame_msg(const chat_store_msg_t *msg,
    const chat_media_key_t *key, int64_t url_expiry);

#endif /* CHAT_STORE_FRAME_H */
