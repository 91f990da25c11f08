/*
 * ngx_chat_limit_module: per-user send and typing rates, per-address
 * handshake rates and the per-user device cap, counted in shared-memory
 * zones (ngx_chat_limit_zone.c) so that they hold across every nginx
 * worker of a node; its directives, and the checks the chat code calls.
 *
 * A device is counted at the upgrade and released by a cleanup of the
 * connection's pool (the request is freed right after the upgrade), as
 * limit_conn does with the request's. A zone too full to count fails
 * open. An unchanged zone keeps its counts across a reload.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_limit.h"
#include "ngx_chat_limit_zone.h"
#include "ngx_chat_stats.h"

#include "chat_limit.h"


#define NGX_CHAT_LIMIT_IMPLICIT_SIZE  (16 * 1024 * 1024)


/* One limit of a location; rate 0 is off. */
typedef struct {
    ngx_shm_zone_t         *zone;
    ngx_uint_t              rate;           /* thousandths a second */
    ngx_uint_t              burst;
    ngx_uint_t              flood;          /* sends: times the burst */
} ngx_chat_limit_rate_t;


typedef struct {
    ngx_chat_limit_rate_t   send;
    ngx_chat_limit_rate_t   typing;
    ngx_chat_limit_rate_t   handshake;
    ngx_int_t               max_devices;    /* 0: no cap */
    ngx_shm_zone_t         *devices_zone;
} ngx_chat_limit_loc_conf_t;


typedef struct {
    ngx_shm_zone_t         *default_zone;   /* the first, or the implicit */
} ngx_chat_limit_main_conf_t;


typedef struct {
    ngx_shm_zone_t         *zone;
    uint32_t                hash;
    ngx_str_t               user;
} ngx_chat_limit_cleanup_t;


static ngx_int_t ngx_chat_limit_take(ngx_chat_limit_rate_t *lr,
    ngx_uint_t kind, ngx_str_t *key, ngx_msec_t *wait);
static void ngx_chat_limit_devices_cleanup(void *data);
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
static char *ngx_chat_limit_max_devices(ngx_conf_t *cf, ngx_command_t *cmd,
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

    { ngx_string("chat_max_devices"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_chat_limit_max_devices,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
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
                             &r->connection->addr_text, wait);

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

    rc = ngx_chat_limit_take(&llcf->typing, NGX_CHAT_LIMIT_TYPING, user,
                             &wait);

    if (rc == NGX_BUSY) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_LIMITED_TYPING);
    }

    return rc;
}


/*
 * Rejected sends fill a second bucket of the connection's own, of the
 * send rate and flood times the burst, each by one (unlike a new rate
 * bucket, the first one counts too): flood * burst rejections in a row
 * are answered, the next closes the connection. It drains at the send
 * rate, so a client that backs off as told never fills it.
 */
ngx_int_t
ngx_chat_limit_send(ngx_chat_limit_conn_t *lc, ngx_log_t *log,
    ngx_str_t *user, ngx_msec_t *wait)
{
    uint64_t                    elapsed;
    ngx_int_t                   rc;
    ngx_msec_int_t              d;
    ngx_chat_limit_loc_conf_t  *llcf;

    llcf = lc->loc_conf[ngx_chat_limit_module.ctx_index];

    rc = ngx_chat_limit_take(&llcf->send, NGX_CHAT_LIMIT_SEND, user, wait);

    if (rc != NGX_BUSY) {
        return rc;
    }

    ngx_chat_stat_inc(NGX_CHAT_STAT_LIMITED_SEND);

    /* the connection's flood bucket is made at its first rejection */
    if (!lc->flooded) {
        lc->flooded = 1;
        lc->flood_last = ngx_current_msec;
    }

    d = (ngx_msec_int_t) (ngx_current_msec - lc->flood_last);
    elapsed = d > 0 ? (uint64_t) d : 0;

    if (chat_limit_take(llcf->send.rate, llcf->send.burst * llcf->send.flood,
                        &lc->flood, elapsed)
        != 0)
    {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "chat: user \"%V\" keeps sending past the rate limit",
                      user);
        return NGX_DECLINED;
    }

    lc->flood_last = ngx_current_msec;

    return NGX_BUSY;
}


ngx_int_t
ngx_chat_limit_devices(ngx_http_request_t *r, ngx_pool_t *pool,
    ngx_str_t *user)
{
    uint32_t                    hash;
    ngx_int_t                   rc;
    ngx_pool_cleanup_t         *cln;
    ngx_chat_limit_cleanup_t   *lc;
    ngx_chat_limit_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_chat_limit_module);

    if (llcf->max_devices == 0 || llcf->devices_zone == NULL) {
        return NGX_OK;
    }

    /* first, so that nothing can fail once the count is taken */
    cln = ngx_pool_cleanup_add(pool, sizeof(ngx_chat_limit_cleanup_t)
                                        + user->len);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = NULL;

    rc = ngx_chat_limit_zone_acquire(llcf->devices_zone->data, user,
                                     llcf->max_devices, &hash);

    if (rc == NGX_BUSY) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chat: user \"%V\" is over %i devices", user,
                      llcf->max_devices);
        return NGX_BUSY;
    }

    if (rc != NGX_OK) {
        return NGX_OK;                      /* the zone is full: uncounted */
    }

    lc = cln->data;
    lc->zone = llcf->devices_zone;
    lc->hash = hash;
    lc->user.data = (u_char *) (lc + 1);
    lc->user.len = user->len;
    ngx_memcpy(lc->user.data, user->data, user->len);

    cln->handler = ngx_chat_limit_devices_cleanup;

    return NGX_OK;
}


static void
ngx_chat_limit_devices_cleanup(void *data)
{
    ngx_chat_limit_cleanup_t  *lc = data;

    ngx_chat_limit_zone_release(lc->zone->data, &lc->user, lc->hash);
}


/* One request against a rate limit of a location. */
static ngx_int_t
ngx_chat_limit_take(ngx_chat_limit_rate_t *lr, ngx_uint_t kind,
    ngx_str_t *key, ngx_msec_t *wait)
{
    *wait = 0;

    if (lr->rate == 0 || lr->zone == NULL) {
        return NGX_OK;
    }

    return ngx_chat_limit_zone_take(lr->zone->data, kind, key, lr->rate,
                                    lr->burst, wait);
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
    ngx_chat_limit_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_chat_limit_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->*.zone = NULL;
     *     conf->devices_zone = NULL;
     */

    conf->send.rate = NGX_CONF_UNSET_UINT;
    conf->typing.rate = NGX_CONF_UNSET_UINT;
    conf->handshake.rate = NGX_CONF_UNSET_UINT;
    conf->max_devices = NGX_CONF_UNSET;

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

    if (conf->max_devices == NGX_CONF_UNSET) {
        conf->max_devices = prev->max_devices;
        conf->devices_zone = prev->devices_zone;
    }

    ngx_conf_init_value(conf->max_devices, 8);

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
        || (conf->max_devices
            && ngx_chat_limit_default_zone(cf, &conf->devices_zone)
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


/* chat_max_devices N [zone=name]; 0: no cap */
static char *
ngx_chat_limit_max_devices(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_limit_loc_conf_t  *llcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (llcf->max_devices != NGX_CONF_UNSET) {
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

    llcf->max_devices = n;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    return ngx_chat_limit_zone_arg(cf, &value[2], &llcf->devices_zone);
}
