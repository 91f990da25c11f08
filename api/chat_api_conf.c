/*
 * chat-api's configuration.
 *
 * One table names each setting twice, as a flag and as a key of the file;
 * a file line is "key value", optionally ending with ";" (a line copied
 * from nginx.conf), "#" starting a comment line.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat_api_conf.h"
#include "chat_secret_src.h"
#include "chat_worker_log.h"


typedef enum {
    CHAT_API_STR = 1,
    CHAT_API_NUM,
    CHAT_API_SIZE,      /* bytes; k or m suffix */
    CHAT_API_TIME,      /* seconds; s, m, h or d suffix */
    CHAT_API_LEVEL
} chat_api_conf_type_e;

typedef struct {
    const char            *flag;
    const char            *key;
    chat_api_conf_type_e   type;
    size_t                 offset;
    int64_t                min;
    int64_t                max;
    const char            *arg;
    const char            *help;
} chat_api_conf_item_t;


#define CHAT_API_OFF(field)  offsetof(chat_api_conf_t, field)

static const chat_api_conf_item_t  chat_api_conf_items[] = {

    { "--listen", "chat_api_listen", CHAT_API_STR, CHAT_API_OFF(listen),
      0, 0, "addr:port",
      "a loopback address to serve on (" CHAT_API_DEFAULT_LISTEN ")" },

    { "--store", "chat_store", CHAT_API_STR, CHAT_API_OFF(store),
      0, 0, "uri", "the store (" CHAT_API_DEFAULT_STORE ")" },

    { "--redis", "chat_redis", CHAT_API_STR, CHAT_API_OFF(redis),
      0, 0, "host[:port]", "or unix:/path (" CHAT_API_DEFAULT_REDIS ")" },

    { "--redis-password", "chat_redis_password", CHAT_API_STR,
      CHAT_API_OFF(redis_password), 0, 0, "file:PATH|env:NAME|password",
      "AUTH on every connection (none: no AUTH)" },

    { "--media-dir", "chat_media_dir", CHAT_API_STR,
      CHAT_API_OFF(media_dir), 0, 0, "path",
      "where uploads are stored (" CHAT_API_DEFAULT_MEDIA ")" },

    { "--media-key", "chat_media_key", CHAT_API_STR,
      CHAT_API_OFF(media_key), 0, 0, "file:PATH|env:NAME|key",
      "the key media URLs are signed with (required)" },

    { "--media-url-ttl", "chat_media_url_ttl", CHAT_API_TIME,
      CHAT_API_OFF(media_url_ttl), 1, 365 * 86400, "time",
      "how long a signed URL is valid: 7d, 12h, 3600 (7d)" },

    { "--media-max", "chat_media_max_size", CHAT_API_SIZE,
      CHAT_API_OFF(media_max), 1, (int64_t) 1 << 40, "size",
      "the largest upload: 16m, 512k, bytes (16m)" },

    { "--media-types", "chat_media_types", CHAT_API_STR,
      CHAT_API_OFF(media_types), 0, 0, "list",
      "types allowed, type/subtype or type/* (" CHAT_MEDIA_DEFAULT_TYPES
      ")" },

    { "--threads", "chat_api_threads", CHAT_API_NUM, CHAT_API_OFF(threads),
      1, 256, "n", "threads serving requests (4)" },

    { "--log-level", "chat_log_level", CHAT_API_LEVEL,
      CHAT_API_OFF(log_level), 0, 0, "level",
      "error, warn, info or debug (info)" },

    { NULL, NULL, 0, 0, 0, 0, NULL, NULL }
};


static int
chat_api_conf_error(char *err, size_t errlen, const char *where,
    const char *what, const char *value)
{
    snprintf(err, errlen, "%s%s%s \"%s\"", where, where[0] ? ": " : "",
             what, value);
    return -1;
}


static int
chat_api_conf_strdup(char **slot, const char *value)
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


/* Digits and one optional suffix of units (a NULL-terminated list of
 * "suffix", multiplier pairs; "" is the unit of bare digits). */

static int
chat_api_conf_units(const char *value, const char *const *suffixes,
    const int64_t *mults, int64_t *out)
{
    char       *end;
    size_t      i;
    long long   n;

    if (value[0] < '0' || value[0] > '9') {
        return -1;
    }

    errno = 0;
    n = strtoll(value, &end, 10);

    if (errno != 0) {
        return -1;
    }

    for (i = 0; suffixes[i] != NULL; i++) {
        if (strcmp(end, suffixes[i]) == 0) {
            if (n > INT64_MAX / mults[i]) {
                return -1;
            }

            *out = n * mults[i];
            return 0;
        }
    }

    return -1;
}


static int
chat_api_conf_number(const chat_api_conf_item_t *item, const char *value,
    int64_t *n)
{
    static const char *const  size_sfx[] = { "", "k", "m", NULL };
    static const int64_t      size_mul[] = { 1, 1024, 1024 * 1024 };
    static const char *const  time_sfx[] = { "", "s", "m", "h", "d", NULL };
    static const int64_t      time_mul[] = { 1, 1, 60, 3600, 86400 };
    static const char *const  num_sfx[] = { "", NULL };
    static const int64_t      num_mul[] = { 1 };

    switch (item->type) {
    case CHAT_API_SIZE:
        return chat_api_conf_units(value, size_sfx, size_mul, n);
    case CHAT_API_TIME:
        return chat_api_conf_units(value, time_sfx, time_mul, n);
    default:
        return chat_api_conf_units(value, num_sfx, num_mul, n);
    }
}


static int
chat_api_conf_set(chat_api_conf_t *conf, const chat_api_conf_item_t *item,
    const char *value, const char *where, char *err, size_t errlen)
{
    int       level;
    char     *p;
    int64_t   n;

    p = (char *) conf + item->offset;

    switch (item->type) {

    case CHAT_API_STR:
        if (*value == '\0') {
            return chat_api_conf_error(err, errlen, where, "empty",
                                       item->key);
        }

        if (chat_api_conf_strdup((char **) p, value) != 0) {
            return chat_api_conf_error(err, errlen, where,
                                       "out of memory for", item->key);
        }

        return 0;

    case CHAT_API_LEVEL:
        level = chat_worker_log_level_parse(value);

        if (level < 0) {
            return chat_api_conf_error(err, errlen, where,
                                       "unknown log level", value);
        }

        *(int64_t *) p = level;
        return 0;

    default:
        if (chat_api_conf_number(item, value, &n) != 0
            || n < item->min || n > item->max)
        {
            return chat_api_conf_error(err, errlen, where,
                                       "not a value in range", value);
        }

        *(int64_t *) p = n;
        return 0;
    }
}


static const chat_api_conf_item_t *
chat_api_conf_find(const char *name, size_t len, int by_flag)
{
    const char                  *s;
    const chat_api_conf_item_t  *item;

    for (item = chat_api_conf_items; item->flag != NULL; item++) {
        s = by_flag ? item->flag : item->key;

        if (strlen(s) == len && strncmp(s, name, len) == 0) {
            return item;
        }
    }

    return NULL;
}


static int
chat_api_conf_line(chat_api_conf_t *conf, char *line, const char *where,
    char *err, size_t errlen)
{
    size_t                       n;
    char                        *value;
    const chat_api_conf_item_t  *item;

    line += strspn(line, " \t");
    n = strlen(line);

    while (n > 0 && strchr(" \t\r\n;", line[n - 1]) != NULL) {
        line[--n] = '\0';
    }

    if (*line == '\0' || *line == '#') {
        return 0;
    }

    n = strcspn(line, " \t");
    value = line + n + strspn(line + n, " \t");
    item = chat_api_conf_find(line, n, 0);

    if (item == NULL) {
        line[n] = '\0';
        return chat_api_conf_error(err, errlen, where, "unknown key", line);
    }

    return chat_api_conf_set(conf, item, value, where, err, errlen);
}


static int
chat_api_conf_file(chat_api_conf_t *conf, const char *path, char *err,
    size_t errlen)
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
        rc = chat_api_conf_line(conf, line, where, err, errlen);
    }

    free(line);
    fclose(f);

    return rc;
}


int
chat_api_conf_hostport(const char *s, int dflt, char **host, int *port)
{
    char        *end;
    long         p;
    size_t       n;
    const char  *colon, *close;

    if (s[0] == '[') {
        close = strchr(s, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            return -1;
        }

        s++;
        n = (size_t) (close - s);
        colon = close[1] ? close + 1 : NULL;

    } else {
        colon = strrchr(s, ':');
        n = colon ? (size_t) (colon - s) : strlen(s);
    }

    p = dflt;

    if (colon != NULL) {
        errno = 0;
        p = strtol(colon + 1, &end, 10);

        if (errno != 0 || end == colon + 1 || *end != '\0' || p < 0
            || p > 65535)
        {
            return -1;
        }
    }

    if (n == 0) {
        return -1;
    }

    *host = strndup(s, n);
    *port = (int) p;

    return *host ? 0 : -1;
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

    if (chat_api_conf_hostport(conf->listen, -1, &host, &port) != 0
        || port < 0)
    {
        free(host);
        return chat_api_conf_error(err, errlen, "", "--listen takes "
                                   "ADDR:PORT, not", conf->listen);
    }

    if (inet_pton(AF_INET, host, &a) != 1
        || (ntohl(a.s_addr) >> 24) != 127)
    {
        free(host);
        return chat_api_conf_error(err, errlen, "", "--listen must be a "
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
    if (strncmp(conf->redis, "unix:", 5) == 0) {
        conf->redis_path = strdup(conf->redis + 5);
        return conf->redis_path ? 0 : -1;
    }

    if (chat_api_conf_hostport(conf->redis, CHAT_API_REDIS_PORT,
                               &conf->redis_host, &conf->redis_port)
        != 0 || conf->redis_port == 0)
    {
        return chat_api_conf_error(err, errlen, "", "bad --redis",
                                   conf->redis);
    }

    return 0;
}


/*
 * A credential from where spec names it (chat_secret_src.h) into a new
 * string *out of *len bytes.
 */

static int
chat_api_conf_secret(const char *name, const char *spec, char **out,
    size_t *len, char *err, size_t errlen)
{
    int          exposed;
    char         buf[CHAT_SECRET_SRC_BUF];
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
            return chat_api_conf_error(err, errlen, name, "not set, empty "
                                       "or too long: environment variable",
                                       what);
        }

        n = (ssize_t) strlen(v);
        break;

    default:
        v = what;
        n = (ssize_t) strlen(v);
    }

    *out = strndup(v, (size_t) n);
    *len = (size_t) n;
    explicit_bzero(buf, sizeof(buf));

    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    return 0;
}


static int
chat_api_conf_secrets(chat_api_conf_t *conf, char *err, size_t errlen)
{
    char    *key;
    size_t   len;

    if (conf->redis_password != NULL
        && chat_api_conf_secret("--redis-password", conf->redis_password,
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

    if (chat_api_conf_secret("--media-key", conf->media_key, &key, &len,
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

    return chat_api_conf_strdup(&conf->listen, CHAT_API_DEFAULT_LISTEN)
           || chat_api_conf_strdup(&conf->store, CHAT_API_DEFAULT_STORE)
           || chat_api_conf_strdup(&conf->redis, CHAT_API_DEFAULT_REDIS)
           || chat_api_conf_strdup(&conf->media_dir, CHAT_API_DEFAULT_MEDIA)
           || chat_api_conf_strdup(&conf->media_types,
                                   CHAT_MEDIA_DEFAULT_TYPES);
}


/* Flag i of argv, "--name value" or "--name=value": *item (NULL for
 * --config) and *value; returns how many arguments it took, or -1. */

static int
chat_api_conf_flag(int argc, char *const argv[], int i,
    const chat_api_conf_item_t **item, const char **value, char *err,
    size_t errlen)
{
    size_t       n;
    const char  *arg;

    arg = argv[i];
    n = strcspn(arg, "=");
    *item = chat_api_conf_find(arg, n, 1);

    if (*item == NULL && !(n == 8 && strncmp(arg, "--config", 8) == 0)) {
        return chat_api_conf_error(err, errlen, "", "unknown flag", arg);
    }

    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }

    if (i + 1 >= argc) {
        return chat_api_conf_error(err, errlen, "", "no value for", arg);
    }

    *value = argv[i + 1];

    return 2;
}


int
chat_api_conf_parse(chat_api_conf_t *conf, int argc, char *const argv[],
    char *err, size_t errlen)
{
    int                          i, n, pass;
    const char                  *value;
    const chat_api_conf_item_t  *item;

    if (chat_api_conf_defaults(conf) != 0) {
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
            n = chat_api_conf_flag(argc, argv, i, &item, &value, err,
                                   errlen);
            if (n < 0) {
                return -1;
            }

            if (item == NULL) {
                if (pass == 0
                    && chat_api_conf_file(conf, value, err, errlen) != 0)
                {
                    return -1;
                }

            } else if (pass == 1
                       && chat_api_conf_set(conf, item, value, argv[i], err,
                                            errlen) != 0)
            {
                return -1;
            }
        }
    }

    if (chat_api_conf_listen(conf, err, errlen) != 0
        || chat_api_conf_redis(conf, err, errlen) != 0)
    {
        return -1;
    }

    return chat_api_conf_secrets(conf, err, errlen);
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
    char                         left[64];
    const chat_api_conf_item_t  *item;

    fprintf(f, "usage: %s [flags]\n\n"
            "Serves the HTTP API of ngx_chat (docs/PROTOCOL.md 6) behind "
            "nginx, which\nchecks the token and names the user in "
            "X-Chat-User.\n\n", prog);

    for (item = chat_api_conf_items; item->flag != NULL; item++) {
        snprintf(left, sizeof(left), "%s %s", item->flag, item->arg);
        fprintf(f, "  %-36s %s\n", left, item->help);
    }

    fprintf(f, "  %-36s %s\n  %-36s %s\n  %-36s %s\n",
            "--config file", "a file of \"key value\" lines (flags win)",
            "--help", "this text", "--version", "the version");
}
