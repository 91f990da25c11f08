/*
 * ngx_chat_pubsub: this worker's Redis commands and its channels.
 *
 * The layer below every feature that uses Redis (ngx_chat_redis_cluster.c
 * is under it: the nodes, each with a command connection and a subscriber
 * connection; one node with a plain Redis). It routes commands by key and
 * owns which channels are subscribed, each once however many users it
 * has, on the subscriber of the node that serves the channel (SSUBSCRIBE,
 * sharded pub/sub, on a Redis Cluster). It knows no feature: a feature registers, in its init, the
 * handler of a channel prefix (what arrives on a channel of it, and the
 * confirmation of its SUBSCRIBE) and the hooks to run when a connection is
 * (back) up. After a node comes back, or a channel's slot moves to another
 * master, the layer subscribes the channels concerned again itself.
 */

#ifndef NGX_CHAT_PUBSUB_H
#define NGX_CHAT_PUBSUB_H

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_chat_redis.h"
#include "ngx_chat_redis_cluster.h"


typedef struct ngx_chat_pubsub_sub_s  ngx_chat_pubsub_sub_t;

/* A message on a channel of the prefix; payload NULL: the channel's
 * SUBSCRIBE was confirmed (it is live from now on). */
typedef void (*ngx_chat_pubsub_handler_pt)(ngx_str_t *channel,
    ngx_str_t *payload);

/* A connection is (back) up: state kept in Redis is written again. */
typedef void (*ngx_chat_pubsub_ready_pt)(void);

typedef enum {
    NGX_CHAT_PUBSUB_COMMAND = 0,
    NGX_CHAT_PUBSUB_SUBSCRIBER
} ngx_chat_pubsub_conn_e;


/* Registration, before ngx_chat_pubsub_init(): prefix is a literal. */
ngx_int_t ngx_chat_pubsub_handle(const char *prefix,
    ngx_chat_pubsub_handler_pt handler);
ngx_int_t ngx_chat_pubsub_on_ready(ngx_chat_pubsub_conn_e conn,
    ngx_chat_pubsub_ready_pt handler);

/* Connects when addrs (ngx_addr_t: the one Redis, or a cluster's seeds)
 * is set; user and password outlive the layer. */
ngx_int_t ngx_chat_pubsub_init(ngx_array_t *addrs, ngx_uint_t cluster,
    ngx_msec_t timeout, ngx_str_t *user, ngx_str_t *password,
    ngx_log_t *log);
void ngx_chat_pubsub_exit(void);

/* Whether the worker has Redis at all (chat_redis is set). */
ngx_uint_t ngx_chat_pubsub_enabled(void);

/*
 * A command, routed by argv[key] (the master of its slot on a Redis
 * Cluster); as ngx_chat_redis_command(). NGX_DECLINED without Redis.
 */
ngx_int_t ngx_chat_pubsub_command(ngx_uint_t key,
    ngx_chat_redis_reply_pt handler, void *data, ngx_uint_t argc,
    ngx_str_t *argv);

/* PUBLISH, or SPUBLISH on a Redis Cluster (to the channel's shard). */
const char *ngx_chat_pubsub_publish_cmd(void);

/*
 * One more user of a channel: SUBSCRIBE at the first. NULL when there is
 * no Redis or no memory (the channel then counts as not asked for).
 */
ngx_chat_pubsub_sub_t *ngx_chat_pubsub_subscribe(ngx_str_t *channel,
    ngx_log_t *log);
/* One user less (sub may be NULL): UNSUBSCRIBE after the last. */
void ngx_chat_pubsub_unsubscribe(ngx_chat_pubsub_sub_t *sub);

/* An answer published on the channel of sub (may be NULL) reaches us. */
ngx_uint_t ngx_chat_pubsub_listening(ngx_chat_pubsub_sub_t *sub);
/* Asked for (SUBSCRIBE sent, maybe not confirmed yet). */
ngx_uint_t ngx_chat_pubsub_asked(ngx_chat_pubsub_sub_t *sub);
/* Confirmed: live. */
ngx_uint_t ngx_chat_pubsub_live(ngx_chat_pubsub_sub_t *sub);


#endif /* NGX_CHAT_PUBSUB_H */
