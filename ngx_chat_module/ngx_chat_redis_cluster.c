/*
 * ngx_chat_redis_cluster: the nodes, the slot map, the routing of commands
 * and the redirections (ngx_chat_redis_cluster.h). Nothing here blocks:
 * CLUSTER SLOTS is a command like any other, and a node's address is an
 * IP the cluster reports, parsed without DNS.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_chat_redis_cluster.h"
#include "ngx_chat_stats.h"
#include "ngx_chat_event.h"


/* redirections and retries of one command, in all */
#define NGX_CHAT_CLUSTER_REDIRECTS  5
/* the map is read again this often while a master is down */
#define NGX_CHAT_CLUSTER_REFRESH    500
#define NGX_CHAT_CLUSTER_NODES_MAX  64


/* A routed command, kept to be sent again after a redirection. */
typedef struct {
    ngx_queue_t               queue;       /* waiting for its retry timer */
    ngx_event_t               retry;
    ngx_chat_redis_reply_pt   handler;
    void                     *data;
    uint16_t                  slot;
    ngx_uint_t                redirects;
    ngx_uint_t                argc;
    ngx_str_t                *argv;
    unsigned                  queued:1;    /* in waiting */
} ngx_chat_cluster_cmd_t;


typedef struct {
    ngx_uint_t                on;
    ngx_msec_t                timeout;
    ngx_str_t                *user;
    ngx_str_t                *password;
    ngx_log_t                *log;
    ngx_chat_cluster_handlers_t  handlers;

    ngx_addr_t               *seeds;
    ngx_uint_t                nseeds;
    ngx_uint_t                next_seed;
    ngx_chat_redis_t          probe;       /* a seed, to read the map */

    ngx_chat_cluster_node_t  *nodes[NGX_CHAT_CLUSTER_NODES_MAX];
    ngx_uint_t                nnodes;

    chat_cluster_map_t        map;
    ngx_chat_cluster_node_t **by_map;      /* map.nodes[i]'s node */

    ngx_event_t               refresh;
    unsigned                  reading:1;   /* CLUSTER SLOTS unanswered */
    unsigned                  again:1;     /* read once more after it */

    ngx_queue_t               waiting;
} ngx_chat_cluster_t;


static ngx_chat_cluster_node_t *ngx_chat_cluster_node_add(ngx_addr_t *addr,
    chat_cluster_addr_t *name);
static void ngx_chat_cluster_node_start(ngx_chat_cluster_node_t *node);
static void ngx_chat_cluster_on_cmd_ready(ngx_chat_redis_t *redis);
static void ngx_chat_cluster_on_sub_ready(ngx_chat_redis_t *redis);
static void ngx_chat_cluster_on_down(ngx_chat_redis_t *redis);
static void ngx_chat_cluster_on_probe_ready(ngx_chat_redis_t *redis);
static void ngx_chat_cluster_on_probe_down(ngx_chat_redis_t *redis);
static void ngx_chat_cluster_refresh_handler(ngx_event_t *ev);
static ngx_int_t ngx_chat_cluster_read_map(ngx_chat_redis_t *redis,
    const char *host);
static void ngx_chat_cluster_map_reply(redisReply *reply, void *data);
static void ngx_chat_cluster_apply(chat_cluster_map_t *map);
static ngx_chat_cluster_node_t *ngx_chat_cluster_master(
    chat_cluster_addr_t *name, ngx_uint_t *joined);
static ngx_uint_t ngx_chat_cluster_retire(void);
static ngx_chat_cluster_node_t *ngx_chat_cluster_find(
    chat_cluster_addr_t *name);
static ngx_int_t ngx_chat_cluster_send(ngx_chat_cluster_cmd_t *c,
    ngx_chat_cluster_node_t *node, ngx_uint_t asking);
static void ngx_chat_cluster_reply(redisReply *reply, void *data);
static ngx_uint_t ngx_chat_cluster_redirected(ngx_chat_cluster_cmd_t *c,
    redisReply *reply);
static void ngx_chat_cluster_later(ngx_chat_cluster_cmd_t *c);
static void ngx_chat_cluster_retry_handler(ngx_event_t *ev);
static void ngx_chat_cluster_done(ngx_chat_cluster_cmd_t *c,
    redisReply *reply);
static ngx_uint_t ngx_chat_cluster_all_up(void);
static void ngx_chat_cluster_gauges(void);


static ngx_chat_cluster_t  ngx_chat_cluster;


ngx_int_t
ngx_chat_cluster_init(ngx_array_t *addrs, ngx_uint_t cluster,
    ngx_msec_t timeout, ngx_str_t *user, ngx_str_t *password,
    ngx_chat_cluster_handlers_t *handlers, ngx_log_t *log)
{
    ngx_chat_cluster_t       *cl = &ngx_chat_cluster;
    ngx_chat_cluster_node_t  *node;

    ngx_memzero(cl, sizeof(ngx_chat_cluster_t));

    cl->on = cluster;
    cl->timeout = timeout;
    cl->user = user;
    cl->password = password;
    cl->log = log;
    cl->handlers = *handlers;
    cl->seeds = addrs->elts;
    cl->nseeds = addrs->nelts;

    ngx_queue_init(&cl->waiting);
    ngx_chat_timer_init(&cl->refresh, ngx_chat_cluster_refresh_handler, log);

    if (!cluster) {
        node = ngx_chat_cluster_node_add(&cl->seeds[0], NULL);
        if (node == NULL) {
            return NGX_ERROR;
        }

        node->master = 1;
        ngx_chat_cluster_node_start(node);
        return NGX_OK;
    }

    ngx_chat_redis_init(&cl->probe, "cluster seed", &cl->seeds[0], timeout,
                        user, password, log);
    cl->probe.ready_handler = ngx_chat_cluster_on_probe_ready;
    cl->probe.down_handler = ngx_chat_cluster_on_probe_down;
    ngx_chat_redis_connect(&cl->probe);

    return NGX_OK;
}


void
ngx_chat_cluster_exit(void)
{
    ngx_uint_t                i;
    ngx_queue_t              *q, *next;
    ngx_chat_cluster_t       *cl = &ngx_chat_cluster;
    ngx_chat_cluster_cmd_t   *c;
    ngx_chat_cluster_node_t  *node;

    if (cl->refresh.timer_set) {
        ngx_del_timer(&cl->refresh);
    }

    /* commands waiting to be sent again fail: the worker is going */
    for (q = ngx_queue_head(&cl->waiting);
         q != ngx_queue_sentinel(&cl->waiting);
         q = next)
    {
        next = ngx_queue_next(q);
        c = ngx_queue_data(q, ngx_chat_cluster_cmd_t, queue);
        c->queued = 0;
        ngx_chat_cluster_done(c, NULL);
    }

    ngx_queue_init(&cl->waiting);

    if (cl->on) {
        ngx_chat_redis_close(&cl->probe);
    }

    for (i = 0; i < cl->nnodes; i++) {
        node = cl->nodes[i];

        if (!node->retired) {
            ngx_chat_redis_close(&node->cmd);
            ngx_chat_redis_close(&node->sub);
        }

        ngx_free(node);
    }

    cl->nnodes = 0;
    chat_cluster_map_free(&cl->map);
    ngx_free(cl->by_map);
    cl->by_map = NULL;
}


ngx_uint_t
ngx_chat_cluster_on(void)
{
    return ngx_chat_cluster.on;
}


ngx_chat_cluster_node_t *
ngx_chat_cluster_node(ngx_uint_t i)
{
    return i < ngx_chat_cluster.nnodes ? ngx_chat_cluster.nodes[i] : NULL;
}


/* ------------------------------------------------------------- nodes */


/* A node of addr (copied: it may be a map's, freed with it). */
static ngx_chat_cluster_node_t *
ngx_chat_cluster_node_add(ngx_addr_t *addr, chat_cluster_addr_t *name)
{
    ngx_chat_cluster_t       *cl = &ngx_chat_cluster;
    ngx_chat_cluster_node_t  *node;

    if (cl->nnodes == NGX_CHAT_CLUSTER_NODES_MAX) {
        ngx_log_error(NGX_LOG_ERR, cl->log, 0,
                      "chat: redis cluster has more than %d masters",
                      NGX_CHAT_CLUSTER_NODES_MAX);
        return NULL;
    }

    node = ngx_calloc(sizeof(ngx_chat_cluster_node_t) + addr->socklen
                      + addr->name.len, cl->log);
    if (node == NULL) {
        return NULL;
    }

    node->addr.sockaddr = (struct sockaddr *) (node + 1);
    node->addr.socklen = addr->socklen;
    ngx_memcpy(node->addr.sockaddr, addr->sockaddr, addr->socklen);
    node->addr.name.data = (u_char *) node->addr.sockaddr + addr->socklen;
    node->addr.name.len = addr->name.len;
    ngx_memcpy(node->addr.name.data, addr->name.data, addr->name.len);

    if (name) {
        node->name = *name;
    }

    node->retired = 1;
    cl->nodes[cl->nnodes++] = node;

    return node;
}


/* Connects a node's two connections (again, for a retired one). */
static void
ngx_chat_cluster_node_start(ngx_chat_cluster_node_t *node)
{
    ngx_chat_cluster_t  *cl = &ngx_chat_cluster;

    ngx_chat_redis_init(&node->cmd, "command", &node->addr, cl->timeout,
                        cl->user, cl->password, cl->log);
    ngx_chat_redis_init(&node->sub, "subscriber", &node->addr, cl->timeout,
                        cl->user, cl->password, cl->log);

    node->cmd.data = node;
    node->sub.data = node;
    node->cmd.ready_handler = ngx_chat_cluster_on_cmd_ready;
    node->sub.ready_handler = ngx_chat_cluster_on_sub_ready;
    node->sub.push = cl->handlers.push;

    if (cl->on) {
        node->cmd.down_handler = ngx_chat_cluster_on_down;
        node->sub.down_handler = ngx_chat_cluster_on_down;
    }

    node->retired = 0;

    ngx_chat_redis_connect(&node->cmd);
    ngx_chat_redis_connect(&node->sub);
}


static void
ngx_chat_cluster_on_cmd_ready(ngx_chat_redis_t *redis)
{
    ngx_chat_cluster_gauges();
    ngx_chat_cluster.handlers.cmd_ready(redis->data);
}


static void
ngx_chat_cluster_on_sub_ready(ngx_chat_redis_t *redis)
{
    ngx_chat_cluster_gauges();
    ngx_chat_cluster.handlers.sub_ready(redis->data);
}


/* chat_status: the masters this worker knows, and how many of their
 * connections are down now. */
static void
ngx_chat_cluster_gauges(void)
{
    ngx_int_t                 masters, down;
    ngx_uint_t                i;
    ngx_chat_cluster_node_t  *node;

    if (!ngx_chat_cluster.on) {
        return;
    }

    masters = 0;
    down = 0;

    for (i = 0; i < ngx_chat_cluster.nnodes; i++) {
        node = ngx_chat_cluster.nodes[i];

        if (node->master && !node->retired) {
            masters++;
            down += !node->cmd.ready + !node->sub.ready;
        }
    }

    ngx_chat_gauge_set(NGX_CHAT_GAUGE_REDIS_MASTERS, masters);
    ngx_chat_gauge_set(NGX_CHAT_GAUGE_REDIS_CONNS_DOWN, down);
}


/*
 * A master's connection is lost: it may be failing over. The map is read
 * from the others until it names another master for its slots (or the
 * node is back).
 */
static void
ngx_chat_cluster_on_down(ngx_chat_redis_t *redis)
{
    ngx_chat_cluster_gauges();
    ngx_chat_cluster_refresh();
}


/* ------------------------------------------------------------- the map */


static void
ngx_chat_cluster_on_probe_ready(ngx_chat_redis_t *redis)
{
    ngx_chat_cluster_refresh();
}


/* The seed is not answering: the next one is tried. */
static void
ngx_chat_cluster_on_probe_down(ngx_chat_redis_t *redis)
{
    ngx_chat_cluster_t  *cl = &ngx_chat_cluster;

    cl->next_seed = (cl->next_seed + 1) % cl->nseeds;
    redis->addr = &cl->seeds[cl->next_seed];
}


/*
 * Reads the map now (or after the reading in flight), from the seed
 * connection or else any node that answers; with none, when the seed
 * connection is up again.
 */
void
ngx_chat_cluster_refresh(void)
{
    ngx_uint_t                i;
    ngx_chat_cluster_t       *cl = &ngx_chat_cluster;
    ngx_chat_cluster_node_t  *node;

    if (!cl->on) {
        return;
    }

    if (cl->reading) {
        cl->again = 1;
        return;
    }

    if (cl->probe.ready
        && ngx_chat_cluster_read_map(&cl->probe, NULL) == NGX_OK)
    {
        return;
    }

    for (i = 0; i < cl->nnodes; i++) {
        node = cl->nodes[i];

        if (!node->retired && node->cmd.ready
            && ngx_chat_cluster_read_map(&node->cmd, node->name.host)
               == NGX_OK)
        {
            return;
        }
    }

    /* nobody to ask now: again soon (the seed connection retries too) */
    if (!cl->refresh.timer_set) {
        ngx_add_timer(&cl->refresh, NGX_CHAT_CLUSTER_REFRESH);
    }
}


static void
ngx_chat_cluster_refresh_handler(ngx_event_t *ev)
{
    ngx_chat_cluster_refresh();
}


static ngx_int_t
ngx_chat_cluster_read_map(ngx_chat_redis_t *redis, const char *host)
{
    ngx_str_t  argv[2];

    ngx_str_set(&argv[0], "CLUSTER");
    ngx_str_set(&argv[1], "SLOTS");

    if (ngx_chat_redis_command(redis, ngx_chat_cluster_map_reply, redis, 2,
                               argv)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_chat_cluster.reading = 1;
    ngx_chat_cluster.again = 0;

    return NGX_OK;
}


/*
 * A node that reports an empty host means the one it was asked on: the
 * host of that connection's address.
 */
static void
ngx_chat_cluster_asked_host(ngx_chat_redis_t *redis, char *host)
{
    u_char  *p, *last;
    size_t   len;

    p = redis->addr->name.data;
    last = p + redis->addr->name.len;

    while (last > p && last[-1] != ':') {
        last--;
    }

    len = last > p ? (size_t) (last - 1 - p) : 0;

    if (len && p[0] == '[') {
        p++;
        len -= 2;
    }

    len = ngx_min(len, CHAT_CLUSTER_HOST_MAX - 1);
    ngx_memcpy(host, p, len);
    host[len] = '\0';
}


static void
ngx_chat_cluster_map_reply(redisReply *reply, void *data)
{
    char                 err[128], host[CHAT_CLUSTER_HOST_MAX];
    chat_cluster_map_t   map;
    ngx_chat_cluster_t  *cl = &ngx_chat_cluster;
    ngx_chat_redis_t    *redis = data;

    cl->reading = 0;

    if (reply == NULL) {
        /* the connection was lost: another is asked */
        ngx_chat_cluster_refresh();
        return;
    }

    ngx_chat_cluster_asked_host(redis, host);

    if (chat_cluster_map_parse(reply, host, &map, err, sizeof(err)) != 0) {
        ngx_log_error(NGX_LOG_ERR, cl->log, 0,
                      "chat: redis cluster: CLUSTER SLOTS from %V: %s "
                      "(is chat_redis a cluster node?)",
                      &redis->addr->name, err);

        if (!cl->refresh.timer_set) {
            ngx_add_timer(&cl->refresh, NGX_CHAT_REDIS_BACKOFF_MAX);
        }

        return;
    }

    ngx_chat_cluster_apply(&map);

    if (cl->again || !ngx_chat_cluster_all_up()) {
        cl->again = 0;

        if (!cl->refresh.timer_set) {
            ngx_add_timer(&cl->refresh, NGX_CHAT_CLUSTER_REFRESH);
        }
    }
}


/* Every slot has a master, and every master's connections are up. */
static ngx_uint_t
ngx_chat_cluster_all_up(void)
{
    ngx_uint_t           i;
    ngx_chat_cluster_t  *cl = &ngx_chat_cluster;

    for (i = 0; i < CHAT_CLUSTER_SLOTS; i++) {
        if (cl->map.owner[i] < 0) {
            return 0;
        }
    }

    for (i = 0; i < cl->map.nnodes; i++) {
        if (cl->by_map[i] == NULL || !cl->by_map[i]->cmd.ready
            || !cl->by_map[i]->sub.ready)
        {
            return 0;
        }
    }

    return 1;
}


/*
 * The map read replaces the one we had: a master it names for the first
 * time is connected, one it no longer names is closed (its commands fail,
 * as with a lost connection); then the layer above re-homes channels.
 */
static void
ngx_chat_cluster_apply(chat_cluster_map_t *map)
{
    ngx_uint_t                 i, changed;
    ngx_chat_cluster_t        *cl = &ngx_chat_cluster;
    ngx_chat_cluster_node_t  **by_map;

    by_map = ngx_alloc(ngx_max(map->nnodes, 1)
                       * sizeof(ngx_chat_cluster_node_t *), cl->log);
    if (by_map == NULL) {
        chat_cluster_map_free(map);
        return;
    }

    for (i = 0; i < cl->nnodes; i++) {
        cl->nodes[i]->master = 0;
    }

    changed = 0;

    for (i = 0; i < map->nnodes; i++) {
        by_map[i] = ngx_chat_cluster_master(&map->nodes[i], &changed);
    }

    changed |= ngx_chat_cluster_retire();

    /* a slot whose master is unreachable is one no master serves */
    for (i = 0; i < CHAT_CLUSTER_SLOTS; i++) {
        if (map->owner[i] >= 0 && by_map[map->owner[i]] == NULL) {
            map->owner[i] = -1;
        }
    }

    /* the first map is no change: a failover or a reshard is */
    if (cl->map.nnodes
        && (changed
            || ngx_memcmp(cl->map.owner, map->owner, sizeof(map->owner))
               != 0))
    {
        ngx_chat_stat_inc(NGX_CHAT_STAT_REDIS_MAP_CHANGES);
    }

    chat_cluster_map_free(&cl->map);
    ngx_free(cl->by_map);
    cl->map = *map;
    cl->by_map = by_map;

    ngx_chat_cluster_gauges();

    cl->handlers.map_changed();
}


/*
 * The node of a master the map names, connected if it was not; NULL when
 * it cannot be had (not an IP address, too many nodes).
 */
static ngx_chat_cluster_node_t *
ngx_chat_cluster_master(chat_cluster_addr_t *name, ngx_uint_t *joined)
{
    u_char                    text[NGX_SOCKADDR_STRLEN];
    size_t                    len;
    ngx_addr_t                addr;
    ngx_chat_cluster_node_t  *node;

    node = ngx_chat_cluster_find(name);

    if (node == NULL) {
        /* CLUSTER SLOTS names an IPv6 master without brackets */
        len = ngx_snprintf(text, sizeof(text),
                           strchr(name->host, ':') ? "[%s]:%d" : "%s:%d",
                           name->host, (int) name->port)
              - text;

        /* an IP (or [IPv6]) and a port: never a name to resolve */
        if (ngx_parse_addr_port(ngx_cycle->pool, &addr, text, len) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, ngx_chat_cluster.log, 0,
                          "chat: redis cluster: master \"%*s\" is not an IP "
                          "address and port, its slots are unreachable",
                          len, text);
            return NULL;
        }

        addr.name.data = text;
        addr.name.len = len;

        node = ngx_chat_cluster_node_add(&addr, name);
        if (node == NULL) {
            return NULL;
        }
    }

    if (node->retired) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_chat_cluster.log, 0,
                      "chat: redis cluster: master %V joins the map",
                      &node->addr.name);
        ngx_chat_cluster_node_start(node);
        *joined = 1;
    }

    node->master = 1;

    return node;
}


/* Nodes the new map does not name are closed; 1 when there was one. */
static ngx_uint_t
ngx_chat_cluster_retire(void)
{
    ngx_uint_t                i, retired;
    ngx_chat_cluster_node_t  *node;

    retired = 0;

    for (i = 0; i < ngx_chat_cluster.nnodes; i++) {
        node = ngx_chat_cluster.nodes[i];

        if (!node->master && !node->retired) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_chat_cluster.log, 0,
                          "chat: redis cluster: %V is no longer a master",
                          &node->addr.name);
            node->retired = 1;
            ngx_chat_redis_close(&node->cmd);
            ngx_chat_redis_close(&node->sub);
            retired = 1;
        }
    }

    return retired;
}


static ngx_chat_cluster_node_t *
ngx_chat_cluster_find(chat_cluster_addr_t *name)
{
    ngx_uint_t                i;
    ngx_chat_cluster_node_t  *node;

    for (i = 0; i < ngx_chat_cluster.nnodes; i++) {
        node = ngx_chat_cluster.nodes[i];

        if (node->name.port == name->port
            && ngx_strcmp(node->name.host, name->host) == 0)
        {
            return node;
        }
    }

    return NULL;
}


ngx_chat_cluster_node_t *
ngx_chat_cluster_owner(ngx_str_t *key)
{
    int                  i;
    ngx_chat_cluster_t  *cl = &ngx_chat_cluster;

    if (!cl->on) {
        return cl->nodes[0];
    }

    if (cl->by_map == NULL) {
        return NULL;
    }

    i = chat_cluster_map_owner(&cl->map,
                               chat_cluster_slot((char *) key->data,
                                                 key->len));

    return i < 0 ? NULL : cl->by_map[i];
}


/* ---------------------------------------------------------- commands */


ngx_int_t
ngx_chat_cluster_command(ngx_uint_t key, ngx_chat_redis_reply_pt handler,
    void *data, ngx_uint_t argc, ngx_str_t *argv)
{
    u_char                   *p;
    size_t                    size;
    ngx_uint_t                i;
    ngx_chat_cluster_t       *cl = &ngx_chat_cluster;
    ngx_chat_cluster_cmd_t   *c;
    ngx_chat_cluster_node_t  *node;

    if (!cl->on) {
        return ngx_chat_redis_command(&cl->nodes[0]->cmd, handler, data,
                                      argc, argv);
    }

    node = ngx_chat_cluster_owner(&argv[key]);

    if (node == NULL || !node->cmd.ready) {
        return NGX_DECLINED;
    }

    /* a copy of the command, to send it again where it is redirected */
    size = sizeof(ngx_chat_cluster_cmd_t) + argc * sizeof(ngx_str_t);

    for (i = 0; i < argc; i++) {
        size += argv[i].len;
    }

    c = ngx_alloc(size, cl->log);
    if (c == NULL) {
        return NGX_DECLINED;
    }

    c->handler = handler;
    c->data = data;
    c->slot = chat_cluster_slot((char *) argv[key].data, argv[key].len);
    c->redirects = 0;
    c->queued = 0;
    c->argc = argc;
    c->argv = (ngx_str_t *) (c + 1);
    p = (u_char *) (c->argv + argc);

    for (i = 0; i < argc; i++) {
        c->argv[i].data = p;
        c->argv[i].len = argv[i].len;
        p = ngx_cpymem(p, argv[i].data, argv[i].len);
    }

    ngx_memzero(&c->retry, sizeof(ngx_event_t));
    ngx_chat_timer_init(&c->retry, ngx_chat_cluster_retry_handler, cl->log);

    if (ngx_chat_cluster_send(c, node, 0) != NGX_OK) {
        ngx_free(c);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


void
ngx_chat_cluster_command_all(ngx_chat_redis_reply_pt handler,
    ngx_uint_t argc, ngx_str_t *argv)
{
    ngx_uint_t                i;
    ngx_chat_cluster_node_t  *node;

    for (i = 0; i < ngx_chat_cluster.nnodes; i++) {
        node = ngx_chat_cluster.nodes[i];

        if (node->master && !node->retired) {
            (void) ngx_chat_redis_command(&node->cmd, handler, NULL, argc,
                                          argv);
        }
    }
}


/* ASKING first when the node is the target of a migration of the slot. */
static ngx_int_t
ngx_chat_cluster_send(ngx_chat_cluster_cmd_t *c,
    ngx_chat_cluster_node_t *node, ngx_uint_t asking)
{
    ngx_str_t  argv[1];

    if (asking) {
        ngx_str_set(&argv[0], "ASKING");

        if (ngx_chat_redis_command(&node->cmd, NULL, NULL, 1, argv)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }
    }

    return ngx_chat_redis_command(&node->cmd, ngx_chat_cluster_reply, c,
                                  c->argc, c->argv);
}


static void
ngx_chat_cluster_reply(redisReply *reply, void *data)
{
    ngx_chat_cluster_cmd_t  *c = data;

    if (reply && reply->type == REDIS_REPLY_ERROR
        && c->redirects < NGX_CHAT_CLUSTER_REDIRECTS
        && ngx_chat_cluster_redirected(c, reply))
    {
        return;
    }

    ngx_chat_cluster_done(c, reply);
}


/* 1 when the error is one to follow, and it was followed. */
static ngx_uint_t
ngx_chat_cluster_redirected(ngx_chat_cluster_cmd_t *c, redisReply *reply)
{
    ngx_chat_cluster_node_t  *node;
    chat_cluster_redirect_t   r;

    switch (chat_cluster_redirect(reply->str, reply->len, &r)) {

    case CHAT_CLUSTER_MOVED:
        ngx_chat_stat_inc(NGX_CHAT_STAT_REDIS_MOVED);
        c->redirects++;
        ngx_chat_cluster_refresh();

        node = ngx_chat_cluster_find(&r.addr);

        if (node && !node->retired && node->cmd.ready
            && ngx_chat_cluster_send(c, node, 0) == NGX_OK)
        {
            return 1;
        }

        /* a master we do not know yet: once the map names it */
        ngx_chat_cluster_later(c);
        return 1;

    case CHAT_CLUSTER_ASK:
        ngx_chat_stat_inc(NGX_CHAT_STAT_REDIS_ASK);
        c->redirects++;
        node = ngx_chat_cluster_find(&r.addr);

        return node && !node->retired && node->cmd.ready
               && ngx_chat_cluster_send(c, node, 1) == NGX_OK;

    default:
        break;
    }

    if (chat_cluster_changing(reply->str, reply->len)) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_REDIS_TRYAGAIN);
        c->redirects++;
        ngx_chat_cluster_later(c);
        return 1;
    }

    return 0;
}


/* Sent again after the backoff, to the slot's master then. */
static void
ngx_chat_cluster_later(ngx_chat_cluster_cmd_t *c)
{
    ngx_queue_insert_tail(&ngx_chat_cluster.waiting, &c->queue);
    c->queued = 1;
    ngx_add_timer(&c->retry, NGX_CHAT_REDIS_BACKOFF_MIN << (c->redirects - 1));
}


static void
ngx_chat_cluster_retry_handler(ngx_event_t *ev)
{
    int                       i;
    ngx_chat_cluster_t       *cl = &ngx_chat_cluster;
    ngx_chat_cluster_cmd_t   *c;
    ngx_chat_cluster_node_t  *node;

    c = ngx_chat_event_owner(ev, ngx_chat_cluster_cmd_t, retry);
    ngx_queue_remove(&c->queue);
    c->queued = 0;

    i = cl->by_map ? chat_cluster_map_owner(&cl->map, c->slot) : -1;
    node = i < 0 ? NULL : cl->by_map[i];

    if (node && node->cmd.ready && ngx_chat_cluster_send(c, node, 0) == NGX_OK)
    {
        return;
    }

    if (c->redirects < NGX_CHAT_CLUSTER_REDIRECTS) {
        c->redirects++;
        ngx_chat_cluster_later(c);
        return;
    }

    ngx_chat_cluster_done(c, NULL);
}


static void
ngx_chat_cluster_done(ngx_chat_cluster_cmd_t *c, redisReply *reply)
{
    if (c->retry.timer_set) {
        ngx_del_timer(&c->retry);
    }

    if (c->queued) {
        ngx_queue_remove(&c->queue);
    }

    if (c->handler) {
        c->handler(reply, c->data);
    }

    ngx_free(c);
}


/* ------------------------------------------------------------ backlog */


void
ngx_chat_cluster_backlog(size_t *bytes, ngx_uint_t *replies)
{
    size_t                    b;
    ngx_uint_t                i, r;
    ngx_chat_cluster_node_t  *node;

    *bytes = 0;
    *replies = 0;

    for (i = 0; i < ngx_chat_cluster.nnodes; i++) {
        node = ngx_chat_cluster.nodes[i];

        if (node->retired) {
            continue;
        }

        ngx_chat_redis_backlog(&node->cmd, &b, &r);
        *bytes = ngx_max(*bytes, b);
        *replies = ngx_max(*replies, r);
    }
}


void
ngx_chat_cluster_flush_now(void)
{
    ngx_uint_t                i;
    ngx_chat_cluster_node_t  *node;

    for (i = 0; i < ngx_chat_cluster.nnodes; i++) {
        node = ngx_chat_cluster.nodes[i];

        if (!node->retired) {
            ngx_chat_redis_flush_now(&node->cmd);
        }
    }
}
