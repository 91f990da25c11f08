/*
 * The programs' flags and configuration files.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat_conf.h"
#include "chat_secret_src.h"
#include "chat_worker_log.h"


const chat_conf_unit_t  chat_conf_bytes[] = {
    { "", 1 }, { "k", 1024 }, { "m", 1024 * 1024 }, { NULL, 0 }
};

const chat_conf_unit_t  chat_conf_seconds[] = {
    { "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
    { NULL, 0 }
};

const chat_conf_unit_t  chat_conf_msec[] = {
    { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { NULL, 0 }
};

static const chat_conf_unit_t  chat_conf_digits[] = {
    { "", 1 }, { NULL, 0 }
};


/* One parse: the table, where handler items go, the conf it fills and
 * where a reason goes. */

typedef struct {
    const chat_conf_item_t  *items;
    chat_conf_handler_pt     handler;
    void                    *conf;
    char                    *err;
    size_t                   errlen;
} chat_conf_ctx_t;


static int
chat_conf_error(char *err, size_t errlen, const char *where,
    const char *what, const char *value)
{
    snprintf(err, errlen, "%s%s%s \"%s\"", where, where[0] ? ": " : "",
             what, value);
    return -1;
}


int
chat_conf_refuse(char *err, size_t errlen, const char *what,
    const char *value)
{
    return chat_conf_error(err, errlen, "", what, value);
}


/* Digits and one of the units' suffixes. */

static int
chat_conf_number(const char *value, const chat_conf_unit_t *units,
    int64_t *out)
{
    char       *end;
    long long   n;

    if (value[0] < '0' || value[0] > '9') {
        return -1;
    }

    errno = 0;
    n = strtoll(value, &end, 10);

    if (errno != 0) {
        return -1;
    }

    for ( /* void */ ; units->suffix != NULL; units++) {
        if (strcmp(end, units->suffix) == 0) {
            if (n > INT64_MAX / units->mult) {
                return -1;
            }

            *out = n * units->mult;
            return 0;
        }
    }

    return -1;
}


/* What a number of these units is, for the error that refuses one. */

static const char *
chat_conf_number_error(const chat_conf_unit_t *units)
{
    if (units == chat_conf_seconds || units == chat_conf_msec) {
        return "not a time in range";
    }

    return units == chat_conf_bytes ? "not a size in range"
                                    : "not a number in range";
}


static int
chat_conf_set(const chat_conf_ctx_t *ctx, const chat_conf_item_t *item,
    const char *value, const char *where)
{
    int                      level;
    char                    *p, *copy;
    int64_t                  n;
    const char              *why;
    const chat_conf_unit_t  *units;

    p = (char *) ctx->conf + item->offset;

    switch (item->type) {

    case CHAT_CONF_STRING:
        if (*value == '\0') {
            return chat_conf_error(ctx->err, ctx->errlen, where, "empty",
                                   item->key);
        }

        copy = strdup(value);
        if (copy == NULL) {
            return chat_conf_error(ctx->err, ctx->errlen, where,
                                   "out of memory for", item->key);
        }

        free(*(char **) p);
        *(char **) p = copy;
        return 0;

    case CHAT_CONF_LOGLEVEL:
        level = chat_worker_log_level_parse(value);

        if (level < 0) {
            return chat_conf_error(ctx->err, ctx->errlen, where,
                                   "unknown log level", value);
        }

        *(int64_t *) p = level;
        return 0;

    case CHAT_CONF_SWITCH:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            return chat_conf_error(ctx->err, ctx->errlen, where,
                                   "not on or off:", value);
        }

        *(int64_t *) p = (strcmp(value, "on") == 0);
        return 0;

    case CHAT_CONF_HANDLER:
        why = ctx->handler ? ctx->handler(ctx->conf, item, value)
                           : "no handler for";

        return why == NULL ? 0 : chat_conf_error(ctx->err, ctx->errlen,
                                                 where, why, value);

    default:
        units = item->units ? item->units : chat_conf_digits;

        if (chat_conf_number(value, units, &n) != 0
            || n < item->min || n > item->max)
        {
            return chat_conf_error(ctx->err, ctx->errlen, where,
                                   chat_conf_number_error(units), value);
        }

        *(int64_t *) p = n;
        return 0;
    }
}


static const chat_conf_item_t *
chat_conf_find(const chat_conf_item_t *items, const char *name, size_t len,
    int by_flag)
{
    const char  *s;

    for ( /* void */ ; items->flag != NULL; items++) {
        s = by_flag ? items->flag : items->key;

        if (strlen(s) == len && strncmp(s, name, len) == 0) {
            return items;
        }
    }

    return NULL;
}


static int
chat_conf_line(const chat_conf_ctx_t *ctx, char *line, const char *where)
{
    size_t                   n;
    char                    *value;
    const chat_conf_item_t  *item;

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
    item = chat_conf_find(ctx->items, line, n, 0);

    if (item == NULL) {
        line[n] = '\0';
        return chat_conf_error(ctx->err, ctx->errlen, where, "unknown key",
                               line);
    }

    return chat_conf_set(ctx, item, value, where);
}


static int
chat_conf_file(const chat_conf_ctx_t *ctx, const char *path)
{
    int      rc;
    FILE    *f;
    char    *line, where[512];
    size_t   size, lineno;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(ctx->err, ctx->errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    rc = 0;
    line = NULL;
    size = 0;
    lineno = 0;

    while (rc == 0 && getline(&line, &size, f) != -1) {
        lineno++;
        snprintf(where, sizeof(where), "%s:%zu", path, lineno);
        rc = chat_conf_line(ctx, line, where);
    }

    /* a read error ends getline() as the end of the file does */
    if (rc == 0 && ferror(f)) {
        snprintf(ctx->err, ctx->errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }

    free(line);
    fclose(f);

    return rc;
}


/* Flag i of argv: *item (NULL for --config) and *value; returns how many
 * arguments it took, or -1. */

static int
chat_conf_flag(const chat_conf_ctx_t *ctx, int argc, char *const argv[],
    int i, const chat_conf_item_t **item, const char **value)
{
    size_t       n;
    const char  *arg;

    arg = argv[i];
    n = strcspn(arg, "=");
    *item = chat_conf_find(ctx->items, arg, n, 1);

    if (*item == NULL && !(n == 8 && strncmp(arg, "--config", 8) == 0)) {
        return chat_conf_error(ctx->err, ctx->errlen, "", "unknown flag",
                               arg);
    }

    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }

    /* a switch alone turns it on; it takes no value after it */
    if (*item != NULL && (*item)->type == CHAT_CONF_SWITCH) {
        *value = "on";
        return 1;
    }

    if (i + 1 >= argc) {
        return chat_conf_error(ctx->err, ctx->errlen, "", "no value for",
                               arg);
    }

    *value = argv[i + 1];

    return 2;
}


int
chat_conf_parse(const chat_conf_item_t *items, void *conf, int argc,
    char *const argv[], char *err, size_t errlen)
{
    return chat_conf_parse_with(items, NULL, conf, argc, argv, err, errlen);
}


int
chat_conf_parse_with(const chat_conf_item_t *items,
    chat_conf_handler_pt handler, void *conf, int argc, char *const argv[],
    char *err, size_t errlen)
{
    int                      i, n, pass;
    const char              *value;
    chat_conf_ctx_t          ctx;
    const chat_conf_item_t  *item;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 1;
        }

        if (strcmp(argv[i], "--version") == 0) {
            return 2;
        }
    }

    ctx.items = items;
    ctx.handler = handler;
    ctx.conf = conf;
    ctx.err = err;
    ctx.errlen = errlen;

    /* the file of --config first, then the other flags over it */

    for (pass = 0; pass < 2; pass++) {
        for (i = 1; i < argc; i += n) {
            n = chat_conf_flag(&ctx, argc, argv, i, &item, &value);
            if (n < 0) {
                return -1;
            }

            if (item == NULL) {
                if (pass == 0 && chat_conf_file(&ctx, value) != 0) {
                    return -1;
                }

            } else if (pass == 1
                       && chat_conf_set(&ctx, item, value, argv[i]) != 0)
            {
                return -1;
            }
        }
    }

    return 0;
}


void
chat_conf_usage(FILE *f, const chat_conf_item_t *items)
{
    char  left[64];

    for ( /* void */ ; items->flag != NULL; items++) {
        snprintf(left, sizeof(left), "%s %s", items->flag, items->arg);
        fprintf(f, "  %-36s %s\n", left, items->help);
    }

    fprintf(f, "  %-36s %s\n  %-36s %s\n  %-36s %s\n",
            "--config file", "a file of \"key value\" lines (flags win)",
            "--help", "this text", "--version", "the version");
}


int
chat_conf_secret(const char *name, const char *spec, char **out,
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
            return chat_conf_error(err, errlen, name, "not set, empty or "
                                   "too long: environment variable", what);
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


int
chat_conf_hostport(const char *s, int dflt, char **host, int *port)
{
    const char  *why;

    return chat_conf_hostport_why(s, dflt, 0, host, port, &why);
}


int
chat_conf_hostport_why(const char *s, int dflt, int lowest, char **host,
    int *port, const char **why)
{
    char        *end;
    long         p;
    size_t       n;
    const char  *colon, *close;

    *host = NULL;
    *why = "bad";

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

        if (errno != 0 || end == colon + 1 || *end != '\0' || p < lowest
            || p > 65535)
        {
            *why = "bad port in";
            return -1;
        }
    }

    if (n == 0) {
        *why = "no host in";
        return -1;
    }

    *host = strndup(s, n);
    *port = (int) p;

    if (*host == NULL) {
        *why = "out of memory for";
        return -1;
    }

    return 0;
}
