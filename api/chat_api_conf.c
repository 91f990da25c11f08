/*
 * chat-api's configuration, read by common/chat_conf.c from the table
 * below.
 */

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "chat_api_conf.h"
#include "chat_conf.h"
#include "chat_worker_log.h"


#define CHAT_API_OFF(field)  offsetof(chat_api_conf_t, field)

static const chat_conf_item_t  chat_api_conf_items[] = {

    { "--listen", "chat_api_listen", CHAT_CONF_STRING,
      CHAT_API_OFF(listen), 0, 0, NULL, "addr:port",
      "a loopback address to serve on (" CHAT_API_DEFAULT_LISTEN ")" },

    { "--store", "chat_store", CHAT_CONF_STRING, CHAT_API_OFF(store),
      0, 0, NULL, "uri", "the store (" CHAT_API_DEFAULT_STORE ")" },

    { "--redis", "chat_redis", CHAT_CONF_STRING, CHAT_API_OFF(redis),
      0, 0, NULL, "host[:port]", "or unix:/path (" CHAT_API_DEFAULT_REDIS ")" },

    { "--redis-cluster", "chat_redis_cluster", CHAT_CONF_SWITCH,
      CHAT_API_OFF(redis_cluster), 0, 0, NULL, "[=on|off]",
      "--redis names a Redis Cluster's seeds, host:port,... (off)" },

    { "--redis-password", "chat_redis_password", CHAT_CONF_STRING,
      CHAT_API_OFF(redis_password), 0, 0, NULL, "file:PATH|env:NAME|password",
      "AUTH on every connection (none: no AUTH)" },

    { "--media-dir", "chat_media_dir", CHAT_CONF_STRING,
      CHAT_API_OFF(media_dir), 0, 0, NULL, "path",
      "where uploads are stored (" CHAT_API_DEFAULT_MEDIA ")" },

    { "--media-key", "chat_media_key", CHAT_CONF_STRING,
      CHAT_API_OFF(media_key), 0, 0, NULL, "file:PATH|env:NAME|key",
      "the key media URLs are signed with (required)" },

    { "--media-url-ttl", "chat_media_url_ttl", CHAT_CONF_NUMBER,
      CHAT_API_OFF(media_url_ttl), 1, 365 * 86400, chat_conf_seconds, "time",
      "how long a signed URL is valid: 7d, 12h, 3600 (7d)" },

    { "--media-max", "chat_media_max_size", CHAT_CONF_NUMBER,
      CHAT_API_OFF(media_max), 1, (int64_t) 1 << 40, chat_conf_bytes, "size",
      "the largest upload: 16m, 512k, bytes (16m)" },

    { "--media-types", "chat_media_types", CHAT_CONF_STRING,
      CHAT_API_OFF(media_types), 0, 0, NULL, "list",
      "types allowed, type/subtype or type/* (" CHAT_MEDIA_DEFAULT_TYPES
      ")" },

    { "--threads", "chat_api_threads", CHAT_CONF_NUMBER,
      CHAT_API_OFF(threads), 1, 256, NULL, "n", "threads serving requests (4)" },

    { "--log-level", "chat_log_level", CHAT_CONF_LOGLEVEL,
      CHAT_API_OFF(log_level), 0, 0, NULL, "level",
      "error, warn, info or debug (info)" },

    { NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL }
};


static int
chat_api_conf_error(char *err, size_t errlen, const char *what,
    const char *value)
{
    snprintf(err, errlen, "%s \"%s\"", what, value);
    return -1;
}


/* --listen: an IPv4 loopback address and a port (0: any free one). A
 * request names its user in a header that only nginx may set, so nothing
 * but nginx may reach chat-api: a loopback address keeps others out. */

static int
chat_api_conf_listen(chat_api_conf_t *conf, char *err, size_t errlen)
{
    int              port;
    char            *host;
    struct in_addr   a;

    host = NULL;

    if (chat_conf_hostport(conf->listen, -1, &host, &port) != 0
        || port < 0)
    {
        free(host);
        return chat_api_conf_error(err, errlen, "--listen takes "
                                   "ADDR:PORT, not", conf->listen);
    }

    if (inet_pton(AF_INET, host, &a) != 1
        || (ntohl(a.s_addr) >> 24) != 127)
    {
        free(host);
        return chat_api_conf_error(err, errlen, "--listen must be a "
                                   "127.x.x.x address (clients must not "
                                   "reach chat-api), not", conf->listen);
    }

    free(host);

    conf->listen_addr.sin_family = AF_INET;
    conf->listen_addr.sin_addr = a;
    conf->listen_addr.sin_port = htons((uint16_t) port);

    return 0;
}


static int
chat_api_conf_redis(chat_api_conf_t *conf, char *err, size_t errlen)
{
    /* a cluster's seeds are read again by each slot's client */
    if (conf->redis_cluster) {
        conf->cluster.seeds = conf->redis;
        conf->cluster.timeout = CHAT_API_REDIS_TIMEOUT_MS;
        return chat_redis_cluster_seeds_check(conf->redis, err, errlen);
    }

    if (strncmp(conf->redis, "unix:", 5) == 0) {
        conf->redis_path = strdup(conf->redis + 5);
        return conf->redis_path ? 0 : -1;
    }

    if (chat_conf_hostport(conf->redis, CHAT_API_REDIS_PORT,
                           &conf->redis_host, &conf->redis_port)
        != 0 || conf->redis_port == 0)
    {
        return chat_api_conf_error(err, errlen, "bad --redis",
                                   conf->redis);
    }

    return 0;
}


static int
chat_api_conf_secrets(chat_api_conf_t *conf, char *err, size_t errlen)
{
    char    *key;
    size_t   len;

    if (conf->redis_password != NULL
        && chat_conf_secret("--redis-password", conf->redis_password,
                                &conf->redis_secret,
                                &conf->redis_secret_len, err, errlen)
           != 0)
    {
        return -1;
    }

    if (conf->media_key == NULL) {
        snprintf(err, errlen, "--media-key is required: the key that media "
                 "URLs are signed with, the module's chat_media_key");
        return -1;
    }

    if (chat_conf_secret("--media-key", conf->media_key, &key, &len,
                             err, errlen)
        != 0)
    {
        return -1;
    }

    conf->key_bytes = (unsigned char *) key;
    conf->key.data = conf->key_bytes;
    conf->key.len = len;

    if (len < CHAT_MEDIA_KEY_MIN) {
        snprintf(err, errlen, "--media-key: %zu bytes, at least %d needed",
                 len, CHAT_MEDIA_KEY_MIN);
        return -1;
    }

    return 0;
}


static int
chat_api_conf_defaults(chat_api_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));

    conf->media_url_ttl = CHAT_MEDIA_DEFAULT_URL_TTL;
    conf->media_max = CHAT_MEDIA_DEFAULT_MAX;
    conf->threads = CHAT_API_DEFAULT_THREADS;
    conf->log_level = CHAT_LOG_INFO;

    conf->listen = strdup(CHAT_API_DEFAULT_LISTEN);
    conf->store = strdup(CHAT_API_DEFAULT_STORE);
    conf->redis = strdup(CHAT_API_DEFAULT_REDIS);
    conf->media_dir = strdup(CHAT_API_DEFAULT_MEDIA);
    conf->media_types = strdup(CHAT_MEDIA_DEFAULT_TYPES);

    return conf->listen && conf->store && conf->redis && conf->media_dir
           && conf->media_types ? 0 : -1;
}


int
chat_api_conf_parse(chat_api_conf_t *conf, int argc, char *const argv[],
    char *err, size_t errlen)
{
    int  rc;

    if (chat_api_conf_defaults(conf) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    rc = chat_conf_parse(chat_api_conf_items, conf, argc, argv, err, errlen);
    if (rc != 0) {
        return rc;
    }

    if (chat_api_conf_listen(conf, err, errlen) != 0
        || chat_api_conf_redis(conf, err, errlen) != 0)
    {
        return -1;
    }

    if (chat_api_conf_secrets(conf, err, errlen) != 0) {
        return -1;
    }

    conf->cluster.secret = conf->redis_secret;
    conf->cluster.secret_len = conf->redis_secret_len;

    return 0;
}


void
chat_api_conf_free(chat_api_conf_t *conf)
{
    if (conf->redis_secret) {
        explicit_bzero(conf->redis_secret, conf->redis_secret_len);
    }

    if (conf->key_bytes) {
        explicit_bzero(conf->key_bytes, conf->key.len);
    }

    free(conf->listen);
    free(conf->store);
    free(conf->redis);
    free(conf->redis_password);
    free(conf->media_dir);
    free(conf->media_key);
    free(conf->media_types);
    free(conf->redis_host);
    free(conf->redis_path);
    free(conf->redis_secret);
    free(conf->key_bytes);
}


void
chat_api_conf_usage(FILE *f, const char *prog)
{
    fprintf(f, "usage: %s [flags]\n\n"
            "Serves the HTTP API of ngx_chat (docs/PROTOCOL.md 6) behind "
            "nginx, which\nchecks the token and names the user in "
            "X-Chat-User.\n\n", prog);

    chat_conf_usage(f, chat_api_conf_items);
}
