/*
 * Writes: the requests that go through the log of writes (Kafka, keyed by
 * conversation) and are answered from its delivery reports. Here: send,
 * group changes, a conversation's ttl, history and the read of a gap in a conversation
 * (ngx_chat_order.c), and what every write shares (a record, its mid, its
 * produce and its delivery report), which receipts (ngx_chat_receipts.c)
 * and a connection's request for its pending messages (ngx_chat_sync.c)
 * use too. See docs/INTERNALS.md for the records.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_stats.h"
#include "chat_cid.h"
#include "chat_frame.h"
#include "chat_record.h"

#include <openssl/rand.h>


static ngx_int_t ngx_chat_writes_media_id(ngx_chat_conn_t *cc,
    chat_req_t *req, chat_str_t *media_id);
static void ngx_chat_writes_reserve_mid(ngx_chat_conn_t *cc,
    ngx_chat_write_t *w);
static ngx_int_t ngx_chat_writes_history_record(ngx_chat_conn_t *cc,
    ngx_chat_write_t *w, int64_t before_seq, ngx_uint_t limit,
    ngx_uint_t events);
static size_t ngx_chat_writes_cid_value(ngx_chat_write_t *w, u_char *value);
static void ngx_chat_writes_dedupe_reply(redisReply *reply, void *data);
static ngx_uint_t ngx_chat_writes_shed(ngx_chat_conn_t *cc, chat_req_t *req);
static void ngx_chat_writes_delivered(void *opaque, ngx_uint_t ok,
    ngx_uint_t exiting);


/*
 * Shedding's last level refuses the writes a user makes (messages, group
 * changes and ttls) before anything is reserved or produced; the client is told the
 * truth, "unavailable", and retries with the same id.
 */
static ngx_uint_t
ngx_chat_writes_shed(ngx_chat_conn_t *cc, chat_req_t *req)
{
    if (ngx_chat_shed_level() < NGX_CHAT_SHED_SENDS) {
        return 0;
    }

    ngx_chat_stat_inc(NGX_CHAT_STAT_SHED_SENDS);
    ngx_chat_reply_error(cc, &req->id, "unavailable",
                           "the server is overloaded; "
                           "retry later with the same id");
    return 1;
}


/*
 * A message: a write to the conversation's log. A 1:1 message is answered
 * "sent" from its delivery report; a group message by the worker, once it
 * has checked, in the group's order, that the sender is a member (so the
 * record names this connection).
 */
void
ngx_chat_writes_send(ngx_chat_conn_t *cc, chat_req_t *req)
{
    chat_str_t         media_id;
    chat_record_t      rec;
    ngx_chat_write_t  *w;

    if (ngx_chat_writes_shed(cc, req)) {
        return;
    }

    media_id.s = NULL;
    media_id.len = 0;

    if (req->has_media
        && ngx_chat_writes_media_id(cc, req, &media_id) != NGX_OK)
    {
        return;
    }

    /* a media id may be gone from the store (swept) although its URL is
     * still valid: only the worker can tell, so it answers such a DM */
    w = ngx_chat_writes_new(cc, req->group.len || req->has_media
                                ? NGX_CHAT_WRITE_CHECKED_SEND
                                : NGX_CHAT_WRITE_SEND,
                            &req->id);
    if (w == NULL) {
        return;
    }

    ngx_chat_writes_record(cc, w, CHAT_RECORD_OP_SEND, &rec);

    if (req->group.len) {
        w->conv_len = chat_conv_group((char *) w->conv, req->group);
        rec.group = req->group;

    } else {
        w->conv_len = chat_conv_dm((char *) w->conv, rec.from, req->to);
        rec.to = req->to;
    }

    rec.conv.s = (char *) w->conv;
    rec.conv.len = w->conv_len;
    rec.body = req->body;
    rec.id = req->id;
    rec.has_media = req->has_media;
    rec.media_id = media_id;

    w->record = chat_record_encode(&rec);
    if (w->record == NULL) {
        ngx_chat_writes_failed(w);
        return;
    }

    ngx_chat_writes_reserve_mid(cc, w);
}


/*
 * The media id a send's URL names, once the URL is known to be one this
 * server signed and still valid (ngx_chat_media_key.c, the configured key):
 * the record carries the id alone, and the worker takes the type and size
 * recorded at upload, whatever the client claimed. NGX_OK, or NGX_DECLINED
 * with the client answered bad_request.
 */
static ngx_int_t
ngx_chat_writes_media_id(ngx_chat_conn_t *cc, chat_req_t *req,
    chat_str_t *media_id)
{
    if (ngx_chat_media_verify(req->media.url, media_id) == NGX_OK) {
        return NGX_OK;
    }

    /* an id is given back only for a genuine URL past its expiry */
    ngx_chat_reply_error(cc, &req->id, "bad_request",
                           media_id->len ? "media.url has expired"
                                         : "media.url is not a valid URL "
                                           "of this server");
    return NGX_DECLINED;
}


/*
 * A membership change of a group (create, add, remove, leave): a write in
 * the group's conversation, ordered with its messages; the worker answers
 * group_ok (with its seq) or an error to this connection.
 */
void
ngx_chat_writes_group(ngx_chat_conn_t *cc, chat_req_t *req)
{
    chat_record_t      rec;
    ngx_chat_write_t  *w;

    if (ngx_chat_writes_shed(cc, req)) {
        return;
    }

    w = ngx_chat_writes_new(cc, NGX_CHAT_WRITE_GROUP, &req->id);
    if (w == NULL) {
        return;
    }

    w->conv_len = chat_conv_group((char *) w->conv, req->group);

    ngx_chat_writes_record(cc, w, CHAT_RECORD_OP_GROUP, &rec);
    /* the group requests are in the order of chat_record_group_e */
    rec.action = (chat_record_group_e) (req->type - CHAT_REQ_GROUP_CREATE);
    rec.group = req->group;
    rec.by = rec.from;
    rec.name = req->name;
    rec.members = req->users;

    w->record = chat_record_encode(&rec);
    if (w->record == NULL) {
        ngx_chat_writes_failed(w);
        return;
    }

    ngx_chat_writes_reserve_mid(cc, w);
}


/*
 * How long a conversation's messages live (disappearing messages): a write
 * in its log, ordered like a membership change; the worker answers
 * conv_ok (with its seq) or an error to this connection, and tells every
 * member. Who may set it is checked before the ttl: a DM's members are
 * known from its id, so a DM is checked here; a group's admins only to
 * its worker, which gets the record whatever the ttl and refuses a bad
 * one once it has checked the setter.
 */
void
ngx_chat_writes_conv_set(ngx_chat_conn_t *cc, chat_req_t *req)
{
    chat_str_t         self;
    chat_record_t      rec;
    ngx_chat_write_t  *w;

    if (req->conv_parsed.kind == CHAT_CONV_DM) {
        self.s = (char *) cc->id.user.data;
        self.len = cc->id.user.len;

        /* the decoder refuses a DM of others already; this write must
         * never go out for one, whoever calls it */
        if (!chat_conv_dm_has(&req->conv_parsed, self)) {
            ngx_chat_reply_error(cc, &req->id, "forbidden",
                                   "not a member of this conversation");
            return;
        }

        if (req->ttl == CHAT_PROTO_TTL_BAD) {
            ngx_chat_reply_error(cc, &req->id, "bad_request",
                                   "\"ttl\" must be an integer number of "
                                   "seconds, 0 to 7776000");
            return;
        }
    }

    if (ngx_chat_writes_shed(cc, req)) {
        return;
    }

    w = ngx_chat_writes_new(cc, NGX_CHAT_WRITE_CONV_SET, &req->id);
    if (w == NULL) {
        return;
    }

    ngx_memcpy(w->conv, req->conv.s, req->conv.len);
    w->conv_len = req->conv.len;

    ngx_chat_writes_record(cc, w, CHAT_RECORD_OP_CONV_SET, &rec);
    rec.conv.s = (char *) w->conv;
    rec.conv.len = w->conv_len;
    rec.ttl = req->ttl;

    w->record = chat_record_encode(&rec);
    if (w->record == NULL) {
        ngx_chat_writes_failed(w);
        return;
    }

    ngx_chat_writes_reserve_mid(cc, w);
}


/*
 * The mid is reserved in Redis under the client id first, with what the
 * request is (common/chat_cid.h), so that a retry of the same id reuses
 * the first attempt's mid and a reuse of the id for another request is
 * refused here; without Redis (or an id) the write goes out with a fresh
 * mid, and the worker's dedupe by client id still keeps one message and
 * refuses the reuse (see INTERNALS.md).
 */
static void
ngx_chat_writes_reserve_mid(ngx_chat_conn_t *cc, ngx_chat_write_t *w)
{
    ngx_str_t          argv[7];
    u_char             key[CHAT_CID_KEY_MAX];
    u_char             value[CHAT_CID_VALUE_MAX];
    chat_str_t         user, id;

    if (ngx_chat_pubsub_enabled() && w->id_len) {
        user.s = (char *) cc->id.user.data;
        user.len = cc->id.user.len;
        id.s = (char *) w->id;
        id.len = w->id_len;

        ngx_str_set(&argv[0], "SET");
        argv[1].data = key;
        argv[1].len = chat_cid_key((char *) key, user, id);
        argv[2].data = value;
        argv[2].len = ngx_chat_writes_cid_value(w, value);
        ngx_str_set(&argv[3], "NX");
        ngx_str_set(&argv[4], "GET");
        ngx_str_set(&argv[5], "EX");
        ngx_str_set(&argv[6], "86400");

        if (argv[2].len
            && ngx_chat_pubsub_command(1, ngx_chat_writes_dedupe_reply, w, 7,
                                       argv)
               == NGX_OK)
        {
            return;
        }
    }

    ngx_chat_writes_produce(w);
}


/* The reservation of w: its mid, what its record is (op and action) and
 * its conversation; 0 when it cannot be written. */
static size_t
ngx_chat_writes_cid_value(ngx_chat_write_t *w, u_char *value)
{
    chat_str_t  op, action, conv;

    chat_record_what(w->record, &op, &action);

    conv.s = (char *) w->conv;
    conv.len = w->conv_len;

    return chat_cid_value((char *) value, (char *) w->mid, op, action, conv);
}


/*
 * SET .. NX GET answered: nil when our reservation was stored; else the
 * first one, whose mid a retry takes, and which a reuse of the id for
 * another request is refused by.
 */
static void
ngx_chat_writes_dedupe_reply(redisReply *reply, void *data)
{
    u_char             ours[CHAT_CID_VALUE_MAX];
    size_t             len;
    chat_str_t         mid, id;
    ngx_chat_conn_t   *cc;
    ngx_chat_write_t  *w = data;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_chat_writes_produce(w);
        return;
    }

    len = ngx_chat_writes_cid_value(w, ours);

    switch (chat_cid_match(reply->str, reply->len, (char *) ours, len, &mid)) {

    case 1:
        ngx_memcpy(w->mid, mid.s, CHAT_MID_LEN);
        break;

    case 0:
        cc = ngx_chat_conn_find(w->conn);

        if (cc) {
            id.s = (char *) w->id;
            id.len = w->id_len;
            ngx_chat_reply_error(cc, &id, "bad_request",
                                   "\"id\" names another request");
        }

        ngx_chat_writes_free(w);
        return;
    }

    ngx_chat_writes_produce(w);
}


/*
 * History is read by the worker that owns the conversation, through the
 * log: it so sees every write accepted before the request, and checks
 * membership in the same order as the writes that change it. The answer
 * comes on the user's channel, addressed to this connection.
 */
void
ngx_chat_writes_history(ngx_chat_conn_t *cc, chat_req_t *req)
{
    ngx_chat_write_t  *w;

    w = ngx_chat_writes_new(cc, NGX_CHAT_WRITE_HISTORY, &req->id);
    if (w == NULL) {
        return;
    }

    ngx_memcpy(w->conv, req->conv.s, req->conv.len);
    w->conv_len = req->conv.len;

    if (ngx_chat_writes_history_record(cc, w, req->before_seq, req->limit, 0)
        != NGX_OK)
    {
        ngx_chat_writes_failed(w);
        return;
    }

    ngx_chat_writes_produce(w);
}


/* The history record of w (its conv and id set), for cc: a client's
 * (messages only), or a gap's (events too). */
static ngx_int_t
ngx_chat_writes_history_record(ngx_chat_conn_t *cc, ngx_chat_write_t *w,
    int64_t before_seq, ngx_uint_t limit, ngx_uint_t events)
{
    chat_record_t  rec;

    ngx_chat_writes_record(cc, w, CHAT_RECORD_OP_HISTORY, &rec);
    rec.conv.s = (char *) w->conv;
    rec.conv.len = w->conv_len;
    rec.user = rec.from;
    rec.before_seq = before_seq;
    rec.limit = (int64_t) limit;
    rec.events = (int) events;

    w->record = chat_record_encode(&rec);

    return w->record ? NGX_OK : NGX_ERROR;
}


/*
 * A read of the seqs below before_seq (at most limit) of a conversation,
 * for this connection's ngx_chat_order.c, which missed some: a history
 * record, so that the conversation's worker answers it in order with its
 * writes. Its id "~gap:<n>" tells the answer apart; nothing is said to the
 * client if it fails (the gap is asked for again).
 */
ngx_int_t
ngx_chat_writes_gap(ngx_chat_conn_t *cc, ngx_str_t *conv, int64_t before_seq,
    ngx_uint_t limit, ngx_uint_t n)
{
    chat_str_t         none;
    ngx_chat_write_t  *w;

    if (cc->closing || !ngx_chat_kafka_available()) {
        return NGX_DECLINED;
    }

    none.s = NULL;
    none.len = 0;

    w = ngx_chat_writes_new(cc, NGX_CHAT_WRITE_GAP, &none);
    if (w == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(w->conv, conv->data, conv->len);
    w->conv_len = conv->len;
    w->id_len = ngx_sprintf(w->id, "~gap:%ui", n) - w->id;

    if (ngx_chat_writes_history_record(cc, w, before_seq, limit, 1)
        != NGX_OK)
    {
        ngx_chat_writes_free(w);
        return NGX_ERROR;
    }

    ngx_chat_writes_produce(w);

    return NGX_OK;
}


/*
 * The members every record of w takes from its connection: op, ts, the
 * user (as from; the caller names it by, user...), the connection an
 * answer goes to, the request's id for the worker to echo, and the most
 * an answer may take: half the send budget, so that a page never closes
 * the socket.
 */
void
ngx_chat_writes_record(ngx_chat_conn_t *cc, ngx_chat_write_t *w,
    chat_record_op_e op, chat_record_t *rec)
{
    ngx_memzero(rec, sizeof(chat_record_t));

    rec->op = op;
    rec->ts = (int64_t) w->ts;
    rec->from.s = (char *) cc->id.user.data;
    rec->from.len = cc->id.user.len;
    rec->conn.s = (char *) cc->conn_id.data;
    rec->conn.len = cc->conn_id.len;
    rec->id.s = (char *) w->id;
    rec->id.len = w->id_len;
    rec->max_bytes = (int64_t) (cc->conf->send_budget / 2);
}


/*
 * A write record for a request of cc; NULL (the client already answered)
 * when the log cannot take it now.
 */
ngx_chat_write_t *
ngx_chat_writes_new(ngx_chat_conn_t *cc, ngx_chat_write_kind_e kind,
    chat_str_t *id)
{
    u_char             rnd[10];
    ngx_chat_write_t  *w;

    if (!ngx_chat_kafka_available()) {
        ngx_chat_reply_error(cc, id, "unavailable",
                               "the message log is not available; "
                               "retry later with the same id");
        return NULL;
    }

    /*
     * a read is answered by a worker only through Redis; a write is
     * taken all the same (it is durable, and a retry with its id gets the
     * answer once Redis is back)
     */
    if (kind == NGX_CHAT_WRITE_HISTORY && !ngx_chat_delivery_listening(cc)) {
        ngx_chat_reply_error(cc, id, "unavailable",
                               "Redis is not available; "
                               "retry later with the same id");
        return NULL;
    }

    w = ngx_alloc(sizeof(ngx_chat_write_t), cc->connection->log);
    if (w == NULL) {
        ngx_chat_reply_error(cc, id, "internal", "out of memory");
        return NULL;
    }

    w->conn = cc->node.key;
    w->kind = kind;
    w->failed = NULL;
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
        ngx_chat_reply_error(cc, id, "internal", "no random bytes");
        return NULL;
    }

    chat_mid_make((char *) w->mid, w->ts, rnd);

    return w;
}


/* Serializes the record (with its mid, for a send) and produces it. */
void
ngx_chat_writes_produce(ngx_chat_write_t *w)
{
    char        *value;
    size_t       len;
    ngx_str_t    key;
    chat_str_t   mid;

    mid.s = (char *) w->mid;
    mid.len = CHAT_MID_LEN;

    if (chat_record_set_mid(w->record, mid) != 0) {
        ngx_chat_writes_failed(w);
        return;
    }

    value = chat_record_dump(w->record, &len);
    json_decref(w->record);
    w->record = NULL;

    if (value == NULL) {
        ngx_chat_writes_failed(w);
        return;
    }

    key.data = w->conv;
    key.len = w->conv_len;

    if (ngx_chat_kafka_produce(&key, value, len, w) != NGX_OK) {
        free(value);
        ngx_chat_writes_failed(w);
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "chat writes: record produced: kind %d, conn %uL, "
                   "%uz bytes", (int) w->kind, w->conn, len);

    if (w->kind == NGX_CHAT_WRITE_SEND || w->kind == NGX_CHAT_WRITE_CHECKED_SEND)
    {
        ngx_chat_stat_inc(NGX_CHAT_STAT_SENDS);
    }
}


/* Every write's delivery report comes here (ngx_chat_kafka.c). */
void
ngx_chat_writes_init(void)
{
    ngx_chat_kafka_on_delivery(ngx_chat_writes_delivered);
}


/*
 * The delivery report of a write: "sent" for a send that is in the log,
 * "unavailable" for any write that is not. The connection may be gone.
 */
static void
ngx_chat_writes_delivered(void *opaque, ngx_uint_t ok, ngx_uint_t exiting)
{
    chat_str_t         id, mid, conv;
    ngx_chat_conn_t   *cc;
    ngx_chat_write_t  *w = opaque;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "chat writes: delivery report of a kind %d write "
                   "of conn %uL: %s%s", (int) w->kind, w->conn,
                   ok ? "in the log" : "failed", exiting ? ", exiting" : "");

    if (exiting) {
        ngx_chat_writes_free(w);
        return;
    }

    if (!ok) {
        ngx_chat_writes_failed(w);
        return;
    }

    cc = ngx_chat_conn_find(w->conn);

    if (cc && w->kind == NGX_CHAT_WRITE_SEND) {
        id.s = (char *) w->id;
        id.len = w->id_len;
        mid.s = (char *) w->mid;
        mid.len = CHAT_MID_LEN;
        conv.s = (char *) w->conv;
        conv.len = w->conv_len;

        (void) ngx_chat_reply(cc, chat_frame_sent(id, mid, conv,
                                                  (int64_t) w->ts));
        ngx_chat_stat_inc(NGX_CHAT_STAT_SENT);
    }

    ngx_chat_writes_free(w);
}


/* Tells the client its write was not taken, if it is still here. */
void
ngx_chat_writes_failed(ngx_chat_write_t *w)
{
    chat_str_t        id;
    ngx_chat_conn_t  *cc;

    cc = ngx_chat_conn_find(w->conn);

    if (cc) {
        if (w->failed) {
            w->failed(cc, w);

        } else if (w->kind == NGX_CHAT_WRITE_GAP) {
            /* asked again at its retry (ngx_chat_order.c) */

        } else {
            id.s = (char *) w->id;
            id.len = w->id_len;
            ngx_chat_reply_error(cc, &id, "unavailable",
                                   "the write did not reach the message log; "
                                   "retry later with the same id");
        }
    }

    ngx_chat_writes_free(w);
}


void
ngx_chat_writes_free(ngx_chat_write_t *w)
{
    if (w->record) {
        json_decref(w->record);
    }

    ngx_free(w);
}
