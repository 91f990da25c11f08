/*
 * The endpoints of docs/PROTOCOL.md 6, one file per group: each answers
 * its request (chat_api_reply.h) and returns what libmicrohttpd expects.
 * The GET endpoints are given a slot; the upload takes one at its end.
 */

#ifndef CHAT_API_ENDPOINTS_H
#define CHAT_API_ENDPOINTS_H

#include <jansson.h>

#include "chat_api_http.h"


/* chat_api_conversations.c: GET /api/conversations */
enum MHD_Result chat_api_conversations(chat_api_req_t *req);

/* chat_api_messages.c: GET /api/conversations/{conv}/messages */
enum MHD_Result chat_api_messages(chat_api_req_t *req);

/* chat_api_groups.c: GET /api/groups/{group} */
enum MHD_Result chat_api_group(chat_api_req_t *req);

/* chat_api_presence.c: GET /api/presence */
enum MHD_Result chat_api_presence(chat_api_req_t *req);

/*
 * chat_api_media.c: POST /api/media, in the calls libmicrohttpd makes: the
 * first (headers only; req->user len 0 when there is none) decides whether
 * the upload is taken and opens its temporary file, *state then holding
 * the upload; each next one writes a chunk, or drops it when refused; the
 * last (*size 0) stores the file and answers, or answers the refusal.
 * chat_api_media_done() frees the state, whether the upload ended or was
 * cut.
 */
enum MHD_Result chat_api_media_start(chat_api_req_t *req, void **state);
enum MHD_Result chat_api_media_body(chat_api_req_t *req, void *state,
    const char *data, size_t *size);
void chat_api_media_done(void *state);

/*
 * chat_api_msg.c: the <msg> of a stored message, the msg frame without
 * "type" (the frame the chat-workers send, store/chat_store_frame.h), its
 * media URL signed now for the configured lifetime. NULL when out of
 * memory or when the row makes no frame.
 */
json_t *chat_api_msg(const chat_api_req_t *req, const chat_store_msg_t *msg);

/* chat_api_http.c: the answer of a store failure, 503, logged. */
enum MHD_Result chat_api_store_failed(chat_api_req_t *req, const char *what);

#endif /* CHAT_API_ENDPOINTS_H */
