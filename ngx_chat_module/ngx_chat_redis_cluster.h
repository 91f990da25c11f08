/*
 * ngx_chat_redis_cluster: the Redis nodes of this worker, and which one a
 * key goes to.
 *
 * Under ngx_chat_pubsub.c, over ngx_chat_redis.c. A node is one Redis
 * server with two connections of ours: a command connection and a
 * subscriber connection. With a plain Redis (chat_redis_cluster off, the
 * default) there is one node, the configured address, and a command goes
 * straight to its connection: nothing is added on the way.
 *
 * With a Redis Cluster, the nodes are the masters of the slot map, read
 * with CLUSTER SLOTS (common/chat_cluster.h parses it) from a seed first,
 * then from any node that answers; their connections are made when the map
 * names them and closed when it no longer does. A command names which of
 * its arguments is the key that routes it, and goes to the master of the
 * key's slot. What a node answers instead of a reply is followed here:
 * MOVED (the map is read again, the command sent to the new owner), ASK
 * (ASKING, then the command on that node, once), TRYAGAIN and CLUSTERDOWN
 * (sent again after the reconnect backoff), a bounded number of times in
 * all. When a node is lost, the map is read again, from the others, until
 * it names a master for every slot again (a replica promoted): that is a
 * failover, and the layer above re-homes the node's channels.
 */

#ifndef NGX_CHAT_REDIS_CLUSTER_H
#define NGX_CHAT_REDIS_CLUSTER_H

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_chat_redis.h"
#include "chat_cluster.h"


typedef struct ngx_chat_cluster_node_s  ngx_chat_cluster_node_t;

struct ngx_chat_cluster_node_s {
    ngx_chat_redis_t          cmd;
    ngx_chat_redis_t          sub;

    ngx_addr_t                addr;
    chat_cluster_addr_t       name;        /* as the cluster names it */

    unsigned                  master:1;    /* in the current map */
    unsigned                  retired:1;   /* closed: no longer a master */
    /* the subscriber refused an SSUBSCRIBE: its pending channels wait for
     * the next map (ngx_chat_pubsub.c), so one refusal costs one pass */
    unsigned                  sub_refused:1;
};


/* A node's connection is (back) up. */
typedef void (*ngx_chat_cluster_node_pt)(ngx_chat_cluster_node_t *node);
/* The slot map was read again (changed or not). */
typedef void (*ngx_chat_cluster_map_pt)(void);

typedef struct {
    ngx_chat_cluster_node_pt  cmd_ready;
    ngx_chat_cluster_node_pt  sub_ready;
    ngx_chat_redis_push_pt    push;        /* every subscriber's replies */
    ngx_chat_cluster_map_pt   map_changed;
} ngx_chat_cluster_handlers_t;


/*
 * addrs (ngx_addr_t, resolved at configuration) is the one Redis, or the
 * seeds of a cluster. user and password outlive the layer.
 */
ngx_int_t ngx_chat_cluster_init(ngx_array_t *addrs, ngx_uint_t cluster,
    ngx_msec_t timeout, ngx_str_t *user, ngx_str_t *password,
    ngx_chat_cluster_handlers_t *handlers, ngx_log_t *log);
void ngx_chat_cluster_exit(void);

/* Whether this is a Redis Cluster (SSUBSCRIBE, SPUBLISH). */
ngx_uint_t ngx_chat_cluster_on(void);

/*
 * Queues a command on the master of argv[key]'s slot (with a plain Redis,
 * its one command connection); as ngx_chat_redis_command(): NGX_DECLINED
 * when that node's connection is not ready or is full, and the handler is
 * then not called; else it is called once, with NULL when the command
 * failed.
 */
ngx_int_t ngx_chat_cluster_command(ngx_uint_t key,
    ngx_chat_redis_reply_pt handler, void *data, ngx_uint_t argc,
    ngx_str_t *argv);

/* The same command on every master that is ready (SCRIPT LOAD). */
void ngx_chat_cluster_command_all(ngx_chat_redis_reply_pt handler,
    ngx_uint_t argc, ngx_str_t *argv);

/* The node of a key or channel: NULL when no master serves its slot. */
ngx_chat_cluster_node_t *ngx_chat_cluster_owner(ngx_str_t *key);

/* The map may be stale (a subscriber was told a slot moved): read it. */
void ngx_chat_cluster_refresh(void);

/* The nodes (masters and retired ones), i from 0 until NULL. */
ngx_chat_cluster_node_t *ngx_chat_cluster_node(ngx_uint_t i);

/* The largest backlog of any node (shedding); every node's written now. */
void ngx_chat_cluster_backlog(size_t *bytes, ngx_uint_t *replies);
void ngx_chat_cluster_flush_now(void);


#endif /* NGX_CHAT_REDIS_CLUSTER_H */
