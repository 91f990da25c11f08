/*
 * Sync: a connection's pending messages, before any live frame.
 *
 * A connection asks for its pending messages (those above the user's
 * delivered watermarks) once its user's channel is subscribed, and again
 * after Redis comes back (that delivers what was published while no one
 * listened). The answer comes on the channel, addressed to the connection,
 * a page at a time: each page ends with a marker, "sync_more" (the next
 * page is asked for, from where it ended) or "sync_done". Until the last
 * page is out, live frames for the connection are held here, so that the
 * pending messages come first; holding is bounded by the send budget, and
 * past it the hold ends early. An unanswered request is asked again a few
 * times, then live frames go out regardless: the order is given up rather
 * than the messages (ngx_chat_order.c still keeps each conversation's).
 */

#include "ngx_chat_module.h"
#include "ngx_chat_stats.h"
#include "chat_frame.h"

/*
 * Requests for pending messages before live ones go out regardless: with
 * chat_sync_timeout 5s, half a minute, about what a consumer group needs to
 * hand a stalled worker's partitions to another.
 */
#define NGX_CHAT_SYNC_TRIES      6


static void ngx_chat_sync_more(ngx_chat_conn_t *cc, chat_frame_marker_e kind,
    char *conv, size_t conv_len, int64_t seq);
static void ngx_chat_sync_failed(ngx_chat_conn_t *cc, ngx_chat_write_t *w);
static void ngx_chat_sync_timed_out(ngx_chat_conn_t *cc);


/*
 * Asks the workers for the next page of this connection's pending
 * messages: a sync record, keyed by user, answered on the user's channel.
 */
void
ngx_chat_sync_start(ngx_chat_conn_t *cc)
{
    chat_str_t             none;
    chat_record_t          rec;
    ngx_chat_write_t      *w;
    ngx_chat_main_conf_t  *cmcf;

    if (cc->closing || !ngx_chat_kafka_available()) {
        /* no way to fetch them now: live frames are not held any longer */
        if (cc->syncing) {
            ngx_chat_sync_done(cc);
        }

        return;
    }

    none.s = NULL;
    none.len = 0;

    w = ngx_chat_writes_new(cc, NGX_CHAT_WRITE_SYNC, &none);
    if (w == NULL) {
        return;
    }

    w->failed = ngx_chat_sync_failed;

    ngx_chat_writes_record(cc, w, CHAT_RECORD_OP_SYNC, &rec);
    rec.user = rec.from;
    w->conv_len = chat_record_user_key((char *) w->conv, rec.user);

    if (cc->sync_after) {
        rec.after_conv.s = (char *) cc->sync_after->conv;
        rec.after_conv.len = cc->sync_after->conv_len;
        rec.after_seq = cc->sync_after->seq;
    }

    w->record = chat_record_encode(&rec);
    if (w->record == NULL) {
        ngx_chat_writes_free(w);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                   "chat sync: asking for a page, try %ui%s",
                   cc->sync_tries + 1,
                   cc->sync_after ? ", after a marker" : "");

    ngx_chat_stat_inc(NGX_CHAT_STAT_SYNCS);
    cc->syncing = 1;
    cc->sync_tries++;
    cmcf = ngx_chat_main_conf_get();
    cc->sync_deadline = ngx_current_msec + cmcf->sync_timeout;
    ngx_chat_ws_rearm_tick(cc);

    ngx_chat_writes_produce(w);
}


/* The sync record did not reach the log: live frames are not held. */
static void
ngx_chat_sync_failed(ngx_chat_conn_t *cc, ngx_chat_write_t *w)
{
    ngx_chat_sync_done(cc);
}


/*
 * A frame addressed to this connection that is one of the markers ending
 * a page: consumed here (1), else 0.
 */
ngx_uint_t
ngx_chat_sync_marker(ngx_chat_conn_t *cc, ngx_str_t *frame)
{
    char                 conv[CHAT_CONV_MAX];
    size_t               conv_len;
    int64_t              seq;
    chat_frame_marker_e  kind;

    kind = chat_frame_sync_marker((char *) frame->data, frame->len, conv,
                                  &conv_len, &seq);

    switch (kind) {

    case CHAT_FRAME_MARKER_DONE:
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                       "chat sync: sync_done");
        ngx_chat_sync_done(cc);
        return 1;

    case CHAT_FRAME_MARKER_MORE:
    case CHAT_FRAME_MARKER_BAD:
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                       "chat sync: sync_more");
        ngx_chat_sync_more(cc, kind, conv, conv_len, seq);
        return 1;

    case CHAT_FRAME_MARKER_NONE:
        break;
    }

    return 0;
}


/*
 * A page of pending messages ended with {"type":"sync_more","conv":C,
 * "seq":S}: the next page starts after (C, S).
 */
static void
ngx_chat_sync_more(ngx_chat_conn_t *cc, chat_frame_marker_e kind, char *conv,
    size_t conv_len, int64_t seq)
{
    ngx_chat_sync_after_t  *after;

    if (!cc->syncing) {
        return;    /* a late answer to a request that already timed out */
    }

    if (kind != CHAT_FRAME_MARKER_MORE) {
        ngx_log_error(NGX_LOG_ERR, cc->connection->log, 0,
                      "chat: malformed \"sync_more\" marker");
        ngx_chat_sync_done(cc);
        return;
    }

    after = cc->sync_after;

    if (after == NULL) {
        after = ngx_alloc(sizeof(ngx_chat_sync_after_t), cc->connection->log);
        if (after == NULL) {
            ngx_chat_sync_done(cc);
            return;
        }

        cc->sync_after = after;
    }

    after->conv_len = conv_len;
    ngx_memcpy(after->conv, conv, conv_len);
    after->seq = seq;

    /* a page that arrived is progress: the retry budget starts over */
    cc->sync_tries = 0;
    ngx_chat_sync_start(cc);
}


/*
 * A live frame while the connection syncs: held (1), or 0 when it is not
 * syncing, or when holding it would pass the send budget or memory, which
 * ends the hold early (the caller then sends it, after what was held).
 */
ngx_uint_t
ngx_chat_sync_hold(ngx_chat_conn_t *cc, ngx_str_t *frame)
{
    ngx_chat_held_t  *h;

    if (!cc->syncing) {
        return 0;
    }

    if (cc->held_bytes + frame->len <= cc->conf->send_budget) {
        h = ngx_alloc(sizeof(ngx_chat_held_t) + frame->len,
                      cc->connection->log);

        if (h) {
            h->next = NULL;
            h->seq = 0;
            h->len = frame->len;
            ngx_memcpy(h->data, frame->data, frame->len);
            *cc->held_tail = h;
            cc->held_tail = &h->next;
            cc->held_bytes += frame->len;
            return 1;
        }
    }

    ngx_chat_sync_done(cc);

    return 0;
}


/* The connection's pending messages are out: release what was held. */
void
ngx_chat_sync_done(ngx_chat_conn_t *cc)
{
    ngx_chat_held_t  *h, *next;

    ngx_str_t         frame;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                   "chat sync: done, releasing %uz bytes held",
                   cc->held_bytes);

    cc->syncing = 0;
    cc->sync_tries = 0;

    if (cc->sync_after) {
        ngx_free(cc->sync_after);
        cc->sync_after = NULL;
    }

    ngx_chat_order_sync_done(cc);

    /* taken off the connection first: it is free to hold again */
    h = cc->held;
    cc->held = NULL;
    cc->held_tail = &cc->held;
    cc->held_bytes = 0;

    for ( /* void */ ; h; h = next) {
        next = h->next;
        frame.data = h->data;
        frame.len = h->len;

        /* what the sync already sent is dropped there */
        (void) ngx_chat_order_deliver(cc, &frame);
        ngx_free(h);
    }
}


/*
 * Milliseconds until the sync's wait ends (NGX_TIMER_INFINITE: none). One
 * already past wraps around and is never the next: the tick that found it
 * has asked again.
 */
ngx_msec_t
ngx_chat_sync_next(ngx_chat_conn_t *cc)
{
    if (!cc->syncing) {
        return NGX_TIMER_INFINITE;
    }

    return cc->sync_deadline - ngx_current_msec;
}


/* The connection's timer: the sync's wait may be over. */
void
ngx_chat_sync_tick(ngx_chat_conn_t *cc)
{
    if (cc->syncing
        && (ngx_msec_int_t) (ngx_current_msec - cc->sync_deadline) >= 0)
    {
        ngx_chat_sync_timed_out(cc);
    }
}


/*
 * No answer to a connection's request for its pending messages (a worker
 * or its Redis was not there to answer): ask again, holding live frames
 * meanwhile so that nothing is seen out of order; after a few tries, give
 * up the order rather than the messages.
 */
static void
ngx_chat_sync_timed_out(ngx_chat_conn_t *cc)
{
    if (cc->sync_tries < NGX_CHAT_SYNC_TRIES) {
        ngx_log_error(NGX_LOG_WARN, cc->connection->log, 0,
                      "chat: no answer to the pending messages request, "
                      "asking again");
        ngx_chat_sync_start(cc);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, cc->connection->log, 0,
                  "chat: no answer to %ui pending messages requests, "
                  "delivering live messages", cc->sync_tries);
    ngx_chat_sync_done(cc);
}


/* The connection ends: what it held and where its next page started. */
void
ngx_chat_sync_free(ngx_chat_conn_t *cc)
{
    ngx_chat_held_t  *h, *next;

    if (cc->sync_after) {
        ngx_free(cc->sync_after);
        cc->sync_after = NULL;
    }

    for (h = cc->held; h; h = next) {
        next = h->next;
        ngx_free(h);
    }

    cc->held = NULL;
}
