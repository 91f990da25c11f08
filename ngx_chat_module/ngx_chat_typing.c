/*
 * Typing (PROTOCOL.md 3 and 4): ephemeral, so it never touches the log or
 * the store. It is published straight to the recipient's channel, and
 * dropped, silently, whenever keeping it would cost more than it is worth:
 * past the user's rate, or when the Redis connection is behind.
 */

#include "ngx_chat_module.h"


#define NGX_CHAT_TYPING_SHED_BYTES    (64 * 1024)
#define NGX_CHAT_TYPING_SHED_REPLIES  4096


static ngx_uint_t ngx_chat_typing_allowed(ngx_chat_conn_t *cc);


void
ngx_chat_typing(ngx_chat_conn_t *cc, chat_req_t *req)
{
    u_char            *p, *buf;
    size_t             len;
    ngx_str_t          argv[3];
    chat_str_t         self;
    ngx_chat_redis_t  *redis;
    u_char             conv[CHAT_CONV_MAX];
    u_char             channel[sizeof("chat:u:") - 1 + CHAT_ID_MAX];

    if (req->group.len) {
        ngx_chat_session_error(cc, &req->id, "unavailable",
                               "group typing is not available yet");
        return;
    }

    redis = ngx_chat_users_redis();

    if (redis == NULL
        || ngx_chat_redis_behind(redis, NGX_CHAT_TYPING_SHED_BYTES,
                                 NGX_CHAT_TYPING_SHED_REPLIES)
        || !ngx_chat_typing_allowed(cc))
    {
        return;
    }

    self.s = (char *) cc->id.user.data;
    self.len = cc->id.user.len;
    len = chat_conv_dm((char *) conv, self, req->to);

    /* ids are of a charset that needs no JSON escaping */
    buf = ngx_alloc(sizeof("*\n{\"type\":\"typing\",\"conv\":\"\",\"from\":\"\","
                           "\"state\":\"start\"}") + len + self.len,
                    cc->connection->log);
    if (buf == NULL) {
        return;
    }

    p = ngx_sprintf(buf, "*\n{\"type\":\"typing\",\"conv\":\"%*s\","
                    "\"from\":\"%V\",\"state\":\"%s\"}",
                    len, conv, &cc->id.user,
                    req->typing == CHAT_TYPING_START ? "start" : "stop");

    ngx_str_set(&argv[0], "PUBLISH");
    argv[1].data = channel;
    argv[1].len = ngx_sprintf(channel, "chat:u:%*s", req->to.len, req->to.s)
                  - channel;
    argv[2].data = buf;
    argv[2].len = p - buf;

    (void) ngx_chat_redis_command(redis, NULL, NULL, 3, argv);

    ngx_free(buf);
}


/*
 * A token bucket per user on this worker, shared by the user's devices
 * here: chat_typing_rate tokens a second, as many at most.
 */
static ngx_uint_t
ngx_chat_typing_allowed(ngx_chat_conn_t *cc)
{
    ngx_uint_t        rate, cap;
    ngx_msec_t        elapsed;
    ngx_chat_user_t  *u;

    u = cc->user;
    rate = cc->conf->typing_rate;

    if (u == NULL || rate == 0) {
        return 0;
    }

    cap = rate * 1000;
    elapsed = ngx_current_msec - u->typing_last;
    u->typing_last = ngx_current_msec;

    if (elapsed > 1000) {
        u->typing_tokens = cap;

    } else {
        u->typing_tokens = ngx_min(cap, u->typing_tokens + elapsed * rate);
    }

    if (u->typing_tokens < 1000) {
        return 0;
    }

    u->typing_tokens -= 1000;

    return 1;
}
