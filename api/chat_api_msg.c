/*
 * Stored messages as the API shows them.
 */

#include "chat_api_endpoints.h"
#include "chat_api_reply.h"
#include "chat_store_frame.h"
#include "chat_worker_log.h"


json_t *
chat_api_msg(const chat_api_req_t *req, const chat_store_msg_t *msg)
{
    json_t  *frame;

    frame = chat_store_frame_msg(msg, &req->conf->key,
                                 req->now_ms / 1000
                                 + req->conf->media_url_ttl);

    if (frame != NULL && json_object_del(frame, "type") != 0) {
        json_decref(frame);
        return NULL;
    }

    return frame;
}


enum MHD_Result
chat_api_store_failed(chat_api_req_t *req, const char *what)
{
    chat_worker_log(CHAT_LOG_ERROR, "%s for \"%.*s\": %s", what,
                    (int) req->user.len, req->user.s,
                    chat_store_errstr(req->slot->store));

    return chat_api_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                "the store is unavailable, try again later");
}
