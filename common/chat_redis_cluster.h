/*
 * A Redis Cluster client for the programs (chat-worker, chat-api), on
 * blocking hiredis: routes each command by the slot of its key
 * (chat_cluster.h), one connection per master, pipelined per node.
 *
 * The slot map is read with CLUSTER SLOTS from any node it knows (the
 * masters of the last map, then the seeds) when it has none, and again
 * after a MOVED, a lost connection or an error that says the cluster is
 * changing (CLUSTERDOWN, TRYAGAIN, MASTERDOWN, LOADING). A MOVED is
 * followed to the node it names, an ASK is followed once with ASKING
 * first, each command redirected at most CHAT_REDIS_CLUSTER_REDIRECTS
 * times. A command that could not be answered (its master is dead and no
 * replica has taken over yet) is sent again in a later round, rounds
 * spaced by a backoff, until the caller's budget is spent: a failover
 * costs a wait, never a command. Never a spin: a node that failed is not
 * connected to again before its own backoff.
 *
 * Not thread-safe: one per thread.
 */

#ifndef CHAT_REDIS_CLUSTER_H
#define CHAT_REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "chat_cluster.h"


#define CHAT_REDIS_CLUSTER_ARGS       4    /* HMGET key f1 f2 at most */
#define CHAT_REDIS_CLUSTER_REDIRECTS  5
#define CHAT_REDIS_CLUSTER_PORT       6379


typedef struct {
    const char  *seeds;         /* "host[:port][,host[:port]...]" */
    const char  *user;          /* AUTH as, or NULL */
    const char  *secret;        /* NULL: no AUTH */
    size_t       secret_len;
    int64_t      timeout;       /* ms: a connect, a reply */
} chat_redis_cluster_conf_t;


/*
 * One command: argv[1] is its key (or its shard channel), which routes
 * it. reply is its answer once run (an error reply too, when the error
 * is the command's own), NULL when it could not be answered; the caller
 * frees it (freeReplyObject) or calls chat_redis_cluster_cmds_free().
 */
typedef struct {
    int                   argc;
    const char           *argv[CHAT_REDIS_CLUSTER_ARGS];
    size_t                argvlen[CHAT_REDIS_CLUSTER_ARGS];
    redisReply           *reply;

    /* the run's own */
    int                   redirects;
    int                   asking;       /* ASKING before it, at target */
    int                   redirected;   /* target is set */
    int                   conn;         /* this round's, or -1 */
    chat_cluster_addr_t   target;
} chat_redis_cluster_cmd_t;


typedef struct chat_redis_cluster_s  chat_redis_cluster_t;


/* Reads the seeds (at least one); does not connect yet. NULL with a reason
 * in err. conf's strings must outlive the client. */
chat_redis_cluster_t *chat_redis_cluster_new(
    const chat_redis_cluster_conf_t *conf, char *err, size_t errlen);

/* Whether list is a list of seeds chat_redis_cluster_new() takes: 0, or
 * -1 with a reason in err (for a program's settings, at start). */
int chat_redis_cluster_seeds_check(const char *list, char *err,
    size_t errlen);

/*
 * Runs the n commands, each on the master of its key's slot, in order per
 * slot, until each has its reply or budget (ms) is spent; budget 0 is
 * one round (redirections still followed). Returns how many were
 * answered.
 */
size_t chat_redis_cluster_run(chat_redis_cluster_t *c,
    chat_redis_cluster_cmd_t *cmds, size_t n, int64_t budget);

/* Frees the replies of cmds and clears them. */
void chat_redis_cluster_cmds_free(chat_redis_cluster_cmd_t *cmds, size_t n);

/* What went wrong last (for the log): "" when nothing did. */
const char *chat_redis_cluster_error(const chat_redis_cluster_t *c);

void chat_redis_cluster_free(chat_redis_cluster_t *c);

#endif /* CHAT_REDIS_CLUSTER_H */
