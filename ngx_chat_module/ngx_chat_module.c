/*
 * ngx_chat_module: directives, configuration, variables and the worker's
 * start. The WebSocket handshake is in ngx_chat_handshake.c, the token
 * checks in ngx_chat_auth.c, the connection's I/O in ngx_chat_ws.c and the
 * chat protocol in ngx_chat_dispatch.c; the HTTP API's token check
 * (chat_auth) in ngx_chat_api_auth.c, the media files (chat_media) in
 * ngx_chat_media.c and their key (chat_media_key) in ngx_chat_media_key.c.
 */

#include "ngx_chat_module.h"
#include "chat_version.h"

#include <jwt.h>


typedef struct {
    ngx_conf_post_handler_pt  post_handler;
    size_t                    min;
    size_t                    max;
} ngx_chat_size_bounds_t;


static void *ngx_chat_create_main_conf(ngx_conf_t *cf);
static char *ngx_chat_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_chat_redis_addr(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_chat_create_loc_conf(ngx_conf_t *cf);
static char *ngx_chat_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_chat_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_chat_origins(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_chat_check_size(ngx_conf_t *cf, void *post, void *data);
static char *ngx_chat_check_seconds(ngx_conf_t *cf, void *post, void *data);
static char *ngx_chat_check_ttl(ngx_conf_t *cf, void *post, void *data);
static ngx_int_t ngx_chat_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_chat_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_chat_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_chat_device_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_chat_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_chat_init_process(ngx_cycle_t *cycle);
static void ngx_chat_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_chat_jwt_algs[] = {
    { ngx_string("HS256"), JWT_ALG_HS256 },
    { ngx_string("RS256"), JWT_ALG_RS256 },
    { ngx_string("ES256"), JWT_ALG_ES256 },
    { ngx_null_string, 0 }
};

static ngx_chat_size_bounds_t  ngx_chat_max_message_bounds = {
    ngx_chat_check_size, 128, 16 * 1024 * 1024
};

static ngx_chat_size_bounds_t  ngx_chat_send_budget_bounds = {
    ngx_chat_check_size, 4096, 1024 * 1024 * 1024
};

static ngx_chat_size_bounds_t  ngx_chat_jwt_max_length_bounds = {
    ngx_chat_check_size, 64, CHAT_PROTO_MAX_TOKEN
};

static ngx_conf_post_t  ngx_chat_seconds_post = { ngx_chat_check_seconds };

static ngx_conf_post_t  ngx_chat_presence_ttl_post = { ngx_chat_check_ttl };


static ngx_command_t  ngx_chat_commands[] = {

    { ngx_string("chat_kafka_brokers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, kafka_brokers),
      NULL },

    { ngx_string("chat_kafka_topic"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, kafka_topic),
      NULL },

    { ngx_string("chat_kafka_option"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_chat_kafka_option,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, kafka_options),
      NULL },

    { ngx_string("chat_kafka_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, kafka_timeout),
      NULL },

    { ngx_string("chat_kafka_flush_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, kafka_flush_timeout),
      NULL },

    { ngx_string("chat_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_chat_redis_addr,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_redis_cluster"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, redis_cluster),
      NULL },

    { ngx_string("chat_redis_user"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, redis_user),
      NULL },

    { ngx_string("chat_redis_password"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_chat_conf_set_credential_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, redis_password),
      NULL },

    { ngx_string("chat_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, redis_timeout),
      NULL },

    { ngx_string("chat_sync_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, sync_timeout),
      NULL },

    { ngx_string("chat_presence_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, presence_ttl),
      &ngx_chat_presence_ttl_post },

    { ngx_string("chat_presence_grace"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, presence_grace),
      NULL },

    { ngx_string("chat_node_name"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, node_name),
      NULL },

    { ngx_string("chat_registry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, registry),
      NULL },

    { ngx_string("chat_shutdown_spread"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, shutdown_spread),
      NULL },

    { ngx_string("chat_shed_levels"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE5,
      ngx_chat_shed_levels,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_shed_loop_lag"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, shed_loop_lag),
      NULL },

    { ngx_string("chat_shed_redis_backlog"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, shed_redis_backlog),
      NULL },

    { ngx_string("chat_shed_flush"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, shed_flush),
      NULL },

    { ngx_string("chat_media_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_chat_conf_set_credential_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_chat_main_conf_t, media_key),
      NULL },

    { ngx_string("chat_media"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_chat_media,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_chat_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, enable),
      NULL },

    { ngx_string("chat_auth"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, api_auth),
      NULL },

    { ngx_string("chat_jwt_algorithm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, jwt_alg),
      &ngx_chat_jwt_algs },

    { ngx_string("chat_jwt_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_chat_conf_set_credential_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, jwt_secret),
      NULL },

    { ngx_string("chat_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, jwt_key_file),
      NULL },

    { ngx_string("chat_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, jwt_issuer),
      NULL },

    { ngx_string("chat_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, jwt_audience),
      NULL },

    { ngx_string("chat_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, jwt_leeway),
      NULL },

    { ngx_string("chat_jwt_max_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, jwt_max_length),
      &ngx_chat_jwt_max_length_bounds },

    { ngx_string("chat_allowed_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_chat_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_heartbeat"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, heartbeat),
      &ngx_chat_seconds_post },

    { ngx_string("chat_max_message"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, max_message),
      &ngx_chat_max_message_bounds },

    { ngx_string("chat_message_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, message_timeout),
      &ngx_chat_seconds_post },

    { ngx_string("chat_send_budget"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, send_budget),
      &ngx_chat_send_budget_bounds },

    { ngx_string("chat_close_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_loc_conf_t, close_timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_chat_module_ctx = {
    ngx_chat_add_variables,                /* preconfiguration */
    ngx_chat_postconfiguration,            /* postconfiguration */

    ngx_chat_create_main_conf,             /* create main configuration */
    ngx_chat_init_main_conf,               /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_chat_create_loc_conf,              /* create location configuration */
    ngx_chat_merge_loc_conf                /* merge location configuration */
};


ngx_module_t  ngx_chat_module = {
    NGX_MODULE_V1,
    &ngx_chat_module_ctx,                  /* module context */
    ngx_chat_commands,                     /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_chat_init_module,                  /* init module */
    ngx_chat_init_process,                 /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_chat_exit_process,                 /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_chat_vars[] = {

    { ngx_string("chat_user"), NULL, ngx_chat_user_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("chat_device"), NULL, ngx_chat_device_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* This worker's, once a location says "chat on"; NULL until then. */
static ngx_chat_main_conf_t  *ngx_chat_main_conf;


static void *
ngx_chat_create_main_conf(ngx_conf_t *cf)
{
    ngx_chat_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_chat_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cmcf->kafka_brokers = { 0, NULL };
     *     cmcf->kafka_topic = { 0, NULL };
     *     cmcf->redis = NULL;
     *     cmcf->redis_addrs = NULL;
     *     cmcf->redis_user = { 0, NULL };
     *     cmcf->redis_password = { 0, NULL };
     *     cmcf->node_name = { 0, NULL };
     *     cmcf->media_key = { 0, NULL };
     *     cmcf->used = 0;
     *     cmcf->media_used = 0;
     */

    cmcf->kafka_options = NGX_CONF_UNSET_PTR;
    cmcf->kafka_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->kafka_flush_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->redis_cluster = NGX_CONF_UNSET;
    cmcf->sync_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->presence_ttl = NGX_CONF_UNSET_MSEC;
    cmcf->presence_grace = NGX_CONF_UNSET_MSEC;
    cmcf->registry = NGX_CONF_UNSET;
    cmcf->shutdown_spread = NGX_CONF_UNSET_MSEC;
    cmcf->shed_loop_lag = NGX_CONF_UNSET_MSEC;
    cmcf->shed_redis_backlog = NGX_CONF_UNSET_SIZE;
    cmcf->shed_flush = NGX_CONF_UNSET_MSEC;

    return cmcf;
}


static char *
ngx_chat_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_chat_main_conf_t  *cmcf = conf;

    if (cmcf->kafka_topic.len == 0) {
        ngx_str_set(&cmcf->kafka_topic, "chat.writes");
    }

    ngx_conf_init_ptr_value(cmcf->kafka_options, NULL);
    ngx_conf_init_msec_value(cmcf->kafka_timeout, 5000);
    ngx_conf_init_msec_value(cmcf->kafka_flush_timeout, 3000);

    if (ngx_chat_kafka_check(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    ngx_conf_init_msec_value(cmcf->redis_timeout, 1000);
    ngx_conf_init_msec_value(cmcf->sync_timeout, 5000);
    ngx_conf_init_msec_value(cmcf->presence_ttl, 30000);
    ngx_conf_init_msec_value(cmcf->presence_grace, 10000);
    ngx_conf_init_value(cmcf->registry, 1);
    ngx_conf_init_msec_value(cmcf->shutdown_spread, 5000);
    ngx_chat_shed_init_conf(cmcf);

    ngx_conf_init_value(cmcf->redis_cluster, 0);

    if (cmcf->redis_addrs && cmcf->redis_addrs->nelts > 1
        && !cmcf->redis_cluster)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chat_redis\" takes one address, or the seed "
                           "nodes of a Redis Cluster with "
                           "\"chat_redis_cluster on\"");
        return NGX_CONF_ERROR;
    }

    if (cmcf->redis_user.len && cmcf->redis_password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chat_redis_user\" needs "
                           "\"chat_redis_password\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_chat_media_check_conf(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_chat_session_set_init_conf(cf, cmcf);
}


/*
 * chat_redis host:port ...: the one Redis, or the seed nodes of a Redis
 * Cluster (any of them gives the others); resolved here, once, like an
 * upstream server.
 */
static char *
ngx_chat_redis_addr(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_main_conf_t  *cmcf = conf;

    ngx_url_t    u;
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_addr_t  *addr;

    if (cmcf->redis) {
        return "is duplicate";
    }

    value = cf->args->elts;

    cmcf->redis_addrs = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                         sizeof(ngx_addr_t));
    if (cmcf->redis_addrs == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        ngx_memzero(&u, sizeof(ngx_url_t));
        u.url = value[i];
        u.default_port = 6379;

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            if (u.err) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\"",
                                   u.err, &u.url);
            }

            return NGX_CONF_ERROR;
        }

        if (u.naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "no address in \"%V\"",
                               &u.url);
            return NGX_CONF_ERROR;
        }

        addr = ngx_array_push(cmcf->redis_addrs);
        if (addr == NULL) {
            return NGX_CONF_ERROR;
        }

        *addr = u.addrs[0];
    }

    cmcf->redis = cmcf->redis_addrs->elts;

    return NGX_CONF_OK;
}


static void *
ngx_chat_create_loc_conf(ngx_conf_t *cf)
{
    ngx_chat_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_chat_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->jwt_secret = { 0, NULL };
     *     conf->jwt_key_file = { 0, NULL };
     *     conf->jwt_key = { 0, NULL };
     *     conf->jwt_issuer = { 0, NULL };
     *     conf->jwt_audience = { 0, NULL };
     *     conf->allowed_origins = NULL;
     *     conf->media_dir = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->api_auth = NGX_CONF_UNSET;
    conf->jwt_alg = NGX_CONF_UNSET_UINT;
    conf->jwt_leeway = NGX_CONF_UNSET;
    conf->jwt_max_length = NGX_CONF_UNSET_SIZE;
    conf->allowed_origins = NGX_CONF_UNSET_PTR;
    conf->heartbeat = NGX_CONF_UNSET_MSEC;
    conf->max_message = NGX_CONF_UNSET_SIZE;
    conf->message_timeout = NGX_CONF_UNSET_MSEC;
    conf->send_budget = NGX_CONF_UNSET_SIZE;
    conf->close_timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_chat_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_chat_loc_conf_t  *prev = parent;
    ngx_chat_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->api_auth, prev->api_auth, 0);
    ngx_conf_merge_uint_value(conf->jwt_alg, prev->jwt_alg, JWT_ALG_HS256);
    ngx_conf_merge_str_value(conf->jwt_secret, prev->jwt_secret, "");
    ngx_conf_merge_str_value(conf->jwt_issuer, prev->jwt_issuer, "");
    ngx_conf_merge_str_value(conf->jwt_audience, prev->jwt_audience, "");
    ngx_conf_merge_value(conf->jwt_leeway, prev->jwt_leeway, 30);
    ngx_conf_merge_size_value(conf->jwt_max_length, prev->jwt_max_length,
                              4096);
    ngx_conf_merge_ptr_value(conf->allowed_origins, prev->allowed_origins,
                             NULL);
    ngx_conf_merge_msec_value(conf->heartbeat, prev->heartbeat, 30000);
    ngx_conf_merge_size_value(conf->max_message, prev->max_message, 65536);
    ngx_conf_merge_msec_value(conf->message_timeout, prev->message_timeout,
                              10000);
    ngx_conf_merge_size_value(conf->send_budget, prev->send_budget,
                              256 * 1024);
    ngx_conf_merge_msec_value(conf->close_timeout, prev->close_timeout,
                              5000);

    /* a key file named at an outer level is read there, once */
    if (conf->jwt_key_file.data == NULL) {
        conf->jwt_key_file = prev->jwt_key_file;
        conf->jwt_key = prev->jwt_key;
        conf->jwt_key_alg = prev->jwt_key_alg;
    }

    if (ngx_chat_auth_load_key(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->max_message > conf->send_budget) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"chat_send_budget\" (%uz) must not be smaller "
                           "than \"chat_max_message\" (%uz)",
                           conf->send_budget, conf->max_message);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_chat_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_main_conf_t      *cmcf;
    ngx_http_core_loc_conf_t  *clcf;
    char                      *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (((ngx_chat_loc_conf_t *) conf)->enable) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->handler = ngx_chat_handler;

        cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_chat_module);
        cmcf->used = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_chat_origins(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_loc_conf_t  *ccf = conf;
    ngx_str_t            *value, *origin;
    ngx_uint_t            i;

    if (ccf->allowed_origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    ccf->allowed_origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                            sizeof(ngx_str_t));
    if (ccf->allowed_origins == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        /* an origin is "scheme://host[:port]": nothing after the host */
        if (ngx_strlcasestrn(value[i].data, value[i].data + value[i].len,
                             (u_char *) "://", 3 - 1) == NULL
            || value[i].data[value[i].len - 1] == '/')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\", expected "
                               "\"scheme://host[:port]\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        origin = ngx_array_push(ccf->allowed_origins);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        *origin = value[i];
    }

    return NGX_CONF_OK;
}


static char *
ngx_chat_check_size(ngx_conf_t *cf, void *post, void *data)
{
    ngx_chat_size_bounds_t  *b = post;
    size_t                  *sp = data;

    if (*sp < b->min || *sp > b->max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "value \"%uz\" must be between %uz and %uz",
                           *sp, b->min, b->max);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* Instances beat every ttl / 3: a beat more often than 1 s is waste. */
static char *
ngx_chat_check_ttl(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *mp = data;

    if (*mp < 3000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "value \"%M\" ms must be at least 3s", *mp);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* The heartbeat is announced in whole seconds, so it must be one. */
static char *
ngx_chat_check_seconds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *mp = data;

    if (*mp < 1000 || *mp % 1000 != 0 || *mp > 3600 * 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "value \"%M\" ms must be a whole number of "
                           "seconds between 1s and 1h", *mp);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* The phase handlers: the token's redaction, then the API's check. */
static ngx_int_t
ngx_chat_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_chat_redact_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_chat_api_auth_init(cf);
}


static ngx_int_t
ngx_chat_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_chat_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void
ngx_chat_set_variable(ngx_http_variable_value_t *v, ngx_str_t *s)
{
    if (s->len == 0) {
        v->not_found = 1;
        return;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;
}


/*
 * $chat_user: the authenticated user of a chat connection, or, in any other
 * location that has a JWT key configured (an edge tier hashing on it), the
 * subject of the request's valid token.
 */
static ngx_int_t
ngx_chat_user_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_chat_identity_t  *id;

    id = ngx_chat_identify(r);
    if (id == NULL) {
        return NGX_ERROR;
    }

    ngx_chat_set_variable(v, &id->user);

    return NGX_OK;
}


static ngx_int_t
ngx_chat_device_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_chat_identity_t  *id;

    id = ngx_chat_identify(r);
    if (id == NULL) {
        return NGX_ERROR;
    }

    ngx_chat_set_variable(v, &id->device);

    return NGX_OK;
}


/* Once per configuration read (start, reload): which build is running. */
static ngx_int_t
ngx_chat_init_module(ngx_cycle_t *cycle)
{
    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "ngx_chat " CHAT_VERSION);

    return NGX_OK;
}


/*
 * Each worker gets its own Kafka producer and Redis connections, here and
 * never in the master: librdkafka's threads and open sockets do not
 * survive fork(). A configuration where no location says "chat on" gets
 * none of them, nor any timer: merely loaded, the module is inert, and
 * ngx_chat_main_conf stays NULL.
 */
static ngx_int_t
ngx_chat_init_process(ngx_cycle_t *cycle)
{
    ngx_chat_main_conf_t  *cmcf;

    ngx_chat_conn_init_process();

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_chat_module);

    if (cmcf == NULL || !cmcf->used) {
        ngx_chat_main_conf = NULL;
        return NGX_OK;
    }

    ngx_chat_main_conf = cmcf;

    if (ngx_chat_kafka_init(cycle, ngx_chat_main_conf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_chat_writes_init();
    ngx_chat_dispatch_init();

    /* the features register with the pub/sub layer before it connects */
    if (ngx_chat_delivery_init() != NGX_OK
        || ngx_chat_presence_watch_init() != NGX_OK
        || ngx_chat_receipts_init() != NGX_OK
        || ngx_chat_session_set_init(ngx_chat_main_conf) != NGX_OK
        || ngx_chat_presence_init(cycle, ngx_chat_main_conf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_chat_pubsub_init(cmcf->redis_addrs, cmcf->redis_cluster,
                             cmcf->redis_timeout, &cmcf->redis_user,
                             &cmcf->redis_password, cycle->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_chat_shed_init(cycle, ngx_chat_main_conf);
}


static void
ngx_chat_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_chat_main_conf == NULL) {
        return;
    }

    ngx_chat_shed_exit();
    ngx_chat_presence_exit();
    ngx_chat_pubsub_exit();
    ngx_chat_kafka_exit(ngx_chat_main_conf->kafka_flush_timeout);
}
