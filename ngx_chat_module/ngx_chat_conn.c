/*
 * The memory of a chat connection. At the upgrade its state becomes one
 * heap block: the ngx_chat_conn_t, then its strings (user, device, id).
 * At the connection's first event after that, when nginx no longer holds
 * the request, the request is freed the way nginx frees one it keeps
 * alive: its pool (ngx_http_request_t, header lists, variables, ~5 KiB
 * in two 4 KiB blocks) and the header buffers. What an idle connection
 * keeps is then its ngx_connection_t, the connection's small pool (with
 * the cleanups that end it) and that block.
 *
 * The access log line is written when the request is freed: status 101,
 * $request_time the handshake's.
 */

#include "ngx_chat_module.h"


static ngx_str_t *ngx_chat_conn_new_id(ngx_pool_t *pool, uint64_t *num);
static void ngx_chat_conn_free_header_buffers(ngx_connection_t *c,
    ngx_http_connection_t *hc);
static void ngx_chat_conn_close_handler(ngx_event_t *ev);
static void ngx_chat_conn_cleanup(void *data);


/* Connection ids: "<worker start, hex>-<pid, hex>-<counter, hex>". */
static u_char             ngx_chat_conn_prefix[NGX_INT64_LEN * 2 + 2];
static size_t             ngx_chat_conn_prefix_len;
static uint64_t           ngx_chat_conn_counter;

/* This worker's upgraded connections, by number (ngx_chat_conn_find). */
static ngx_rbtree_t       ngx_chat_conn_tree;
static ngx_rbtree_node_t  ngx_chat_conn_sentinel;


/* Once per worker: its connection ids are its own. */
void
ngx_chat_conn_init_process(void)
{
    ngx_chat_conn_prefix_len = ngx_sprintf(ngx_chat_conn_prefix, "%xT-%xP-",
                                           ngx_time(), ngx_pid)
                               - ngx_chat_conn_prefix;
    ngx_chat_conn_counter = 0;

    ngx_rbtree_init(&ngx_chat_conn_tree, &ngx_chat_conn_sentinel,
                    ngx_rbtree_insert_value);
}


static ngx_str_t *
ngx_chat_conn_new_id(ngx_pool_t *pool, uint64_t *num)
{
    ngx_str_t  *id;

    id = ngx_palloc(pool, sizeof(ngx_str_t) + ngx_chat_conn_prefix_len
                          + NGX_INT64_LEN);
    if (id == NULL) {
        return NULL;
    }

    id->data = (u_char *) (id + 1);
    *num = ++ngx_chat_conn_counter;
    id->len = ngx_sprintf(id->data, "%*s%xL", ngx_chat_conn_prefix_len,
                          ngx_chat_conn_prefix, *num)
              - id->data;

    return id;
}


/*
 * An upgraded connection is found by its number: what answers it later
 * (a delivery report, a Redis reply) names it by number, never by pointer.
 */
void
ngx_chat_conn_register(ngx_chat_conn_t *cc)
{
    ngx_rbtree_insert(&ngx_chat_conn_tree, &cc->node);
    cc->registered = 1;
}


void
ngx_chat_conn_unregister(ngx_chat_conn_t *cc)
{
    cc->registered = 0;
    ngx_rbtree_delete(&ngx_chat_conn_tree, &cc->node);
}


ngx_chat_conn_t *
ngx_chat_conn_find(uint64_t num)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = ngx_chat_conn_tree.root;
    sentinel = ngx_chat_conn_tree.sentinel;

    while (node != sentinel) {
        if (num == node->key) {
            return (ngx_chat_conn_t *) ((u_char *) node
                                        - offsetof(ngx_chat_conn_t, node));
        }

        node = num < node->key ? node->left : node->right;
    }

    return NULL;
}


/*
 * The state of the connection a request is upgrading: its identity
 * copied out of the request's pool, and a cleanup in the connection's pool
 * that releases it however the connection ends. NULL: out of memory.
 */
ngx_chat_conn_t *
ngx_chat_conn_create(ngx_http_request_t *r, ngx_chat_identity_t *id)
{
    u_char              *p;
    size_t               size;
    uint64_t             num;
    ngx_str_t           *conn_id;
    ngx_chat_conn_t     *cc;
    ngx_connection_t    *c;
    ngx_pool_cleanup_t  *cln;

    c = r->connection;

    conn_id = ngx_chat_conn_new_id(r->pool, &num);
    if (conn_id == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(c->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    size = sizeof(ngx_chat_conn_t) + id->user.len + id->device.len
           + conn_id->len;

    cc = ngx_calloc(size, c->log);
    if (cc == NULL) {
        return NULL;
    }

    cc->id = *id;
    p = (u_char *) (cc + 1);

    cc->id.user.data = p;
    p = ngx_cpymem(p, id->user.data, id->user.len);

    cc->id.device.data = p;
    p = ngx_cpymem(p, id->device.data, id->device.len);

    cc->conn_id.data = p;
    cc->conn_id.len = conn_id->len;
    ngx_memcpy(p, conn_id->data, conn_id->len);

    cc->node.key = num;
    cc->request = r;
    cc->connection = c;
    cc->conf = ngx_http_get_module_loc_conf(r, ngx_chat_module);
    cc->limit.loc_conf = r->loc_conf;
    cc->out_tail = &cc->out;
    cc->held_tail = &cc->held;

    cc->cleanup = cln;
    cln->handler = ngx_chat_conn_cleanup;
    cln->data = cc;

    id->conn = cc;

    return cc;
}


/*
 * The read and write handler from the upgrade to the first event: c->data
 * is still the request. Frees it, then handles the event as usual.
 */
void
ngx_chat_conn_detach_handler(ngx_event_t *ev)
{
    ngx_connection_t     *c;
    ngx_http_request_t   *r;
    ngx_chat_identity_t  *id;

    c = ev->data;
    r = c->data;
    id = ngx_http_get_module_ctx(r, ngx_chat_module);

    ngx_chat_conn_detach(id->conn);

    ev->handler(ev);
}


/*
 * Frees the request of an upgraded connection; a no-op once done. Called
 * from an event of the connection, never from inside the content handler.
 * The bytes the client sent after its request head are in a header
 * buffer: they are copied first.
 */
void
ngx_chat_conn_detach(ngx_chat_conn_t *cc)
{
    u_char                 *early;
    ngx_connection_t       *c;
    ngx_http_request_t     *r;
    ngx_http_connection_t  *hc;

    r = cc->request;

    if (r == NULL) {
        return;
    }

    c = cc->connection;
    hc = r->http_connection;

    early = NULL;

    if (cc->early_len) {
        early = ngx_alloc(cc->early_len, c->log);

        if (early) {
            ngx_memcpy(early, cc->early, cc->early_len);

        } else {
            cc->early_len = 0;
            c->error = 1;
            ngx_chat_ws_finalize(cc);
        }
    }

    cc->early = early;
    cc->request = NULL;

    ngx_http_free_request(r, 0);

    c->destroyed = 0;
    c->data = cc;
    c->read->handler = ngx_chat_ws_read_handler;
    c->write->handler = ngx_chat_ws_write_handler;
    c->log->action = "serving chat connection";

    ngx_chat_conn_free_header_buffers(c, hc);
}


/* As nginx does for an idle keepalive connection: c->buffer and the
 * large buffers of a long request head are large allocations of c->pool. */
static void
ngx_chat_conn_free_header_buffers(ngx_connection_t *c,
    ngx_http_connection_t *hc)
{
    ngx_chain_t  *cl;

    for (cl = hc->busy; cl; cl = cl->next) {
        ngx_pfree(c->pool, cl->buf->start);
    }

    for (cl = hc->free; cl; cl = cl->next) {
        ngx_pfree(c->pool, cl->buf->start);
    }

    hc->busy = NULL;
    hc->nbusy = 0;
    hc->free = NULL;

    if (c->buffer) {
        ngx_pfree(c->pool, c->buffer->start);
        c->buffer = NULL;
    }
}


/*
 * Closes the connection from a posted event: the caller of
 * ngx_chat_ws_finalize, and whoever called it, may still read cc.
 */
void
ngx_chat_conn_close(ngx_chat_conn_t *cc)
{
    if (cc->tick.timer_set) {
        ngx_del_timer(&cc->tick);
    }

    cc->tick.handler = ngx_chat_conn_close_handler;
    ngx_post_event(&cc->tick, &ngx_posted_events);
}


static void
ngx_chat_conn_close_handler(ngx_event_t *ev)
{
    ngx_chat_conn_t   *cc;
    ngx_connection_t  *c;

    cc = ngx_chat_event_owner(ev, ngx_chat_conn_t, tick);
    c = cc->connection;

    ngx_chat_conn_detach(cc);
    ngx_chat_conn_free(cc);

    /* the connection's pool goes too, with the device count */
    ngx_http_close_connection(c);
}


/* Releases the connection's state now rather than with its pool. */
void
ngx_chat_conn_free(ngx_chat_conn_t *cc)
{
    cc->cleanup->handler = NULL;
    ngx_chat_conn_cleanup(cc);
}


static void
ngx_chat_conn_cleanup(void *data)
{
    ngx_chat_conn_t  *cc = data;

    ngx_chat_identity_t  *id;

    ngx_chat_ws_release(cc);

    if (cc->request) {
        /* a failed upgrade: the request stays, cc->early is its buffer */
        id = ngx_http_get_module_ctx(cc->request, ngx_chat_module);
        id->conn = NULL;

    } else {
        ngx_free(cc->early);
    }

    ngx_free(cc);
}
