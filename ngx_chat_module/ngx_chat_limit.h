/*
 * ngx_chat_limit_module: rate limits and the device cap, in shared-memory
 * zones seen by every nginx worker of a node (ngx_chat_limit.c). The chat
 * code asks it through these calls; its directives are its own.
 */

#ifndef NGX_CHAT_LIMIT_H
#define NGX_CHAT_LIMIT_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


extern ngx_module_t  ngx_chat_limit_module;


/*
 * A handshake from the request's client address: NGX_OK, or NGX_BUSY with
 * *wait, the ms until one would be accepted.
 */
ngx_int_t ngx_chat_limit_handshake(ngx_http_request_t *r, ngx_msec_t *wait);

/*
 * What the limits keep of an upgraded connection, which outlives its
 * request: the location's configuration and its own count of rejected
 * sends (flood).
 */
typedef struct {
    void                  **loc_conf;       /* the request's r->loc_conf */
    uint64_t                flood;
    ngx_msec_t              flood_last;
    unsigned                flooded:1;      /* a send was rejected */
} ngx_chat_limit_conn_t;


/*
 * One more connection of the user, counted until pool (the connection's)
 * goes: NGX_OK, NGX_BUSY when the user already holds chat_max_devices (this
 * one is not counted), or NGX_ERROR.
 */
ngx_int_t ngx_chat_limit_devices(ngx_http_request_t *r, ngx_pool_t *pool,
    ngx_str_t *user);

/*
 * A send (or group change) of the user on this connection: NGX_OK;
 * NGX_BUSY with *wait, the ms until one would be accepted; NGX_DECLINED
 * when the connection keeps sending past the limit and must be closed.
 */
ngx_int_t ngx_chat_limit_send(ngx_chat_limit_conn_t *lc, ngx_log_t *log,
    ngx_str_t *user, ngx_msec_t *wait);

/* A typing frame of the user: NGX_OK, or NGX_BUSY (drop it). */
ngx_int_t ngx_chat_limit_typing(ngx_chat_limit_conn_t *lc, ngx_str_t *user);


#endif /* NGX_CHAT_LIMIT_H */
