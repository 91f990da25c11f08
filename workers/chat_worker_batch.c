/*
 * One batch of chat-worker: apply, publish, store offsets.
 */

#include <errno.h>
#include <string.h>
#include <time.h>

#include "chat_worker_apply.h"
#include "chat_worker_batch.h"
#include "chat_worker_fault.h"
#include "chat_worker_log.h"
#include "chat_worker_push_due.h"


#define CHAT_WORKER_RETRY_MIN  100      /* ms */
#define CHAT_WORKER_RETRY_MAX  5000


void
chat_worker_batch_init(chat_worker_batch_t *b, const chat_worker_conf_t *conf,
    chat_store_t *store, chat_worker_redis_t *redis,
    volatile sig_atomic_t *stop)
{
    memset(b, 0, sizeof(*b));

    b->conf = conf;
    b->store = store;
    b->redis = redis;
    b->stop = stop;

    b->media_key.data = conf->media_secret;
    b->media_key.len = conf->media_secret_len;

    chat_worker_out_init(&b->out);
}


void
chat_worker_batch_free(chat_worker_batch_t *b)
{
    chat_worker_fault_free(&b->poison);
    chat_worker_out_free(&b->out);
}


static double
chat_worker_batch_ms(const struct timespec *since)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (now.tv_sec - since->tv_sec) * 1e3
           + (now.tv_nsec - since->tv_nsec) / 1e6;
}


/* The wall clock in ms, the clock of the messages' ts and expires. */

static int64_t
chat_worker_batch_wall_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* Sleeps ms, or less when a signal comes. */

static void
chat_worker_batch_sleep(int64_t ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;

    if (nanosleep(&ts, NULL) != 0 && errno != EINTR) {
        /* never: ts is valid */
    }
}


/*
 * A record skipped for its content: logged with where it is and why,
 * counted with the batch, and held for the dead-letter topic.
 */

static void
chat_worker_batch_skip(chat_worker_batch_t *b, rd_kafka_message_t *msg,
    const char *reason)
{
    chat_worker_log(CHAT_LOG_WARN, "skipped %s[%d]@%lld: %s",
                    rd_kafka_topic_name(msg->rkt), (int) msg->partition,
                    (long long) msg->offset, reason);

    if (chat_worker_dead_hold(b->dead, msg, reason) != 0) {
        chat_worker_log(CHAT_LOG_WARN, "%s[%d]@%lld: no memory to hold it "
                        "for the dead-letter topic",
                        rd_kafka_topic_name(msg->rkt), (int) msg->partition,
                        (long long) msg->offset);
    }
}


/* Parses and applies one record (and its push state); the apply code. */

static int
chat_worker_batch_apply_one(chat_worker_batch_t *b, rd_kafka_message_t *msg,
    const char **reason)
{
    int                    rc;
    chat_worker_limits_t   limits;
    chat_record_t          rec;
    chat_worker_result_t   res;

    limits.sync_limit = b->conf->sync_limit;
    limits.group_max = b->conf->group_max_members;

    /* the clock of the record: what is expired, how long URLs live */
    limits.now_ms = chat_worker_batch_wall_ms();
    limits.sign.key = b->media_key.data ? &b->media_key : NULL;
    limits.sign.url_expiry = limits.now_ms / 1000 + b->conf->media_url_ttl;

    if (chat_record_decode(msg->payload, msg->len, &rec, reason)
        != 0)
    {
        rc = CHAT_WORKER_SKIPPED;

    } else {
        rc = chat_worker_apply(b->store, &rec, &limits, &b->out, &res);

        if (rc == CHAT_WORKER_APPLIED) {
            rc = chat_worker_push_due(b->store, b->conf, &rec,
                                      msg->partition, &res);
        }

        *reason = res.reason ? res.reason : "no reason given";
    }

    chat_record_free(&rec);

    return rc;
}


/*
 * Applies one record, sorted by chat_worker_fault_sort(): returns 0 for an
 * applied one, 1 for one skipped for its content (its offset moves on with
 * the batch), -1 when the store failed. A record that failed for its
 * content half-way (a store error about its data, after some of its
 * writes) returns -2: the batch is rolled back and run again at once
 * without it, so that nothing of it stays.
 */

static int
chat_worker_batch_record(chat_worker_batch_t *b, rd_kafka_message_t *msg)
{
    int          rc;
    const char  *reason;

    /* failed half-way for its content in an earlier run of this batch */
    reason = chat_worker_fault_find(&b->poison, msg);

    if (reason != NULL) {
        chat_worker_batch_skip(b, msg, reason);
        return 1;
    }

    /* what the store says from here on is about this record */
    chat_store_clear_error(b->store);

    rc = chat_worker_batch_apply_one(b, msg, &reason);

    switch (chat_worker_fault_sort(b->store, rc)) {

    case CHAT_WORKER_RETRY:
        chat_worker_log(CHAT_LOG_ERROR, "store: %s[%d]@%lld: %s",
                        rd_kafka_topic_name(msg->rkt), (int) msg->partition,
                        (long long) msg->offset, reason);
        return -1;

    case CHAT_WORKER_SKIP:
        if (rc == CHAT_WORKER_FAILED) {
            return chat_worker_fault_add(&b->poison, msg, reason) == 0
                   ? -2 : -1;
        }

        chat_worker_batch_skip(b, msg, reason);
        return 1;

    default:
        return 0;
    }
}


/* The records in hand in one transaction; 0, or after a rollback -1 (the
 * store failed) or -2 (run it again now: a record is to be left out). */

static int
chat_worker_batch_apply(chat_worker_batch_t *b, rd_kafka_message_t **msgs,
    size_t n, uint64_t *skipped)
{
    int     rc;
    size_t  i;

    chat_worker_out_reset(&b->out);
    chat_worker_dead_reset(b->dead);
    *skipped = 0;

    if (chat_store_begin(b->store) != CHAT_STORE_OK) {
        chat_worker_log(CHAT_LOG_ERROR, "store: %s",
                        chat_store_errstr(b->store));
        return -1;
    }

    for (i = 0; i < n; i++) {
        rc = chat_worker_batch_record(b, msgs[i]);

        if (rc < 0) {
            goto failed;
        }

        *skipped += (uint64_t) rc;
    }

    if (chat_store_commit(b->store) == CHAT_STORE_OK) {
        return 0;
    }

    chat_worker_log(CHAT_LOG_ERROR, "store: %s", chat_store_errstr(b->store));
    rc = -1;

failed:

    if (chat_store_rollback(b->store) != CHAT_STORE_OK) {
        chat_worker_log(CHAT_LOG_ERROR, "store: %s",
                        chat_store_errstr(b->store));
    }

    chat_worker_out_reset(&b->out);
    chat_worker_dead_reset(b->dead);

    return rc;
}


int
chat_worker_batch_run(chat_worker_batch_t *b)
{
    int                   rc, published;
    size_t                n;
    int64_t               backoff;
    uint64_t              skipped;
    struct timespec       start;
    rd_kafka_message_t  **msgs;

    msgs = chat_worker_kafka_records(b->kafka, &n);

    if (n == 0) {
        return 0;
    }

    clock_gettime(CLOCK_MONOTONIC, &start);
    backoff = CHAT_WORKER_RETRY_MIN;

    b->poison.n = 0;

    while ((rc = chat_worker_batch_apply(b, msgs, n, &skipped)) != 0) {

        if (rc == -2) {
            continue;       /* at most once per record of the batch */
        }

        if (*b->stop) {
            chat_worker_log(CHAT_LOG_ERROR, "stopping with a batch of %zu "
                            "records not stored; they are consumed again "
                            "at the next start", n);
            chat_worker_kafka_drop(b->kafka);
            b->gave_up = 1;
            return -1;
        }

        chat_worker_log(CHAT_LOG_WARN, "batch of %zu records not stored, "
                        "retrying in %lld ms", n, (long long) backoff);

        chat_worker_batch_sleep(backoff);

        backoff = backoff * 2 < CHAT_WORKER_RETRY_MAX ? backoff * 2
                                                      : CHAT_WORKER_RETRY_MAX;
    }

    /* in the store: publish (best effort), then let the offsets go; the
     * records skipped go to the dead-letter topic before their offsets,
     * which they point into, are let go */

    published = chat_worker_redis_publish(b->redis, &b->out);
    b->dead_lettered += chat_worker_dead_send(b->dead);

    chat_worker_kafka_done(b->kafka);

    b->records += n;
    b->skipped += skipped;
    b->published += published > 0 ? (uint64_t) published : 0;

    chat_worker_log(CHAT_LOG_DEBUG, "batch: %zu records, %llu skipped, "
                    "%zu publishes (%d sent), %.2f ms", n,
                    (unsigned long long) skipped, b->out.npubs, published,
                    chat_worker_batch_ms(&start));

    chat_worker_out_reset(&b->out);

    return 0;
}


void
chat_worker_batch_flush(void *data)
{
    chat_worker_batch_t  *b = data;

    /* a failure has dropped the records: consumed again by the next
     * owner of their partitions */
    (void) chat_worker_batch_run(b);
}


int
chat_worker_batch_sync(void *data)
{
    chat_worker_batch_t  *b = data;

    if (chat_store_sync(b->store) != CHAT_STORE_OK) {
        chat_worker_log(CHAT_LOG_ERROR, "store: %s",
                        chat_store_errstr(b->store));
        return -1;
    }

    return 0;
}
