/*
 * ngx_chat_limit_module: per-user send and typing rates, a per-user budget
 * for every other request (and for the user's handshakes), per-address
 * handshake rates, the per-user device cap and the per-address cap on open
 * connections, counted in shared-memory zones (ngx_chat_limit_zone.c) so
 * that they hold across every nginx worker of a node; its directives, and
 * the checks the chat code calls.
 *
 * A device or an address's connection is counted by a cleanup of the
 * connection's pool, not the request's (the request is freed right after
 * the upgrade, and limit_conn's count with it). A zone too full to count
 * fails open. An unchanged zone keeps its counts across a reload.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_limit.h"
#include "ngx_chat_limit_zone.h"
#include "ngx_chat_stats.h"

#include "chat_limit.h"
#include "chat_limit_cost.h"


#define NGX_CHAT_LIMIT_IMPLICIT_SIZE  (16 * 1024 * 1024)

/*
 * An address at chat_limit_conn_per_addr may try again after this: when
 * one of its connections closes is not known, so the answer is a pause.
 */
#define NGX_CHAT_LIMIT_CONN_RETRY_AFTER  5000

/* A price not set by chat_limit_request_costs. */
#define NGX_CHAT_LIMIT_COST_UNSET  ((uint64_t) -1)


/* One limit of a location; rate 0 is off. */
typedef struct {
    ngx_shm_zone_t         *zone;
    ngx_uint_t              rate;           /* thousandths a second */
    ngx_uint_t              burst;
    ngx_uint_t              flood;          /* sends, requests: x burst */
} ngx_chat_limit_rate_t;


/* A cap on connections of a key (a user, an address); 0 is none. */
typedef struct {
    ngx_int_t               max;
    ngx_shm_zone_t         *zone;
} ngx_chat_limit_cap_t;


typedef struct {
    ngx_chat_limit_rate_t   send;
    ngx_chat_limit_rate_t   typing;
    ngx_chat_limit_rate_t   handshake;
    ngx_chat_limit_rate_t   requests;
    chat_limit_costs_t      costs;
    ngx_chat_limit_cap_t    devices;
    ngx_chat_limit_cap_t    addr_conns;
} ngx_chat_limit_loc_conf_t;


typedef struct {
    ngx_shm_zone_t         *default_zone;   /* the first, or the implicit */
} ngx_chat_limit_main_conf_t;


typedef struct {
    ngx_shm_zone_t         *zone;
    ngx_uint_t              kind;
    uint32_t                hash;
    ngx_str_t               key;
} ngx_chat_limit_cleanup_t;


static ngx_int_t ngx_chat_limit_take(ngx_chat_limit_rate_t *lr,
    ngx_uint_t kind, ngx_str_t *key, ngx_uint_t cost, ngx_msec_t *wait);
static ngx_int_t ngx_chat_limit_flood(ngx_chat_limit_flood_t *flood,
    ngx_chat_limit_rate_t *lr, ngx_uint_t cost);
static ngx_int_t ngx_chat_limit_count(ngx_chat_limit_cap_t *cap,
    ngx_uint_t kind, ngx_pool_t *pool, ngx_str_t *key);
static void ngx_chat_limit_count_cleanup(void *data);
static ngx_shm_zone_t *ngx_chat_limit_add_zone(ngx_conf_t *cf,
    ngx_str_t *name, size_t size);
static void *ngx_chat_limit_create_main_conf(ngx_conf_t *cf);
static void *ngx_chat_limit_create_loc_conf(ngx_conf_t *cf);
static char *ngx_chat_limit_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_chat_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_chat_limit_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_chat_limit_cap(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_chat_limit_costs(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* Which key=value arguments a rate directive takes besides rate=. */
static ngx_uint_t  ngx_chat_limit_with_flood = 1;
static ngx_uint_t  ngx_chat_limit_without_flood = 0;


static ngx_command_t  ngx_chat_limit_commands[] = {

    { ngx_string("chat_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_chat_limit_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_limit_send"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_chat_limit_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_limit_loc_conf_t, send),
      &ngx_chat_limit_with_flood },

    { ngx_string("chat_limit_typing"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_chat_limit_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_limit_loc_conf_t, typing),
      &ngx_chat_limit_without_flood },

    { ngx_string("chat_limit_handshake"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_chat_limit_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_limit_loc_conf_t, handshake),
      &ngx_chat_limit_without_flood },

    { ngx_string("chat_limit_requests"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_chat_limit_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_limit_loc_conf_t, requests),
      &ngx_chat_limit_with_flood },

    { ngx_string("chat_limit_request_costs"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_chat_limit_costs,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_max_devices"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_chat_limit_cap,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_limit_loc_conf_t, devices),
      NULL },

    { ngx_string("chat_limit_conn_per_addr"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_chat_limit_cap,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_chat_limit_loc_conf_t, addr_conns),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_chat_limit_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_chat_limit_create_main_conf,       /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_chat_limit_create_loc_conf,        /* create location configuration */
    ngx_chat_limit_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_chat_limit_module = {
    NGX_MODULE_V1,
    &ngx_chat_limit_module_ctx,            /* module context */
    ngx_chat_limit_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* ---------------------------------------------------------------- checks */

ngx_int_t
ngx_chat_limit_handshake(ngx_http_request_t *r, ngx_msec_t *wait)
{
    ngx_int_t                   rc;
    ngx_chat_limit_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_chat_limit_module);

    rc = ngx_chat_limit_take(&llcf->handshake, NGX_CHAT_LIMIT_HANDSHAKE,
                             &r->connection->addr_text, 1, wait);

    if (rc == NGX_BUSY) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_LIMITED_HANDSHAKE);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chat: handshake rate limit exceeded by \"%V\"",
                      &r->connection->addr_text);
    }

    return rc;
}


ngx_int_t
ngx_chat_limit_typing(ngx_chat_limit_conn_t *lc, ngx_str_t *user)
{
    ngx_int_t                   rc;
    ngx_msec_t                  wait;
    ngx_chat_limit_loc_conf_t  *llcf;

    llcf = lc->loc_conf[ngx_chat_limit_module.ctx_index];

    rc = ngx_chat_limit_take(&llcf->typing, NGX_CHAT_LIMIT_TYPING, user, 1,
                             &wait);

    if (rc == NGX_BUSY) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_LIMITED_TYPING);
    }

    return rc;
}


ngx_int_t
ngx_chat_limit_addr_conns(ngx_http_request_t *r, ngx_msec_t *wait)
{
    ngx_int_t                   rc;
    ngx_chat_limit_loc_conf_t  *llcf;

    *wait = NGX_CHAT_LIMIT_CONN_RETRY_AFTER;
    llcf = ngx_http_get_module_loc_conf(r, ngx_chat_limit_module);

    if (llcf->addr_conns.max == 0) {
        return NGX_OK;
    }

    rc = ngx_chat_limit_count(&llcf->addr_conns, NGX_CHAT_LIMIT_ADDR_CONNS,
                              r->connection->pool, &r->connection->addr_text);

    if (rc == NGX_BUSY) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_LIMITED_ADDR_CONNS);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chat: address \"%V\" is over %i connections",
                      &r->connection->addr_text, llcf->addr_conns.max);
    }

    if (rc == NGX_OK) {
        r->keepalive = 0;
    }

    return rc;
}


ngx_int_t
ngx_chat_limit_connect(ngx_http_request_t *r, ngx_str_t *user,
    ngx_msec_t *wait)
{
    ngx_int_t                   rc;
    ngx_chat_limit_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_chat_limit_module);

    rc = ngx_chat_limit_take(&llcf->requests, NGX_CHAT_LIMIT_REQUESTS, user,
                             llcf->costs.of[CHAT_COST_CONNECT], wait);

    if (rc == NGX_BUSY) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_LIMITED_CONNECT);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chat: user \"%V\" reconnects past the request "
                      "budget", user);
    }

    return rc;
}


ngx_int_t
ngx_chat_limit_send(ngx_chat_limit_conn_t *lc, ngx_log_t *log,
    ngx_str_t *user, ngx_msec_t *wait)
{
    ngx_int_t                   rc;
    ngx_chat_limit_loc_conf_t  *llcf;

    llcf = lc->loc_conf[ngx_chat_limit_module.ctx_index];

    rc = ngx_chat_limit_take(&llcf->send, NGX_CHAT_LIMIT_SEND, user, 1, wait);

    if (rc != NGX_BUSY) {
        return rc;
    }

    ngx_chat_stat_inc(NGX_CHAT_STAT_LIMITED_SEND);

    if (ngx_chat_limit_flood(&lc->send, &llcf->send, 1) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "chat: user \"%V\" keeps sending past the rate limit",
                      user);
        return NGX_DECLINED;
    }

    return NGX_BUSY;
}


ngx_int_t
ngx_chat_limit_request(ngx_chat_limit_conn_t *lc, ngx_log_t *log,
    ngx_str_t *user, chat_req_t *req, ngx_msec_t *wait)
{
    ngx_int_t                   rc;
    ngx_uint_t                  cost;
    ngx_chat_limit_loc_conf_t  *llcf;

    llcf = lc->loc_conf[ngx_chat_limit_module.ctx_index];
    cost = (ngx_uint_t) chat_limit_request_cost(&llcf->costs, req);

    rc = ngx_chat_limit_take(&llcf->requests, NGX_CHAT_LIMIT_REQUESTS, user,
                             cost, wait);

    if (rc != NGX_BUSY) {
        return rc;
    }

    ngx_chat_stat_inc(NGX_CHAT_STAT_LIMITED_REQUEST);

    if (ngx_chat_limit_flood(&lc->requests, &llcf->requests, cost) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "chat: user \"%V\" keeps asking past the request "
                      "budget", user);
        return NGX_DECLINED;
    }

    return NGX_BUSY;
}


/*
 * Rejected requests fill a second bucket of the connection's own, of the
 * limit's rate and flood times its burst, each by its cost (unlike a new
 * rate bucket, the first one counts too): flood * burst rejected in a row
 * are answered, the next closes the connection (NGX_DECLINED). It drains
 * at the limit's rate, so a client that backs off as told never fills it.
 */
static ngx_int_t
ngx_chat_limit_flood(ngx_chat_limit_flood_t *flood, ngx_chat_limit_rate_t *lr,
    ngx_uint_t cost)
{
    uint64_t        elapsed;
    ngx_msec_int_t  d;

    /* the connection's flood bucket is made at its first rejection */
    if (!flood->started) {
        flood->started = 1;
        flood->last = ngx_current_msec;
    }

    d = (ngx_msec_int_t) (ngx_current_msec - flood->last);
    elapsed = d > 0 ? (uint64_t) d : 0;

    if (chat_limit_take_n(lr->rate, lr->burst * lr->flood, cost,
                          &flood->excess, elapsed)
        != 0)
    {
        return NGX_DECLINED;
    }

    flood->last = ngx_current_msec;

    return NGX_OK;
}


ngx_int_t
ngx_chat_limit_devices(ngx_http_request_t *r, ngx_pool_t *pool,
    ngx_str_t *user)
{
    ngx_int_t                   rc;
    ngx_chat_limit_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_chat_limit_module);

    rc = ngx_chat_limit_count(&llcf->devices, NGX_CHAT_LIMIT_DEVICES, pool,
                              user);

    if (rc == NGX_BUSY) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chat: user \"%V\" is over %i devices", user,
                      llcf->devices.max);
    }

    return rc;
}


/*
 * One more connection of key against a cap, counted until pool goes:
 * NGX_OK (also when there is no cap, or the zone is full), NGX_BUSY (at
 * the cap, not counted) or NGX_ERROR.
 */
static ngx_int_t
ngx_chat_limit_count(ngx_chat_limit_cap_t *cap, ngx_uint_t kind,
    ngx_pool_t *pool, ngx_str_t *key)
{
    uint32_t                   hash;
    ngx_int_t                  rc;
    ngx_pool_cleanup_t        *cln;
    ngx_chat_limit_cleanup_t  *lc;

    if (cap->max == 0 || cap->zone == NULL) {
        return NGX_OK;
    }

    /* first, so that nothing can fail once the count is taken */
    cln = ngx_pool_cleanup_add(pool, sizeof(ngx_chat_limit_cleanup_t)
                                        + key->len);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = NULL;

    rc = ngx_chat_limit_zone_acquire(cap->zone->data, kind, key, cap->max,
                                     &hash);

    if (rc == NGX_BUSY) {
        return NGX_BUSY;
    }

    if (rc != NGX_OK) {
        return NGX_OK;                      /* the zone is full: uncounted */
    }

    lc = cln->data;
    lc->zone = cap->zone;
    lc->kind = kind;
    lc->hash = hash;
    lc->key.data = (u_char *) (lc + 1);
    lc->key.len = key->len;
    ngx_memcpy(lc->key.data, key->data, key->len);

    cln->handler = ngx_chat_limit_count_cleanup;

    return NGX_OK;
}


static void
ngx_chat_limit_count_cleanup(void *data)
{
    ngx_chat_limit_cleanup_t  *lc = data;

    ngx_chat_limit_zone_release(lc->zone->data, lc->kind, &lc->key,
                                lc->hash);
}


/* A request of cost against a rate limit of a location; 0 is free. */
static ngx_int_t
ngx_chat_limit_take(ngx_chat_limit_rate_t *lr, ngx_uint_t kind,
    ngx_str_t *key, ngx_uint_t cost, ngx_msec_t *wait)
{
    *wait = 0;

    if (lr->rate == 0 || lr->zone == NULL || cost == 0) {
        return NGX_OK;
    }

    return ngx_chat_limit_zone_take(lr->zone->data, kind, key, lr->rate,
                                    lr->burst, cost, wait);
}


/* ---------------------------------------------------------------- conf */

/* A zone by name: size 0 refers to one declared anywhere in http{}. */
static ngx_shm_zone_t *
ngx_chat_limit_add_zone(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_shm_zone_t         *shm_zone;
    ngx_chat_limit_zone_t  *ctx;

    shm_zone = ngx_shared_memory_add(cf, name, size, &ngx_chat_limit_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data == NULL) {
        ctx = ngx_pcalloc(cf->pool, sizeof(ngx_chat_limit_zone_t));
        if (ctx == NULL) {
            return NULL;
        }

        shm_zone->init = ngx_chat_limit_zone_init;
        shm_zone->data = ctx;
    }

    return shm_zone;
}


static void *
ngx_chat_limit_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     lmcf->default_zone = NULL;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_chat_limit_main_conf_t));
}


static void *
ngx_chat_limit_create_loc_conf(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_chat_limit_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_chat_limit_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->*.zone = NULL;
     */

    conf->send.rate = NGX_CONF_UNSET_UINT;
    conf->typing.rate = NGX_CONF_UNSET_UINT;
    conf->handshake.rate = NGX_CONF_UNSET_UINT;
    conf->requests.rate = NGX_CONF_UNSET_UINT;
    conf->devices.max = NGX_CONF_UNSET;
    conf->addr_conns.max = NGX_CONF_UNSET;

    for (i = 0; i < CHAT_COST_N; i++) {
        conf->costs.of[i] = NGX_CHAT_LIMIT_COST_UNSET;
    }

    return conf;
}


static void
ngx_chat_limit_merge_rate(ngx_chat_limit_rate_t *conf,
    ngx_chat_limit_rate_t *prev, ngx_uint_t rate, ngx_uint_t burst,
    ngx_uint_t flood)
{
    if (conf->rate != NGX_CONF_UNSET_UINT) {
        return;
    }

    if (prev->rate != NGX_CONF_UNSET_UINT) {
        *conf = *prev;
        return;
    }

    conf->rate = rate;
    conf->burst = burst;
    conf->flood = flood;
}


static void
ngx_chat_limit_merge_cap(ngx_chat_limit_cap_t *conf,
    ngx_chat_limit_cap_t *prev, ngx_int_t max)
{
    if (conf->max == NGX_CONF_UNSET) {
        *conf = *prev;
    }

    ngx_conf_init_value(conf->max, max);
}


/* Each price on its own: one set in a location, the others inherited. */
static void
ngx_chat_limit_merge_costs(chat_limit_costs_t *conf, chat_limit_costs_t *prev)
{
    ngx_uint_t          i;
    chat_limit_costs_t  defaults;

    chat_limit_costs_default(&defaults);

    for (i = 0; i < CHAT_COST_N; i++) {
        if (conf->of[i] == NGX_CHAT_LIMIT_COST_UNSET) {
            conf->of[i] = prev->of[i];
        }

        if (conf->of[i] == NGX_CHAT_LIMIT_COST_UNSET) {
            conf->of[i] = defaults.of[i];
        }
    }
}


/* A limit that is on, in a chat location, without a zone: the default. */
static char *
ngx_chat_limit_default_zone(ngx_conf_t *cf, ngx_shm_zone_t **zone)
{
    ngx_str_t                    name;
    ngx_chat_limit_main_conf_t  *lmcf;

    if (*zone) {
        return NGX_CONF_OK;
    }

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_chat_limit_module);

    if (lmcf->default_zone == NULL) {
        ngx_str_set(&name, "chat_limits");

        lmcf->default_zone = ngx_chat_limit_add_zone(cf, &name,
                                              NGX_CHAT_LIMIT_IMPLICIT_SIZE);
        if (lmcf->default_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    *zone = lmcf->default_zone;

    return NGX_CONF_OK;
}


static char *
ngx_chat_limit_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_chat_limit_loc_conf_t  *prev = parent;
    ngx_chat_limit_loc_conf_t  *conf = child;

    ngx_chat_loc_conf_t  *ccf;

    /* the defaults: README.md, "Rate limits and the device cap" */
    ngx_chat_limit_merge_rate(&conf->send, &prev->send, 20000, 40, 4);
    ngx_chat_limit_merge_rate(&conf->typing, &prev->typing, 2000, 4, 0);
    ngx_chat_limit_merge_rate(&conf->handshake, &prev->handshake, 0, 0, 0);
    ngx_chat_limit_merge_rate(&conf->requests, &prev->requests, 500000, 2000,
                              4);
    ngx_chat_limit_merge_costs(&conf->costs, &prev->costs);
    ngx_chat_limit_merge_cap(&conf->devices, &prev->devices, 8);
    ngx_chat_limit_merge_cap(&conf->addr_conns, &prev->addr_conns, 0);

    ccf = ngx_http_conf_get_module_loc_conf(cf, ngx_chat_module);

    if (ccf->enable != 1) {
        return NGX_CONF_OK;
    }

    if ((conf->send.rate
         && ngx_chat_limit_default_zone(cf, &conf->send.zone) != NGX_CONF_OK)
        || (conf->typing.rate
            && ngx_chat_limit_default_zone(cf, &conf->typing.zone)
               != NGX_CONF_OK)
        || (conf->handshake.rate
            && ngx_chat_limit_default_zone(cf, &conf->handshake.zone)
               != NGX_CONF_OK)
        || (conf->requests.rate
            && ngx_chat_limit_default_zone(cf, &conf->requests.zone)
               != NGX_CONF_OK)
        || (conf->devices.max
            && ngx_chat_limit_default_zone(cf, &conf->devices.zone)
               != NGX_CONF_OK)
        || (conf->addr_conns.max
            && ngx_chat_limit_default_zone(cf, &conf->addr_conns.zone)
               != NGX_CONF_OK))
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* chat_limit_zone zone=name:size; the first one is every limit's default */
static char *
ngx_chat_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_limit_main_conf_t  *lmcf = conf;

    u_char          *p;
    ssize_t          size;
    ngx_str_t       *value, name, s;
    ngx_shm_zone_t  *shm_zone;

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0) {
        goto invalid;
    }

    name.data = value[1].data + 5;
    p = (u_char *) ngx_strchr(name.data, ':');

    if (p == NULL || p == name.data) {
        goto invalid;
    }

    name.len = p - name.data;
    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        goto invalid;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_chat_limit_add_zone(cf, &name, size);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lmcf->default_zone == NULL) {
        lmcf->default_zone = shm_zone;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%V\", expected \"zone=name:size\"",
                       &value[1]);
    return NGX_CONF_ERROR;
}


/* A "zone=name" argument: a zone declared anywhere with chat_limit_zone. */
static char *
ngx_chat_limit_zone_arg(ngx_conf_t *cf, ngx_str_t *arg, ngx_shm_zone_t **zone)
{
    ngx_str_t  name;

    name.data = arg->data + 5;
    name.len = arg->len - 5;

    if (name.len == 0) {
        return "has an empty zone name";
    }

    *zone = ngx_chat_limit_add_zone(cf, &name, 0);

    return *zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* off | rate=Nr/s|Nr/m [burst=N] [flood=N] [zone=name] */
static char *
ngx_chat_limit_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_limit_rate_t  *lr;

    char        *rv;
    uint64_t     rate;
    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i, *flood_ok;

    lr = (ngx_chat_limit_rate_t *) ((char *) conf + cmd->offset);
    flood_ok = cmd->post;

    if (lr->rate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        lr->rate = 0;
        return NGX_CONF_OK;
    }

    lr->rate = 0;
    lr->burst = 0;
    lr->flood = 4;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
            if (chat_limit_parse_rate((char *) value[i].data + 5,
                                      value[i].len - 5, &rate)
                != 0)
            {
                goto invalid;
            }

            lr->rate = rate;
            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n == NGX_ERROR || n > CHAT_LIMIT_MAX_BURST) {
                goto invalid;
            }

            lr->burst = n;
            continue;
        }

        if (*flood_ok && ngx_strncmp(value[i].data, "flood=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n == NGX_ERROR || n < 1 || n > 1000) {
                goto invalid;
            }

            lr->flood = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            rv = ngx_chat_limit_zone_arg(cf, &value[i], &lr->zone);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        goto invalid;
    }

    if (lr->rate == 0) {
        return "needs rate=";
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);
    return NGX_CONF_ERROR;
}


/* chat_max_devices, chat_limit_conn_per_addr: N [zone=name]; 0: no cap */
static char *
ngx_chat_limit_cap(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_limit_cap_t  *cap;

    ngx_int_t   n;
    ngx_str_t  *value;

    cap = (ngx_chat_limit_cap_t *) ((char *) conf + cmd->offset);

    if (cap->max != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n > 65535) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number \"%V\", expected 0 to 65535",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    cap->max = n;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    return ngx_chat_limit_zone_arg(cf, &value[2], &cap->zone);
}


/* chat_limit_request_costs name=N ...; the prices not named are kept */
static char *
ngx_chat_limit_costs(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_limit_loc_conf_t  *llcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (chat_limit_costs_parse(&llcf->costs, (char *) value[i].data,
                                   value[i].len)
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected "
                               "ping|auth|receipt|history|presence|connect"
                               "=0..%d", &value[i], CHAT_LIMIT_MAX_COST);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}
