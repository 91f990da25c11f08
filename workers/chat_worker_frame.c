/*
 * The frames chat-worker publishes, built with jansson.
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

    frame = json_pack("{s:s, s:s%, s:I, s:O, s:s%, s:O, s:I}",
                      "type", "group",
                      "conv", msg->conv.s, msg->conv.len,
                      "seq", (json_int_t) msg->seq,
                      "event", json_object_get(body, "event"),
                      "by", msg->sender.s, msg->sender.len,
                      "members", json_object_get(body, "members"),
                      "ts", (json_int_t) msg->ts);

    json_decref(body);

    return frame;
}


json_t *
chat_worker_frame_msg(const chat_store_msg_t *msg)
{
    json_t       *frame, *media;
    chat_conv_t   conv;
    json_error_t  jerr;

    if (chat_conv_parse(msg->conv.s, msg->conv.len, &conv) != 0) {
        return NULL;
    }

    if (msg->kind == CHAT_STORE_KIND_GROUP) {
        return chat_worker_frame_event(msg);
    }

    frame = json_pack("{s:s, s:s%, s:s%, s:I, s:s%, s:s%, s:I, s:s%}",
                      "type", "msg",
                      "mid", msg->mid.s, msg->mid.len,
                      "conv", msg->conv.s, msg->conv.len,
                      "seq", (json_int_t) msg->seq,
                      "from", msg->sender.s, msg->sender.len,
                      "body", msg->body.s, msg->body.len,
                      "ts", (json_int_t) msg->ts,
                      "id", msg->client_id.s, msg->client_id.len);
    if (frame == NULL) {
        return NULL;
    }

    if (conv.kind == CHAT_CONV_DM) {
        conv.a = chat_worker_frame_peer(&conv, msg->sender);

        if (json_object_set_new(frame, "to",
                                json_stringn(conv.a.s, conv.a.len)) != 0)
        {
            goto failed;
        }

    } else if (json_object_set_new(frame, "group",
                                   json_stringn(conv.group.s, conv.group.len))
               != 0)
    {
        goto failed;
    }

    if (msg->media.len) {
        /* as the record was parsed: its strings may hold "\u0000" */
        media = json_loadb(msg->media.s, msg->media.len, JSON_ALLOW_NUL,
                           &jerr);

        if (media == NULL || json_object_set_new(frame, "media", media) != 0) {
            goto failed;
        }
    }

    return frame;

failed:

    json_decref(frame);

    return NULL;
}


json_t *
chat_worker_frame_receipt(chat_str_t conv, chat_receipt_status_e status,
    int64_t seq, chat_str_t by, int64_t ts)
{
    return json_pack("{s:s, s:s%, s:s, s:I, s:s%, s:I}",
                     "type", "receipt",
                     "conv", conv.s, conv.len,
                     "status", status == CHAT_RECEIPT_READ ? "read"
                                                           : "delivered",
                     "seq", (json_int_t) seq,
                     "by", by.s, by.len,
                     "ts", (json_int_t) ts);
}


json_t *
chat_worker_frame_sync_done(void)
{
    return json_pack("{s:s}", "type", "sync_done");
}


json_t *
chat_worker_frame_sync_more(chat_str_t conv, int64_t seq)
{
    return json_pack("{s:s, s:s%, s:I}",
                     "type", "sync_more",
                     "conv", conv.s, conv.len,
                     "seq", (json_int_t) seq);
}


/* {"type":type} then "id" when there is one: the head of an answer. */

static json_t *
chat_worker_frame_answer(const char *type, chat_str_t id)
{
    json_t  *frame;

    frame = json_pack("{s:s}", "type", type);

    if (frame != NULL && id.len
        && json_object_set_new(frame, "id", json_stringn(id.s, id.len)) != 0)
    {
        json_decref(frame);
        return NULL;
    }

    return frame;
}


json_t *
chat_worker_frame_history(chat_str_t id, chat_str_t conv, json_t *messages)
{
    json_t  *frame;

    frame = chat_worker_frame_answer("history", id);

    if (frame == NULL
        || json_object_set_new(frame, "conv", json_stringn(conv.s, conv.len))
           != 0
        || json_object_set(frame, "messages", messages) != 0
        || json_object_set_new(frame, "more", json_false()) != 0)
    {
        json_decref(frame);
        return NULL;
    }

    return frame;
}


json_t *
chat_worker_frame_sent(chat_str_t id, const chat_store_msg_t *msg)
{
    json_t  *frame;

    frame = chat_worker_frame_answer("sent", id);

    if (frame == NULL
        || json_object_set_new(frame, "mid",
                               json_stringn(msg->mid.s, msg->mid.len)) != 0
        || json_object_set_new(frame, "conv",
                               json_stringn(msg->conv.s, msg->conv.len)) != 0
        || json_object_set_new(frame, "ts", json_integer(msg->ts)) != 0)
    {
        json_decref(frame);
        return NULL;
    }

    return frame;
}


json_t *
chat_worker_frame_group_ok(chat_str_t id, chat_str_t group, int64_t seq)
{
    json_t  *frame;

    frame = chat_worker_frame_answer("group_ok", id);

    if (frame == NULL
        || json_object_set_new(frame, "group",
                               json_stringn(group.s, group.len)) != 0
        || json_object_set_new(frame, "seq", json_integer(seq)) != 0)
    {
        json_decref(frame);
        return NULL;
    }

    return frame;
}


json_t *
chat_worker_frame_error(chat_str_t id, const char *code, const char *message)
{
    json_t  *frame;

    frame = chat_worker_frame_answer("error", id);

    if (frame == NULL
        || json_object_set_new(frame, "code", json_string(code)) != 0
        || json_object_set_new(frame, "message", json_string(message)) != 0)
    {
        json_decref(frame);
        return NULL;
    }

    return frame;
}


size_t
chat_worker_frame_size(const json_t *frame)
{
    /* the flags of chat_worker_out_publish() */
    return json_dumpb(frame, NULL, 0, JSON_COMPACT);
}
