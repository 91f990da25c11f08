/*
 * Command line of chat-bench: every flag is long, with a default that
 * matches scripts/dev-up (127.0.0.1:8080); the secret has none in the
 * program: --secret, or $CHAT_JWT_SECRET.
 */

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "bench.h"
#include "options.h"

enum {
    OPT_HOST = 256, OPT_PORT, OPT_PATH, OPT_SRC, OPT_SECRET, OPT_PREFIX,
    OPT_OFFSET, OPT_CONNECTIONS, OPT_CONNECT_RATE, OPT_CONNECT_TIMEOUT,
    OPT_MODE, OPT_RATE, OPT_MAX_INFLIGHT, OPT_DURATION, OPT_WARMUP,
    OPT_DRAIN, OPT_BODY_SIZE, OPT_PING_INTERVAL, OPT_RECEIPTS,
    OPT_TYPING_ALTERNATE, OPT_PROGRESS, OPT_JSON, OPT_MIN_UP_RATIO, OPT_HELP
};

static const struct option  bench_options_long[] = {
    { "host",             required_argument, NULL, OPT_HOST },
    { "port",             required_argument, NULL, OPT_PORT },
    { "path",             required_argument, NULL, OPT_PATH },
    { "src",              required_argument, NULL, OPT_SRC },
    { "secret",           required_argument, NULL, OPT_SECRET },
    { "prefix",           required_argument, NULL, OPT_PREFIX },
    { "offset",           required_argument, NULL, OPT_OFFSET },
    { "connections",      required_argument, NULL, OPT_CONNECTIONS },
    { "connect-rate",     required_argument, NULL, OPT_CONNECT_RATE },
    { "connect-timeout",  required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "mode",             required_argument, NULL, OPT_MODE },
    { "rate",             required_argument, NULL, OPT_RATE },
    { "max-inflight",     required_argument, NULL, OPT_MAX_INFLIGHT },
    { "duration",         required_argument, NULL, OPT_DURATION },
    { "warmup",           required_argument, NULL, OPT_WARMUP },
    { "drain",            required_argument, NULL, OPT_DRAIN },
    { "body-size",        required_argument, NULL, OPT_BODY_SIZE },
    { "ping-interval",    required_argument, NULL, OPT_PING_INTERVAL },
    { "receipts",         no_argument,       NULL, OPT_RECEIPTS },
    { "typing-alternate", no_argument,       NULL, OPT_TYPING_ALTERNATE },
    { "progress",         no_argument,       NULL, OPT_PROGRESS },
    { "json",             required_argument, NULL, OPT_JSON },
    { "min-up-ratio",     required_argument, NULL, OPT_MIN_UP_RATIO },
    { "help",             no_argument,       NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};


static void
bench_usage(FILE *f)
{
    fputs(
"usage: chat-bench [flags]   (see bench/README.md)\n"
"  --host ADDR            server address (127.0.0.1)\n"
"  --port N               server port (8080)\n"
"  --path P               WebSocket location (/chat)\n"
"  --src ADDR             local address to bind before connecting\n"
"  --secret S             HS256 secret ($CHAT_JWT_SECRET)\n"
"  --prefix P             user ids are P<i> (bench)\n"
"  --offset N             first i (0); devices are bench-<i>\n"
"  --connections N        connections (100; even in msg and typing modes)\n"
"  --connect-rate R       new connections per second (1000)\n"
"  --connect-timeout S    seconds from connect to hello (10)\n"
"  --mode M               msg | idle | typing (msg)\n"
"  --rate R               requests per second, all connections (1000)\n"
"  --max-inflight N       unanswered requests per connection (100)\n"
"  --duration S           measured seconds (10)\n"
"  --warmup S             seconds of load before measuring (2)\n"
"  --drain S              seconds to wait for answers after it (2)\n"
"  --body-size N          pad message bodies to N bytes (0: no padding)\n"
"  --ping-interval S      idle mode: a JSON ping per connection every S s\n"
"  --receipts             msg mode: answer each message with a receipt\n"
"  --typing-alternate     typing mode: alternate start and stop\n"
"  --progress             a progress line on stderr every second\n"
"  --json FILE            write the results as JSON to FILE\n"
"  --min-up-ratio X       exit 1 when fewer connections came up (0.99)\n",
    f);
}


static int
bench_double(const char *name, const char *s, double min, double *out)
{
    char    *end;
    double   v;

    errno = 0;
    v = strtod(s, &end);

    if (errno || end == s || *end != '\0' || !(v >= min) || v > 1e9) {
        fprintf(stderr, "chat-bench: --%s: bad value \"%s\"\n", name, s);
        return -1;
    }

    *out = v;

    return 0;
}


static int
bench_ulong(const char *name, const char *s, unsigned long max,
    unsigned long *out)
{
    char           *end;
    unsigned long   v;

    errno = 0;
    v = strtoul(s, &end, 10);

    if (errno || end == s || *end != '\0' || s[0] == '-' || v > max) {
        fprintf(stderr, "chat-bench: --%s: bad value \"%s\"\n", name, s);
        return -1;
    }

    *out = v;

    return 0;
}


/* A host name or an IPv4 address, resolved once. */
static int
bench_resolve(const char *host, unsigned port, struct sockaddr_in *sin)
{
    int               rc;
    struct addrinfo   hints, *res;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "chat-bench: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }

    memcpy(sin, res->ai_addr, sizeof(struct sockaddr_in));
    sin->sin_port = htons((uint16_t) port);
    freeaddrinfo(res);

    return 0;
}


static int
bench_valid_id(const char *s)
{
    for ( ; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'
              || *s == '@' || *s == '-'))
        {
            return 0;
        }
    }

    return 1;
}


static void
bench_defaults(bench_conf_t *cf)
{
    memset(cf, 0, sizeof(bench_conf_t));

    cf->host = "127.0.0.1";
    cf->port = 8080;
    cf->path = "/chat";
    cf->secret = getenv("CHAT_JWT_SECRET");
    cf->prefix = "bench";
    cf->connections = 100;
    cf->connect_rate = 1000;
    cf->connect_timeout = 10;
    cf->mode = MODE_MSG;
    cf->rate = 1000;
    cf->max_inflight = 100;
    cf->duration = 10;
    cf->warmup = 2;
    cf->drain = 2;
    cf->min_up_ratio = 0.99;
}


/* One flag; returns 0, or -1 on a bad value. */
static int
bench_option(bench_conf_t *cf, int opt, const char *arg)
{
    unsigned long  v;

    switch (opt) {

    case OPT_HOST:
        cf->host = arg;
        return 0;

    case OPT_PATH:
        cf->path = arg;
        return 0;

    case OPT_SRC:
        cf->src = arg;
        return 0;

    case OPT_SECRET:
        cf->secret = arg;
        return 0;

    case OPT_PREFIX:
        cf->prefix = arg;
        return 0;

    case OPT_JSON:
        cf->json_path = arg;
        return 0;

    case OPT_RECEIPTS:
        cf->receipts = 1;
        return 0;

    case OPT_TYPING_ALTERNATE:
        cf->typing_alternate = 1;
        return 0;

    case OPT_PROGRESS:
        cf->progress = 1;
        return 0;


    case OPT_PORT:
        if (bench_ulong("port", arg, 65535, &v) != 0 || v == 0) {
            return -1;
        }
        cf->port = (unsigned) v;
        return 0;

    case OPT_OFFSET:
        return bench_ulong("offset", arg, 1000000000, &cf->offset);

    case OPT_CONNECTIONS:
        return bench_ulong("connections", arg, 10000000, &cf->connections);

    case OPT_MAX_INFLIGHT:
        if (bench_ulong("max-inflight", arg, 1000000, &v) != 0 || v == 0) {
            return -1;
        }
        cf->max_inflight = (unsigned) v;
        return 0;

    case OPT_BODY_SIZE:
        if (bench_ulong("body-size", arg, BENCH_BODY_MAX, &v) != 0) {
            return -1;
        }
        cf->body_size = (unsigned) v;
        return 0;

    case OPT_CONNECT_RATE:
        return bench_double("connect-rate", arg, 0.001, &cf->connect_rate);
    case OPT_CONNECT_TIMEOUT:
        return bench_double("connect-timeout", arg, 0.001,
                            &cf->connect_timeout);
    case OPT_RATE:
        return bench_double("rate", arg, 0, &cf->rate);
    case OPT_DURATION:
        return bench_double("duration", arg, 0, &cf->duration);
    case OPT_WARMUP:
        return bench_double("warmup", arg, 0, &cf->warmup);
    case OPT_DRAIN:
        return bench_double("drain", arg, 0, &cf->drain);
    case OPT_PING_INTERVAL:
        return bench_double("ping-interval", arg, 0, &cf->ping_interval);
    case OPT_MIN_UP_RATIO:
        return bench_double("min-up-ratio", arg, 0, &cf->min_up_ratio);

    case OPT_MODE:
        if (strcmp(arg, "msg") == 0) {
            cf->mode = MODE_MSG;
        } else if (strcmp(arg, "idle") == 0) {
            cf->mode = MODE_IDLE;
        } else if (strcmp(arg, "typing") == 0) {
            cf->mode = MODE_TYPING;
        } else {
            fprintf(stderr, "chat-bench: --mode: msg, idle or typing\n");
            return -1;
        }
        return 0;
    }

    return -1;
}


/* The checks across flags, and the addresses. */
static int
bench_check(bench_conf_t *cf)
{
    if (strlen(cf->prefix) == 0 || strlen(cf->prefix) > BENCH_PREFIX_MAX
        || !bench_valid_id(cf->prefix))
    {
        fprintf(stderr, "chat-bench: --prefix: 1-%d of A-Z a-z 0-9 _ . @ -\n",
                BENCH_PREFIX_MAX);
        return -1;
    }

    if (cf->secret == NULL || cf->secret[0] == '\0') {
        fprintf(stderr, "chat-bench: no secret: --secret, or "
                "CHAT_JWT_SECRET\n");
        return -1;
    }

    if (cf->connections == 0) {
        fprintf(stderr, "chat-bench: --connections must be at least 1\n");
        return -1;
    }

    if (cf->mode != MODE_IDLE && cf->connections % 2) {
        fprintf(stderr, "chat-bench: --connections must be even in msg and "
                "typing modes (connection i sends to i^1)\n");
        return -1;
    }

    if (cf->path[0] != '/' || strpbrk(cf->path, " \r\n")) {
        fprintf(stderr, "chat-bench: --path must start with / and have no "
                "spaces\n");
        return -1;
    }

    if (cf->min_up_ratio > 1) {
        fprintf(stderr, "chat-bench: --min-up-ratio is at most 1\n");
        return -1;
    }

    if (bench_resolve(cf->host, cf->port, &cf->addr) != 0) {
        return -1;
    }

    if (cf->src) {
        memset(&cf->src_addr, 0, sizeof(struct sockaddr_in));
        cf->src_addr.sin_family = AF_INET;

        if (inet_pton(AF_INET, cf->src, &cf->src_addr.sin_addr) != 1) {
            fprintf(stderr, "chat-bench: --src: not an IPv4 address: %s\n",
                    cf->src);
            return -1;
        }
    }

    return 0;
}


int
bench_options(int argc, char **argv, bench_conf_t *cf)
{
    int  opt;

    bench_defaults(cf);

    for ( ;; ) {
        opt = getopt_long(argc, argv, "", bench_options_long, NULL);
        if (opt == -1) {
            break;
        }

        if (opt == OPT_HELP) {
            bench_usage(stdout);
            return 1;
        }

        if (opt == '?' || bench_option(cf, opt, optarg) != 0) {
            bench_usage(stderr);
            return -1;
        }
    }

    if (optind < argc) {
        fprintf(stderr, "chat-bench: unexpected argument \"%s\"\n",
                argv[optind]);
        return -1;
    }

    return bench_check(cf);
}
