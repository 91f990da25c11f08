/*
 * One push notification: its body and the retry policy of its POST.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "chat_worker_push_msg.h"


/* Adds "group" or "media" when msg has them: the media's mime and size
 * (a push carries no URL, and the media id alone is of no use). */

static int
chat_worker_push_body_extras(json_t *body, const chat_store_msg_t *msg,
    const chat_conv_t *conv)
{
    json_t        *media;
    json_error_t   jerr;

    if (conv->kind == CHAT_CONV_GROUP
        && json_object_set_new(body, "group",
                               json_stringn(conv->group.s, conv->group.len))
           != 0)
    {
        return -1;
    }

    if (msg->media.len == 0) {
        return 0;
    }

    media = json_loadb(msg->media.s, msg->media.len, 0, &jerr);

    if (media == NULL
        || (json_object_get(media, "id") != NULL
            && json_object_del(media, "id") != 0))
    {
        json_decref(media);
        return -1;
    }

    return json_object_set_new(body, "media", media);
}


char *
chat_worker_push_body(const chat_store_msg_t *msg, chat_str_t user,
    size_t *len)
{
    int           n;
    char         *text, id[2 * CHAT_CONV_MAX];
    json_t       *body;
    chat_conv_t   conv;

    if (chat_conv_parse(msg->conv.s, msg->conv.len, &conv) != 0) {
        return NULL;
    }

    /* a mid is at most 32 bytes and a user id 64 */
    n = snprintf(id, sizeof(id), "%.*s:%.*s", (int) msg->mid.len,
                 msg->mid.s, (int) user.len, user.s);
    if (n < 0 || (size_t) n >= sizeof(id)) {
        return NULL;
    }

    body = json_pack("{s:s, s:s%, s:s%, s:s%, s:I, s:s%, s:I, s:s%}",
                     "push_id", id,
                     "user", user.s, user.len,
                     "mid", msg->mid.s, msg->mid.len,
                     "conv", msg->conv.s, msg->conv.len,
                     "seq", (json_int_t) msg->seq,
                     "from", msg->sender.s, msg->sender.len,
                     "ts", (json_int_t) msg->ts,
                     "body", msg->body.s, msg->body.len);

    if (body == NULL || chat_worker_push_body_extras(body, msg, &conv) != 0) {
        json_decref(body);
        return NULL;
    }

    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);

    if (text != NULL) {
        *len = strlen(text);
    }

    return text;
}


chat_worker_push_outcome_e
chat_worker_push_outcome(int failed, long status)
{
    if (failed || status == 408 || status == 429
        || (status >= 500 && status <= 599))
    {
        return CHAT_PUSH_RETRY;
    }

    if (status >= 200 && status <= 299) {
        return CHAT_PUSH_SENT;
    }

    return CHAT_PUSH_GIVE_UP;
}


int64_t
chat_worker_push_backoff(int retry, long status, int64_t retry_after_s,
    double r)
{
    int64_t  ms;

    if ((status == 429 || status == 503) && retry_after_s > 0) {
        if (retry_after_s > CHAT_PUSH_RETRY_AFTER_MAX) {
            retry_after_s = CHAT_PUSH_RETRY_AFTER_MAX;
        }

        return retry_after_s * 1000;
    }

    ms = CHAT_PUSH_BACKOFF_MIN;

    while (--retry > 0 && ms < CHAT_PUSH_BACKOFF_MAX) {
        ms *= 2;
    }

    if (ms > CHAT_PUSH_BACKOFF_MAX) {
        ms = CHAT_PUSH_BACKOFF_MAX;
    }

    /* 0.75 to 1.25 of it */
    return (int64_t) ((double) ms * (0.75 + 0.5 * r));
}
