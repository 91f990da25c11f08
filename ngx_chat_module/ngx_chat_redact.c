/*
 * A token given as ?access_token= never reaches a log. In a chat or a
 * chat_auth location it is copied out of the request in the rewrite phase,
 * before any later phase can refuse the request and log it (limit_req's
 * 503, deny's 403, the handshake's 400/401/403/405/426/429/503, the 101
 * itself, chat_auth's 401), and its bytes are overwritten with 'x'
 * wherever nginx keeps the query: $args, $request_uri and the request line
 * that the access log's $request and every error log line's request: "..."
 * show.
 *
 * Over HTTP/1 the three share the bytes of the request head; over HTTP/2
 * the request line is a copy, so each is overwritten on its own (a second
 * pass over the same bytes changes nothing). A request proxy_pass hands on
 * from a chat_auth location carries the overwritten query too: the
 * upstream never sees the token.
 */

#include "ngx_chat_module.h"


#define NGX_CHAT_TOKEN_ARG      "access_token"
#define NGX_CHAT_TOKEN_ARG_LEN  (sizeof(NGX_CHAT_TOKEN_ARG) - 1)


static ngx_int_t ngx_chat_redact_handler(ngx_http_request_t *r);
static void ngx_chat_redact_query(u_char *p, u_char *last);
static void ngx_chat_redact_after_mark(ngx_str_t *s);


/* postconfiguration: the redaction runs first in the rewrite phase. */
ngx_int_t
ngx_chat_redact_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_chat_redact_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_chat_redact_handler(ngx_http_request_t *r)
{
    ngx_chat_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_chat_module);

    if (!(conf->enable || conf->api_auth) || r != r->main) {
        return NGX_DECLINED;
    }

    if (ngx_chat_redact_take(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/*
 * Keeps the query's token (unescaped, in the request's pool) for
 * ngx_chat_token() and overwrites it in the request. Once per request.
 */
ngx_int_t
ngx_chat_redact_take(ngx_http_request_t *r)
{
    u_char               *dst, *src;
    ngx_str_t             arg;
    ngx_chat_identity_t  *id;

    id = ngx_chat_identity_find(r);

    if (id && id->query_taken) {
        return NGX_OK;
    }

    if (ngx_http_arg(r, (u_char *) NGX_CHAT_TOKEN_ARG, NGX_CHAT_TOKEN_ARG_LEN,
                     &arg)
        != NGX_OK)
    {
        return NGX_OK;
    }

    id = ngx_chat_identity(r);
    if (id == NULL) {
        return NGX_ERROR;
    }

    dst = ngx_pnalloc(r->pool, arg.len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    id->query_token.data = dst;
    src = arg.data;
    ngx_unescape_uri(&dst, &src, arg.len, NGX_UNESCAPE_URI);
    id->query_token.len = dst - id->query_token.data;
    id->query_taken = 1;

    ngx_chat_redact_query(r->args.data, r->args.data + r->args.len);
    ngx_chat_redact_after_mark(&r->unparsed_uri);
    ngx_chat_redact_after_mark(&r->request_line);

    return NGX_OK;
}


/* The query part of a request line or URI: after its first '?'. */
static void
ngx_chat_redact_after_mark(ngx_str_t *s)
{
    u_char  *p, *last;

    if (s->data == NULL) {
        return;
    }

    last = s->data + s->len;
    p = ngx_strlchr(s->data, last, '?');

    if (p) {
        ngx_chat_redact_query(p + 1, last);
    }
}


/*
 * Overwrites the value of every access_token argument (named as
 * ngx_http_arg() finds it: any case, at the start or after '&') up to the
 * next '&', or the blank before the protocol of a request line.
 */
static void
ngx_chat_redact_query(u_char *p, u_char *last)
{
    u_char  *start;

    while (p < last) {
        start = p;

        while (p < last && *p != '&' && *p != ' ') {
            p++;
        }

        if ((size_t) (p - start) > NGX_CHAT_TOKEN_ARG_LEN
            && start[NGX_CHAT_TOKEN_ARG_LEN] == '='
            && ngx_strncasecmp(start, (u_char *) NGX_CHAT_TOKEN_ARG,
                               NGX_CHAT_TOKEN_ARG_LEN)
               == 0)
        {
            start += NGX_CHAT_TOKEN_ARG_LEN + 1;
            ngx_memset(start, 'x', p - start);
        }

        if (p < last && *p == ' ') {
            return;
        }

        p++;
    }
}
