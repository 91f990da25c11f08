/*
 * Stored messages as the API shows them.
 */

#include "chat_api_endpoints.h"
#include "chat_store_frame.h"


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
