/*
 * The chat protocol on an open connection (docs/PROTOCOL.md sections 2-4): the
 * hello, then one decoded request per text message, each answered with a
 * reply or an error frame that echoes its "id". Errors never close.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_limit.h"
#include "ngx_chat_stats.h"
#include "chat_frame.h"


static ngx_uint_t ngx_chat_dispatch_limited(ngx_chat_conn_t *cc,
    chat_req_t *req, ngx_uint_t valid);
static void ngx_chat_dispatch_pong(ngx_chat_conn_t *cc, chat_req_t *req);
static void ngx_chat_dispatch_auth(ngx_chat_conn_t *cc, chat_req_t *req);
static ngx_int_t ngx_chat_dispatch_start(ngx_chat_conn_t *cc);
static ngx_int_t ngx_chat_dispatch_open(ngx_chat_conn_t *cc);
static void ngx_chat_dispatch_message(ngx_chat_conn_t *cc, u_char *text,
    size_t len);
static void ngx_chat_dispatch_tick(ngx_chat_conn_t *cc);
static ngx_msec_t ngx_chat_dispatch_next(ngx_chat_conn_t *cc);
static void ngx_chat_dispatch_heartbeat(ngx_chat_conn_t *cc);
static void ngx_chat_dispatch_release(ngx_chat_conn_t *cc);


static const ngx_chat_ws_handlers_t  ngx_chat_dispatch_handlers = {
    ngx_chat_dispatch_start,
    ngx_chat_dispatch_open,
    ngx_chat_dispatch_message,
    ngx_chat_dispatch_tick,
    ngx_chat_dispatch_next,
    ngx_chat_dispatch_heartbeat,
    ngx_chat_dispatch_release
};


/* Every upgraded connection of this worker is served from here. */
void
ngx_chat_dispatch_init(void)
{
    ngx_chat_ws_handle(&ngx_chat_dispatch_handlers);
}


/* The hello, the first frame of every connection. */
static ngx_int_t
ngx_chat_dispatch_start(ngx_chat_conn_t *cc)
{
    json_t  *hello;

    hello = json_pack("{s:s, s:s%, s:s%, s:s%, s:I, s:I, s:I}",
                      "type", "hello",
                      "user", cc->id.user.data, cc->id.user.len,
                      "device", cc->id.device.data, cc->id.device.len,
                      "conn", cc->conn_id.data, cc->conn_id.len,
                      "heartbeat", (json_int_t) (cc->conf->heartbeat / 1000),
                      "max_message", (json_int_t) cc->conf->max_message,
                      "ts", (json_int_t) ngx_chat_now_ms());

    return ngx_chat_reply(cc, hello);
}


/*
 * The connection is taken in: found by its number, under its user (whose
 * channel is subscribed on the first), in the session registry; it asks
 * for its pending messages once its user's channel is live.
 */
static ngx_int_t
ngx_chat_dispatch_open(ngx_chat_conn_t *cc)
{
    ngx_queue_init(&cc->watching);

    if (ngx_chat_delivery_add(cc) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_chat_session_set_add(cc);

    if (ngx_chat_delivery_live(cc)) {
        ngx_chat_sync_start(cc);
    }

    return NGX_OK;
}


/* The connection ends: nothing it holds is lost, nothing refers to it. */
static void
ngx_chat_dispatch_release(ngx_chat_conn_t *cc)
{
    if (cc->registered) {
        ngx_chat_receipts_conn_closed(cc);
        ngx_chat_session_set_remove(cc);
        ngx_chat_presence_conn_closed(cc);
        ngx_chat_delivery_remove(cc);
    }

    ngx_chat_sync_free(cc);
    ngx_chat_order_free(cc);
}


/* Its timer: a sync's wait, a gap's retry (heartbeat and expiry: ws). */
static void
ngx_chat_dispatch_tick(ngx_chat_conn_t *cc)
{
    ngx_chat_sync_tick(cc);
    ngx_chat_order_tick(cc);
}


static ngx_msec_t
ngx_chat_dispatch_next(ngx_chat_conn_t *cc)
{
    return ngx_min(ngx_chat_sync_next(cc), ngx_chat_order_next(cc));
}


/* Each heartbeat refreshes the connection's entry in the registry. */
static void
ngx_chat_dispatch_heartbeat(ngx_chat_conn_t *cc)
{
    ngx_chat_session_set_refresh(cc);
}


static void
ngx_chat_dispatch_message(ngx_chat_conn_t *cc, u_char *text, size_t len)
{
    chat_str_t          self;
    chat_req_t          req;
    chat_proto_error_t  err;

    self.s = (char *) cc->id.user.data;
    self.len = cc->id.user.len;

    if (chat_proto_decode((char *) text, len, self, &req, &err) != 0) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                       "chat: bad request: %s: %s", err.code, err.message);

        if (!ngx_chat_dispatch_limited(cc, &req, 0)) {
            ngx_chat_reply_error(cc, &req.id, err.code, err.message);
        }

        chat_req_free(&req);
        return;
    }

    if (ngx_chat_dispatch_limited(cc, &req, 1)) {
        chat_req_free(&req);
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                   "chat dispatch: \"%s\", id \"%*s\"",
                   chat_req_type_name(req.type), req.id.len,
                   req.id.len ? req.id.s : "");

    switch (req.type) {

    case CHAT_REQ_PING:
        ngx_chat_dispatch_pong(cc, &req);
        break;

    case CHAT_REQ_AUTH:
        ngx_chat_dispatch_auth(cc, &req);
        break;

    case CHAT_REQ_SEND:
        ngx_chat_writes_send(cc, &req);
        break;

    case CHAT_REQ_RECEIPT:
        ngx_chat_receipts_request(cc, &req);
        break;

    case CHAT_REQ_HISTORY:
        ngx_chat_writes_history(cc, &req);
        break;

    case CHAT_REQ_TYPING:
        ngx_chat_typing(cc, &req);
        break;

    case CHAT_REQ_PRESENCE_SUB:
        ngx_chat_presence_sub(cc, &req);
        break;

    case CHAT_REQ_PRESENCE_UNSUB:
        ngx_chat_presence_unsub(cc, &req);
        break;

    case CHAT_REQ_GROUP_CREATE:
    case CHAT_REQ_GROUP_ADD:
    case CHAT_REQ_GROUP_REMOVE:
    case CHAT_REQ_GROUP_LEAVE:
        ngx_chat_writes_group(cc, &req);
        break;

    case CHAT_REQ_CONV_SET:
        ngx_chat_writes_conv_set(cc, &req);
        break;
    }

    chat_req_free(&req);
}


/*
 * Every frame counts, before anything is reserved, produced or asked of
 * Redis: sends, group changes and ttls against the user's send rate, typing
 * against its own (ngx_chat_typing.c), everything else, a frame that is
 * not a valid request (valid 0) included, at its cost against the user's
 * request budget. Past a limit: an error that says when to try again;
 * past flood times the burst: the connection closes.
 */
static ngx_uint_t
ngx_chat_dispatch_limited(ngx_chat_conn_t *cc, chat_req_t *req,
    ngx_uint_t valid)
{
    ngx_int_t    rc;
    ngx_msec_t   wait;

    switch (valid ? req->type : 0) {

    case CHAT_REQ_SEND:
    case CHAT_REQ_GROUP_CREATE:
    case CHAT_REQ_GROUP_ADD:
    case CHAT_REQ_GROUP_REMOVE:
    case CHAT_REQ_GROUP_LEAVE:
    case CHAT_REQ_CONV_SET:
        rc = ngx_chat_limit_send(&cc->limit, cc->connection->log,
                                 &cc->id.user, &wait);
        break;

    case CHAT_REQ_TYPING:
        return 0;

    default:
        rc = ngx_chat_limit_request(&cc->limit, cc->connection->log,
                                    &cc->id.user, valid ? req : NULL, &wait);
    }

    if (rc == NGX_OK) {
        return 0;
    }

    if (rc == NGX_DECLINED) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_FLOOD_CLOSED);
        ngx_chat_ws_close(cc, CHAT_WS_CLOSE_POLICY, "rate limit exceeded");
        return 1;
    }

    ngx_chat_stat_error("rate_limited");

    (void) ngx_chat_reply(cc,
               chat_frame_error_retry(req->id, "rate_limited",
                                      "too many requests, retry later",
                                      (double) wait / 1000));

    return 1;
}


static void
ngx_chat_dispatch_pong(ngx_chat_conn_t *cc, chat_req_t *req)
{
    json_t  *pong;

    pong = json_pack("{s:s, s:I}", "type", "pong",
                     "ts", (json_int_t) ngx_chat_now_ms());

    if (pong && req->id.len) {
        json_object_set_new(pong, "id",
                            json_stringn(req->id.s, req->id.len));
    }

    (void) ngx_chat_reply(cc, pong);
}


/*
 * A token refresh: the new token must be valid and name the same user;
 * then the connection lives until its exp. It is checked in a pool of its
 * own, so refreshing does not grow the connection's memory.
 */
static void
ngx_chat_dispatch_auth(ngx_chat_conn_t *cc, chat_req_t *req)
{
    json_t               *ok;
    ngx_str_t             token;
    ngx_int_t             rc;
    ngx_pool_t           *pool;
    ngx_chat_identity_t   fresh;

    pool = ngx_create_pool(1024, cc->connection->log);
    if (pool == NULL) {
        ngx_chat_reply_error(cc, &req->id, "internal", "out of memory");
        return;
    }

    token.data = (u_char *) req->token.s;
    token.len = req->token.len;
    ngx_memzero(&fresh, sizeof(ngx_chat_identity_t));

    rc = ngx_chat_auth_verify(cc->conf, pool, &token, &fresh);

    if (rc == NGX_ERROR) {
        ngx_chat_reply_error(cc, &req->id, "internal", "out of memory");

    } else if (rc == NGX_DECLINED) {
        ngx_chat_reply_error(cc, &req->id, "forbidden", fresh.error);

    } else if (fresh.user.len != cc->id.user.len
               || ngx_memcmp(fresh.user.data, cc->id.user.data,
                             fresh.user.len) != 0)
    {
        ngx_chat_reply_error(cc, &req->id, "forbidden",
                               "the token is for another user");

    } else {
        cc->id.exp = fresh.exp;

        if (cc->tick.timer_set) {
            ngx_del_timer(&cc->tick);
        }

        ngx_chat_ws_rearm_tick(cc);

        ok = json_pack("{s:s, s:I}", "type", "auth",
                       "exp", (json_int_t) fresh.exp);

        if (ok && req->id.len) {
            json_object_set_new(ok, "id",
                                json_stringn(req->id.s, req->id.len));
        }

        (void) ngx_chat_reply(cc, ok);
    }

    ngx_destroy_pool(pool);
}
