/*
 * The list of publishes of a batch.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_worker_out.h"


#define CHAT_WORKER_OUT_MIN_BUF   4096
#define CHAT_WORKER_OUT_MIN_PUBS  64


void
chat_worker_out_init(chat_worker_out_t *out)
{
    memset(out, 0, sizeof(*out));
}


void
chat_worker_out_reset(chat_worker_out_t *out)
{
    out->npubs = 0;
    out->len = 0;
}


void
chat_worker_out_free(chat_worker_out_t *out)
{
    free(out->pubs);
    free(out->buf);
    chat_worker_out_init(out);
}


/* Makes room for n more bytes in the buffer. */

static int
chat_worker_out_reserve(chat_worker_out_t *out, size_t n)
{
    char    *p;
    size_t   size;

    if (out->size - out->len >= n) {
        return 0;
    }

    size = out->size ? out->size : CHAT_WORKER_OUT_MIN_BUF;

    while (size - out->len < n) {
        if (size > ((size_t) -1) / 2) {
            return -1;
        }

        size *= 2;
    }

    p = realloc(out->buf, size);
    if (p == NULL) {
        return -1;
    }

    out->buf = p;
    out->size = size;

    return 0;
}


static int
chat_worker_out_append(chat_worker_out_t *out, const char *s, size_t n)
{
    if (chat_worker_out_reserve(out, n) != 0) {
        return -1;
    }

    memcpy(out->buf + out->len, s, n);
    out->len += n;

    return 0;
}


/* json_dump_callback()'s sink: appends to the buffer. */

static int
chat_worker_out_dump(const char *s, size_t n, void *data)
{
    return chat_worker_out_append(data, s, n);
}


static int
chat_worker_out_grow_pubs(chat_worker_out_t *out)
{
    size_t              cap;
    chat_worker_pub_t  *p;

    if (out->npubs < out->cap) {
        return 0;
    }

    cap = out->cap ? out->cap * 2 : CHAT_WORKER_OUT_MIN_PUBS;

    p = realloc(out->pubs, cap * sizeof(chat_worker_pub_t));
    if (p == NULL) {
        return -1;
    }

    out->pubs = p;
    out->cap = cap;

    return 0;
}


/* The next publish, its channel appended to the buffer; NULL when out of
 * memory, out unchanged. Counted once its payload is set. */

static chat_worker_pub_t *
chat_worker_out_key_add(chat_worker_out_t *out, const char *prefix,
    chat_str_t name)
{
    size_t              start;
    chat_worker_pub_t  *pub;

    if (chat_worker_out_grow_pubs(out) != 0) {
        return NULL;
    }

    start = out->len;
    pub = &out->pubs[out->npubs];

    pub->cmd = CHAT_WORKER_CMD_PUBLISH;
    pub->channel = out->len;

    /* "<prefix>{<name>}": room for it, then written in place */
    if (chat_worker_out_reserve(out, strlen(prefix) + 2 + name.len) != 0) {
        out->len = start;
        return NULL;
    }

    pub->channel_len = chat_key(out->buf + out->len, prefix, name.s,
                                name.len);
    out->len += pub->channel_len;

    return pub;
}


static chat_worker_pub_t *
chat_worker_out_channel_add(chat_worker_out_t *out, chat_str_t user)
{
    return chat_worker_out_key_add(out, CHAT_KEY_USER_CHANNEL, user);
}


int
chat_worker_out_member(chat_worker_out_t *out, chat_worker_cmd_e cmd,
    chat_str_t group, chat_str_t user)
{
    size_t              start;
    chat_worker_pub_t  *pub;

    start = out->len;

    pub = chat_worker_out_key_add(out, CHAT_KEY_GROUP_MEMBERS, group);
    if (pub == NULL) {
        return -1;
    }

    pub->cmd = cmd;
    pub->payload = out->len;

    if (chat_worker_out_append(out, user.s, user.len) != 0) {
        out->len = start;
        return -1;
    }

    pub->payload_len = user.len;
    out->npubs++;

    return 0;
}


int
chat_worker_out_publish(chat_worker_out_t *out, chat_str_t user,
    chat_str_t target, const json_t *frame)
{
    size_t              start;
    chat_worker_pub_t  *pub;

    start = out->len;

    pub = chat_worker_out_channel_add(out, user);
    if (pub == NULL) {
        return -1;
    }

    pub->payload = out->len;

    if (chat_worker_out_append(out, target.s, target.len) != 0
        || chat_worker_out_append(out, CHAT_KEY_PAYLOAD_SEP,
                                  sizeof(CHAT_KEY_PAYLOAD_SEP) - 1) != 0
        || json_dump_callback(frame, chat_worker_out_dump, out,
                              JSON_COMPACT) != 0)
    {
        goto failed;
    }

    pub->payload_len = out->len - pub->payload;
    out->npubs++;

    return 0;

failed:

    out->len = start;

    return -1;
}


int
chat_worker_out_publish_same(chat_worker_out_t *out, chat_str_t user,
    size_t i)
{
    chat_worker_pub_t  *pub;

    pub = chat_worker_out_channel_add(out, user);
    if (pub == NULL) {
        return -1;
    }

    /* the bytes of the payload are shared, not copied: offsets stay valid
     * when the buffer moves */

    pub->payload = out->pubs[i].payload;
    pub->payload_len = out->pubs[i].payload_len;
    out->npubs++;

    return 0;
}


chat_str_t
chat_worker_out_channel(const chat_worker_out_t *out, size_t i)
{
    chat_str_t  s;

    s.s = out->buf + out->pubs[i].channel;
    s.len = out->pubs[i].channel_len;

    return s;
}


chat_str_t
chat_worker_out_payload(const chat_worker_out_t *out, size_t i)
{
    chat_str_t  s;

    s.s = out->buf + out->pubs[i].payload;
    s.len = out->pubs[i].payload_len;

    return s;
}
