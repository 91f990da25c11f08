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


/* The user nginx names into req->user; -1 when the header is absent or
 * no user id. */

static int
chat_api_http_user(chat_api_req_t *req, const char *method, const char *url)
{
    size_t       len;
    const char  *v;

    if (MHD_lookup_connection_value_n(req->conn, MHD_HEADER_KIND,
                                      CHAT_API_USER_HEADER,
                                      sizeof(CHAT_API_USER_HEADER) - 1, &v,
                                      &len)
        != MHD_YES
        || !chat_id_valid(v, len))
    {
        return -1;
    }

    req->user.s = v;
    req->user.len = len;

    if (chat_worker_log_enabled(CHAT_LOG_DEBUG)) {
        chat_worker_log(CHAT_LOG_DEBUG, "%s %s for \"%.*s\"", method, url,
                        (int) len, v);
    }

    return 0;
}


/* The answer of a store failure: 503, logged with the store's reason. */

enum MHD_Result
chat_api_store_failed(chat_api_req_t *req, const char *what)
{
    chat_worker_log(CHAT_LOG_ERROR, "%s for \"%.*s\": %s", what,
                    (int) req->user.len, req->user.s,
                    chat_store_errstr(req->slot->store));

    return chat_api_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                "the store is unavailable, try again later");
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


/*
 * The state of a request that is not an upload. libmicrohttpd closes the
 * connection after an answer given on the first call (the headers alone),
 * since it cannot tell what body would have followed; such a request is
 * answered on the call after, once the request is complete, so that
 * nginx's keepalive connection stays open. An upload is decided on the
 * first call too, and answered at the end of its body
 * (chat_api_media.c).
 */
static char  chat_api_http_plain;


static enum MHD_Result
chat_api_http_answer(chat_api_req_t *req, const char *method,
    const char *url)
{
    if (req->route.route == CHAT_API_NONE) {
        return chat_api_reply_error(req->conn, MHD_HTTP_NOT_FOUND,
                                    "no such path");
    }

    if (!req->route.allowed) {
        return chat_api_reply_not_allowed(req->conn, req->route.allow);
    }

    if (chat_api_http_user(req, method, url) != 0) {
        return chat_api_reply_error(req->conn, MHD_HTTP_UNAUTHORIZED,
                                    "no authenticated user");
    }

    return chat_api_http_dispatch(req);
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

    if (*state == &chat_api_http_plain) {
        if (*size != 0) {
            *size = 0;              /* a body where none is read: dropped */
            return MHD_YES;
        }

        chat_api_route(method, url, &req.route);
        return chat_api_http_answer(&req, method, url);
    }

    if (*state != NULL) {
        return chat_api_media_body(&req, *state, data, size);
    }

    chat_api_route(method, url, &req.route);

    if (req.route.route != CHAT_API_MEDIA || !req.route.allowed) {
        *state = &chat_api_http_plain;
        return MHD_YES;
    }

    /* without a user, the upload is refused (401) as it ends */
    (void) chat_api_http_user(&req, method, url);

    return chat_api_media_start(&req, state);
}


static void
chat_api_http_completed(void *cls, struct MHD_Connection *c, void **state,
    enum MHD_RequestTerminationCode why)
{
    (void) cls;
    (void) c;
    (void) why;

    if (*state != NULL && *state != &chat_api_http_plain) {
        chat_api_media_done(*state);
    }

    *state = NULL;
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
