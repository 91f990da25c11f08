/*
 * chat-worker's Redis publisher: sends a batch's publishes in one pipeline
 * over a blocking hiredis connection (a worker has nothing else to do while
 * it waits).
 *
 * Redis being down never stops the worker: the messages are in the store,
 * and clients get them by their next sync. A lost connection is dropped,
 * and connecting again is tried at the next batch after a backoff (100 ms
 * doubling to 5 s); no attempt, nor any reply, is waited for longer than
 * the configured timeout.
 */

#ifndef CHAT_WORKER_REDIS_H
#define CHAT_WORKER_REDIS_H

#include "chat_worker_conf.h"
#include "chat_worker_out.h"


typedef struct chat_worker_redis_s  chat_worker_redis_t;


/* Does not connect yet; NULL when out of memory. */
chat_worker_redis_t *chat_worker_redis_new(const chat_worker_conf_t *conf);

/*
 * Publishes every pair of out, in order. Returns how many Redis took, or
 * -1 when it could not be reached (none or only some were sent).
 */
int chat_worker_redis_publish(chat_worker_redis_t *r,
    const chat_worker_out_t *out);

void chat_worker_redis_free(chat_worker_redis_t *r);

#endif /* CHAT_WORKER_REDIS_H */
