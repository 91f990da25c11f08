/*
 * One connection sees each message once, in seq order (PROTOCOL.md section
 * 5): the last filter before a frame of a conversation reaches the socket.
 *
 * Per connection and per conversation it remembers the highest seq sent
 * (msg and group frames share the conversation's sequence) and drops every
 * frame at or below it: a live copy of what a sync page already delivered,
 * a worker's replay. Seqs are gapless per conversation, so a live frame
 * that skips one tells that a publish was lost (Redis restarted, ...):
 * that conversation's later frames wait on this connection while the gap
 * is read through the log (a history record of the conversation, answered
 * by its worker in order with its writes, like any history request). What
 * the answer does not hold for a missing seq is not for this user (a group
 * event before they joined, ...): the gap is closed all the same. A gap no
 * answer fills within NGX_CHAT_ORDER_TRIES sync timeouts makes the
 * connection sync again (its pending messages), after which what waits is
 * released in order, never out of it.
 *
 * Receipts carry a watermark, not a seq of the conversation: never dropped,
 * but they wait behind a gap in their conversation like everything else.
 *
 * Frames of a sync page (pending messages) pass the same way. A page skips
 * the user's own messages: in a conversation this connection has seen
 * before, that is a gap too, and reading it brings them (every device of a
 * sender gets its messages), one read for up to NGX_CHAT_ORDER_FILL seqs.
 *
 * Memory: nothing for a connection until its first frame of a
 * conversation; then one small heap block (~100 bytes) per conversation,
 * at most NGX_CHAT_ORDER_CONVS of them: the one least recently used without
 * anything waiting is forgotten for a new one. Only a replay or a late
 * sync page of a conversation forgotten that way could repeat a frame on
 * this connection, as after a reconnect.
 */

#include "ngx_chat_module.h"


#define NGX_CHAT_ORDER_CONVS   64      /* conversations tracked per conn */
#define NGX_CHAT_ORDER_FILL    100     /* seqs per gap request (history) */
#define NGX_CHAT_ORDER_TRIES   6       /* gap requests before a re-sync */

#define NGX_CHAT_ORDER_ID      "~gap:"

#define NGX_CHAT_ORDER_MSG     "{\"type\":\"msg\","
#define NGX_CHAT_ORDER_GROUP   "{\"type\":\"group\","
#define NGX_CHAT_ORDER_RECEIPT "{\"type\":\"receipt\","
#define NGX_CHAT_ORDER_ANSWER  "{\"type\":\"history\",\"id\":\"" \
                               NGX_CHAT_ORDER_ID
#define NGX_CHAT_ORDER_ERROR   "{\"type\":\"error\",\"id\":\"" \
                               NGX_CHAT_ORDER_ID

#define ngx_chat_order_prefix(frame, p)                                       \
    ((frame)->len > sizeof(p) - 1                                             \
     && ngx_strncmp((frame)->data, p, sizeof(p) - 1) == 0)


/* A conversation of one connection. */
typedef struct {
    ngx_queue_t           link;             /* most recently used first */
    int64_t               highest;          /* sent; 0: nothing yet */
    ngx_chat_held_t      *held;             /* behind a gap, by seq */

    int64_t               fill_before;      /* it asks for (highest, this) */
    ngx_msec_t            retry_at;
    uint32_t              fill;             /* request in flight; 0: none */
    uint32_t              hash;
    uint16_t              fill_limit;
    uint8_t               tries;
    uint8_t               given_up;         /* until the re-sync is done */

    uint8_t               conv_len;
    u_char                conv[1];
} ngx_chat_order_conv_t;


struct ngx_chat_order_s {
    ngx_queue_t           convs;
    ngx_uint_t            nconvs;
    ngx_uint_t            gaps;             /* convs with frames held */
    uint32_t              last_fill;        /* numbers the requests */
    size_t                held_bytes;
};


static ngx_int_t ngx_chat_order_scan(ngx_str_t *frame, ngx_str_t *conv,
    int64_t *seq);
static u_char *ngx_chat_order_member(ngx_str_t *frame, const char *key,
    size_t len);
static ngx_chat_order_conv_t *ngx_chat_order_conv(ngx_chat_conn_t *cc,
    ngx_str_t *conv);
static ngx_int_t ngx_chat_order_hold(ngx_chat_conn_t *cc,
    ngx_chat_order_conv_t *oc, ngx_str_t *frame, int64_t seq);
static void ngx_chat_order_release(ngx_chat_conn_t *cc,
    ngx_chat_order_conv_t *oc, int64_t below);
static void ngx_chat_order_drain(ngx_chat_conn_t *cc,
    ngx_chat_order_conv_t *oc);
static void ngx_chat_order_ask(ngx_chat_conn_t *cc,
    ngx_chat_order_conv_t *oc);
static void ngx_chat_order_fill(ngx_chat_conn_t *cc,
    ngx_chat_order_conv_t *oc, json_t *messages, ngx_uint_t more);
static void ngx_chat_order_close_gap(ngx_chat_conn_t *cc,
    ngx_chat_order_conv_t *oc);
static void ngx_chat_order_give_up(ngx_chat_conn_t *cc,
    ngx_chat_order_conv_t *oc);
static void ngx_chat_order_settled(ngx_chat_conn_t *cc,
    ngx_chat_order_conv_t *oc);


/*
 * A frame for cc (live, or of a sync page), in the order it came: sent,
 * dropped or held. NGX_OK: it went to the socket now.
 */
ngx_int_t
ngx_chat_order_deliver(ngx_chat_conn_t *cc, ngx_str_t *frame)
{
    int64_t                 seq;
    ngx_str_t               conv;
    ngx_int_t               rc;
    ngx_chat_order_conv_t  *oc;

    if (!ngx_chat_order_prefix(frame, NGX_CHAT_ORDER_MSG)
        && !ngx_chat_order_prefix(frame, NGX_CHAT_ORDER_GROUP)
        && !ngx_chat_order_prefix(frame, NGX_CHAT_ORDER_RECEIPT))
    {
        return ngx_chat_ws_send(cc, CHAT_WS_OP_TEXT, frame->data, frame->len);
    }

    if (ngx_chat_order_scan(frame, &conv, &seq) != NGX_OK) {
        return ngx_chat_ws_send(cc, CHAT_WS_OP_TEXT, frame->data, frame->len);
    }

    if (ngx_chat_order_prefix(frame, NGX_CHAT_ORDER_RECEIPT)) {
        seq = 0;        /* a watermark, not a place in the sequence */
    }

    oc = ngx_chat_order_conv(cc, &conv);

    if (oc == NULL) {
        /* not tracked (every slot waits on a gap, or no memory) */
        return ngx_chat_ws_send(cc, CHAT_WS_OP_TEXT, frame->data, frame->len);
    }

    if (seq && seq <= oc->highest) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                       "chat: seq %L dropped, %L was sent", seq, oc->highest);
        ngx_chat_stat_inc(NGX_CHAT_STAT_ORDER_REPEATS);
        return NGX_DECLINED;
    }

    if (oc->held == NULL
        && (seq == 0 || oc->highest == 0 || seq == oc->highest + 1))
    {
        if (seq) {
            oc->highest = seq;
        }

        return ngx_chat_ws_send(cc, CHAT_WS_OP_TEXT, frame->data, frame->len);
    }

    rc = ngx_chat_order_hold(cc, oc, frame, seq);

    if (rc == NGX_OK) {
        ngx_chat_order_drain(cc, oc);
        return NGX_DECLINED;
    }

    /* over the bound, or no memory: what waits goes now, in order */
    ngx_log_error(NGX_LOG_WARN, cc->connection->log, 0,
                  "chat: too much held behind a gap in \"%*s\" after seq %L; "
                  "releasing it past the gap", (size_t) oc->conv_len,
                  oc->conv, oc->highest);

    ngx_chat_order_close_gap(cc, oc);

    if (seq && seq <= oc->highest) {
        return NGX_DECLINED;
    }

    if (seq) {
        oc->highest = seq;
    }

    return ngx_chat_ws_send(cc, CHAT_WS_OP_TEXT, frame->data, frame->len);
}


/*
 * The conversation and seq of a msg, group or receipt frame, found without
 * parsing it all (a body may be 64 KiB): the frame is compact JSON from a
 * worker, whose members no user names, so the bytes "conv":" can only
 * start that member (inside a string, each quote is escaped), and the
 * worker writes it and seq before the body (chat_worker_frame.c).
 */
static ngx_int_t
ngx_chat_order_scan(ngx_str_t *frame, ngx_str_t *conv, int64_t *seq)
{
    u_char  *p, *end, *start;
    int64_t  n;

    end = frame->data + frame->len;

    p = ngx_chat_order_member(frame, "\"conv\":\"", sizeof("\"conv\":\"") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    for (start = p; p < end && *p != '"'; p++) {
        if (*p == '\\') {
            return NGX_ERROR;       /* no conversation id needs escaping */
        }
    }

    if (p == end || p == start || p - start > CHAT_CONV_MAX) {
        return NGX_ERROR;
    }

    conv->data = start;
    conv->len = p - start;

    p = ngx_chat_order_member(frame, "\"seq\":", sizeof("\"seq\":") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    for (n = 0, start = p; p < end && *p >= '0' && *p <= '9'; p++) {
        if (p - start == 18) {
            return NGX_ERROR;       /* past any seq */
        }

        n = n * 10 + (*p - '0');
    }

    if (n < 1) {
        return NGX_ERROR;
    }

    *seq = n;

    return NGX_OK;
}


/* Where the value of the first member named so starts, or NULL. */
static u_char *
ngx_chat_order_member(ngx_str_t *frame, const char *key, size_t len)
{
    u_char  *p;

    /* JSON escapes a NUL byte, so the search does not stop short */
    p = ngx_strnstr(frame->data, (char *) key, frame->len);

    return p ? p + len : NULL;
}


/*
 * The conversation's entry, made on its first frame; NULL when it cannot
 * be tracked. Finding it makes it the most recently used.
 */
static ngx_chat_order_conv_t *
ngx_chat_order_conv(ngx_chat_conn_t *cc, ngx_str_t *conv)
{
    uint32_t                hash;
    ngx_queue_t            *q;
    ngx_chat_order_t       *o;
    ngx_chat_order_conv_t  *oc;

    o = cc->order;

    if (o == NULL) {
        o = ngx_alloc(sizeof(ngx_chat_order_t), cc->connection->log);
        if (o == NULL) {
            return NULL;
        }

        ngx_memzero(o, sizeof(ngx_chat_order_t));
        ngx_queue_init(&o->convs);
        cc->order = o;
    }

    hash = ngx_crc32_short(conv->data, conv->len);

    for (q = ngx_queue_head(&o->convs);
         q != ngx_queue_sentinel(&o->convs);
         q = ngx_queue_next(q))
    {
        oc = ngx_queue_data(q, ngx_chat_order_conv_t, link);

        if (oc->hash == hash && oc->conv_len == conv->len
            && ngx_memcmp(oc->conv, conv->data, conv->len) == 0)
        {
            ngx_queue_remove(q);
            ngx_queue_insert_head(&o->convs, q);
            return oc;
        }
    }

    if (o->nconvs == NGX_CHAT_ORDER_CONVS) {
        /* forget the least recently used that has nothing waiting */
        for (q = ngx_queue_last(&o->convs);
             q != ngx_queue_sentinel(&o->convs);
             q = ngx_queue_prev(q))
        {
            oc = ngx_queue_data(q, ngx_chat_order_conv_t, link);

            if (oc->held == NULL) {
                ngx_queue_remove(q);
                ngx_free(oc);
                o->nconvs--;
                break;
            }
        }

        if (o->nconvs == NGX_CHAT_ORDER_CONVS) {
            return NULL;
        }
    }

    oc = ngx_alloc(sizeof(ngx_chat_order_conv_t) + conv->len,
                   cc->connection->log);
    if (oc == NULL) {
        return NULL;
    }

    ngx_memzero(oc, sizeof(ngx_chat_order_conv_t));
    oc->hash = hash;
    oc->conv_len = conv->len;
    ngx_memcpy(oc->conv, conv->data, conv->len);

    ngx_queue_insert_head(&o->convs, &oc->link);
    o->nconvs++;

    return oc;
}


/*
 * Holds a frame behind the conversation's gap, in seq order (a receipt,
 * seq 0, after what came before it); one copy per seq. NGX_DECLINED: over
 * the connection's send budget, or no memory.
 */
static ngx_int_t
ngx_chat_order_hold(ngx_chat_conn_t *cc, ngx_chat_order_conv_t *oc,
    ngx_str_t *frame, int64_t seq)
{
    ngx_chat_held_t   *h, **pos;
    ngx_chat_order_t  *o;

    o = cc->order;

    for (pos = &oc->held; *pos; pos = &(*pos)->next) {
        if (seq && (*pos)->seq == seq) {
            return NGX_OK;      /* a replay of one already held */
        }

        if (seq && (*pos)->seq > seq) {
            break;
        }
    }

    if (o->held_bytes + frame->len > cc->conf->send_budget) {
        return NGX_DECLINED;
    }

    h = ngx_alloc(sizeof(ngx_chat_held_t) + frame->len, cc->connection->log);
    if (h == NULL) {
        return NGX_DECLINED;
    }

    h->seq = seq;
    h->len = frame->len;
    ngx_memcpy(h->data, frame->data, frame->len);

    if (oc->held == NULL) {
        o->gaps++;
        ngx_chat_stat_inc(NGX_CHAT_STAT_ORDER_GAPS);
        ngx_log_error(NGX_LOG_INFO, cc->connection->log, 0,
                      "chat: seq %L of \"%*s\" came after seq %L: "
                      "holding it until the gap is read",
                      seq, (size_t) oc->conv_len, oc->conv, oc->highest);
    }

    h->next = *pos;
    *pos = h;
    o->held_bytes += frame->len;

    return NGX_OK;
}


/*
 * Sends held frames from the head: those with a seq below `below`, or with
 * below 0, those that follow the highest sent without a gap; a receipt
 * goes with what came before it. Emptied, the conversation is settled.
 */
static void
ngx_chat_order_release(ngx_chat_conn_t *cc, ngx_chat_order_conv_t *oc,
    int64_t below)
{
    ngx_chat_held_t  *h;

    if (oc->held == NULL) {
        return;
    }

    while (oc->held) {
        h = oc->held;

        if (h->seq && h->seq >= (below ? below : oc->highest + 2)) {
            return;
        }

        oc->held = h->next;
        cc->order->held_bytes -= h->len;

        if (h->seq == 0 || h->seq > oc->highest) {
            if (h->seq) {
                oc->highest = h->seq;
            }

            (void) ngx_chat_ws_send(cc, CHAT_WS_OP_TEXT, h->data, h->len);
        }

        ngx_free(h);
    }

    ngx_chat_order_settled(cc, oc);
}


/*
 * Sends what the gap no longer holds back: frames up to the first seq
 * still missing. With frames still held, the gap is asked for.
 */
static void
ngx_chat_order_drain(ngx_chat_conn_t *cc, ngx_chat_order_conv_t *oc)
{
    ngx_chat_order_release(cc, oc, 0);

    if (oc->held && !oc->given_up
        && (oc->fill == 0 || oc->fill_before <= oc->highest + 1))
    {
        ngx_chat_order_ask(cc, oc);
    }
}


/*
 * Asks the conversation's worker for the seqs above the highest sent, up to
 * the last one held (at most NGX_CHAT_ORDER_FILL of them, fewer after an
 * answer cut short): a history record, answered on the user's channel to
 * this connection. Held frames it covers again are merged with it.
 */
static void
ngx_chat_order_ask(ngx_chat_conn_t *cc, ngx_chat_order_conv_t *oc)
{
    int64_t            missing;
    ngx_str_t          conv;
    ngx_chat_held_t   *h;
    ngx_chat_order_t  *o;

    o = cc->order;
    missing = 0;

    for (h = oc->held; h; h = h->next) {
        missing = ngx_max(missing, h->seq - oc->highest - 1);
    }

    if (oc->fill_limit == 0 || oc->fill_limit > missing) {
        oc->fill_limit = ngx_min(missing, NGX_CHAT_ORDER_FILL);
    }

    oc->fill_before = oc->highest + 1 + oc->fill_limit;
    oc->fill = ++o->last_fill;
    oc->tries++;
    /* the http main conf exists as long as a connection does */
    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
    oc->retry_at = ngx_current_msec + ngx_chat_main_conf_get()->sync_timeout;

    conv.data = oc->conv;
    conv.len = oc->conv_len;

    if (ngx_chat_writes_gap(cc, &conv, oc->fill_before, oc->fill_limit,
                            oc->fill)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, cc->connection->log, 0,
                      "chat: the gap in \"%V\" cannot be asked for now",
                      &conv);
    }

    ngx_chat_ws_rearm_tick(cc);
}


/*
 * A non-live frame addressed to cc that answers a gap request (history or
 * error with one of our ids): consumed, returns 1.
 */
ngx_uint_t
ngx_chat_order_answer(ngx_chat_conn_t *cc, ngx_str_t *frame)
{
    int                     more;
    json_t                 *root, *messages;
    size_t                  len;
    ngx_int_t               n;
    ngx_uint_t              error;
    const char             *id;
    ngx_queue_t            *q;
    json_error_t            err;
    ngx_chat_order_conv_t  *oc;

    error = ngx_chat_order_prefix(frame, NGX_CHAT_ORDER_ERROR);

    if (!error && !ngx_chat_order_prefix(frame, NGX_CHAT_ORDER_ANSWER)) {
        return 0;
    }

    if (cc->order == NULL) {
        return 1;
    }

    root = json_loadb((char *) frame->data, frame->len, 0, &err);

    if (root == NULL || json_unpack(root, "{s:s}", "id", &id) != 0) {
        goto done;
    }

    len = ngx_strlen(id);
    if (len <= sizeof(NGX_CHAT_ORDER_ID) - 1) {
        goto done;
    }

    n = ngx_atoi((u_char *) id + sizeof(NGX_CHAT_ORDER_ID) - 1,
                 len - (sizeof(NGX_CHAT_ORDER_ID) - 1));
    if (n <= 0) {
        goto done;
    }

    messages = NULL;
    more = 0;

    if (!error
        && json_unpack(root, "{s:o, s:b}", "messages", &messages,
                       "more", &more) != 0)
    {
        goto done;
    }

    for (q = ngx_queue_head(&cc->order->convs);
         q != ngx_queue_sentinel(&cc->order->convs);
         q = ngx_queue_next(q))
    {
        oc = ngx_queue_data(q, ngx_chat_order_conv_t, link);

        if (oc->fill == (ngx_uint_t) n) {
            /* an error (forbidden: not a reader there) reads as empty */
            ngx_chat_order_fill(cc, oc, messages, more);
            break;
        }
    }

done:

    if (root) {
        json_decref(root);
    }

    return 1;
}


/*
 * The answer to a gap request: the messages of (highest, fill_before) that
 * this user may read, oldest first. Cut short by its byte bound (fewer
 * than asked for, and more), it is asked again for fewer seqs.
 */
static void
ngx_chat_order_fill(ngx_chat_conn_t *cc, ngx_chat_order_conv_t *oc,
    json_t *messages, ngx_uint_t more)
{
    size_t       i, n;
    json_t      *msg, *seq;
    int64_t      before;
    json_int_t   s;

    oc->fill = 0;
    n = messages ? json_array_size(messages) : 0;

    if (more && n < oc->fill_limit && oc->fill_limit > 1) {
        oc->fill_limit /= 2;
        oc->tries = 0;
        ngx_chat_order_ask(cc, oc);
        return;
    }

    before = oc->fill_before;

    /* merged with what is held, in seq order, each seq once */
    for (i = 0; i < n; i++) {
        msg = json_array_get(messages, i);
        seq = json_object_get(msg, "seq");
        s = json_is_integer(seq) ? json_integer_value(seq) : 0;

        if (s <= oc->highest || s >= before) {
            continue;
        }

        ngx_chat_order_release(cc, oc, s);

        if (s > oc->highest) {
            /* the very frame published live, serialized as the worker does */
            oc->highest = s;
            (void) ngx_chat_ws_send_json(cc, msg);
        }
    }

    ngx_chat_order_release(cc, oc, before);

    /* what the answer does not hold below its bound is not for us */
    if (oc->highest < before - 1) {
        oc->highest = before - 1;
    }

    oc->tries = 0;
    oc->fill_limit = 0;
    ngx_chat_order_drain(cc, oc);
}


/*
 * Gives up the gaps of a conversation: everything held goes now, in seq
 * order, past whatever is still missing.
 */
static void
ngx_chat_order_close_gap(ngx_chat_conn_t *cc, ngx_chat_order_conv_t *oc)
{
    ngx_chat_order_release(cc, oc, INT64_MAX);
}


/* Nothing waits in the conversation any more: an answer in flight is
 * stale. */
static void
ngx_chat_order_settled(ngx_chat_conn_t *cc, ngx_chat_order_conv_t *oc)
{
    cc->order->gaps--;
    oc->fill = 0;
    oc->fill_limit = 0;
    oc->tries = 0;
    oc->given_up = 0;
}


/*
 * No answer to a gap for NGX_CHAT_ORDER_TRIES sync timeouts: the
 * connection syncs again; when that is done, what waits is released.
 */
static void
ngx_chat_order_give_up(ngx_chat_conn_t *cc, ngx_chat_order_conv_t *oc)
{
    ngx_log_error(NGX_LOG_ERR, cc->connection->log, 0,
                  "chat: no answer to %ui requests for the gap in \"%*s\" "
                  "after seq %L; syncing again", (ngx_uint_t) oc->tries,
                  (size_t) oc->conv_len, oc->conv, oc->highest);

    oc->given_up = 1;
    oc->fill = 0;
    ngx_chat_stat_inc(NGX_CHAT_STAT_ORDER_RESYNCS);

    if (!cc->syncing) {
        ngx_chat_sync_start(cc);

        if (!cc->syncing) {
            /* no way to sync now: released at once */
            ngx_chat_order_sync_done(cc);
        }
    }
}


/* The connection's sync is done: gaps given up are released. */
void
ngx_chat_order_sync_done(ngx_chat_conn_t *cc)
{
    ngx_queue_t            *q, *next;
    ngx_chat_order_conv_t  *oc;

    if (cc->order == NULL || cc->order->gaps == 0) {
        return;
    }

    for (q = ngx_queue_head(&cc->order->convs);
         q != ngx_queue_sentinel(&cc->order->convs);
         q = next)
    {
        next = ngx_queue_next(q);
        oc = ngx_queue_data(q, ngx_chat_order_conv_t, link);

        if (oc->given_up) {
            ngx_chat_order_close_gap(cc, oc);
        }
    }
}


/* The tick: gap requests unanswered for a sync timeout are asked again. */
void
ngx_chat_order_tick(ngx_chat_conn_t *cc)
{
    ngx_queue_t            *q;
    ngx_chat_order_conv_t  *oc;

    if (cc->order == NULL || cc->order->gaps == 0) {
        return;
    }

    for (q = ngx_queue_head(&cc->order->convs);
         q != ngx_queue_sentinel(&cc->order->convs);
         q = ngx_queue_next(q))
    {
        oc = ngx_queue_data(q, ngx_chat_order_conv_t, link);

        if (oc->held == NULL || oc->given_up
            || (ngx_msec_int_t) (ngx_current_msec - oc->retry_at) < 0)
        {
            continue;
        }

        if (oc->tries >= NGX_CHAT_ORDER_TRIES) {
            ngx_chat_order_give_up(cc, oc);

        } else {
            ngx_chat_order_ask(cc, oc);
        }
    }
}


/* Milliseconds to the next gap retry, or NGX_TIMER_INFINITE. */
ngx_msec_t
ngx_chat_order_next(ngx_chat_conn_t *cc)
{
    ngx_msec_t              next;
    ngx_msec_int_t          left;
    ngx_queue_t            *q;
    ngx_chat_order_conv_t  *oc;

    next = NGX_TIMER_INFINITE;

    if (cc->order == NULL || cc->order->gaps == 0) {
        return next;
    }

    for (q = ngx_queue_head(&cc->order->convs);
         q != ngx_queue_sentinel(&cc->order->convs);
         q = ngx_queue_next(q))
    {
        oc = ngx_queue_data(q, ngx_chat_order_conv_t, link);

        if (oc->held && !oc->given_up) {
            left = (ngx_msec_int_t) (oc->retry_at - ngx_current_msec);
            next = ngx_min(next, (ngx_msec_t) ngx_max(left, 0));
        }
    }

    return next;
}


void
ngx_chat_order_free(ngx_chat_conn_t *cc)
{
    ngx_queue_t            *q;
    ngx_chat_held_t        *h, *next;
    ngx_chat_order_conv_t  *oc;

    if (cc->order == NULL) {
        return;
    }

    while (!ngx_queue_empty(&cc->order->convs)) {
        q = ngx_queue_head(&cc->order->convs);
        /* no use after free: a head is unlinked before its free */
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
        ngx_queue_remove(q);
        oc = ngx_queue_data(q, ngx_chat_order_conv_t, link);

        for (h = oc->held; h; h = next) {
            next = h->next;
            ngx_free(h);
        }

        ngx_free(oc);
    }

    ngx_free(cc->order);
    cc->order = NULL;
}
