/*
 * chat-worker's configuration: command line flags and an optional file of
 * "key value" lines whose keys are named like the module's directives
 * (chat_kafka_brokers, ...). Flags win over the file.
 */

#ifndef CHAT_WORKER_CONF_H
#define CHAT_WORKER_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


#define CHAT_WORKER_DEFAULT_BROKERS     "127.0.0.1:9092"
#define CHAT_WORKER_DEFAULT_TOPIC       "chat.writes"
#define CHAT_WORKER_DEFAULT_DEAD_LETTER "chat.writes.dead"
#define CHAT_WORKER_DEFAULT_GROUP       "chat-workers"
#define CHAT_WORKER_DEFAULT_REDIS       "127.0.0.1:6379"
#define CHAT_WORKER_DEFAULT_STORE       "sqlite:chat.db"
#define CHAT_WORKER_DEFAULT_SYNC_LIMIT  500
#define CHAT_WORKER_DEFAULT_GROUP_MAX   256
#define CHAT_WORKER_DEFAULT_BATCH       500
#define CHAT_WORKER_DEFAULT_REDIS_MS    1000
#define CHAT_WORKER_REDIS_PORT          6379
#define CHAT_WORKER_DEFAULT_PUSH_DELAY  5000     /* ms, docs/PROTOCOL.md 5 */
#define CHAT_WORKER_DEFAULT_PUSH_MS     5000
#define CHAT_WORKER_DEFAULT_PUSH_TRIES  5
#define CHAT_WORKER_DEFAULT_PUSH_CONC   32
#define CHAT_WORKER_DEFAULT_CLEANUP_MS  10000    /* ms */

typedef struct {
    char     *name;
    char     *value;
} chat_worker_kv_t;

typedef struct {
    char              *brokers;
    char              *topic;
    char              *dead_letter;      /* NULL: off, skips only logged */
    char              *group;
    char              *redis;            /* host[:port] or unix:/path;
                                            a cluster's seeds, host:port,... */
    int64_t            redis_cluster;    /* 1: chat_redis is a cluster */
    char              *redis_user;       /* an ACL user, or NULL */
    char              *redis_password;   /* inline, file:PATH or env:NAME */
    char              *store;            /* store URI */
    int64_t            sync_limit;
    int64_t            group_max_members;
    int64_t            batch;
    int64_t            redis_timeout;    /* ms */
    int64_t            log_level;        /* chat_log_level_e */

    char              *push_url;         /* NULL: push off */
    int64_t            push_delay;       /* ms */
    int64_t            push_timeout;     /* ms, one POST */
    int64_t            push_retries;
    int64_t            push_concurrency; /* POSTs held at once */

    char              *media_key;        /* inline, file:PATH or env:NAME */
    int64_t            media_url_ttl;    /* s, the URLs frames carry */
    char              *media_dir;        /* NULL: no file is unlinked */
    int64_t            media_grace;      /* s, an upload no message uses */
    int64_t            cleanup_interval; /* ms, 0: no cleanup job */

    chat_worker_kv_t  *kafka_options;    /* in the order given */
    size_t             nkafka_options;

    /* chat_redis, split */
    char              *redis_host;       /* NULL for a unix socket */
    int                redis_port;
    char              *redis_path;       /* unix socket, or NULL */

    /* chat_redis_password, read: NULL when none (no AUTH) */
    char              *redis_secret;
    size_t             redis_secret_len;

    /* chat_media_key, read: NULL when none (sends with media refused) */
    unsigned char     *media_secret;
    size_t             media_secret_len;
} chat_worker_conf_t;


/*
 * Fills conf from the defaults, then the file of --config, then the other
 * flags. Returns 0; 1 when --help was asked, 2 when --version was (nothing
 * else done); -1 with a reason in err. chat_worker_conf_free() must be
 * called in every case.
 */
int chat_worker_conf_parse(chat_worker_conf_t *conf, int argc,
    char *const argv[], char *err, size_t errlen);

void chat_worker_conf_free(chat_worker_conf_t *conf);

void chat_worker_conf_usage(FILE *f, const char *prog);

#endif /* CHAT_WORKER_CONF_H */
