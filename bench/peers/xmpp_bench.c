/*
 * xmpp-bench: N XMPP-over-WebSocket sessions against one server (ejabberd),
 * paired i <-> i^1 as in chat-bench, sending chat messages at a fixed total
 * rate on one open-loop schedule (tick k at t0 + k/rate goes to connection
 * k mod N), measuring sender -> recipient latency from the send time the
 * body carries. Idle mode only holds the sessions (for memory per
 * session). Phases: connect, warm-up, measured window, drain, close.
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "xmpp_bench.h"

#define EVENTS  512

static xb_t  *xb_signal_target;


uint64_t
xb_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * XB_NS + (uint64_t) ts.tv_nsec;
}


void
xb_count(xb_table_t *t, const char *key)
{
    unsigned  i;

    for (i = 0; i < t->n; i++) {
        if (strcmp(t->e[i].key, key) == 0) {
            t->e[i].n++;
            return;
        }
    }
    if (t->n == XB_TABLE_MAX) {
        t->other++;
        return;
    }
    snprintf(t->e[t->n].key, XB_KEY_MAX, "%s", key);
    t->e[t->n++].n = 1;
}


void
xb_user(const xb_t *b, unsigned long idx, char *out, size_t size)
{
    snprintf(out, size, "%s%lu", b->conf.prefix, b->conf.offset + idx);
}


void
xb_set_state(xb_t *b, xb_conn_t *c, xb_state_e s)
{
    b->count[c->state]--;
    b->count[s]++;
    c->state = (uint8_t) s;
}


void
xb_conn_up(xb_t *b, xb_conn_t *c)
{
    xb_set_state(b, c, XS_UP);
    b->st.up++;
}


/* c's fd is closed; reason NULL for our own clean end. */
void
xb_conn_closed(xb_t *b, xb_conn_t *c, const char *reason)
{
    xb_state_e  was = (xb_state_e) c->state;

    xb_set_state(b, c, XS_DONE);
    if (reason == NULL || was == XS_CLOSING) {
        return;
    }
    if (was == XS_UP) {
        b->st.dropped++;
        xb_count(&b->st.drop_reasons, reason);
    } else {
        b->st.failed++;
        xb_count(&b->st.fail_reasons, reason);
    }
}


static void
xb_on_signal(int sig)
{
    (void) sig;
    if (xb_signal_target) {
        xb_signal_target->stop = 1;
    }
}


static void
xb_usage(void)
{
    fprintf(stderr,
        "usage: xmpp-bench [--host A] [--port N] [--path /ws] "
        "[--domain D] [--src A]\n"
        "  [--prefix P] [--password S] [--offset N] [--connections N]\n"
        "  [--connect-rate R] [--connect-timeout S] [--mode msg|idle]\n"
        "  [--rate R] [--warmup S] [--duration S] [--drain S]\n"
        "  [--body-size N] [--rss-pid PID] [--progress] [--json FILE]\n"
        "  [--min-up-ratio X]\n");
}


static int
xb_options(xb_conf_t *cf, int argc, char **argv)
{
    static const struct option  opts[] = {
        { "host", 1, 0, 'h' }, { "port", 1, 0, 'p' }, { "path", 1, 0, 'P' },
        { "domain", 1, 0, 'd' }, { "src", 1, 0, 's' },
        { "prefix", 1, 0, 'x' }, { "password", 1, 0, 'w' },
        { "offset", 1, 0, 'o' }, { "connections", 1, 0, 'c' },
        { "connect-rate", 1, 0, 'C' }, { "connect-timeout", 1, 0, 'T' },
        { "mode", 1, 0, 'm' }, { "rate", 1, 0, 'r' },
        { "warmup", 1, 0, 'W' }, { "duration", 1, 0, 'D' },
        { "drain", 1, 0, 'R' }, { "body-size", 1, 0, 'b' },
        { "rss-pid", 1, 0, 'M' }, { "progress", 0, 0, 'g' },
        { "json", 1, 0, 'j' }, { "min-up-ratio", 1, 0, 'u' },
        { 0, 0, 0, 0 }
    };
    int  o;

    *cf = (xb_conf_t) {
        .host = "127.0.0.1", .port = 5280, .path = "/ws",
        .domain = "localhost", .prefix = "ej", .password = "benchpw",
        .connections = 100, .connect_rate = 1000, .connect_timeout = 10,
        .rate = 1000, .warmup = 2, .duration = 10, .drain = 2,
        .min_up_ratio = 0.99
    };
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'h': cf->host = optarg; break;
        case 'p': cf->port = (unsigned) strtoul(optarg, NULL, 10); break;
        case 'P': cf->path = optarg; break;
        case 'd': cf->domain = optarg; break;
        case 's': cf->src = optarg; break;
        case 'x': cf->prefix = optarg; break;
        case 'w': cf->password = optarg; break;
        case 'o': cf->offset = strtoul(optarg, NULL, 10); break;
        case 'c': cf->connections = strtoul(optarg, NULL, 10); break;
        case 'C': cf->connect_rate = atof(optarg); break;
        case 'T': cf->connect_timeout = atof(optarg); break;
        case 'm':
            if (strcmp(optarg, "msg") != 0 && strcmp(optarg, "idle") != 0) {
                return -1;
            }
            cf->mode = optarg[0] == 'm' ? XM_MSG : XM_IDLE;
            break;
        case 'r': cf->rate = atof(optarg); break;
        case 'W': cf->warmup = atof(optarg); break;
        case 'D': cf->duration = atof(optarg); break;
        case 'R': cf->drain = atof(optarg); break;
        case 'b': cf->body_size = (unsigned) strtoul(optarg, NULL, 10); break;
        case 'M': cf->rss_pid = strtol(optarg, NULL, 10); break;
        case 'g': cf->progress = 1; break;
        case 'j': cf->json_path = optarg; break;
        case 'u': cf->min_up_ratio = atof(optarg); break;
        default: return -1;
        }
    }
    if (optind != argc || cf->connections == 0 || cf->rate <= 0
        || cf->connect_rate <= 0 || cf->body_size > XB_BODY_MAX
        || cf->port == 0 || cf->port > 65535 || cf->duration <= 0
        || strlen(cf->prefix) > 40 || strlen(cf->domain) > 255
        || (cf->mode == XM_MSG && cf->connections % 2))
    {
        return -1;
    }
    return 0;
}


static int
xb_resolve(xb_conf_t *cf)
{
    struct addrinfo  hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai;

    if (getaddrinfo(cf->host, NULL, &hints, &ai) != 0) {
        fprintf(stderr, "xmpp-bench: cannot resolve %s\n", cf->host);
        return -1;
    }
    memcpy(&cf->addr, ai->ai_addr, sizeof(cf->addr));
    cf->addr.sin_port = htons((uint16_t) cf->port);
    freeaddrinfo(ai);
    if (cf->src) {
        cf->src_addr.sin_family = AF_INET;
        if (inet_pton(AF_INET, cf->src, &cf->src_addr.sin_addr) != 1) {
            fprintf(stderr, "xmpp-bench: bad --src %s\n", cf->src);
            return -1;
        }
    }
    return 0;
}


static int
xb_init(xb_t *b)
{
    struct rlimit  rl;
    unsigned long  i;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        if (b->conf.connections + 16 > rl.rlim_cur) {
            fprintf(stderr, "xmpp-bench: %lu connections exceed the "
                    "descriptor limit %llu\n", b->conf.connections,
                    (unsigned long long) rl.rlim_cur);
            return -1;
        }
    }
    b->ep = epoll_create1(EPOLL_CLOEXEC);
    b->conns = calloc(b->conf.connections, sizeof(xb_conn_t));
    b->rbuf_size = 256 * 1024;
    b->rbuf = malloc(b->rbuf_size);
    b->wbuf = malloc(XB_BODY_MAX + 2048);
    b->sbuf = malloc(XB_BODY_MAX + 1024);
    if (b->ep < 0 || !b->conns || !b->rbuf || !b->wbuf || !b->sbuf) {
        fprintf(stderr, "xmpp-bench: out of memory\n");
        return -1;
    }
    for (i = 0; i < b->conf.connections; i++) {
        b->conns[i].fd = -1;
        b->conns[i].idx = (uint32_t) i;
    }
    b->count[XS_NEW] = b->conf.connections;
    b->rng = xb_now() ^ ((uint64_t) getpid() << 32);
    snprintf(b->run_id, sizeof(b->run_id), "%016llx",
             (unsigned long long) (b->rng * 0x9e3779b97f4a7c15ULL));
    hist_init(&b->st.e2e);
    return 0;
}


static long
xb_rss_kib(long pid)
{
    char  path[64], line[256];
    long  kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) {
            break;
        }
    }
    fclose(f);
    return kib;
}


/* Starts the connections due by the connect rate. */
static void
xb_connect_due(xb_t *b)
{
    unsigned long  due;

    due = (unsigned long) ((double) (b->now - b->t_start) / XB_NS
                           * b->conf.connect_rate) + 1;
    while (b->next_start < b->conf.connections && b->next_start < due) {
        xb_ws_start(b, &b->conns[b->next_start++]);
    }
}


/* Fails the handshakes and closes past their deadline. */
static void
xb_deadlines(xb_t *b)
{
    unsigned long  i;
    xb_conn_t     *c;

    for (i = 0; i < b->next_start; i++) {
        c = &b->conns[i];
        if (c->fd >= 0 && c->state != XS_UP && b->now > c->deadline) {
            xb_ws_finish(b, c, c->state == XS_CLOSING ? NULL : "timeout");
        }
    }
}


static void
xb_send_due(xb_t *b)
{
    uint64_t    due, k;
    xb_conn_t  *c;
    int         rc, measured;

    /* tick k is due at t0 + k / rate: ticks 0 .. due - 1 are due now */
    due = (uint64_t) ((double) (b->now - b->t0) / XB_NS * b->conf.rate) + 1;
    for (k = b->tick; k < due; k++) {
        measured = b->phase == PH_MEASURE;
        if (measured) {
            b->st.ticks++;
            if (b->now - b->t0 - (uint64_t) ((double) k / b->conf.rate * XB_NS)
                > b->st.max_lag_ns)
            {
                b->st.max_lag_ns = b->now - b->t0
                    - (uint64_t) ((double) k / b->conf.rate * XB_NS);
            }
        }
        c = &b->conns[k % b->conf.connections];
        if (c->state != XS_UP) {
            b->st.skipped_down += (uint64_t) measured;
            continue;
        }
        rc = xb_stream_send_msg(b, c);
        if (rc == XB_SEND_FULL) {
            b->st.skipped_backpressure += (uint64_t) measured;
            continue;
        }
        if (rc == XB_SEND_OK) {
            c->seq++;
            b->st.all_sent++;
            b->st.attempted += (uint64_t) measured;
        }
    }
    b->tick = due;
}


static void
xb_close_all(xb_t *b)
{
    unsigned long  i;

    b->st.up_at_end = b->count[XS_UP];
    for (i = 0; i < b->conf.connections; i++) {
        if (b->conns[i].fd >= 0 && b->conns[i].state == XS_UP) {
            xb_stream_close(b, &b->conns[i]);
        } else if (b->conns[i].fd >= 0) {
            xb_ws_finish(b, &b->conns[i], "timeout");
        }
    }
    b->t_phase_end = b->now + XB_CLOSE_WAIT;
}


static void
xb_phase(xb_t *b, xb_phase_e ph, double secs)
{
    b->phase = ph;
    b->t_phase_end = b->now + (uint64_t) (secs * XB_NS);
}


/* Moves to the next phase when the current one is over. */
static void
xb_advance(xb_t *b)
{
    int  over = b->now >= b->t_phase_end || b->stop;

    switch (b->phase) {
    case PH_CONNECT:
        if (!b->stop && (b->next_start < b->conf.connections
            || b->count[XS_UP] + b->count[XS_DONE] < b->conf.connections))
        {
            return;
        }
        b->t_up = b->t0 = b->now;
        xb_phase(b, PH_WARMUP, b->conf.warmup);
        if (b->conf.warmup > 0) return;
        /* fall through */
    case PH_WARMUP:
        if (!over && b->phase == PH_WARMUP && b->conf.warmup > 0) return;
        b->t_measure = b->now;
        xb_phase(b, PH_MEASURE, b->conf.duration);
        return;
    case PH_MEASURE:
        if (!over) return;
        b->t_end = b->now;
        if (b->conf.mode == XM_IDLE && b->conf.rss_pid > 0) {
            b->rss_kib = xb_rss_kib(b->conf.rss_pid);
        }
        xb_phase(b, PH_DRAIN, b->stop ? 0 : b->conf.drain);
        return;
    case PH_DRAIN:
        if (!over && b->st.all_delivered < b->st.all_sent) return;
        b->phase = PH_CLOSE;
        xb_close_all(b);
        return;
    case PH_CLOSE:
        if (b->count[XS_DONE] < b->conf.connections && !over) return;
        b->phase = PH_DONE;
        return;
    case PH_DONE:
        return;
    }
}


static void
xb_progress(xb_t *b, uint64_t *last)
{
    if (!b->conf.progress || b->now - *last < XB_NS) {
        return;
    }
    *last = b->now;
    fprintf(stderr, "phase %d: up %lu, done %lu, sent %llu, delivered %llu\n",
            b->phase, b->count[XS_UP], b->count[XS_DONE],
            (unsigned long long) b->st.all_sent,
            (unsigned long long) b->st.all_delivered);
}


static void
xb_loop(xb_t *b)
{
    struct epoll_event  ev[EVENTS];
    uint64_t            last_scan = 0, last_progress = 0;
    int                 n, i;

    b->now = b->t_start = xb_now();
    while (b->phase != PH_DONE) {
        n = epoll_wait(b->ep, ev, EVENTS, 1);
        if (n < 0 && errno != EINTR) {
            perror("xmpp-bench: epoll_wait");
            break;
        }
        b->now = xb_now();
        for (i = 0; i < n; i++) {
            xb_ws_event(b, ev[i].data.ptr, ev[i].events);
        }
        b->now = xb_now();
        if (b->phase == PH_CONNECT) {
            xb_connect_due(b);
        }
        if (b->conf.mode == XM_MSG
            && (b->phase == PH_WARMUP || b->phase == PH_MEASURE))
        {
            xb_send_due(b);
        }
        if (b->now - last_scan > XB_NS / 10) {
            last_scan = b->now;
            xb_deadlines(b);
        }
        xb_advance(b);
        xb_progress(b, &last_progress);
    }
}


int
main(int argc, char **argv)
{
    static xb_t       b;
    struct sigaction  sa;
    int               rc = 0;

    if (xb_options(&b.conf, argc, argv) != 0) {
        xb_usage();
        return 2;
    }
    if (xb_resolve(&b.conf) != 0 || xb_init(&b) != 0) {
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = xb_on_signal;
    xb_signal_target = &b;
    (void) sigaction(SIGINT, &sa, NULL);
    (void) sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    xb_loop(&b);

    xb_report_text(&b);
    if (b.conf.json_path && xb_report_json(&b, b.conf.json_path) != 0) {
        rc = 2;
    }
    if ((double) b.st.up < b.conf.min_up_ratio * (double) b.conf.connections) {
        rc = rc ? rc : 1;
    }
    return rc;
}
