/*
 * The Kafka producer of an nginx worker (librdkafka), on nginx's event
 * loop: librdkafka writes a byte to a non-blocking pipe whenever its main
 * queue goes from empty to non-empty (rd_kafka_queue_io_event_enable), the
 * pipe's read end is an nginx connection, and its handler serves the queue
 * until it is empty: delivery reports, errors and logs all arrive there, in
 * this thread. A cancelable timer serves it once a second as a backstop.
 *
 * Never blocking: produce never waits for queue space (no
 * RD_KAFKA_MSG_F_BLOCK); a full queue or brokers that are all down answer
 * "unavailable" at once. The opaque of a message is a heap record that
 * names its connection by number, never a pointer into it.
 */

#include "ngx_chat_module.h"

#include <librdkafka/rdkafka.h>


#define NGX_CHAT_KAFKA_BACKSTOP   1000
#define NGX_CHAT_KAFKA_VALUE_MAX  1024     /* a property's value, with NUL */


static ngx_int_t ngx_chat_kafka_configure(rd_kafka_conf_t *conf,
    ngx_chat_main_conf_t *cmcf, ngx_log_t *log);
static ngx_int_t ngx_chat_kafka_set(rd_kafka_conf_t *conf, const char *name,
    ngx_str_t *value, ngx_log_t *log);
static size_t ngx_chat_kafka_errlen(const char *errstr);
static void ngx_chat_kafka_read_max(rd_kafka_conf_t *conf);
static void ngx_chat_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg,
    void *opaque);
static void ngx_chat_kafka_error(rd_kafka_t *rk, int err, const char *reason,
    void *opaque);
static void ngx_chat_kafka_log(const rd_kafka_t *rk, int level,
    const char *fac, const char *buf);
static void ngx_chat_kafka_notify_handler(ngx_event_t *rev);
static void ngx_chat_kafka_backstop_handler(ngx_event_t *ev);
static void ngx_chat_kafka_serve(void);


typedef struct {
    rd_kafka_t          *rk;
    rd_kafka_topic_t    *topic;
    rd_kafka_queue_t    *queue;
    ngx_connection_t    *notify;      /* the pipe's read end */
    ngx_socket_t         notify_write;
    ngx_event_t          backstop;
    ngx_log_t           *log;
    ngx_uint_t           max_messages; /* its queue's, for shedding */
    ngx_chat_kafka_delivered_pt  delivered;   /* registered by writes */
    ngx_chat_kafka_queued_pt     queued;      /* registered by shedding */
    ngx_uint_t           brokers_down:1;
    ngx_uint_t           probing:1;    /* one write in flight while down */
    ngx_uint_t           exiting:1;
} ngx_chat_kafka_t;


static ngx_chat_kafka_t  ngx_chat_kafka;


ngx_int_t
ngx_chat_kafka_init(ngx_cycle_t *cycle, ngx_chat_main_conf_t *cmcf)
{
    int               fds[2];
    char              errstr[512];
    rd_kafka_conf_t  *conf;
    ngx_connection_t *c;

    ngx_memzero(&ngx_chat_kafka, sizeof(ngx_chat_kafka_t));
    ngx_chat_kafka.log = cycle->log;
    ngx_chat_kafka.notify_write = -1;

    if (cmcf->kafka_brokers.len == 0) {
        return NGX_OK;
    }

    conf = rd_kafka_conf_new();

    if (ngx_chat_kafka_configure(conf, cmcf, cycle->log) != NGX_OK) {
        rd_kafka_conf_destroy(conf);
        return NGX_ERROR;
    }

    ngx_chat_kafka_read_max(conf);

    ngx_chat_kafka.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                     sizeof(errstr));
    if (ngx_chat_kafka.rk == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "chat: rd_kafka_new() failed: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return NGX_ERROR;
    }

    ngx_chat_kafka.topic = rd_kafka_topic_new(ngx_chat_kafka.rk,
                                              (char *) cmcf->kafka_topic.data,
                                              NULL);
    if (ngx_chat_kafka.topic == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "chat: rd_kafka_topic_new(\"%V\") failed",
                      &cmcf->kafka_topic);
        return NGX_ERROR;
    }

    /* librdkafka's own logs, served from the main queue in this thread */
    rd_kafka_set_log_queue(ngx_chat_kafka.rk, NULL);

    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno, "pipe2() failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(fds[0], cycle->log);
    if (c == NULL) {
        close(fds[0]);
        close(fds[1]);
        return NGX_ERROR;
    }

    ngx_chat_kafka.notify = c;
    ngx_chat_kafka.notify_write = fds[1];

    c->read->handler = ngx_chat_kafka_notify_handler;
    c->read->log = cycle->log;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_chat_kafka.queue = rd_kafka_queue_get_main(ngx_chat_kafka.rk);
    rd_kafka_queue_io_event_enable(ngx_chat_kafka.queue, fds[1], "1", 1);

    ngx_chat_timer_init(&ngx_chat_kafka.backstop,
                        ngx_chat_kafka_backstop_handler, cycle->log);
    ngx_add_timer(&ngx_chat_kafka.backstop, NGX_CHAT_KAFKA_BACKSTOP);

    return NGX_OK;
}


/*
 * The producer's settings: durable (idempotent, acks=all), fast (no Nagle,
 * a short linger), bounded (message.timeout.ms: a write not in the log by
 * then is answered "unavailable"); then the chat_kafka_option lines, which
 * may override any of them.
 */
static ngx_int_t
ngx_chat_kafka_configure(rd_kafka_conf_t *conf, ngx_chat_main_conf_t *cmcf,
    ngx_log_t *log)
{
    u_char           buf[NGX_INT_T_LEN + 1];
    ngx_str_t        v;
    ngx_uint_t       i;
    ngx_keyval_t    *kv;

    static struct {
        const char  *name;
        ngx_str_t    value;
    } defaults[] = {
        { "enable.idempotence", ngx_string("true") },
        { "acks", ngx_string("all") },
        { "linger.ms", ngx_string("1") },
        { "socket.nagle.disable", ngx_string("true") },
        /* back in a second after an outage, not librdkafka's 10 */
        { "reconnect.backoff.max.ms", ngx_string("1000") },
        { "queue.buffering.max.messages", ngx_string("100000") },
        { "log.queue", ngx_string("true") },
        { NULL, ngx_null_string }
    };

    if (ngx_chat_kafka_set(conf, "bootstrap.servers", &cmcf->kafka_brokers,
                           log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; defaults[i].name; i++) {
        if (ngx_chat_kafka_set(conf, defaults[i].name, &defaults[i].value, log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    v.data = buf;
    v.len = ngx_sprintf(buf, "%M", cmcf->kafka_timeout) - buf;

    if (ngx_chat_kafka_set(conf, "message.timeout.ms", &v, log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (cmcf->kafka_options) {
        kv = cmcf->kafka_options->elts;

        for (i = 0; i < cmcf->kafka_options->nelts; i++) {
            if (ngx_chat_kafka_set(conf, (char *) kv[i].key.data,
                                   &kv[i].value, log)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    rd_kafka_conf_set_dr_msg_cb(conf, ngx_chat_kafka_dr);
    rd_kafka_conf_set_error_cb(conf, ngx_chat_kafka_error);
    rd_kafka_conf_set_log_cb(conf, ngx_chat_kafka_log);

    return NGX_OK;
}


static ngx_int_t
ngx_chat_kafka_set(rd_kafka_conf_t *conf, const char *name, ngx_str_t *value,
    ngx_log_t *log)
{
    char  errstr[256], v[NGX_CHAT_KAFKA_VALUE_MAX];

    if (value->len >= sizeof(v)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "chat: kafka option \"%s\" is too long", name);
        return NGX_ERROR;
    }

    ngx_cpystrn((u_char *) v, value->data, value->len + 1);

    if (rd_kafka_conf_set(conf, name, v, errstr, sizeof(errstr))
        != RD_KAFKA_CONF_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "chat: kafka option \"%s\": %*s", name,
                      ngx_chat_kafka_errlen(errstr), errstr);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * chat_kafka_option name value: applied at once to a throwaway librdkafka
 * configuration, so that an unknown property or a bad value fails
 * `nginx -t` with librdkafka's own message and the line, rather than every
 * worker's producer at its start. Combinations that only rd_kafka_new()
 * refuses cannot be tried here: it starts threads, never in the master.
 */
char *
ngx_chat_kafka_option(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                 errstr[256];
    ngx_str_t           *value;
    rd_kafka_conf_t     *kconf;
    rd_kafka_conf_res_t  res;

    value = cf->args->elts;

    if (value[2].len >= NGX_CHAT_KAFKA_VALUE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "chat_kafka_option \"%V\": the value is longer "
                           "than %d bytes", &value[1],
                           NGX_CHAT_KAFKA_VALUE_MAX - 1);
        return NGX_CONF_ERROR;
    }

    kconf = rd_kafka_conf_new();
    if (kconf == NULL) {
        return NGX_CONF_ERROR;
    }

    /* nginx's parser ends every word with a NUL */
    res = rd_kafka_conf_set(kconf, (char *) value[1].data,
                            (char *) value[2].data, errstr, sizeof(errstr));
    rd_kafka_conf_destroy(kconf);

    if (res != RD_KAFKA_CONF_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "chat_kafka_option \"%V\": %*s", &value[1],
                           ngx_chat_kafka_errlen(errstr), errstr);
        return NGX_CONF_ERROR;
    }

    return ngx_conf_set_keyval_slot(cf, cmd, conf);
}


/*
 * The whole producer configuration, as a worker will build it, tried once
 * the http block is read: what other directives put in it
 * (chat_kafka_timeout as message.timeout.ms, chat_kafka_brokers) fails
 * `nginx -t` too, not the workers.
 */
ngx_int_t
ngx_chat_kafka_check(ngx_conf_t *cf, ngx_chat_main_conf_t *cmcf)
{
    ngx_int_t         rc;
    rd_kafka_conf_t  *conf;

    if (cmcf->kafka_brokers.len == 0) {
        return NGX_OK;
    }

    conf = rd_kafka_conf_new();
    if (conf == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_chat_kafka_configure(conf, cmcf, cf->log);
    rd_kafka_conf_destroy(conf);

    return rc;
}


/* librdkafka's message without the newline that some of them end with. */
static size_t
ngx_chat_kafka_errlen(const char *errstr)
{
    size_t  n;

    n = ngx_strlen(errstr);

    while (n > 0 && (errstr[n - 1] == '\n' || errstr[n - 1] == ' ')) {
        n--;
    }

    return n;
}


/* The queue's bound in effect, whoever set it (chat_kafka_option too). */
static void
ngx_chat_kafka_read_max(rd_kafka_conf_t *conf)
{
    char       v[32];
    size_t     n;
    ngx_int_t  max;

    n = sizeof(v);

    if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", v, &n)
        != RD_KAFKA_CONF_OK)
    {
        return;
    }

    max = ngx_atoi((u_char *) v, ngx_strlen(v));
    ngx_chat_kafka.max_messages = max > 0 ? max : 0;
}


/* Writes queued and not yet reported, and how many the queue takes. */
void
ngx_chat_kafka_queue(ngx_uint_t *queued, ngx_uint_t *limit)
{
    if (ngx_chat_kafka.rk == NULL) {
        *queued = 0;
        *limit = 0;
        return;
    }

    *queued = rd_kafka_outq_len(ngx_chat_kafka.rk);
    *limit = ngx_chat_kafka.max_messages;
}


/*
 * 1 when a write can be produced now. While every broker is down, one
 * write at a time still goes (a real client write, not a made-up probe):
 * its delivery report tells when the cluster is back.
 */
ngx_int_t
ngx_chat_kafka_available(void)
{
    return ngx_chat_kafka.rk != NULL && !ngx_chat_kafka.exiting
           && (!ngx_chat_kafka.brokers_down || !ngx_chat_kafka.probing);
}


/*
 * Produces value (len bytes, a malloc()ed buffer that librdkafka frees)
 * under key. On NGX_OK the opaque comes back through the delivery
 * handler; otherwise the caller still owns it.
 */
ngx_int_t
ngx_chat_kafka_produce(ngx_str_t *key, char *value, size_t len, void *opaque)
{
    rd_kafka_resp_err_t  err;

    if (!ngx_chat_kafka_available()) {
        return NGX_DECLINED;
    }

    err = rd_kafka_producev(ngx_chat_kafka.rk,
                            RD_KAFKA_V_RKT(ngx_chat_kafka.topic),
                            RD_KAFKA_V_KEY(key->data, key->len),
                            RD_KAFKA_V_VALUE(value, len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                            RD_KAFKA_V_OPAQUE(opaque),
                            RD_KAFKA_V_END);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ngx_log_error(NGX_LOG_WARN, ngx_chat_kafka.log, 0,
                      "chat: kafka produce failed: %s", rd_kafka_err2str(err));
        return NGX_DECLINED;
    }

    if (ngx_chat_kafka.brokers_down) {
        ngx_chat_kafka.probing = 1;
    }

    ngx_chat_stat_inc(NGX_CHAT_STAT_KAFKA_PRODUCED);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_chat_kafka.log, 0,
                   "chat kafka: produced %uz bytes, key \"%V\"", len, key);

    if (ngx_chat_kafka.queued) {
        ngx_chat_kafka.queued();
    }

    return NGX_OK;
}


static void
ngx_chat_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg,
    void *opaque)
{
    if (msg->err) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_KAFKA_FAILED);
        ngx_log_error(NGX_LOG_WARN, ngx_chat_kafka.log, 0,
                      "chat: kafka delivery failed: %s",
                      rd_kafka_err2str(msg->err));

    } else if (ngx_chat_kafka.brokers_down) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_chat_kafka.log, 0,
                      "chat: kafka is back, writes accepted again");
        ngx_chat_kafka.brokers_down = 0;
    }

    if (msg->err == 0) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_KAFKA_DELIVERED);
        ngx_chat_stat_latency(rd_kafka_message_latency(msg) / 1000);
    }

    ngx_chat_kafka.probing = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_chat_kafka.log, 0,
                   "chat kafka: delivery report: %s%s",
                   msg->err ? "failed" : "ok",
                   ngx_chat_kafka.exiting ? ", exiting" : "");

    if (ngx_chat_kafka.delivered) {
        ngx_chat_kafka.delivered(msg->_private, msg->err == 0,
                                 ngx_chat_kafka.exiting);
    }
}


/* After ngx_chat_kafka_init(): who is told each delivery report. */
void
ngx_chat_kafka_on_delivery(ngx_chat_kafka_delivered_pt handler)
{
    ngx_chat_kafka.delivered = handler;
}


/* After ngx_chat_kafka_init(): who is told each record queued. */
void
ngx_chat_kafka_on_queued(ngx_chat_kafka_queued_pt handler)
{
    ngx_chat_kafka.queued = handler;
}


/*
 * With every broker down, new writes are refused at once rather than after
 * message.timeout.ms, but for one at a time; the next successful delivery
 * lifts it. Fatal errors (the idempotent producer's state is lost) are
 * logged: the producer cannot go on and refuses every write itself.
 */
static void
ngx_chat_kafka_error(rd_kafka_t *rk, int err, const char *reason,
    void *opaque)
{
    char  errstr[512];

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, errstr, sizeof(errstr));
        ngx_log_error(NGX_LOG_ALERT, ngx_chat_kafka.log, 0,
                      "chat: kafka producer failed for good: %s", errstr);
        ngx_chat_kafka.brokers_down = 1;
        return;
    }

    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        ngx_chat_kafka.brokers_down = 1;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_chat_kafka.log, 0, "chat: kafka: %s",
                  reason);
}


static void
ngx_chat_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf)
{
    ngx_uint_t  ngx_level;

    /* syslog levels: 0 emerg .. 7 debug */
    ngx_level = level <= 3 ? NGX_LOG_ERR : level <= 5 ? NGX_LOG_NOTICE
                                                      : NGX_LOG_DEBUG;

    ngx_log_error(ngx_level, ngx_chat_kafka.log, 0, "chat: kafka %s: %s",
                  fac, buf);
}


static void
ngx_chat_kafka_notify_handler(ngx_event_t *rev)
{
    u_char   buf[64];
    ssize_t  n;

    /* drain the wake-ups first: a report queued after this is not missed */
    do {
        n = read(ngx_chat_kafka.notify->fd, buf, sizeof(buf));
    } while (n > 0);

    ngx_chat_kafka_serve();

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, rev->log, 0,
                      "chat: kafka notification event failed");
    }
}


static void
ngx_chat_kafka_backstop_handler(ngx_event_t *ev)
{
    ngx_chat_kafka_serve();
    ngx_add_timer(ev, NGX_CHAT_KAFKA_BACKSTOP);
}


static void
ngx_chat_kafka_serve(void)
{
    while (rd_kafka_poll(ngx_chat_kafka.rk, 0) > 0) {
        /* void */
    }
}


/*
 * Worker exit: what is queued gets a bounded time to reach the log; its
 * reports no longer touch connections. Then everything is released.
 */
void
ngx_chat_kafka_exit(ngx_msec_t flush_timeout)
{
    rd_kafka_resp_err_t  err;

    if (ngx_chat_kafka.rk == NULL) {
        return;
    }

    ngx_chat_kafka.exiting = 1;

    if (ngx_chat_kafka.backstop.timer_set) {
        ngx_del_timer(&ngx_chat_kafka.backstop);
    }

    rd_kafka_queue_io_event_enable(ngx_chat_kafka.queue, -1, NULL, 0);

    err = rd_kafka_flush(ngx_chat_kafka.rk, (int) flush_timeout);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ngx_log_error(NGX_LOG_WARN, ngx_chat_kafka.log, 0,
                      "chat: kafka flush at exit: %d writes not delivered",
                      rd_kafka_outq_len(ngx_chat_kafka.rk));
    }

    /* reports of writes that could not be flushed free their records */
    rd_kafka_purge(ngx_chat_kafka.rk, RD_KAFKA_PURGE_F_QUEUE
                                      | RD_KAFKA_PURGE_F_INFLIGHT);
    ngx_chat_kafka_serve();

    rd_kafka_queue_destroy(ngx_chat_kafka.queue);
    rd_kafka_topic_destroy(ngx_chat_kafka.topic);
    rd_kafka_destroy(ngx_chat_kafka.rk);
    ngx_chat_kafka.rk = NULL;

    if (ngx_chat_kafka.notify) {
        ngx_close_connection(ngx_chat_kafka.notify);
        ngx_chat_kafka.notify = NULL;
    }

    if (ngx_chat_kafka.notify_write != -1) {
        close(ngx_chat_kafka.notify_write);
        ngx_chat_kafka.notify_write = -1;
    }
}
