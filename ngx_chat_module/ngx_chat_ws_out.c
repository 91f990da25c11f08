/*
 * The outgoing side of a WebSocket connection: frames are built in one heap
 * block each, queued under the connection's send budget, written with
 * writev as far as the socket takes them, and freed as soon as they are out.
 * A client that does not read and so goes past the budget is closed 1008.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_stats.h"


static ngx_chain_t *ngx_chat_ws_frame(ngx_chat_conn_t *cc, ngx_uint_t opcode,
    size_t len, ngx_int_t *rc);
static ngx_chain_t *ngx_chat_ws_alloc(ngx_chat_conn_t *cc, size_t size);
static void ngx_chat_ws_enqueue(ngx_chat_conn_t *cc, ngx_chain_t *cl);
static void ngx_chat_ws_drop_unsent(ngx_chat_conn_t *cc);


/*
 * A frame of len payload bytes with its header written, for the caller to
 * fill and enqueue. A frame that would take the queue past its budget is
 * refused: the client is not reading, and is closed 1008. NULL with *rc
 * set (NGX_DECLINED: refused, NGX_ERROR: out of memory) when there is none.
 */
static ngx_chain_t *
ngx_chat_ws_frame(ngx_chat_conn_t *cc, ngx_uint_t opcode, size_t len,
    ngx_int_t *rc)
{
    ngx_chain_t  *cl;

    *rc = NGX_DECLINED;

    if (cc->closing) {
        return NULL;
    }

    if (cc->out_bytes + len > cc->conf->send_budget) {
        ngx_log_error(NGX_LOG_INFO, cc->connection->log, 0,
                      "chat: client does not read, %uz bytes queued",
                      cc->out_bytes);
        ngx_chat_ws_drop_unsent(cc);
        ngx_chat_ws_close(cc, CHAT_WS_CLOSE_POLICY, "send queue over budget");
        return NULL;
    }

    cl = ngx_chat_ws_alloc(cc, CHAT_WS_MAX_HEADER + len);
    if (cl == NULL) {
        *rc = NGX_ERROR;
        return NULL;
    }

    cl->buf->last += chat_ws_frame_header(cl->buf->last, opcode, len);

    if (opcode == CHAT_WS_OP_TEXT) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_FRAMES_OUT);
        ngx_chat_stat_add(NGX_CHAT_STAT_BYTES_OUT, len);
    }

    return cl;
}


/* Queues a data or control frame with a copy of its payload. */
ngx_int_t
ngx_chat_ws_send(ngx_chat_conn_t *cc, ngx_uint_t opcode, const u_char *data,
    size_t len)
{
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    cl = ngx_chat_ws_frame(cc, opcode, len, &rc);
    if (cl == NULL) {
        return rc;
    }

    if (len) {
        cl->buf->last = ngx_cpymem(cl->buf->last, data, len);
    }

    ngx_chat_ws_enqueue(cc, cl);

    return NGX_OK;
}


/* Queues bytes as they are: the 101 response head. */
ngx_int_t
ngx_chat_ws_send_raw(ngx_chat_conn_t *cc, const u_char *data, size_t len)
{
    ngx_chain_t  *cl;

    cl = ngx_chat_ws_alloc(cc, len);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf->last = ngx_cpymem(cl->buf->last, data, len);
    ngx_chat_ws_enqueue(cc, cl);

    return NGX_OK;
}


/* Queues a JSON document as one text frame, serialized in place. */
ngx_int_t
ngx_chat_ws_send_json(ngx_chat_conn_t *cc, json_t *json)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    len = json_dumpb(json, NULL, 0, JSON_COMPACT);
    if (len == 0) {
        return NGX_ERROR;
    }

    cl = ngx_chat_ws_frame(cc, CHAT_WS_OP_TEXT, len, &rc);
    if (cl == NULL) {
        return rc;
    }

    cl->buf->last += json_dumpb(json, (char *) cl->buf->last, len,
                                JSON_COMPACT);
    ngx_chat_ws_enqueue(cc, cl);

    return NGX_OK;
}


/* Queues the close frame; without memory for it, the shut write side
 * tells the peer. */
void
ngx_chat_ws_queue_close(ngx_chat_conn_t *cc, uint16_t code,
    const char *reason)
{
    size_t        len;
    u_char        payload[CHAT_WS_MAX_CONTROL];
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = chat_ws_close_payload(payload, code, reason, ngx_strlen(reason));

    cl = ngx_chat_ws_alloc(cc, CHAT_WS_MAX_HEADER + len);
    if (cl == NULL) {
        return;
    }

    b = cl->buf;
    b->last += chat_ws_frame_header(b->last, CHAT_WS_OP_CLOSE, len);
    b->last = ngx_cpymem(b->last, payload, len);
    ngx_chat_ws_enqueue(cc, cl);
}


void
ngx_chat_ws_write_handler(ngx_event_t *wev)
{
    ngx_chat_conn_t   *cc;
    ngx_connection_t  *c;

    c = wev->data;
    cc = c->data;

    if (!cc->finalized) {
        ngx_chat_ws_flush(cc);
    }
}


/*
 * Writes what the queue holds, as far as the socket takes it, and frees
 * every frame that is out. Once our close frame is out, the write side is
 * shut so the peer sees the end at once; its close frame (or EOF, or the
 * close timer) then ends the connection.
 */
void
ngx_chat_ws_flush(ngx_chat_conn_t *cc)
{
    ngx_chain_t       *cl, *next;
    ngx_connection_t  *c;

    c = cc->connection;

    if (cc->out) {
        cl = c->send_chain(c, cc->out, 0);

        if (cl == NGX_CHAIN_ERROR) {
            c->error = 1;
            ngx_chat_ws_finalize(cc);
            return;
        }

        while (cc->out != cl) {
            next = cc->out->next;
            cc->out_bytes -= cc->out->buf->end - cc->out->buf->start;
            ngx_chat_gauge_add(NGX_CHAT_GAUGE_SEND_QUEUED,
                               -(cc->out->buf->end - cc->out->buf->start));
            ngx_free(cc->out);
            cc->out = next;
        }

        if (cc->out) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_chat_ws_finalize(cc);
            }

            return;
        }

        cc->out_tail = &cc->out;
    }

    if (!cc->closing) {
        return;
    }

    if (cc->close_received) {
        ngx_chat_ws_finalize(cc);
        return;
    }

    if (!cc->write_shut) {
        cc->write_shut = 1;

        if (ngx_shutdown_socket(c->fd, NGX_WRITE_SHUTDOWN) == -1) {
            ngx_chat_ws_finalize(cc);
        }
    }
}


/* One heap block per frame: the chain link, the buffer and the bytes. */
static ngx_chain_t *
ngx_chat_ws_alloc(ngx_chat_conn_t *cc, size_t size)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_alloc(sizeof(ngx_chain_t) + sizeof(ngx_buf_t) + size,
                   cc->connection->log);
    if (cl == NULL) {
        return NULL;
    }

    b = (ngx_buf_t *) (cl + 1);
    ngx_memzero(b, sizeof(ngx_buf_t));

    b->start = (u_char *) (b + 1);
    b->pos = b->start;
    b->last = b->start;
    b->end = b->start + size;
    b->memory = 1;

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/* Appends a frame and makes sure a flush runs once this event is done. */
static void
ngx_chat_ws_enqueue(ngx_chat_conn_t *cc, ngx_chain_t *cl)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                   "chat ws: frame out, %uz bytes, %uz queued before",
                   (size_t) (cl->buf->last - cl->buf->pos), cc->out_bytes);

    *cc->out_tail = cl;
    cc->out_tail = &cl->next;
    cc->out_bytes += cl->buf->end - cl->buf->start;
    ngx_chat_gauge_add(NGX_CHAT_GAUGE_SEND_QUEUED,
                       cl->buf->end - cl->buf->start);

    if (!cc->connection->write->posted) {
        ngx_post_event(cc->connection->write, &ngx_posted_events);
    }
}


/* Drops the queued frames nothing of which was written yet. */
static void
ngx_chat_ws_drop_unsent(ngx_chat_conn_t *cc)
{
    ngx_chain_t  *cl, *next, **keep;

    keep = &cc->out;

    if (cc->out && cc->out->buf->pos != cc->out->buf->start) {
        keep = &cc->out->next;
    }

    for (cl = *keep; cl; cl = next) {
        next = cl->next;
        cc->out_bytes -= cl->buf->end - cl->buf->start;
        ngx_chat_gauge_add(NGX_CHAT_GAUGE_SEND_QUEUED,
                           -(cl->buf->end - cl->buf->start));
        ngx_free(cl);
    }

    *keep = NULL;
    cc->out_tail = keep;
}


/* Frees the whole queue: the connection is going. */
void
ngx_chat_ws_free_out(ngx_chat_conn_t *cc)
{
    ngx_chain_t  *cl, *next;

    for (cl = cc->out; cl; cl = next) {
        next = cl->next;
        ngx_free(cl);
    }

    cc->out = NULL;
    cc->out_tail = &cc->out;
    ngx_chat_gauge_add(NGX_CHAT_GAUGE_SEND_QUEUED, -(ngx_int_t) cc->out_bytes);
    cc->out_bytes = 0;
}
