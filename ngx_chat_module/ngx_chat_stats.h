/*
 * ngx_chat_stats: counters for operators, summed across nginx workers by
 * the chat_status location (ngx_chat_stats.c).
 *
 * Each worker owns one slot of a shared-memory zone and is its only
 * writer, so counting is a plain add on the worker's own cache line; the
 * status handler reads every slot. Until the zone is attached (and in a
 * process without one) counting does nothing.
 */

#ifndef NGX_CHAT_STATS_H
#define NGX_CHAT_STATS_H

#include <ngx_config.h>
#include <ngx_core.h>


/* Monotonic counters; their names in the output are in ngx_chat_stats.c. */
typedef enum {
    NGX_CHAT_STAT_HANDSHAKES = 0,           /* upgraded (101) */
    NGX_CHAT_STAT_REFUSED_400,
    NGX_CHAT_STAT_REFUSED_401,
    NGX_CHAT_STAT_REFUSED_403,
    NGX_CHAT_STAT_REFUSED_429,
    NGX_CHAT_STAT_REFUSED_503,

    NGX_CHAT_STAT_FRAMES_IN,                /* client text messages */
    NGX_CHAT_STAT_FRAMES_OUT,               /* frames queued to clients */
    NGX_CHAT_STAT_BYTES_IN,
    NGX_CHAT_STAT_BYTES_OUT,
    NGX_CHAT_STAT_SENDS,                    /* send requests produced */
    NGX_CHAT_STAT_SENT,                     /* answered "sent" */
    NGX_CHAT_STAT_DELIVERED,                /* frames from Redis to sockets */

    NGX_CHAT_STAT_ERR_BAD_REQUEST,          /* errors by code, in order */
    NGX_CHAT_STAT_ERR_TOO_LARGE,
    NGX_CHAT_STAT_ERR_FORBIDDEN,
    NGX_CHAT_STAT_ERR_NOT_FOUND,
    NGX_CHAT_STAT_ERR_RATE_LIMITED,
    NGX_CHAT_STAT_ERR_UNAVAILABLE,
    NGX_CHAT_STAT_ERR_INTERNAL,

    NGX_CHAT_STAT_CLOSE_1000,               /* close codes sent, in order */
    NGX_CHAT_STAT_CLOSE_1001,
    NGX_CHAT_STAT_CLOSE_1002,
    NGX_CHAT_STAT_CLOSE_1003,
    NGX_CHAT_STAT_CLOSE_1007,
    NGX_CHAT_STAT_CLOSE_1008,
    NGX_CHAT_STAT_CLOSE_1009,
    NGX_CHAT_STAT_CLOSE_1011,
    NGX_CHAT_STAT_CLOSE_4401,
    NGX_CHAT_STAT_CLOSE_OTHER,

    NGX_CHAT_STAT_LIMITED_SEND,             /* over a rate limit */
    NGX_CHAT_STAT_LIMITED_TYPING,
    NGX_CHAT_STAT_LIMITED_HANDSHAKE,
    NGX_CHAT_STAT_LIMITED_REQUEST,          /* over the request budget */
    NGX_CHAT_STAT_LIMITED_CONNECT,          /* a handshake over it (429) */
    NGX_CHAT_STAT_LIMITED_ADDR_CONNS,       /* an address at its cap (429) */
    NGX_CHAT_STAT_FLOOD_CLOSED,             /* closed 1008 for flooding */
    NGX_CHAT_STAT_DEVICES_CLOSED,           /* closed 1008 over the cap */

    NGX_CHAT_STAT_SHED_TYPING,              /* shed, by level, in order */
    NGX_CHAT_STAT_SHED_PRESENCE,
    NGX_CHAT_STAT_SHED_RECEIPTS,
    NGX_CHAT_STAT_SHED_CONNECTIONS,
    NGX_CHAT_STAT_SHED_SENDS,

    NGX_CHAT_STAT_KAFKA_PRODUCED,
    NGX_CHAT_STAT_KAFKA_DELIVERED,
    NGX_CHAT_STAT_KAFKA_FAILED,
    NGX_CHAT_STAT_REDIS_RECONNECTS,
    NGX_CHAT_STAT_REDIS_MOVED,              /* Redis Cluster redirections */
    NGX_CHAT_STAT_REDIS_ASK,
    NGX_CHAT_STAT_REDIS_TRYAGAIN,           /* TRYAGAIN, CLUSTERDOWN */
    NGX_CHAT_STAT_REDIS_MAP_CHANGES,        /* a master joined or left */

    NGX_CHAT_STAT_ORDER_REPEATS,            /* already sent: dropped */
    NGX_CHAT_STAT_ORDER_GAPS,               /* a seq skipped: waited */
    NGX_CHAT_STAT_ORDER_RESYNCS,            /* a gap left unanswered */
    NGX_CHAT_STAT_SYNCS,                    /* pages of pending asked */

    NGX_CHAT_STAT_N
} ngx_chat_stat_e;


/* Gauges: a worker's current value; summed over live workers, except
 * where ngx_chat_stats.c says max. */
typedef enum {
    NGX_CHAT_GAUGE_CONNECTIONS = 0,
    NGX_CHAT_GAUGE_USERS,
    NGX_CHAT_GAUGE_KAFKA_QUEUE,             /* writes not yet delivered */
    NGX_CHAT_GAUGE_REDIS_BACKLOG,           /* bytes unwritten to Redis */
    NGX_CHAT_GAUGE_REDIS_MASTERS,           /* cluster masters, max */
    NGX_CHAT_GAUGE_REDIS_CONNS_DOWN,        /* of their connections */
    NGX_CHAT_GAUGE_SEND_QUEUED,             /* bytes queued to sockets */
    NGX_CHAT_GAUGE_LOOP_LAG,                /* ms, max over workers */
    NGX_CHAT_GAUGE_SHED_LEVEL,              /* 0..5, max over workers */

    NGX_CHAT_GAUGE_N
} ngx_chat_gauge_e;


/* Kafka delivery latency buckets, upper bounds in ms; +Inf is the count. */
#define NGX_CHAT_LATENCY_BUCKETS  { 1, 2, 5, 10, 25, 50, 100, 250, 500, \
                                    1000, 2500, 10000 }
#define NGX_CHAT_LATENCY_N  12


typedef struct {
    ngx_atomic_t          pid;              /* 0: free */
    ngx_atomic_uint_t     counter[NGX_CHAT_STAT_N];
    ngx_atomic_int_t      gauge[NGX_CHAT_GAUGE_N];
    ngx_atomic_uint_t     latency[NGX_CHAT_LATENCY_N];
    ngx_atomic_uint_t     latency_count;
    ngx_atomic_uint_t     latency_sum_ms;
} ngx_chat_stats_slot_t;


extern ngx_chat_stats_slot_t  *ngx_chat_stats;   /* this worker's, or NULL */


static ngx_inline void
ngx_chat_stat_add(ngx_chat_stat_e s, ngx_uint_t n)
{
    if (ngx_chat_stats != NULL) {
        ngx_chat_stats->counter[s] += n;
    }
}

#define ngx_chat_stat_inc(s)  ngx_chat_stat_add(s, 1)


static ngx_inline void
ngx_chat_gauge_set(ngx_chat_gauge_e g, ngx_int_t v)
{
    if (ngx_chat_stats != NULL) {
        ngx_chat_stats->gauge[g] = v;
    }
}


static ngx_inline void
ngx_chat_gauge_add(ngx_chat_gauge_e g, ngx_int_t n)
{
    if (ngx_chat_stats != NULL) {
        ngx_chat_stats->gauge[g] += n;
    }
}


void ngx_chat_stat_close(ngx_uint_t code);
void ngx_chat_stat_refused(ngx_uint_t status);     /* an HTTP status */
void ngx_chat_stat_error(const char *code);
void ngx_chat_stat_latency(ngx_msec_t ms);


#endif /* NGX_CHAT_STATS_H */
