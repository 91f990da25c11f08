/*
 * Answering sync and history: pages bounded by a count and by bytes, so
 * that an answer never floods the module's send budget of the connection.
 */

#include <string.h>

#include "chat_worker_frame.h"
#include "chat_worker_read.h"


/* A page being filled from the rows of the store. */
typedef struct {
    const chat_worker_sign_t  *sign;    /* the frames' media URLs */
    int64_t                    limit;   /* messages */
    int64_t                    room;    /* bytes still free */
    int64_t                    n;       /* messages taken */
    int                        more;    /* a message is left for a next
                                           page */
} chat_worker_page_t;

/* The state of a pending() walk: one page of a sync. */
typedef struct {
    chat_worker_page_t  page;
    chat_worker_out_t  *out;
    chat_str_t          user;
    chat_str_t          target;
    int64_t             last_seq;   /* the last message published */
    size_t              last_conv_len;
    char                last_conv[CHAT_CONV_MAX];
} chat_worker_sync_walk_t;

/* The state of a history() walk: rows come newest first. */
typedef struct {
    chat_worker_page_t  page;
    json_t             *messages;   /* oldest first */
} chat_worker_history_walk_t;


static int
chat_worker_read_fail(chat_worker_result_t *res, const char *reason)
{
    res->reason = reason;
    return CHAT_WORKER_FAILED;
}


/*
 * Takes the next row into the page: 0 with its msg frame in *frame (to be
 * freed), CHAT_STORE_STOP when the page is full, -1 when out of memory.
 * extra counts bytes besides the frame (a separator).
 *
 * The store is asked one row more than the limit: that row is not taken,
 * it only tells that more remain. A page holds one message at least, so
 * that a message larger than the room still goes.
 */

static int
chat_worker_read_take(chat_worker_page_t *page, const chat_store_msg_t *msg,
    size_t extra, json_t **frame)
{
    int64_t  size;

    if (page->n == page->limit) {
        page->more = 1;
        return CHAT_STORE_STOP;
    }

    *frame = chat_worker_frame_msg(msg, page->sign);
    if (*frame == NULL) {
        return -1;
    }

    size = (int64_t) (chat_worker_frame_size(*frame) + extra);

    if (page->n > 0 && size > page->room) {
        json_decref(*frame);
        page->more = 1;
        return CHAT_STORE_STOP;
    }

    page->n++;
    page->room -= size;

    return 0;
}


static int
chat_worker_read_pending_one(const chat_store_msg_t *msg, void *data)
{
    int                       rc;
    json_t                   *frame;
    chat_worker_sync_walk_t  *walk = data;

    if (msg->conv.len > sizeof(walk->last_conv)) {
        return -1;
    }

    rc = chat_worker_read_take(&walk->page, msg, 0, &frame);
    if (rc != 0) {
        return rc;
    }

    rc = chat_worker_out_publish(walk->out, walk->user, walk->target, frame);

    json_decref(frame);

    walk->last_seq = msg->seq;
    walk->last_conv_len = msg->conv.len;
    memcpy(walk->last_conv, msg->conv.s, msg->conv.len);

    return rc;
}


int
chat_worker_read_sync(chat_store_t *store, const chat_record_t *rec,
    const chat_worker_limits_t *limits, chat_worker_out_t *out,
    chat_worker_result_t *res)
{
    int                      rc;
    json_t                  *marker;
    chat_str_t               last;
    chat_worker_sync_walk_t  walk;

    memset(&walk, 0, sizeof(walk));
    walk.page.sign = &limits->sign;
    walk.page.limit = limits->sync_limit;
    walk.page.room = rec->max_bytes;
    walk.out = out;
    walk.user = rec->user;
    walk.target = rec->conn;

    if (chat_store_pending(store, rec->user, rec->after_conv, rec->after_seq,
                           limits->sync_limit + 1, limits->now_ms,
                           chat_worker_read_pending_one, &walk)
        != CHAT_STORE_OK)
    {
        return chat_worker_read_fail(res, chat_store_errstr(store));
    }

    if (walk.page.more) {
        last.s = walk.last_conv;
        last.len = walk.last_conv_len;
        marker = chat_frame_sync_more(last, walk.last_seq);

    } else {
        marker = chat_frame_sync_done();
    }

    if (marker == NULL) {
        return chat_worker_read_fail(res, "out of memory");
    }

    rc = chat_worker_out_publish(out, rec->user, rec->conn, marker);

    json_decref(marker);

    if (rc != 0) {
        return chat_worker_read_fail(res, "out of memory");
    }

    return CHAT_WORKER_APPLIED;
}


/* Rows come newest first: what does not fit is the oldest, and is dropped.
 * Each message counts its frame and the comma before the next. */

static int
chat_worker_read_history_one(const chat_store_msg_t *msg, void *data)
{
    int                          rc;
    json_t                      *frame;
    chat_worker_history_walk_t  *walk = data;

    rc = chat_worker_read_take(&walk->page, msg, 1, &frame);
    if (rc != 0) {
        return rc;
    }

    return json_array_insert_new(walk->messages, 0, frame);
}


/*
 * The answer of a history record: the history frame, or the error
 * forbidden. A party of a DM may read it before its first message (the
 * conversation and its members come with that message).
 */

static json_t *
chat_worker_read_history_frame(chat_store_t *store,
    const chat_record_t *rec, const chat_worker_limits_t *limits,
    chat_worker_result_t *res)
{
    int                          rc;
    json_t                      *frame;
    chat_worker_history_walk_t   walk;

    memset(&walk, 0, sizeof(walk));
    walk.page.sign = &limits->sign;
    walk.page.limit = rec->limit;

    walk.messages = json_array();
    frame = chat_frame_history(rec->id, rec->conv, walk.messages);
    json_decref(walk.messages);

    if (frame == NULL) {
        res->reason = "out of memory";
        return NULL;
    }

    /* the frame as it is now, with "more":false, is the envelope */
    walk.page.room = rec->max_bytes
                     - (int64_t) chat_worker_frame_size(frame);

    /* a client reads messages; a connection filling a gap, the log */
    rc = rec->events
         ? chat_store_log(store, rec->conv, rec->user, rec->before_seq,
                          rec->limit + 1, limits->now_ms,
                          chat_worker_read_history_one, &walk)
         : chat_store_history(store, rec->conv, rec->user, rec->before_seq,
                              CHAT_STORE_NEWEST, rec->limit + 1,
                              limits->now_ms,
                              chat_worker_read_history_one, &walk);

    if (rc == CHAT_STORE_NOT_FOUND
        && !chat_conv_dm_has(&rec->conv_parsed, rec->user))
    {
        json_decref(frame);
        return chat_frame_error(rec->id, "forbidden",
                                "not a member of this conversation");
    }

    if (rc != CHAT_STORE_OK && rc != CHAT_STORE_NOT_FOUND) {
        json_decref(frame);
        res->reason = chat_store_errstr(store);
        return NULL;
    }

    if (json_object_set_new(frame, "more", json_boolean(walk.page.more))
        != 0)
    {
        json_decref(frame);
        res->reason = "out of memory";
        return NULL;
    }

    return frame;
}


int
chat_worker_read_history(chat_store_t *store,
    const chat_record_t *rec, const chat_worker_limits_t *limits,
    chat_worker_out_t *out, chat_worker_result_t *res)
{
    int      rc;
    json_t  *frame;

    frame = chat_worker_read_history_frame(store, rec, limits, res);

    if (frame == NULL) {
        return chat_worker_read_fail(res, res->reason ? res->reason
                                                      : "out of memory");
    }

    rc = chat_worker_out_publish(out, rec->user, rec->conn, frame);

    json_decref(frame);

    if (rc != 0) {
        return chat_worker_read_fail(res, "out of memory");
    }

    return CHAT_WORKER_APPLIED;
}
