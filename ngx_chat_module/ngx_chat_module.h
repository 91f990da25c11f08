/*
 * ngx_chat_module: the common header of the module's files.
 *
 * One connection is one ngx_chat_conn_t, one heap block made at the
 * upgrade; once the request is freed (ngx_chat_conn.c) it is the
 * connection's c->data. It is never passed to a library as a pointer.
 */

#ifndef NGX_CHAT_MODULE_H
#define NGX_CHAT_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "chat_ids.h"
#include "chat_keys.h"
#include "chat_media.h"
#include "chat_mid.h"
#include "chat_proto.h"
#include "chat_record.h"
#include "chat_ws_frame.h"
#include "ngx_chat_event.h"
#include "ngx_chat_limit.h"
#include "ngx_chat_pubsub.h"
#include "ngx_chat_redis.h"
#include "ngx_chat_stats.h"



/* The backend, for the whole http block: one producer and two Redis
 * connections per nginx worker. */
typedef struct {
    ngx_str_t             kafka_brokers;
    ngx_str_t             kafka_topic;
    ngx_array_t          *kafka_options;    /* of ngx_keyval_t */
    ngx_msec_t            kafka_timeout;
    ngx_msec_t            kafka_flush_timeout;

    ngx_addr_t           *redis;            /* the first of redis_addrs */
    ngx_array_t          *redis_addrs;      /* of ngx_addr_t */
    ngx_flag_t            redis_cluster;
    ngx_msec_t            redis_timeout;
    ngx_str_t             redis_user;       /* an ACL user, or none */
    ngx_str_t             redis_password;   /* none: no AUTH */

    ngx_msec_t            sync_timeout;

    ngx_msec_t            presence_ttl;
    ngx_msec_t            presence_grace;

    ngx_str_t             node_name;
    ngx_flag_t            registry;

    ngx_msec_t            shutdown_spread;

    /* shedding (ngx_chat_shed.c): where each level starts, the limits */
    ngx_uint_t            shed_levels[5];   /* thousandths; [0] 0: unset */
    ngx_msec_t            shed_loop_lag;
    size_t                shed_redis_backlog;
    ngx_msec_t            shed_flush;

    /* the HMAC key of media URLs (ngx_chat_media_key.c); empty: none */
    ngx_str_t             media_key;

    /* some location says "chat on": without one the module is inert */
    unsigned              used:1;
    unsigned              media_used:1;     /* and some says "chat_media" */
} ngx_chat_main_conf_t;


typedef struct {
    ngx_flag_t            enable;
    ngx_flag_t            api_auth;         /* chat_auth: the token checked */
    ngx_str_t             media_dir;        /* chat_media: full, NUL-ended */

    ngx_uint_t            jwt_alg;          /* a libjwt jwt_alg_t */
    ngx_str_t             jwt_secret;       /* HS256, inline */
    ngx_str_t             jwt_key_file;     /* HS256 secret, or public key */
    ngx_str_t             jwt_key;          /* the file's key for libjwt */
    ngx_uint_t            jwt_key_alg;      /* the algorithm it was read for */
    ngx_str_t             jwt_issuer;
    ngx_str_t             jwt_audience;
    time_t                jwt_leeway;
    size_t                jwt_max_length;

    ngx_array_t          *allowed_origins;  /* of ngx_str_t */

    ngx_msec_t            heartbeat;
    size_t                max_message;
    ngx_msec_t            message_timeout;
    size_t                send_budget;
    ngx_msec_t            close_timeout;
} ngx_chat_loc_conf_t;


typedef struct ngx_chat_conn_s  ngx_chat_conn_t;


/* Who the request is, once its token has been checked (at most once): the
 * module context of the request. */
typedef struct {
    ngx_str_t             user;             /* empty when not authenticated */
    ngx_str_t             device;
    time_t                exp;
    const char           *error;            /* why authentication failed */
    ngx_chat_loc_conf_t  *checked_by;       /* whose rules checked the token */
    ngx_chat_conn_t      *conn;             /* once upgraded */
    ngx_str_t             query_token;      /* ?access_token=, taken out */
    ngx_str_t             media_url;        /* chat_media: as sent, with s= */
    unsigned              resolved:1;
    unsigned              query_taken:1;    /* and redacted in the request */
    unsigned              media_taken:1;    /* s= redacted in the request */
} ngx_chat_identity_t;


typedef struct ngx_chat_user_s  ngx_chat_user_t;
typedef struct ngx_chat_held_s  ngx_chat_held_t;
typedef struct ngx_chat_sync_after_s  ngx_chat_sync_after_t;
typedef struct ngx_chat_receipts_held_s  ngx_chat_receipts_held_t;
typedef struct ngx_chat_order_s  ngx_chat_order_t;


/* A user with connections on this worker (ngx_chat_delivery.c). */
struct ngx_chat_user_s {
    ngx_str_node_t        sn;               /* sn.str: the user id */
    ngx_queue_t           conns;
    ngx_chat_pubsub_sub_t *sub;             /* its channel */

    u_char                name[CHAT_ID_MAX];
};


/* Where the next page of a connection's pending messages starts. */
struct ngx_chat_sync_after_s {
    int64_t               seq;
    size_t                conv_len;
    u_char                conv[CHAT_CONV_MAX];
};


/* A frame for the client, held back until its pending messages are out, or
 * behind a gap in its conversation (ngx_chat_order.c: then seq is its seq,
 * 0 for a receipt). */
struct ngx_chat_held_s {
    ngx_chat_held_t      *next;
    int64_t               seq;
    size_t                len;
    u_char                data[1];
};


/* What a write produced to Kafka waits for: its delivery report. It names
 * its connection by number; the connection may be gone by then. */
typedef enum {
    NGX_CHAT_WRITE_SEND = 1,
    NGX_CHAT_WRITE_RECEIPT,
    NGX_CHAT_WRITE_SYNC,
    NGX_CHAT_WRITE_HISTORY,
    NGX_CHAT_WRITE_CHECKED_SEND,        /* answered by the worker, which
                                           checks what only the store
                                           knows: a group's members, an
                                           upload's id */
    NGX_CHAT_WRITE_GROUP,
    NGX_CHAT_WRITE_CONV_SET,            /* answered by the worker */
    NGX_CHAT_WRITE_GAP                  /* a read for ngx_chat_order.c */
} ngx_chat_write_kind_e;

typedef struct ngx_chat_write_s  ngx_chat_write_t;

/* The write did not reach the log, and its connection is still here. */
typedef void (*ngx_chat_write_failed_pt)(ngx_chat_conn_t *cc,
    ngx_chat_write_t *w);

struct ngx_chat_write_s {
    uint64_t              conn;
    ngx_chat_write_kind_e kind;
    ngx_chat_write_failed_pt failed;        /* NULL: "unavailable" */
    int64_t               ts;
    json_t               *record;           /* the Kafka value, until sent */
    size_t                id_len;
    size_t                conv_len;
    u_char                mid[CHAT_MID_LEN];
    u_char                id[CHAT_CLIENT_ID_MAX];
    u_char                conv[CHAT_CONV_MAX];
};

struct ngx_chat_conn_s {
    ngx_http_request_t   *request;          /* NULL once detached */
    ngx_connection_t     *connection;
    ngx_chat_loc_conf_t  *conf;
    ngx_chat_limit_conn_t limit;
    ngx_pool_cleanup_t   *cleanup;          /* in c->pool: frees this */
    ngx_chat_identity_t   id;               /* its strings: after the struct */
    ngx_str_t             conn_id;          /* this too */

    /* this worker's registry: by number, and in its user's list */
    ngx_rbtree_node_t     node;             /* key: the number */
    ngx_queue_t           user_link;
    ngx_chat_user_t      *user;

    /* live frames held while the pending ones are fetched (sync) */
    ngx_chat_held_t      *held;
    ngx_chat_held_t     **held_tail;
    size_t                held_bytes;
    ngx_msec_t            sync_deadline;
    ngx_uint_t            sync_tries;
    ngx_chat_sync_after_t *sync_after;      /* NULL: from the start */

    /* per conversation: the highest seq sent, frames behind a gap; NULL
     * until the first frame of a conversation (ngx_chat_order.c) */
    ngx_chat_order_t     *order;

    /* presence_sub: links to the users this connection watches */
    ngx_queue_t           watching;
    ngx_uint_t            nwatching;

    /* receipts held back while shedding (ngx_chat_receipts.c) */
    ngx_chat_receipts_held_t *receipts;

    chat_ws_parser_t      parser;

    /* bytes the client sent with its request head, not parsed yet; a heap
     * copy once the request is freed */
    u_char               *early;
    size_t                early_len;

    /* the text message being reassembled: one heap block, freed after it */
    u_char               *msg;
    size_t                msg_len;
    size_t                msg_cap;
    ngx_msec_t            msg_started;      /* its first byte, when msg_open */

    /* frames waiting for the socket; each link is one ngx_alloc() */
    ngx_chain_t          *out;
    ngx_chain_t         **out_tail;
    size_t                out_bytes;

    /* heartbeat and token expiry; then the close handshake's deadline */
    ngx_event_t           tick;
    ngx_msec_t            last_recv;
    ngx_msec_t            last_ping;
    ngx_msec_t            going_at;         /* shutting down: our 1001 */

    int64_t               since;            /* in the session registry */

    uint16_t              close_code;
    unsigned              subprotocol:1;    /* chat.v1 was selected */
    unsigned              closing:1;        /* a close frame is queued */
    unsigned              close_received:1;
    unsigned              write_shut:1;
    unsigned              finalized:1;
    unsigned              registered:1;
    unsigned              syncing:1;
    unsigned              going_away:1;     /* a 1001 is due at going_at */
    unsigned              counted:1;        /* in the connections gauge */
    unsigned              msg_open:1;       /* a frame or message is begun */
};


extern ngx_module_t  ngx_chat_module;

/* The chat configuration of this worker's cycle. */
#define ngx_chat_main_conf_get()                                              \
    ((ngx_chat_main_conf_t *)                                                 \
         ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_chat_module))


/* ngx_chat_identity.c */
ngx_chat_identity_t *ngx_chat_identity_find(ngx_http_request_t *r);
ngx_chat_identity_t *ngx_chat_identity(ngx_http_request_t *r);


/* ngx_chat_auth.c */
ngx_int_t ngx_chat_auth_load_key(ngx_conf_t *cf, ngx_chat_loc_conf_t *conf);
ngx_str_t *ngx_chat_auth_hs256_key(ngx_chat_loc_conf_t *conf);
ngx_chat_identity_t *ngx_chat_identify(ngx_http_request_t *r);
ngx_int_t ngx_chat_auth_verify(ngx_chat_loc_conf_t *conf, ngx_pool_t *pool,
    ngx_str_t *token, ngx_chat_identity_t *id);

/* ngx_chat_api_error.c: the JSON errors of HTTP locations */
ngx_int_t ngx_chat_api_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *name,
    const char *value);
ngx_int_t ngx_chat_response_header(ngx_http_request_t *r, const char *name,
    const char *value);

/* ngx_chat_api_auth.c */
ngx_int_t ngx_chat_api_auth_init(ngx_conf_t *cf);

/* ngx_chat_media_key.c: the key of media URLs, and their checks */
ngx_int_t ngx_chat_media_check_conf(ngx_conf_t *cf,
    ngx_chat_main_conf_t *cmcf);
ngx_int_t ngx_chat_media_verify(chat_str_t url, chat_str_t *id);
chat_media_check_e ngx_chat_media_check(chat_str_t url, chat_str_t *id,
    int64_t *expiry);

/* ngx_chat_media.c: the chat_media location */
char *ngx_chat_media(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* ngx_chat_headers.c: the request headers the handshake looks at */
#define NGX_CHAT_SUBPROTOCOL     "chat.v1"

typedef struct {
    ngx_str_t   key;
    ngx_str_t   version;
    ngx_str_t   origin;
    ngx_str_t   bearer;            /* a "bearer.<jwt>" subprotocol entry */
    unsigned    upgrade_token:1;   /* Connection lists "upgrade" */
    unsigned    chat_v1:1;         /* chat.v1 is offered */
} ngx_chat_ws_headers_t;

void ngx_chat_headers_scan(ngx_http_request_t *r, ngx_chat_ws_headers_t *h);
ngx_int_t ngx_chat_token(ngx_http_request_t *r, ngx_str_t *token);

/* ngx_chat_handshake.c */
ngx_int_t ngx_chat_handler(ngx_http_request_t *r);

/* ngx_chat_credential.c */
char *ngx_chat_conf_set_credential_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_chat_redact.c */
ngx_int_t ngx_chat_redact_init(ngx_conf_t *cf);
ngx_int_t ngx_chat_redact_take(ngx_http_request_t *r);
void ngx_chat_redact_media_url(ngx_http_request_t *r, chat_str_t *url);

/* ngx_chat_conn.c */
ngx_chat_conn_t *ngx_chat_conn_create(ngx_http_request_t *r,
    ngx_chat_identity_t *id);
void ngx_chat_conn_detach_handler(ngx_event_t *ev);
void ngx_chat_conn_detach(ngx_chat_conn_t *cc);
void ngx_chat_conn_close(ngx_chat_conn_t *cc);
void ngx_chat_conn_free(ngx_chat_conn_t *cc);
void ngx_chat_conn_init_process(void);
void ngx_chat_conn_register(ngx_chat_conn_t *cc);
void ngx_chat_conn_unregister(ngx_chat_conn_t *cc);
ngx_chat_conn_t *ngx_chat_conn_find(uint64_t num);

/* ngx_chat_ws.c: the socket. What the layer above it does at each step
 * of a connection it registers once (ngx_chat_ws_handle). */
typedef struct {
    ngx_int_t   (*start)(ngx_chat_conn_t *cc);    /* upgraded: the hello */
    ngx_int_t   (*open)(ngx_chat_conn_t *cc);     /* taken in: registered */
    void        (*message)(ngx_chat_conn_t *cc, u_char *text, size_t len);
    void        (*tick)(ngx_chat_conn_t *cc);     /* its timer, not closing */
    ngx_msec_t  (*next)(ngx_chat_conn_t *cc);     /* ms to its own deadline */
    void        (*heartbeat)(ngx_chat_conn_t *cc);    /* a ping went out */
    void        (*release)(ngx_chat_conn_t *cc);  /* it ends, however */
} ngx_chat_ws_handlers_t;

void ngx_chat_ws_handle(const ngx_chat_ws_handlers_t *handlers);
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
void ngx_chat_ws_finalize(ngx_chat_conn_t *cc);
void ngx_chat_ws_read_handler(ngx_event_t *rev);
void ngx_chat_ws_release(ngx_chat_conn_t *cc);

/* ngx_chat_ws_out.c */
void ngx_chat_ws_queue_close(ngx_chat_conn_t *cc, uint16_t code,
    const char *reason);
void ngx_chat_ws_write_handler(ngx_event_t *wev);
void ngx_chat_ws_flush(ngx_chat_conn_t *cc);
void ngx_chat_ws_free_out(ngx_chat_conn_t *cc);

/* ngx_chat_reply.c */
ngx_int_t ngx_chat_reply(ngx_chat_conn_t *cc, json_t *json);
void ngx_chat_reply_error(ngx_chat_conn_t *cc, chat_str_t *id,
    const char *code, const char *message);

/* ngx_chat_dispatch.c */
void ngx_chat_dispatch_init(void);

/* ngx_chat_writes.c */
void ngx_chat_writes_send(ngx_chat_conn_t *cc, chat_req_t *req);
void ngx_chat_writes_history(ngx_chat_conn_t *cc, chat_req_t *req);
void ngx_chat_writes_group(ngx_chat_conn_t *cc, chat_req_t *req);
void ngx_chat_writes_conv_set(ngx_chat_conn_t *cc, chat_req_t *req);
ngx_chat_write_t *ngx_chat_writes_new(ngx_chat_conn_t *cc,
    ngx_chat_write_kind_e kind, chat_str_t *id);
void ngx_chat_writes_record(ngx_chat_conn_t *cc, ngx_chat_write_t *w,
    chat_record_op_e op, chat_record_t *rec);
void ngx_chat_writes_produce(ngx_chat_write_t *w);
void ngx_chat_writes_failed(ngx_chat_write_t *w);
void ngx_chat_writes_free(ngx_chat_write_t *w);

/* ngx_chat_receipts.c */
ngx_int_t ngx_chat_receipts_init(void);
void ngx_chat_receipts_request(ngx_chat_conn_t *cc, chat_req_t *req);
void ngx_chat_receipts_conn_closed(ngx_chat_conn_t *cc);
ngx_int_t ngx_chat_writes_gap(ngx_chat_conn_t *cc, ngx_str_t *conv,
    int64_t before_seq, ngx_uint_t limit, ngx_uint_t n);
void ngx_chat_writes_init(void);

/* ngx_chat_sync.c */
void ngx_chat_sync_start(ngx_chat_conn_t *cc);
ngx_uint_t ngx_chat_sync_marker(ngx_chat_conn_t *cc, ngx_str_t *frame);
ngx_uint_t ngx_chat_sync_hold(ngx_chat_conn_t *cc, ngx_str_t *frame);
void ngx_chat_sync_done(ngx_chat_conn_t *cc);
ngx_msec_t ngx_chat_sync_next(ngx_chat_conn_t *cc);
void ngx_chat_sync_tick(ngx_chat_conn_t *cc);
void ngx_chat_sync_free(ngx_chat_conn_t *cc);

/* ngx_chat_typing.c */
void ngx_chat_typing(ngx_chat_conn_t *cc, chat_req_t *req);

/* ngx_chat_presence.c */
ngx_int_t ngx_chat_presence_init(ngx_cycle_t *cycle,
    ngx_chat_main_conf_t *cmcf);
void ngx_chat_presence_exit(void);
ngx_uint_t ngx_chat_presence_enabled(void);
void ngx_chat_presence_up(ngx_chat_user_t *u);
void ngx_chat_presence_down(ngx_chat_user_t *u);
ngx_int_t ngx_chat_presence_command(ngx_uint_t key,
    ngx_chat_redis_reply_pt handler, void *data, ngx_uint_t argc,
    ngx_str_t *argv);

/* ngx_chat_presence_watch.c */
ngx_int_t ngx_chat_presence_watch_init(void);
void ngx_chat_presence_sub(ngx_chat_conn_t *cc, chat_req_t *req);
void ngx_chat_presence_unsub(ngx_chat_conn_t *cc, chat_req_t *req);
void ngx_chat_presence_conn_closed(ngx_chat_conn_t *cc);

/* ngx_chat_session_set.c */
char *ngx_chat_session_set_init_conf(ngx_conf_t *cf,
    ngx_chat_main_conf_t *cmcf);
ngx_int_t ngx_chat_session_set_init(ngx_chat_main_conf_t *cmcf);
void ngx_chat_session_set_add(ngx_chat_conn_t *cc);
void ngx_chat_session_set_refresh(ngx_chat_conn_t *cc);
void ngx_chat_session_set_remove(ngx_chat_conn_t *cc);

/* ngx_chat_kafka.c: the producer, one per worker. A record's opaque comes
 * back to the delivery handler (exiting: the worker is flushing at exit);
 * the queued handler runs after each record it queued. */
typedef void (*ngx_chat_kafka_delivered_pt)(void *opaque, ngx_uint_t ok,
    ngx_uint_t exiting);
typedef void (*ngx_chat_kafka_queued_pt)(void);

ngx_int_t ngx_chat_kafka_init(ngx_cycle_t *cycle, ngx_chat_main_conf_t *cmcf);
char *ngx_chat_kafka_option(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_chat_kafka_check(ngx_conf_t *cf, ngx_chat_main_conf_t *cmcf);
ngx_int_t ngx_chat_kafka_available(void);
ngx_int_t ngx_chat_kafka_produce(ngx_str_t *key, char *value, size_t len,
    void *opaque);
void ngx_chat_kafka_exit(ngx_msec_t flush_timeout);
void ngx_chat_kafka_queue(ngx_uint_t *queued, ngx_uint_t *limit);
void ngx_chat_kafka_on_delivery(ngx_chat_kafka_delivered_pt handler);
void ngx_chat_kafka_on_queued(ngx_chat_kafka_queued_pt handler);

/* ngx_chat_order.c */
ngx_int_t ngx_chat_order_deliver(ngx_chat_conn_t *cc, ngx_str_t *frame);
ngx_uint_t ngx_chat_order_answer(ngx_chat_conn_t *cc, ngx_str_t *frame);
void ngx_chat_order_sync_done(ngx_chat_conn_t *cc);
void ngx_chat_order_tick(ngx_chat_conn_t *cc);
ngx_msec_t ngx_chat_order_next(ngx_chat_conn_t *cc);
void ngx_chat_order_free(ngx_chat_conn_t *cc);

/* ngx_chat_delivery.c */
typedef void (*ngx_chat_delivery_user_pt)(ngx_chat_user_t *u);

void ngx_chat_delivery_on_user(ngx_chat_delivery_user_pt up,
    ngx_chat_delivery_user_pt down);
ngx_uint_t ngx_chat_delivery_live(ngx_chat_conn_t *cc);

/* Whether an answer the workers publish to cc's user reaches cc. */
#define ngx_chat_delivery_listening(cc)                                       \
    ngx_chat_pubsub_listening((cc)->user ? (cc)->user->sub : NULL)

ngx_int_t ngx_chat_delivery_init(void);
ngx_int_t ngx_chat_delivery_add(ngx_chat_conn_t *cc);
void ngx_chat_delivery_remove(ngx_chat_conn_t *cc);
ngx_chat_user_t *ngx_chat_delivery_lookup(ngx_str_t *name);
ngx_chat_user_t *ngx_chat_delivery_first(void);
ngx_chat_user_t *ngx_chat_delivery_next(ngx_chat_user_t *u);

/* ngx_chat_shed.c: what each shed level adds, in order */
#define NGX_CHAT_SHED_TYPING       1    /* typing dropped */
#define NGX_CHAT_SHED_PRESENCE     2    /* presence coalesced */
#define NGX_CHAT_SHED_RECEIPTS     3    /* receipts coalesced */
#define NGX_CHAT_SHED_CONNECTIONS  4    /* new connections refused, 503 */
#define NGX_CHAT_SHED_SENDS        5    /* sends answered "unavailable" */

#define NGX_CHAT_SHED_RETRY_AFTER  "5"  /* seconds, for a refused handshake */

/* a low-priority frame is not queued to a socket already this full */
#define ngx_chat_shed_socket_busy(cc)                                         \
    ((cc)->out_bytes > (cc)->conf->send_budget / 2)

/* Lets go what a feature holds while shedding (ngx_chat_shed_on_release). */
typedef void (*ngx_chat_shed_release_pt)(void);

ngx_int_t ngx_chat_shed_on_release(ngx_uint_t level,
    ngx_chat_shed_release_pt handler, ngx_uint_t at_exit);
char *ngx_chat_shed_levels(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
void ngx_chat_shed_init_conf(ngx_chat_main_conf_t *cmcf);
ngx_int_t ngx_chat_shed_init(ngx_cycle_t *cycle, ngx_chat_main_conf_t *cmcf);
void ngx_chat_shed_exit(void);
ngx_uint_t ngx_chat_shed_level(void);
ngx_uint_t ngx_chat_shed_running(void);
void ngx_chat_shed_arm_flush(void);
ngx_uint_t ngx_chat_shed_drop_live(ngx_chat_conn_t *cc, ngx_str_t *frame);



#endif /* NGX_CHAT_MODULE_H */
