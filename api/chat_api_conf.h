/*
 * chat-api's configuration: command line flags and an optional file of
 * "key value" lines (--config), keys named like the module's directives
 * (chat_store, chat_media_key, ...). Flags win over the file.
 */

#ifndef CHAT_API_CONF_H
#define CHAT_API_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#include "chat_media.h"
#include "chat_redis_cluster.h"


#define CHAT_API_DEFAULT_LISTEN   "127.0.0.1:8090"
#define CHAT_API_DEFAULT_STORE    "sqlite:chat.db"
#define CHAT_API_DEFAULT_REDIS    "127.0.0.1:6379"
#define CHAT_API_DEFAULT_MEDIA    "media"
#define CHAT_API_DEFAULT_THREADS  4
#define CHAT_API_REDIS_PORT       6379
#define CHAT_API_REDIS_TIMEOUT_MS 1000      /* a connect, a reply */

typedef struct {
    char                *listen;          /* ADDR:PORT, a loopback ADDR */
    char                *store;           /* store URI */
    char                *redis;           /* host[:port] or unix:/path; a
                                             cluster's seeds host:port,... */
    int64_t              redis_cluster;   /* 1: chat_redis is a cluster */
    char                *redis_password;  /* inline, file:PATH or env:NAME */
    char                *media_dir;
    char                *media_key;       /* inline, file:PATH or env:NAME */
    char                *media_types;     /* chat_media_type_allowed() */
    int64_t              media_url_ttl;   /* seconds */
    int64_t              media_max;       /* bytes */
    int64_t              threads;
    int64_t              log_level;       /* chat_log_level_e */

    /* derived from the above */
    struct sockaddr_in   listen_addr;
    char                *redis_host;      /* NULL for a unix socket */
    int                  redis_port;
    char                *redis_path;      /* unix socket, or NULL */
    char                *redis_secret;    /* NULL: no AUTH */
    size_t               redis_secret_len;
    chat_redis_cluster_conf_t  cluster;   /* of a cluster's clients */
    unsigned char       *key_bytes;       /* the media key, read */
    chat_media_key_t     key;
} chat_api_conf_t;


/*
 * Fills conf from the defaults, then the file of --config, then the other
 * flags. Returns 0; 1 when --help was asked, 2 when --version was; -1 with
 * a reason in err. chat_api_conf_free() must be called in every case.
 */
int chat_api_conf_parse(chat_api_conf_t *conf, int argc, char *const argv[],
    char *err, size_t errlen);

void chat_api_conf_free(chat_api_conf_t *conf);

void chat_api_conf_usage(FILE *f, const char *prog);

#endif /* CHAT_API_CONF_H */
