/*
 * Priority shedding: the edge sheds before it breaks. Each nginx worker
 * measures its own pressure and sheds what is worth least first (typing,
 * then presence, receipts, new connections, and writes last), so that
 * durable messages keep going as long as they can.
 *
 * The signals, each in thousandths of its limit:
 *   - the Kafka producer's queue: rd_kafka_outq_len() over the producer's
 *     queue.buffering.max.messages;
 *   - the Redis command connection's backlog: bytes not written yet over
 *     chat_shed_redis_backlog, or replies owed over a sixteenth of it;
 *   - the event loop's lag: how late a 100 ms timer fires over
 *     chat_shed_loop_lag.
 * The last two are the smallest of their last three measurements on that
 * timer: a burst of commands (thousands of clients leaving at once) or a
 * single stall is over by the time it is seen, and is not pressure; a
 * backlog or a lag that stays is. The Kafka queue counts as it is, at every
 * write too: it is what a message needs room in. The pressure is the
 * highest of them; chat_shed_levels says where each level starts
 * (chat_shed_level.c adds the hysteresis). The level is measured on the
 * timer, and checked again, cheaply and only upwards, whenever a Kafka
 * write is queued: between the timer's samples only that can raise it.
 *
 * The per-socket send queue is a signal of that socket only: a typing or
 * presence frame is not queued to a socket already over half its
 * chat_send_budget (ngx_chat_shed_socket_busy).
 *
 * Levels: 1 typing dropped, 2 presence updates coalesced (in
 * ngx_chat_presence_watch.c), 3 receipts coalesced (ngx_chat_receipts.c),
 * 4 new connections refused 503, 5 sends answered "unavailable". What a
 * feature holds it lets go through the release handler it registered:
 * called by a flush timer (chat_shed_flush), and at once when the level
 * falls below the feature's own.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_stats.h"
#include "chat_shed_level.h"


#define NGX_CHAT_SHED_TICK          100     /* ms between measurements */
#define NGX_CHAT_SHED_HOLD          1000    /* ms at a level before lower */
#define NGX_CHAT_SHED_MARGIN        10      /* % below a start to leave */
#define NGX_CHAT_SHED_SAMPLES       3       /* a signal is their minimum */
#define NGX_CHAT_SHED_REPLY_BYTES   16      /* a reply owed weighs this */
#define NGX_CHAT_SHED_RELEASES      4

#define NGX_CHAT_SHED_TYPING_FRAME  "{\"type\":\"typing\""


/* What a feature holds from a level on, and how it lets it go. */
typedef struct {
    ngx_uint_t                level;
    ngx_chat_shed_release_pt  handler;
    ngx_uint_t                at_exit;      /* else dropped at exit */
} ngx_chat_shed_release_t;


typedef struct {
    chat_shed_conf_t          conf;
    chat_shed_state_t         state;
    ngx_msec_t                lag_limit;
    size_t                    redis_limit;
    ngx_msec_t                flush_interval;

    ngx_event_t               tick;
    ngx_msec_t                tick_due;
    ngx_msec_t                lag[NGX_CHAT_SHED_SAMPLES];
    unsigned                  redis[NGX_CHAT_SHED_SAMPLES];  /* pressure */
    ngx_uint_t                sample;       /* the next one of both */

    ngx_event_t               flush;
    ngx_log_t                *log;
    unsigned                  running:1;
} ngx_chat_shed_t;


static void ngx_chat_shed_check(void);
static unsigned ngx_chat_shed_pressure(void);
static unsigned ngx_chat_shed_redis_sample(void);
static void ngx_chat_shed_update(ngx_uint_t lower);
static void ngx_chat_shed_tick_handler(ngx_event_t *ev);
static void ngx_chat_shed_flush_handler(ngx_event_t *ev);
static void ngx_chat_shed_release(ngx_uint_t below, ngx_uint_t exiting);


static ngx_chat_shed_t  ngx_chat_shed;

/* registered before ngx_chat_shed_init(), which leaves them */
static ngx_chat_shed_release_t  ngx_chat_shed_releases[NGX_CHAT_SHED_RELEASES];
static ngx_uint_t               ngx_chat_shed_nreleases;

static ngx_uint_t  ngx_chat_shed_default_levels[CHAT_SHED_LEVELS] = {
    500, 600, 700, 800, 900
};


/*
 * chat_shed_levels 50% 60% 70% 80% 90%: the pressure at which each level
 * starts, ascending; "off" for a level (and those after it) never reached.
 */
char *
ngx_chat_shed_levels(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_chat_main_conf_t *cmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i, prev;

    if (cmcf->shed_levels[0]) {
        return "is duplicate";
    }

    value = cf->args->elts;
    prev = 1;

    for (i = 0; i < CHAT_SHED_LEVELS; i++) {
        if (value[i + 1].len == 3
            && ngx_strncmp(value[i + 1].data, "off", 3) == 0)
        {
            n = 2 * CHAT_SHED_FULL + 1;

        } else if (value[i + 1].len < 2
                   || value[i + 1].data[value[i + 1].len - 1] != '%')
        {
            n = NGX_ERROR;

        } else {
            n = ngx_atoi(value[i + 1].data, value[i + 1].len - 1);
            n = (n < 1 || n > 200) ? NGX_ERROR : n * 10;
        }

        if (n == NGX_ERROR || (ngx_uint_t) n < prev) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid level \"%V\": levels are ascending "
                               "percentages from 1%% to 200%%, or \"off\"",
                               &value[i + 1]);
            return NGX_CONF_ERROR;
        }

        cmcf->shed_levels[i] = n;
        prev = n;
    }

    return NGX_CONF_OK;
}


void
ngx_chat_shed_init_conf(ngx_chat_main_conf_t *cmcf)
{
    if (cmcf->shed_levels[0] == 0) {
        ngx_memcpy(cmcf->shed_levels, ngx_chat_shed_default_levels,
                   sizeof(ngx_chat_shed_default_levels));
    }

    ngx_conf_init_msec_value(cmcf->shed_loop_lag, 200);
    ngx_conf_init_size_value(cmcf->shed_redis_backlog, 128 * 1024);
    ngx_conf_init_msec_value(cmcf->shed_flush, 1000);
}


/* Both timers are cancelable: they never keep an exiting worker alive. */
ngx_int_t
ngx_chat_shed_init(ngx_cycle_t *cycle, ngx_chat_main_conf_t *cmcf)
{
    ngx_uint_t  i;

    ngx_memzero(&ngx_chat_shed, sizeof(ngx_chat_shed_t));

    for (i = 0; i < CHAT_SHED_LEVELS; i++) {
        ngx_chat_shed.conf.start[i] = cmcf->shed_levels[i];
    }

    ngx_chat_shed.conf.margin = NGX_CHAT_SHED_MARGIN;
    ngx_chat_shed.conf.hold_ms = NGX_CHAT_SHED_HOLD;
    ngx_chat_shed.lag_limit = cmcf->shed_loop_lag;
    ngx_chat_shed.redis_limit = cmcf->shed_redis_backlog;
    ngx_chat_shed.flush_interval = cmcf->shed_flush;
    ngx_chat_shed.log = cycle->log;

    ngx_chat_timer_init(&ngx_chat_shed.tick, ngx_chat_shed_tick_handler,
                        cycle->log);
    ngx_chat_timer_init(&ngx_chat_shed.flush, ngx_chat_shed_flush_handler,
                        cycle->log);

    ngx_chat_shed.tick_due = ngx_current_msec + NGX_CHAT_SHED_TICK;
    ngx_add_timer(&ngx_chat_shed.tick, NGX_CHAT_SHED_TICK);
    ngx_chat_shed.running = 1;

    /* between the timer's samples, only a write can raise the level */
    ngx_chat_kafka_on_queued(ngx_chat_shed_check);

    ngx_chat_gauge_set(NGX_CHAT_GAUGE_SHED_LEVEL, 0);

    return NGX_OK;
}


/*
 * A feature that holds things from a level on (handlers run in the order
 * they registered). at_exit: what it holds still goes out at worker exit
 * (receipts, to Kafka before it flushes), else it is only dropped
 * (presence frames).
 */
ngx_int_t
ngx_chat_shed_on_release(ngx_uint_t level, ngx_chat_shed_release_pt handler,
    ngx_uint_t at_exit)
{
    ngx_chat_shed_release_t  *r;

    if (ngx_chat_shed_nreleases == NGX_CHAT_SHED_RELEASES) {
        return NGX_ERROR;
    }

    r = &ngx_chat_shed_releases[ngx_chat_shed_nreleases++];
    r->level = level;
    r->handler = handler;
    r->at_exit = at_exit;

    return NGX_OK;
}


/* Worker exit: what is held goes out, or is dropped (above). */
void
ngx_chat_shed_exit(void)
{
    ngx_uint_t  running;

    running = ngx_chat_shed.running;

    if (running) {
        ngx_chat_shed_release(0, 1);
    }

    ngx_chat_shed_nreleases = 0;

    if (!running) {
        return;
    }

    ngx_chat_shed.running = 0;

    if (ngx_chat_shed.tick.timer_set) {
        ngx_del_timer(&ngx_chat_shed.tick);
    }

    if (ngx_chat_shed.flush.timer_set) {
        ngx_del_timer(&ngx_chat_shed.flush);
    }
}


ngx_uint_t
ngx_chat_shed_level(void)
{
    return ngx_chat_shed.state.level;
}


/* Whether anything held will be let go: between init and exit. */
ngx_uint_t
ngx_chat_shed_running(void)
{
    return ngx_chat_shed.running;
}


/* On the way of a write: raises the level at once, never lowers it. */
static void
ngx_chat_shed_check(void)
{
    if (ngx_chat_shed.running) {
        ngx_chat_shed_update(0);
    }
}


static unsigned
ngx_chat_shed_pressure(void)
{
    unsigned    kafka, redis, lag;
    ngx_uint_t  i, queued, limit;
    ngx_msec_t  min;

    ngx_chat_kafka_queue(&queued, &limit);
    kafka = chat_shed_pressure(queued, limit);
    ngx_chat_gauge_set(NGX_CHAT_GAUGE_KAFKA_QUEUE, queued);

    redis = ngx_chat_shed.redis[0];
    min = ngx_chat_shed.lag[0];

    for (i = 1; i < NGX_CHAT_SHED_SAMPLES; i++) {
        redis = ngx_min(redis, ngx_chat_shed.redis[i]);
        min = ngx_min(min, ngx_chat_shed.lag[i]);
    }

    lag = chat_shed_pressure(min, ngx_chat_shed.lag_limit);
    ngx_chat_gauge_set(NGX_CHAT_GAUGE_LOOP_LAG, min);

    return ngx_max(kafka, ngx_max(redis, lag));
}


/* The Redis command connections' backlog now, as a pressure. */
static unsigned
ngx_chat_shed_redis_sample(void)
{
    size_t      bytes;
    ngx_uint_t  replies;

    bytes = 0;
    replies = 0;

    if (ngx_chat_pubsub_enabled()) {
        /* the most behind of the masters: its keys are what is late */
        ngx_chat_cluster_backlog(&bytes, &replies);
    }

    ngx_chat_gauge_set(NGX_CHAT_GAUGE_REDIS_BACKLOG, bytes);

    return ngx_max(chat_shed_pressure(bytes, ngx_chat_shed.redis_limit),
                   chat_shed_pressure(replies * NGX_CHAT_SHED_REPLY_BYTES,
                                      ngx_chat_shed.redis_limit));
}


static void
ngx_chat_shed_update(ngx_uint_t lower)
{
    unsigned    pressure;
    ngx_uint_t  old;

    old = ngx_chat_shed.state.level;
    pressure = ngx_chat_shed_pressure();

    if (!chat_shed_step(&ngx_chat_shed.conf, &ngx_chat_shed.state, pressure,
                        ngx_current_msec, lower))
    {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_chat_shed.log, 0,
                  "chat: shed level %ui -> %ui, pressure %ui%%",
                  old, (ngx_uint_t) ngx_chat_shed.state.level,
                  (ngx_uint_t) pressure / 10);

    ngx_chat_gauge_set(NGX_CHAT_GAUGE_SHED_LEVEL, ngx_chat_shed.state.level);

    /* what a level held is let go as soon as the level is left */
    if (ngx_chat_shed.state.level < old) {
        ngx_chat_shed_release(old, 0);
    }
}


/*
 * Lets go what the features hold: those of the levels left (at or below
 * below, and above the level now), or all of them (below 0: the flush
 * timer; exiting: only those that go out at exit).
 */
static void
ngx_chat_shed_release(ngx_uint_t below, ngx_uint_t exiting)
{
    ngx_uint_t                i;
    ngx_chat_shed_release_t  *r;

    for (i = 0; i < ngx_chat_shed_nreleases; i++) {
        r = &ngx_chat_shed_releases[i];

        if (exiting ? r->at_exit
            : below == 0 || (r->level <= below
                             && ngx_chat_shed.state.level < r->level))
        {
            r->handler();
        }
    }
}


/* Measures how late it fires, then the level, up or down. */
static void
ngx_chat_shed_tick_handler(ngx_event_t *ev)
{
    ngx_msec_int_t  late;

    late = (ngx_msec_int_t) (ngx_current_msec - ngx_chat_shed.tick_due);

    ngx_chat_shed.lag[ngx_chat_shed.sample] = late > 0 ? late : 0;
    ngx_chat_shed.redis[ngx_chat_shed.sample] = ngx_chat_shed_redis_sample();
    ngx_chat_shed.sample = (ngx_chat_shed.sample + 1) % NGX_CHAT_SHED_SAMPLES;

    ngx_chat_shed_update(1);

    ngx_chat_shed.tick_due = ngx_current_msec + NGX_CHAT_SHED_TICK;
    ngx_add_timer(ev, NGX_CHAT_SHED_TICK);
}


/* Something is held: it goes out within chat_shed_flush. */
void
ngx_chat_shed_arm_flush(void)
{
    if (ngx_chat_shed.running && !ngx_chat_shed.flush.timer_set) {
        ngx_add_timer(&ngx_chat_shed.flush, ngx_chat_shed.flush_interval);
    }
}


static void
ngx_chat_shed_flush_handler(ngx_event_t *ev)
{
    ngx_chat_shed_release(0, 0);
}


/*
 * A typing frame for a socket already over half its budget is dropped for
 * that socket: what is queued before it is worth more.
 */
ngx_uint_t
ngx_chat_shed_drop_live(ngx_chat_conn_t *cc, ngx_str_t *frame)
{
    if (!ngx_chat_shed_socket_busy(cc)
        || frame->len < sizeof(NGX_CHAT_SHED_TYPING_FRAME) - 1
        || ngx_strncmp(frame->data, NGX_CHAT_SHED_TYPING_FRAME,
                       sizeof(NGX_CHAT_SHED_TYPING_FRAME) - 1)
           != 0)
    {
        return 0;
    }

    ngx_chat_stat_inc(NGX_CHAT_STAT_SHED_TYPING);

    return 1;
}
