/*
 * The shared-memory zone of ngx_chat_limit_module (ngx_chat_limit_zone.c):
 * leaky buckets and connection counts by (kind, key), under the zone's
 * mutex. Internal to the limit module.
 */

#ifndef NGX_CHAT_LIMIT_ZONE_H
#define NGX_CHAT_LIMIT_ZONE_H

#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_CHAT_LIMIT_SEND        1
#define NGX_CHAT_LIMIT_TYPING      2
#define NGX_CHAT_LIMIT_HANDSHAKE   3
#define NGX_CHAT_LIMIT_DEVICES     4      /* a count: connections of a user */
#define NGX_CHAT_LIMIT_REQUESTS    5
#define NGX_CHAT_LIMIT_ADDR_CONNS  6      /* a count: connections of an address */

#define ngx_chat_limit_is_count(kind)                                         \
    ((kind) == NGX_CHAT_LIMIT_DEVICES || (kind) == NGX_CHAT_LIMIT_ADDR_CONNS)


typedef struct ngx_chat_limit_shctx_s  ngx_chat_limit_shctx_t;

typedef struct {
    ngx_chat_limit_shctx_t *sh;
    ngx_slab_pool_t        *shpool;
} ngx_chat_limit_zone_t;


/* The shm zone's init: a new tree, or the old one after a reload. */
ngx_int_t ngx_chat_limit_zone_init(ngx_shm_zone_t *shm_zone, void *data);

/*
 * A request of cost requests (chat_limit_take_n) against the bucket of
 * (kind, key) at rate (thousandths a second) and burst: NGX_OK, or
 * NGX_BUSY and *wait in ms. A zone too full for a new bucket answers
 * NGX_OK (fails open).
 */
ngx_int_t ngx_chat_limit_zone_take(ngx_chat_limit_zone_t *ctx,
    ngx_uint_t kind, ngx_str_t *key, ngx_uint_t rate, ngx_uint_t burst,
    ngx_uint_t cost, ngx_msec_t *wait);

/*
 * One more connection of (kind, key), a count kind, below max: NGX_OK
 * (counted; *hash is for the release), NGX_BUSY (at max, not counted) or
 * NGX_DECLINED (the zone is full: not counted).
 */
ngx_int_t ngx_chat_limit_zone_acquire(ngx_chat_limit_zone_t *ctx,
    ngx_uint_t kind, ngx_str_t *key, ngx_uint_t max, uint32_t *hash);

/* One connection of (kind, key) less; its node goes at zero. */
void ngx_chat_limit_zone_release(ngx_chat_limit_zone_t *ctx, ngx_uint_t kind,
    ngx_str_t *key, uint32_t hash);


#endif /* NGX_CHAT_LIMIT_ZONE_H */
