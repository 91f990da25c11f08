/*
 * chat-api on libmicrohttpd: a thread pool (--threads), each request
 * routed and answered in the thread that read it.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chat_api_endpoints.h"
#include "chat_api_http.h"
#include "chat_api_reply.h"
#include "chat_worker_log.h"


/* a presence query of 500 ids of 64 bytes, with commas, and its headers */
#define CHAT_API_CONN_MEMORY   (128 * 1024)
#define CHAT_API_IDLE_SECONDS  60


int64_t
chat_api_http_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


const char *
chat_api_http_arg(chat_api_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}


/* The user nginx names; len 0 when the header is absent or no user id. */

static chat_str_t
chat_api_http_user(struct MHD_Connection *c)
{
    size_t       len;
    chat_str_t   user = { NULL, 0 };
    const char  *v;

    if (MHD_lookup_connection_value_n(c, MHD_HEADER_KIND,
                                      CHAT_API_USER_HEADER,
                                      sizeof(CHAT_API_USER_HEADER) - 1, &v,
                                      &len)
        == MHD_YES
        && chat_id_valid(v, len))
    {
        user.s = v;
        user.len = len;
    }

    return user;
}


static enum MHD_Result
chat_api_http_dispatch(chat_api_req_t *req)
{
    enum MHD_Result  rc;

    req->slot = chat_api_pool_get(req->pool);

    switch (req->route.route) {
    case CHAT_API_CONVERSATIONS:
        rc = chat_api_conversations(req);
        break;
    case CHAT_API_MESSAGES:
        rc = chat_api_messages(req);
        break;
    case CHAT_API_GROUP:
        rc = chat_api_group(req);
        break;
    default:
        rc = chat_api_presence(req);
        break;
    }

    chat_api_pool_put(req->pool, req->slot);
    req->slot = NULL;

    return rc;
}


static enum MHD_Result
chat_api_http_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **state)
{
    chat_api_req_t    req;
    chat_api_http_t  *http = cls;

    (void) version;

    memset(&req, 0, sizeof(req));
    req.conn = c;
    req.conf = http->conf;
    req.pool = http->pool;
    req.now_ms = chat_api_http_now_ms();

    if (*state != NULL) {
        return chat_api_media_body(&req, *state, data, size);
    }

    chat_api_route(method, url, &req.route);

    if (req.route.route == CHAT_API_NONE) {
        return chat_api_reply_error(c, MHD_HTTP_NOT_FOUND, "no such path");
    }

    if (!req.route.allowed) {
        return chat_api_reply_not_allowed(c, req.route.allow);
    }

    req.user = chat_api_http_user(c);

    if (req.user.len == 0) {
        return chat_api_reply_error(c, MHD_HTTP_UNAUTHORIZED,
                                    "no authenticated user");
    }

    if (req.route.route == CHAT_API_MEDIA) {
        return chat_api_media_start(&req, state);
    }

    return chat_api_http_dispatch(&req);
}


static void
chat_api_http_completed(void *cls, struct MHD_Connection *c, void **state,
    enum MHD_RequestTerminationCode why)
{
    (void) cls;
    (void) c;
    (void) why;

    if (*state != NULL) {
        chat_api_media_done(*state);
        *state = NULL;
    }
}


__attribute__((format(printf, 2, 0)))
static void
chat_api_http_log(void *cls, const char *fmt, va_list args)
{
    char    line[512];
    size_t  n;

    (void) cls;

    vsnprintf(line, sizeof(line), fmt, args);

    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n') {
        line[--n] = '\0';
    }

    chat_worker_log(CHAT_LOG_WARN, "http: %s", line);
}


int
chat_api_http_start(chat_api_http_t *http, const chat_api_conf_t *conf,
    chat_api_pool_t *pool, char *err, size_t errlen)
{
    unsigned int  flags;

    http->conf = conf;
    http->pool = pool;

    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
            | MHD_USE_ERROR_LOG;

    http->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, chat_api_http_request, http,
        /* first, so that the library logs nothing its own way */
        MHD_OPTION_EXTERNAL_LOGGER, chat_api_http_log, http,
        MHD_OPTION_SOCK_ADDR, &conf->listen_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) conf->threads,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CHAT_API_CONN_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) CHAT_API_IDLE_SECONDS,
        MHD_OPTION_NOTIFY_COMPLETED, chat_api_http_completed, http,
        MHD_OPTION_END);

    if (http->daemon == NULL) {
        snprintf(err, errlen, "cannot serve on %s (in use, or not an "
                 "address of this host)", conf->listen);
        return -1;
    }

    return 0;
}


int
chat_api_http_port(chat_api_http_t *http)
{
    const union MHD_DaemonInfo  *info;

    info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);

    return info ? (int) info->port : -1;
}


void
chat_api_http_stop(chat_api_http_t *http)
{
    if (http->daemon != NULL) {
        MHD_stop_daemon(http->daemon);
        http->daemon = NULL;
    }
}
