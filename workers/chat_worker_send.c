/*
 * The write of a new row: dedupe, seq, insert, publish.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_frame.h"
#include "chat_worker_dedupe.h"
#include "chat_worker_send.h"


static int
chat_worker_send_fail(chat_worker_result_t *res, const char *reason)
{
    res->reason = reason;
    return CHAT_WORKER_FAILED;
}


int
chat_worker_send_gone(const chat_worker_send_t *s,
    const chat_store_msg_t *msg)
{
    return msg->expires != 0 && msg->expires <= s->limits->now_ms;
}


int
chat_worker_send_answer(chat_worker_send_t *s, json_t *frame)
{
    int                   rc;
    const chat_record_t  *rec = s->rec;

    if (frame == NULL) {
        return chat_worker_send_fail(s->res, "out of memory");
    }

    rc = chat_worker_out_publish(s->out, rec->from,
                                 rec->conn.len ? rec->conn
                                               : CHAT_WORKER_TARGET_ALL,
                                 frame);
    json_decref(frame);

    return rc == 0 ? CHAT_WORKER_APPLIED
                   : chat_worker_send_fail(s->res, "out of memory");
}


int
chat_worker_send_refuse(chat_worker_send_t *s, const char *code,
    const char *message)
{
    int  rc;

    rc = chat_worker_send_answer(s, chat_frame_error(s->rec->id, code,
                                                     message));
    if (rc != CHAT_WORKER_APPLIED) {
        return rc;
    }

    s->res->refused = 1;
    s->res->reason = message;

    return CHAT_WORKER_APPLIED;
}


/*
 * The media of a send as it is stored, {"id","mime","size"} in *media (to
 * be freed), the type and size those of the upload: CHAT_WORKER_SEND_ROW,
 * or the record's code when it is refused or the store failed.
 */

static int
chat_worker_send_media(chat_worker_send_t *s, char **media)
{
    int         rc;
    json_t     *obj;
    int64_t     size;
    chat_str_t  mime, id;

    if (s->limits->sign.key == NULL) {
        return chat_worker_send_refuse(s, "bad_request", "media is not "
                                       "enabled on this server");
    }

    id = s->rec->media_id;

    rc = chat_store_media_use(s->store, id, &mime, &size);

    if (rc == CHAT_STORE_NOT_FOUND) {
        return chat_worker_send_refuse(s, "bad_request", "unknown media");
    }

    if (rc != CHAT_STORE_OK) {
        return chat_worker_send_fail(s->res, chat_store_errstr(s->store));
    }

    obj = json_pack("{s:s%, s:s%, s:I}", "id", id.s, id.len,
                    "mime", mime.s, mime.len, "size", (json_int_t) size);

    *media = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);

    if (*media == NULL) {
        return chat_worker_send_fail(s->res, "out of memory");
    }

    return CHAT_WORKER_SEND_ROW;
}


/* The row of a send record at seq, its media as JSON text in *media (to
 * be freed; NULL when none): CHAT_WORKER_SEND_ROW, or the record's code. */

static int
chat_worker_send_msg(chat_worker_send_t *s, int64_t seq,
    chat_store_msg_t *msg, char **media)
{
    int                   rc;
    int64_t               ttl;
    const chat_record_t  *rec = s->rec;

    *media = NULL;

    if (rec->has_media) {
        rc = chat_worker_send_media(s, media);
        if (rc != CHAT_WORKER_SEND_ROW) {
            return rc;
        }
    }

    /* the ttl of now: a message keeps what it was accepted with */
    if (chat_store_conv_ttl(s->store, rec->conv, &ttl) != CHAT_STORE_OK) {
        return chat_worker_send_fail(s->res, chat_store_errstr(s->store));
    }

    memset(msg, 0, sizeof(*msg));
    msg->kind = CHAT_STORE_KIND_MSG;
    msg->conv = rec->conv;
    msg->seq = seq;
    msg->mid = rec->mid;
    msg->sender = rec->from;
    msg->client_id = rec->id;
    msg->body = rec->body;
    msg->media.s = *media;
    msg->media.len = *media ? strlen(*media) : 0;
    msg->media_id = *media ? rec->media_id : (chat_str_t) { NULL, 0 };
    msg->ts = rec->ts;
    msg->expires = ttl > 0 ? rec->ts + ttl * 1000 : 0;

    return CHAT_WORKER_SEND_ROW;
}


/* Makes the row at last + 1, by the handler or the record's message. */

static int
chat_worker_send_row(chat_worker_send_t *s, int64_t last,
    chat_store_msg_t *msg, char **media)
{
    *media = NULL;

    if (s->row != NULL) {
        return s->row(s, last, msg);
    }

    return chat_worker_send_msg(s, last + 1, msg, media);
}


/* Stores a new row: the dedupe key was free. */

static int
chat_worker_send_new(chat_worker_send_t *s)
{
    int               rc;
    char             *media;
    int64_t           last;
    chat_store_msg_t  msg;

    if (chat_store_conv_last_seq(s->store, s->rec->conv, &last)
        != CHAT_STORE_OK)
    {
        return chat_worker_send_fail(s->res, chat_store_errstr(s->store));
    }

    rc = chat_worker_send_row(s, last, &msg, &media);
    if (rc != CHAT_WORKER_SEND_ROW) {
        free(media);
        return rc;
    }

    rc = chat_store_insert_message(s->store, &msg);

    if (rc == CHAT_STORE_OK && s->also != NULL) {
        rc = s->also(s);
    }

    if (rc == CHAT_STORE_OK) {
        s->res->seq = msg.seq;
        rc = s->publish(s, &msg);

    } else if (rc == CHAT_STORE_EXISTS) {
        /* (conv, seq) and the dedupe key were free: another row has the
         * mid, which only a broken producer can do */
        s->res->reason = "\"mid\" belongs to another message";
        rc = CHAT_WORKER_SKIPPED;

    } else {
        rc = chat_worker_send_fail(s->res, chat_store_errstr(s->store));
    }

    free(media);

    return rc;
}


int
chat_worker_send(chat_worker_send_t *s)
{
    chat_store_msg_t  msg;

    switch (chat_worker_dedupe_find(s->store, s->rec, &msg)) {

    case CHAT_STORE_OK:
        /* a retry is published again: a first attempt may have died
         * between its store and its publish */
        s->res->duplicate = 1;
        s->res->seq = msg.seq;
        return s->publish(s, &msg);

    case CHAT_STORE_EXISTS:
        return chat_worker_dedupe_refuse(s->rec, s->out, s->res);

    case CHAT_STORE_NOT_FOUND:
        return chat_worker_send_new(s);
    }

    return chat_worker_send_fail(s->res, chat_store_errstr(s->store));
}
