/*
 * Presence, the watching side (docs/PROTOCOL.md 3 presence_sub/presence_unsub,
 * 4 presence): which connections of this worker watch which users, and
 * what they were told.
 *
 * A connection's presence_sub makes this worker SUBSCRIBE to
 * "chat:pr:<user>" (once per worker) and read the current state once the
 * subscription is confirmed. Announcements carry a version, so a state
 * read and an announcement that cross are put back in order here.
 *
 * While shedding (level 2, ngx_chat_shed.c) a new state of a user already
 * known is kept, not told: the watch is held, and the flush tells each
 * watcher the newest state only, the flaps between are never sent. A
 * watcher whose socket is over half its budget is skipped the same way.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_stats.h"
#include "ngx_chat_presence_lua.h"
#include "chat_presence.h"


#define NGX_CHAT_PRESENCE_MAX_WATCH 1000      /* per connection */

/* the longest frame: user id, "offline" and a last_seen of NGX_INT64_LEN */
#define NGX_CHAT_PRESENCE_FRAME_LEN (128 + CHAT_ID_MAX)


/* A user watched by connections of this worker. */
typedef struct {
    ngx_str_node_t          sn;
    ngx_queue_t             watchers;
    ngx_chat_pubsub_sub_t  *sub;             /* its channel */
    ngx_uint_t              refs;            /* reads in flight, walks */
    int64_t                 version;         /* of frame; -1: none yet */
    ngx_queue_t             held;            /* in ngx_chat_presence_held */
    unsigned                is_held:1;
    size_t                  frame_len;
    u_char                  frame[NGX_CHAT_PRESENCE_FRAME_LEN];
    u_char                  name[CHAT_ID_MAX];
} ngx_chat_watch_t;


/* One connection watching one user. */
typedef struct {
    ngx_queue_t             in_watch;
    ngx_queue_t             in_conn;
    ngx_chat_watch_t       *watch;
    ngx_chat_conn_t        *conn;
    int64_t                 told;            /* version sent to it */
} ngx_chat_watcher_t;


static ngx_int_t ngx_chat_presence_watch(ngx_chat_conn_t *cc,
    ngx_str_t *user);
static void ngx_chat_presence_unwatch(ngx_chat_watcher_t *w);
static void ngx_chat_presence_watch_subscribe(ngx_chat_watch_t *watch,
    ngx_log_t *log);
static void ngx_chat_presence_on_message(ngx_str_t *channel,
    ngx_str_t *payload);
static void ngx_chat_presence_flush(void);
static void ngx_chat_presence_query(ngx_chat_watch_t *watch);
static void ngx_chat_presence_query_reply(redisReply *reply, void *data);
static redisReply *ngx_chat_presence_field(redisReply *r);
static void ngx_chat_presence_update(ngx_chat_watch_t *watch,
    int64_t version, u_char *frame, size_t len);
static void ngx_chat_presence_release(ngx_chat_watch_t *watch);
static ngx_chat_watch_t *ngx_chat_presence_lookup(ngx_str_t *user);
static void ngx_chat_presence_hold(ngx_chat_watch_t *watch);
static ngx_int_t ngx_chat_presence_user_of(ngx_str_t *channel,
    ngx_str_t *user);


static ngx_rbtree_t       ngx_chat_presence_watches;
static ngx_rbtree_node_t  ngx_chat_presence_watches_sentinel;
static ngx_queue_t        ngx_chat_presence_held;


/*
 * The presence channels are routed here (ngx_chat_pubsub.c); what is held
 * while shedding goes out with its level (and is dropped at exit).
 */
ngx_int_t
ngx_chat_presence_watch_init(void)
{
    ngx_rbtree_init(&ngx_chat_presence_watches,
                    &ngx_chat_presence_watches_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_chat_presence_held);

    if (ngx_chat_shed_on_release(NGX_CHAT_SHED_PRESENCE,
                                 ngx_chat_presence_flush, 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_chat_pubsub_handle(CHAT_KEY_PRESENCE_CHANNEL,
                                  ngx_chat_presence_on_message);
}


void
ngx_chat_presence_sub(ngx_chat_conn_t *cc, chat_req_t *req)
{
    size_t      i;
    json_t     *item;
    ngx_str_t   user;

    if (!ngx_chat_presence_enabled()) {
        ngx_chat_reply_error(cc, &req->id, "unavailable",
                               "presence needs chat_redis");
        return;
    }

    if (!ngx_chat_delivery_listening(cc)) {
        ngx_chat_reply_error(cc, &req->id, "unavailable",
                               "Redis is not available; retry later");
        return;
    }

    if (cc->nwatching + req->nusers > NGX_CHAT_PRESENCE_MAX_WATCH) {
        ngx_chat_reply_error(cc, &req->id, "too_large",
                               "a connection watches at most 1000 users");
        return;
    }

    json_array_foreach(req->users, i, item) {
        user.data = (u_char *) json_string_value(item);
        user.len = json_string_length(item);

        if (ngx_chat_presence_watch(cc, &user) != NGX_OK) {
            ngx_chat_reply_error(cc, &req->id, "internal",
                                   "out of memory");
            return;
        }
    }
}


void
ngx_chat_presence_unsub(ngx_chat_conn_t *cc, chat_req_t *req)
{
    size_t               i;
    json_t              *item;
    ngx_queue_t         *q, *next;
    ngx_chat_watcher_t  *w;

    json_array_foreach(req->users, i, item) {

        for (q = ngx_queue_head(&cc->watching);
             q != ngx_queue_sentinel(&cc->watching);
             q = next)
        {
            /* no use after free: after an unwatch, the walk starts over */
            /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
            next = ngx_queue_next(q);
            w = ngx_queue_data(q, ngx_chat_watcher_t, in_conn);

            if (w->watch->sn.str.len == json_string_length(item)
                && ngx_strncmp(w->watch->sn.str.data, json_string_value(item),
                               w->watch->sn.str.len) == 0)
            {
                ngx_chat_presence_unwatch(w);
                break;
            }
        }
    }
}


void
ngx_chat_presence_conn_closed(ngx_chat_conn_t *cc)
{
    ngx_queue_t  *q;

    if (cc->watching.next == NULL) {
        return;    /* never initialised: it never got as far */
    }

    while (!ngx_queue_empty(&cc->watching)) {
        q = ngx_queue_head(&cc->watching);
        ngx_chat_presence_unwatch(ngx_queue_data(q, ngx_chat_watcher_t,
                                                 in_conn));
    }
}


static ngx_int_t
ngx_chat_presence_watch(ngx_chat_conn_t *cc, ngx_str_t *user)
{
    ngx_queue_t         *q;
    ngx_chat_watch_t    *watch;
    ngx_chat_watcher_t  *w;

    watch = ngx_chat_presence_lookup(user);

    if (watch == NULL) {
        watch = ngx_calloc(sizeof(ngx_chat_watch_t), cc->connection->log);
        if (watch == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(watch->name, user->data, user->len);
        watch->sn.str.data = watch->name;
        watch->sn.str.len = user->len;
        watch->sn.node.key = ngx_crc32_short(watch->name, user->len);
        watch->version = -1;
        ngx_queue_init(&watch->watchers);

        ngx_rbtree_insert(&ngx_chat_presence_watches, &watch->sn.node);
        ngx_chat_presence_watch_subscribe(watch, cc->connection->log);

    } else {
        for (q = ngx_queue_head(&watch->watchers);
             q != ngx_queue_sentinel(&watch->watchers);
             q = ngx_queue_next(q))
        {
            w = ngx_queue_data(q, ngx_chat_watcher_t, in_watch);

            if (w->conn == cc) {
                /* asked again: the current state again */
                w->told = -1;
                ngx_chat_presence_update(watch, watch->version, NULL, 0);
                return NGX_OK;
            }
        }
    }

    w = ngx_alloc(sizeof(ngx_chat_watcher_t), cc->connection->log);
    if (w == NULL) {
        ngx_chat_presence_release(watch);
        return NGX_ERROR;
    }

    w->watch = watch;
    w->conn = cc;
    w->told = -1;
    ngx_queue_insert_tail(&watch->watchers, &w->in_watch);
    ngx_queue_insert_tail(&cc->watching, &w->in_conn);
    cc->nwatching++;

    /* a state already known here is told at once */
    ngx_chat_presence_update(watch, watch->version, NULL, 0);

    return NGX_OK;
}


static void
ngx_chat_presence_unwatch(ngx_chat_watcher_t *w)
{
    /* no use after free: a freed watcher is unlinked first */
    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
    ngx_queue_remove(&w->in_watch);
    ngx_queue_remove(&w->in_conn);
    w->conn->nwatching--;

    ngx_chat_presence_release(w->watch);
    ngx_free(w);
}


/* A watch nobody uses any longer goes, unless a read still refers to it. */
static void
ngx_chat_presence_release(ngx_chat_watch_t *watch)
{
    if (!ngx_queue_empty(&watch->watchers) || watch->refs) {
        return;
    }

    if (watch->is_held) {
        ngx_queue_remove(&watch->held);
    }

    ngx_chat_pubsub_unsubscribe(watch->sub);
    ngx_rbtree_delete(&ngx_chat_presence_watches, &watch->sn.node);
    ngx_free(watch);
}


static void
ngx_chat_presence_watch_subscribe(ngx_chat_watch_t *watch, ngx_log_t *log)
{
    u_char     name[CHAT_KEY_LEN(CHAT_KEY_PRESENCE_CHANNEL, CHAT_ID_MAX)];
    ngx_str_t  channel;

    channel.data = name;
    channel.len = chat_key((char *) name, CHAT_KEY_PRESENCE_CHANNEL,
                           (char *) watch->sn.str.data, watch->sn.str.len);

    watch->sub = ngx_chat_pubsub_subscribe(&channel, log);
}


/*
 * A message or a subscription on a presence channel. Once subscribed, the
 * state is read: what changes from then on arrives here, so nothing falls
 * between the read and the events.
 */
static void
ngx_chat_presence_on_message(ngx_str_t *channel, ngx_str_t *payload)
{
    u_char            *nl;
    int64_t            version;
    ngx_str_t          user;
    ngx_chat_watch_t  *watch;

    if (ngx_chat_presence_user_of(channel, &user) != NGX_OK) {
        return;
    }

    watch = ngx_chat_presence_lookup(&user);
    if (watch == NULL) {
        return;
    }

    if (payload == NULL) {
        ngx_chat_presence_query(watch);
        return;
    }

    nl = ngx_strlchr(payload->data, payload->data + payload->len, '\n');
    if (nl == NULL) {
        return;
    }

    version = ngx_atoof(payload->data, nl - payload->data);
    if (version < 0) {
        return;
    }

    nl++;
    ngx_chat_presence_update(watch, version, nl,
                             payload->data + payload->len - nl);
}


static void
ngx_chat_presence_query(ngx_chat_watch_t *watch)
{
    u_char     key[CHAT_KEY_LEN(CHAT_KEY_PRESENCE, CHAT_ID_MAX)];
    ngx_str_t  argv[5];

    ngx_str_set(&argv[0], "HMGET");
    argv[1].data = key;
    argv[1].len = chat_key((char *) key, CHAT_KEY_PRESENCE,
                           (char *) watch->sn.str.data, watch->sn.str.len);
    ngx_str_set(&argv[2], CHAT_PRESENCE_STATUS);
    ngx_str_set(&argv[3], CHAT_PRESENCE_LAST_SEEN);
    ngx_str_set(&argv[4], CHAT_PRESENCE_VERSION);

    if (ngx_chat_presence_command(1, ngx_chat_presence_query_reply, watch, 5,
                                  argv)
        == NGX_OK)
    {
        watch->refs++;
    }
}


/*
 * [status, last seen, version]: all nil for a user never seen, decoded as
 * every reader of the hash decodes it (chat_presence.h). What Redis holds
 * is not trusted into the frame: last seen is printed from the number it
 * parses as, and one that is not a number of ms is left out.
 */
static void
ngx_chat_presence_query_reply(redisReply *reply, void *data)
{
    u_char            *p, frame[NGX_CHAT_PRESENCE_FRAME_LEN];
    int64_t            version;
    redisReply        *st, *ls, *v;
    chat_presence_t    state;
    ngx_chat_watch_t  *watch = data;

    /* the read's reference is kept until the end: the update releases the
     * watch too, and would free it under us if nobody watches any more */

    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 3) {
        st = ngx_chat_presence_field(reply->element[0]);
        ls = ngx_chat_presence_field(reply->element[1]);
        v = ngx_chat_presence_field(reply->element[2]);

        version = chat_presence_version(v ? v->str : NULL, v ? v->len : 0);

        chat_presence_decode(st ? st->str : NULL, st ? st->len : 0,
                             ls ? ls->str : NULL, ls ? ls->len : 0, &state);

        p = ngx_sprintf(frame, "{\"type\":\"presence\",\"user\":\"%V\","
                        "\"status\":\"%s\"", &watch->sn.str,
                        state.online ? "online" : "offline");

        if (state.last_seen >= 0) {
            p = ngx_sprintf(p, ",\"last_seen\":%L", state.last_seen);

        } else if (!state.online && ls != NULL) {
            /* someone or something else wrote the key */
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chat: presence of \"%V\": last seen in Redis is "
                          "not a time (%uz bytes), left out", &watch->sn.str,
                          ls->len);
        }

        *p++ = '}';

        if (version >= 0) {
            ngx_chat_presence_update(watch, version, frame, p - frame);
        }
    }

    watch->refs--;
    ngx_chat_presence_release(watch);
}


/* A field of the HMGET reply: NULL when it is missing (nil). */
static redisReply *
ngx_chat_presence_field(redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? r : NULL;
}


/*
 * A state of version version (frame NULL: the one known already) is told
 * to every watcher that has not been told it, or anything newer.
 */
static void
ngx_chat_presence_update(ngx_chat_watch_t *watch, int64_t version,
    u_char *frame, size_t len)
{
    ngx_uint_t           known;
    ngx_queue_t         *q, *next;
    ngx_chat_watcher_t  *w;

    if (frame) {
        if (version <= watch->version
            || len > NGX_CHAT_PRESENCE_FRAME_LEN)
        {
            return;
        }

        known = watch->version >= 0;

        watch->version = version;
        watch->frame_len = len;
        ngx_memcpy(watch->frame, frame, len);

        if (known && ngx_chat_shed_level() >= NGX_CHAT_SHED_PRESENCE) {
            if (watch->is_held) {
                /* the state held before is never told: coalesced */
                ngx_chat_stat_inc(NGX_CHAT_STAT_SHED_PRESENCE);
            }

            ngx_chat_presence_hold(watch);
            return;
        }
    }

    if (watch->version < 0) {
        return;
    }

    /* sending may end a connection, which unlinks its watchers: the
     * reference keeps the watch itself */
    watch->refs++;

    for (q = ngx_queue_head(&watch->watchers);
         q != ngx_queue_sentinel(&watch->watchers);
         q = next)
    {
        next = ngx_queue_next(q);
        w = ngx_queue_data(q, ngx_chat_watcher_t, in_watch);

        if (w->told < watch->version) {
            if (ngx_chat_shed_socket_busy(w->conn)) {
                ngx_chat_stat_inc(NGX_CHAT_STAT_SHED_PRESENCE);
                ngx_chat_presence_hold(watch);
                continue;
            }

            w->told = watch->version;
            (void) ngx_chat_ws_send(w->conn, CHAT_WS_OP_TEXT, watch->frame,
                                    watch->frame_len);
        }
    }

    watch->refs--;
    ngx_chat_presence_release(watch);
}


static void
ngx_chat_presence_hold(ngx_chat_watch_t *watch)
{
    if (!watch->is_held) {
        watch->is_held = 1;
        ngx_queue_insert_tail(&ngx_chat_presence_held, &watch->held);
        ngx_chat_shed_arm_flush();
    }
}


/*
 * Tells every held watch's watchers its newest state. A watch held again
 * meanwhile (a socket still busy) waits for the next flush.
 */
static void
ngx_chat_presence_flush(void)
{
    ngx_queue_t        *q, held;
    ngx_chat_watch_t   *watch;

    if (ngx_queue_empty(&ngx_chat_presence_held)) {
        return;
    }

    ngx_queue_init(&held);
    ngx_queue_add(&held, &ngx_chat_presence_held);
    ngx_queue_init(&ngx_chat_presence_held);

    while (!ngx_queue_empty(&held)) {
        q = ngx_queue_head(&held);
        /* no use after free: a head is unlinked before its free */
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
        ngx_queue_remove(q);

        watch = ngx_queue_data(q, ngx_chat_watch_t, held);
        watch->is_held = 0;

        ngx_chat_presence_update(watch, watch->version, NULL, 0);
    }
}


static ngx_chat_watch_t *
ngx_chat_presence_lookup(ngx_str_t *user)
{
    return (ngx_chat_watch_t *)
               ngx_str_rbtree_lookup(&ngx_chat_presence_watches, user,
                                     ngx_crc32_short(user->data, user->len));
}


static ngx_int_t
ngx_chat_presence_user_of(ngx_str_t *channel, ngx_str_t *user)
{
    chat_str_t  id;

    if (chat_key_id((char *) channel->data, channel->len,
                    CHAT_KEY_PRESENCE_CHANNEL, &id) != 0
        || id.len > CHAT_ID_MAX)
    {
        return NGX_DECLINED;
    }

    user->data = (u_char *) id.s;
    user->len = id.len;

    return NGX_OK;
}
