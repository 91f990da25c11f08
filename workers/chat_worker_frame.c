/*
 * The frames of stored rows, from common/chat_frame.c's builders.
 */

#include <string.h>

#include "chat_worker_frame.h"


/* The member of a DM conversation that is not user. */

static chat_str_t
chat_worker_frame_peer(const chat_conv_t *conv, chat_str_t user)
{
    if (conv->a.len == user.len && memcmp(conv->a.s, user.s, user.len) == 0) {
        return conv->b;
    }

    return conv->a;
}


/*
 * The group frame of an event row: its body, {"event":..,"members":[..]},
 * inside the frame, the maker as "by". The group's name is not in it.
 */

static json_t *
chat_worker_frame_event(const chat_store_msg_t *msg)
{
    json_t       *body, *frame;
    json_error_t  jerr;

    body = json_loadb(msg->body.s, msg->body.len, 0, &jerr);

    if (!json_is_object(body)
        || !json_is_string(json_object_get(body, "event"))
        || !json_is_array(json_object_get(body, "members")))
    {
        json_decref(body);
        return NULL;
    }

    frame = chat_frame_group_event(msg->conv, msg->seq,
                                   json_object_get(body, "event"),
                                   msg->sender,
                                   json_object_get(body, "members"),
                                   msg->ts);

    json_decref(body);

    return frame;
}


json_t *
chat_worker_frame_msg(const chat_store_msg_t *msg)
{
    json_t            *frame;
    chat_conv_t        conv;
    json_error_t       jerr;
    chat_frame_msg_t   m;

    if (chat_conv_parse(msg->conv.s, msg->conv.len, &conv) != 0) {
        return NULL;
    }

    if (msg->kind == CHAT_STORE_KIND_GROUP) {
        return chat_worker_frame_event(msg);
    }

    memset(&m, 0, sizeof(m));
    m.mid = msg->mid;
    m.conv = msg->conv;
    m.seq = msg->seq;
    m.from = msg->sender;
    m.body = msg->body;
    m.ts = msg->ts;
    m.id = msg->client_id;

    if (conv.kind == CHAT_CONV_DM) {
        m.to = chat_worker_frame_peer(&conv, msg->sender);

    } else {
        m.group = conv.group;
    }

    if (msg->media.len) {
        /* as the record was parsed: its strings may hold "\u0000" */
        m.media = json_loadb(msg->media.s, msg->media.len, JSON_ALLOW_NUL,
                             &jerr);

        if (m.media == NULL) {
            return NULL;
        }
    }

    frame = chat_frame_msg(&m);

    json_decref(m.media);

    return frame;
}


size_t
chat_worker_frame_size(const json_t *frame)
{
    /* the flags of chat_worker_out_publish() */
    return json_dumpb(frame, NULL, 0, JSON_COMPACT);
}
