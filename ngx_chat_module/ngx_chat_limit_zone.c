/*
 * The shared-memory zone of the chat limits: a slab pool holding an rbtree
 * of nodes keyed by a CRC32 of (kind, key), the key's bytes stored in the
 * node to tell collisions apart. Rate nodes are leaky buckets
 * (common/chat_limit.c) on an LRU queue: a look-up forgets up to two idle
 * ones from its tail, and a full slab forgets the oldest even if it is not
 * idle. Count nodes (a user's devices, an address's connections) are never
 * on the queue, so no expiry can lose a live count; a node goes when its
 * count is back to zero.
 *
 * When even that leaves no room, the zone fails open, and says so once
 * (until it has room again): a limit never refuses for want of memory.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_chat_limit_zone.h"
#include "chat_limit.h"


/* Starts at the rbtree node's color, as in limit_req's nodes. */
typedef struct {
    u_char                  color;
    u_char                  kind;
    u_short                 len;
    ngx_queue_t             queue;          /* the LRU; not for devices */
    ngx_msec_t              last;
    ngx_msec_t              idle;           /* as good as new after last+ */
    uint64_t                excess;         /* devices: connections */
    u_char                  data[1];
} ngx_chat_limit_node_t;


struct ngx_chat_limit_shctx_s {
    ngx_rbtree_t            rbtree;
    ngx_rbtree_node_t       sentinel;
    ngx_queue_t             queue;
    ngx_uint_t              full;           /* its failure was logged */
};


static ngx_chat_limit_node_t *ngx_chat_limit_lookup(
    ngx_chat_limit_zone_t *ctx, ngx_uint_t kind, uint32_t hash,
    ngx_str_t *key);
static ngx_chat_limit_node_t *ngx_chat_limit_alloc(
    ngx_chat_limit_zone_t *ctx, ngx_uint_t kind, uint32_t hash,
    ngx_str_t *key);
static void ngx_chat_limit_expire(ngx_chat_limit_zone_t *ctx,
    ngx_uint_t force);
static void ngx_chat_limit_free(ngx_chat_limit_zone_t *ctx,
    ngx_chat_limit_node_t *ln);
static uint32_t ngx_chat_limit_hash(ngx_uint_t kind, ngx_str_t *key);
static void ngx_chat_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


ngx_int_t
ngx_chat_limit_zone_take(ngx_chat_limit_zone_t *ctx, ngx_uint_t kind,
    ngx_str_t *key, ngx_uint_t rate, ngx_uint_t burst, ngx_uint_t cost,
    ngx_msec_t *wait)
{
    uint32_t                hash;
    uint64_t                excess, elapsed, ms;
    ngx_msec_int_t          d;
    ngx_chat_limit_node_t  *ln;

    *wait = 0;
    hash = ngx_chat_limit_hash(kind, key);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_chat_limit_expire(ctx, 0);

    ln = ngx_chat_limit_lookup(ctx, kind, hash, key);

    if (ln) {
        ngx_queue_remove(&ln->queue);
        ngx_queue_insert_head(&ctx->sh->queue, &ln->queue);

        d = (ngx_msec_int_t) (ngx_current_msec - ln->last);
        elapsed = d > 0 ? (uint64_t) d : 0;
        excess = ln->excess;

    } else {
        ln = ngx_chat_limit_alloc(ctx, kind, hash, key);

        if (ln == NULL) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_OK;                  /* full: fail open */
        }

        elapsed = CHAT_LIMIT_NEW;
        excess = 0;
    }

    ms = chat_limit_take_n(rate, burst, cost, &excess, elapsed);

    if (ms == 0) {
        ln->excess = excess;
        ln->last = ngx_current_msec;
        ln->idle = (ngx_msec_t) chat_limit_idle_ms(rate, excess);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (ms == 0) {
        return NGX_OK;
    }

    *wait = (ngx_msec_t) ms;

    return NGX_BUSY;
}


static uint32_t
ngx_chat_limit_hash(ngx_uint_t kind, ngx_str_t *key)
{
    u_char    k;
    uint32_t  hash;

    k = (u_char) kind;

    ngx_crc32_init(hash);
    ngx_crc32_update(&hash, &k, 1);
    ngx_crc32_update(&hash, key->data, key->len);
    ngx_crc32_final(hash);

    return hash;
}


/* Orders nodes of one hash by kind, then by key: collisions coexist. */
static ngx_int_t
ngx_chat_limit_cmp(ngx_uint_t kind, u_char *data, size_t len,
    ngx_chat_limit_node_t *ln)
{
    if (kind != ln->kind) {
        return kind < ln->kind ? -1 : 1;
    }

    if (len != ln->len) {
        return len < ln->len ? -1 : 1;
    }

    return ngx_memcmp(data, ln->data, len);
}


static ngx_chat_limit_node_t *
ngx_chat_limit_lookup(ngx_chat_limit_zone_t *ctx, ngx_uint_t kind,
    uint32_t hash, ngx_str_t *key)
{
    ngx_int_t               rc;
    ngx_rbtree_node_t      *node, *sentinel;
    ngx_chat_limit_node_t  *ln;

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = hash < node->key ? node->left : node->right;
            continue;
        }

        ln = (ngx_chat_limit_node_t *) &node->color;
        rc = ngx_chat_limit_cmp(kind, key->data, key->len, ln);

        if (rc == 0) {
            return ln;
        }

        node = rc < 0 ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_chat_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t      **p;
    ngx_chat_limit_node_t   *ln, *lnt;

    ln = (ngx_chat_limit_node_t *) &node->color;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = node->key < temp->key ? &temp->left : &temp->right;

        } else {
            lnt = (ngx_chat_limit_node_t *) &temp->color;
            p = ngx_chat_limit_cmp(ln->kind, ln->data, ln->len, lnt) < 0
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* A new node, after forgetting the oldest rate node if the slab is full. */
static ngx_chat_limit_node_t *
ngx_chat_limit_alloc(ngx_chat_limit_zone_t *ctx, ngx_uint_t kind,
    uint32_t hash, ngx_str_t *key)
{
    size_t                  size;
    ngx_rbtree_node_t      *node;
    ngx_chat_limit_node_t  *ln;

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_chat_limit_node_t, data)
           + key->len;

    node = ngx_slab_alloc_locked(ctx->shpool, size);

    if (node == NULL) {
        ngx_chat_limit_expire(ctx, 1);
        node = ngx_slab_alloc_locked(ctx->shpool, size);
    }

    if (node == NULL) {
        if (!ctx->sh->full) {
            ctx->sh->full = 1;
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chat: limit zone%s is full: limits are not "
                          "applied to new keys until it has room",
                          ctx->shpool->log_ctx);
        }

        return NULL;
    }

    ctx->sh->full = 0;

    node->key = hash;

    ln = (ngx_chat_limit_node_t *) &node->color;
    ln->kind = (u_char) kind;
    ln->len = (u_short) key->len;
    ln->last = ngx_current_msec;
    ln->idle = 0;
    ln->excess = 0;
    ngx_memcpy(ln->data, key->data, key->len);

    ngx_rbtree_insert(&ctx->sh->rbtree, node);

    if (ngx_chat_limit_is_count(kind)) {
        ngx_queue_init(&ln->queue);

    } else {
        ngx_queue_insert_head(&ctx->sh->queue, &ln->queue);
    }

    return ln;
}


/*
 * Forgets up to two idle rate nodes from the LRU tail; with force, the
 * oldest goes even if it is not idle (its key starts over: better than
 * refusing to limit anything new).
 */
static void
ngx_chat_limit_expire(ngx_chat_limit_zone_t *ctx, ngx_uint_t force)
{
    ngx_uint_t              n;
    ngx_queue_t            *q;
    ngx_chat_limit_node_t  *ln;

    for (n = 0; n < 2; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        ln = ngx_queue_data(q, ngx_chat_limit_node_t, queue);

        if (!(force && n == 0)
            && (ngx_msec_int_t) (ngx_current_msec - ln->last)
               < (ngx_msec_int_t) ln->idle)
        {
            return;
        }

        ngx_queue_remove(q);
        ngx_chat_limit_free(ctx, ln);
    }
}


static void
ngx_chat_limit_free(ngx_chat_limit_zone_t *ctx, ngx_chat_limit_node_t *ln)
{
    ngx_rbtree_node_t  *node;

    node = (ngx_rbtree_node_t *)
               ((u_char *) ln - offsetof(ngx_rbtree_node_t, color));

    ngx_rbtree_delete(&ctx->sh->rbtree, node);
    ngx_slab_free_locked(ctx->shpool, node);
}


/* A reload with the zone unchanged keeps the old nodes. */
ngx_int_t
ngx_chat_limit_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_chat_limit_zone_t  *octx = data;

    size_t                  len;
    ngx_chat_limit_zone_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_chat_limit_shctx_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_chat_limit_rbtree_insert_value);
    ngx_queue_init(&ctx->sh->queue);
    ctx->sh->full = 0;

    len = sizeof(" \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " \"%V\"%Z", &shm_zone->shm.name);

    /* a full zone is reported once, by ngx_chat_limit_alloc() */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


ngx_int_t
ngx_chat_limit_zone_acquire(ngx_chat_limit_zone_t *ctx, ngx_uint_t kind,
    ngx_str_t *key, ngx_uint_t max, uint32_t *hash)
{
    ngx_int_t               rc;
    ngx_chat_limit_node_t  *ln;

    *hash = ngx_chat_limit_hash(kind, key);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ln = ngx_chat_limit_lookup(ctx, kind, *hash, key);

    if (ln == NULL) {
        ln = ngx_chat_limit_alloc(ctx, kind, *hash, key);
    }

    if (ln == NULL) {
        rc = NGX_DECLINED;

    } else if (ln->excess >= max) {
        rc = NGX_BUSY;

    } else {
        ln->excess++;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


void
ngx_chat_limit_zone_release(ngx_chat_limit_zone_t *ctx, ngx_uint_t kind,
    ngx_str_t *key, uint32_t hash)
{
    ngx_chat_limit_node_t  *ln;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ln = ngx_chat_limit_lookup(ctx, kind, hash, key);

    if (ln && --ln->excess == 0) {
        ngx_chat_limit_free(ctx, ln);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}
