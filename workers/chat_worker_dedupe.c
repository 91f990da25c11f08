/*
 * Dedupe by client id, and the refusal of an id reused for another
 * request (chat_worker_dedupe.h).
 */

#include <string.h>

#include "chat_worker_dedupe.h"
#include "chat_worker_frame.h"


static int
chat_worker_dedupe_str_eq(chat_str_t a, chat_str_t b)
{
    return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}


/* 1 when the event row msg is the change the record asks: its body is
 * {"event":..,"members":[..]} for a group (chat_worker_group.c), and
 * {"event":"ttl","ttl":N} for a conv_set (chat_worker_conv.c). */

static int
chat_worker_dedupe_same_event(const chat_record_t *rec,
    const chat_store_msg_t *msg)
{
    int           same;
    json_t       *body, *ttl;
    const char   *event;
    json_error_t  jerr;

    body = json_loadb(msg->body.s, msg->body.len, 0, &jerr);
    event = json_string_value(json_object_get(body, "event"));

    if (rec->op == CHAT_RECORD_OP_CONV_SET) {
        ttl = json_object_get(body, "ttl");
        same = json_is_integer(ttl) && json_integer_value(ttl) == rec->ttl;

    } else {
        same = event != NULL
               && strcmp(event, chat_record_group_event[rec->action]) == 0;
    }

    json_decref(body);

    return same;
}


int
chat_worker_dedupe_find(chat_store_t *store, const chat_record_t *rec,
    chat_store_msg_t *msg)
{
    int         rc, kind;
    chat_str_t  sender, key;

    if (rec->op == CHAT_RECORD_OP_GROUP) {
        sender = rec->by;
        key = rec->client_id;
        kind = CHAT_STORE_KIND_GROUP;

    } else if (rec->op == CHAT_RECORD_OP_CONV_SET) {
        sender = rec->from;
        key = rec->client_id;
        kind = CHAT_STORE_KIND_CONV;

    } else {
        sender = rec->from;
        key = rec->id;
        kind = CHAT_STORE_KIND_MSG;
    }

    rc = chat_store_find_by_client_id(store, sender, key, msg);

    if (rc != CHAT_STORE_OK) {
        return rc;
    }

    if (msg->kind != kind || !chat_worker_dedupe_str_eq(msg->conv, rec->conv)
        || (kind != CHAT_STORE_KIND_MSG
            && !chat_worker_dedupe_same_event(rec, msg)))
    {
        return CHAT_STORE_EXISTS;
    }

    return CHAT_STORE_OK;
}


int
chat_worker_dedupe_refuse(const chat_record_t *rec,
    chat_worker_out_t *out, chat_worker_result_t *res)
{
    int         rc;
    json_t     *frame;
    chat_str_t  user, target;

    user = rec->op == CHAT_RECORD_OP_GROUP ? rec->by : rec->from;
    target = rec->conn.len ? rec->conn : CHAT_WORKER_TARGET_ALL;

    frame = chat_frame_error(rec->id, "bad_request",
                             "\"id\" names another request");
    if (frame == NULL) {
        res->reason = "out of memory";
        return CHAT_WORKER_FAILED;
    }

    rc = chat_worker_out_publish(out, user, target, frame);
    json_decref(frame);

    if (rc != 0) {
        res->reason = "out of memory";
        return CHAT_WORKER_FAILED;
    }

    res->refused = 1;
    res->reason = "\"id\" names another request";

    return CHAT_WORKER_SKIPPED;
}
