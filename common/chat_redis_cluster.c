/*
 * A Redis Cluster client on blocking hiredis (chat_redis_cluster.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_conf.h"
#include "chat_redis_cluster.h"
#include "chat_worker_log.h"


#define CHAT_RC_NODE_BACKOFF_MIN   100     /* ms, a node that failed */
#define CHAT_RC_NODE_BACKOFF_MAX   2000
#define CHAT_RC_ROUND_BACKOFF_MIN  50      /* ms, between rounds */
#define CHAT_RC_ROUND_BACKOFF_MAX  800


/* A node's connection, made when a command first goes there. */

typedef struct {
    chat_cluster_addr_t   addr;
    redisContext         *ctx;
    int64_t               next_attempt;    /* monotonic ms */
    int64_t               backoff;
    size_t                queued;          /* this round's commands */
} chat_rc_conn_t;

struct chat_redis_cluster_s {
    const chat_redis_cluster_conf_t  *conf;
    struct timeval                    timeout;

    chat_cluster_addr_t              *seeds;
    size_t                            nseeds;

    chat_cluster_map_t                map;
    int                               stale;     /* read the map again */

    chat_rc_conn_t                   *conns;
    size_t                            nconns;

    char                              error[256];
};


static int64_t
chat_rc_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
chat_rc_sleep(int64_t ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;
    nanosleep(&ts, NULL);
}


static void
chat_rc_fail(chat_redis_cluster_t *c, const chat_cluster_addr_t *addr,
    const char *what, const char *why)
{
    snprintf(c->error, sizeof(c->error), "%s:%u: %s: %s", addr->host,
             (unsigned) addr->port, what, why);
    chat_worker_log(CHAT_LOG_DEBUG, "redis cluster: %s", c->error);
}


/* "host[:port],..." into c->seeds. */

static int
chat_rc_seeds(chat_redis_cluster_t *c, const char *list, char *err,
    size_t errlen)
{
    int          port;
    char        *copy, *one, *save, *host;
    size_t       n;
    const char  *p;

    copy = strdup(list);

    for (n = 1, p = list; *p; p++) {
        n += (*p == ',');
    }

    c->seeds = calloc(n, sizeof(chat_cluster_addr_t));

    if (copy == NULL || c->seeds == NULL) {
        free(copy);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    for (one = strtok_r(copy, ",", &save); one != NULL;
         one = strtok_r(NULL, ",", &save))
    {
        if (chat_conf_hostport(one, CHAT_REDIS_CLUSTER_PORT, &host, &port)
            != 0 || port == 0 || strlen(host) >= CHAT_CLUSTER_HOST_MAX)
        {
            snprintf(err, errlen, "bad Redis Cluster seed \"%s\" (host:port)",
                     one);
            free(host);
            free(copy);
            return -1;
        }

        /* the length was checked above */
        memcpy(c->seeds[c->nseeds].host, host, strlen(host) + 1);
        c->seeds[c->nseeds++].port = (uint16_t) port;
        free(host);
    }

    free(copy);

    if (c->nseeds == 0) {
        snprintf(err, errlen, "no Redis Cluster seed in \"%s\"", list);
        return -1;
    }

    return 0;
}


chat_redis_cluster_t *
chat_redis_cluster_new(const chat_redis_cluster_conf_t *conf, char *err,
    size_t errlen)
{
    chat_redis_cluster_t  *c;

    c = calloc(1, sizeof(chat_redis_cluster_t));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    c->conf = conf;
    c->timeout.tv_sec = conf->timeout / 1000;
    c->timeout.tv_usec = (conf->timeout % 1000) * 1000;
    c->stale = 1;
    memset(c->map.owner, 0xff, sizeof(c->map.owner));

    if (chat_rc_seeds(c, conf->seeds, err, errlen) != 0) {
        chat_redis_cluster_free(c);
        return NULL;
    }

    return c;
}


int
chat_redis_cluster_seeds_check(const char *list, char *err, size_t errlen)
{
    chat_redis_cluster_t       *c;
    chat_redis_cluster_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.seeds = list;

    c = chat_redis_cluster_new(&conf, err, errlen);
    chat_redis_cluster_free(c);

    return c ? 0 : -1;
}


/* ------------------------------------------------------- connections */

static void
chat_rc_conn_drop(chat_redis_cluster_t *c, chat_rc_conn_t *k,
    const char *what, const char *why)
{
    chat_rc_fail(c, &k->addr, what, why);

    if (k->ctx != NULL) {
        redisFree(k->ctx);
        k->ctx = NULL;
    }

    k->next_attempt = chat_rc_now() + k->backoff;
    k->backoff = k->backoff * 2 > CHAT_RC_NODE_BACKOFF_MAX
                 ? CHAT_RC_NODE_BACKOFF_MAX : k->backoff * 2;

    /* the node may be gone and its slots elsewhere */
    c->stale = 1;
}


static int
chat_rc_auth(chat_redis_cluster_t *c, chat_rc_conn_t *k)
{
    redisReply                       *reply;
    const chat_redis_cluster_conf_t  *conf = c->conf;

    if (conf->secret == NULL) {
        return 0;
    }

    reply = conf->user
            ? redisCommand(k->ctx, "AUTH %s %b", conf->user, conf->secret,
                           conf->secret_len)
            : redisCommand(k->ctx, "AUTH %b", conf->secret,
                           conf->secret_len);

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        chat_rc_conn_drop(c, k, "AUTH", reply ? reply->str : k->ctx->errstr);

        if (reply != NULL) {
            freeReplyObject(reply);
        }

        return -1;
    }

    freeReplyObject(reply);

    return 0;
}


/* The index of addr's connection, connected now if need be; -1 when it
 * cannot be (then in its backoff). */

static int
chat_rc_conn(chat_redis_cluster_t *c, const chat_cluster_addr_t *addr)
{
    size_t           i;
    chat_rc_conn_t  *k, *conns;

    for (i = 0; i < c->nconns; i++) {
        if (c->conns[i].addr.port == addr->port
            && strcmp(c->conns[i].addr.host, addr->host) == 0)
        {
            break;
        }
    }

    if (i == c->nconns) {
        conns = realloc(c->conns, (c->nconns + 1) * sizeof(*conns));
        if (conns == NULL) {
            return -1;
        }

        c->conns = conns;
        k = &c->conns[c->nconns++];
        memset(k, 0, sizeof(*k));
        k->addr = *addr;
        k->backoff = CHAT_RC_NODE_BACKOFF_MIN;
    }

    k = &c->conns[i];

    if (k->ctx != NULL) {
        return (int) i;
    }

    if (chat_rc_now() < k->next_attempt) {
        return -1;
    }

    k->ctx = redisConnectWithTimeout(addr->host, addr->port, c->timeout);

    if (k->ctx == NULL) {
        chat_rc_conn_drop(c, k, "connect", "out of memory");
        return -1;
    }

    if (k->ctx->err || redisSetTimeout(k->ctx, c->timeout) != REDIS_OK
        || redisEnableKeepAlive(k->ctx) != REDIS_OK)
    {
        chat_rc_conn_drop(c, k, "connect", k->ctx->errstr);
        return -1;
    }

    if (chat_rc_auth(c, k) != 0) {
        return -1;
    }

    k->backoff = CHAT_RC_NODE_BACKOFF_MIN;

    return (int) i;
}


/* ------------------------------------------------------------ the map */

/* CLUSTER SLOTS of one node into c->map; 0, or -1. */

static int
chat_rc_map_from(chat_redis_cluster_t *c, const chat_cluster_addr_t *addr)
{
    int                 i, rc;
    char                err[128];
    redisReply         *reply;
    chat_cluster_map_t  map;

    i = chat_rc_conn(c, addr);
    if (i < 0) {
        return -1;
    }

    reply = redisCommand(c->conns[i].ctx, "CLUSTER SLOTS");

    if (reply == NULL) {
        chat_rc_conn_drop(c, &c->conns[i], "CLUSTER SLOTS",
                          c->conns[i].ctx->errstr);
        return -1;
    }

    /* a node that reports no address of its own is the one asked */
    rc = chat_cluster_map_parse(reply, addr->host, &map, err, sizeof(err));
    freeReplyObject(reply);

    if (rc != 0 || map.nnodes == 0) {
        chat_rc_fail(c, addr, "CLUSTER SLOTS", rc ? err : "no slot served");
        chat_cluster_map_free(&map);
        return -1;
    }

    chat_cluster_map_free(&c->map);
    c->map = map;

    return 0;
}


/* A new map from the masters of the last one, else the seeds. */

static void
chat_rc_refresh(chat_redis_cluster_t *c)
{
    size_t               i, n;
    chat_cluster_addr_t  *known;

    n = c->map.nnodes;
    known = n ? malloc(n * sizeof(*known)) : NULL;

    if (known != NULL) {
        memcpy(known, c->map.nodes, n * sizeof(*known));
    }

    c->stale = 0;

    for (i = 0; known != NULL && i < n; i++) {
        if (chat_rc_map_from(c, &known[i]) == 0) {
            free(known);
            return;
        }
    }

    free(known);

    for (i = 0; i < c->nseeds; i++) {
        if (chat_rc_map_from(c, &c->seeds[i]) == 0) {
            return;
        }
    }

    /* nothing answered: the next round asks again */
    c->stale = 1;
}


/* ------------------------------------------------------------ a round */

/* A cluster that is changing (chat_cluster_changing), or a node that
 * lost our AUTH (restarted): the command is sent again. */
static int
chat_rc_retryable(const redisReply *reply)
{
    return chat_cluster_changing(reply->str, reply->len)
           || (reply->len >= 6 && strncmp(reply->str, "NOAUTH", 6) == 0);
}


/* A redirection whose target cannot be reached now (a node that died
 * since it was named): the next round routes by the (refreshed) map
 * rather than waiting for that one node until the budget runs out. */

static void
chat_rc_unredirect(chat_redis_cluster_cmd_t *cmd)
{
    cmd->redirected = 0;
    cmd->asking = 0;
}


/* Queues cmd on the connection of its node: 0, or -1 when its node has
 * none now. */

static int
chat_rc_queue(chat_redis_cluster_t *c, chat_redis_cluster_cmd_t *cmd)
{
    int                        i, owner;
    const chat_cluster_addr_t *addr;

    if (cmd->redirected) {
        addr = &cmd->target;

    } else {
        owner = chat_cluster_map_owner(&c->map, chat_cluster_slot(
                                       cmd->argv[1], cmd->argvlen[1]));
        if (owner < 0) {
            c->stale = 1;
            return -1;
        }

        addr = &c->map.nodes[owner];
    }

    i = chat_rc_conn(c, addr);
    if (i < 0) {
        chat_rc_unredirect(cmd);
        return -1;
    }

    if ((cmd->asking
         && redisAppendCommand(c->conns[i].ctx, "ASKING") != REDIS_OK)
        || redisAppendCommandArgv(c->conns[i].ctx, cmd->argc, cmd->argv,
                                  cmd->argvlen) != REDIS_OK)
    {
        chat_rc_conn_drop(c, &c->conns[i], "append", "out of memory");
        chat_rc_unredirect(cmd);
        return -1;
    }

    cmd->conn = i;
    c->conns[i].queued++;

    return 0;
}


/* What a reply says of cmd: 1 answered (kept), 0 to go again. */

static int
chat_rc_take(chat_redis_cluster_t *c, chat_redis_cluster_cmd_t *cmd,
    const chat_rc_conn_t *k, redisReply *reply)
{
    chat_cluster_redirect_t  r;
    chat_cluster_redirect_e  kind;

    cmd->asking = 0;
    cmd->redirected = 0;

    if (reply->type != REDIS_REPLY_ERROR) {
        cmd->reply = reply;
        return 1;
    }

    kind = chat_cluster_redirect(reply->str, reply->len, &r);

    if (kind != CHAT_CLUSTER_NO_REDIRECT) {
        chat_rc_fail(c, &k->addr, "redirected", reply->str);
        freeReplyObject(reply);

        if (++cmd->redirects > CHAT_REDIS_CLUSTER_REDIRECTS) {
            return 0;
        }

        /* a node that knows no address of its own is the one that said so */
        if (r.addr.host[0] == '\0') {
            memcpy(r.addr.host, k->addr.host, sizeof(r.addr.host));
        }

        cmd->target = r.addr;
        cmd->redirected = 1;
        cmd->asking = (kind == CHAT_CLUSTER_ASK);
        c->stale |= (kind == CHAT_CLUSTER_MOVED);

        return 0;
    }

    if (chat_rc_retryable(reply)) {
        chat_rc_fail(c, &k->addr, "retried", reply->str);
        freeReplyObject(reply);
        c->stale = 1;
        return 0;
    }

    /* the command's own error: its answer */
    cmd->reply = reply;

    return 1;
}


/* Sends what is queued on connection i and reads its replies, in the
 * order queued. Returns how many were answered. */

static size_t
chat_rc_exchange(chat_redis_cluster_t *c, size_t i,
    chat_redis_cluster_cmd_t *cmds, size_t n)
{
    void            *v;
    size_t           j, answered;
    chat_rc_conn_t  *k = &c->conns[i];

    answered = 0;

    for (j = 0; j < n; j++) {
        if (cmds[j].conn != (int) i) {
            continue;
        }

        cmds[j].conn = -1;

        if (k->ctx == NULL) {
            continue;           /* lost earlier in this exchange */
        }

        /* ASKING's own +OK first */
        if (cmds[j].asking) {
            if (redisGetReply(k->ctx, &v) != REDIS_OK) {
                chat_rc_conn_drop(c, k, "reply", k->ctx->errstr);
                continue;
            }

            freeReplyObject(v);
        }

        if (redisGetReply(k->ctx, &v) != REDIS_OK) {
            /* what was not read may or may not have been done: it is sent
             * again (receivers dedupe a publish, a set change is
             * idempotent) */
            chat_rc_conn_drop(c, k, "reply", k->ctx->errstr);
            continue;
        }

        answered += (size_t) chat_rc_take(c, &cmds[j], k, v);
    }

    k->queued = 0;

    return answered;
}


/* One round: every command not yet answered, queued on its node, the
 * pipelines sent all at once, then read node by node. */

static size_t
chat_rc_round(chat_redis_cluster_t *c, chat_redis_cluster_cmd_t *cmds,
    size_t n)
{
    int     done;
    size_t  i, answered;

    if (c->stale) {
        chat_rc_refresh(c);
    }

    for (i = 0; i < n; i++) {
        cmds[i].conn = -1;

        if (cmds[i].reply == NULL
            && cmds[i].redirects <= CHAT_REDIS_CLUSTER_REDIRECTS)
        {
            (void) chat_rc_queue(c, &cmds[i]);
        }
    }

    /* every node's pipeline on its way before any reply is waited for */

    for (i = 0; i < c->nconns; i++) {
        done = 0;

        while (c->conns[i].queued && c->conns[i].ctx != NULL && !done) {
            if (redisBufferWrite(c->conns[i].ctx, &done) != REDIS_OK) {
                chat_rc_conn_drop(c, &c->conns[i], "send",
                                  c->conns[i].ctx->errstr);
            }
        }
    }

    answered = 0;

    for (i = 0; i < c->nconns; i++) {
        if (c->conns[i].queued) {
            answered += chat_rc_exchange(c, i, cmds, n);
        }
    }

    return answered;
}


/* How many redirections the commands got so far. */

static size_t
chat_rc_redirects(const chat_redis_cluster_cmd_t *cmds, size_t n)
{
    size_t  i, r;

    for (i = 0, r = 0; i < n; i++) {
        r += (size_t) cmds[i].redirects;
    }

    return r;
}


size_t
chat_redis_cluster_run(chat_redis_cluster_t *c,
    chat_redis_cluster_cmd_t *cmds, size_t n, int64_t budget)
{
    size_t   i, answered, left, redirects;
    int64_t  deadline, wait, now;

    for (i = 0; i < n; i++) {
        cmds[i].reply = NULL;
        cmds[i].redirects = 0;
        cmds[i].asking = 0;
        cmds[i].redirected = 0;
    }

    c->error[0] = '\0';
    deadline = chat_rc_now() + budget;
    wait = CHAT_RC_ROUND_BACKOFF_MIN;
    answered = 0;

    for ( ;; ) {
        redirects = chat_rc_redirects(cmds, n);
        answered += chat_rc_round(c, cmds, n);

        for (i = 0, left = 0; i < n; i++) {
            left += (cmds[i].reply == NULL
                     && cmds[i].redirects <= CHAT_REDIS_CLUSTER_REDIRECTS);
        }

        if (left == 0) {
            return answered;
        }

        /* a redirection just answered is followed at once (each command
         * gets a few); anything else, a node that could not be reached
         * among them, waits for the cluster to settle (a failover, a node
         * coming back) */
        if (chat_rc_redirects(cmds, n) > redirects) {
            continue;
        }

        now = chat_rc_now();

        if (now >= deadline) {
            return answered;
        }

        chat_rc_sleep(wait < deadline - now ? wait : deadline - now);
        wait = wait * 2 > CHAT_RC_ROUND_BACKOFF_MAX
               ? CHAT_RC_ROUND_BACKOFF_MAX : wait * 2;
    }
}


void
chat_redis_cluster_cmds_free(chat_redis_cluster_cmd_t *cmds, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (cmds[i].reply != NULL) {
            freeReplyObject(cmds[i].reply);
            cmds[i].reply = NULL;
        }
    }
}


const char *
chat_redis_cluster_error(const chat_redis_cluster_t *c)
{
    return c->error;
}


void
chat_redis_cluster_free(chat_redis_cluster_t *c)
{
    size_t  i;

    if (c == NULL) {
        return;
    }

    for (i = 0; i < c->nconns; i++) {
        if (c->conns[i].ctx != NULL) {
            redisFree(c->conns[i].ctx);
        }
    }

    free(c->conns);
    free(c->seeds);
    chat_cluster_map_free(&c->map);
    free(c);
}
