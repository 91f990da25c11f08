/*
 * Receipts (docs/PROTOCOL.md 3 receipt): a client's read or delivered
 * watermark of a conversation, a write to its log (ngx_chat_writes.c).
 *
 * From shedding's level 3 (ngx_chat_shed.c) a receipt is not produced at
 * once: it is held, per connection, and coalesced, as receipts are
 * watermarks; what is held goes out when the level falls below 3, on
 * shedding's flush timer, when the connection ends, and at worker exit.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_stats.h"


#define NGX_CHAT_RECEIPTS_MAX  16      /* held per connection */


/* A connection's newest receipt for one (conv, status): a watermark. */
typedef struct {
    int64_t                   seq;
    chat_receipt_status_e     status;
    size_t                    conv_len;
    size_t                    id_len;
    u_char                    conv[CHAT_CONV_MAX];
    u_char                    id[CHAT_CLIENT_ID_MAX];
} ngx_chat_receipt_t;

struct ngx_chat_receipts_held_s {
    ngx_queue_t               link;         /* in ngx_chat_receipts_held */
    ngx_chat_conn_t          *conn;
    ngx_uint_t                n;
    ngx_chat_receipt_t        r[NGX_CHAT_RECEIPTS_MAX];
};


static ngx_int_t ngx_chat_receipts_hold(ngx_chat_conn_t *cc,
    chat_req_t *req);
static void ngx_chat_receipts_produce(ngx_chat_conn_t *cc, chat_req_t *req);
static void ngx_chat_receipts_flush_all(void);
static void ngx_chat_receipts_flush(ngx_chat_receipts_held_t *h);


/* connections holding some */
static ngx_queue_t  ngx_chat_receipts_held;


/* What is held is let go with shedding's receipts level, and at exit. */
ngx_int_t
ngx_chat_receipts_init(void)
{
    ngx_queue_init(&ngx_chat_receipts_held);

    return ngx_chat_shed_on_release(NGX_CHAT_SHED_RECEIPTS,
                                    ngx_chat_receipts_flush_all, 1);
}


/*
 * A read (or delivered) watermark, ordered with the conversation's log;
 * while shedding, held and coalesced a while.
 */
void
ngx_chat_receipts_request(ngx_chat_conn_t *cc, chat_req_t *req)
{
    if (ngx_chat_receipts_hold(cc, req) != NGX_OK) {
        ngx_chat_receipts_produce(cc, req);
    }
}


static void
ngx_chat_receipts_produce(ngx_chat_conn_t *cc, chat_req_t *req)
{
    chat_record_t      rec;
    ngx_chat_write_t  *w;

    w = ngx_chat_writes_new(cc, NGX_CHAT_WRITE_RECEIPT, &req->id);
    if (w == NULL) {
        return;
    }

    ngx_memcpy(w->conv, req->conv.s, req->conv.len);
    w->conv_len = req->conv.len;

    /* the connection, to be told "forbidden" if not a member (groups) */
    ngx_chat_writes_record(cc, w, CHAT_RECORD_OP_RECEIPT, &rec);
    rec.conv = req->conv;
    rec.by = rec.from;
    rec.status = req->status;
    rec.seq = req->seq;

    w->record = chat_record_encode(&rec);
    if (w->record == NULL) {
        ngx_chat_writes_failed(w);
        return;
    }

    ngx_chat_writes_produce(w);
}


/*
 * From level 3 a receipt is held: per (conv, status) the highest seq wins,
 * as receipts are watermarks, and the newest client id is kept, so that an
 * error answer still has an id to go with. NGX_DECLINED: produce it now
 * (below the level, past the bound, or out of memory).
 */
static ngx_int_t
ngx_chat_receipts_hold(ngx_chat_conn_t *cc, chat_req_t *req)
{
    ngx_uint_t                 i;
    ngx_chat_receipt_t   *r;
    ngx_chat_receipts_held_t  *h;

    if (ngx_chat_shed_level() < NGX_CHAT_SHED_RECEIPTS
        || !ngx_chat_shed_running())
    {
        return NGX_DECLINED;
    }

    h = cc->receipts;

    if (h == NULL) {
        h = ngx_alloc(sizeof(ngx_chat_receipts_held_t), cc->connection->log);
        if (h == NULL) {
            return NGX_DECLINED;
        }

        h->conn = cc;
        h->n = 0;
        ngx_queue_insert_tail(&ngx_chat_receipts_held, &h->link);
        cc->receipts = h;
        ngx_chat_shed_arm_flush();
    }

    for (i = 0; i < h->n; i++) {
        r = &h->r[i];

        if (r->status == req->status && r->conv_len == req->conv.len
            && ngx_strncmp(r->conv, req->conv.s, r->conv_len) == 0)
        {
            r->seq = ngx_max(r->seq, req->seq);

            if (req->id.len) {
                r->id_len = req->id.len;
                ngx_memcpy(r->id, req->id.s, req->id.len);
            }

            ngx_chat_stat_inc(NGX_CHAT_STAT_SHED_RECEIPTS);
            return NGX_OK;
        }
    }

    if (h->n == NGX_CHAT_RECEIPTS_MAX) {
        return NGX_DECLINED;
    }

    r = &h->r[h->n++];
    r->seq = req->seq;
    r->status = req->status;
    r->conv_len = req->conv.len;
    ngx_memcpy(r->conv, req->conv.s, req->conv.len);
    r->id_len = req->id.len;

    if (req->id.len) {
        ngx_memcpy(r->id, req->id.s, req->id.len);
    }

    return NGX_OK;
}


/* A connection that ends has its held receipts produced, not lost. */
void
ngx_chat_receipts_conn_closed(ngx_chat_conn_t *cc)
{
    if (cc->receipts) {
        ngx_chat_receipts_flush(cc->receipts);
    }
}


/* Below the level, on shedding's flush timer, at exit: everything held. */
static void
ngx_chat_receipts_flush_all(void)
{
    ngx_queue_t  *q;

    while (!ngx_queue_empty(&ngx_chat_receipts_held)) {
        q = ngx_queue_head(&ngx_chat_receipts_held);
        /* no use after free: a flush unlinks its head before the free */
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
        ngx_chat_receipts_flush(ngx_queue_data(q, ngx_chat_receipts_held_t,
                                               link));
    }
}


/* Unlinked first: producing may answer the client, even close it. */
static void
ngx_chat_receipts_flush(ngx_chat_receipts_held_t *h)
{
    ngx_uint_t                i;
    chat_req_t                req;
    ngx_chat_receipt_t  *r;

    ngx_queue_remove(&h->link);
    h->conn->receipts = NULL;

    for (i = 0; i < h->n; i++) {
        r = &h->r[i];

        ngx_memzero(&req, sizeof(chat_req_t));
        req.type = CHAT_REQ_RECEIPT;
        req.conv.s = (char *) r->conv;
        req.conv.len = r->conv_len;
        req.status = r->status;
        req.seq = r->seq;
        req.id.s = r->id_len ? (char *) r->id : NULL;
        req.id.len = r->id_len;

        ngx_chat_receipts_produce(h->conn, &req);
    }

    ngx_free(h);
}
