/*
 * A Redis client on nginx's event loop: nginx's own non-blocking peer
 * connection for the socket, hiredis' reply reader for RESP.
 *
 * Why not hiredis' async API with an adapter: its async layer decides by
 * itself which replies are pub/sub pushes and only knows SUBSCRIBE and
 * PSUBSCRIBE; Redis Cluster's sharded pub/sub (SSUBSCRIBE, "smessage")
 * would desynchronise its callback queue. Here a connection is either a
 * command connection (replies matched to callbacks in order) or a
 * subscriber connection (every reply handed to one push handler), so any
 * subscribe command works the same way.
 */

#ifndef NGX_CHAT_REDIS_H
#define NGX_CHAT_REDIS_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_chat_event.h"

#include <hiredis/hiredis.h>


typedef struct ngx_chat_redis_s  ngx_chat_redis_t;

/* A command's reply; NULL when the command failed (connection lost,
 * timed out, or never sent). The reply is freed after the call. */
typedef void (*ngx_chat_redis_reply_pt)(redisReply *reply, void *data);

/* Every reply of a subscriber connection. */
typedef void (*ngx_chat_redis_push_pt)(ngx_chat_redis_t *redis,
    redisReply *reply);

/* The connection is ready (again): state to re-establish goes here. */
typedef void (*ngx_chat_redis_ready_pt)(ngx_chat_redis_t *redis);

/* The connection was lost (or never made); a reconnect is scheduled, to
 * redis->addr as it is when the retry timer fires. */
typedef void (*ngx_chat_redis_down_pt)(ngx_chat_redis_t *redis);


/* The reconnect backoff, ms; also the retry delays of the cluster layer. */
#define NGX_CHAT_REDIS_BACKOFF_MIN  100
#define NGX_CHAT_REDIS_BACKOFF_MAX  5000


typedef struct {
    ngx_chat_redis_reply_pt   handler;
    void                     *data;
} ngx_chat_redis_cb_t;


struct ngx_chat_redis_s {
    const char               *name;          /* for the log */
    ngx_addr_t               *addr;
    ngx_msec_t                timeout;       /* connect and reply */
    ngx_log_t                *log;

    /* AUTH [user] password, the first command of every connection */
    ngx_str_t                *user;
    ngx_str_t                *password;      /* empty: no AUTH */

    ngx_peer_connection_t     peer;
    redisReader              *reader;

    /* bytes not yet written: data[pos..len) */
    u_char                   *out;
    size_t                    out_pos;
    size_t                    out_len;
    size_t                    out_size;

    /* callbacks of commands sent and not answered, a ring */
    ngx_chat_redis_cb_t      *cbs;
    ngx_uint_t                cb_head;
    ngx_uint_t                cb_count;
    ngx_uint_t                cb_size;

    ngx_chat_redis_push_pt    push;          /* set: a subscriber */
    ngx_chat_redis_ready_pt   ready_handler;
    ngx_chat_redis_down_pt    down_handler;
    void                     *data;          /* the owner's */

    ngx_event_t               retry;
    ngx_msec_t                backoff;
    ngx_uint_t                reconnects;

    unsigned                  ready:1;
    unsigned                  authenticating:1;  /* AUTH sent, unanswered */
};


/* user and password live as long as the connection (the configuration). */
void ngx_chat_redis_init(ngx_chat_redis_t *redis, const char *name,
    ngx_addr_t *addr, ngx_msec_t timeout, ngx_str_t *user,
    ngx_str_t *password, ngx_log_t *log);
void ngx_chat_redis_connect(ngx_chat_redis_t *redis);
void ngx_chat_redis_close(ngx_chat_redis_t *redis);

/*
 * Queues a command (argc arguments) and its reply handler (may be NULL).
 * Returns NGX_OK, or NGX_DECLINED when the connection is not ready or its
 * backlog is full: the handler is then not called.
 */
ngx_int_t ngx_chat_redis_command(ngx_chat_redis_t *redis,
    ngx_chat_redis_reply_pt handler, void *data, ngx_uint_t argc,
    ngx_str_t *argv);

/* Bytes queued and not written, and replies awaited (shedding). */
void ngx_chat_redis_backlog(ngx_chat_redis_t *redis, size_t *bytes,
    ngx_uint_t *replies);

/* Writes what is queued now, without waiting (at worker exit). */
void ngx_chat_redis_flush_now(ngx_chat_redis_t *redis);

/*
 * For the replies of EVALSHA that only matter as errors: logs one (what
 * names the script) and returns 1 when Redis has lost the script (NOSCRIPT:
 * SCRIPT FLUSH, a failover), which the caller then loads again.
 */
ngx_uint_t ngx_chat_redis_script_failed(redisReply *reply, const char *what);


#endif /* NGX_CHAT_REDIS_H */
