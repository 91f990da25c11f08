/*
 * The slots of store handles and Redis connections.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_api_pool.h"


int
chat_api_pool_open(chat_api_pool_t *pool, const chat_api_conf_t *conf,
    size_t n, char *err, size_t errlen)
{
    size_t  i;

    memset(pool, 0, sizeof(*pool));

    pool->slots = calloc(n, sizeof(chat_api_slot_t));
    if (pool->slots == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->freed, NULL);

    for (i = 0; i < n; i++) {
        pool->slots[i].store = chat_store_open(conf->store, err, errlen);

        if (pool->slots[i].store == NULL) {
            pool->n = i;
            chat_api_pool_close(pool);
            return -1;
        }
    }

    pool->n = n;

    return 0;
}


chat_api_slot_t *
chat_api_pool_get(chat_api_pool_t *pool)
{
    size_t            i;
    chat_api_slot_t  *slot;

    pthread_mutex_lock(&pool->lock);

    for ( ;; ) {
        for (i = 0; i < pool->n; i++) {
            slot = &pool->slots[i];

            if (!slot->busy) {
                slot->busy = 1;
                pthread_mutex_unlock(&pool->lock);
                return slot;
            }
        }

        pthread_cond_wait(&pool->freed, &pool->lock);
    }
}


void
chat_api_pool_put(chat_api_pool_t *pool, chat_api_slot_t *slot)
{
    pthread_mutex_lock(&pool->lock);
    slot->busy = 0;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
}


void
chat_api_pool_close(chat_api_pool_t *pool)
{
    size_t  i;

    for (i = 0; i < pool->n; i++) {
        chat_store_close(pool->slots[i].store);

        if (pool->slots[i].redis) {
            redisFree(pool->slots[i].redis);
        }

        chat_redis_cluster_free(pool->slots[i].cluster);
    }

    free(pool->slots);
    pthread_cond_destroy(&pool->freed);
    pthread_mutex_destroy(&pool->lock);
    memset(pool, 0, sizeof(*pool));
}
