/*
 * Command line of nchan-bench. The flags it shares with chat-bench mean
 * the same (--src, --offset, --rate, --connect-rate, --warmup, --duration,
 * --drain, --body-size, --json, --min-up-ratio), so that the suite drives
 * both the same way.
 */

#include <getopt.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "nb.h"

enum {
    O_HOST = 256, O_PORT, O_SRC, O_PUB_PATH, O_SUB_PATH, O_PREFIX, O_OFFSET,
    O_MODE, O_PAIRS, O_CONNECTIONS, O_RATE, O_CONNECT_RATE,
    O_CONNECT_TIMEOUT, O_WARMUP, O_DURATION, O_DRAIN, O_BODY_SIZE,
    O_PROGRESS, O_JSON, O_READY_FILE, O_MIN_UP_RATIO, O_HELP
};

static const struct option  nb_long[] = {
    { "host",            required_argument, NULL, O_HOST },
    { "port",            required_argument, NULL, O_PORT },
    { "src",             required_argument, NULL, O_SRC },
    { "pub-path",        required_argument, NULL, O_PUB_PATH },
    { "sub-path",        required_argument, NULL, O_SUB_PATH },
    { "prefix",          required_argument, NULL, O_PREFIX },
    { "offset",          required_argument, NULL, O_OFFSET },
    { "mode",            required_argument, NULL, O_MODE },
    { "pairs",           required_argument, NULL, O_PAIRS },
    { "connections",     required_argument, NULL, O_CONNECTIONS },
    { "rate",            required_argument, NULL, O_RATE },
    { "connect-rate",    required_argument, NULL, O_CONNECT_RATE },
    { "connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT },
    { "warmup",          required_argument, NULL, O_WARMUP },
    { "duration",        required_argument, NULL, O_DURATION },
    { "drain",           required_argument, NULL, O_DRAIN },
    { "body-size",       required_argument, NULL, O_BODY_SIZE },
    { "progress",        no_argument,       NULL, O_PROGRESS },
    { "json",            required_argument, NULL, O_JSON },
    { "ready-file",      required_argument, NULL, O_READY_FILE },
    { "min-up-ratio",    required_argument, NULL, O_MIN_UP_RATIO },
    { "help",            no_argument,       NULL, O_HELP },
    { NULL, 0, NULL, 0 }
};

static const char  nb_usage[] =
"usage: nchan-bench [flags]   (see bench/peers/README.md)\n"
"  --host ADDR            Nchan's nginx (127.0.0.1)\n"
"  --port N               its port (8080)\n"
"  --src ADDR             local address to bind before connecting\n"
"  --pub-path P           publisher location, channel appended (/pub/)\n"
"  --sub-path P           subscriber location, channel appended (/sub/)\n"
"  --prefix P             channel ids are P<offset+i> (pair; idle: idle)\n"
"  --offset N             first i (0), for several processes\n"
"  --mode M               relay | idle (relay)\n"
"  --pairs N              relay: publisher/subscriber pairs (100)\n"
"  --connections N        idle: subscribers (100)\n"
"  --rate R               relay: messages per second, all pairs (1000)\n"
"  --connect-rate R       new connections per second (1000)\n"
"  --connect-timeout S    seconds from connect to the 101 (10)\n"
"  --warmup S             seconds of load before measuring (2)\n"
"  --duration S           measured seconds; idle: held seconds (10)\n"
"  --drain S              at most S s for late deliveries (2)\n"
"  --body-size N          pad bodies with x to N bytes, as chat-bench (0)\n"
"  --progress             a progress line on stderr every second\n"
"  --json FILE            write the results as JSON to FILE\n"
"  --ready-file FILE      write FILE once every connection is up or failed\n"
"  --min-up-ratio X       exit 1 when fewer came up (0.99)\n";


/* A number in [lo, hi], or -1 after a message. */
static double
nb_number(const char *name, const char *v, double lo, double hi)
{
    char    *end;
    double   d;

    d = strtod(v, &end);
    if (end == v || *end != '\0' || d < lo || d > hi) {
        fprintf(stderr, "nchan-bench: --%s: %s is not in [%g, %g]\n",
                name, v, lo, hi);
        return -1;
    }
    return d;
}


static int
nb_resolve(const char *host, unsigned port, struct sockaddr_in *sa)
{
    struct addrinfo   hints, *res;
    int               rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "nchan-bench: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    memcpy(sa, res->ai_addr, sizeof(*sa));
    sa->sin_port = htons((uint16_t) port);
    freeaddrinfo(res);

    return 0;
}


static void
nb_defaults(nb_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->host = "127.0.0.1";
    conf->port = 8080;
    conf->pub_path = "/pub/";
    conf->sub_path = "/sub/";
    conf->pairs = 100;
    conf->connections = 100;
    conf->rate = 1000;
    conf->connect_rate = 1000;
    conf->connect_timeout = 10;
    conf->warmup = 2;
    conf->duration = 10;
    conf->drain = 2;
    conf->min_up_ratio = 0.99;
}


/* The numeric flags: where each goes and its range. */
typedef enum { NB_ULONG, NB_UINT, NB_DOUBLE } nb_kind_e;

static const struct {
    int        opt;
    nb_kind_e  kind;
    size_t     off;
    double     lo;
    double     hi;
} nb_numbers[] = {
    { O_PORT,            NB_UINT,   offsetof(nb_conf_t, port), 1, 65535 },
    { O_OFFSET,          NB_ULONG,  offsetof(nb_conf_t, offset), 0, 1e9 },
    { O_PAIRS,           NB_ULONG,  offsetof(nb_conf_t, pairs), 1, 1e7 },
    { O_CONNECTIONS,     NB_ULONG,  offsetof(nb_conf_t, connections), 1, 1e7 },
    { O_RATE,            NB_DOUBLE, offsetof(nb_conf_t, rate), 0.001, 1e7 },
    { O_CONNECT_RATE,    NB_DOUBLE, offsetof(nb_conf_t, connect_rate), 1, 1e7 },
    { O_CONNECT_TIMEOUT, NB_DOUBLE, offsetof(nb_conf_t, connect_timeout),
                                    0.1, 3600 },
    { O_WARMUP,          NB_DOUBLE, offsetof(nb_conf_t, warmup), 0, 3600 },
    { O_DURATION,        NB_DOUBLE, offsetof(nb_conf_t, duration), 0.1, 3600 },
    { O_DRAIN,           NB_DOUBLE, offsetof(nb_conf_t, drain), 0, 3600 },
    { O_BODY_SIZE,       NB_UINT,   offsetof(nb_conf_t, body_size), 0,
                                    NB_BODY_MAX },
    { O_MIN_UP_RATIO,    NB_DOUBLE, offsetof(nb_conf_t, min_up_ratio), 0, 1 },
};


/* One numeric flag into its field; 0, or -1 when unknown or out of range. */
static int
nb_numeric(nb_conf_t *conf, int opt, const char *name, const char *v)
{
    size_t   i;
    double   d;
    char    *field;

    for (i = 0; i < sizeof(nb_numbers) / sizeof(nb_numbers[0]); i++) {
        if (nb_numbers[i].opt != opt) {
            continue;
        }

        d = nb_number(name, v, nb_numbers[i].lo, nb_numbers[i].hi);
        if (d < 0) {
            return -1;
        }

        field = (char *) conf + nb_numbers[i].off;
        if (nb_numbers[i].kind == NB_ULONG) {
            *(unsigned long *) (void *) field = (unsigned long) d;
        } else if (nb_numbers[i].kind == NB_UINT) {
            *(unsigned *) (void *) field = (unsigned) d;
        } else {
            *(double *) (void *) field = d;
        }
        return 0;
    }

    return -1;
}


static int
nb_option(nb_conf_t *conf, int opt, const char *name, const char *v)
{
    switch (opt) {
    case O_HOST:       conf->host = v; return 0;
    case O_SRC:        conf->src = v; return 0;
    case O_PUB_PATH:   conf->pub_path = v; return 0;
    case O_SUB_PATH:   conf->sub_path = v; return 0;
    case O_PREFIX:     conf->prefix = v; return 0;
    case O_PROGRESS:   conf->progress = 1; return 0;
    case O_JSON:       conf->json_path = v; return 0;
    case O_READY_FILE: conf->ready_path = v; return 0;
    case O_MODE:
        if (strcmp(v, "relay") == 0 || strcmp(v, "idle") == 0) {
            conf->mode = v[0] == 'r' ? NB_RELAY : NB_IDLE;
            return 0;
        }
        fprintf(stderr, "nchan-bench: --mode: relay or idle, not %s\n", v);
        return -1;
    default:
        return nb_numeric(conf, opt, name, v);
    }
}


int
nb_options(nb_conf_t *conf, int argc, char **argv)
{
    int  opt, li;

    nb_defaults(conf);

    while ((opt = getopt_long(argc, argv, "", nb_long, &li)) != -1) {
        if (opt == O_HELP) {
            fputs(nb_usage, stdout);
            exit(0);
        }
        if (opt == '?'
            || nb_option(conf, opt, nb_long[li].name, optarg) != 0)
        {
            fputs(nb_usage, stderr);
            return 2;
        }
    }

    if (optind < argc) {
        fprintf(stderr, "nchan-bench: unexpected argument %s\n",
                argv[optind]);
        return 2;
    }

    if (conf->prefix == NULL) {
        conf->prefix = conf->mode == NB_RELAY ? "pair" : "idle";
    }

    if (nb_resolve(conf->host, conf->port, &conf->addr) != 0) {
        return 2;
    }
    if (conf->src) {
        conf->src_addr.sin_family = AF_INET;
        if (inet_pton(AF_INET, conf->src, &conf->src_addr.sin_addr) != 1) {
            fprintf(stderr, "nchan-bench: --src: not an IPv4 address: %s\n",
                    conf->src);
            return 2;
        }
    }

    return 0;
}
