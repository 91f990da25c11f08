/*
 * The dead-letter producer (chat_worker_dead.h).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_worker_dead.h"
#include "chat_worker_fault.h"
#include "chat_worker_kafka.h"
#include "chat_worker_log.h"


/* the longest chat-reason header, in bytes */
#define CHAT_WORKER_DEAD_REASON_MAX  159


struct chat_worker_dead_s {
    rd_kafka_t                *rk;
    char                      *topic;
    chat_worker_fault_list_t   held;
};


/* A header of a dead letter as a string (they are short), "?" if none. */

static void
chat_worker_dead_header(const rd_kafka_message_t *msg, const char *name,
    char *buf, size_t size)
{
    size_t                 len;
    const void            *v;
    rd_kafka_headers_t    *hdrs;

    snprintf(buf, size, "?");

    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR
        && rd_kafka_header_get_last(hdrs, name, &v, &len)
           == RD_KAFKA_RESP_ERR_NO_ERROR)
    {
        snprintf(buf, size, "%.*s", (int) len, (const char *) v);
    }
}


/* The delivery report of a dead letter: where it went, or that it is
 * lost (the skip's own log line stays). */

static void
chat_worker_dead_report(rd_kafka_t *rk, const rd_kafka_message_t *msg,
    void *opaque)
{
    char  part[16], offset[24];

    (void) rk;
    (void) opaque;

    chat_worker_dead_header(msg, "chat-partition", part, sizeof(part));
    chat_worker_dead_header(msg, "chat-offset", offset, sizeof(offset));

    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        chat_worker_log(CHAT_LOG_WARN, "dead letter of [%s]@%s to %s lost: "
                        "%s", part, offset, rd_kafka_topic_name(msg->rkt),
                        rd_kafka_err2str(msg->err));
        return;
    }

    chat_worker_log(CHAT_LOG_INFO, "dead letter of [%s]@%s in %s[%d]@%lld",
                    part, offset, rd_kafka_topic_name(msg->rkt),
                    (int) msg->partition, (long long) msg->offset);
}


/* The producer's configuration: the brokers, and the operator's options
 * (a consumer-only one is ignored by librdkafka with a warning). */

static rd_kafka_conf_t *
chat_worker_dead_conf(const chat_worker_conf_t *cf, char *err, size_t errlen)
{
    size_t            i;
    rd_kafka_conf_t  *conf;

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "bootstrap.servers", cf->brokers, err,
                          errlen) != RD_KAFKA_CONF_OK)
    {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }

    for (i = 0; i < cf->nkafka_options; i++) {
        if (rd_kafka_conf_set(conf, cf->kafka_options[i].name,
                              cf->kafka_options[i].value, err, errlen)
            != RD_KAFKA_CONF_OK)
        {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }

    rd_kafka_conf_set_dr_msg_cb(conf, chat_worker_dead_report);
    rd_kafka_conf_set_log_cb(conf, chat_worker_kafka_logger);

    return conf;
}


chat_worker_dead_t *
chat_worker_dead_open(const chat_worker_conf_t *cf, char *err, size_t errlen)
{
    char                 reason[512];
    rd_kafka_conf_t     *conf;
    chat_worker_dead_t  *d;

    err[0] = '\0';

    if (cf->dead_letter == NULL) {
        return NULL;
    }

    d = calloc(1, sizeof(chat_worker_dead_t));
    if (d == NULL || (d->topic = strdup(cf->dead_letter)) == NULL) {
        free(d);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    conf = chat_worker_dead_conf(cf, reason, sizeof(reason));

    if (conf != NULL) {
        d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason,
                             sizeof(reason));
        if (d->rk == NULL) {
            rd_kafka_conf_destroy(conf);
        }
    }

    if (d->rk == NULL) {
        snprintf(err, errlen, "dead-letter producer: %s", reason);
        free(d->topic);
        free(d);
        return NULL;
    }

    return d;
}


int
chat_worker_dead_hold(chat_worker_dead_t *d, rd_kafka_message_t *msg,
    const char *reason)
{
    if (d == NULL) {
        return 0;
    }

    return chat_worker_fault_add(&d->held, msg, reason);
}


void
chat_worker_dead_reset(chat_worker_dead_t *d)
{
    if (d != NULL) {
        d->held.n = 0;
    }
}


/* One held record, with where it came from and why it was skipped. */

static int
chat_worker_dead_produce(chat_worker_dead_t *d, const chat_worker_fault_t *h)
{
    char                 part[16], offset[24];
    rd_kafka_message_t  *m = h->msg;
    const char          *from;
    rd_kafka_resp_err_t  err;

    from = rd_kafka_topic_name(m->rkt);
    snprintf(part, sizeof(part), "%" PRId32, m->partition);
    snprintf(offset, sizeof(offset), "%" PRId64, m->offset);

    err = rd_kafka_producev(d->rk,
              RD_KAFKA_V_TOPIC(d->topic),
              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
              RD_KAFKA_V_KEY(m->key, m->key_len),
              RD_KAFKA_V_VALUE(m->payload, m->len),
              RD_KAFKA_V_HEADER("chat-reason", h->reason,
                                (ssize_t) strnlen(h->reason,
                                                  CHAT_WORKER_DEAD_REASON_MAX)),
              RD_KAFKA_V_HEADER("chat-topic", from, (ssize_t) strlen(from)),
              RD_KAFKA_V_HEADER("chat-partition", part,
                                (ssize_t) strlen(part)),
              RD_KAFKA_V_HEADER("chat-offset", offset,
                                (ssize_t) strlen(offset)),
              RD_KAFKA_V_END);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        chat_worker_log(CHAT_LOG_WARN, "dead letter %s[%s]@%s not "
                        "produced to %s: %s", from, part, offset, d->topic,
                        rd_kafka_err2str(err));
        return -1;
    }

    return 0;
}


size_t
chat_worker_dead_send(chat_worker_dead_t *d)
{
    size_t  i, sent;

    if (d == NULL) {
        return 0;
    }

    sent = 0;

    for (i = 0; i < d->held.n; i++) {
        if (chat_worker_dead_produce(d, &d->held.elts[i]) == 0) {
            sent++;
        }
    }

    d->held.n = 0;

    /* the reports of earlier ones, at every batch; never waits */
    rd_kafka_poll(d->rk, 0);

    return sent;
}


void
chat_worker_dead_close(chat_worker_dead_t *d, int timeout_ms)
{
    if (d == NULL) {
        return;
    }

    if (rd_kafka_flush(d->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        chat_worker_log(CHAT_LOG_WARN, "%d dead letters not delivered at "
                        "the close", rd_kafka_outq_len(d->rk));
    }

    rd_kafka_destroy(d->rk);
    chat_worker_fault_free(&d->held);
    free(d->topic);
    free(d);
}
