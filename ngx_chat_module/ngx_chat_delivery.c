/*
 * This worker's users and connections, and delivery from Redis.
 *
 * Each user with a connection here has an entry and its Redis channel
 * "chat:u:{<user>}" subscribed (ngx_chat_pubsub.c): from its first local
 * connection until its last one closes. What arrives on the channel is
 * "<target>\n<frame>": the frame goes, byte for byte, to every connection
 * of the user (target "*") or to one (target = its conn id).
 *
 * A connection asks for its pending messages (ngx_chat_sync.c) once its
 * channel is subscribed, and live frames wait there until they are out.
 * After Redis comes back, every channel is subscribed again and every
 * connection syncs again: that delivers what was published while no one
 * listened. Every frame of a conversation then passes ngx_chat_order.c,
 * which keeps each connection's copy once and in seq order.
 */

#include "ngx_chat_module.h"


typedef struct {
    ngx_rbtree_t          users;
    ngx_rbtree_node_t     users_sentinel;
    ngx_chat_delivery_user_pt  up;
    ngx_chat_delivery_user_pt  down;
} ngx_chat_delivery_t;


static void ngx_chat_delivery_on_channel(ngx_str_t *channel,
    ngx_str_t *payload);
static void ngx_chat_delivery_on_subscribed(ngx_chat_user_t *u);
static void ngx_chat_delivery_on_message(ngx_chat_user_t *u,
    ngx_str_t *channel, ngx_str_t *payload);
static void ngx_chat_delivery_to_conn(ngx_chat_conn_t *cc, ngx_str_t *frame,
    ngx_uint_t live);


static ngx_chat_delivery_t  ngx_chat_delivery;


/* Every user channel is routed here (ngx_chat_pubsub.c). */
ngx_int_t
ngx_chat_delivery_init(void)
{
    ngx_rbtree_init(&ngx_chat_delivery.users,
                    &ngx_chat_delivery.users_sentinel,
                    ngx_str_rbtree_insert_value);

    return ngx_chat_pubsub_handle(CHAT_KEY_USER_CHANNEL,
                                  ngx_chat_delivery_on_channel);
}


/*
 * Registers an upgraded connection: by number, for delivery reports, and
 * under its user, whose channel is subscribed on the first connection.
 */
ngx_int_t
ngx_chat_delivery_add(ngx_chat_conn_t *cc)
{
    u_char            channel_name[CHAT_KEY_LEN(CHAT_KEY_USER_CHANNEL,
                                                    CHAT_ID_MAX)];
    uint32_t          hash;
    ngx_str_t         channel;
    ngx_chat_user_t  *u;

    ngx_chat_conn_register(cc);

    u = ngx_chat_delivery_lookup(&cc->id.user);

    if (u == NULL) {
        u = ngx_alloc(sizeof(ngx_chat_user_t), cc->connection->log);
        if (u == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(u, sizeof(ngx_chat_user_t));
        ngx_memcpy(u->name, cc->id.user.data, cc->id.user.len);
        u->sn.str.data = u->name;
        u->sn.str.len = cc->id.user.len;

        hash = ngx_crc32_short(u->name, u->sn.str.len);
        u->sn.node.key = hash;

        ngx_queue_init(&u->conns);
        ngx_rbtree_insert(&ngx_chat_delivery.users, &u->sn.node);
        ngx_chat_gauge_add(NGX_CHAT_GAUGE_USERS, 1);

        channel.data = channel_name;
        channel.len = chat_key((char *) channel_name, CHAT_KEY_USER_CHANNEL,
                               (char *) u->name, u->sn.str.len);

        u->sub = ngx_chat_pubsub_subscribe(&channel, cc->connection->log);

        if (ngx_chat_delivery.up) {
            ngx_chat_delivery.up(u);
        }
    }

    ngx_queue_insert_tail(&u->conns, &cc->user_link);
    cc->user = u;

    return NGX_OK;
}


/* The user's channel is confirmed: what is published to cc reaches it. */
ngx_uint_t
ngx_chat_delivery_live(ngx_chat_conn_t *cc)
{
    return cc->user && ngx_chat_pubsub_live(cc->user->sub);
}


/* Who is told when a user arrives on this worker, and when it leaves. */
void
ngx_chat_delivery_on_user(ngx_chat_delivery_user_pt up,
    ngx_chat_delivery_user_pt down)
{
    ngx_chat_delivery.up = up;
    ngx_chat_delivery.down = down;
}


void
ngx_chat_delivery_remove(ngx_chat_conn_t *cc)
{
    ngx_chat_user_t  *u;

    if (!cc->registered) {
        return;
    }

    ngx_chat_conn_unregister(cc);

    u = cc->user;

    if (u == NULL) {
        return;
    }

    ngx_queue_remove(&cc->user_link);
    cc->user = NULL;

    if (!ngx_queue_empty(&u->conns)) {
        return;
    }

    ngx_chat_pubsub_unsubscribe(u->sub);

    if (ngx_chat_delivery.down) {
        ngx_chat_delivery.down(u);
    }

    ngx_rbtree_delete(&ngx_chat_delivery.users, &u->sn.node);
    ngx_chat_gauge_add(NGX_CHAT_GAUGE_USERS, -1);
    ngx_free(u);
}


ngx_chat_user_t *
ngx_chat_delivery_first(void)
{
    ngx_rbtree_node_t  *root, *sentinel;

    sentinel = ngx_chat_delivery.users.sentinel;
    root = ngx_chat_delivery.users.root;

    if (root == sentinel) {
        return NULL;
    }

    return (ngx_chat_user_t *) ngx_rbtree_min(root, sentinel);
}


ngx_chat_user_t *
ngx_chat_delivery_next(ngx_chat_user_t *u)
{
    return (ngx_chat_user_t *) ngx_rbtree_next(&ngx_chat_delivery.users,
                                               &u->sn.node);
}


static ngx_chat_user_t *
ngx_chat_delivery_by_channel(ngx_str_t *channel)
{
    ngx_str_t   name;
    chat_str_t  id;

    if (chat_key_id((char *) channel->data, channel->len,
                    CHAT_KEY_USER_CHANNEL, &id) != 0)
    {
        return NULL;
    }

    name.data = (u_char *) id.s;
    name.len = id.len;

    return ngx_chat_delivery_lookup(&name);
}


/* A user channel: its subscription confirmed, or a message on it. */
static void
ngx_chat_delivery_on_channel(ngx_str_t *channel, ngx_str_t *payload)
{
    ngx_chat_user_t  *u;

    u = ngx_chat_delivery_by_channel(channel);
    if (u == NULL) {
        return;
    }

    if (payload == NULL) {
        ngx_chat_delivery_on_subscribed(u);

    } else {
        ngx_chat_delivery_on_message(u, channel, payload);
    }
}


/* The channel is live: every connection of the user syncs now. */
static void
ngx_chat_delivery_on_subscribed(ngx_chat_user_t *u)
{
    ngx_queue_t  *q;

    for (q = ngx_queue_head(&u->conns);
         q != ngx_queue_sentinel(&u->conns);
         q = ngx_queue_next(q))
    {
        ngx_chat_sync_start(ngx_queue_data(q, ngx_chat_conn_t, user_link));
    }
}


static void
ngx_chat_delivery_on_message(ngx_chat_user_t *u, ngx_str_t *channel,
    ngx_str_t *payload)
{
    ngx_str_t         target, frame;
    chat_str_t        t, f;
    ngx_queue_t      *q, *next;
    ngx_chat_conn_t  *cc;

    if (chat_keys_payload_split((char *) payload->data, payload->len, &t, &f)
        != 0)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chat: malformed payload on channel \"%V\"", channel);
        return;
    }

    target.data = (u_char *) t.s;
    target.len = t.len;
    frame.data = (u_char *) f.s;
    frame.len = f.len;

    /* delivering may close a connection (over budget): walk with care */
    for (q = ngx_queue_head(&u->conns);
         q != ngx_queue_sentinel(&u->conns);
         q = next)
    {
        next = ngx_queue_next(q);
        cc = ngx_queue_data(q, ngx_chat_conn_t, user_link);

        if (target.len == sizeof(CHAT_KEY_TARGET_ALL) - 1
            && ngx_strncmp(target.data, CHAT_KEY_TARGET_ALL, target.len) == 0)
        {
            ngx_chat_delivery_to_conn(cc, &frame, 1);

        } else if (target.len == cc->conn_id.len
                   && ngx_strncmp(target.data, cc->conn_id.data, target.len)
                      == 0)
        {
            ngx_chat_delivery_to_conn(cc, &frame, 0);
        }
    }
}


/*
 * Sends a frame to one connection, or holds it while the connection's sync
 * is running (ngx_chat_sync.c): a live frame must not overtake the pending
 * ones. An answer addressed to the connection may be a sync marker, or the
 * read of a gap (ngx_chat_order.c).
 */
static void
ngx_chat_delivery_to_conn(ngx_chat_conn_t *cc, ngx_str_t *frame,
    ngx_uint_t live)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cc->connection->log, 0,
                   "chat deliver: %s frame, %uz bytes",
                   live ? "live" : "addressed", frame->len);

    if (live) {
        if (ngx_chat_shed_drop_live(cc, frame)
            || ngx_chat_sync_hold(cc, frame))
        {
            return;
        }

    } else if (ngx_chat_sync_marker(cc, frame)
               || ngx_chat_order_answer(cc, frame))
    {
        return;
    }

    if (ngx_chat_order_deliver(cc, frame) == NGX_OK) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_DELIVERED);
    }
}


ngx_chat_user_t *
ngx_chat_delivery_lookup(ngx_str_t *name)
{
    uint32_t  hash;

    hash = ngx_crc32_short(name->data, name->len);

    return (ngx_chat_user_t *) ngx_str_rbtree_lookup(&ngx_chat_delivery.users,
                                                    name, hash);
}
