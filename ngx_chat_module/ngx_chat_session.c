/*
 * The chat protocol on an open connection (PROTOCOL.md sections 2-4): the
 * hello, then one decoded request per text message, each answered with a
 * reply or an error frame that echoes its "id". Errors never close.
 */

#include "ngx_chat_module.h"

#include <openssl/rand.h>


static void ngx_chat_session_send(ngx_chat_conn_t *cc, chat_req_t *req);
static void ngx_chat_session_receipt(ngx_chat_conn_t *cc, chat_req_t *req);
static ngx_chat_write_t *ngx_chat_session_write(ngx_chat_conn_t *cc,
    ngx_chat_write_kind_e kind, chat_str_t *id);
static void ngx_chat_session_dedupe_reply(redisReply *reply, void *data);
static void ngx_chat_session_produce(ngx_chat_write_t *w);
static void ngx_chat_session_write_failed(ngx_chat_write_t *w);
static void ngx_chat_session_free_write(ngx_chat_write_t *w);
static void ngx_chat_session_pong(ngx_chat_conn_t *cc, chat_req_t *req);
static void ngx_chat_session_auth(ngx_chat_conn_t *cc, chat_req_t *req);
static void ngx_chat_session_error(ngx_chat_conn_t *cc, chat_str_t *id,
    const char *code, const char *message);
static ngx_int_t ngx_chat_session_reply(ngx_chat_conn_t *cc, json_t *json);


ngx_int_t
ngx_chat_session_start(ngx_chat_conn_t *cc)
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

    return ngx_chat_session_reply(cc, hello);
}


void
ngx_chat_session_message(ngx_chat_conn_t *cc, u_char *text, size_t len)
{
    chat_str_t          self;
    chat_req_t          req;
    chat_proto_error_t  err;

    self.s = (char *) cc->id.user.data;
    self.len = cc->id.user.len;

    if (chat_proto_decode((char *) text, len, self, &req, &err) != 0) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                       "chat: bad request: %s: %s", err.code, err.message);
        ngx_chat_session_error(cc, &req.id, err.code, err.message);
        chat_req_free(&req);
        return;
    }

    switch (req.type) {

    case CHAT_REQ_PING:
        ngx_chat_session_pong(cc, &req);
        break;

    case CHAT_REQ_AUTH:
        ngx_chat_session_auth(cc, &req);
        break;

    case CHAT_REQ_SEND:
        ngx_chat_session_send(cc, &req);
        break;

    case CHAT_REQ_RECEIPT:
        ngx_chat_session_receipt(cc, &req);
        break;

    default:
        /* typing, presence, groups and history come with later issues */
        ngx_chat_session_error(cc, &req.id, "unavailable",
                               "not available on this server yet");
        break;
    }

    chat_req_free(&req);
}


/*
 * A 1:1 message: a write to the conversation's log, answered "sent" from
 * its delivery report. The mid is reserved in Redis under the client id
 * first, so that a retry of the same id reuses the first attempt's mid;
 * without Redis the write goes out with a fresh one (see INTERNALS.md).
 */
static void
ngx_chat_session_send(ngx_chat_conn_t *cc, chat_req_t *req)
{
    json_t            *media;
    ngx_str_t          argv[7];
    chat_str_t         self;
    u_char             key[sizeof("chat:cid::") + CHAT_ID_MAX
                           + CHAT_CLIENT_ID_MAX];
    ngx_chat_write_t  *w;
    ngx_chat_redis_t  *redis;

    if (req->group.len) {
        ngx_chat_session_error(cc, &req->id, "unavailable",
                               "group messages are not available yet");
        return;
    }

    w = ngx_chat_session_write(cc, NGX_CHAT_WRITE_SEND, &req->id);
    if (w == NULL) {
        return;
    }

    self.s = (char *) cc->id.user.data;
    self.len = cc->id.user.len;
    w->conv_len = chat_conv_dm((char *) w->conv, self, req->to);

    media = NULL;

    if (req->has_media) {
        media = json_pack("{s:s%, s:s%, s:I}",
                          "url", req->media.url.s, req->media.url.len,
                          "mime", req->media.mime.s, req->media.mime.len,
                          "size", (json_int_t) req->media.size);
    }

    w->record = json_pack("{s:i, s:s, s:s%, s:s%, s:s%, s:s%, s:s%, s:I}",
                          "v", 1, "op", "send",
                          "conv", w->conv, w->conv_len,
                          "from", self.s, self.len,
                          "to", req->to.s, req->to.len,
                          "body", req->body.s, req->body.len,
                          "id", req->id.s, req->id.len,
                          "ts", (json_int_t) w->ts);

    if (w->record == NULL
        || (media && json_object_set_new(w->record, "media", media) != 0))
    {
        ngx_chat_session_write_failed(w);
        return;
    }

    redis = ngx_chat_users_redis();

    if (redis) {
        argv[0].data = (u_char *) "SET";
        argv[0].len = 3;
        argv[1].data = key;
        argv[1].len = ngx_sprintf(key, "chat:cid:%V:%*s", &cc->id.user,
                                  w->id_len, w->id) - key;
        argv[2].data = w->mid;
        argv[2].len = CHAT_MID_LEN;
        ngx_str_set(&argv[3], "NX");
        ngx_str_set(&argv[4], "GET");
        ngx_str_set(&argv[5], "EX");
        ngx_str_set(&argv[6], "86400");

        if (ngx_chat_redis_command(redis, ngx_chat_session_dedupe_reply, w,
                                   7, argv)
            == NGX_OK)
        {
            return;
        }
    }

    ngx_chat_session_produce(w);
}


/* SET .. NX GET answered: nil when our mid was stored, else the first one. */
static void
ngx_chat_session_dedupe_reply(redisReply *reply, void *data)
{
    ngx_chat_write_t  *w = data;

    if (reply && reply->type == REDIS_REPLY_STRING
        && reply->len == CHAT_MID_LEN)
    {
        ngx_memcpy(w->mid, reply->str, CHAT_MID_LEN);
    }

    ngx_chat_session_produce(w);
}


/* A read (or delivered) watermark, ordered with the conversation's log. */
static void
ngx_chat_session_receipt(ngx_chat_conn_t *cc, chat_req_t *req)
{
    ngx_chat_write_t  *w;

    if (req->conv_parsed.kind != CHAT_CONV_DM) {
        ngx_chat_session_error(cc, &req->id, "unavailable",
                               "group receipts are not available yet");
        return;
    }

    w = ngx_chat_session_write(cc, NGX_CHAT_WRITE_RECEIPT, &req->id);
    if (w == NULL) {
        return;
    }

    ngx_memcpy(w->conv, req->conv.s, req->conv.len);
    w->conv_len = req->conv.len;

    w->record = json_pack("{s:i, s:s, s:s%, s:s%, s:s, s:I, s:I}",
                          "v", 1, "op", "receipt",
                          "conv", w->conv, w->conv_len,
                          "by", cc->id.user.data, cc->id.user.len,
                          "status", req->status == CHAT_RECEIPT_READ
                                    ? "read" : "delivered",
                          "seq", (json_int_t) req->seq,
                          "ts", (json_int_t) w->ts);

    if (w->record == NULL) {
        ngx_chat_session_write_failed(w);
        return;
    }

    ngx_chat_session_produce(w);
}


/*
 * Asks the workers for this connection's pending messages (those above
 * the user's delivered watermarks). Live frames wait until they are out;
 * see ngx_chat_users.c.
 */
void
ngx_chat_session_sync(ngx_chat_conn_t *cc)
{
    u_char             key[sizeof("user:") + CHAT_ID_MAX];
    ngx_chat_write_t  *w;
    chat_str_t         none;

    if (cc->closing || !ngx_chat_kafka_available()) {
        /* no way to fetch them now: live frames are not held any longer */
        if (cc->syncing) {
            ngx_chat_users_sync_done(cc);
        }

        return;
    }

    none.s = NULL;
    none.len = 0;

    w = ngx_chat_session_write(cc, NGX_CHAT_WRITE_SYNC, &none);
    if (w == NULL) {
        return;
    }

    w->conv_len = ngx_sprintf(key, "user:%V", &cc->id.user) - key;
    ngx_memcpy(w->conv, key, w->conv_len);

    w->record = json_pack("{s:i, s:s, s:s%, s:s%, s:I}",
                          "v", 1, "op", "sync",
                          "user", cc->id.user.data, cc->id.user.len,
                          "conn", cc->conn_id.data, cc->conn_id.len,
                          "ts", (json_int_t) w->ts);

    if (w->record == NULL) {
        ngx_chat_session_free_write(w);
        return;
    }

    cc->syncing = 1;
    cc->sync_tries++;
    cc->sync_deadline = ngx_current_msec + ngx_chat_main_conf->sync_timeout;
    ngx_chat_ws_rearm_tick(cc);

    ngx_chat_session_produce(w);
}


/*
 * A write record for a request of cc; NULL (the client already answered)
 * when the log cannot take it now.
 */
static ngx_chat_write_t *
ngx_chat_session_write(ngx_chat_conn_t *cc, ngx_chat_write_kind_e kind,
    chat_str_t *id)
{
    u_char             rnd[10];
    ngx_chat_write_t  *w;

    if (!ngx_chat_kafka_available()) {
        ngx_chat_session_error(cc, id, "unavailable",
                               "the message log is not available; "
                               "retry later with the same id");
        return NULL;
    }

    w = ngx_alloc(sizeof(ngx_chat_write_t), cc->connection->log);
    if (w == NULL) {
        ngx_chat_session_error(cc, id, "internal", "out of memory");
        return NULL;
    }

    w->conn = cc->node.key;
    w->kind = kind;
    w->ts = ngx_chat_now_ms();
    w->record = NULL;
    w->conv_len = 0;
    w->id_len = id->len;

    if (id->len) {
        ngx_memcpy(w->id, id->s, id->len);
    }

    /*
     * Not ngx_random(): random() is one stream per process that any library
     * may reseed (librdkafka does, from the clock), so two workers started
     * together can draw the same bytes in the same millisecond.
     */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        ngx_free(w);
        ngx_chat_session_error(cc, id, "internal", "no random bytes");
        return NULL;
    }

    chat_mid_make((char *) w->mid, w->ts, rnd);

    return w;
}


/* Serializes the record (with its mid, for a send) and produces it. */
static void
ngx_chat_session_produce(ngx_chat_write_t *w)
{
    char       *value;
    size_t      len;
    ngx_str_t   key;

    if (w->kind == NGX_CHAT_WRITE_SEND
        && json_object_set_new(w->record, "mid",
                               json_stringn((char *) w->mid, CHAT_MID_LEN))
           != 0)
    {
        ngx_chat_session_write_failed(w);
        return;
    }

    value = json_dumps(w->record, JSON_COMPACT);
    json_decref(w->record);
    w->record = NULL;

    if (value == NULL) {
        ngx_chat_session_write_failed(w);
        return;
    }

    len = ngx_strlen(value);
    key.data = w->conv;
    key.len = w->conv_len;

    if (ngx_chat_kafka_produce(&key, value, len, w) != NGX_OK) {
        free(value);
        ngx_chat_session_write_failed(w);
    }
}


/*
 * The delivery report of a write: "sent" for a send that is in the log,
 * "unavailable" for any write that is not. The connection may be gone.
 */
void
ngx_chat_session_delivered(ngx_chat_write_t *w, ngx_uint_t ok,
    ngx_uint_t exiting)
{
    json_t           *sent;
    ngx_chat_conn_t  *cc;

    if (exiting) {
        ngx_chat_session_free_write(w);
        return;
    }

    if (!ok) {
        ngx_chat_session_write_failed(w);
        return;
    }

    cc = ngx_chat_users_find_conn(w->conn);

    if (cc && w->kind == NGX_CHAT_WRITE_SEND) {
        sent = json_pack("{s:s, s:s%, s:s%, s:s%, s:I}",
                         "type", "sent",
                         "id", w->id, w->id_len,
                         "mid", w->mid, (size_t) CHAT_MID_LEN,
                         "conv", w->conv, w->conv_len,
                         "ts", (json_int_t) w->ts);

        (void) ngx_chat_session_reply(cc, sent);
    }

    ngx_chat_session_free_write(w);
}


/* Tells the client its write was not taken, if it is still here. */
static void
ngx_chat_session_write_failed(ngx_chat_write_t *w)
{
    chat_str_t        id;
    ngx_chat_conn_t  *cc;

    cc = ngx_chat_users_find_conn(w->conn);

    if (cc) {
        if (w->kind == NGX_CHAT_WRITE_SYNC) {
            ngx_chat_users_sync_done(cc);

        } else {
            id.s = (char *) w->id;
            id.len = w->id_len;
            ngx_chat_session_error(cc, &id, "unavailable",
                                   "the write did not reach the message log; "
                                   "retry later with the same id");
        }
    }

    ngx_chat_session_free_write(w);
}


static void
ngx_chat_session_free_write(ngx_chat_write_t *w)
{
    if (w->record) {
        json_decref(w->record);
    }

    ngx_free(w);
}


static void
ngx_chat_session_pong(ngx_chat_conn_t *cc, chat_req_t *req)
{
    json_t  *pong;

    pong = json_pack("{s:s, s:I}", "type", "pong",
                     "ts", (json_int_t) ngx_chat_now_ms());

    if (pong && req->id.len) {
        json_object_set_new(pong, "id",
                            json_stringn(req->id.s, req->id.len));
    }

    (void) ngx_chat_session_reply(cc, pong);
}


/*
 * A token refresh: the new token must be valid and name the same user;
 * then the connection lives until its exp. It is checked in a pool of its
 * own, so refreshing does not grow the connection's memory.
 */
static void
ngx_chat_session_auth(ngx_chat_conn_t *cc, chat_req_t *req)
{
    json_t               *ok;
    ngx_str_t             token;
    ngx_int_t             rc;
    ngx_pool_t           *pool;
    ngx_chat_identity_t   fresh;

    pool = ngx_create_pool(1024, cc->connection->log);
    if (pool == NULL) {
        ngx_chat_session_error(cc, &req->id, "internal", "out of memory");
        return;
    }

    token.data = (u_char *) req->token.s;
    token.len = req->token.len;
    ngx_memzero(&fresh, sizeof(ngx_chat_identity_t));

    rc = ngx_chat_auth_verify(cc->request, pool, &token, &fresh);

    if (rc == NGX_ERROR) {
        ngx_chat_session_error(cc, &req->id, "internal", "out of memory");

    } else if (rc == NGX_DECLINED) {
        ngx_chat_session_error(cc, &req->id, "forbidden", fresh.error);

    } else if (fresh.user.len != cc->id.user.len
               || ngx_memcmp(fresh.user.data, cc->id.user.data,
                             fresh.user.len) != 0)
    {
        ngx_chat_session_error(cc, &req->id, "forbidden",
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

        (void) ngx_chat_session_reply(cc, ok);
    }

    ngx_destroy_pool(pool);
}


static void
ngx_chat_session_error(ngx_chat_conn_t *cc, chat_str_t *id, const char *code,
    const char *message)
{
    json_t  *err;

    err = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code,
                    "message", message);

    if (err && id->len) {
        json_object_set_new(err, "id", json_stringn(id->s, id->len));
    }

    (void) ngx_chat_session_reply(cc, err);
}


/* Sends and releases a reply built by the caller (NULL: out of memory). */
static ngx_int_t
ngx_chat_session_reply(ngx_chat_conn_t *cc, json_t *json)
{
    ngx_int_t  rc;

    if (json == NULL) {
        ngx_log_error(NGX_LOG_ERR, cc->connection->log, 0,
                      "chat: cannot build a reply: out of memory");
        return NGX_ERROR;
    }

    rc = ngx_chat_ws_send_json(cc, json);
    json_decref(json);

    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}
