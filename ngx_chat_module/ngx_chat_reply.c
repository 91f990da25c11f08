/*
 * Replies to a client: a frame built by the caller, or the error frame of
 * docs/PROTOCOL.md section 4 that echoes a request's "id". The layer just
 * above the socket (ngx_chat_ws.c): every feature answers through it, and
 * it calls nothing above itself.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_stats.h"
#include "chat_frame.h"


void
ngx_chat_reply_error(ngx_chat_conn_t *cc, chat_str_t *id, const char *code,
    const char *message)
{
    ngx_chat_stat_error(code);

    (void) ngx_chat_reply(cc, chat_frame_error(*id, code, message));
}


/* Sends and releases a reply built by the caller (NULL: out of memory). */
ngx_int_t
ngx_chat_reply(ngx_chat_conn_t *cc, json_t *json)
{
    ngx_int_t  rc;

    if (json == NULL) {
        ngx_log_error(NGX_LOG_ERR, cc->connection->log, 0,
                      "chat: cannot build a reply: out of memory");
        return NGX_ERROR;
    }

    rc = ngx_chat_ws_send_json(cc, json);
    json_decref(json);

    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}
