/*
 * The frames of stored rows, from common/chat_frame.c's builders, their
 * media URLs signed as they are built (chat_store_frame.h).
 */

#include <string.h>

#include "chat_store_frame.h"


/* The member of a DM conversation that is not user. */

static chat_str_t
chat_store_frame_peer(const chat_conv_t *conv, chat_str_t user)
{
    if (conv->a.len == user.len && memcmp(conv->a.s, user.s, user.len) == 0) {
        return conv->b;
    }

    return conv->a;
}


static json_t *
chat_store_frame_body(const chat_store_msg_t *msg)
{
    json_t        *body;
    json_error_t   jerr;

    body = json_loadb(msg->body.s, msg->body.len, 0, &jerr);

    if (!json_is_object(body)
        || !json_is_string(json_object_get(body, "event")))
    {
        json_decref(body);
        return NULL;
    }

    return body;
}


/*
 * The group frame of an event row: its body, {"event":..,"members":[..]},
 * inside the frame, the maker as "by". The group's name is not in it.
 */

static json_t *
chat_store_frame_group(const chat_store_msg_t *msg)
{
    json_t  *body, *frame;

    body = chat_store_frame_body(msg);

    if (body == NULL || !json_is_array(json_object_get(body, "members"))) {
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


/* The conv frame of a conv_set row: body {"event":"ttl","ttl":N}, the
 * setter as "by". */

static json_t *
chat_store_frame_conv(const chat_store_msg_t *msg)
{
    json_t  *body, *ttl;
    int64_t  n;

    body = chat_store_frame_body(msg);
    ttl = json_object_get(body, "ttl");

    if (body == NULL
        || strcmp(json_string_value(json_object_get(body, "event")), "ttl")
           != 0
        || !json_is_integer(ttl) || json_integer_value(ttl) < 0)
    {
        json_decref(body);
        return NULL;
    }

    n = (int64_t) json_integer_value(ttl);
    json_decref(body);

    return chat_frame_conv_event(msg->conv, msg->seq, n, msg->sender,
                                 msg->ts);
}


/*
 * The media object of a message from its stored text: {"id","mime","size"}
 * becomes {"url","mime","size"} with a URL signed now; an object of an
 * older row, without "id", comes as it was stored.
 */

static json_t *
chat_store_frame_media(chat_str_t text, const chat_media_key_t *key,
    int64_t url_expiry)
{
    json_t        *stored, *id, *mime, *size, *media;
    chat_str_t     ids, mimes;
    json_error_t   jerr;

    /* as the record was parsed: its strings may hold "\u0000" */
    stored = json_loadb(text.s, text.len, JSON_ALLOW_NUL, &jerr);
    if (!json_is_object(stored)) {
        json_decref(stored);
        return NULL;
    }

    id = json_object_get(stored, "id");
    if (id == NULL) {
        return stored;
    }

    mime = json_object_get(stored, "mime");
    size = json_object_get(stored, "size");

    ids.s = json_string_value(id);
    ids.len = json_string_length(id);
    mimes.s = json_string_value(mime);
    mimes.len = json_string_length(mime);

    if (ids.s == NULL || !chat_media_id_valid(ids) || mimes.s == NULL
        || !json_is_integer(size) || json_integer_value(size) < 0)
    {
        json_decref(stored);
        return NULL;
    }

    if (key != NULL) {
        media = chat_media_object(key, ids, mimes,
                                  (int64_t) json_integer_value(size),
                                  url_expiry);

    } else {
        media = json_pack("{s:O, s:O}", "mime", mime, "size", size);
    }

    json_decref(stored);

    return media;
}


json_t *
chat_store_frame_msg(const chat_store_msg_t *msg, const chat_media_key_t *key,
    int64_t url_expiry)
{
    json_t            *frame;
    chat_conv_t        conv;
    chat_frame_msg_t   m;

    if (chat_conv_parse(msg->conv.s, msg->conv.len, &conv) != 0) {
        return NULL;
    }

    if (msg->kind == CHAT_STORE_KIND_GROUP) {
        return chat_store_frame_group(msg);
    }

    if (msg->kind == CHAT_STORE_KIND_CONV) {
        return chat_store_frame_conv(msg);
    }

    memset(&m, 0, sizeof(m));
    m.mid = msg->mid;
    m.conv = msg->conv;
    m.seq = msg->seq;
    m.from = msg->sender;
    m.body = msg->body;
    m.ts = msg->ts;
    m.id = msg->client_id;
    m.expires = msg->expires;

    if (conv.kind == CHAT_CONV_DM) {
        m.to = chat_store_frame_peer(&conv, msg->sender);

    } else {
        m.group = conv.group;
    }

    if (msg->media.len) {
        m.media = chat_store_frame_media(msg->media, key, url_expiry);

        if (m.media == NULL) {
            return NULL;
        }
    }

    frame = chat_frame_msg(&m);

    json_decref(m.media);

    return frame;
}
