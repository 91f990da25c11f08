/*
 * chat-worker: consumes the topic of writes, applies each record to the
 * store (dedupe, seq, watermarks, pending) and publishes what clients must
 * see to their Redis channels. Any number may run: they share the work as
 * one Kafka consumer group, and the store (one SQLite file per machine, or
 * later PostgreSQL).
 *
 * The loop: gather a batch (up to --batch records, without waiting once the
 * first is there), apply it in one transaction, publish, store the offsets;
 * between two batches, move the push hook's POSTs on (chat_worker_push.h)
 * and run the cleanup job when it is due (chat_worker_cleanup.h).
 * SIGTERM or SIGINT: the batch in hand is finished, the offsets committed,
 * the group left, and the process exits 0; if that takes more than
 * CHAT_WORKER_STOP_TIMEOUT seconds, it exits 2.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_worker_batch.h"
#include "chat_worker_cleanup.h"
#include "chat_worker_conf.h"
#include "chat_worker_dead.h"
#include "chat_worker_kafka.h"
#include "chat_worker_log.h"
#include "chat_worker_push.h"
#include "chat_worker_redis.h"
#include "chat_version.h"


#define CHAT_WORKER_STOP_TIMEOUT  10     /* s */
#define CHAT_WORKER_POLL_MS       100    /* how soon a signal is seen */
#define CHAT_WORKER_POLL_BUSY_MS  5      /* how soon a push POST moves on */
#define CHAT_WORKER_DEAD_FLUSH_MS 2000   /* dead letters in flight at exit */


static volatile sig_atomic_t  chat_worker_stop;


static void
chat_worker_on_signal(int signo)
{
    (void) signo;

    if (!chat_worker_stop) {
        chat_worker_stop = 1;
        alarm(CHAT_WORKER_STOP_TIMEOUT);
    }
}


static void
chat_worker_on_alarm(int signo)
{
    static const char  msg[] = "chat-worker: stopping took too long, "
                               "exiting\n";

    (void) signo;

    if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        /* exiting anyway */
    }

    _exit(2);
}


static int
chat_worker_signals(void)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);

    /* no SA_RESTART: a retry backoff's sleep ends at the signal */
    sa.sa_handler = chat_worker_on_signal;

    if (sigaction(SIGTERM, &sa, NULL) != 0
        || sigaction(SIGINT, &sa, NULL) != 0)
    {
        return -1;
    }

    sa.sa_handler = chat_worker_on_alarm;

    if (sigaction(SIGALRM, &sa, NULL) != 0) {
        return -1;
    }

    /* a Redis connection closed under a write is an error, not a death */
    sa.sa_handler = SIG_IGN;

    return sigaction(SIGPIPE, &sa, NULL);
}


/*
 * Gathers and runs batches until a signal or a fatal consumer error; the
 * pusher (NULL when push is off) and the cleanup job move on between two
 * batches, outside their transactions.
 */

static int
chat_worker_loop(chat_worker_batch_t *b, chat_worker_kafka_t *k,
    chat_worker_push_t *push, chat_worker_cleanup_t *cleanup)
{
    int             timeout;
    size_t          nparts;
    const int32_t  *parts;

    while (!chat_worker_stop) {

        if (chat_worker_kafka_failed(k)) {
            return -1;
        }

        parts = chat_worker_kafka_assigned(k, &nparts);
        chat_worker_push_run(push, parts, nparts);
        chat_worker_cleanup_run(cleanup);

        /* the POSTs on the wire move only when the loop comes by */
        timeout = chat_worker_push_busy(push) ? CHAT_WORKER_POLL_BUSY_MS
                                              : CHAT_WORKER_POLL_MS;

        if (chat_worker_kafka_fill(k, timeout) > 0
            && chat_worker_batch_run(b) != 0)
        {
            return -1;
        }

        chat_worker_kafka_commit_due(k);
    }

    return 0;
}


static int
chat_worker_run(const chat_worker_conf_t *conf)
{
    int                     rc;
    char                    err[512];
    char                    where[256];
    chat_store_t           *store;
    chat_worker_kafka_t    *k;
    chat_worker_push_t     *push;
    chat_worker_redis_t    *redis;
    chat_worker_batch_t     b;
    chat_worker_cleanup_t   cleanup;

    /* the consumer first, so that a bad option fails before any file is
     * created; it joins the group once the store is open */

    chat_worker_batch_init(&b, conf, NULL, NULL, &chat_worker_stop);

    store = NULL;
    redis = NULL;
    push = NULL;

    k = chat_worker_kafka_open(conf, chat_worker_batch_flush,
                               chat_worker_batch_sync, &b, err, sizeof(err));
    if (k == NULL) {
        chat_worker_log(CHAT_LOG_ERROR, "%s", err);
        rc = 1;
        goto done;
    }

    store = chat_store_open(conf->store, err, sizeof(err));
    if (store == NULL) {
        chat_worker_log(CHAT_LOG_ERROR, "%s", err);
        goto failed;
    }

    redis = chat_worker_redis_new(conf);
    if (redis == NULL) {
        chat_worker_log(CHAT_LOG_ERROR, "out of memory");
        goto failed;
    }

    if (chat_worker_push_open(conf, store, &push, err, sizeof(err)) != 0) {
        chat_worker_log(CHAT_LOG_ERROR, "%s", err);
        goto failed;
    }

    b.dead = chat_worker_dead_open(conf, err, sizeof(err));
    if (b.dead == NULL && err[0]) {
        chat_worker_log(CHAT_LOG_ERROR, "%s", err);
        goto failed;
    }

    b.kafka = k;
    b.store = store;
    b.redis = redis;

    if (chat_worker_kafka_subscribe(k, conf->topic, err, sizeof(err)) != 0) {
        chat_worker_log(CHAT_LOG_ERROR, "%s", err);
        goto failed;
    }

    chat_worker_cleanup_init(&cleanup, conf, store);
    chat_store_uri_redacted(conf->store, where, sizeof(where));

    chat_worker_log(CHAT_LOG_INFO, "started: brokers %s, topic %s, group %s, "
                    "store %s, redis %s, dead letters %s, media %s, "
                    "cleanup %s", conf->brokers,
                    conf->topic, conf->group, where, conf->redis,
                    conf->dead_letter ? conf->dead_letter : "off",
                    conf->media_secret ? "on" : "off (no media key)",
                    conf->cleanup_interval == 0 ? "off"
                    : conf->media_dir ? "on"
                    : "on (no media dir: media not swept)");

    rc = chat_worker_loop(&b, k, push, &cleanup) == 0 ? 0 : 1;

    /* before the batch: POSTs answered now are recorded, not sent again */
    chat_worker_push_close(push);
    push = NULL;

    chat_worker_log(CHAT_LOG_INFO, "stopping: %llu records consumed, %llu "
                    "skipped (%llu to the dead-letter topic), %llu "
                    "publishes",
                    (unsigned long long) b.records,
                    (unsigned long long) b.skipped,
                    (unsigned long long) b.dead_lettered,
                    (unsigned long long) b.published);

    /* the batch in hand when a fatal error came, if any */
    chat_worker_batch_run(&b);

    if (chat_worker_kafka_close(k) != 0 || b.gave_up) {
        rc = 1;
    }

done:

    chat_worker_dead_close(b.dead, CHAT_WORKER_DEAD_FLUSH_MS);
    chat_worker_batch_free(&b);
    chat_worker_push_close(push);
    chat_worker_redis_free(redis);
    chat_store_close(store);

    return rc;

failed:

    /* not polled yet: no callback can come */
    chat_worker_kafka_close(k);
    rc = 1;
    goto done;
}


int
main(int argc, char **argv)
{
    int                 rc;
    char                err[1024];
    chat_worker_conf_t  conf;

    rc = chat_worker_conf_parse(&conf, argc, argv, err, sizeof(err));

    if (rc != 0) {
        if (rc == 2) {
            printf("chat-worker " CHAT_VERSION "\n");

        } else if (rc > 0) {
            chat_worker_conf_usage(stdout, argv[0]);

        } else {
            fprintf(stderr, "chat-worker: %s\n", err);
        }

        chat_worker_conf_free(&conf);
        return rc > 0 ? 0 : 1;
    }

    chat_worker_log_set_level((chat_log_level_e) conf.log_level);

    if (chat_worker_signals() != 0) {
        chat_worker_log(CHAT_LOG_ERROR, "sigaction failed");
        chat_worker_conf_free(&conf);
        return 1;
    }

    rc = chat_worker_run(&conf);

    chat_worker_conf_free(&conf);

    if (rc == 0) {
        chat_worker_log(CHAT_LOG_INFO, "stopped");
    }

    return rc;
}
