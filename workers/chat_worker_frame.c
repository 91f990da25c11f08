/*
 * The frames of stored rows, signed with the worker's media key.
 */

#include "chat_store_frame.h"
#include "chat_worker_frame.h"


json_t *
chat_worker_frame_msg(const chat_store_msg_t *msg,
    const chat_worker_sign_t *sign)
{
    return chat_store_frame_msg(msg, sign->key, sign->url_expiry);
}


size_t
chat_worker_frame_size(const json_t *frame)
{
    /* the flags of chat_worker_out_publish() */
    return json_dumpb(frame, NULL, 0, JSON_COMPACT);
}
