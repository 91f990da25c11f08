/*
 * conv_set (chat_worker_conv.h): written by chat_worker_send() like a
 * group change, with the handlers below, so that the single writer of the
 * conversation's partition orders it with the messages: one accepted
 * before it keeps its expires (or none), one accepted after it gets the
 * new one.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_worker_conv.h"
#include "chat_worker_send.h"


/* The setter among the current members of a group. */
typedef struct {
    chat_str_t  user;
    int         member;
    int         admin;
} chat_worker_conv_rights_t;

/* The state of a conv event's fan-out over the members. */
typedef struct {
    chat_worker_out_t  *out;
    const json_t       *frame;
    size_t              first;      /* the publish that serialized it */
} chat_worker_conv_walk_t;


static int
chat_worker_conv_fail(chat_worker_result_t *res, const char *reason)
{
    res->reason = reason;
    return CHAT_WORKER_FAILED;
}


static int
chat_worker_conv_rights_one(const chat_store_member_t *m, void *data)
{
    chat_worker_conv_rights_t  *r = data;

    if (m->user.len == r->user.len
        && memcmp(m->user.s, r->user.s, m->user.len) == 0)
    {
        r->member = 1;
        r->admin = m->admin;
    }

    return 0;
}


/*
 * Whether the setter may set the conversation's ttl: CHAT_WORKER_SEND_ROW
 * when they may, else the record's code, refused with the error (or
 * FAILED when the store failed).
 */

static int
chat_worker_conv_may(chat_worker_send_t *s)
{
    int64_t                     last;
    const chat_record_t        *rec = s->rec;
    chat_worker_conv_rights_t   r;

    if (rec->conv_parsed.kind == CHAT_CONV_DM) {
        return chat_conv_dm_has(&rec->conv_parsed, rec->from)
               ? CHAT_WORKER_SEND_ROW
               : chat_worker_send_refuse(s, "forbidden", "not a member of "
                                         "this conversation");
    }

    memset(&r, 0, sizeof(r));
    r.user = rec->from;

    if (chat_store_roster(s->store, rec->conv, chat_worker_conv_rights_one,
                          &r) != CHAT_STORE_OK)
    {
        return chat_worker_conv_fail(s->res, chat_store_errstr(s->store));
    }

    if (r.admin) {
        return CHAT_WORKER_SEND_ROW;
    }

    if (r.member) {
        return chat_worker_send_refuse(s, "forbidden", "only an admin of the "
                                       "group may do this");
    }

    /* a group exists from its creation, the row at seq 1 */
    if (chat_store_conv_last_seq(s->store, rec->conv, &last) != CHAT_STORE_OK)
    {
        return chat_worker_conv_fail(s->res, chat_store_errstr(s->store));
    }

    return last == 0
           ? chat_worker_send_refuse(s, "not_found", "no such group")
           : chat_worker_send_refuse(s, "forbidden", "not a member of this "
                                     "group");
}


/* The conv_set's row at last + 1 (chat_worker_send()): its body
 * {"event":"ttl","ttl":N} in the buffer data points to. */

static int
chat_worker_conv_row(chat_worker_send_t *s, int64_t last,
    chat_store_msg_t *msg)
{
    json_t               *body;
    char                **text = s->data;
    const chat_record_t  *rec = s->rec;

    body = json_pack("{s:s, s:I}", "event", "ttl", "ttl",
                     (json_int_t) rec->ttl);

    *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    if (*text == NULL) {
        return chat_worker_conv_fail(s->res, "out of memory");
    }

    memset(msg, 0, sizeof(*msg));
    msg->kind = CHAT_STORE_KIND_CONV;
    msg->conv = rec->conv;
    msg->seq = last + 1;
    msg->mid = rec->mid;
    msg->sender = rec->from;
    msg->client_id = rec->client_id;
    msg->body.s = *text;
    msg->body.len = strlen(*text);
    msg->ts = rec->ts;

    return CHAT_WORKER_SEND_ROW;
}


/* Beside the row, in the same transaction: the ttl the messages accepted
 * from now on get. */

static int
chat_worker_conv_also(chat_worker_send_t *s)
{
    return chat_store_conv_set_ttl(s->store, s->rec->conv, s->rec->ttl);
}


/* Publishes the event to every device of user; the first publish
 * serializes it, the others share its bytes. */

static int
chat_worker_conv_to(chat_str_t user, void *data)
{
    chat_worker_conv_walk_t  *walk = data;

    if (walk->out->npubs == walk->first) {
        return chat_worker_out_publish(walk->out, user,
                                       CHAT_WORKER_TARGET_ALL, walk->frame);
    }

    return chat_worker_out_publish_same(walk->out, user, walk->first);
}


/* The event of the stored row to every member: both of a DM, the current
 * members of a group. */

static int
chat_worker_conv_fan_out(chat_worker_send_t *s, const chat_store_msg_t *msg)
{
    int                       rc;
    json_t                   *frame;
    const chat_conv_t        *conv = &s->rec->conv_parsed;
    chat_worker_conv_walk_t   walk;

    frame = chat_worker_frame_msg(msg, &s->limits->sign);
    if (frame == NULL) {
        return chat_worker_conv_fail(s->res, "cannot build the frame of a "
                                     "stored row");
    }

    walk.out = s->out;
    walk.frame = frame;
    walk.first = s->out->npubs;

    if (conv->kind == CHAT_CONV_DM) {
        rc = chat_worker_conv_to(conv->a, &walk) == 0
             && chat_worker_conv_to(conv->b, &walk) == 0
             ? CHAT_STORE_OK : CHAT_STORE_ERROR;

    } else {
        rc = chat_store_members(s->store, s->rec->conv, chat_worker_conv_to,
                                &walk);
    }

    json_decref(frame);

    return rc == CHAT_STORE_OK ? CHAT_WORKER_APPLIED
                               : chat_worker_conv_fail(s->res, "out of "
                                                       "memory");
}


/* The publish (chat_worker_send()): conv_ok with the row's seq to the
 * setter's connection, then the event to the members; a retry alike. */

static int
chat_worker_conv_publish(chat_worker_send_t *s, const chat_store_msg_t *msg)
{
    int  rc;

    rc = chat_worker_send_answer(s, chat_frame_conv_ok(s->rec->id,
                                                       s->rec->conv,
                                                       msg->seq));
    if (rc != CHAT_WORKER_APPLIED) {
        return rc;
    }

    return chat_worker_conv_fan_out(s, msg);
}


int
chat_worker_conv_set(chat_store_t *store, const chat_record_t *rec,
    const chat_worker_limits_t *limits, chat_worker_out_t *out,
    chat_worker_result_t *res)
{
    int                 rc;
    char               *body;
    chat_worker_send_t  s = {
        .store = store, .rec = rec, .limits = limits, .out = out, .res = res,
        .data = &body,
        .row = chat_worker_conv_row,
        .also = chat_worker_conv_also,
        .publish = chat_worker_conv_publish
    };

    body = NULL;

    /* the right first, whatever the fields: no one else learns anything
     * of the conversation, nor replays a row through an id */
    rc = chat_worker_conv_may(&s);
    if (rc != CHAT_WORKER_SEND_ROW) {
        return rc;
    }

    if (rec->ttl == CHAT_PROTO_TTL_BAD) {
        return chat_worker_send_refuse(&s, "bad_request", "\"ttl\" must be "
                                       "an integer of seconds, 0 to 7776000");
    }

    rc = chat_worker_send(&s);

    free(body);

    return rc;
}
