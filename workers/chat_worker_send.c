/*
 * The write of a new row: dedupe, seq, insert, publish.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_worker_dedupe.h"
#include "chat_worker_send.h"


static int
chat_worker_send_fail(chat_worker_result_t *res, const char *reason)
{
    res->reason = reason;
    return CHAT_WORKER_FAILED;
}


/* The row of a send record at seq, its media as JSON text in *media (to
 * be freed; NULL when none). -1 when out of memory. */

static int
chat_worker_send_msg(const chat_record_t *rec, int64_t seq,
    chat_store_msg_t *msg, char **media)
{
    *media = NULL;

    if (rec->has_media) {
        *media = json_dumps(json_object_get(rec->root, "media"),
                            JSON_COMPACT);
        if (*media == NULL) {
            return -1;
        }
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
    msg->ts = rec->ts;

    return 0;
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

    if (chat_worker_send_msg(s->rec, last + 1, msg, media) != 0) {
        return chat_worker_send_fail(s->res, "out of memory");
    }

    return CHAT_WORKER_SEND_ROW;
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
