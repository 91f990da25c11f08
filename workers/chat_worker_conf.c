/*
 * chat-worker's configuration.
 *
 * One table names each setting twice: its flag and its key in the file.
 * A file line is "key value", optionally ending with ";" so that lines can
 * be copied from nginx.conf; "#" starts a comment line.
 */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "chat_media.h"
#include "chat_secret_src.h"
#include "chat_worker_conf.h"
#include "chat_worker_log.h"


typedef enum {
    CHAT_CONF_STR = 1,
    CHAT_CONF_NUM,
    CHAT_CONF_MSEC,
    CHAT_CONF_LEVEL,
    CHAT_CONF_KAFKA
} chat_worker_conf_type_e;

typedef struct {
    const char               *flag;
    const char               *key;
    chat_worker_conf_type_e   type;
    size_t                    offset;
    int64_t                   min;
    int64_t                   max;
    const char               *arg;        /* for the usage */
    const char               *help;
} chat_worker_conf_item_t;


#define CHAT_CONF_OFF(field)  offsetof(chat_worker_conf_t, field)

static const chat_worker_conf_item_t  chat_worker_conf_items[] = {

    { "--brokers", "chat_kafka_brokers", CHAT_CONF_STR,
      CHAT_CONF_OFF(brokers), 0, 0, "host:port,...",
      "Kafka bootstrap servers (" CHAT_WORKER_DEFAULT_BROKERS ")" },

    { "--topic", "chat_kafka_topic", CHAT_CONF_STR,
      CHAT_CONF_OFF(topic), 0, 0, "name",
      "the topic of writes (" CHAT_WORKER_DEFAULT_TOPIC ")" },

    { "--dead-letter", "chat_kafka_dead_letter", CHAT_CONF_STR,
      CHAT_CONF_OFF(dead_letter), 0, 0, "name|off",
      "where skipped records go (" CHAT_WORKER_DEFAULT_DEAD_LETTER ")" },

    { "--group", "chat_kafka_group", CHAT_CONF_STR,
      CHAT_CONF_OFF(group), 0, 0, "name",
      "the consumer group (" CHAT_WORKER_DEFAULT_GROUP ")" },

    { "--kafka-option", "chat_kafka_option", CHAT_CONF_KAFKA, 0, 0, 0,
      "name=value", "a librdkafka consumer property (repeatable)" },

    { "--redis", "chat_redis", CHAT_CONF_STR,
      CHAT_CONF_OFF(redis), 0, 0, "host[:port]",
      "or unix:/path (" CHAT_WORKER_DEFAULT_REDIS ")" },

    { "--redis-user", "chat_redis_user", CHAT_CONF_STR,
      CHAT_CONF_OFF(redis_user), 0, 0, "name",
      "the ACL user of AUTH (none: the default user)" },

    { "--redis-password", "chat_redis_password", CHAT_CONF_STR,
      CHAT_CONF_OFF(redis_password), 0, 0, "file:PATH|env:NAME|password",
      "AUTH on every connection (none: no AUTH)" },

    { "--redis-timeout", "chat_redis_timeout", CHAT_CONF_MSEC,
      CHAT_CONF_OFF(redis_timeout), 1, 60000, "time",
      "Redis connect and reply timeout: 1s, 500ms (1s)" },

    { "--store", "chat_store", CHAT_CONF_STR,
      CHAT_CONF_OFF(store), 0, 0, "uri",
      "the store (" CHAT_WORKER_DEFAULT_STORE ")" },

    { "--sync-limit", "chat_sync_limit", CHAT_CONF_NUM,
      CHAT_CONF_OFF(sync_limit), 1, 100000, "n",
      "most messages of one sync page (500)" },

    { "--group-max-members", "chat_group_max_members", CHAT_CONF_NUM,
      CHAT_CONF_OFF(group_max_members), 1, 100000, "n",
      "most members of a group (256)" },

    { "--batch", "chat_worker_batch", CHAT_CONF_NUM,
      CHAT_CONF_OFF(batch), 1, 100000, "n",
      "most records per store transaction (500)" },

    { "--push-url", "chat_push_url", CHAT_CONF_STR,
      CHAT_CONF_OFF(push_url), 0, 0, "url",
      "http(s) URL of the push hook (unset: no push)" },

    { "--push-delay", "chat_push_delay", CHAT_CONF_MSEC,
      CHAT_CONF_OFF(push_delay), 0, 86400000, "time",
      "push when no device acknowledged within (5s)" },

    { "--push-timeout", "chat_push_timeout", CHAT_CONF_MSEC,
      CHAT_CONF_OFF(push_timeout), 1, 600000, "time",
      "the longest one push POST may take (5s)" },

    { "--push-retries", "chat_push_retries", CHAT_CONF_NUM,
      CHAT_CONF_OFF(push_retries), 0, 100, "n",
      "retries of a failed push POST (5)" },

    { "--push-concurrency", "chat_push_concurrency", CHAT_CONF_NUM,
      CHAT_CONF_OFF(push_concurrency), 1, 10000, "n",
      "push POSTs in flight at once (32)" },

    { "--media-key", "chat_media_key", CHAT_CONF_STR,
      CHAT_CONF_OFF(media_key), 0, 0, "file:PATH|env:NAME|key",
      "the key of media URLs (none: no media)" },

    { "--media-url-ttl", "chat_media_url_ttl", CHAT_CONF_NUM,
      CHAT_CONF_OFF(media_url_ttl), 1, 31536000, "seconds",
      "a media URL's lifetime (604800: 7 days)" },

    { "--media-dir", "chat_media_dir", CHAT_CONF_STR,
      CHAT_CONF_OFF(media_dir), 0, 0, "path",
      "chat-api's uploads (none: media not swept)" },

    { "--media-grace", "chat_media_grace", CHAT_CONF_NUM,
      CHAT_CONF_OFF(media_grace), 1, 31536000, "seconds",
      "unused uploads are deleted after (86400)" },

    { "--cleanup-interval", "chat_cleanup_interval", CHAT_CONF_MSEC,
      CHAT_CONF_OFF(cleanup_interval), 0, 86400000, "time",
      "the cleanup job's period (10s; 0: off)" },

    { "--log-level", "chat_log_level", CHAT_CONF_LEVEL,
      CHAT_CONF_OFF(log_level), 0, 0, "level",
      "error, warn, info or debug (info)" },

    { NULL, NULL, 0, 0, 0, 0, NULL, NULL }
};


static int
chat_worker_conf_error(char *err, size_t errlen, const char *where,
    const char *what, const char *value)
{
    snprintf(err, errlen, "%s%s%s \"%s\"", where, where[0] ? ": " : "",
             what, value);
    return -1;
}


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


/* A time: digits with "ms" or "s" (the default unit, as in nginx). */

static int
chat_worker_conf_msec(const char *value, int64_t *ms)
{
    char       *end;
    long long   n;

    errno = 0;
    n = strtoll(value, &end, 10);

    if (errno != 0 || end == value || n < 0 || n > 86400000) {
        return -1;
    }

    if (strcmp(end, "ms") == 0) {
        *ms = n;

    } else if (*end == '\0' || strcmp(end, "s") == 0) {
        *ms = n * 1000;

    } else {
        return -1;
    }

    return 0;
}


/* "name=value" or "name value" into a new kafka option. */

static int
chat_worker_conf_kafka(chat_worker_conf_t *conf, const char *value)
{
    size_t             n;
    chat_worker_kv_t  *kv;

    n = strcspn(value, "= \t");

    if (n == 0 || value[n] == '\0') {
        return -1;
    }

    kv = realloc(conf->kafka_options,
                 (conf->nkafka_options + 1) * sizeof(chat_worker_kv_t));
    if (kv == NULL) {
        return -1;
    }

    conf->kafka_options = kv;
    kv = &kv[conf->nkafka_options];

    kv->name = strndup(value, n);
    kv->value = strdup(value + n + strspn(value + n, "= \t"));

    if (kv->name == NULL || kv->value == NULL) {
        free(kv->name);
        free(kv->value);
        return -1;
    }

    conf->nkafka_options++;

    return 0;
}


/* Sets one item from its text; where names the flag or file line. */

static int
chat_worker_conf_set(chat_worker_conf_t *conf,
    const chat_worker_conf_item_t *item, const char *value,
    const char *where, char *err, size_t errlen)
{
    int       level;
    char     *end, *p;
    int64_t   n;

    p = (char *) conf + item->offset;

    switch (item->type) {

    case CHAT_CONF_STR:
        if (*value == '\0') {
            return chat_worker_conf_error(err, errlen, where, "empty",
                                          item->key);
        }

        if (chat_worker_conf_str((char **) p, value) != 0) {
            return chat_worker_conf_error(err, errlen, where,
                                          "out of memory for", item->key);
        }

        return 0;

    case CHAT_CONF_NUM:
        errno = 0;
        n = strtoll(value, &end, 10);

        if (errno != 0 || end == value || *end != '\0'
            || n < item->min || n > item->max)
        {
            return chat_worker_conf_error(err, errlen, where,
                                          "not a number in range", value);
        }

        *(int64_t *) p = n;
        return 0;

    case CHAT_CONF_MSEC:
        if (chat_worker_conf_msec(value, &n) != 0
            || n < item->min || n > item->max)
        {
            return chat_worker_conf_error(err, errlen, where,
                                          "not a time in range", value);
        }

        *(int64_t *) p = n;
        return 0;

    case CHAT_CONF_LEVEL:
        level = chat_worker_log_level_parse(value);

        if (level < 0) {
            return chat_worker_conf_error(err, errlen, where,
                                          "unknown log level", value);
        }

        *(int64_t *) p = level;
        return 0;

    case CHAT_CONF_KAFKA:
        if (chat_worker_conf_kafka(conf, value) != 0) {
            return chat_worker_conf_error(err, errlen, where,
                                          "expected name=value, not", value);
        }

        return 0;
    }

    return chat_worker_conf_error(err, errlen, where, "bad item", item->key);
}


static const chat_worker_conf_item_t *
chat_worker_conf_find(const char *name, size_t len, int by_flag)
{
    const char                     *s;
    const chat_worker_conf_item_t  *item;

    for (item = chat_worker_conf_items; item->flag != NULL; item++) {
        s = by_flag ? item->flag : item->key;

        if (strlen(s) == len && strncmp(s, name, len) == 0) {
            return item;
        }
    }

    return NULL;
}


/* Trims line in place: leading and trailing blanks, a trailing ";". */

static char *
chat_worker_conf_trim(char *line)
{
    size_t  n;

    line += strspn(line, " \t");
    n = strlen(line);

    while (n > 0 && strchr(" \t\r\n;", line[n - 1]) != NULL) {
        line[--n] = '\0';
    }

    return line;
}


static int
chat_worker_conf_line(chat_worker_conf_t *conf, char *line,
    const char *where, char *err, size_t errlen)
{
    size_t                          n;
    char                           *value;
    const chat_worker_conf_item_t  *item;

    line = chat_worker_conf_trim(line);

    if (*line == '\0' || *line == '#') {
        return 0;
    }

    n = strcspn(line, " \t");
    value = line + n + strspn(line + n, " \t");

    item = chat_worker_conf_find(line, n, 0);

    if (item == NULL) {
        line[n] = '\0';
        return chat_worker_conf_error(err, errlen, where, "unknown key",
                                      line);
    }

    return chat_worker_conf_set(conf, item, value, where, err, errlen);
}


static int
chat_worker_conf_file(chat_worker_conf_t *conf, const char *path,
    char *err, size_t errlen)
{
    int      rc;
    FILE    *f;
    char    *line, where[512];
    size_t   size, lineno;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    rc = 0;
    line = NULL;
    size = 0;
    lineno = 0;

    while (rc == 0 && getline(&line, &size, f) != -1) {
        lineno++;
        snprintf(where, sizeof(where), "%s:%zu", path, lineno);
        rc = chat_worker_conf_line(conf, line, where, err, errlen);
    }

    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }

    free(line);
    fclose(f);

    return rc;
}


/*
 * Splits chat_redis into host and port, or a unix socket path:
 * "host", "host:port", "[v6 address]:port", "unix:/path".
 */

static int
chat_worker_conf_redis(chat_worker_conf_t *conf, char *err, size_t errlen)
{
    char        *end;
    long         port;
    size_t       n;
    const char  *r, *colon;

    r = conf->redis;

    if (strncmp(r, "unix:", 5) == 0) {
        conf->redis_path = strdup(r + 5);
        return conf->redis_path ? 0 : -1;
    }

    port = CHAT_WORKER_REDIS_PORT;

    if (r[0] == '[') {
        end = strchr(r, ']');
        if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
            return chat_worker_conf_error(err, errlen, "", "bad chat_redis",
                                          r);
        }

        r++;
        n = (size_t) (end - r);
        colon = end[1] ? end + 1 : NULL;

    } else {
        colon = strrchr(r, ':');
        n = colon ? (size_t) (colon - r) : strlen(r);
    }

    if (colon != NULL) {
        errno = 0;
        port = strtol(colon + 1, &end, 10);

        if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1
            || port > 65535)
        {
            return chat_worker_conf_error(err, errlen, "", "bad port in "
                                          "chat_redis", conf->redis);
        }
    }

    if (n == 0) {
        return chat_worker_conf_error(err, errlen, "", "no host in "
                                      "chat_redis", conf->redis);
    }

    conf->redis_host = strndup(r, n);
    conf->redis_port = (int) port;

    return conf->redis_host ? 0 : -1;
}


/*
 * Reads the credential spec of key (chat_secret_src.h) into a new copy in
 * *secret (its length in *len): a file (relative to the working
 * directory), the environment, or inline.
 */

static int
chat_worker_conf_secret(const char *spec, const char *key, char **secret,
    size_t *len, char *err, size_t errlen)
{
    int          exposed;
    char         buf[CHAT_SECRET_SRC_BUF], what_key[128];
    ssize_t      n;
    const char  *what, *v;

    switch (chat_secret_src_kind(spec, &what)) {

    case CHAT_SECRET_FILE:
        n = chat_secret_src_file(what, buf, sizeof(buf), &exposed, err,
                                 errlen);
        if (n < 0) {
            return -1;
        }

        if (exposed) {
            chat_worker_log(CHAT_LOG_WARN, "\"%s\" holds a credential and "
                            "anyone may read it (chmod 600)", what);
        }

        v = buf;
        break;

    case CHAT_SECRET_ENV:
        v = getenv(what);

        if (v == NULL || v[0] == '\0' || strlen(v) > CHAT_SECRET_SRC_MAX) {
            snprintf(what_key, sizeof(what_key), "%s: not set, empty or too "
                     "long: environment variable", key);
            return chat_worker_conf_error(err, errlen, "", what_key, what);
        }

        n = (ssize_t) strlen(v);
        break;

    default:
        v = what;
        n = (ssize_t) strlen(v);
    }

    *secret = strndup(v, (size_t) n);
    *len = (size_t) n;
    explicit_bzero(buf, sizeof(buf));

    if (*secret == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
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
               : chat_worker_conf_error(err, errlen, "", "chat_redis_user "
                                        "needs chat_redis_password, user",
                                        conf->redis_user);
    }

    return chat_worker_conf_secret(conf->redis_password,
                                   "chat_redis_password",
                                   &conf->redis_secret,
                                   &conf->redis_secret_len, err, errlen);
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

    if (chat_worker_conf_secret(conf->media_key, "chat_media_key", &secret,
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

    return chat_worker_conf_error(err, errlen, "", "chat_push_url must be "
                                  "an http:// or https:// URL, not", u);
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


/*
 * Flag i of argv, "--name value" or "--name=value": sets *item (NULL for
 * --config) and *value and returns how many arguments it took, or -1.
 */

static int
chat_worker_conf_flag(int argc, char *const argv[], int i,
    const chat_worker_conf_item_t **item, const char **value, char *err,
    size_t errlen)
{
    size_t       n;
    const char  *arg;

    arg = argv[i];
    n = strcspn(arg, "=");

    *item = chat_worker_conf_find(arg, n, 1);

    if (*item == NULL && !(n == 8 && strncmp(arg, "--config", 8) == 0)) {
        return chat_worker_conf_error(err, errlen, "", "unknown flag", arg);
    }

    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }

    if (i + 1 >= argc) {
        return chat_worker_conf_error(err, errlen, "", "no value for", arg);
    }

    *value = argv[i + 1];

    return 2;
}


int
chat_worker_conf_parse(chat_worker_conf_t *conf, int argc,
    char *const argv[], char *err, size_t errlen)
{
    int                             i, n, pass;
    const char                     *value;
    const chat_worker_conf_item_t  *item;

    if (chat_worker_conf_defaults(conf) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 1;
        }

        if (strcmp(argv[i], "--version") == 0) {
            return 2;
        }
    }

    /* the file of --config first, then the other flags over it */

    for (pass = 0; pass < 2; pass++) {

        for (i = 1; i < argc; i += n) {
            n = chat_worker_conf_flag(argc, argv, i, &item, &value, err,
                                      errlen);
            if (n < 0) {
                return -1;
            }

            if (item == NULL) {
                if (pass == 0
                    && chat_worker_conf_file(conf, value, err, errlen) != 0)
                {
                    return -1;
                }

            } else if (pass == 1
                       && chat_worker_conf_set(conf, item, value, argv[i],
                                               err, errlen) != 0)
            {
                return -1;
            }
        }
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
        return chat_worker_conf_error(err, errlen, "", "chat_kafka_dead_letter "
                                      "must be a topic or off, not", "");
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
    char                            flag[64];
    const chat_worker_conf_item_t  *item;

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
