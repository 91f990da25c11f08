/*
 * This worker's users and connections, and delivery from Redis.
 *
 * Each user with a connection here has an entry and its Redis channel
 * "chat:u:<user>" subscribed on this worker's subscriber connection: from
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
#include "chat_frame.h"


typedef enum {
    NGX_CHAT_SUB_NONE = 0,       /* not asked (Redis is down) */
    NGX_CHAT_SUB_PENDING,        /* SUBSCRIBE sent, not confirmed */
    NGX_CHAT_SUB_ACTIVE
} ngx_chat_sub_state_e;


typedef struct {
    ngx_rbtree_t          users;
    ngx_rbtree_node_t     users_sentinel;
    ngx_rbtree_t          conns;
    ngx_rbtree_node_t     conns_sentinel;

    ngx_chat_redis_t      cmd;
    ngx_chat_redis_t      sub;
    ngx_uint_t            enabled;
} ngx_chat_users_t;


static void ngx_chat_users_subscribe(ngx_chat_user_t *u, const char *cmd);
static void ngx_chat_users_on_sub_ready(ngx_chat_redis_t *redis);
static void ngx_chat_users_on_push(redisReply *reply);
static void ngx_chat_users_on_subscribed(ngx_str_t *channel);
static void ngx_chat_users_on_message(ngx_str_t *channel, ngx_str_t *payload);
static void ngx_chat_users_deliver(ngx_chat_conn_t *cc, ngx_str_t *frame,
    ngx_uint_t live);
static void ngx_chat_users_on_cmd_ready(ngx_chat_redis_t *redis);


static ngx_chat_users_t  ngx_chat_users;


ngx_int_t
ngx_chat_users_init(ngx_cycle_t *cycle, ngx_chat_main_conf_t *cmcf)
{
    ngx_rbtree_init(&ngx_chat_users.users, &ngx_chat_users.users_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&ngx_chat_users.conns, &ngx_chat_users.conns_sentinel,
                    ngx_rbtree_insert_value);

    if (cmcf->redis == NULL) {
        return NGX_OK;
    }

    ngx_chat_users.enabled = 1;

    ngx_chat_redis_init(&ngx_chat_users.cmd, "command", cmcf->redis,
                        cmcf->redis_timeout, &cmcf->redis_user,
                        &cmcf->redis_password, cycle->log);
    ngx_chat_redis_init(&ngx_chat_users.sub, "subscriber", cmcf->redis,
                        cmcf->redis_timeout, &cmcf->redis_user,
                        &cmcf->redis_password, cycle->log);

    ngx_chat_users.sub.push = ngx_chat_users_on_push;
    ngx_chat_users.sub.ready_handler = ngx_chat_users_on_sub_ready;
    ngx_chat_users.cmd.ready_handler = ngx_chat_users_on_cmd_ready;

    ngx_chat_redis_connect(&ngx_chat_users.cmd);
    ngx_chat_redis_connect(&ngx_chat_users.sub);

    return NGX_OK;
}


void
ngx_chat_users_exit(void)
{
    if (ngx_chat_users.enabled) {
        ngx_chat_redis_close(&ngx_chat_users.cmd);
        ngx_chat_redis_close(&ngx_chat_users.sub);
        ngx_chat_users.enabled = 0;
    }
}


/* The command connection, or NULL when there is no Redis. */
ngx_chat_redis_t *
ngx_chat_users_redis(void)
{
    return ngx_chat_users.enabled ? &ngx_chat_users.cmd : NULL;
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
    if (!ngx_chat_users.enabled) {
        return 1;
    }

    return ngx_chat_users.sub.ready && ngx_chat_users.cmd.ready
           && cc->user && cc->user->state != NGX_CHAT_SUB_NONE;
}


/* The subscriber connection, or NULL when there is no Redis. */
ngx_chat_redis_t *
ngx_chat_users_subscriber(void)
{
    return ngx_chat_users.enabled ? &ngx_chat_users.sub : NULL;
}


/*
 * Registers an upgraded connection: by number, for delivery reports, and
 * under its user, whose channel is subscribed on the first connection.
 */
ngx_int_t
ngx_chat_users_add(ngx_chat_conn_t *cc)
{
    uint32_t          hash;
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

        ngx_chat_users_subscribe(u, "SUBSCRIBE");
        ngx_chat_presence_up(u);
    }

    ngx_queue_insert_tail(&u->conns, &cc->user_link);
    cc->user = u;

    ngx_chat_registry_add(cc);

    if (u->state == NGX_CHAT_SUB_ACTIVE) {
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

    if (u->state != NGX_CHAT_SUB_NONE) {
        ngx_chat_users_subscribe(u, "UNSUBSCRIBE");
    }

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


static void
ngx_chat_users_subscribe(ngx_chat_user_t *u, const char *cmd)
{
    u_char     channel[sizeof(CHAT_KEY_USER_CHANNEL) - 1 + CHAT_ID_MAX];
    ngx_str_t  argv[2];

    if (!ngx_chat_users.enabled) {
        return;
    }

    argv[0].data = (u_char *) cmd;
    argv[0].len = ngx_strlen(cmd);
    argv[1].data = channel;
    argv[1].len = ngx_cpymem(ngx_cpymem(channel, CHAT_KEY_USER_CHANNEL,
                                        sizeof(CHAT_KEY_USER_CHANNEL) - 1),
                             u->name, u->sn.str.len)
                  - channel;

    if (ngx_chat_redis_command(&ngx_chat_users.sub, NULL, NULL, 2, argv)
        == NGX_OK)
    {
        u->state = NGX_CHAT_SUB_PENDING;

    } else {
        u->state = NGX_CHAT_SUB_NONE;
    }
}


/* Redis is (back) up: every local user listens again. */
static void
ngx_chat_users_on_sub_ready(ngx_chat_redis_t *redis)
{
    ngx_chat_user_t  *u;

    for (u = ngx_chat_users_first(); u; u = ngx_chat_users_next(u)) {
        ngx_chat_users_subscribe(u, "SUBSCRIBE");
    }

    ngx_chat_presence_on_sub_ready();
}


/* The command connection is (back) up: presence state is re-established. */
static void
ngx_chat_users_on_cmd_ready(ngx_chat_redis_t *redis)
{
    ngx_chat_registry_on_ready();
    ngx_chat_presence_on_ready();
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


/*
 * A reply on the subscriber connection: a confirmation or a message, as a
 * three-element array; the sharded kinds of Redis Cluster ("ssubscribe",
 * "smessage") are the same to us.
 */
static void
ngx_chat_users_on_push(redisReply *reply)
{
    char       *kind;
    ngx_str_t   channel, payload;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    kind = reply->element[0]->str;
    channel.data = (u_char *) reply->element[1]->str;
    channel.len = reply->element[1]->len;

    if (ngx_strcmp(kind, "message") == 0 || ngx_strcmp(kind, "smessage") == 0)
    {
        if (reply->element[2]->type != REDIS_REPLY_STRING) {
            return;
        }

        payload.data = (u_char *) reply->element[2]->str;
        payload.len = reply->element[2]->len;

        ngx_chat_users_on_message(&channel, &payload);

    } else if (ngx_strcmp(kind, "subscribe") == 0
               || ngx_strcmp(kind, "ssubscribe") == 0)
    {
        ngx_chat_users_on_subscribed(&channel);
    }
}


static ngx_chat_user_t *
ngx_chat_users_by_channel(ngx_str_t *channel)
{
    ngx_str_t  name;
    size_t     n;

    n = sizeof(CHAT_KEY_USER_CHANNEL) - 1;

    if (channel->len <= n
        || ngx_strncmp(channel->data, CHAT_KEY_USER_CHANNEL, n) != 0)
    {
        return NULL;
    }

    name.data = channel->data + n;
    name.len = channel->len - n;

    return ngx_chat_users_lookup(&name);
}


/* The channel is live: every connection of the user syncs now. */
static void
ngx_chat_users_on_subscribed(ngx_str_t *channel)
{
    ngx_queue_t      *q;
    ngx_chat_user_t  *u;

    if (ngx_chat_presence_on_message(channel, NULL) == NGX_OK) {
        return;
    }

    u = ngx_chat_users_by_channel(channel);

    /* a confirmation for an entry since removed (and maybe re-added) */
    if (u == NULL || u->state != NGX_CHAT_SUB_PENDING) {
        return;
    }

    u->state = NGX_CHAT_SUB_ACTIVE;

    for (q = ngx_queue_head(&u->conns);
         q != ngx_queue_sentinel(&u->conns);
         q = ngx_queue_next(q))
    {
        ngx_chat_writes_sync(ngx_queue_data(q, ngx_chat_conn_t, user_link));
    }
}


static void
ngx_chat_users_on_message(ngx_str_t *channel, ngx_str_t *payload)
{
    ngx_str_t         target, frame;
    chat_str_t        t, f;
    ngx_queue_t      *q, *next;
    ngx_chat_conn_t  *cc;
    ngx_chat_user_t  *u;

    if (ngx_chat_presence_on_message(channel, payload) == NGX_OK) {
        return;
    }

    u = ngx_chat_users_by_channel(channel);
    if (u == NULL) {
        return;
    }

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
    char              conv[CHAT_CONV_MAX];
    size_t            conv_len;
    int64_t           seq;
    ngx_chat_held_t  *h;

    switch (live ? CHAT_FRAME_MARKER_NONE
                 : chat_frame_sync_marker((char *) frame->data, frame->len,
                                          conv, &conv_len, &seq))
    {
    case CHAT_FRAME_MARKER_DONE:
        ngx_chat_users_sync_done(cc);
        return;

    case CHAT_FRAME_MARKER_MORE:
    case CHAT_FRAME_MARKER_BAD:
        ngx_chat_writes_sync_more(cc, frame);
        return;

    case CHAT_FRAME_MARKER_NONE:
        break;
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
