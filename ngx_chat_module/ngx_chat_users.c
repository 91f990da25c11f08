/*
 * This worker's users and connections, and delivery from Redis.
 *
 * Each user with a connection here has an entry and its Redis channel
 * "chat:u:<user>" subscribed (ngx_chat_pubsub.c): from
 * its first local connection until its last one closes. What arrives on the
 * channel is "<target>\n<frame>": the frame goes, byte for byte, to every
 * connection of the user (target "*") or to one (target = its conn id).
 *
 * A connection asks for its pending messages (a sync write, see
 * ngx_chat_session.c) once its channel is subscribed; until the answer's
 * "sync_done" marker arrives, live frames for it are held back so that
 * pending messages come first. After Redis comes back, every channel is
 * subscribed again and every connection syncs again: that delivers what
 * was published while no one listened. Every frame of a conversation then
 * passes ngx_chat_order.c, which keeps each connection's copy once and in
 * seq order.
 */

#include "ngx_chat_module.h"


#define NGX_CHAT_SYNC_DONE       "{\"type\":\"sync_done\"}"
#define NGX_CHAT_SYNC_MORE       "{\"type\":\"sync_more\","


typedef struct {
    ngx_rbtree_t          users;
    ngx_rbtree_node_t     users_sentinel;
    ngx_rbtree_t          conns;
    ngx_rbtree_node_t     conns_sentinel;
} ngx_chat_users_t;


static void ngx_chat_users_on_channel(ngx_str_t *channel,
    ngx_str_t *payload);
static void ngx_chat_users_on_subscribed(ngx_chat_user_t *u);
static void ngx_chat_users_on_message(ngx_chat_user_t *u, ngx_str_t *channel,
    ngx_str_t *payload);
static void ngx_chat_users_deliver(ngx_chat_conn_t *cc, ngx_str_t *frame,
    ngx_uint_t live);


static ngx_chat_users_t  ngx_chat_users;


/* Every user channel is routed here (ngx_chat_pubsub.c). */
ngx_int_t
ngx_chat_users_init(void)
{
    ngx_rbtree_init(&ngx_chat_users.users, &ngx_chat_users.users_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&ngx_chat_users.conns, &ngx_chat_users.conns_sentinel,
                    ngx_rbtree_insert_value);

    return ngx_chat_pubsub_handle(NGX_CHAT_USER_CHANNEL,
                                  ngx_chat_users_on_channel);
}


/*
 * Whether an answer the workers publish to cc's user reaches cc: false
 * while the subscriber connection is down (Redis gone, or AUTH refused)
 * or could not ask for the user's channel. Such a request is answered
 * "unavailable" rather than left waiting for nothing. A SUBSCRIBE still
 * unconfirmed counts: its answer is on its way.
 */
ngx_uint_t
ngx_chat_users_listening(ngx_chat_conn_t *cc)
{
    if (!ngx_chat_pubsub_enabled()) {
        return 1;
    }

    return ngx_chat_pubsub_up() && cc->user
           && ngx_chat_pubsub_asked(cc->user->sub);
}


/*
 * Registers an upgraded connection: by number, for delivery reports, and
 * under its user, whose channel is subscribed on the first connection.
 */
ngx_int_t
ngx_chat_users_add(ngx_chat_conn_t *cc)
{
    u_char            channel_name[sizeof(NGX_CHAT_USER_CHANNEL) - 1
                                   + CHAT_ID_MAX];
    uint32_t          hash;
    ngx_str_t         channel;
    ngx_chat_user_t  *u;

    ngx_rbtree_insert(&ngx_chat_users.conns, &cc->node);
    cc->registered = 1;
    ngx_queue_init(&cc->watching);

    u = ngx_chat_users_lookup(&cc->id.user);

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
        ngx_rbtree_insert(&ngx_chat_users.users, &u->sn.node);
        ngx_chat_gauge_add(NGX_CHAT_GAUGE_USERS, 1);

        channel.data = channel_name;
        channel.len = ngx_cpymem(ngx_cpymem(channel_name,
                                            NGX_CHAT_USER_CHANNEL,
                                            sizeof(NGX_CHAT_USER_CHANNEL) - 1),
                                 u->name, u->sn.str.len)
                      - channel_name;

        u->sub = ngx_chat_pubsub_subscribe(&channel, cc->connection->log);
        ngx_chat_presence_up(u);
    }

    ngx_queue_insert_tail(&u->conns, &cc->user_link);
    cc->user = u;

    ngx_chat_registry_add(cc);

    if (ngx_chat_pubsub_live(u->sub)) {
        ngx_chat_writes_sync(cc);
    }

    return NGX_OK;
}


void
ngx_chat_users_remove(ngx_chat_conn_t *cc)
{
    ngx_chat_user_t  *u;

    if (!cc->registered) {
        return;
    }

    ngx_chat_shed_conn_closed(cc);

    cc->registered = 0;
    ngx_rbtree_delete(&ngx_chat_users.conns, &cc->node);

    ngx_chat_registry_remove(cc);

    ngx_chat_presence_conn_closed(cc);

    if (cc->sync_after) {
        ngx_free(cc->sync_after);
        cc->sync_after = NULL;
    }

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
    ngx_chat_presence_down(u);

    ngx_rbtree_delete(&ngx_chat_users.users, &u->sn.node);
    ngx_chat_gauge_add(NGX_CHAT_GAUGE_USERS, -1);
    ngx_free(u);
}


ngx_chat_conn_t *
ngx_chat_users_find_conn(uint64_t num)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = ngx_chat_users.conns.root;
    sentinel = ngx_chat_users.conns.sentinel;

    while (node != sentinel) {
        if (num == node->key) {
            return (ngx_chat_conn_t *) ((u_char *) node
                                        - offsetof(ngx_chat_conn_t, node));
        }

        node = num < node->key ? node->left : node->right;
    }

    return NULL;
}


/* The connection's pending messages are out: release what was held. */
void
ngx_chat_users_sync_done(ngx_chat_conn_t *cc)
{
    ngx_chat_held_t  *h, *next;

    ngx_str_t         frame;

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


ngx_chat_user_t *
ngx_chat_users_first(void)
{
    ngx_rbtree_node_t  *root, *sentinel;

    sentinel = ngx_chat_users.users.sentinel;
    root = ngx_chat_users.users.root;

    if (root == sentinel) {
        return NULL;
    }

    return (ngx_chat_user_t *) ngx_rbtree_min(root, sentinel);
}


ngx_chat_user_t *
ngx_chat_users_next(ngx_chat_user_t *u)
{
    return (ngx_chat_user_t *) ngx_rbtree_next(&ngx_chat_users.users,
                                               &u->sn.node);
}


static ngx_chat_user_t *
ngx_chat_users_by_channel(ngx_str_t *channel)
{
    ngx_str_t  name;
    size_t     n;

    n = sizeof(NGX_CHAT_USER_CHANNEL) - 1;

    if (channel->len <= n
        || ngx_strncmp(channel->data, NGX_CHAT_USER_CHANNEL, n) != 0)
    {
        return NULL;
    }

    name.data = channel->data + n;
    name.len = channel->len - n;

    return ngx_chat_users_lookup(&name);
}


/* A user channel: its subscription confirmed, or a message on it. */
static void
ngx_chat_users_on_channel(ngx_str_t *channel, ngx_str_t *payload)
{
    ngx_chat_user_t  *u;

    u = ngx_chat_users_by_channel(channel);
    if (u == NULL) {
        return;
    }

    if (payload == NULL) {
        ngx_chat_users_on_subscribed(u);

    } else {
        ngx_chat_users_on_message(u, channel, payload);
    }
}


/* The channel is live: every connection of the user syncs now. */
static void
ngx_chat_users_on_subscribed(ngx_chat_user_t *u)
{
    ngx_queue_t  *q;

    for (q = ngx_queue_head(&u->conns);
         q != ngx_queue_sentinel(&u->conns);
         q = ngx_queue_next(q))
    {
        ngx_chat_writes_sync(ngx_queue_data(q, ngx_chat_conn_t, user_link));
    }
}


static void
ngx_chat_users_on_message(ngx_chat_user_t *u, ngx_str_t *channel,
    ngx_str_t *payload)
{
    u_char           *nl;
    ngx_str_t         target, frame;
    ngx_queue_t      *q, *next;
    ngx_chat_conn_t  *cc;

    nl = ngx_strlchr(payload->data, payload->data + payload->len, '\n');
    if (nl == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chat: malformed payload on channel \"%V\"", channel);
        return;
    }

    target.data = payload->data;
    target.len = nl - payload->data;
    frame.data = nl + 1;
    frame.len = payload->data + payload->len - frame.data;

    /* delivering may close a connection (over budget): walk with care */
    for (q = ngx_queue_head(&u->conns);
         q != ngx_queue_sentinel(&u->conns);
         q = next)
    {
        next = ngx_queue_next(q);
        cc = ngx_queue_data(q, ngx_chat_conn_t, user_link);

        if (target.len == 1 && target.data[0] == '*') {
            ngx_chat_users_deliver(cc, &frame, 1);

        } else if (target.len == cc->conn_id.len
                   && ngx_strncmp(target.data, cc->conn_id.data, target.len)
                      == 0)
        {
            ngx_chat_users_deliver(cc, &frame, 0);
        }
    }
}


/*
 * Sends a frame to one connection, or holds it while the connection's sync
 * is running: a live frame must not overtake the pending ones. Holding is
 * bounded by the send budget; past it, the hold ends early.
 */
static void
ngx_chat_users_deliver(ngx_chat_conn_t *cc, ngx_str_t *frame, ngx_uint_t live)
{
    ngx_chat_held_t  *h;

    if (!live && frame->len == sizeof(NGX_CHAT_SYNC_DONE) - 1
        && ngx_strncmp(frame->data, NGX_CHAT_SYNC_DONE, frame->len) == 0)
    {
        ngx_chat_users_sync_done(cc);
        return;
    }

    if (!live && frame->len > sizeof(NGX_CHAT_SYNC_MORE) - 1
        && ngx_strncmp(frame->data, NGX_CHAT_SYNC_MORE,
                       sizeof(NGX_CHAT_SYNC_MORE) - 1) == 0)
    {
        ngx_chat_writes_sync_more(cc, frame);
        return;
    }

    if (!live && ngx_chat_order_answer(cc, frame)) {
        return;
    }

    if (live && ngx_chat_shed_drop_live(cc, frame)) {
        return;
    }

    if (live && cc->syncing) {
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
                return;
            }
        }

        ngx_chat_users_sync_done(cc);
    }

    if (ngx_chat_order_deliver(cc, frame) == NGX_OK) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_DELIVERED);
    }
}


ngx_chat_user_t *
ngx_chat_users_lookup(ngx_str_t *name)
{
    return (ngx_chat_user_t *) ngx_str_rbtree_lookup(&ngx_chat_users.users,
                                                    name,
                                                    ngx_crc32_short(name->data,
                                                                    name->len));
}
