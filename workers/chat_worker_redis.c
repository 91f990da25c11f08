/*
 * chat-worker's Redis publisher.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>

#include "chat_redis_cluster.h"
#include "chat_worker_log.h"
#include "chat_worker_redis.h"


#define CHAT_WORKER_REDIS_BACKOFF_MIN  100     /* ms */
#define CHAT_WORKER_REDIS_BACKOFF_MAX  5000

/* How long a batch waits for a cluster to answer every publish: longer
 * than a failover takes (a replica is promoted some seconds after its
 * master stops answering, cluster-node-timeout and an election). */
#define CHAT_WORKER_REDIS_FAILOVER_MS  15000


struct chat_worker_redis_s {
    const chat_worker_conf_t  *conf;
    redisContext              *ctx;
    struct timeval             timeout;

    int64_t                    next_attempt;   /* monotonic ms */
    int64_t                    backoff;        /* ms */
    int                        down;           /* told the log so */

    /* a cluster (--redis-cluster): its client, and a batch's commands */
    chat_redis_cluster_conf_t  cluster_conf;
    chat_redis_cluster_t      *cluster;
    chat_redis_cluster_cmd_t  *cmds;
    size_t                     ncmds;
};


static int64_t
chat_worker_redis_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


chat_worker_redis_t *
chat_worker_redis_new(const chat_worker_conf_t *conf)
{
    char                  err[256];
    chat_worker_redis_t  *r;

    r = calloc(1, sizeof(chat_worker_redis_t));
    if (r == NULL) {
        return NULL;
    }

    r->conf = conf;
    r->timeout.tv_sec = conf->redis_timeout / 1000;
    r->timeout.tv_usec = (conf->redis_timeout % 1000) * 1000;
    r->backoff = CHAT_WORKER_REDIS_BACKOFF_MIN;

    if (conf->redis_cluster) {
        r->cluster_conf.seeds = conf->redis;
        r->cluster_conf.user = conf->redis_user;
        r->cluster_conf.secret = conf->redis_secret;
        r->cluster_conf.secret_len = conf->redis_secret_len;
        r->cluster_conf.timeout = conf->redis_timeout;

        /* the seeds were checked with the settings: only memory fails */
        r->cluster = chat_redis_cluster_new(&r->cluster_conf, err,
                                            sizeof(err));
        if (r->cluster == NULL) {
            chat_worker_log(CHAT_LOG_ERROR, "redis cluster: %s", err);
            free(r);
            return NULL;
        }
    }

    return r;
}


/* Drops the connection; the next attempt is after the backoff. */

static void
chat_worker_redis_lost(chat_worker_redis_t *r, const char *what,
    const char *why)
{
    if (!r->down) {
        chat_worker_log(CHAT_LOG_WARN, "redis %s: %s: %s; publishing "
                        "resumes when it is back (clients sync)",
                        r->conf->redis, what, why);
        r->down = 1;

    } else {
        chat_worker_log(CHAT_LOG_DEBUG, "redis %s: %s: %s", r->conf->redis,
                        what, why);
    }

    if (r->ctx != NULL) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }

    r->next_attempt = chat_worker_redis_now() + r->backoff;
    r->backoff *= 2;

    if (r->backoff > CHAT_WORKER_REDIS_BACKOFF_MAX) {
        r->backoff = CHAT_WORKER_REDIS_BACKOFF_MAX;
    }
}


/*
 * AUTH, before anything else on a new connection. Refused (a wrong
 * password, an unknown or disabled user), it is a failed connection: said
 * once, tried again after the backoff.
 */

static int
chat_worker_redis_auth(chat_worker_redis_t *r)
{
    redisReply  *reply;

    if (r->conf->redis_secret == NULL) {
        return 0;
    }

    if (r->conf->redis_user != NULL) {
        reply = redisCommand(r->ctx, "AUTH %s %b", r->conf->redis_user,
                             r->conf->redis_secret,
                             r->conf->redis_secret_len);
    } else {
        reply = redisCommand(r->ctx, "AUTH %b", r->conf->redis_secret,
                             r->conf->redis_secret_len);
    }

    if (reply == NULL) {
        chat_worker_redis_lost(r, "AUTH", r->ctx->errstr);
        return -1;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (!r->down) {
            chat_worker_log(CHAT_LOG_ERROR, "redis %s: AUTH%s%s refused: %s "
                            "(chat_redis_user, chat_redis_password)",
                            r->conf->redis,
                            r->conf->redis_user ? " as " : "",
                            r->conf->redis_user ? r->conf->redis_user : "",
                            reply->str);
        }

        freeReplyObject(reply);
        chat_worker_redis_lost(r, "AUTH", "not authenticated");
        return -1;
    }

    freeReplyObject(reply);

    return 0;
}


static int
chat_worker_redis_connect(chat_worker_redis_t *r)
{
    if (r->ctx != NULL) {
        return 0;
    }

    if (chat_worker_redis_now() < r->next_attempt) {
        return -1;
    }

    if (r->conf->redis_path != NULL) {
        r->ctx = redisConnectUnixWithTimeout(r->conf->redis_path, r->timeout);

    } else {
        r->ctx = redisConnectWithTimeout(r->conf->redis_host,
                                         r->conf->redis_port, r->timeout);
    }

    if (r->ctx == NULL) {
        chat_worker_redis_lost(r, "connect", "out of memory");
        return -1;
    }

    /* the timeout of every later read and write */

    if (r->ctx->err
        || redisSetTimeout(r->ctx, r->timeout) != REDIS_OK
        || (r->conf->redis_path == NULL
            && redisEnableKeepAlive(r->ctx) != REDIS_OK))
    {
        chat_worker_redis_lost(r, "connect", r->ctx->errstr);
        return -1;
    }

    if (chat_worker_redis_auth(r) != 0) {
        return -1;
    }

    chat_worker_log(r->down ? CHAT_LOG_WARN : CHAT_LOG_INFO,
                    "redis %s: connected", r->conf->redis);

    r->down = 0;
    r->backoff = CHAT_WORKER_REDIS_BACKOFF_MIN;

    return 0;
}


/* The command of publish i: a member set change, or a publish (sharded
 * on a cluster: SPUBLISH reaches the one shard of the channel's slot,
 * where the module subscribed with SSUBSCRIBE). */

static const char *
chat_worker_redis_cmd(const chat_worker_redis_t *r, chat_worker_cmd_e cmd)
{
    switch (cmd) {
    case CHAT_WORKER_CMD_SADD:
        return "SADD";
    case CHAT_WORKER_CMD_SREM:
        return "SREM";
    default:
        return r->cluster ? "SPUBLISH" : "PUBLISH";
    }
}


/* Queues every PUBLISH (and member set change) in the connection's output
 * buffer. */

static int
chat_worker_redis_append(chat_worker_redis_t *r, const chat_worker_out_t *out)
{
    size_t       i;
    chat_str_t   ch, pl;
    const char  *cmd;

    for (i = 0; i < out->npubs; i++) {
        ch = chat_worker_out_channel(out, i);
        pl = chat_worker_out_payload(out, i);
        cmd = chat_worker_redis_cmd(r, out->pubs[i].cmd);

        if (redisAppendCommand(r->ctx, "%s %b %b", cmd, ch.s, ch.len, pl.s,
                               pl.len)
            != REDIS_OK)
        {
            return -1;
        }
    }

    return 0;
}


/* The batch's commands for the cluster client, in order. */

static int
chat_worker_redis_cluster_cmds(chat_worker_redis_t *r,
    const chat_worker_out_t *out)
{
    size_t                     i;
    chat_str_t                 ch, pl;
    chat_redis_cluster_cmd_t  *cmds, *c;

    if (out->npubs > r->ncmds) {
        cmds = realloc(r->cmds, out->npubs * sizeof(*cmds));
        if (cmds == NULL) {
            return -1;
        }

        r->cmds = cmds;
        r->ncmds = out->npubs;
    }

    for (i = 0; i < out->npubs; i++) {
        c = &r->cmds[i];
        ch = chat_worker_out_channel(out, i);
        pl = chat_worker_out_payload(out, i);

        c->argc = 3;
        c->argv[0] = chat_worker_redis_cmd(r, out->pubs[i].cmd);
        c->argvlen[0] = strlen(c->argv[0]);
        c->argv[1] = ch.s;
        c->argvlen[1] = ch.len;
        c->argv[2] = pl.s;
        c->argvlen[2] = pl.len;
    }

    return 0;
}


/*
 * On a cluster: every publish on the master of its channel's slot. A
 * publish not answered (its master died, a replica is not yet promoted)
 * is sent again until CHAT_WORKER_REDIS_FAILOVER_MS: the batch waits out
 * a failover rather than leave its receivers to their next sync. Once
 * that failed, the cluster is down: later batches try once each (the
 * client's backoff per node keeps that from spinning) until one gets
 * through, as a single Redis that is down is tried after its backoff.
 */

static int
chat_worker_redis_cluster_publish(chat_worker_redis_t *r,
    const chat_worker_out_t *out)
{
    int      n, errors;
    size_t   i, answered;
    int64_t  start;

    if (chat_worker_redis_cluster_cmds(r, out) != 0) {
        chat_worker_log(CHAT_LOG_ERROR, "redis cluster: out of memory");
        return -1;
    }

    start = chat_worker_redis_now();
    answered = chat_redis_cluster_run(r->cluster, r->cmds, out->npubs,
                                      r->down ? 0
                                      : CHAT_WORKER_REDIS_FAILOVER_MS);

    for (i = 0, n = 0, errors = 0; i < out->npubs; i++) {
        if (r->cmds[i].reply == NULL) {
            continue;
        }

        if (r->cmds[i].reply->type == REDIS_REPLY_ERROR) {
            if (errors++ == 0) {
                chat_worker_log(CHAT_LOG_ERROR, "redis %s: %s: %s",
                                r->conf->redis, r->cmds[i].argv[0],
                                r->cmds[i].reply->str);
            }

        } else {
            n++;
        }
    }

    chat_redis_cluster_cmds_free(r->cmds, out->npubs);

    if (answered < out->npubs) {
        if (!r->down) {
            chat_worker_log(CHAT_LOG_WARN, "redis cluster %s: %zu of %zu "
                            "publishes not answered in %lld ms (%s); "
                            "publishing resumes when it is back (clients "
                            "sync)", r->conf->redis,
                            out->npubs - answered, out->npubs,
                            (long long) (chat_worker_redis_now() - start),
                            chat_redis_cluster_error(r->cluster));
            r->down = 1;
        }

        return -1;
    }

    if (r->down) {
        chat_worker_log(CHAT_LOG_WARN, "redis cluster %s: back",
                        r->conf->redis);
        r->down = 0;
    }

    return n;
}


int
chat_worker_redis_publish(chat_worker_redis_t *r, const chat_worker_out_t *out)
{
    int          n, errors;
    size_t       i;
    redisReply  *reply;

    if (out->npubs == 0) {
        return 0;
    }

    if (r->cluster != NULL) {
        return chat_worker_redis_cluster_publish(r, out);
    }

    if (chat_worker_redis_connect(r) != 0) {
        return -1;
    }

    if (chat_worker_redis_append(r, out) != 0) {
        chat_worker_redis_lost(r, "append", r->ctx->errstr);
        return -1;
    }

    /* the first read sends the whole pipeline, then one reply each */

    n = 0;
    errors = 0;

    for (i = 0; i < out->npubs; i++) {
        if (redisGetReply(r->ctx, (void **) &reply) != REDIS_OK) {
            chat_worker_redis_lost(r, "publish", r->ctx->errstr);
            return -1;
        }

        /* a Redis that wants a password: nothing will go through */
        if (reply->type == REDIS_REPLY_ERROR
            && strncmp(reply->str, "NOAUTH", 6) == 0)
        {
            chat_worker_redis_lost(r, "publish", reply->str);
            freeReplyObject(reply);
            return -1;
        }

        if (reply->type == REDIS_REPLY_ERROR) {
            if (errors++ == 0) {
                chat_worker_log(CHAT_LOG_ERROR, "redis %s: PUBLISH: %s",
                                r->conf->redis, reply->str);
            }

        } else {
            n++;
        }

        freeReplyObject(reply);
    }

    return n;
}


void
chat_worker_redis_free(chat_worker_redis_t *r)
{
    if (r == NULL) {
        return;
    }

    if (r->ctx != NULL) {
        redisFree(r->ctx);
    }

    chat_redis_cluster_free(r->cluster);
    free(r->cmds);
    free(r);
}
