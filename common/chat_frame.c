/*
 * The frames both processes send (chat_frame.h), built with jansson.
 */

#include <string.h>

#include "chat_frame.h"
#include "chat_json.h"


/* {"type":type} then "id" when there is one: the head of an answer. */

static json_t *
chat_frame_answer(const char *type, chat_str_t id)
{
    json_t  *frame;

    frame = json_pack("{s:s}", "type", type);

    if (frame != NULL && id.len
        && chat_json_put(frame, "id", chat_json_str(id)) != 0)
    {
        json_decref(frame);
        return NULL;
    }

    return frame;
}


/* Releases frame when a member could not be added (failed non-zero). */

static json_t *
chat_frame_done(json_t *frame, int failed)
{
    if (failed) {
        json_decref(frame);
        return NULL;
    }

    return frame;
}


json_t *
chat_frame_msg(const chat_frame_msg_t *msg)
{
    json_t  *frame;

    frame = json_pack("{s:s, s:s%, s:s%, s:I, s:s%, s:s%, s:I, s:s%}",
                      "type", "msg",
                      "mid", msg->mid.s, msg->mid.len,
                      "conv", msg->conv.s, msg->conv.len,
                      "seq", (json_int_t) msg->seq,
                      "from", msg->from.s, msg->from.len,
                      "body", msg->body.s, msg->body.len,
                      "ts", (json_int_t) msg->ts,
                      "id", msg->id.s, msg->id.len);
    if (frame == NULL) {
        return NULL;
    }

    return chat_frame_done(frame,
               (msg->group.len
                ? chat_json_put(frame, "group", chat_json_str(msg->group))
                : chat_json_put(frame, "to", chat_json_str(msg->to))) != 0
               || (msg->media
                   && json_object_set(frame, "media", msg->media) != 0)
               || (msg->expires
                   && chat_json_put(frame, "expires",
                                    json_integer(msg->expires)) != 0));
}


json_t *
chat_frame_group_event(chat_str_t conv, int64_t seq, json_t *event,
    chat_str_t by, json_t *members, int64_t ts)
{
    return json_pack("{s:s, s:s%, s:I, s:O, s:s%, s:O, s:I}",
                     "type", "group",
                     "conv", conv.s, conv.len,
                     "seq", (json_int_t) seq,
                     "event", event,
                     "by", by.s, by.len,
                     "members", members,
                     "ts", (json_int_t) ts);
}


json_t *
chat_frame_conv_event(chat_str_t conv, int64_t seq, int64_t ttl,
    chat_str_t by, int64_t ts)
{
    return json_pack("{s:s, s:s%, s:I, s:s, s:I, s:s%, s:I}",
                     "type", "conv",
                     "conv", conv.s, conv.len,
                     "seq", (json_int_t) seq,
                     "event", "ttl",
                     "ttl", (json_int_t) ttl,
                     "by", by.s, by.len,
                     "ts", (json_int_t) ts);
}


json_t *
chat_frame_receipt(chat_str_t conv, chat_receipt_status_e status,
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
chat_frame_sent(chat_str_t id, chat_str_t mid, chat_str_t conv, int64_t ts)
{
    json_t  *frame;

    frame = chat_frame_answer("sent", id);

    return chat_frame_done(frame,
               frame == NULL
               || chat_json_put(frame, "mid", chat_json_str(mid)) != 0
               || chat_json_put(frame, "conv", chat_json_str(conv)) != 0
               || chat_json_put(frame, "ts", json_integer(ts)) != 0);
}


/* The answer to a write that took a seq in a conversation (frame, from
 * chat_frame_answer(), or NULL): what it changed (key: value), then the
 * seq. */

static json_t *
chat_frame_write_ok(json_t *frame, const char *key, chat_str_t value,
    int64_t seq)
{
    return chat_frame_done(frame,
               frame == NULL
               || chat_json_put(frame, key, chat_json_str(value)) != 0
               || chat_json_put(frame, "seq", json_integer(seq)) != 0);
}


json_t *
chat_frame_group_ok(chat_str_t id, chat_str_t group, int64_t seq)
{
    return chat_frame_write_ok(chat_frame_answer("group_ok", id), "group",
                               group, seq);
}


json_t *
chat_frame_conv_ok(chat_str_t id, chat_str_t conv, int64_t seq)
{
    return chat_frame_write_ok(chat_frame_answer("conv_ok", id), "conv", conv,
                               seq);
}


json_t *
chat_frame_history(chat_str_t id, chat_str_t conv, json_t *messages)
{
    json_t  *frame;

    frame = chat_frame_answer("history", id);

    return chat_frame_done(frame,
               frame == NULL
               || chat_json_put(frame, "conv", chat_json_str(conv)) != 0
               || json_object_set(frame, "messages", messages) != 0
               || chat_json_put(frame, "more", json_false()) != 0);
}


json_t *
chat_frame_error(chat_str_t id, const char *code, const char *message)
{
    json_t  *frame;

    frame = chat_frame_answer("error", id);

    return chat_frame_done(frame,
               frame == NULL
               || chat_json_put(frame, "code", json_string(code)) != 0
               || chat_json_put(frame, "message", json_string(message))
                  != 0);
}


json_t *
chat_frame_error_retry(chat_str_t id, const char *code, const char *message,
    double retry_after)
{
    json_t  *frame;

    frame = chat_frame_error(id, code, message);

    return chat_frame_done(frame,
               frame == NULL
               || chat_json_put(frame, "retry_after", json_real(retry_after))
                  != 0);
}


json_t *
chat_frame_sync_done(void)
{
    return json_pack("{s:s}", "type", "sync_done");
}


json_t *
chat_frame_sync_more(chat_str_t conv, int64_t seq)
{
    return json_pack("{s:s, s:s%, s:I}",
                     "type", "sync_more",
                     "conv", conv.s, conv.len,
                     "seq", (json_int_t) seq);
}


/* The cursor of a sync_more: a string conv that fits, an integer seq. */

static chat_frame_marker_e
chat_frame_sync_cursor(json_t *root, char *conv_buf, size_t *conv_len,
    int64_t *seq)
{
    json_t      *v;
    chat_str_t   conv;

    v = json_object_get(root, "seq");

    if (chat_json_string(root, "conv", &conv) != 1
        || conv.len > CHAT_CONV_MAX || !json_is_integer(v))
    {
        return CHAT_FRAME_MARKER_BAD;
    }

    memcpy(conv_buf, conv.s, conv.len);
    *conv_len = conv.len;
    *seq = json_integer_value(v);

    return CHAT_FRAME_MARKER_MORE;
}


/* Whether "sync_" occurs in the frame (memmem is not C11). */
static int
chat_frame_may_be_marker(const char *frame, size_t len)
{
    const char  *p, *end;

    end = frame + len;

    for (p = frame; end - p >= 5; p++) {
        p = memchr(p, 's', (size_t) (end - p) - 4);

        if (p == NULL) {
            return 0;
        }

        if (memcmp(p, "sync_", 5) == 0) {
            return 1;
        }
    }

    return 0;
}


chat_frame_marker_e
chat_frame_sync_marker(const char *frame, size_t len, char *conv_buf,
    size_t *conv_len, int64_t *seq)
{
    json_t              *root;
    chat_str_t           type;
    json_error_t         jerr;
    chat_frame_marker_e  rc;

    /*
     * A marker is small and its type has "sync_" in it (the chat-workers'
     * jansson escapes no letter): every other answer, a sent or an error or
     * a pending msg, is told apart without parsing it.
     */
    if (len == 0 || len > CHAT_FRAME_MARKER_MAX
        || !chat_frame_may_be_marker(frame, len))
    {
        return CHAT_FRAME_MARKER_NONE;
    }

    root = json_loadb(frame, len, 0, &jerr);

    rc = CHAT_FRAME_MARKER_NONE;

    if (json_is_object(root) && chat_json_string(root, "type", &type) == 1) {

        if (type.len == 9 && memcmp(type.s, "sync_done", 9) == 0) {
            rc = CHAT_FRAME_MARKER_DONE;

        } else if (type.len == 9 && memcmp(type.s, "sync_more", 9) == 0) {
            rc = chat_frame_sync_cursor(root, conv_buf, conv_len, seq);
        }
    }

    json_decref(root);

    return rc;
}
