/*
 * A Redis client on nginx's event loop (see ngx_chat_redis.h for why it is
 * not hiredis' async API). Non-blocking connect with a timeout, AUTH (when
 * a password is configured) answered before the connection is ready for
 * anything else, commands pipelined through one output buffer, replies
 * parsed by hiredis' reader, reconnect with exponential backoff and
 * jitter. Nothing here blocks.
 */

#include "ngx_chat_redis.h"
#include "ngx_chat_stats.h"


/* past this many unwritten bytes, Redis is too slow: commands are refused */
#define NGX_CHAT_REDIS_MAX_OUT      (8 * 1024 * 1024)


static void ngx_chat_redis_connected(ngx_chat_redis_t *redis);
static ngx_int_t ngx_chat_redis_auth(ngx_chat_redis_t *redis);
static void ngx_chat_redis_auth_reply(ngx_chat_redis_t *redis,
    redisReply *reply);
static ngx_uint_t ngx_chat_redis_noauth(ngx_chat_redis_t *redis,
    redisReply *reply);
static void ngx_chat_redis_ready(ngx_chat_redis_t *redis);
static size_t ngx_chat_redis_size(ngx_uint_t argc, ngx_str_t *argv);
static void ngx_chat_redis_write(ngx_chat_redis_t *redis, ngx_uint_t argc,
    ngx_str_t *argv);
static void ngx_chat_redis_read_handler(ngx_event_t *rev);
static void ngx_chat_redis_write_handler(ngx_event_t *wev);
static void ngx_chat_redis_retry_handler(ngx_event_t *ev);
static ngx_int_t ngx_chat_redis_flush(ngx_chat_redis_t *redis);
static void ngx_chat_redis_dispatch(ngx_chat_redis_t *redis,
    redisReply *reply);
static void ngx_chat_redis_fail(ngx_chat_redis_t *redis, const char *why);
static ngx_int_t ngx_chat_redis_reserve(ngx_chat_redis_t *redis, size_t n);
static ngx_int_t ngx_chat_redis_push_cb(ngx_chat_redis_t *redis,
    ngx_chat_redis_reply_pt handler, void *data);


void
ngx_chat_redis_init(ngx_chat_redis_t *redis, const char *name,
    ngx_addr_t *addr, ngx_msec_t timeout, ngx_str_t *user,
    ngx_str_t *password, ngx_log_t *log)
{
    ngx_memzero(redis, sizeof(ngx_chat_redis_t));

    redis->name = name;
    redis->addr = addr;
    redis->timeout = timeout;
    redis->user = user;
    redis->password = password;
    redis->log = log;
    redis->backoff = NGX_CHAT_REDIS_BACKOFF_MIN;

    ngx_chat_timer_init(&redis->retry, ngx_chat_redis_retry_handler, log);
}


void
ngx_chat_redis_connect(ngx_chat_redis_t *redis)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    ngx_memzero(&redis->peer, sizeof(ngx_peer_connection_t));
    redis->peer.sockaddr = redis->addr->sockaddr;
    redis->peer.socklen = redis->addr->socklen;
    redis->peer.name = &redis->addr->name;
    redis->peer.get = ngx_event_get_peer;
    redis->peer.log = redis->log;
    redis->peer.log_error = NGX_ERROR_ERR;
    redis->peer.tries = 1;

    rc = ngx_event_connect_peer(&redis->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_chat_redis_fail(redis, "connect failed");
        return;
    }

    c = redis->peer.connection;
    c->data = redis;
    c->read->handler = ngx_chat_redis_read_handler;
    c->write->handler = ngx_chat_redis_write_handler;

    redis->reader = redisReaderCreate();
    if (redis->reader == NULL) {
        ngx_chat_redis_fail(redis, "out of memory");
        return;
    }

    if (rc == NGX_AGAIN) {
        ngx_add_timer(c->write, redis->timeout);
        return;
    }

    ngx_chat_redis_connected(redis);
}


/* The socket is connected: AUTH first, when there is a password. */
static void
ngx_chat_redis_connected(ngx_chat_redis_t *redis)
{
    ngx_connection_t  *c;

    c = redis->peer.connection;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (redis->password->len == 0) {
        ngx_chat_redis_ready(redis);
        return;
    }

    if (ngx_chat_redis_auth(redis) != NGX_OK) {
        ngx_chat_redis_fail(redis, "write failed");
    }
}


/*
 * Sends AUTH; nothing else is queued until its reply (the connection is
 * not ready), which the read event's timer bounds like any reply.
 */
static ngx_int_t
ngx_chat_redis_auth(ngx_chat_redis_t *redis)
{
    ngx_str_t          argv[3];
    ngx_uint_t         argc;
    ngx_connection_t  *c;

    c = redis->peer.connection;

    /* ngx_str_set() names its argument twice: no argc++ in it */
    ngx_str_set(&argv[0], "AUTH");
    argc = 1;

    if (redis->user->len) {
        argv[argc++] = *redis->user;
    }

    argv[argc++] = *redis->password;

    if (ngx_chat_redis_reserve(redis, ngx_chat_redis_size(argc, argv))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_chat_redis_write(redis, argc, argv);
    redis->authenticating = 1;

    if (ngx_chat_redis_flush(redis) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!c->read->timer_set) {
        ngx_add_timer(c->read, redis->timeout);
    }

    return NGX_OK;
}


/* A refused AUTH is a failed connection: logged, and tried again later. */
static void
ngx_chat_redis_auth_reply(ngx_chat_redis_t *redis, redisReply *reply)
{
    redis->authenticating = 0;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "chat: redis %s connection to %V: AUTH%s%V refused: "
                      "%*s (chat_redis_user, chat_redis_password)",
                      redis->name, &redis->addr->name,
                      redis->user->len ? " as " : "", redis->user,
                      reply->len, reply->str);
        ngx_chat_redis_fail(redis, "not authenticated");
        return;
    }

    ngx_chat_redis_ready(redis);
}


/*
 * A Redis that wants a password this connection did not give answers
 * every command with NOAUTH: the connection is useless as it is. Said
 * once per attempt, and tried again at the longest backoff.
 */
static ngx_uint_t
ngx_chat_redis_noauth(ngx_chat_redis_t *redis, redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ERROR || reply->len < 6
        || ngx_strncmp(reply->str, "NOAUTH", 6) != 0)
    {
        return 0;
    }

    ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                  "chat: redis %s connection to %V: %*s: "
                  "set chat_redis_password",
                  redis->name, &redis->addr->name, reply->len, reply->str);

    redis->backoff = NGX_CHAT_REDIS_BACKOFF_MAX;
    ngx_chat_redis_fail(redis, "not authenticated");

    return 1;
}


/* Authenticated, or no password: the users' state is set up again. */
static void
ngx_chat_redis_ready(ngx_chat_redis_t *redis)
{
    if (redis->reconnects) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_REDIS_RECONNECTS);
        ngx_log_error(NGX_LOG_NOTICE, redis->log, 0,
                      "chat: redis %s connection to %V is up again",
                      redis->name, &redis->addr->name);
    }

    redis->ready = 1;
    redis->backoff = NGX_CHAT_REDIS_BACKOFF_MIN;

    if (redis->ready_handler) {
        redis->ready_handler(redis);
    }

    if (redis->ready && ngx_chat_redis_flush(redis) != NGX_OK) {
        ngx_chat_redis_fail(redis, "write failed");
    }
}


/* Closes the connection for good (worker exit): no reconnect. */
void
ngx_chat_redis_close(ngx_chat_redis_t *redis)
{
    if (redis->retry.timer_set) {
        ngx_del_timer(&redis->retry);
    }

    redis->addr = NULL;
    ngx_chat_redis_fail(redis, NULL);

    ngx_free(redis->out);
    ngx_free(redis->cbs);
    redis->out = NULL;
    redis->cbs = NULL;
}


ngx_int_t
ngx_chat_redis_command(ngx_chat_redis_t *redis,
    ngx_chat_redis_reply_pt handler, void *data, ngx_uint_t argc,
    ngx_str_t *argv)
{
    if (!redis->ready) {
        return NGX_DECLINED;
    }

    /* room first: a command queued is one that has its handler */
    if (ngx_chat_redis_reserve(redis, ngx_chat_redis_size(argc, argv))
        != NGX_OK
        || ngx_chat_redis_push_cb(redis, handler, data) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_chat_redis_write(redis, argc, argv);

    /* written once the current event is done: one write per batch */
    if (!redis->peer.connection->write->posted) {
        ngx_post_event(redis->peer.connection->write, &ngx_posted_events);
    }

    return NGX_OK;
}


/* The bytes of a command in RESP, at most: "*<argc>", then "$<len>" and
 * the bytes of each argument. */
static size_t
ngx_chat_redis_size(ngx_uint_t argc, ngx_str_t *argv)
{
    size_t      n;
    ngx_uint_t  i;

    n = 1 + NGX_INT_T_LEN + 2;

    for (i = 0; i < argc; i++) {
        n += 1 + NGX_SIZE_T_LEN + 2 + argv[i].len + 2;
    }

    return n;
}


/* Adds a command to the output, in room reserved for it. */
static void
ngx_chat_redis_write(ngx_chat_redis_t *redis, ngx_uint_t argc,
    ngx_str_t *argv)
{
    u_char      *p;
    ngx_uint_t   i;

    p = redis->out + redis->out_len;
    p = ngx_sprintf(p, "*%ui\r\n", argc);

    for (i = 0; i < argc; i++) {
        p = ngx_sprintf(p, "$%uz\r\n", argv[i].len);
        p = ngx_cpymem(p, argv[i].data, argv[i].len);
        *p++ = CR; *p++ = LF;
    }

    redis->out_len = p - redis->out;
}


/* Room for n more bytes of output, compacting or growing the buffer. */
static ngx_int_t
ngx_chat_redis_reserve(ngx_chat_redis_t *redis, size_t n)
{
    u_char  *out;
    size_t   size;

    if (redis->out_pos && redis->out_pos == redis->out_len) {
        redis->out_pos = 0;
        redis->out_len = 0;
    }

    if (redis->out_len + n <= redis->out_size) {
        return NGX_OK;
    }

    if (redis->out_len - redis->out_pos + n > NGX_CHAT_REDIS_MAX_OUT) {
        ngx_log_error(NGX_LOG_WARN, redis->log, 0,
                      "chat: redis %s backlog full, command refused",
                      redis->name);
        return NGX_DECLINED;
    }

    size = ngx_max(redis->out_size * 2, ngx_max(n, 4096));
    size = ngx_min(size, NGX_CHAT_REDIS_MAX_OUT + n);

    out = ngx_alloc(size, redis->log);
    if (out == NULL) {
        return NGX_ERROR;
    }

    if (redis->out_len > redis->out_pos) {
        ngx_memcpy(out, redis->out + redis->out_pos,
                   redis->out_len - redis->out_pos);
    }

    ngx_free(redis->out);
    redis->out = out;
    redis->out_len -= redis->out_pos;
    redis->out_pos = 0;
    redis->out_size = size;

    return NGX_OK;
}


/* Remembers a command's handler; a subscriber has none to remember. */
static ngx_int_t
ngx_chat_redis_push_cb(ngx_chat_redis_t *redis,
    ngx_chat_redis_reply_pt handler, void *data)
{
    ngx_uint_t            i, size;
    ngx_chat_redis_cb_t  *cbs;

    if (redis->push) {
        return NGX_OK;
    }

    if (redis->cb_count == redis->cb_size) {
        size = redis->cb_size ? redis->cb_size * 2 : 64;

        cbs = ngx_alloc(size * sizeof(ngx_chat_redis_cb_t), redis->log);
        if (cbs == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < redis->cb_count; i++) {
            cbs[i] = redis->cbs[(redis->cb_head + i) % redis->cb_size];
        }

        ngx_free(redis->cbs);
        redis->cbs = cbs;
        redis->cb_head = 0;
        redis->cb_size = size;
    }

    i = (redis->cb_head + redis->cb_count) % redis->cb_size;
    redis->cbs[i].handler = handler;
    redis->cbs[i].data = data;
    redis->cb_count++;

    return NGX_OK;
}


static void
ngx_chat_redis_write_handler(ngx_event_t *wev)
{
    int                err;
    socklen_t          len;
    ngx_connection_t  *c;
    ngx_chat_redis_t  *redis;

    c = wev->data;
    redis = c->data;

    if (wev->timedout) {
        ngx_chat_redis_fail(redis, "connect timed out");
        return;
    }

    if (!redis->ready && !redis->authenticating) {
        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1
            || err != 0)
        {
            ngx_chat_redis_fail(redis, "connect failed");
            return;
        }

        ngx_chat_redis_connected(redis);
        return;
    }

    if (ngx_chat_redis_flush(redis) != NGX_OK) {
        ngx_chat_redis_fail(redis, "write failed");
    }
}


/*
 * Writes what is buffered. While replies are owed, the read event carries
 * a timer: a Redis that stops answering is treated as gone.
 */
static ngx_int_t
ngx_chat_redis_flush(ngx_chat_redis_t *redis)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = redis->peer.connection;

    while (redis->out_pos < redis->out_len) {
        n = c->send(c, redis->out + redis->out_pos,
                    redis->out_len - redis->out_pos);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        redis->out_pos += n;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (redis->cb_count && !c->read->timer_set) {
        ngx_add_timer(c->read, redis->timeout);
    }

    return NGX_OK;
}


static void
ngx_chat_redis_read_handler(ngx_event_t *rev)
{
    u_char             buf[16384];
    void              *reply;
    ssize_t            n;
    ngx_connection_t  *c;
    ngx_chat_redis_t  *redis;

    c = rev->data;
    redis = c->data;

    if (rev->timedout) {
        ngx_chat_redis_fail(redis, "reply timed out");
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_chat_redis_fail(redis, "connection closed");
            return;
        }

        if (redisReaderFeed(redis->reader, (char *) buf, n) != REDIS_OK) {
            ngx_chat_redis_fail(redis, "out of memory");
            return;
        }

        for ( ;; ) {
            if (redisReaderGetReply(redis->reader, &reply) != REDIS_OK) {
                ngx_chat_redis_fail(redis, "protocol error");
                return;
            }

            if (reply == NULL) {
                break;
            }

            ngx_chat_redis_dispatch(redis, reply);
            freeReplyObject(reply);

            if (redis->peer.connection == NULL) {
                /* a handler failed the connection */
                return;
            }
        }
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (redis->cb_count || redis->authenticating) {
        ngx_add_timer(c->read, redis->timeout);
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_chat_redis_fail(redis, "event failed");
    }
}


static void
ngx_chat_redis_dispatch(ngx_chat_redis_t *redis, redisReply *reply)
{
    ngx_chat_redis_cb_t  cb;

    if (redis->authenticating) {
        ngx_chat_redis_auth_reply(redis, reply);
        return;
    }

    if (ngx_chat_redis_noauth(redis, reply)) {
        return;
    }

    if (redis->push) {
        redis->push(redis, reply);
        return;
    }

    if (redis->cb_count == 0) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "chat: redis %s sent an unexpected reply",
                      redis->name);
        return;
    }

    cb = redis->cbs[redis->cb_head];
    redis->cb_head = (redis->cb_head + 1) % redis->cb_size;
    redis->cb_count--;

    if (cb.handler) {
        cb.handler(reply, cb.data);
    }
}


/*
 * Drops the connection, fails every command waiting for a reply and, unless
 * closing for good, schedules a reconnect after a growing, jittered delay.
 */
static void
ngx_chat_redis_fail(ngx_chat_redis_t *redis, const char *why)
{
    ngx_msec_t           delay;
    ngx_chat_redis_cb_t  cb;

    if (why) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "chat: redis %s connection to %V: %s, retrying in %M ms",
                      redis->name, &redis->addr->name, why, redis->backoff);
    }

    redis->ready = 0;
    redis->authenticating = 0;

    if (redis->peer.connection) {
        ngx_close_connection(redis->peer.connection);
        redis->peer.connection = NULL;
    }

    if (redis->reader) {
        redisReaderFree(redis->reader);
        redis->reader = NULL;
    }

    redis->out_pos = 0;
    redis->out_len = 0;

    while (redis->cb_count) {
        cb = redis->cbs[redis->cb_head];
        redis->cb_head = (redis->cb_head + 1) % redis->cb_size;
        redis->cb_count--;

        if (cb.handler) {
            cb.handler(NULL, cb.data);
        }
    }

    if (redis->addr == NULL) {
        return;
    }

    /* +-25% so that every worker of every node does not retry in step */
    delay = redis->backoff * 3 / 4 + ngx_random() % (redis->backoff / 2 + 1);
    redis->backoff = ngx_min(redis->backoff * 2, NGX_CHAT_REDIS_BACKOFF_MAX);
    redis->reconnects++;

    ngx_add_timer(&redis->retry, delay);

    if (redis->down_handler) {
        redis->down_handler(redis);
    }
}


static void
ngx_chat_redis_retry_handler(ngx_event_t *ev)
{
    ngx_chat_redis_connect(ngx_chat_event_owner(ev, ngx_chat_redis_t, retry));
}


void
ngx_chat_redis_backlog(ngx_chat_redis_t *redis, size_t *bytes,
    ngx_uint_t *replies)
{
    *bytes = redis->ready ? redis->out_len - redis->out_pos : 0;
    *replies = redis->ready ? redis->cb_count : 0;
}


void
ngx_chat_redis_flush_now(ngx_chat_redis_t *redis)
{
    if (redis->ready && redis->out_pos < redis->out_len) {
        (void) ngx_chat_redis_flush(redis);
    }
}


ngx_uint_t
ngx_chat_redis_script_failed(redisReply *reply, const char *what)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0, "chat: %s failed: %*s",
                  what, reply->len, reply->str);

    return ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0;
}
