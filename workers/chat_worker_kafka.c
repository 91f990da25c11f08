/*
 * chat-worker's Kafka consumer.
 *
 * Rebalances: the records in hand come from partitions assigned now. The
 * poll loop is single-threaded, and librdkafka calls the rebalance callback
 * from inside rd_kafka_consumer_poll(), so a revocation can only arrive
 * between two records of a batch being gathered, never while one is being
 * applied. The callback then has the caller finish the batch in hand
 * (apply, publish, store offsets), commits synchronously, and only then
 * gives the partitions up: their next owner starts exactly after what this
 * worker applied. A coordinator may refuse that commit (librdkafka's mock
 * answers REBALANCE_IN_PROGRESS while an eager group is joining): the next
 * owner then applies the batch again, which changes nothing. Both the
 * eager and the cooperative protocols (partition.assignment.strategy) are
 * handled (t/unit/test_worker_kafka.c).
 *
 * Commits: librdkafka's auto commit is off, because an offset may only be
 * committed once what its records changed is durable in the store. Every
 * auto.commit.interval.ms that offsets were stored, the sync callback makes
 * the store durable and then the stored offsets are committed (async); a
 * revocation and the close do the same, synchronously. A failed sync is
 * fatal: nothing more is committed, and the records since the last commit
 * are consumed again.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_worker_kafka.h"
#include "chat_worker_log.h"


struct chat_worker_kafka_s {
    rd_kafka_t                  *rk;
    chat_worker_kafka_flush_pt   flush;
    chat_worker_kafka_sync_pt    sync;
    void                        *data;
    rd_kafka_queue_t            *queue;     /* the consumer's, for commits */

    int64_t                      commit_interval;   /* ms */
    int64_t                      next_commit;       /* monotonic ms */
    int                          uncommitted;       /* offsets stored */

    rd_kafka_message_t         **msgs;      /* the batch in hand */
    size_t                       n;
    size_t                       max;

    int                          ready;     /* had an assignment */
    int                          failed;    /* a fatal error */
    int                          closing;   /* in rd_kafka_consumer_close() */

    int32_t                     *assigned;  /* partitions, after the last */
    size_t                       nassigned; /* rebalance */
    size_t                       assigned_cap;
};


/* Set before the caller's options, which may override them. */
static const char  *chat_worker_kafka_defaults[][2] = {
    { "client.id", "chat-worker" },
    /* how often stored offsets are synced and committed; the worker
     * commits itself (enable.auto.commit is forced false) */
    { "auto.commit.interval.ms", "1000" },
    { "enable.auto.offset.store", "false" },
    { "auto.offset.reset", "earliest" },
    /* an empty fetch waits this long on the broker; records of a live
     * chat should not */
    { "fetch.wait.max.ms", "10" },
    { "fetch.error.backoff.ms", "10" },
    { "socket.nagle.disable", "true" },
    /* the partitions of a worker that died are stalled this long: 6 s is
     * the least a Kafka broker allows by default
     * (group.min.session.timeout.ms), a heartbeat a second keeps a live
     * worker well inside it */
    { "session.timeout.ms", "6000" },
    { "heartbeat.interval.ms", "1000" },
    { NULL, NULL }
};


void
chat_worker_kafka_logger(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf)
{
    chat_log_level_e  l;

    (void) rk;

    /* syslog levels */
    l = level <= 3 ? CHAT_LOG_ERROR
        : level == 4 ? CHAT_LOG_WARN
        : level <= 6 ? CHAT_LOG_INFO : CHAT_LOG_DEBUG;

    chat_worker_log(l, "kafka: %s: %s", fac, buf);
}


static void
chat_worker_kafka_log_parts(const char *what,
    const rd_kafka_topic_partition_list_t *parts)
{
    int     i;
    char    line[1024];
    size_t  n;

    n = 0;
    line[0] = '\0';

    for (i = 0; i < parts->cnt && n < sizeof(line) - 1; i++) {
        n += snprintf(line + n, sizeof(line) - n, "%s%s[%d]", i ? " " : "",
                      parts->elems[i].topic, (int) parts->elems[i].partition);
    }

    chat_worker_log(CHAT_LOG_INFO, "%s %d partition(s)%s%s", what,
                    parts->cnt, parts->cnt ? ": " : "", line);
}


/*
 * Keeps the partitions assigned after a rebalance: what is assigned is
 * this worker's alone to push for. When it cannot be read, none is kept,
 * which pushes nothing rather than twice.
 */

static void
chat_worker_kafka_keep_assignment(chat_worker_kafka_t *k)
{
    int                               i;
    int32_t                          *p;
    rd_kafka_resp_err_t               err;
    rd_kafka_topic_partition_list_t  *parts;

    k->nassigned = 0;

    err = rd_kafka_assignment(k->rk, &parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        chat_worker_log(CHAT_LOG_ERROR, "kafka: assignment: %s",
                        rd_kafka_err2str(err));
        return;
    }

    if ((size_t) parts->cnt > k->assigned_cap) {
        p = realloc(k->assigned, parts->cnt * sizeof(int32_t));
        if (p == NULL) {
            chat_worker_log(CHAT_LOG_ERROR, "kafka: assignment: out of "
                            "memory");
            rd_kafka_topic_partition_list_destroy(parts);
            return;
        }

        k->assigned = p;
        k->assigned_cap = (size_t) parts->cnt;
    }

    for (i = 0; i < parts->cnt; i++) {
        k->assigned[i] = parts->elems[i].partition;
    }

    k->nassigned = (size_t) parts->cnt;

    rd_kafka_topic_partition_list_destroy(parts);
}


static void
chat_worker_kafka_assign(chat_worker_kafka_t *k, rd_kafka_t *rk,
    rd_kafka_topic_partition_list_t *parts, int cooperative)
{
    rd_kafka_error_t     *error;
    rd_kafka_resp_err_t   err;

    chat_worker_kafka_log_parts("assigned", parts);

    if (cooperative) {
        error = rd_kafka_incremental_assign(rk, parts);

        if (error != NULL) {
            chat_worker_log(CHAT_LOG_ERROR, "kafka: assign: %s",
                            rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }

    } else {
        err = rd_kafka_assign(rk, parts);

        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            chat_worker_log(CHAT_LOG_ERROR, "kafka: assign: %s",
                            rd_kafka_err2str(err));
        }
    }

    if (!k->ready) {
        k->ready = 1;
        chat_worker_log(CHAT_LOG_INFO, "ready");
    }
}


static int64_t
chat_worker_kafka_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* The answer to an async commit: a failed one is tried at the next. */

static void
chat_worker_kafka_committed(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    chat_worker_kafka_t  *k = opaque;

    (void) rk;
    (void) offsets;

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR
        && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    {
        chat_worker_log(CHAT_LOG_WARN, "kafka: commit: %s",
                        rd_kafka_err2str(err));
        k->uncommitted = 1;
    }
}


/*
 * Syncs the store, then commits the offsets stored since the last commit:
 * waiting for the answer, or answered in chat_worker_kafka_committed().
 * A commit that fails is made again at the next (the offsets of the
 * partitions kept through a cooperative revocation are still to commit).
 * A failed sync commits nothing and is fatal (chat_worker_kafka_failed()),
 * and nothing is committed after a fatal error: a sync that succeeds
 * after one that failed proves nothing (the kernel may have dropped the
 * pages it could not write).
 */

static rd_kafka_resp_err_t
chat_worker_kafka_commit(chat_worker_kafka_t *k, int wait)
{
    rd_kafka_resp_err_t  err;

    if (k->failed) {
        return RD_KAFKA_RESP_ERR__FAIL;
    }

    if (!k->uncommitted) {
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    }

    if (k->sync(k->data) != 0) {
        k->failed = 1;
        return RD_KAFKA_RESP_ERR__FAIL;
    }

    k->uncommitted = 0;
    k->next_commit = chat_worker_kafka_now() + k->commit_interval;

    err = wait ? rd_kafka_commit(k->rk, NULL, 0)
               : rd_kafka_commit_queue(k->rk, NULL, k->queue,
                                       chat_worker_kafka_committed, k);

    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    }

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        k->uncommitted = 1;
    }

    return err;
}


void
chat_worker_kafka_commit_due(chat_worker_kafka_t *k)
{
    rd_kafka_resp_err_t  err;

    if (!k->uncommitted || chat_worker_kafka_now() < k->next_commit) {
        return;
    }

    err = chat_worker_kafka_commit(k, 0);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && !k->failed) {
        chat_worker_log(CHAT_LOG_WARN, "kafka: commit: %s",
                        rd_kafka_err2str(err));
    }
}


/*
 * Partitions are going: the batch in hand is finished first, and what it
 * stored is synced and committed while the partitions are still ours.
 */

static void
chat_worker_kafka_revoke(chat_worker_kafka_t *k, rd_kafka_t *rk,
    rd_kafka_topic_partition_list_t *parts, int cooperative)
{
    rd_kafka_error_t     *error;
    rd_kafka_resp_err_t   err;

    chat_worker_kafka_log_parts("revoking", parts);

    k->flush(k->data);

    if (!rd_kafka_assignment_lost(rk)) {
        err = chat_worker_kafka_commit(k, 1);

        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            chat_worker_log(CHAT_LOG_WARN, "kafka: commit before revoke: %s",
                            rd_kafka_err2str(err));
        }
    }

    if (cooperative) {
        error = rd_kafka_incremental_unassign(rk, parts);

        if (error != NULL) {
            chat_worker_log(CHAT_LOG_ERROR, "kafka: unassign: %s",
                            rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }

    } else {
        rd_kafka_assign(rk, NULL);
    }
}


static void
chat_worker_kafka_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    int                   cooperative;
    chat_worker_kafka_t  *k = opaque;

    cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

    switch (err) {

    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        chat_worker_kafka_assign(k, rk, parts, cooperative);
        break;

    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        chat_worker_kafka_revoke(k, rk, parts, cooperative);
        break;

    default:
        chat_worker_log(CHAT_LOG_ERROR, "kafka: rebalance: %s",
                        rd_kafka_err2str(err));
        k->flush(k->data);
        rd_kafka_assign(rk, NULL);
        break;
    }

    /* rd_kafka_assignment() may never answer from the revocation of
     * rd_kafka_consumer_close() (librdkafka 2.0): the group is going */

    if (k->closing) {
        k->nassigned = 0;
        return;
    }

    chat_worker_kafka_keep_assignment(k);
}


static int
chat_worker_kafka_set(rd_kafka_conf_t *conf, const char *name,
    const char *value, char *err, size_t errlen)
{
    char  reason[512];

    if (rd_kafka_conf_set(conf, name, value, reason, sizeof(reason))
        != RD_KAFKA_CONF_OK)
    {
        snprintf(err, errlen, "kafka option %s=%s: %s", name, value, reason);
        return -1;
    }

    return 0;
}


static rd_kafka_conf_t *
chat_worker_kafka_conf(chat_worker_kafka_t *k, const chat_worker_conf_t *cf,
    char *err, size_t errlen)
{
    char              interval[32];
    size_t            i, size;
    rd_kafka_conf_t  *conf;

    conf = rd_kafka_conf_new();

    for (i = 0; chat_worker_kafka_defaults[i][0] != NULL; i++) {
        if (chat_worker_kafka_set(conf, chat_worker_kafka_defaults[i][0],
                                  chat_worker_kafka_defaults[i][1], err,
                                  errlen) != 0)
        {
            goto failed;
        }
    }

    if (chat_worker_kafka_set(conf, "bootstrap.servers", cf->brokers, err,
                              errlen) != 0
        || chat_worker_kafka_set(conf, "group.id", cf->group, err, errlen)
           != 0)
    {
        goto failed;
    }

    for (i = 0; i < cf->nkafka_options; i++) {

        /* offsets stored before the store has the records, or committed
         * before it synced them, lose them */

        if (strcmp(cf->kafka_options[i].name, "enable.auto.offset.store")
            == 0
            || strcmp(cf->kafka_options[i].name, "enable.auto.commit") == 0)
        {
            snprintf(err, errlen, "kafka option %s: chat-worker stores and "
                     "commits offsets itself", cf->kafka_options[i].name);
            goto failed;
        }

        if (chat_worker_kafka_set(conf, cf->kafka_options[i].name,
                                  cf->kafka_options[i].value, err, errlen)
            != 0)
        {
            goto failed;
        }
    }

    if (chat_worker_kafka_set(conf, "enable.auto.commit", "false", err,
                              errlen) != 0)
    {
        goto failed;
    }

    size = sizeof(interval);

    if (rd_kafka_conf_get(conf, "auto.commit.interval.ms", interval, &size)
        != RD_KAFKA_CONF_OK)
    {
        snprintf(err, errlen, "kafka option auto.commit.interval.ms: "
                 "unreadable");
        goto failed;
    }

    k->commit_interval = strtoll(interval, NULL, 10);

    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_rebalance_cb(conf, chat_worker_kafka_rebalance);
    rd_kafka_conf_set_log_cb(conf, chat_worker_kafka_logger);

    return conf;

failed:

    rd_kafka_conf_destroy(conf);

    return NULL;
}


chat_worker_kafka_t *
chat_worker_kafka_open(const chat_worker_conf_t *cf,
    chat_worker_kafka_flush_pt flush, chat_worker_kafka_sync_pt sync,
    void *data, char *err, size_t errlen)
{
    rd_kafka_conf_t      *conf;
    chat_worker_kafka_t  *k;

    k = calloc(1, sizeof(chat_worker_kafka_t));
    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    k->flush = flush;
    k->sync = sync;
    k->data = data;
    k->max = (size_t) cf->batch;

    k->msgs = calloc(k->max, sizeof(rd_kafka_message_t *));
    if (k->msgs == NULL) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }

    conf = chat_worker_kafka_conf(k, cf, err, errlen);
    if (conf == NULL) {
        goto failed;
    }

    /* rd_kafka_new() owns conf on success only */

    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (k->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        goto failed;
    }

    /* one queue: records, rebalances, errors and commits' answers all
     * come from poll */
    rd_kafka_poll_set_consumer(k->rk);
    k->queue = rd_kafka_queue_get_consumer(k->rk);

    return k;

failed:

    free(k->msgs);
    free(k);

    return NULL;
}


int
chat_worker_kafka_subscribe(chat_worker_kafka_t *k, const char *topic,
    char *err, size_t errlen)
{
    rd_kafka_resp_err_t               rc;
    rd_kafka_topic_partition_list_t  *topics;

    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);

    rc = rd_kafka_subscribe(k->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);

    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka: subscribe to %s: %s", topic,
                 rd_kafka_err2str(rc));
        return -1;
    }

    return 0;
}


/* A consumer error event: logged; a fatal one stops the worker. */

static void
chat_worker_kafka_error(chat_worker_kafka_t *k, rd_kafka_message_t *msg)
{
    char  reason[512];

    if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(k->rk, reason, sizeof(reason));
        chat_worker_log(CHAT_LOG_ERROR, "kafka: fatal: %s", reason);
        k->failed = 1;
        return;
    }

    chat_worker_log(CHAT_LOG_WARN, "kafka: %s", rd_kafka_message_errstr(msg));
}


size_t
chat_worker_kafka_fill(chat_worker_kafka_t *k, int timeout_ms)
{
    int                  timeout;
    rd_kafka_message_t  *msg;

    timeout = k->n ? 0 : timeout_ms;

    while (k->n < k->max && !k->failed) {
        msg = rd_kafka_consumer_poll(k->rk, timeout);

        if (msg == NULL) {
            break;
        }

        /* only the first poll waits, whatever it returned */
        timeout = 0;

        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            chat_worker_kafka_error(k, msg);
            rd_kafka_message_destroy(msg);
            continue;
        }

        /* a rebalance during the poll may have flushed the batch: k->n
         * is read again here */
        k->msgs[k->n++] = msg;
    }

    return k->n;
}


rd_kafka_message_t **
chat_worker_kafka_records(chat_worker_kafka_t *k, size_t *n)
{
    *n = k->n;

    return k->msgs;
}


/* Adds the offset after msg to parts, keeping each partition's highest. */

static void
chat_worker_kafka_offset(rd_kafka_topic_partition_list_t *parts,
    const rd_kafka_message_t *msg)
{
    const char                  *topic;
    rd_kafka_topic_partition_t  *p;

    topic = rd_kafka_topic_name(msg->rkt);
    p = rd_kafka_topic_partition_list_find(parts, topic, msg->partition);

    if (p == NULL) {
        p = rd_kafka_topic_partition_list_add(parts, topic, msg->partition);
        p->offset = msg->offset + 1;

    } else if (p->offset < msg->offset + 1) {
        p->offset = msg->offset + 1;
    }
}


void
chat_worker_kafka_done(chat_worker_kafka_t *k)
{
    int                               i;
    size_t                            j;
    rd_kafka_resp_err_t               err;
    rd_kafka_topic_partition_list_t  *parts;

    if (k->n == 0) {
        return;
    }

    parts = rd_kafka_topic_partition_list_new(4);

    for (j = 0; j < k->n; j++) {
        chat_worker_kafka_offset(parts, k->msgs[j]);
    }

    /* fails for a partition no longer assigned (a session that timed out
     * while the store was down): its new owner applies the records again,
     * which is idempotent */

    err = rd_kafka_offsets_store(k->rk, parts);

    /* some may have been stored even when one partition failed */
    k->uncommitted = 1;

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (i = 0; i < parts->cnt; i++) {
            if (parts->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                chat_worker_log(CHAT_LOG_WARN, "kafka: storing the offset "
                                "of %s[%d]: %s", parts->elems[i].topic,
                                (int) parts->elems[i].partition,
                                rd_kafka_err2str(parts->elems[i].err));
            }
        }
    }

    rd_kafka_topic_partition_list_destroy(parts);

    chat_worker_kafka_drop(k);
}


void
chat_worker_kafka_drop(chat_worker_kafka_t *k)
{
    size_t  j;

    for (j = 0; j < k->n; j++) {
        rd_kafka_message_destroy(k->msgs[j]);
    }

    k->n = 0;
}


int
chat_worker_kafka_failed(chat_worker_kafka_t *k)
{
    return k->failed;
}


const int32_t *
chat_worker_kafka_assigned(chat_worker_kafka_t *k, size_t *n)
{
    *n = k->nassigned;

    return k->assigned;
}


int
chat_worker_kafka_close(chat_worker_kafka_t *k)
{
    int                  rc;
    rd_kafka_resp_err_t  err;

    rc = 0;

    err = chat_worker_kafka_commit(k, 1);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        chat_worker_log(CHAT_LOG_ERROR, "kafka: final commit: %s",
                        rd_kafka_err2str(err));
        rc = -1;
    }

    /* leaves the group: the revocation's flush finds nothing in hand */

    k->closing = 1;
    err = rd_kafka_consumer_close(k->rk);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        chat_worker_log(CHAT_LOG_WARN, "kafka: close: %s",
                        rd_kafka_err2str(err));
    }

    chat_worker_kafka_drop(k);
    rd_kafka_queue_destroy(k->queue);
    rd_kafka_destroy(k->rk);

    free(k->assigned);
    free(k->msgs);
    free(k);

    return rc;
}
