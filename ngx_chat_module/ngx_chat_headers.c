/*
 * What the module reads of an upgrade request's headers, in one pass: the
 * WebSocket ones the handshake checks (ngx_chat_handshake.c), and where
 * the access token is, which authentication (ngx_chat_auth.c) verifies.
 */

#include "ngx_chat_module.h"


#define NGX_CHAT_BEARER_PREFIX   "bearer."


static void ngx_chat_header_tokens(ngx_str_t *value, ngx_chat_ws_headers_t *h,
    void (*fn)(ngx_chat_ws_headers_t *h, u_char *p, size_t len));
static void ngx_chat_connection_token(ngx_chat_ws_headers_t *h, u_char *p,
    size_t len);
static void ngx_chat_protocol_token(ngx_chat_ws_headers_t *h, u_char *p,
    size_t len);


/*
 * Finds the access token: "Authorization: Bearer", then the access_token
 * query argument, then a "bearer.<jwt>" Sec-WebSocket-Protocol entry (the
 * only way a browser can send one). token->len is 0 when there is none.
 */
ngx_int_t
ngx_chat_token(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char                 *dst, *src;
    ngx_str_t               arg;
    ngx_table_elt_t        *auth;
    ngx_chat_identity_t    *id;
    ngx_chat_ws_headers_t   h;

    ngx_str_null(token);

    auth = r->headers_in.authorization;

    if (auth != NULL && auth->value.len > 7
        && ngx_strncasecmp(auth->value.data, (u_char *) "Bearer ", 7) == 0)
    {
        token->data = auth->value.data + 7;
        token->len = auth->value.len - 7;

        while (token->len && token->data[0] == ' ') {
            token->data++;
            token->len--;
        }

        return NGX_OK;
    }

    /* a chat location took it out of the query (ngx_chat_redact.c) */
    id = ngx_chat_identity_find(r);

    if (id && id->query_taken) {
        *token = id->query_token;
        return NGX_OK;
    }

    if (ngx_http_arg(r, (u_char *) "access_token", 12, &arg) == NGX_OK) {
        if (ngx_strlchr(arg.data, arg.data + arg.len, '%') == NULL) {
            *token = arg;
            return NGX_OK;
        }

        dst = ngx_pnalloc(r->pool, arg.len);
        if (dst == NULL) {
            return NGX_ERROR;
        }

        token->data = dst;
        src = arg.data;
        ngx_unescape_uri(&dst, &src, arg.len, NGX_UNESCAPE_URI);
        token->len = dst - token->data;

        return NGX_OK;
    }

    ngx_chat_headers_scan(r, &h);
    *token = h.bearer;

    return NGX_OK;
}


/* Calls fn for each comma-separated, trimmed token of a header value. */
static void
ngx_chat_header_tokens(ngx_str_t *value, ngx_chat_ws_headers_t *h,
    void (*fn)(ngx_chat_ws_headers_t *h, u_char *p, size_t len))
{
    u_char  *p, *last, *start, *end;

    p = value->data;
    last = p + value->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        end = p;

        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        if (end > start) {
            fn(h, start, end - start);
        }
    }
}


static void
ngx_chat_connection_token(ngx_chat_ws_headers_t *h, u_char *p, size_t len)
{
    if (len == 7 && ngx_strncasecmp(p, (u_char *) "upgrade", 7) == 0) {
        h->upgrade_token = 1;
    }
}


static void
ngx_chat_protocol_token(ngx_chat_ws_headers_t *h, u_char *p, size_t len)
{
    size_t  n;

    n = sizeof(NGX_CHAT_BEARER_PREFIX) - 1;

    if (len == sizeof(NGX_CHAT_SUBPROTOCOL) - 1
        && ngx_strncmp(p, NGX_CHAT_SUBPROTOCOL, len) == 0)
    {
        h->chat_v1 = 1;

    } else if (len > n && ngx_strncmp(p, NGX_CHAT_BEARER_PREFIX, n) == 0
               && h->bearer.len == 0)
    {
        h->bearer.data = p + n;
        h->bearer.len = len - n;
    }
}


void
ngx_chat_headers_scan(ngx_http_request_t *r, ngx_chat_ws_headers_t *h)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *header;

    ngx_memzero(h, sizeof(ngx_chat_ws_headers_t));

    part = &r->headers_in.headers.part;
    header = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            header = part->elts;
            i = 0;
        }

        if (header[i].key.len == 10
            && ngx_strncasecmp(header[i].key.data, (u_char *) "Connection",
                               10) == 0)
        {
            ngx_chat_header_tokens(&header[i].value, h,
                                   ngx_chat_connection_token);

        } else if (header[i].key.len == 22
                   && ngx_strncasecmp(header[i].key.data,
                                      (u_char *) "Sec-WebSocket-Protocol", 22)
                      == 0)
        {
            ngx_chat_header_tokens(&header[i].value, h,
                                   ngx_chat_protocol_token);

        } else if (header[i].key.len == 17
                   && ngx_strncasecmp(header[i].key.data,
                                      (u_char *) "Sec-WebSocket-Key", 17) == 0)
        {
            h->key = header[i].value;

        } else if (header[i].key.len == 21
                   && ngx_strncasecmp(header[i].key.data,
                                      (u_char *) "Sec-WebSocket-Version", 21)
                      == 0)
        {
            h->version = header[i].value;

        } else if (header[i].key.len == 6
                   && ngx_strncasecmp(header[i].key.data, (u_char *) "Origin",
                                      6) == 0)
        {
            h->origin = header[i].value;
        }
    }
}
