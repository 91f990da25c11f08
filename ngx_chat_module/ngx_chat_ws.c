/*
 * A WebSocket connection after the upgrade: one read pump that feeds the
 * frame parser, one timer for heartbeat, token expiry, a message's deadline
 * and shutdown, and the close handshake. Its queue of outgoing frames is
 * ngx_chat_ws_out.c.
 *
 * Memory: the connection's state is one heap block (ngx_chat_conn.c, which
 * also frees the request after the upgrade); a message being reassembled
 * and every queued frame are heap blocks freed as soon as they are used,
 * so nothing grows while it lives.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_limit.h"
#include "ngx_chat_stats.h"


/* Bytes one read event may consume before yielding to other connections. */
#define NGX_CHAT_WS_READ_QUOTA  (256 * 1024)

/*
 * Wake-ups are rounded up to this grid of ngx_current_msec, so that the
 * heartbeats of many connections fall due together and a worker wakes a
 * few times a second for all of them, not once per connection: with 100k
 * idle connections, waking for each one's ping was most of the idle CPU.
 */
#define NGX_CHAT_WS_TICK_GRAIN  250


static void ngx_chat_ws_tick_handler(ngx_event_t *ev);
static void ngx_chat_ws_going_away(ngx_chat_conn_t *cc);
static void ngx_chat_ws_read(ngx_chat_conn_t *cc);
static ngx_int_t ngx_chat_ws_consume(ngx_chat_conn_t *cc, u_char *p,
    size_t len);
static ngx_int_t ngx_chat_ws_append(ngx_chat_conn_t *cc,
    chat_ws_event_t *ev);
static void ngx_chat_ws_message_done(ngx_chat_conn_t *cc);
static void ngx_chat_ws_message_clock(ngx_chat_conn_t *cc);
static void ngx_chat_ws_on_close(ngx_chat_conn_t *cc, chat_ws_event_t *ev);


/* One read buffer per worker: the parser keeps whatever it needs itself. */
static u_char  ngx_chat_ws_buffer[16384];

/* the layer above: the protocol on an open connection */
static const ngx_chat_ws_handlers_t  *ngx_chat_ws_up;


/* Once per worker, before any connection. */
void
ngx_chat_ws_handle(const ngx_chat_ws_handlers_t *handlers)
{
    ngx_chat_ws_up = handlers;
}


/*
 * Takes over the connection of an upgraded request: head is the 101
 * response, early the bytes the client sent after its request head. Never
 * finalizes: it runs inside the content handler, so the first read and
 * write happen from posted events, which free the request first.
 *
 * A connection over the user's device cap is upgraded and closed at once
 * (1008, no hello): a client that gets a plain HTTP error reconnects in a
 * loop, one that gets a close code can tell the user why.
 */
ngx_int_t
ngx_chat_ws_start(ngx_chat_conn_t *cc, ngx_str_t *head, u_char *early,
    size_t early_len)
{
    ngx_int_t            devices;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = cc->request;
    c = cc->connection;

    chat_ws_parser_init(&cc->parser, cc->conf->max_message);
    cc->counted = 1;
    ngx_chat_gauge_add(NGX_CHAT_GAUGE_CONNECTIONS, 1);

    if (ngx_chat_ws_send_raw(cc, head->data, head->len) != NGX_OK) {
        return NGX_ERROR;
    }

    devices = ngx_chat_limit_devices(r, c->pool, &cc->id.user);

    if (devices == NGX_ERROR
        || (devices == NGX_OK && ngx_chat_ws_up->start(cc) != NGX_OK))
    {
        return NGX_ERROR;
    }

    cc->early = early;
    cc->early_len = early_len;
    cc->last_recv = ngx_current_msec;
    cc->last_ping = ngx_current_msec;

    cc->tick.handler = ngx_chat_ws_tick_handler;
    cc->tick.data = c;          /* a connection, as nginx expects */
    cc->tick.log = c->log;
    cc->tick.cancelable = 1;
    ngx_chat_ws_rearm_tick(cc);

    if (ngx_tcp_nodelay(c) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * A handshake that completes in a worker already shutting down missed
     * ngx_close_idle_connections(): it is told to reconnect elsewhere.
     */
    if (devices == NGX_BUSY) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_DEVICES_CLOSED);
        ngx_chat_ws_close(cc, CHAT_WS_CLOSE_POLICY, "too many devices");

    } else if (ngx_exiting || ngx_terminate) {
        ngx_chat_ws_close(cc, CHAT_WS_CLOSE_GOING_AWAY, "server going away");

    } else if (ngx_chat_ws_up->open(cc) != NGX_OK) {
        return NGX_ERROR;
    }

    /* from here on, nothing fails: the caller frees cc on an error */
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_request_empty_handler;
    c->read->handler = ngx_chat_conn_detach_handler;
    c->write->handler = ngx_chat_conn_detach_handler;

    /* nginx tells idle connections when the worker is shutting down */
    c->idle = 1;
    c->log->action = "serving chat connection";

    ngx_post_event(c->read, &ngx_posted_events);

    return NGX_OK;
}


void
ngx_chat_ws_read_handler(ngx_event_t *rev)
{
    ngx_chat_conn_t   *cc;
    ngx_connection_t  *c;

    c = rev->data;
    cc = c->data;

    if (cc->finalized) {
        return;
    }

    if (c->close) {
        c->close = 0;
        c->idle = 0;

        if (c->error) {
            /* worker_shutdown_timeout: no time left for a close handshake */
            ngx_chat_ws_finalize(cc);

        } else {
            ngx_chat_ws_going_away(cc);
        }

    } else {
        ngx_chat_ws_read(cc);
    }

    if (!cc->finalized) {
        ngx_chat_ws_flush(cc);
    }
}


static void
ngx_chat_ws_read(ngx_chat_conn_t *cc)
{
    u_char            *p;
    size_t             total;
    ssize_t            n;
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = cc->connection;

    for (total = 0; !cc->close_received; total += n) {

        if (total >= NGX_CHAT_WS_READ_QUOTA && c->read->ready) {
            ngx_post_event(c->read, &ngx_posted_events);
            return;
        }

        if (cc->early_len) {
            p = cc->early;
            n = cc->early_len;
            cc->early_len = 0;

        } else {
            p = ngx_chat_ws_buffer;
            n = c->recv(c, p, sizeof(ngx_chat_ws_buffer));

            if (n == NGX_AGAIN) {
                if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                    ngx_chat_ws_finalize(cc);
                }

                return;
            }

            if (n == NGX_ERROR || n == 0) {
                /* the peer is gone: nothing more can be sent */
                if (!cc->closing) {
                    c->error = 1;
                }

                ngx_chat_ws_finalize(cc);
                return;
            }
        }

        cc->last_recv = ngx_current_msec;

        rc = ngx_chat_ws_consume(cc, p, n);

        if (p == cc->early) {
            ngx_free(cc->early);
            cc->early = NULL;
        }

        if (rc != NGX_OK) {
            return;
        }

        ngx_chat_ws_message_clock(cc);
    }
}


/* Feeds bytes to the parser and acts on each event it reports. */
static ngx_int_t
ngx_chat_ws_consume(ngx_chat_conn_t *cc, u_char *p, size_t len)
{
    size_t           used;
    chat_ws_event_t  ev;

    for ( ;; ) {
        used = chat_ws_parse(&cc->parser, p, len, &ev);
        p += used;
        len -= used;

        switch (ev.type) {

        case CHAT_WS_AGAIN:
            return NGX_OK;

        case CHAT_WS_DATA:
            if (!cc->closing && ngx_chat_ws_append(cc, &ev) != NGX_OK) {
                ngx_chat_ws_close(cc, CHAT_WS_CLOSE_INTERNAL,
                                  "out of memory");
            }
            break;

        case CHAT_WS_MESSAGE:
            if (!cc->closing) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                               "chat ws: text message in, %uz bytes",
                               cc->msg_len);
                ngx_chat_stat_inc(NGX_CHAT_STAT_FRAMES_IN);
                ngx_chat_stat_add(NGX_CHAT_STAT_BYTES_IN, cc->msg_len);
                ngx_chat_ws_up->message(cc, cc->msg, cc->msg_len);
            }

            ngx_chat_ws_message_done(cc);
            break;

        case CHAT_WS_PING:
            (void) ngx_chat_ws_send(cc, CHAT_WS_OP_PONG, ev.data, ev.len);
            break;

        case CHAT_WS_PONG:
            break;

        case CHAT_WS_CLOSE:
            ngx_chat_ws_on_close(cc, &ev);
            return NGX_DONE;

        case CHAT_WS_ERROR:
            /* sticky: what follows is read and dropped until the end */
            if (!cc->closing) {
                ngx_log_error(NGX_LOG_INFO, cc->connection->log, 0,
                              "chat: client protocol error, closing with "
                              "%d: %s", (int) ev.code, ev.reason);
                ngx_chat_ws_close(cc, ev.code, ev.reason);
            }

            return cc->finalized ? NGX_DONE : NGX_OK;
        }

        if (cc->finalized) {
            return NGX_DONE;
        }

        /* between frames, outside a fragmented message: the clock stops */
        if (!chat_ws_incomplete(&cc->parser)) {
            cc->msg_open = 0;
        }
    }
}


/*
 * Appends a chunk of the current text message. The parser's message_size
 * is a bound that already counts the whole current frame, so the buffer
 * grows at most once per frame and never past max_message.
 */
static ngx_int_t
ngx_chat_ws_append(ngx_chat_conn_t *cc, chat_ws_event_t *ev)
{
    u_char  *buf;
    size_t   cap;

    if (cc->msg_len + ev->len > cc->msg_cap) {
        cap = ngx_max((size_t) ev->message_size, 2 * cc->msg_cap);
        cap = ngx_min(cap, cc->conf->max_message);

        buf = ngx_alloc(cap, cc->connection->log);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        if (cc->msg_len) {
            ngx_memcpy(buf, cc->msg, cc->msg_len);
        }

        ngx_free(cc->msg);
        cc->msg = buf;
        cc->msg_cap = cap;
    }

    ngx_memcpy(cc->msg + cc->msg_len, ev->data, ev->len);
    cc->msg_len += ev->len;

    return NGX_OK;
}


static void
ngx_chat_ws_message_done(ngx_chat_conn_t *cc)
{
    ngx_free(cc->msg);
    cc->msg = NULL;
    cc->msg_len = 0;
    cc->msg_cap = 0;
}


/*
 * A frame, or a fragmented message, begun in what was just read starts the
 * clock of chat_message_timeout: its deadline is one more wake-up of the
 * connection's one timer (no timer of its own, nothing for an idle
 * connection). The clock stops at the end of the frame or message
 * (ngx_chat_ws_consume), so one begun after another in the same read gets
 * a clock of its own.
 */
static void
ngx_chat_ws_message_clock(ngx_chat_conn_t *cc)
{
    if (cc->msg_open || cc->closing || !chat_ws_incomplete(&cc->parser)) {
        return;
    }

    cc->msg_open = 1;
    cc->msg_started = ngx_current_msec;

    ngx_chat_ws_rearm_tick(cc);
}


/*
 * The worker is shutting down (reload, quit): the connection gets its 1001
 * at a random moment within chat_shutdown_spread, so that its clients do
 * not all reconnect at once, and works as usual until then. The tick is
 * made non-cancelable: nginx's worker does not exit before it has fired.
 * worker_shutdown_timeout still ends everything (the read handler).
 */
static void
ngx_chat_ws_going_away(ngx_chat_conn_t *cc)
{
    ngx_msec_t             spread;
    ngx_chat_main_conf_t  *cmcf;

    cmcf = ngx_chat_main_conf_get();
    spread = cmcf ? cmcf->shutdown_spread : 0;

    if (spread == 0 || cc->closing) {
        ngx_chat_ws_close(cc, CHAT_WS_CLOSE_GOING_AWAY, "server going away");
        return;
    }

    cc->going_away = 1;
    cc->going_at = ngx_current_msec + (ngx_msec_t) ngx_random() % spread;
    cc->tick.cancelable = 0;

    ngx_chat_ws_rearm_tick(cc);
}


/* The peer's close frame: echo its code, or end ours' handshake. */
static void
ngx_chat_ws_on_close(ngx_chat_conn_t *cc, chat_ws_event_t *ev)
{
    cc->close_received = 1;

    if (cc->closing) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                   "chat: client closed with %d", (int) ev->code);

    ngx_chat_ws_close(cc, ev->code == CHAT_WS_CLOSE_NO_STATUS
                          ? CHAT_WS_CLOSE_NORMAL : ev->code, "");
}


/*
 * Starts the close handshake: queues a close frame (past the budget: it is
 * the last one), stops the heartbeat and gives the peer close_timeout to
 * answer. That timer is not cancelable, so a worker that is shutting down
 * waits for the handshakes it started, and no longer.
 */
void
ngx_chat_ws_close(ngx_chat_conn_t *cc, uint16_t code, const char *reason)
{
    if (cc->closing || cc->finalized) {
        return;
    }

    cc->closing = 1;
    cc->close_code = code;
    ngx_chat_stat_close(code);
    ngx_chat_ws_message_done(cc);

    if (cc->tick.timer_set) {
        ngx_del_timer(&cc->tick);
    }

    cc->tick.cancelable = 0;
    ngx_add_timer(&cc->tick, cc->conf->close_timeout);

    ngx_chat_ws_queue_close(cc, code, reason);
}


/*
 * The next wake-up: the next heartbeat, or the token's expiry, or the end
 * of a sync's wait, or a gap's retry (ngx_chat_order.c), or the 1001 of a
 * shutdown, or the deadline of a message begun, whichever comes first,
 * rounded up to the tick grain (never early: the handler finds it due).
 * One timer per connection; on an idle connection it fires once per
 * heartbeat.
 */
void
ngx_chat_ws_rearm_tick(ngx_chat_conn_t *cc)
{
    int64_t     left;
    ngx_msec_t  next, late;

    if (cc->closing || cc->finalized) {
        return;
    }

    next = cc->last_ping + cc->conf->heartbeat - ngx_current_msec;

    if ((ngx_msec_int_t) next < 0) {
        next = 0;
    }

    /* exp is at most CHAT_JWT_MAX_TIME (chat_jwt.c): no overflow in ms */
    if (cc->id.exp) {
        left = (int64_t) cc->id.exp * 1000 - ngx_chat_now_ms();
        if (left < (int64_t) next) {
            next = left > 0 ? (ngx_msec_t) left : 0;
        }
    }

    next = ngx_min(next, ngx_chat_ws_up->next(cc));

    if (cc->going_away) {
        left = (ngx_msec_int_t) (cc->going_at - ngx_current_msec);
        next = ngx_min(next, (ngx_msec_t) ngx_max(left, 0));
    }

    if (cc->msg_open) {
        left = (ngx_msec_int_t) (cc->msg_started + cc->conf->message_timeout
                                 - ngx_current_msec);
        next = ngx_min(next, (ngx_msec_t) ngx_max(left, 0));
    }

    late = (ngx_current_msec + next) % NGX_CHAT_WS_TICK_GRAIN;

    if (next > 0 && late != 0) {
        next += NGX_CHAT_WS_TICK_GRAIN - late;
    }

    ngx_add_timer(&cc->tick, next);
}


static void
ngx_chat_ws_tick_handler(ngx_event_t *ev)
{
    ngx_chat_conn_t   *cc;
    ngx_connection_t  *c;

    cc = ngx_chat_event_owner(ev, ngx_chat_conn_t, tick);
    c = cc->connection;

    ngx_chat_conn_detach(cc);

    if (cc->finalized) {
        /* detaching failed */

    } else if (cc->closing) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "chat: close handshake timed out");
        ngx_chat_ws_finalize(cc);

    } else if (cc->going_away
               && (ngx_msec_int_t) (ngx_current_msec - cc->going_at) >= 0)
    {
        ngx_chat_ws_close(cc, CHAT_WS_CLOSE_GOING_AWAY, "server going away");

    } else if (cc->id.exp && ngx_chat_now_ms() >= (int64_t) cc->id.exp * 1000)
    {
        ngx_chat_ws_close(cc, CHAT_WS_CLOSE_TOKEN_EXPIRED, "token expired");

    } else if (cc->msg_open
               && ngx_current_msec - cc->msg_started
                  >= cc->conf->message_timeout)
    {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "chat: client did not complete a message within "
                      "chat_message_timeout");
        ngx_chat_ws_close(cc, CHAT_WS_CLOSE_POLICY, "message timeout");

    } else if (ngx_current_msec - cc->last_recv >= 2 * cc->conf->heartbeat) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "chat: client silent for two heartbeats");
        ngx_chat_ws_close(cc, CHAT_WS_CLOSE_GOING_AWAY, "heartbeat timeout");

    } else {
        ngx_chat_ws_up->tick(cc);

        if (ngx_current_msec - cc->last_ping >= cc->conf->heartbeat) {
            cc->last_ping = ngx_current_msec;
            (void) ngx_chat_ws_send(cc, CHAT_WS_OP_PING, NULL, 0);
            ngx_chat_ws_up->heartbeat(cc);
        }

        ngx_chat_ws_rearm_tick(cc);
    }

    if (!cc->finalized) {
        ngx_chat_ws_flush(cc);
    }
}


/* Ends the connection, from a posted event (ngx_chat_conn_close). */
void
ngx_chat_ws_finalize(ngx_chat_conn_t *cc)
{
    if (cc->finalized) {
        return;
    }

    cc->finalized = 1;

    ngx_chat_conn_close(cc);
}


/* Runs however the connection ends: frees what cc points to. */
void
ngx_chat_ws_release(ngx_chat_conn_t *cc)
{
    ngx_chat_ws_up->release(cc);

    if (cc->counted) {
        ngx_chat_gauge_add(NGX_CHAT_GAUGE_CONNECTIONS, -1);
    }

    if (cc->tick.timer_set) {
        ngx_del_timer(&cc->tick);
    }

    if (cc->tick.posted) {
        ngx_delete_posted_event(&cc->tick);
    }

    ngx_chat_ws_free_out(cc);
    ngx_chat_ws_message_done(cc);
}
