/*
 * chat_auth: the token check of the HTTP API's locations (docs/PROTOCOL.md
 * 6), in nginx's access phase, so that chat-api behind proxy_pass never
 * sees a token. The token is found and checked exactly as the WebSocket's
 * (ngx_chat_token(), ngx_chat_identify(): the same keys, algorithm and
 * claims of the location), and a ?access_token= is kept out of the logs
 * the same way (ngx_chat_redact.c). The check is CPU only: no I/O.
 *
 * A valid token's subject is $chat_user, for `proxy_set_header
 * X-Chat-User $chat_user;`: proxy_set_header replaces a header of that
 * name the client sent, so chat-api can trust it. A refusal is 401 with
 * WWW-Authenticate and a JSON body, answered here whatever "satisfy"
 * says: no other access module can stand in for the user's identity.
 */

#include "ngx_chat_module.h"


static ngx_int_t ngx_chat_api_auth_handler(ngx_http_request_t *r);
static ngx_int_t ngx_chat_api_auth_refuse(ngx_http_request_t *r,
    const char *message, const char *challenge);


/* postconfiguration: the check joins the access phase. */
ngx_int_t
ngx_chat_api_auth_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_chat_api_auth_handler;

    return NGX_OK;
}


/*
 * NGX_OK with the identity resolved ($chat_user set), or the 401 sent;
 * nginx skips the access phase of subrequests, which share the main
 * request's identity.
 */
static ngx_int_t
ngx_chat_api_auth_handler(ngx_http_request_t *r)
{
    ngx_str_t             token;
    char                 *action;
    ngx_chat_identity_t  *id;
    ngx_chat_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_chat_module);

    if (!conf->api_auth) {
        return NGX_DECLINED;
    }

    action = r->connection->log->action;
    r->connection->log->action = "checking chat token";

    /* done in the rewrite phase already, unless that was skipped */
    if (ngx_chat_redact_take(r) != NGX_OK
        || ngx_chat_token(r, &token) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (token.len == 0) {
        return ngx_chat_api_auth_refuse(r, "an access token is required",
                                        "Bearer");
    }

    id = ngx_chat_identify(r);
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (id->user.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "chat: token refused: %s", id->error);

        return ngx_chat_api_auth_refuse(r, id->error,
                                        "Bearer error=\"invalid_token\"");
    }

    r->connection->log->action = action;

    return NGX_OK;
}


/*
 * Answers the 401 from the access phase itself (the phase would send
 * nginx's HTML page for a status returned) and ends the request there.
 */
static ngx_int_t
ngx_chat_api_auth_refuse(ngx_http_request_t *r, const char *message,
    const char *challenge)
{
    ngx_int_t  rc;

    rc = ngx_chat_api_error(r, NGX_HTTP_UNAUTHORIZED, "unauthorized", message,
                            "WWW-Authenticate", challenge);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}
