/*
 * One batch of chat-worker: the records in hand are applied in one store
 * transaction, then published in one Redis pipeline, then their offsets
 * are stored for the next commit (docs/INTERNALS.md: "one store transaction
 * per batch, then the publishes, then the offsets are stored for commit").
 */

#ifndef CHAT_WORKER_BATCH_H
#define CHAT_WORKER_BATCH_H

#include <signal.h>
#include <stdint.h>

#include "chat_media.h"
#include "chat_store.h"
#include "chat_worker_conf.h"
#include "chat_worker_dead.h"
#include "chat_worker_fault.h"
#include "chat_worker_kafka.h"
#include "chat_worker_out.h"
#include "chat_worker_redis.h"


typedef struct {
    const chat_worker_conf_t      *conf;
    chat_store_t                  *store;
    chat_worker_redis_t           *redis;
    chat_worker_kafka_t           *kafka;
    chat_worker_dead_t            *dead;      /* NULL: dead letters off */
    volatile sig_atomic_t         *stop;      /* set by SIGTERM, SIGINT */

    chat_worker_out_t              out;

    /* conf's media key, as frames sign with it; key.data NULL: none */
    chat_media_key_t               media_key;

    /* the records of the batch in hand that failed half-way for their
     * content: the batch runs again without them */
    chat_worker_fault_list_t       poison;

    uint64_t                       records;   /* totals, for the log */
    uint64_t                       skipped;   /* for their content */
    uint64_t                       dead_lettered;
    uint64_t                       published;
    int                            gave_up;   /* a batch was dropped */
} chat_worker_batch_t;


void chat_worker_batch_init(chat_worker_batch_t *b,
    const chat_worker_conf_t *conf, chat_store_t *store,
    chat_worker_redis_t *redis, volatile sig_atomic_t *stop);

/*
 * Runs the batch in hand (nothing when there is none). A record that
 * cannot be applied for its content is skipped (chat_worker_fault.h).
 * While the store fails, the whole batch is retried with a backoff (100 ms
 * doubling to 5 s) and no offset moves: a record that failed to store is
 * never skipped.
 * Returns 0, or -1 when *stop was set while the store was failing: the
 * records are then dropped, to be consumed again after a restart.
 */
int chat_worker_batch_run(chat_worker_batch_t *b);

/* chat_worker_kafka_flush_pt: runs the batch in hand before a revocation. */
void chat_worker_batch_flush(void *data);

/* chat_worker_kafka_sync_pt: makes the store durable (chat_store_sync()). */
int chat_worker_batch_sync(void *data);

void chat_worker_batch_free(chat_worker_batch_t *b);

#endif /* CHAT_WORKER_BATCH_H */
