/*
 * The WebSocket opening handshake (RFC 6455 section 4.2): checks the
 * upgrade, the Origin and the token, refuses with a plain HTTP status, or
 * answers 101 and hands the connection to ngx_chat_ws.c.
 */

#include <ngx_sha1.h>

#include "ngx_chat_module.h"
#include "ngx_chat_limit.h"
#include "ngx_chat_stats.h"


#define NGX_CHAT_WS_GUID         "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


static ngx_int_t ngx_chat_check_upgrade(ngx_http_request_t *r,
    ngx_chat_ws_headers_t *h);
static ngx_int_t ngx_chat_check_origin(ngx_http_request_t *r,
    ngx_chat_loc_conf_t *conf, ngx_str_t *origin);
static ngx_int_t ngx_chat_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *why, const char *name, const char *value);
static ngx_int_t ngx_chat_refuse_rate(ngx_http_request_t *r,
    ngx_msec_t wait);
static ngx_int_t ngx_chat_upgrade(ngx_http_request_t *r,
    ngx_chat_identity_t *id, ngx_chat_ws_headers_t *h);


ngx_int_t
ngx_chat_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_msec_t              wait;
    ngx_chat_identity_t    *id;
    ngx_chat_loc_conf_t    *conf;
    ngx_chat_ws_headers_t   h;

    r->connection->log->action = "checking chat handshake";

    /* done in the rewrite phase already, unless that was skipped */
    if (ngx_chat_redact_take(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method != NGX_HTTP_GET) {
        return ngx_chat_refuse(r, NGX_HTTP_NOT_ALLOWED, "method not GET",
                               "Allow", "GET");
    }

    ngx_chat_headers_scan(r, &h);

    if (ngx_chat_check_upgrade(r, &h) != NGX_OK) {
        return ngx_chat_refuse(r, NGX_HTTP_BAD_REQUEST,
                               "not a WebSocket upgrade", NULL, NULL);
    }

    if (h.version.len != 2 || ngx_strncmp(h.version.data, "13", 2) != 0) {
        return ngx_chat_refuse(r, 426, "unsupported WebSocket version",
                               "Sec-WebSocket-Version", "13");
    }

    /* shedding, then the address's rate: before the token costs anything */
    if (ngx_chat_shed_level() >= NGX_CHAT_SHED_CONNECTIONS) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_SHED_CONNECTIONS);

        return ngx_chat_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE, "overloaded",
                               "Retry-After", NGX_CHAT_SHED_RETRY_AFTER);
    }

    if (ngx_chat_limit_handshake(r, &wait) == NGX_BUSY) {
        return ngx_chat_refuse_rate(r, wait);
    }

    /* counted from here until the connection closes, refused or not */
    rc = ngx_chat_limit_addr_conns(r, &wait);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_BUSY) {
        return ngx_chat_refuse_rate(r, wait);
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_chat_module);

    if (ngx_chat_check_origin(r, conf, &h.origin) != NGX_OK) {
        return ngx_chat_refuse(r, NGX_HTTP_FORBIDDEN, "origin not allowed",
                               NULL, NULL);
    }

    id = ngx_chat_identify(r);
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (id->device.len == 0) {
        return ngx_chat_refuse(r, NGX_HTTP_BAD_REQUEST, "invalid device id",
                               NULL, NULL);
    }

    if (id->user.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chat: token refused: %s", id->error);

        return ngx_chat_refuse(r, NGX_HTTP_UNAUTHORIZED, NULL,
                               "WWW-Authenticate",
                               "Bearer error=\"invalid_token\"");
    }

    /* the user's reconnects, from any address, against its budget */
    if (ngx_chat_limit_connect(r, &id->user, &wait) == NGX_BUSY) {
        return ngx_chat_refuse_rate(r, wait);
    }

    return ngx_chat_upgrade(r, id, &h);
}


/*
 * A valid upgrade (RFC 6455 4.2.1): HTTP/1.1, "Upgrade: websocket",
 * "Connection: upgrade", a key that is 16 bytes in base64, a version, and
 * no request body. The version's value is checked by the caller (426).
 */
static ngx_int_t
ngx_chat_check_upgrade(ngx_http_request_t *r, ngx_chat_ws_headers_t *h)
{
    u_char     raw[32];
    ngx_str_t  decoded;

    if (r->http_version != NGX_HTTP_VERSION_11
        || r->headers_in.upgrade == NULL
        || r->headers_in.upgrade->value.len != 9
        || ngx_strncasecmp(r->headers_in.upgrade->value.data,
                           (u_char *) "websocket", 9) != 0
        || !h->upgrade_token
        || h->version.len == 0
        || r->headers_in.content_length_n > 0
        || r->headers_in.chunked)
    {
        return NGX_DECLINED;
    }

    if (h->key.len != 24 || h->key.data[22] != '=' || h->key.data[23] != '=') {
        return NGX_DECLINED;
    }

    decoded.data = raw;

    if (ngx_decode_base64(&decoded, &h->key) != NGX_OK || decoded.len != 16) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_chat_check_origin(ngx_http_request_t *r, ngx_chat_loc_conf_t *conf,
    ngx_str_t *origin)
{
    ngx_uint_t   i;
    ngx_str_t   *allowed;

    /* no allow-list, or no Origin at all: not a browser's cross-site call */
    if (conf->allowed_origins == NULL || origin->len == 0) {
        return NGX_OK;
    }

    allowed = conf->allowed_origins->elts;

    for (i = 0; i < conf->allowed_origins->nelts; i++) {
        if (allowed[i].len == origin->len
            && ngx_strncasecmp(allowed[i].data, origin->data, origin->len)
               == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* A refusal before the upgrade: a status, and a header when one is due. */
static ngx_int_t
ngx_chat_refuse(ngx_http_request_t *r, ngx_uint_t status, const char *why,
    const char *name, const char *value)
{
    if (why) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chat: handshake refused: %s", why);
    }

    ngx_chat_stat_refused(status);

    if (name && ngx_chat_response_header(r, name, value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return status;
}


/* 429, with Retry-After in whole seconds, rounded up. */
static ngx_int_t
ngx_chat_refuse_rate(ngx_http_request_t *r, ngx_msec_t wait)
{
    u_char  *after;

    after = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 1);
    if (after == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_sprintf(after, "%M%Z", (wait + 999) / 1000);

    return ngx_chat_refuse(r, NGX_HTTP_TOO_MANY_REQUESTS, NULL,
                           "Retry-After", (char *) after);
}


/*
 * Answers 101 by queueing the response head as the first bytes of the
 * connection's output, so the head and every frame leave through one
 * queue; nginx's header filters are not involved after this point.
 */
static ngx_int_t
ngx_chat_upgrade(ngx_http_request_t *r, ngx_chat_identity_t *id,
    ngx_chat_ws_headers_t *h)
{
    u_char             *p, head[256], digest[20], accept[28];
    size_t              early;
    ngx_str_t           src, dst, response;
    ngx_sha1_t          sha1;
    ngx_chat_conn_t    *cc;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, h->key.data, h->key.len);
    ngx_sha1_update(&sha1, NGX_CHAT_WS_GUID, sizeof(NGX_CHAT_WS_GUID) - 1);
    ngx_sha1_final(digest, &sha1);

    src.data = digest;
    src.len = sizeof(digest);
    dst.data = accept;
    ngx_encode_base64(&dst, &src);

    p = ngx_sprintf(head, "HTTP/1.1 101 Switching Protocols" CRLF
                          "Upgrade: websocket" CRLF
                          "Connection: Upgrade" CRLF
                          "Sec-WebSocket-Accept: %V" CRLF, &dst);

    if (h->chat_v1) {
        p = ngx_cpymem(p, "Sec-WebSocket-Protocol: " NGX_CHAT_SUBPROTOCOL CRLF,
                       sizeof("Sec-WebSocket-Protocol: " NGX_CHAT_SUBPROTOCOL
                              CRLF) - 1);
    }

    *p++ = CR; *p++ = LF;

    cc = ngx_chat_conn_create(r, id);
    if (cc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cc->subprotocol = h->chat_v1;

    response.data = head;
    response.len = p - head;

    /* bytes the client sent right after its request are its first frames */
    early = r->header_in->last - r->header_in->pos;

    if (ngx_chat_ws_start(cc, &response, r->header_in->pos, early) != NGX_OK)
    {
        ngx_chat_conn_free(cc);
        r->keepalive = 0;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->header_in->pos = r->header_in->last;
    ngx_chat_stat_inc(NGX_CHAT_STAT_HANDSHAKES);

    /* the request lives until the connection's first event (ngx_chat_conn.c) */
    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    r->header_sent = 1;
    r->keepalive = 0;
    r->main->count++;

    return NGX_DONE;
}
