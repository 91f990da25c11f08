/*
 * ngx_chat_module: the common header of the module's files.
 *
 * One connection is one ngx_chat_conn_t, allocated from its request's pool
 * at the upgrade; it is found from the request through the module context,
 * never passed to a library as a pointer.
 */

#ifndef NGX_CHAT_MODULE_H
#define NGX_CHAT_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "chat_ids.h"
#include "chat_proto.h"
#include "chat_ws_frame.h"


typedef struct {
    ngx_flag_t            enable;

    ngx_uint_t            jwt_alg;          /* a libjwt jwt_alg_t */
    ngx_str_t             jwt_secret;       /* HS256 */
    ngx_str_t             jwt_key_file;     /* RS256, ES256: public key */
    ngx_str_t             jwt_key;          /* the key as given to libjwt */
    ngx_str_t             jwt_issuer;
    ngx_str_t             jwt_audience;
    time_t                jwt_leeway;
    size_t                jwt_max_length;

    ngx_array_t          *allowed_origins;  /* of ngx_str_t */

    ngx_msec_t            heartbeat;
    size_t                max_message;
    size_t                send_budget;
    ngx_msec_t            close_timeout;
} ngx_chat_loc_conf_t;


/* Who the request is, once its token has been checked (at most once). */
typedef struct {
    ngx_str_t             user;             /* empty when not authenticated */
    ngx_str_t             device;
    time_t                exp;
    const char           *error;            /* why authentication failed */
    unsigned              resolved:1;
} ngx_chat_identity_t;


typedef struct ngx_chat_conn_s  ngx_chat_conn_t;

struct ngx_chat_conn_s {
    ngx_http_request_t   *request;
    ngx_connection_t     *connection;
    ngx_chat_loc_conf_t  *conf;
    ngx_chat_identity_t   id;
    ngx_str_t             conn_id;

    chat_ws_parser_t      parser;

    /* bytes the client sent with its request head, not parsed yet */
    u_char               *early;
    size_t                early_len;

    /* the text message being reassembled: one heap block, freed after it */
    u_char               *msg;
    size_t                msg_len;
    size_t                msg_cap;

    /* frames waiting for the socket; each link is one ngx_alloc() */
    ngx_chain_t          *out;
    ngx_chain_t         **out_tail;
    size_t                out_bytes;

    /* heartbeat and token expiry; then the close handshake's deadline */
    ngx_event_t           tick;
    ngx_msec_t            last_recv;

    uint16_t              close_code;
    unsigned              subprotocol:1;    /* chat.v1 was selected */
    unsigned              closing:1;        /* a close frame is queued */
    unsigned              close_received:1;
    unsigned              write_shut:1;
    unsigned              finalized:1;
};


extern ngx_module_t  ngx_chat_module;


/* ngx_chat_auth.c */
ngx_int_t ngx_chat_auth_load_key(ngx_conf_t *cf, ngx_chat_loc_conf_t *conf);
ngx_chat_identity_t *ngx_chat_identify(ngx_http_request_t *r);
ngx_int_t ngx_chat_auth_verify(ngx_http_request_t *r, ngx_pool_t *pool,
    ngx_str_t *token, ngx_chat_identity_t *id);

/* ngx_chat_handshake.c */
ngx_int_t ngx_chat_handler(ngx_http_request_t *r);
ngx_int_t ngx_chat_token(ngx_http_request_t *r, ngx_str_t *token);

/* ngx_chat_ws.c */
ngx_int_t ngx_chat_ws_start(ngx_chat_conn_t *cc, ngx_str_t *head,
    u_char *early, size_t early_len);
ngx_int_t ngx_chat_ws_send(ngx_chat_conn_t *cc, ngx_uint_t opcode,
    const u_char *data, size_t len);
ngx_int_t ngx_chat_ws_send_json(ngx_chat_conn_t *cc, json_t *json);
ngx_int_t ngx_chat_ws_send_raw(ngx_chat_conn_t *cc, const u_char *data,
    size_t len);
void ngx_chat_ws_close(ngx_chat_conn_t *cc, uint16_t code,
    const char *reason);
void ngx_chat_ws_rearm_tick(ngx_chat_conn_t *cc);

/* ngx_chat_session.c */
ngx_int_t ngx_chat_session_start(ngx_chat_conn_t *cc);
void ngx_chat_session_message(ngx_chat_conn_t *cc, u_char *text, size_t len);

/* ngx_chat_module.c */
ngx_str_t *ngx_chat_new_conn_id(ngx_pool_t *pool);
int64_t ngx_chat_now_ms(void);


#endif /* NGX_CHAT_MODULE_H */
