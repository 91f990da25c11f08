/*
 * The handles chat-api's threads read with: a store handle (one thread at
 * a time may use one) and a Redis connection, in slots that a request
 * takes for the time of its answer. There are as many slots as threads
 * serving requests, so that a request never waits for one.
 */

#ifndef CHAT_API_POOL_H
#define CHAT_API_POOL_H

#include <pthread.h>
#include <hiredis/hiredis.h>

#include "chat_api_conf.h"
#include "chat_store.h"


typedef struct {
    chat_store_t         *store;
    redisContext         *redis;     /* NULL until used, or after a fault */
    chat_redis_cluster_t *cluster;   /* --redis-cluster: NULL until used */
    int                   busy;
} chat_api_slot_t;

typedef struct {
    pthread_mutex_t       lock;
    pthread_cond_t        freed;
    chat_api_slot_t      *slots;
    size_t                n;
} chat_api_pool_t;


/* Opens n store handles on conf->store; -1 with a reason in err. */
int chat_api_pool_open(chat_api_pool_t *pool, const chat_api_conf_t *conf,
    size_t n, char *err, size_t errlen);

/* Takes a free slot, waiting for one if need be. */
chat_api_slot_t *chat_api_pool_get(chat_api_pool_t *pool);

void chat_api_pool_put(chat_api_pool_t *pool, chat_api_slot_t *slot);

/* Closes every handle; no slot may be taken. */
void chat_api_pool_close(chat_api_pool_t *pool);

#endif /* CHAT_API_POOL_H */
