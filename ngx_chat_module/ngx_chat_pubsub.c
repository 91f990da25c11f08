/*
 * ngx_chat_pubsub: the two Redis connections of this worker, its
 * subscriptions, and the routing of what arrives to the feature that
 * registered the channel's prefix (ngx_chat_pubsub.h).
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_chat_pubsub.h"
#include "ngx_chat_stats.h"


#define NGX_CHAT_PUBSUB_PREFIXES  4
#define NGX_CHAT_PUBSUB_HOOKS     4


typedef enum {
    NGX_CHAT_SUB_NONE = 0,       /* not asked (Redis is down) */
    NGX_CHAT_SUB_PENDING,        /* SUBSCRIBE sent, not confirmed */
    NGX_CHAT_SUB_ACTIVE
} ngx_chat_sub_state_e;


/* A channel subscribed on the subscriber connection of its node. */
struct ngx_chat_pubsub_sub_s {
    ngx_str_node_t               sn;          /* sn.str: the channel */
    ngx_uint_t                   users;
    ngx_chat_sub_state_e         state;
    ngx_chat_cluster_node_t     *node;        /* asked there; or NULL */
    u_char                       name[1];
};


typedef struct {
    const char                  *prefix;
    size_t                       len;
    ngx_chat_pubsub_handler_pt   handler;
} ngx_chat_pubsub_route_t;


typedef struct {
    ngx_rbtree_t                 channels;
    ngx_rbtree_node_t            sentinel;

    ngx_chat_pubsub_route_t      routes[NGX_CHAT_PUBSUB_PREFIXES];
    ngx_uint_t                   nroutes;
    ngx_chat_pubsub_ready_pt     ready[2][NGX_CHAT_PUBSUB_HOOKS];
    ngx_uint_t                   nready[2];

    /* SSUBSCRIBE and SUNSUBSCRIBE on a Redis Cluster */
    const char                  *subscribe;
    const char                  *unsubscribe;

    ngx_uint_t                   enabled;
} ngx_chat_pubsub_t;


static void ngx_chat_pubsub_send(ngx_chat_pubsub_sub_t *s, const char *cmd);
static void ngx_chat_pubsub_on_cmd_ready(ngx_chat_cluster_node_t *node);
static void ngx_chat_pubsub_on_sub_ready(ngx_chat_cluster_node_t *node);
static void ngx_chat_pubsub_on_map(void);
static void ngx_chat_pubsub_run_hooks(ngx_chat_pubsub_conn_e conn);
static void ngx_chat_pubsub_on_push(ngx_chat_redis_t *redis,
    redisReply *reply);
static void ngx_chat_pubsub_on_error(ngx_chat_cluster_node_t *node,
    redisReply *reply);
static void ngx_chat_pubsub_on_dropped(ngx_chat_cluster_node_t *node,
    ngx_str_t *channel);
static void ngx_chat_pubsub_route(ngx_str_t *channel, ngx_str_t *payload);
static ngx_chat_pubsub_sub_t *ngx_chat_pubsub_lookup(ngx_str_t *channel);
static ngx_chat_pubsub_sub_t *ngx_chat_pubsub_first(void);
static ngx_chat_pubsub_sub_t *ngx_chat_pubsub_next(ngx_chat_pubsub_sub_t *s);


static ngx_chat_pubsub_t  ngx_chat_pubsub;


ngx_int_t
ngx_chat_pubsub_handle(const char *prefix, ngx_chat_pubsub_handler_pt handler)
{
    ngx_chat_pubsub_route_t  *r;

    if (ngx_chat_pubsub.nroutes == NGX_CHAT_PUBSUB_PREFIXES) {
        return NGX_ERROR;
    }

    r = &ngx_chat_pubsub.routes[ngx_chat_pubsub.nroutes++];
    r->prefix = prefix;
    r->len = ngx_strlen(prefix);
    r->handler = handler;

    return NGX_OK;
}


ngx_int_t
ngx_chat_pubsub_on_ready(ngx_chat_pubsub_conn_e conn,
    ngx_chat_pubsub_ready_pt handler)
{
    if (ngx_chat_pubsub.nready[conn] == NGX_CHAT_PUBSUB_HOOKS) {
        return NGX_ERROR;
    }

    ngx_chat_pubsub.ready[conn][ngx_chat_pubsub.nready[conn]++] = handler;

    return NGX_OK;
}


ngx_int_t
ngx_chat_pubsub_init(ngx_array_t *addrs, ngx_uint_t cluster,
    ngx_msec_t timeout, ngx_str_t *user, ngx_str_t *password, ngx_log_t *log)
{
    ngx_chat_cluster_handlers_t  h;

    ngx_rbtree_init(&ngx_chat_pubsub.channels, &ngx_chat_pubsub.sentinel,
                    ngx_str_rbtree_insert_value);

    if (addrs == NULL || addrs->nelts == 0) {
        return NGX_OK;
    }

    ngx_chat_pubsub.enabled = 1;
    ngx_chat_pubsub.subscribe = cluster ? "SSUBSCRIBE" : "SUBSCRIBE";
    ngx_chat_pubsub.unsubscribe = cluster ? "SUNSUBSCRIBE" : "UNSUBSCRIBE";

    h.cmd_ready = ngx_chat_pubsub_on_cmd_ready;
    h.sub_ready = ngx_chat_pubsub_on_sub_ready;
    h.push = ngx_chat_pubsub_on_push;
    h.map_changed = ngx_chat_pubsub_on_map;

    return ngx_chat_cluster_init(addrs, cluster, timeout, user, password, &h,
                                 log);
}


/* The registrations go too: a process that starts again registers anew. */
void
ngx_chat_pubsub_exit(void)
{
    ngx_chat_pubsub_sub_t  *s;

    if (ngx_chat_pubsub.enabled) {
        /* the channels point at nodes that are about to go */
        for (s = ngx_chat_pubsub_first(); s; s = ngx_chat_pubsub_next(s)) {
            s->node = NULL;
            s->state = NGX_CHAT_SUB_NONE;
        }

        ngx_chat_cluster_exit();
        ngx_chat_pubsub.enabled = 0;
    }

    ngx_chat_pubsub.nroutes = 0;
    ngx_chat_pubsub.nready[NGX_CHAT_PUBSUB_COMMAND] = 0;
    ngx_chat_pubsub.nready[NGX_CHAT_PUBSUB_SUBSCRIBER] = 0;
}


ngx_uint_t
ngx_chat_pubsub_enabled(void)
{
    return ngx_chat_pubsub.enabled;
}


ngx_int_t
ngx_chat_pubsub_command(ngx_uint_t key, ngx_chat_redis_reply_pt handler,
    void *data, ngx_uint_t argc, ngx_str_t *argv)
{
    if (!ngx_chat_pubsub.enabled) {
        return NGX_DECLINED;
    }

    return ngx_chat_cluster_command(key, handler, data, argc, argv);
}


const char *
ngx_chat_pubsub_publish_cmd(void)
{
    return ngx_chat_cluster_on() ? "SPUBLISH" : "PUBLISH";
}


ngx_chat_pubsub_sub_t *
ngx_chat_pubsub_subscribe(ngx_str_t *channel, ngx_log_t *log)
{
    ngx_chat_pubsub_sub_t  *s;

    if (!ngx_chat_pubsub.enabled) {
        return NULL;
    }

    s = ngx_chat_pubsub_lookup(channel);

    if (s) {
        s->users++;
        return s;
    }

    s = ngx_alloc(sizeof(ngx_chat_pubsub_sub_t) + channel->len, log);
    if (s == NULL) {
        return NULL;
    }

    ngx_memcpy(s->name, channel->data, channel->len);
    s->sn.str.data = s->name;
    s->sn.str.len = channel->len;
    s->sn.node.key = ngx_crc32_short(s->name, channel->len);
    s->users = 1;
    s->state = NGX_CHAT_SUB_NONE;
    s->node = ngx_chat_cluster_owner(&s->sn.str);
    ngx_rbtree_insert(&ngx_chat_pubsub.channels, &s->sn.node);

    ngx_chat_pubsub_send(s, ngx_chat_pubsub.subscribe);

    return s;
}


void
ngx_chat_pubsub_unsubscribe(ngx_chat_pubsub_sub_t *s)
{
    if (s == NULL || --s->users) {
        return;
    }

    if (s->state != NGX_CHAT_SUB_NONE) {
        ngx_chat_pubsub_send(s, ngx_chat_pubsub.unsubscribe);
    }

    ngx_rbtree_delete(&ngx_chat_pubsub.channels, &s->sn.node);
    ngx_free(s);
}


/*
 * Whether what the workers publish on the channel of sub reaches us: false
 * while the connections of its node are down (Redis gone, or AUTH
 * refused, or its master failing over) or it could not ask for the
 * channel. Such a request is answered "unavailable" rather than left
 * waiting for nothing. A SUBSCRIBE still unconfirmed
 * counts: its answer is on its way. Without Redis, nothing is waited for.
 */
ngx_uint_t
ngx_chat_pubsub_listening(ngx_chat_pubsub_sub_t *sub)
{
    if (!ngx_chat_pubsub.enabled) {
        return 1;
    }

    /* on a cluster, the shard of the channel: another one failing over
     * does not concern it */
    return ngx_chat_pubsub_asked(sub) && sub->node->sub.ready
           && sub->node->cmd.ready;
}


ngx_uint_t
ngx_chat_pubsub_asked(ngx_chat_pubsub_sub_t *s)
{
    return s && s->state != NGX_CHAT_SUB_NONE;
}


ngx_uint_t
ngx_chat_pubsub_live(ngx_chat_pubsub_sub_t *s)
{
    return s && s->state == NGX_CHAT_SUB_ACTIVE;
}


static void
ngx_chat_pubsub_send(ngx_chat_pubsub_sub_t *s, const char *cmd)
{
    ngx_str_t  argv[2];

    if (s->node == NULL) {
        s->state = NGX_CHAT_SUB_NONE;
        return;
    }

    argv[0].data = (u_char *) cmd;
    argv[0].len = ngx_strlen(cmd);
    argv[1] = s->sn.str;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "chat pubsub: %s \"%V\" on %V", cmd, &s->sn.str,
                   &s->node->addr.name);

    s->state = ngx_chat_redis_command(&s->node->sub, NULL, NULL, 2, argv)
               == NGX_OK ? NGX_CHAT_SUB_PENDING : NGX_CHAT_SUB_NONE;
}


/*
 * A master's command connection is (back) up. The hooks run for each
 * master: what they write again goes, by key, to whichever is the owner.
 */
static void
ngx_chat_pubsub_on_cmd_ready(ngx_chat_cluster_node_t *node)
{
    ngx_chat_pubsub_run_hooks(NGX_CHAT_PUBSUB_COMMAND);
}


/*
 * A node's subscriber is (back) up: every channel it serves is asked for
 * again, and its confirmation re-syncs the users of that channel only
 * (ngx_chat_delivery.c), so one shard's failover re-syncs its own users.
 */
static void
ngx_chat_pubsub_on_sub_ready(ngx_chat_cluster_node_t *node)
{
    ngx_chat_pubsub_sub_t  *s;

    node->sub_refused = 0;

    for (s = ngx_chat_pubsub_first(); s; s = ngx_chat_pubsub_next(s)) {
        if (s->node == NULL) {
            s->node = ngx_chat_cluster_owner(&s->sn.str);
        }

        if (s->node == node) {
            ngx_chat_pubsub_send(s, ngx_chat_pubsub.subscribe);
        }
    }

    ngx_chat_pubsub_run_hooks(NGX_CHAT_PUBSUB_SUBSCRIBER);
}


/*
 * The slot map was read: a channel whose slot has another master now is
 * asked for there (and its confirmation re-syncs its users: what was
 * published on the new master before is fetched); one that is not asked
 * anywhere is asked again.
 */
static void
ngx_chat_pubsub_on_map(void)
{
    ngx_uint_t                i;
    ngx_chat_pubsub_sub_t    *s;
    ngx_chat_cluster_node_t  *owner;

    for (i = 0; (owner = ngx_chat_cluster_node(i)) != NULL; i++) {
        owner->sub_refused = 0;
    }

    for (s = ngx_chat_pubsub_first(); s; s = ngx_chat_pubsub_next(s)) {
        owner = ngx_chat_cluster_owner(&s->sn.str);

        if (owner != s->node) {
            s->node = owner;
            s->state = NGX_CHAT_SUB_NONE;
        }

        if (s->state == NGX_CHAT_SUB_NONE && owner && owner->sub.ready) {
            ngx_chat_pubsub_send(s, ngx_chat_pubsub.subscribe);
        }
    }
}


static void
ngx_chat_pubsub_run_hooks(ngx_chat_pubsub_conn_e conn)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_chat_pubsub.nready[conn]; i++) {
        ngx_chat_pubsub.ready[conn][i]();
    }
}


/*
 * A reply on the subscriber connection: a confirmation or a message, as a
 * three-element array; the sharded kinds of Redis Cluster ("ssubscribe",
 * "smessage") are the same to us.
 */
static void
ngx_chat_pubsub_on_push(ngx_chat_redis_t *redis, redisReply *reply)
{
    char                   *kind;
    ngx_str_t               channel, payload;
    ngx_chat_pubsub_sub_t  *s;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_chat_pubsub_on_error(redis->data, reply);
        return;
    }

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

        ngx_chat_pubsub_route(&channel, &payload);

    } else if (ngx_strcmp(kind, "subscribe") == 0
               || ngx_strcmp(kind, "ssubscribe") == 0)
    {
        s = ngx_chat_pubsub_lookup(&channel);

        /* a confirmation for a channel since dropped (and maybe asked
         * for again), or from the node that served it before a reshard
         * while the new owner's is still on its way */
        if (s == NULL || s->state != NGX_CHAT_SUB_PENDING
            || s->node != redis->data)
        {
            return;
        }

        s->state = NGX_CHAT_SUB_ACTIVE;
        ngx_chat_pubsub_route(&channel, NULL);

    } else if (ngx_strcmp(kind, "sunsubscribe") == 0) {
        ngx_chat_pubsub_on_dropped(redis->data, &channel);
    }
}


/*
 * SSUBSCRIBE on a node that does not serve the channel's slot (the map
 * was stale) is answered MOVED; a cluster that is changing answers
 * CLUSTERDOWN, TRYAGAIN or LOADING. The answer names no channel: every
 * channel asked there and not confirmed is asked again once the map is
 * read, which this asks for. Further refusals before that map (one for
 * each channel asked, thousands after a node's restart) cost nothing.
 */
static void
ngx_chat_pubsub_on_error(ngx_chat_cluster_node_t *node, redisReply *reply)
{
    ngx_chat_pubsub_sub_t    *s;
    chat_cluster_redirect_t   r;

    if (chat_cluster_redirect(reply->str, reply->len, &r)
        == CHAT_CLUSTER_MOVED)
    {
        ngx_chat_stat_inc(NGX_CHAT_STAT_REDIS_MOVED);
    }

    if (node->sub_refused) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "chat: redis subscriber on %V: %*s", &node->addr.name,
                  reply->len, reply->str);

    /* one Redis: no map to wait for, as before the cluster */
    if (!ngx_chat_cluster_on()) {
        return;
    }

    node->sub_refused = 1;

    for (s = ngx_chat_pubsub_first(); s; s = ngx_chat_pubsub_next(s)) {
        if (s->node == node && s->state == NGX_CHAT_SUB_PENDING) {
            s->state = NGX_CHAT_SUB_NONE;
        }
    }

    ngx_chat_cluster_refresh();
}


/*
 * A sunsubscribe we did not ask for (the channel is still wanted): the
 * node gave the channel's slot away (a reshard). Asked for again on the
 * new owner once the map is read; the confirmation there re-syncs. A
 * channel still PENDING is left to the answer of its SSUBSCRIBE, which
 * follows on the same connection: this is then most often the answer of
 * our own SUNSUBSCRIBE of the channel's last user, sent before a new user
 * asked for it again (a page reload), and a slot given away would answer
 * that SSUBSCRIBE MOVED anyway.
 */
static void
ngx_chat_pubsub_on_dropped(ngx_chat_cluster_node_t *node, ngx_str_t *channel)
{
    ngx_chat_pubsub_sub_t  *s;

    s = ngx_chat_pubsub_lookup(channel);

    if (s == NULL || s->node != node || s->state != NGX_CHAT_SUB_ACTIVE) {
        return;
    }

    s->state = NGX_CHAT_SUB_NONE;
    ngx_chat_cluster_refresh();
}


static void
ngx_chat_pubsub_route(ngx_str_t *channel, ngx_str_t *payload)
{
    ngx_uint_t                i;
    ngx_chat_pubsub_route_t  *r;

    for (i = 0; i < ngx_chat_pubsub.nroutes; i++) {
        r = &ngx_chat_pubsub.routes[i];

        if (channel->len > r->len
            && ngx_strncmp(channel->data, r->prefix, r->len) == 0)
        {
            ngx_log_debug3(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                           "chat pubsub: %s on \"%V\", %uz bytes",
                           payload ? "message" : "subscribed", channel,
                           payload ? payload->len : 0);

            r->handler(channel, payload);
            return;
        }
    }
}


static ngx_chat_pubsub_sub_t *
ngx_chat_pubsub_lookup(ngx_str_t *channel)
{
    return (ngx_chat_pubsub_sub_t *)
               ngx_str_rbtree_lookup(&ngx_chat_pubsub.channels, channel,
                                     ngx_crc32_short(channel->data,
                                                     channel->len));
}


static ngx_chat_pubsub_sub_t *
ngx_chat_pubsub_first(void)
{
    ngx_rbtree_node_t  *root, *sentinel;

    sentinel = ngx_chat_pubsub.channels.sentinel;
    root = ngx_chat_pubsub.channels.root;

    if (root == sentinel) {
        return NULL;
    }

    return (ngx_chat_pubsub_sub_t *) ngx_rbtree_min(root, sentinel);
}


static ngx_chat_pubsub_sub_t *
ngx_chat_pubsub_next(ngx_chat_pubsub_sub_t *s)
{
    return (ngx_chat_pubsub_sub_t *)
               ngx_rbtree_next(&ngx_chat_pubsub.channels, &s->sn.node);
}
