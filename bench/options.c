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

#define BENCH_OPT_MAX  48   /* flags per table, --help included */

static void bench_usage(FILE *f, const char *usage, const bench_opt_t *opts);
static int bench_option(const char *tool, const bench_opt_t *o,
    const char *arg, void *conf);
static int bench_choice(const char *choices, const char *arg);


static void
bench_usage(FILE *f, const char *usage, const bench_opt_t *opts)
{
    char  flag[64];

    fputs(usage, f);

    for ( ; opts->name; opts++) {
        snprintf(flag, sizeof(flag), "--%s%s%s", opts->name,
                 opts->arg ? " " : "", opts->arg ? opts->arg : "");
        fprintf(f, "  %-22s %s\n", flag, opts->help);
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
    int            n, opt;
    struct option  lo[BENCH_OPT_MAX + 1];

    for (n = 0; opts[n].name; n++) {
        if (n == BENCH_OPT_MAX - 1) {
            fprintf(stderr, "%s: too many flags\n", tool);
            return -1;
        }
        lo[n] = (struct option) {
            opts[n].name,
            opts[n].kind == BENCH_OPT_FLAG ? no_argument : required_argument,
            NULL, n
        };
    }

    lo[n] = (struct option) { "help", no_argument, NULL, n };
    lo[n + 1] = (struct option) { NULL, 0, NULL, 0 };

    while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (opt == n) {
            bench_usage(stdout, usage, opts);
            return 1;
        }

        if (opt == '?' || bench_option(tool, &opts[opt], optarg, conf) != 0) {
            bench_usage(stderr, usage, opts);
            return -1;
        }
    }

    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", tool,
                argv[optind]);
        return -1;
    }

    return 0;
}


int
bench_options_addr(const char *tool, const char *host, unsigned port,
    const char *src, struct sockaddr_in *addr, struct sockaddr_in *src_addr)
{
    int               rc;
    struct addrinfo   hints, *res;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", tool, host, gai_strerror(rc));
        return -1;
    }

    memcpy(addr, res->ai_addr, sizeof(struct sockaddr_in));
    addr->sin_port = htons((uint16_t) port);
    freeaddrinfo(res);

    if (src == NULL) {
        return 0;
    }

    memset(src_addr, 0, sizeof(struct sockaddr_in));
    src_addr->sin_family = AF_INET;

    if (inet_pton(AF_INET, src, &src_addr->sin_addr) != 1) {
        fprintf(stderr, "%s: --src: not an IPv4 address: %s\n", tool, src);
        return -1;
    }

    return 0;
}
