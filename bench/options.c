/*
 * One parser for the flags of every load generator (see options.h).
 */

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "options.h"

#define BENCH_OPT_MAX  48   /* flags in all, --help included */

#define BENCH_LOAD_OPT(name, kind, field, lo, hi, arg, help)                 \
    { name, kind, offsetof(bench_load_conf_t, field), lo, hi, NULL, arg,    \
      help }

static const bench_opt_t  bench_load_opts[] = {
    BENCH_LOAD_OPT("host", BENCH_OPT_STRING, host, 0, 0, "ADDR",
                   "server address"),
    BENCH_LOAD_OPT("port", BENCH_OPT_UINT, port, 1, 65535, "N",
                   "server port"),
    BENCH_LOAD_OPT("src", BENCH_OPT_STRING, src, 0, 0, "ADDR",
                   "local address to bind before connecting"),
    BENCH_LOAD_OPT("prefix", BENCH_OPT_STRING, prefix, 0, 0, "P",
                   "user (or channel) ids are P<offset+i>"),
    BENCH_LOAD_OPT("offset", BENCH_OPT_ULONG, offset, 0, 1e9, "N",
                   "first i, for several processes"),
    BENCH_LOAD_OPT("connections", BENCH_OPT_ULONG, connections, 1, 1e7, "N",
                   "connections (even where pairs send)"),
    BENCH_LOAD_OPT("connect-rate", BENCH_OPT_DOUBLE, connect_rate, 0.001,
                   1e9, "R", "new connections per second"),
    BENCH_LOAD_OPT("connect-timeout", BENCH_OPT_DOUBLE, connect_timeout,
                   0.001, 1e9, "S", "seconds from connect to up"),
    BENCH_LOAD_OPT("rate", BENCH_OPT_DOUBLE, rate, 0, 1e9, "R",
                   "sends per second, all connections"),
    BENCH_LOAD_OPT("warmup", BENCH_OPT_DOUBLE, warmup, 0, 1e9, "S",
                   "seconds of load before measuring"),
    BENCH_LOAD_OPT("duration", BENCH_OPT_DOUBLE, duration, 0, 1e9, "S",
                   "measured seconds (idle: held)"),
    BENCH_LOAD_OPT("drain", BENCH_OPT_DOUBLE, drain, 0, 1e9, "S",
                   "seconds at most to wait for late answers after it"),
    BENCH_LOAD_OPT("body-size", BENCH_OPT_UINT, body_size, 0,
                   BENCH_LOAD_BODY_MAX, "N",
                   "pad message bodies to N bytes (0: no padding)"),
    BENCH_LOAD_OPT("progress", BENCH_OPT_FLAG, progress, 0, 0, NULL,
                   "a progress line on stderr every second"),
    BENCH_LOAD_OPT("json", BENCH_OPT_STRING, json_path, 0, 0, "FILE",
                   "write the results as JSON to FILE"),
    BENCH_LOAD_OPT("min-up-ratio", BENCH_OPT_DOUBLE, min_up_ratio, 0, 1, "X",
                   "exit 1 when fewer connections came up"),
    BENCH_OPT_END
};

static void bench_usage(FILE *f, const char *usage, const bench_opt_t *opts,
    const void *conf);
static void bench_usage_table(FILE *f, const bench_opt_t *opts,
    const void *conf);
static int bench_option(const char *tool, const bench_opt_t *o,
    const char *arg, void *conf);
static int bench_choice(const char *choices, const char *arg);
static double bench_number(bench_opt_kind_e kind, const char *field);
static int bench_addr(const char *tool, bench_load_conf_t *cf);


static void
bench_usage(FILE *f, const char *usage, const bench_opt_t *opts,
    const void *conf)
{
    fputs(usage, f);
    bench_usage_table(f, bench_load_opts, conf);
    bench_usage_table(f, opts, conf);
}


/* A line per flag, with the value conf holds before parsing: the default. */
static void
bench_usage_table(FILE *f, const bench_opt_t *opts, const void *conf)
{
    int          i;
    size_t       len;
    char         flag[64], def[64];
    const char  *field, *p;

    for ( ; opts->name; opts++) {
        field = (const char *) conf + opts->offset;
        def[0] = '\0';

        switch (opts->kind) {
        case BENCH_OPT_STRING:
            p = *(const char *const *) (const void *) field;
            if (p) {
                snprintf(def, sizeof(def), " (%s)", p);
            }
            break;
        case BENCH_OPT_FLAG:
            break;
        case BENCH_OPT_CHOICE:
            i = *(const int *) (const void *) field;
            for (p = opts->choices; p && i > 0; i--) {
                p = strchr(p, '|');
                p = p ? p + 1 : NULL;
            }
            len = p ? strcspn(p, "|") : 0;
            snprintf(def, sizeof(def), " (%.*s)", (int) len, p ? p : "");
            break;
        default:
            snprintf(def, sizeof(def), " (%g)",
                     bench_number(opts->kind, field));
            break;
        }

        snprintf(flag, sizeof(flag), "--%s%s%s", opts->name,
                 opts->arg ? " " : "", opts->arg ? opts->arg : "");
        fprintf(f, "  %-22s %s%s\n", flag, opts->help, def);
    }
}


/* The index of arg in "a|b|c", or -1. */
static int
bench_choice(const char *choices, const char *arg)
{
    int          i;
    size_t       len;
    const char  *p, *bar;

    len = strlen(arg);

    for (i = 0, p = choices; p; i++, p = bar ? bar + 1 : NULL) {
        bar = strchr(p, '|');

        if ((size_t) (bar ? bar - p : (long) strlen(p)) == len
            && strncmp(p, arg, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


/* The value of a numeric field. */
static double
bench_number(bench_opt_kind_e kind, const char *field)
{
    switch (kind) {
    case BENCH_OPT_ULONG:
        return (double) *(const unsigned long *) (const void *) field;
    case BENCH_OPT_UINT:
        return *(const unsigned *) (const void *) field;
    case BENCH_OPT_LONG:
        return (double) *(const long *) (const void *) field;
    default:
        return *(const double *) (const void *) field;
    }
}


/* One flag into its field; 0, or -1 after a message. */
static int
bench_option(const char *tool, const bench_opt_t *o, const char *arg,
    void *conf)
{
    int      i;
    char    *end, *field;
    double   v;

    field = (char *) conf + o->offset;

    switch (o->kind) {

    case BENCH_OPT_STRING:
        *(const char **) (void *) field = arg;
        return 0;

    case BENCH_OPT_FLAG:
        *(int *) (void *) field = 1;
        return 0;

    case BENCH_OPT_CHOICE:
        i = bench_choice(o->choices, arg);
        if (i < 0) {
            fprintf(stderr, "%s: --%s: %s, not \"%s\"\n", tool, o->name,
                    o->choices, arg);
            return -1;
        }
        *(int *) (void *) field = i;
        return 0;

    default:
        break;
    }

    errno = 0;
    v = strtod(arg, &end);

    if (errno || end == arg || *end != '\0' || !(v >= o->lo && v <= o->hi)
        || (o->kind != BENCH_OPT_DOUBLE && v != (double) (long) v))
    {
        fprintf(stderr, "%s: --%s: \"%s\" is not %s in [%g, %g]\n", tool,
                o->name, arg, o->kind == BENCH_OPT_DOUBLE ? "a number"
                                                          : "an integer",
                o->lo, o->hi);
        return -1;
    }

    switch (o->kind) {
    case BENCH_OPT_ULONG:
        *(unsigned long *) (void *) field = (unsigned long) v;
        break;
    case BENCH_OPT_UINT:
        *(unsigned *) (void *) field = (unsigned) v;
        break;
    case BENCH_OPT_LONG:
        *(long *) (void *) field = (long) v;
        break;
    default:
        *(double *) (void *) field = v;
        break;
    }

    return 0;
}


int
bench_options(const char *tool, const char *usage, const bench_opt_t *opts,
    int argc, char **argv, void *conf)
{
    int                 n, k, opt;
    const bench_opt_t  *o[BENCH_OPT_MAX];
    struct option       lo[BENCH_OPT_MAX + 1];

    n = 0;

    for (k = 0; bench_load_opts[k].name; k++) {
        o[n++] = &bench_load_opts[k];
    }

    for (k = 0; opts[k].name && n < BENCH_OPT_MAX - 1; k++) {
        o[n++] = &opts[k];
    }

    for (k = 0; k < n; k++) {
        lo[k] = (struct option) {
            o[k]->name,
            o[k]->kind == BENCH_OPT_FLAG ? no_argument : required_argument,
            NULL, k
        };
    }

    lo[n] = (struct option) { "help", no_argument, NULL, n };
    lo[n + 1] = (struct option) { NULL, 0, NULL, 0 };

    while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (opt == n) {
            bench_usage(stdout, usage, opts, conf);
            return 1;
        }

        if (opt == '?' || bench_option(tool, o[opt], optarg, conf) != 0) {
            fprintf(stderr, "%s: --help lists the flags\n", tool);
            return -1;
        }
    }

    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", tool,
                argv[optind]);
        return -1;
    }

    return bench_addr(tool, conf);
}


/* Resolves host (a name or an IPv4 address) and src (NULL: none, else an
   IPv4 address) once. */
static int
bench_addr(const char *tool, bench_load_conf_t *cf)
{
    int               rc;
    struct addrinfo   hints, *res;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(cf->host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", tool, cf->host, gai_strerror(rc));
        return -1;
    }

    memcpy(&cf->addr, res->ai_addr, sizeof(struct sockaddr_in));
    cf->addr.sin_port = htons((uint16_t) cf->port);
    freeaddrinfo(res);

    if (cf->src == NULL) {
        return 0;
    }

    memset(&cf->src_addr, 0, sizeof(struct sockaddr_in));
    cf->src_addr.sin_family = AF_INET;

    if (inet_pton(AF_INET, cf->src, &cf->src_addr.sin_addr) != 1) {
        fprintf(stderr, "%s: --src: not an IPv4 address: %s\n", tool,
                cf->src);
        return -1;
    }

    return 0;
}
