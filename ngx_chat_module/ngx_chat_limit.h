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

#include "chat_proto.h"


extern ngx_module_t  ngx_chat_limit_module;


/*
 * A handshake from the request's client address: NGX_OK, or NGX_BUSY with
 * *wait, the ms until one would be accepted.
 */
ngx_int_t ngx_chat_limit_handshake(ngx_http_request_t *r, ngx_msec_t *wait);

/*
 * One more open connection from the request's client address, counted
 * until the connection's pool goes (chat_limit_conn_per_addr): NGX_OK,
 * NGX_BUSY with *wait, the ms after which to try again, when the address
 * already holds the cap (this one is not counted), or NGX_ERROR. A
 * request that is counted is not kept alive, so that a refusal after
 * this releases the count with its connection.
 */
ngx_int_t ngx_chat_limit_addr_conns(ngx_http_request_t *r, ngx_msec_t *wait);

/*
 * A handshake of the user, whose token was just checked, against the
 * user's request budget (its "connect" cost): NGX_OK, or NGX_BUSY with
 * *wait, the ms until one would be accepted.
 */
ngx_int_t ngx_chat_limit_connect(ngx_http_request_t *r, ngx_str_t *user,
    ngx_msec_t *wait);


/* A connection's own bucket of its rejected requests (flood). */
typedef struct {
    uint64_t                excess;
    ngx_msec_t              last;
    unsigned                started:1;      /* a request was rejected */
} ngx_chat_limit_flood_t;

/*
 * What the limits keep of an upgraded connection, which outlives its
 * request: the location's configuration and its counts of rejected
 * sends and of rejected other requests.
 */
typedef struct {
    void                  **loc_conf;       /* the request's r->loc_conf */
    ngx_chat_limit_flood_t  send;
    ngx_chat_limit_flood_t  requests;
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

/*
 * Any other request of the user on this connection (req NULL: a frame that
 * did not decode), at its cost against the user's request budget
 * (chat_limit_requests): the same answers as ngx_chat_limit_send. Sends,
 * group changes and typing cost nothing here.
 */
ngx_int_t ngx_chat_limit_request(ngx_chat_limit_conn_t *lc, ngx_log_t *log,
    ngx_str_t *user, chat_req_t *req, ngx_msec_t *wait);

/* A typing frame of the user: NGX_OK, or NGX_BUSY (drop it). */
ngx_int_t ngx_chat_limit_typing(ngx_chat_limit_conn_t *lc, ngx_str_t *user);


#endif /* NGX_CHAT_LIMIT_H */
