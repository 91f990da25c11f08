/*
 * chat-worker's configuration, read by common/chat_conf.c from the table
 * below, then checked as a whole: the Redis address split, the
 * credentials read.
 */

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "chat_conf.h"
#include "chat_media.h"
#include "chat_redis_cluster.h"
#include "chat_worker_conf.h"
#include "chat_worker_log.h"


#define CHAT_WORKER_OFF(field)  offsetof(chat_worker_conf_t, field)

static const chat_conf_item_t  chat_worker_conf_items[] = {

    { "--brokers", "chat_kafka_brokers", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(brokers), 0, 0, NULL, "host:port,...",
      "Kafka bootstrap servers (" CHAT_WORKER_DEFAULT_BROKERS ")" },

    { "--topic", "chat_kafka_topic", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(topic), 0, 0, NULL, "name",
      "the topic of writes (" CHAT_WORKER_DEFAULT_TOPIC ")" },

    { "--dead-letter", "chat_kafka_dead_letter", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(dead_letter), 0, 0, NULL, "name|off",
      "where skipped records go (" CHAT_WORKER_DEFAULT_DEAD_LETTER ")" },

    { "--group", "chat_kafka_group", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(group), 0, 0, NULL, "name",
      "the consumer group (" CHAT_WORKER_DEFAULT_GROUP ")" },

    { "--kafka-option", "chat_kafka_option", CHAT_CONF_HANDLER, 0, 0, 0,
      NULL, "name=value", "a librdkafka consumer property (repeatable)" },

    { "--redis", "chat_redis", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(redis), 0, 0, NULL, "host[:port]",
      "or unix:/path; a cluster's seeds: host:port,... ("
      CHAT_WORKER_DEFAULT_REDIS ")" },

    { "--redis-cluster", "chat_redis_cluster", CHAT_CONF_SWITCH,
      CHAT_WORKER_OFF(redis_cluster), 0, 0, NULL, "[=on|off]",
      "chat_redis is a Redis Cluster: SPUBLISH on the slot's master (off)" },

    { "--redis-user", "chat_redis_user", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(redis_user), 0, 0, NULL, "name",
      "the ACL user of AUTH (none: the default user)" },

    { "--redis-password", "chat_redis_password", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(redis_password), 0, 0, NULL,
      "file:PATH|env:NAME|password",
      "AUTH on every connection (none: no AUTH)" },

    { "--redis-timeout", "chat_redis_timeout", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(redis_timeout), 1, 60000, chat_conf_msec, "time",
      "Redis connect and reply timeout: 1s, 500ms (1s)" },

    { "--store", "chat_store", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(store), 0, 0, NULL, "uri",
      "the store (" CHAT_WORKER_DEFAULT_STORE ")" },

    { "--sync-limit", "chat_sync_limit", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(sync_limit), 1, 100000, NULL, "n",
      "most messages of one sync page (500)" },

    { "--group-max-members", "chat_group_max_members", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(group_max_members), 1, 100000, NULL, "n",
      "most members of a group (256)" },

    { "--batch", "chat_worker_batch", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(batch), 1, 100000, NULL, "n",
      "most records per store transaction (500)" },

    { "--push-url", "chat_push_url", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(push_url), 0, 0, NULL, "url",
      "http(s) URL of the push hook (unset: no push)" },

    { "--push-delay", "chat_push_delay", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(push_delay), 0, 86400000, chat_conf_msec, "time",
      "push when no device acknowledged within (5s)" },

    { "--push-timeout", "chat_push_timeout", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(push_timeout), 1, 600000, chat_conf_msec, "time",
      "the longest one push POST may take (5s)" },

    { "--push-retries", "chat_push_retries", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(push_retries), 0, 100, NULL, "n",
      "retries of a failed push POST (5)" },

    { "--push-concurrency", "chat_push_concurrency", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(push_concurrency), 1, 10000, NULL, "n",
      "push POSTs in flight at once (32)" },

    { "--media-key", "chat_media_key", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(media_key), 0, 0, NULL, "file:PATH|env:NAME|key",
      "the key of media URLs (none: no media)" },

    { "--media-url-ttl", "chat_media_url_ttl", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(media_url_ttl), 1, 31536000, NULL, "seconds",
      "a media URL's lifetime (604800: 7 days)" },

    { "--media-dir", "chat_media_dir", CHAT_CONF_STRING,
      CHAT_WORKER_OFF(media_dir), 0, 0, NULL, "path",
      "chat-api's uploads (none: media not swept)" },

    { "--media-grace", "chat_media_grace", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(media_grace), 1, 31536000, NULL, "seconds",
      "unused uploads are deleted after (86400)" },

    { "--cleanup-interval", "chat_cleanup_interval", CHAT_CONF_NUMBER,
      CHAT_WORKER_OFF(cleanup_interval), 0, 86400000, chat_conf_msec, "time",
      "the cleanup job's period (10s; 0: off)" },

    { "--log-level", "chat_log_level", CHAT_CONF_LOGLEVEL,
      CHAT_WORKER_OFF(log_level), 0, 0, NULL, "level",
      "error, warn, info or debug (info)" },

    { NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL }
};


/* Stores a copy of value in *slot, replacing what was there. */

static int
chat_worker_conf_str(char **slot, const char *value)
{
    char  *copy;

    copy = strdup(value);
    if (copy == NULL) {
        return -1;
    }

    free(*slot);
    *slot = copy;

    return 0;
}


/* chat_kafka_option, the table's one handler item: "name=value" or "name
 * value" into a new kafka option. */

static const char *
chat_worker_conf_kafka(void *data, const chat_conf_item_t *item,
    const char *value)
{
    size_t               n;
    chat_worker_kv_t    *kv;
    chat_worker_conf_t  *conf;

    (void) item;
    conf = data;
    n = strcspn(value, "= \t");

    if (n == 0 || value[n] == '\0') {
        return "expected name=value, not";
    }

    kv = realloc(conf->kafka_options,
                 (conf->nkafka_options + 1) * sizeof(chat_worker_kv_t));
    if (kv == NULL) {
        return "out of memory for";
    }

    conf->kafka_options = kv;
    kv = &kv[conf->nkafka_options];

    kv->name = strndup(value, n);
    kv->value = strdup(value + n + strspn(value + n, "= \t"));

    if (kv->name == NULL || kv->value == NULL) {
        free(kv->name);
        free(kv->value);
        return "out of memory for";
    }

    conf->nkafka_options++;

    return NULL;
}


/*
 * Splits chat_redis into host and port, or a unix socket path:
 * "host", "host:port", "[v6 address]:port", "unix:/path".
 */

static int
chat_worker_conf_redis(chat_worker_conf_t *conf, char *err, size_t errlen)
{
    char         what[64];
    const char  *why;

    /* a cluster's seeds are read again by its client (chat_redis_cluster.h) */
    if (conf->redis_cluster) {
        return chat_redis_cluster_seeds_check(conf->redis, err, errlen);
    }

    if (strncmp(conf->redis, "unix:", 5) == 0) {
        conf->redis_path = strdup(conf->redis + 5);
        return conf->redis_path ? 0
               : chat_conf_refuse(err, errlen, "out of memory for "
                                  "chat_redis", conf->redis);
    }

    if (chat_conf_hostport_why(conf->redis, CHAT_WORKER_REDIS_PORT, 1,
                               &conf->redis_host, &conf->redis_port, &why)
        != 0)
    {
        snprintf(what, sizeof(what), "%s chat_redis", why);
        return chat_conf_refuse(err, errlen, what, conf->redis);
    }

    return 0;
}


/* chat_redis_password, read; chat_redis_user needs it. */

static int
chat_worker_conf_redis_auth(chat_worker_conf_t *conf, char *err,
    size_t errlen)
{
    if (conf->redis_password == NULL) {
        return conf->redis_user == NULL ? 0
               : chat_conf_refuse(err, errlen, "chat_redis_user needs "
                                  "chat_redis_password, user",
                                  conf->redis_user);
    }

    return chat_conf_secret("chat_redis_password", conf->redis_password,
                            &conf->redis_secret, &conf->redis_secret_len,
                            err, errlen);
}


/* chat_media_key, read: a key as short as a guessable password is
 * refused, as the module refuses it (CHAT_MEDIA_KEY_MIN). */

static int
chat_worker_conf_media_key(chat_worker_conf_t *conf, char *err,
    size_t errlen)
{
    char  *secret;

    if (conf->media_key == NULL) {
        return 0;
    }

    if (chat_conf_secret("chat_media_key", conf->media_key, &secret,
                         &conf->media_secret_len, err, errlen)
        != 0)
    {
        return -1;
    }

    conf->media_secret = (unsigned char *) secret;

    if (conf->media_secret_len < CHAT_MEDIA_KEY_MIN) {
        snprintf(err, errlen, "chat_media_key: %zu bytes, at least %d "
                 "needed", conf->media_secret_len, CHAT_MEDIA_KEY_MIN);
        return -1;
    }

    return 0;
}


/* Refused at start rather than at each push: a URL libcurl would take
 * for another protocol, or for a file. */

static int
chat_worker_conf_push_url(chat_worker_conf_t *conf, char *err,
    size_t errlen)
{
    const char  *u;

    u = conf->push_url;

    if (u == NULL
        || (strncmp(u, "http://", 7) == 0 && u[7] != '\0')
        || (strncmp(u, "https://", 8) == 0 && u[8] != '\0'))
    {
        return 0;
    }

    return chat_conf_refuse(err, errlen, "chat_push_url must be an "
                            "http:// or https:// URL, not", u);
}


static int
chat_worker_conf_defaults(chat_worker_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));

    conf->sync_limit = CHAT_WORKER_DEFAULT_SYNC_LIMIT;
    conf->group_max_members = CHAT_WORKER_DEFAULT_GROUP_MAX;
    conf->batch = CHAT_WORKER_DEFAULT_BATCH;
    conf->redis_timeout = CHAT_WORKER_DEFAULT_REDIS_MS;
    conf->log_level = CHAT_LOG_INFO;
    conf->push_delay = CHAT_WORKER_DEFAULT_PUSH_DELAY;
    conf->push_timeout = CHAT_WORKER_DEFAULT_PUSH_MS;
    conf->push_retries = CHAT_WORKER_DEFAULT_PUSH_TRIES;
    conf->push_concurrency = CHAT_WORKER_DEFAULT_PUSH_CONC;
    conf->media_url_ttl = CHAT_MEDIA_DEFAULT_URL_TTL;
    conf->media_grace = CHAT_MEDIA_DEFAULT_GRACE;
    conf->cleanup_interval = CHAT_WORKER_DEFAULT_CLEANUP_MS;

    if (chat_worker_conf_str(&conf->brokers, CHAT_WORKER_DEFAULT_BROKERS)
        || chat_worker_conf_str(&conf->topic, CHAT_WORKER_DEFAULT_TOPIC)
        || chat_worker_conf_str(&conf->dead_letter,
                                CHAT_WORKER_DEFAULT_DEAD_LETTER)
        || chat_worker_conf_str(&conf->group, CHAT_WORKER_DEFAULT_GROUP)
        || chat_worker_conf_str(&conf->redis, CHAT_WORKER_DEFAULT_REDIS)
        || chat_worker_conf_str(&conf->store, CHAT_WORKER_DEFAULT_STORE))
    {
        return -1;
    }

    return 0;
}


int
chat_worker_conf_parse(chat_worker_conf_t *conf, int argc,
    char *const argv[], char *err, size_t errlen)
{
    int  rc;

    if (chat_worker_conf_defaults(conf) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    rc = chat_conf_parse_with(chat_worker_conf_items, chat_worker_conf_kafka,
                              conf, argc, argv, err, errlen);
    if (rc != 0) {
        return rc;
    }

    if (chat_worker_conf_push_url(conf, err, errlen) != 0
        || chat_worker_conf_redis_auth(conf, err, errlen) != 0
        || chat_worker_conf_media_key(conf, err, errlen) != 0)
    {
        return -1;
    }

    /* "off": skipped records are only logged */
    if (strcmp(conf->dead_letter, "off") == 0) {
        free(conf->dead_letter);
        conf->dead_letter = NULL;

    } else if (conf->dead_letter[0] == '\0') {
        return chat_conf_refuse(err, errlen, "chat_kafka_dead_letter must "
                                "be a topic or off, not", "");
    }

    return chat_worker_conf_redis(conf, err, errlen);
}


void
chat_worker_conf_free(chat_worker_conf_t *conf)
{
    size_t  i;

    for (i = 0; i < conf->nkafka_options; i++) {
        free(conf->kafka_options[i].name);
        free(conf->kafka_options[i].value);
    }

    free(conf->kafka_options);
    free(conf->brokers);
    free(conf->topic);
    free(conf->dead_letter);
    free(conf->group);
    free(conf->redis);
    free(conf->store);
    free(conf->redis_host);
    free(conf->redis_path);
    free(conf->redis_user);
    free(conf->redis_password);
    free(conf->push_url);
    free(conf->media_key);
    free(conf->media_dir);

    if (conf->redis_secret != NULL) {
        explicit_bzero(conf->redis_secret, conf->redis_secret_len);
        free(conf->redis_secret);
    }

    if (conf->media_secret != NULL) {
        explicit_bzero(conf->media_secret, conf->media_secret_len);
        free(conf->media_secret);
    }

    memset(conf, 0, sizeof(*conf));
}


void
chat_worker_conf_usage(FILE *f, const char *prog)
{
    char                     flag[64];
    const chat_conf_item_t  *item;

    fprintf(f, "usage: %s [--config FILE] [--flag value ...]\n"
            "       %s --version | --help\n\n"
            "  %-30s %s\n", prog, prog, "--config FILE",
            "\"key value\" lines; the flags win over it");

    for (item = chat_worker_conf_items; item->flag != NULL; item++) {
        snprintf(flag, sizeof(flag), "%s %s", item->flag, item->arg);
        fprintf(f, "  %-30s %s\n  %-30s (key: %s)\n", flag, item->help, "",
                item->key);
    }
}
