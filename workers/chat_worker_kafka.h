/*
 * chat-worker's Kafka consumer: one member of the consumer group on the
 * topic of writes, holding the records of the batch in hand until they are
 * applied.
 *
 * Offsets are stored only by chat_worker_kafka_done(), which the caller
 * calls once the batch is in the store and published: at-least-once in, the
 * apply being idempotent. They are committed by chat_worker_kafka_commit_due()
 * (every auto.commit.interval.ms), before a revocation and at the close,
 * each time after the sync callback has made the store durable.
 *
 * Everything runs on the caller's thread: librdkafka calls back (rebalance)
 * only from inside chat_worker_kafka_fill() or chat_worker_kafka_close().
 */

#ifndef CHAT_WORKER_KAFKA_H
#define CHAT_WORKER_KAFKA_H

#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "chat_worker_conf.h"


typedef struct chat_worker_kafka_s  chat_worker_kafka_t;

/*
 * Called before partitions are taken away (rebalance, close), while the
 * records in hand are still from the partitions assigned: the caller must
 * apply them and call chat_worker_kafka_done(), or drop them.
 */
typedef void (*chat_worker_kafka_flush_pt)(void *data);

/* Makes durable what the records let go by chat_worker_kafka_done() changed
 * (chat_store_sync()); 0, or -1 when it could not. */
typedef int (*chat_worker_kafka_sync_pt)(void *data);


/* librdkafka's log callback of the worker's clients: their lines in the
 * worker's log, at the matching level. */
void chat_worker_kafka_logger(const rd_kafka_t *rk, int level,
    const char *fac, const char *buf);

/* Creates the consumer (checking every option); it joins the group only
 * at chat_worker_kafka_subscribe(). */
chat_worker_kafka_t *chat_worker_kafka_open(const chat_worker_conf_t *conf,
    chat_worker_kafka_flush_pt flush, chat_worker_kafka_sync_pt sync,
    void *data, char *err, size_t errlen);

int chat_worker_kafka_subscribe(chat_worker_kafka_t *k, const char *topic,
    char *err, size_t errlen);

/*
 * Adds records to the batch in hand, up to the conf's batch size: waits up
 * to timeout_ms for the first one, then takes only what has already
 * arrived. Returns the number in hand. Errors of the consumer are logged;
 * a fatal one sets chat_worker_kafka_failed().
 */
size_t chat_worker_kafka_fill(chat_worker_kafka_t *k, int timeout_ms);

/* The records in hand, in the order of each partition. */
rd_kafka_message_t **chat_worker_kafka_records(chat_worker_kafka_t *k,
    size_t *n);

/* Stores the offsets after the records in hand, then lets them go. */
void chat_worker_kafka_done(chat_worker_kafka_t *k);

/* Once auto.commit.interval.ms has passed since the last commit and
 * offsets were stored since: syncs and commits them, without waiting for
 * the answer. A failed sync sets chat_worker_kafka_failed(). */
void chat_worker_kafka_commit_due(chat_worker_kafka_t *k);

/* Lets the records in hand go without storing their offsets: they are
 * consumed again after the next rebalance or restart. */
void chat_worker_kafka_drop(chat_worker_kafka_t *k);

/* The partitions of the topic assigned to this worker now, as of the
 * last rebalance callback; valid until the next chat_worker_kafka_fill(). */
const int32_t *chat_worker_kafka_assigned(chat_worker_kafka_t *k, size_t *n);

/* 1 after a fatal error of the consumer or of a sync: the process must
 * exit. */
int chat_worker_kafka_failed(chat_worker_kafka_t *k);

/*
 * Syncs and commits the stored offsets synchronously, leaves the group (the flush
 * callback runs for the revocation) and frees k. Returns 0, or -1 when the
 * commit failed.
 */
int chat_worker_kafka_close(chat_worker_kafka_t *k);

#endif /* CHAT_WORKER_KAFKA_H */
