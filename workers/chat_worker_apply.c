/*
 * Applying one record: send and receipt here; groups in
 * chat_worker_group.c, conv_set in chat_worker_conv.c; sync and history,
 * which only read, in chat_worker_read.c.
 */

#include <string.h>

#include "chat_worker_apply.h"
#include "chat_worker_conv.h"
#include "chat_worker_frame.h"
#include "chat_worker_group.h"
#include "chat_worker_read.h"
#include "chat_worker_send.h"


/* A receipt whose range is wider than this tells every member rather than
 * have the store scan the range for its senders. */
#define CHAT_WORKER_RECEIPT_SCAN_MAX  10000


/* The state of a members() walk of a receipt. */
typedef struct {
    chat_worker_out_t     *out;
    chat_str_t             user;     /* by */
    json_t                *frame;
    json_t                *senders;  /* an object used as a set, or NULL
                                        for every member */
    int                    found;    /* by is a member */
} chat_worker_walk_t;


static int
chat_worker_apply_skip(chat_worker_result_t *res, const char *reason)
{
    res->reason = reason;
    return CHAT_WORKER_SKIPPED;
}


static int
chat_worker_apply_fail(chat_worker_result_t *res, const char *reason)
{
    res->reason = reason;
    return CHAT_WORKER_FAILED;
}


static int
chat_worker_apply_str_eq(chat_str_t a, chat_str_t b)
{
    return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}


/*
 * Publishes a stored DM message to every device of both its members, the
 * sender included: the publish of chat_worker_send(). A DM with media
 * names its connection: the module left its answer to this worker, which
 * alone knows whether the upload is still there, so "sent" goes first.
 */

static int
chat_worker_apply_fan_out(chat_worker_send_t *s, const chat_store_msg_t *msg)
{
    int                    rc;
    json_t                *frame;
    chat_conv_t            conv;
    chat_worker_out_t     *out = s->out;
    chat_worker_result_t  *res = s->res;

    if (chat_conv_parse(msg->conv.s, msg->conv.len, &conv) != 0
        || conv.kind != CHAT_CONV_DM)
    {
        /* the stored data, not the store, is wrong: retrying cannot help */
        return chat_worker_apply_skip(res, "stored message with a bad conv");
    }

    if (s->rec->conn.len) {
        rc = chat_worker_send_answer(s, chat_frame_sent(s->rec->id, msg->mid,
                                                        msg->conv, msg->ts));
        if (rc != CHAT_WORKER_APPLIED) {
            return rc;
        }
    }

    /* a retry of a message that has expired since: nothing to show */
    if (chat_worker_send_gone(s, msg)) {
        return CHAT_WORKER_APPLIED;
    }

    frame = chat_worker_frame_msg(msg, &s->limits->sign);
    if (frame == NULL) {
        return chat_worker_apply_fail(res, "cannot build a msg frame");
    }

    rc = chat_worker_out_publish(out, conv.a, CHAT_WORKER_TARGET_ALL, frame);
    if (rc == 0) {
        rc = chat_worker_out_publish(out, conv.b, CHAT_WORKER_TARGET_ALL,
                                     frame);
    }

    json_decref(frame);

    if (rc != 0) {
        return chat_worker_apply_fail(res, "out of memory");
    }

    return CHAT_WORKER_APPLIED;
}


/*
 * send: dedupe by (from, id) and what the id was for, else seq = last seq
 * + 1; store; publish the stored form either way (a first attempt may have
 * died between its store and its publish). An id that names another
 * request (a group change, a message of another conversation) is refused.
 */

static int
chat_worker_apply_send(chat_store_t *store, const chat_record_t *rec,
    const chat_worker_limits_t *limits, chat_worker_out_t *out,
    chat_worker_result_t *res)
{
    chat_worker_send_t  s = {
        .store = store, .rec = rec, .limits = limits, .out = out, .res = res,
        .publish = chat_worker_apply_fan_out
    };

    return chat_worker_send(&s);
}


static int
chat_worker_apply_is_member(chat_str_t user, void *data)
{
    chat_worker_walk_t  *walk = data;

    if (chat_worker_apply_str_eq(user, walk->user)) {
        walk->found = 1;
    }

    return 0;
}


static int
chat_worker_apply_to_others(chat_str_t user, void *data)
{
    chat_worker_walk_t  *walk = data;

    if (chat_worker_apply_str_eq(user, walk->user)) {
        return 0;
    }

    if (walk->senders != NULL
        && json_object_getn(walk->senders, user.s, user.len) == NULL)
    {
        return 0;
    }

    return chat_worker_out_publish(walk->out, user, CHAT_WORKER_TARGET_ALL,
                                   walk->frame);
}


static int
chat_worker_apply_sender(chat_str_t user, void *data)
{
    json_t  *senders = data;

    return json_object_setn_new(senders, user.s, user.len, json_true());
}


/*
 * The senders of the messages a raised watermark covers, (before, seq]:
 * those a receipt concerns (docs/PROTOCOL.md section 4). NULL in *senders, for
 * every member, when the range is too wide to scan.
 */

static int
chat_worker_apply_senders(chat_store_t *store,
    const chat_record_t *rec, const chat_store_marks_t *marks,
    int64_t seq, json_t **senders)
{
    int64_t  before;

    before = rec->status == CHAT_RECEIPT_READ ? marks->read_before
                                              : marks->delivered_before;

    *senders = NULL;

    if (seq - before > CHAT_WORKER_RECEIPT_SCAN_MAX) {
        return CHAT_STORE_OK;
    }

    *senders = json_object();
    if (*senders == NULL) {
        return CHAT_STORE_ERROR;
    }

    return chat_store_senders(store, rec->conv, before, seq,
                              chat_worker_apply_sender, *senders);
}


/*
 * A receipt by one who is not a member: in a group, the connection that
 * sent it is told "forbidden" (docs/PROTOCOL.md 3); anything else is skipped.
 */

static int
chat_worker_apply_not_member(const chat_record_t *rec,
    chat_worker_out_t *out, chat_worker_result_t *res)
{
    int      rc;
    json_t  *frame;

    if (rec->conv_parsed.kind != CHAT_CONV_GROUP || rec->conn.len == 0) {
        return chat_worker_apply_skip(res, "\"by\" is not a member of "
                                      "\"conv\"");
    }

    frame = chat_frame_error(rec->id, "forbidden",
                             "not a member of this group");
    if (frame == NULL) {
        return chat_worker_apply_fail(res, "out of memory");
    }

    rc = chat_worker_out_publish(out, rec->by, rec->conn, frame);
    json_decref(frame);

    if (rc != 0) {
        return chat_worker_apply_fail(res, "out of memory");
    }

    res->refused = 1;
    res->reason = "\"by\" is not a member of \"conv\"";

    return CHAT_WORKER_APPLIED;
}


/*
 * receipt: only a member's; seq clamped to the conversation's last seq;
 * published only when a watermark rose, to the other members who sent a
 * message it newly covers.
 */

static int
chat_worker_apply_receipt(chat_store_t *store,
    const chat_record_t *rec, chat_worker_out_t *out,
    chat_worker_result_t *res)
{
    int                  rc;
    int64_t              last;
    chat_store_marks_t   marks;
    chat_worker_walk_t   walk;

    memset(&walk, 0, sizeof(walk));
    walk.out = out;
    walk.user = rec->by;

    if (chat_store_members(store, rec->conv, chat_worker_apply_is_member,
                           &walk) != CHAT_STORE_OK
        || chat_store_conv_last_seq(store, rec->conv, &last) != CHAT_STORE_OK)
    {
        return chat_worker_apply_fail(res, chat_store_errstr(store));
    }

    if (!walk.found) {
        return chat_worker_apply_not_member(rec, out, res);
    }

    res->seq = rec->seq < last ? rec->seq : last;

    if (chat_store_raise_watermark(store, rec->conv, rec->by, rec->status,
                                   res->seq, &marks) != CHAT_STORE_OK)
    {
        return chat_worker_apply_fail(res, chat_store_errstr(store));
    }

    res->rose = marks.rose;

    if (!marks.rose) {
        return CHAT_WORKER_APPLIED;
    }

    if (chat_worker_apply_senders(store, rec, &marks, res->seq,
                                  &walk.senders) != CHAT_STORE_OK)
    {
        json_decref(walk.senders);
        return chat_worker_apply_fail(res, "cannot read the senders of a "
                                      "receipt");
    }

    walk.frame = chat_frame_receipt(rec->conv, rec->status, res->seq,
                                    rec->by, rec->ts);

    rc = walk.frame ? chat_store_members(store, rec->conv,
                                         chat_worker_apply_to_others, &walk)
                    : CHAT_STORE_ERROR;

    json_decref(walk.frame);
    json_decref(walk.senders);

    if (rc != CHAT_STORE_OK) {
        return chat_worker_apply_fail(res, "out of memory");
    }

    return CHAT_WORKER_APPLIED;
}


static int
chat_worker_apply_op(chat_store_t *store, const chat_record_t *rec,
    const chat_worker_limits_t *limits, chat_worker_out_t *out,
    chat_worker_result_t *res)
{
    switch (rec->op) {

    case CHAT_RECORD_OP_SEND:
        if (rec->conv_parsed.kind == CHAT_CONV_GROUP) {
            return chat_worker_group_send(store, rec, limits, out, res);
        }

        return chat_worker_apply_send(store, rec, limits, out, res);

    case CHAT_RECORD_OP_GROUP:
        return chat_worker_group_change(store, rec, limits, out, res);

    case CHAT_RECORD_OP_CONV_SET:
        return chat_worker_conv_set(store, rec, limits, out, res);

    case CHAT_RECORD_OP_RECEIPT:
        return chat_worker_apply_receipt(store, rec, out, res);

    case CHAT_RECORD_OP_SYNC:
        return chat_worker_read_sync(store, rec, limits, out, res);

    case CHAT_RECORD_OP_HISTORY:
        return chat_worker_read_history(store, rec, limits, out, res);
    }

    return chat_worker_apply_skip(res, "unknown op");
}


int
chat_worker_apply(chat_store_t *store, const chat_record_t *rec,
    const chat_worker_limits_t *limits, chat_worker_out_t *out,
    chat_worker_result_t *res)
{
    int     rc;
    size_t  npubs;

    memset(res, 0, sizeof(*res));
    npubs = out->npubs;

    rc = chat_worker_apply_op(store, rec, limits, out, res);

    res->published = out->npubs - npubs;

    return rc;
}
