/*
 * The errors of the module's plain HTTP locations (docs/PROTOCOL.md 6):
 * the token check of /api/ (ngx_chat_api_auth.c) and the media files
 * (ngx_chat_media.c) answer {"error":"<code>","message":"..."} as
 * application/json, as chat-api does behind them, rather than nginx's HTML
 * error pages, so that a client parses every error of the API one way.
 */

#include "ngx_chat_module.h"


static ngx_str_t  ngx_chat_api_json_type = ngx_string("application/json");


/* Adds a response header; name and value are static strings. */
ngx_int_t
ngx_chat_response_header(ngx_http_request_t *r, const char *name,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


/*
 * Sends the error answer status with a JSON body of code and message, and
 * one more header when name is not NULL (Allow, WWW-Authenticate). The
 * request body, if any, is discarded. Returns what a content handler
 * returns: the output filter's code, or an HTTP error when even this
 * could not be built (nginx then answers its own page).
 */
ngx_int_t
ngx_chat_api_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *name,
    const char *value)
{
    size_t        len;
    json_t       *body;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (name && ngx_chat_response_header(r, name, value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* jansson escapes the message: a token's error may be anything */
    body = json_pack("{s:s, s:s}", "error", code, "message", message);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = json_dumpb(body, NULL, 0, JSON_COMPACT);
    b = len ? ngx_create_temp_buf(r->pool, len) : NULL;

    if (b == NULL) {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last += json_dumpb(body, (char *) b->last, len, JSON_COMPACT);
    json_decref(body);

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type = ngx_chat_api_json_type;
    r->headers_out.content_type_len = ngx_chat_api_json_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
