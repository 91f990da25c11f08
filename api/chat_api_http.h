/*
 * chat-api's HTTP side on libmicrohttpd: the daemon, its thread pool, and
 * the routing of each request to its endpoint (chat_api_route.h).
 *
 * A request names its user in X-Chat-User, which nginx sets once it has
 * checked the token (the module's chat_auth) and which clients cannot
 * send through it; without a valid one the answer is 401. chat-api never
 * sees a token.
 */

#ifndef CHAT_API_HTTP_H
#define CHAT_API_HTTP_H

#include <stdint.h>
#include <microhttpd.h>

#include "chat_api_conf.h"
#include "chat_api_pool.h"
#include "chat_api_route.h"


#define CHAT_API_USER_HEADER  "X-Chat-User"

/* A request being answered, as every endpoint is given it. */
typedef struct {
    struct MHD_Connection    *conn;
    const chat_api_conf_t    *conf;
    chat_api_pool_t          *pool;
    chat_api_slot_t          *slot;     /* NULL but while answering */
    chat_str_t                user;
    chat_api_route_t          route;
    int64_t                   now_ms;
} chat_api_req_t;

typedef struct {
    struct MHD_Daemon        *daemon;
    const chat_api_conf_t    *conf;
    chat_api_pool_t          *pool;
} chat_api_http_t;


/* Starts serving on conf->listen; -1 with a reason in err. */
int chat_api_http_start(chat_api_http_t *http, const chat_api_conf_t *conf,
    chat_api_pool_t *pool, char *err, size_t errlen);

/* The port served on (the one chosen when --listen named port 0). */
int chat_api_http_port(chat_api_http_t *http);

/* Stops: requests being answered end first. */
void chat_api_http_stop(chat_api_http_t *http);

/* The value of query parameter name, NULL when absent. */
const char *chat_api_http_arg(chat_api_req_t *req, const char *name);

/* The time now, ms since the epoch. */
int64_t chat_api_http_now_ms(void);

#endif /* CHAT_API_HTTP_H */
