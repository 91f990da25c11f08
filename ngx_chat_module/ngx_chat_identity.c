/*
 * A request's identity (ngx_chat_identity_t): the module context that
 * keeps, once resolved, the token found, the user it names and the
 * device. Its own file, below both the header search that finds the token
 * (ngx_chat_headers.c) and the checks that verify it (ngx_chat_auth.c),
 * which each read and fill it.
 */

#include "ngx_chat_module.h"


static void ngx_chat_identity_cleanup(void *data);


/* Marks the identity in the request's pool (ngx_chat_identity_find). */
static void
ngx_chat_identity_cleanup(void *data)
{
}


/*
 * The request's identity, NULL when none was made yet. nginx forgets the
 * module contexts of a request at an internal redirect (error_page,
 * try_files, a named location); the main request's identity lives on in
 * its pool, found by its cleanup's handler (as nginx's realip module keeps
 * its own), so that the token taken out of the query and the user checked
 * stay the same after one.
 */
ngx_chat_identity_t *
ngx_chat_identity_find(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_chat_identity_t  *id;

    id = ngx_http_get_module_ctx(r, ngx_chat_module);

    if (id || r != r->main || !(r->internal || r->filter_finalize)) {
        return id;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_chat_identity_cleanup) {
            id = cln->data;
            ngx_http_set_ctx(r, id, ngx_chat_module);
            return id;
        }
    }

    return NULL;
}


/*
 * The module context of a request, made on first use; NULL: no memory. A
 * subrequest's is its own (it shares the main request's pool, not its
 * identity).
 */
ngx_chat_identity_t *
ngx_chat_identity(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_chat_identity_t  *id;

    id = ngx_chat_identity_find(r);

    if (id) {
        return id;
    }

    if (r == r->main) {
        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_chat_identity_t));
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_chat_identity_cleanup;
        id = cln->data;
        ngx_memzero(id, sizeof(ngx_chat_identity_t));

    } else {
        id = ngx_pcalloc(r->pool, sizeof(ngx_chat_identity_t));
        if (id == NULL) {
            return NULL;
        }
    }

    ngx_http_set_ctx(r, id, ngx_chat_module);

    return id;
}
