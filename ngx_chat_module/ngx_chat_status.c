/*
 * ngx_chat_status_module: the chat_status location, the operators' view of
 * every nginx worker's counters in Prometheus text format.
 *
 * The counters live in a shared-memory zone of slots, one per running
 * worker (ngx_chat_stats.h). A worker claims a free slot at start, or the
 * slot of a worker that died, and keeps its counters going: a respawned or
 * reloaded worker continues where its predecessor stopped, so counters only
 * ever grow. Gauges are the worker's own and count only while it runs.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_stats.h"
#include "chat_version.h"


/* Enough for the old and the new workers of a reload on big machines. */
#define NGX_CHAT_STATS_SLOTS  256


typedef struct {
    ngx_chat_stats_slot_t  slot[NGX_CHAT_STATS_SLOTS];
} ngx_chat_stats_shm_t;


typedef struct {
    ngx_shm_zone_t        *zone;            /* NULL: no chat_status */
} ngx_chat_status_main_conf_t;


/* How one line of the output is made: a counter or gauge, and its label. */
typedef enum {
    NGX_CHAT_METRIC_COUNTER,
    NGX_CHAT_METRIC_GAUGE_SUM,
    NGX_CHAT_METRIC_GAUGE_MAX
} ngx_chat_metric_kind_e;

typedef struct {
    const char              *name;          /* NULL: same family as above */
    const char              *help;
    ngx_chat_metric_kind_e   kind;
    const char              *label;         /* 'name="value"' or NULL */
    ngx_uint_t               index;
    ngx_uint_t               divisor;       /* ms to seconds: 1000 */
} ngx_chat_metric_t;


static void *ngx_chat_status_create_main_conf(ngx_conf_t *cf);
static char *ngx_chat_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_chat_status_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_chat_status_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_chat_status_live(ngx_chat_stats_slot_t *slot);
static u_char *ngx_chat_status_metric(u_char *p, ngx_chat_metric_t *m);
static size_t ngx_chat_status_nodes_size(void);
static u_char *ngx_chat_status_nodes(u_char *p);
static u_char *ngx_chat_status_latency(u_char *p);
static ngx_int_t ngx_chat_status_init_process(ngx_cycle_t *cycle);
static void ngx_chat_status_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_chat_status_commands[] = {

    { ngx_string("chat_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_chat_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_chat_status_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_chat_status_create_main_conf,      /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_chat_status_module = {
    NGX_MODULE_V1,
    &ngx_chat_status_module_ctx,           /* module context */
    ngx_chat_status_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_chat_status_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_chat_status_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_chat_metric_t  ngx_chat_metrics[] = {

    { "chat_connections", "Open chat WebSocket connections.",
      NGX_CHAT_METRIC_GAUGE_SUM, NULL, NGX_CHAT_GAUGE_CONNECTIONS, 0 },
    { "chat_users", "Users with at least one connection, per worker, summed.",
      NGX_CHAT_METRIC_GAUGE_SUM, NULL, NGX_CHAT_GAUGE_USERS, 0 },

    { "chat_handshakes_total", "WebSocket handshakes by HTTP status.",
      NGX_CHAT_METRIC_COUNTER, "status=\"101\"", NGX_CHAT_STAT_HANDSHAKES, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "status=\"400\"",
      NGX_CHAT_STAT_REFUSED_400, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "status=\"401\"",
      NGX_CHAT_STAT_REFUSED_401, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "status=\"403\"",
      NGX_CHAT_STAT_REFUSED_403, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "status=\"429\"",
      NGX_CHAT_STAT_REFUSED_429, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "status=\"503\"",
      NGX_CHAT_STAT_REFUSED_503, 0 },

    { "chat_frames_total", "Text messages from clients (in) and frames "
      "queued to clients (out).",
      NGX_CHAT_METRIC_COUNTER, "direction=\"in\"", NGX_CHAT_STAT_FRAMES_IN, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "direction=\"out\"",
      NGX_CHAT_STAT_FRAMES_OUT, 0 },
    { "chat_bytes_total", "Payload bytes of those frames.",
      NGX_CHAT_METRIC_COUNTER, "direction=\"in\"", NGX_CHAT_STAT_BYTES_IN, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "direction=\"out\"",
      NGX_CHAT_STAT_BYTES_OUT, 0 },

    { "chat_messages_total", "Send requests produced to Kafka, answered "
      "sent, and frames delivered from Redis to sockets.",
      NGX_CHAT_METRIC_COUNTER, "stage=\"produced\"", NGX_CHAT_STAT_SENDS, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "stage=\"sent\"",
      NGX_CHAT_STAT_SENT, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "stage=\"delivered\"",
      NGX_CHAT_STAT_DELIVERED, 0 },

    { "chat_errors_total", "Error frames sent to clients, by code.",
      NGX_CHAT_METRIC_COUNTER, "code=\"bad_request\"",
      NGX_CHAT_STAT_ERR_BAD_REQUEST, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"too_large\"",
      NGX_CHAT_STAT_ERR_TOO_LARGE, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"forbidden\"",
      NGX_CHAT_STAT_ERR_FORBIDDEN, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"not_found\"",
      NGX_CHAT_STAT_ERR_NOT_FOUND, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"rate_limited\"",
      NGX_CHAT_STAT_ERR_RATE_LIMITED, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"unavailable\"",
      NGX_CHAT_STAT_ERR_UNAVAILABLE, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"internal\"",
      NGX_CHAT_STAT_ERR_INTERNAL, 0 },

    { "chat_closes_total", "Close frames the server sent, by code.",
      NGX_CHAT_METRIC_COUNTER, "code=\"1000\"", NGX_CHAT_STAT_CLOSE_1000, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"1001\"",
      NGX_CHAT_STAT_CLOSE_1001, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"1002\"",
      NGX_CHAT_STAT_CLOSE_1002, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"1003\"",
      NGX_CHAT_STAT_CLOSE_1003, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"1007\"",
      NGX_CHAT_STAT_CLOSE_1007, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"1008\"",
      NGX_CHAT_STAT_CLOSE_1008, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"1009\"",
      NGX_CHAT_STAT_CLOSE_1009, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"1011\"",
      NGX_CHAT_STAT_CLOSE_1011, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"4401\"",
      NGX_CHAT_STAT_CLOSE_4401, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "code=\"other\"",
      NGX_CHAT_STAT_CLOSE_OTHER, 0 },

    { "chat_rate_limited_total", "Requests over a rate limit, by limit.",
      NGX_CHAT_METRIC_COUNTER, "limit=\"send\"",
      NGX_CHAT_STAT_LIMITED_SEND, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "limit=\"typing\"",
      NGX_CHAT_STAT_LIMITED_TYPING, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "limit=\"handshake\"",
      NGX_CHAT_STAT_LIMITED_HANDSHAKE, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "limit=\"requests\"",
      NGX_CHAT_STAT_LIMITED_REQUEST, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "limit=\"connect\"",
      NGX_CHAT_STAT_LIMITED_CONNECT, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "limit=\"conn_per_addr\"",
      NGX_CHAT_STAT_LIMITED_ADDR_CONNS, 0 },
    { "chat_policy_closed_total", "Connections closed 1008, by reason.",
      NGX_CHAT_METRIC_COUNTER, "reason=\"flood\"",
      NGX_CHAT_STAT_FLOOD_CLOSED, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "reason=\"devices\"",
      NGX_CHAT_STAT_DEVICES_CLOSED, 0 },

    { "chat_shed_total", "Work shed under pressure, by level.",
      NGX_CHAT_METRIC_COUNTER, "level=\"typing\"",
      NGX_CHAT_STAT_SHED_TYPING, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "level=\"presence\"",
      NGX_CHAT_STAT_SHED_PRESENCE, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "level=\"receipts\"",
      NGX_CHAT_STAT_SHED_RECEIPTS, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "level=\"connections\"",
      NGX_CHAT_STAT_SHED_CONNECTIONS, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "level=\"sends\"",
      NGX_CHAT_STAT_SHED_SENDS, 0 },
    { "chat_shed_level", "The highest shed level of any worker (0-5).",
      NGX_CHAT_METRIC_GAUGE_MAX, NULL, NGX_CHAT_GAUGE_SHED_LEVEL, 0 },
    { "chat_loop_lag_seconds", "The largest event loop lag of any worker.",
      NGX_CHAT_METRIC_GAUGE_MAX, NULL, NGX_CHAT_GAUGE_LOOP_LAG, 1000 },

    { "chat_kafka_writes_total", "Writes produced to Kafka, and their "
      "delivery reports.",
      NGX_CHAT_METRIC_COUNTER, "result=\"produced\"",
      NGX_CHAT_STAT_KAFKA_PRODUCED, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "result=\"delivered\"",
      NGX_CHAT_STAT_KAFKA_DELIVERED, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "result=\"failed\"",
      NGX_CHAT_STAT_KAFKA_FAILED, 0 },
    { "chat_kafka_queue", "Writes in the producers' queues, not yet "
      "delivered.",
      NGX_CHAT_METRIC_GAUGE_SUM, NULL, NGX_CHAT_GAUGE_KAFKA_QUEUE, 0 },

    { "chat_redis_reconnects_total", "Redis connections re-established.",
      NGX_CHAT_METRIC_COUNTER, NULL, NGX_CHAT_STAT_REDIS_RECONNECTS, 0 },
    { "chat_redis_cluster_redirects_total", "Redis Cluster answers "
      "followed: MOVED, ASK, or TRYAGAIN and the like (sent again later).",
      NGX_CHAT_METRIC_COUNTER, "kind=\"moved\"", NGX_CHAT_STAT_REDIS_MOVED,
      0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "kind=\"ask\"",
      NGX_CHAT_STAT_REDIS_ASK, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "kind=\"tryagain\"",
      NGX_CHAT_STAT_REDIS_TRYAGAIN, 0 },
    { "chat_redis_cluster_map_changes_total", "Redis Cluster slot maps "
      "read with another master (failovers, reshards).",
      NGX_CHAT_METRIC_COUNTER, NULL, NGX_CHAT_STAT_REDIS_MAP_CHANGES, 0 },
    { "chat_redis_cluster_masters", "Redis Cluster masters in the slot map.",
      NGX_CHAT_METRIC_GAUGE_MAX, NULL, NGX_CHAT_GAUGE_REDIS_MASTERS, 0 },
    { "chat_redis_cluster_connections_down", "Connections to Redis Cluster "
      "masters (command and subscriber, every worker) not up now.",
      NGX_CHAT_METRIC_GAUGE_SUM, NULL, NGX_CHAT_GAUGE_REDIS_CONNS_DOWN, 0 },

    { "chat_order_total", "Frames of a conversation a connection was sent "
      "already (dropped), gaps it waited for, gaps it gave up on (re-sync).",
      NGX_CHAT_METRIC_COUNTER, "event=\"repeat\"",
      NGX_CHAT_STAT_ORDER_REPEATS, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "event=\"gap\"",
      NGX_CHAT_STAT_ORDER_GAPS, 0 },
    { NULL, NULL, NGX_CHAT_METRIC_COUNTER, "event=\"resync\"",
      NGX_CHAT_STAT_ORDER_RESYNCS, 0 },
    { "chat_sync_requests_total", "Pages of pending messages asked for: "
      "one per connection when its channel is (again) subscribed, more "
      "for more pages or a request left unanswered.",
      NGX_CHAT_METRIC_COUNTER, NULL, NGX_CHAT_STAT_SYNCS, 0 },
    { "chat_redis_backlog_bytes", "Bytes not yet written to Redis.",
      NGX_CHAT_METRIC_GAUGE_SUM, NULL, NGX_CHAT_GAUGE_REDIS_BACKLOG, 0 },
    { "chat_send_queue_bytes", "Bytes queued to client sockets.",
      NGX_CHAT_METRIC_GAUGE_SUM, NULL, NGX_CHAT_GAUGE_SEND_QUEUED, 0 },
};

#define NGX_CHAT_NMETRICS                                                     \
    (sizeof(ngx_chat_metrics) / sizeof(ngx_chat_metric_t))


static ngx_chat_stats_shm_t  *ngx_chat_status_shm;     /* of this cycle */


static void *
ngx_chat_status_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_chat_status_main_conf_t));
}


/*
 * The zone is added once, by the first chat_status location: a
 * configuration without one does not count at all.
 */
static char *
ngx_chat_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                     name;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_chat_status_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_chat_status_module);

    if (smcf->zone == NULL) {
        ngx_str_set(&name, "ngx_chat_status");

        smcf->zone = ngx_shared_memory_add(cf, &name,
                                           sizeof(ngx_chat_stats_shm_t)
                                           + 64 * 1024,
                                           &ngx_chat_status_module);
        if (smcf->zone == NULL) {
            return NGX_CONF_ERROR;
        }

        smcf->zone->init = ngx_chat_status_init_zone;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_chat_status_handler;

    return NGX_CONF_OK;
}


/* A reload keeps the old zone, and with it every counter. */
static ngx_int_t
ngx_chat_status_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    shm_zone->data = ngx_slab_calloc(shpool, sizeof(ngx_chat_stats_shm_t));
    if (shm_zone->data == NULL) {
        return NGX_ERROR;
    }

    shpool->data = shm_zone->data;

    return NGX_OK;
}


/*
 * A slot is free (pid 0) or was left by a worker that died without its
 * exit hook. Either is taken with a compare-and-swap on its pid, so two
 * starting workers never share one.
 */
static ngx_int_t
ngx_chat_status_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i, pass;
    ngx_atomic_uint_t             pid;
    ngx_chat_stats_shm_t         *shm;
    ngx_chat_stats_slot_t        *slot;
    ngx_chat_status_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_chat_status_module);

    if (smcf == NULL || smcf->zone == NULL
        || (ngx_process != NGX_PROCESS_WORKER
            && ngx_process != NGX_PROCESS_SINGLE))
    {
        return NGX_OK;
    }

    shm = smcf->zone->data;
    ngx_chat_status_shm = shm;

    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < NGX_CHAT_STATS_SLOTS; i++) {
            slot = &shm->slot[i];
            pid = slot->pid;

            if (pass == 0 ? pid != 0 : ngx_chat_status_live(slot)) {
                continue;
            }

            if (ngx_atomic_cmp_set(&slot->pid, pid,
                                   (ngx_atomic_uint_t) ngx_pid))
            {
                ngx_memzero((void *) slot->gauge, sizeof(slot->gauge));
                ngx_chat_stats = slot;
                return NGX_OK;
            }
        }
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "chat: no free chat_status slot, this worker is not counted");

    return NGX_OK;
}


static void
ngx_chat_status_exit_process(ngx_cycle_t *cycle)
{
    ngx_chat_stats_slot_t  *slot;

    slot = ngx_chat_stats;

    if (slot == NULL) {
        return;
    }

    ngx_chat_stats = NULL;
    ngx_memzero((void *) slot->gauge, sizeof(slot->gauge));
    ngx_memory_barrier();
    slot->pid = 0;
}


/* A slot's worker still runs: its gauges count. */
static ngx_uint_t
ngx_chat_status_live(ngx_chat_stats_slot_t *slot)
{
    ngx_pid_t  pid;

    pid = (ngx_pid_t) slot->pid;

    if (pid == 0) {
        return 0;
    }

    return pid == ngx_pid || kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH;
}


static ngx_int_t
ngx_chat_status_handler(ngx_http_request_t *r)
{
    u_char             *p;
    size_t              size;
    ngx_int_t           rc;
    ngx_buf_t          *b;
    ngx_chain_t         out;
    ngx_chat_metric_t  *m;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_chat_status_shm == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    /* every line is well under 256 bytes with its HELP and TYPE */
    size = (1 + NGX_CHAT_NMETRICS + NGX_CHAT_LATENCY_N + 8) * 256
           + ngx_chat_status_nodes_size();

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* Prometheus' convention for what is running: a constant 1, labelled */
    p = ngx_sprintf(b->last, "# HELP chat_build_info The ngx_chat version "
                    "of this module.\n# TYPE chat_build_info gauge\n"
                    "chat_build_info{version=\"" CHAT_VERSION "\"} 1\n");

    for (m = ngx_chat_metrics; m < ngx_chat_metrics + NGX_CHAT_NMETRICS; m++) {
        p = ngx_chat_status_metric(p, m);
    }

    p = ngx_chat_status_latency(p);
    p = ngx_chat_status_nodes(p);
    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * One line, after its family's HELP and TYPE when it starts a family; the
 * lines that follow without a name belong to the same family.
 */
static u_char *
ngx_chat_status_metric(u_char *p, ngx_chat_metric_t *m)
{
    static const char     *family;
    ngx_uint_t             i;
    ngx_atomic_int_t       v, sum;
    ngx_chat_stats_slot_t  *slot;

    if (m->name) {
        family = m->name;
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n", family, m->help,
                        family, m->kind == NGX_CHAT_METRIC_COUNTER
                                ? "counter" : "gauge");
    }

    sum = 0;

    for (i = 0; i < NGX_CHAT_STATS_SLOTS; i++) {
        slot = &ngx_chat_status_shm->slot[i];

        if (m->kind == NGX_CHAT_METRIC_COUNTER) {
            sum += (ngx_atomic_int_t) slot->counter[m->index];
            continue;
        }

        if (!ngx_chat_status_live(slot)) {
            continue;
        }

        v = slot->gauge[m->index];

        if (m->kind == NGX_CHAT_METRIC_GAUGE_SUM) {
            sum += v;

        } else if (v > sum) {
            sum = v;
        }
    }

    p = ngx_sprintf(p, "%s", family);

    if (m->label) {
        p = ngx_sprintf(p, "{%s}", m->label);
    }

    if (m->divisor) {
        return ngx_sprintf(p, " %.3f\n", (double) sum / m->divisor);
    }

    return ngx_sprintf(p, " %A\n", sum);
}


/* Two lines per master, and the family's HELP and TYPE. */
static size_t
ngx_chat_status_nodes_size(void)
{
    ngx_uint_t  n;

    for (n = 0; ngx_chat_cluster_node(n); n++) { /* void */ }

    return 256 + n * 2 * (64 + NGX_SOCKADDR_STRLEN);
}


/*
 * On a Redis Cluster, each master's two connections as the worker that
 * answers sees them (every worker has its own): which node is down is
 * what an operator looks for during a failover.
 */
static u_char *
ngx_chat_status_nodes(u_char *p)
{
    ngx_uint_t                i;
    ngx_chat_cluster_node_t  *node;

    if (!ngx_chat_cluster_on()) {
        return p;
    }

    p = ngx_sprintf(p, "# HELP chat_redis_cluster_node_up The connections "
                    "of the worker that answered to each Redis Cluster "
                    "master: 1 up, 0 down.\n"
                    "# TYPE chat_redis_cluster_node_up gauge\n");

    for (i = 0; (node = ngx_chat_cluster_node(i)); i++) {
        if (!node->master || node->retired) {
            continue;
        }

        p = ngx_sprintf(p, "chat_redis_cluster_node_up{node=\"%V\","
                        "conn=\"command\"} %d\n"
                        "chat_redis_cluster_node_up{node=\"%V\","
                        "conn=\"subscriber\"} %d\n",
                        &node->addr.name, node->cmd.ready ? 1 : 0,
                        &node->addr.name, node->sub.ready ? 1 : 0);
    }

    return p;
}


/* The Kafka delivery latency histogram, its buckets cumulative. */
static u_char *
ngx_chat_status_latency(u_char *p)
{
    ngx_uint_t                i, b;
    ngx_atomic_uint_t         bucket[NGX_CHAT_LATENCY_N], count, sum_ms;
    ngx_chat_stats_slot_t    *slot;
    static const ngx_msec_t   bounds[NGX_CHAT_LATENCY_N] =
                                  NGX_CHAT_LATENCY_BUCKETS;

    ngx_memzero(bucket, sizeof(bucket));
    count = 0;
    sum_ms = 0;

    for (i = 0; i < NGX_CHAT_STATS_SLOTS; i++) {
        slot = &ngx_chat_status_shm->slot[i];

        for (b = 0; b < NGX_CHAT_LATENCY_N; b++) {
            bucket[b] += slot->latency[b];
        }

        count += slot->latency_count;
        sum_ms += slot->latency_sum_ms;
    }

    p = ngx_sprintf(p, "# HELP chat_kafka_delivery_seconds From produce to "
                    "the broker's acknowledgement.\n"
                    "# TYPE chat_kafka_delivery_seconds histogram\n");

    for (b = 1; b < NGX_CHAT_LATENCY_N; b++) {
        bucket[b] += bucket[b - 1];
    }

    for (b = 0; b < NGX_CHAT_LATENCY_N; b++) {
        p = ngx_sprintf(p, "chat_kafka_delivery_seconds_bucket{le=\"%.3f\"} "
                        "%uA\n", (double) bounds[b] / 1000, bucket[b]);
    }

    return ngx_sprintf(p, "chat_kafka_delivery_seconds_bucket{le=\"+Inf\"} "
                       "%uA\n"
                       "chat_kafka_delivery_seconds_sum %.3f\n"
                       "chat_kafka_delivery_seconds_count %uA\n",
                       count, (double) sum_ms / 1000, count);
}
