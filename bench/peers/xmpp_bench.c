/*
 * xmpp-bench: N XMPP-over-WebSocket sessions against one server (ejabberd),
 * paired i <-> i^1 as in chat-bench, sending chat messages at a fixed total
 * rate on one open-loop schedule (tick k at t0 + k/rate goes to connection
 * k mod N), measuring sender -> recipient latency from the send time the
 * body carries. Idle mode only holds the sessions (for memory per
 * session). Phases: connect, warm-up, measured window, drain, close.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp_bench.h"

static xb_t  *xb_signal_target;

static int xb_request(bench_ws_loop_t *lp, bench_ws_t *ws, char *target,
    size_t tsize, char *headers, size_t hsize);
static void xb_open(bench_ws_loop_t *lp, bench_ws_t *ws);
static void xb_text(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
    size_t len);
static void xb_closed(bench_ws_loop_t *lp, bench_ws_t *ws, int prev,
    const char *reason);

static const bench_ws_handler_t  xb_handler = {
    xb_request, xb_open, xb_text, xb_closed
};

static const char *const  xb_mode_names[] = { "msg", "idle" };

#define XB_OPT(name, kind, field, lo, hi, arg, help)                         \
    { name, kind, offsetof(xb_conf_t, field), lo, hi, NULL, arg, help }

BENCH_LOAD_CONF_OF(xb_conf_t);

static const bench_opt_t  xb_opts[] = {
    XB_OPT("path", BENCH_OPT_STRING, path, 0, 0, "P", "WebSocket location"),
    XB_OPT("domain", BENCH_OPT_STRING, domain, 0, 0, "D", "the XMPP domain"),
    XB_OPT("password", BENCH_OPT_STRING, password, 0, 0, "S",
           "every user's password"),
    { "mode", BENCH_OPT_CHOICE, offsetof(xb_conf_t, mode), 0, 0,
      "msg|idle", "M", "msg or idle" },
    XB_OPT("rss-pid", BENCH_OPT_LONG, rss_pid, 0, 1e9, "PID",
           "idle mode: the server's VmRSS at the end of the window"),
    BENCH_OPT_END
};


void
xb_user(const xb_t *b, unsigned long idx, char *out, size_t size)
{
    snprintf(out, size, "%s%lu", b->conf.prefix, b->conf.offset + idx);
}


void
xb_conn_up(xb_t *b, xb_conn_t *c)
{
    bench_ws_set_state(&b->lp, &c->ws, XS_UP);
    b->st.up++;
}


static int
xb_request(bench_ws_loop_t *lp, bench_ws_t *ws, char *target, size_t tsize,
    char *headers, size_t hsize)
{
    xb_t  *b;
    int    n;

    (void) ws;
    (void) headers;
    (void) hsize;

    b = lp->data;
    n = snprintf(target, tsize, "%s", b->conf.path);

    return n < 0 || (size_t) n >= tsize ? -1 : 0;
}


static void
xb_open(bench_ws_loop_t *lp, bench_ws_t *ws)
{
    xb_stream_open(lp->data, (xb_conn_t *) ws);
}


static void
xb_text(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p, size_t len)
{
    xb_stream_element(lp->data, (xb_conn_t *) ws, p, len);
}


/* c's fd is closed: counted unless it was our own close. */
static void
xb_closed(bench_ws_loop_t *lp, bench_ws_t *ws, int prev, const char *reason)
{
    xb_t  *b;

    (void) ws;

    b = lp->data;

    if (prev == BENCH_WS_CLOSING) {
        b->st.closed_clean += strcmp(reason, "closed") == 0;
        return;
    }

    if (prev == XS_UP) {
        b->st.dropped++;
        bench_count(&b->st.drop_reasons, reason, strlen(reason));
    } else {
        b->st.failed++;
        bench_count(&b->st.fail_reasons, reason, strlen(reason));
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


/* The flags; 0, 1 after --help, -1 on an error. */
static int
xb_options(xb_conf_t *cf, int argc, char **argv)
{
    int  rc;

    *cf = (xb_conf_t) {
        .host = "127.0.0.1", .port = 5280, .path = "/ws",
        .domain = "localhost", .prefix = "ej", .password = "benchpw",
        .connections = 100, .connect_rate = 1000, .connect_timeout = 10,
        .rate = 1000, .warmup = 2, .duration = 10, .drain = 2,
        .min_up_ratio = 0.99
    };

    rc = bench_options("xmpp-bench", "usage: xmpp-bench [flags]   "
                       "(see bench/peers/README.md)\n",
                       xb_opts, argc, argv, cf);
    if (rc != 0) {
        return rc;
    }

    if (strlen(cf->prefix) > 40 || strlen(cf->domain) > 255
        || (cf->mode == XM_MSG && (cf->connections % 2 || cf->rate <= 0)))
    {
        fprintf(stderr, "xmpp-bench: --prefix is at most 40 bytes, "
                "--domain 255; msg mode needs even --connections and a "
                "--rate above 0\n");
        return -1;
    }

    return 0;
}


static int
xb_init(xb_t *b)
{
    unsigned long     i;
    bench_ws_loop_t  *lp;

    if (bench_ws_nofile("xmpp-bench", b->conf.connections) != 0) {
        return -1;
    }

    lp = &b->lp;
    lp->handler = &xb_handler;
    lp->data = b;
    lp->host = b->conf.host;
    lp->port = b->conf.port;
    lp->addr = &b->conf.addr;
    lp->src = b->conf.src ? &b->conf.src_addr : NULL;
    lp->protocol = "xmpp";    /* RFC 7395 section 3.1: echoed or refused */
    lp->connect_ns = (uint64_t) (b->conf.connect_timeout * XB_NS);
    lp->st = &b->st;
    bench_stats_init(&b->st);

    b->conns = calloc(b->conf.connections, sizeof(xb_conn_t));
    b->sbuf = malloc(XB_BODY_MAX + 1024);
    if (bench_ws_loop_init(lp, b->conf.connections) != 0 || !b->conns
        || !b->sbuf)
    {
        fprintf(stderr, "xmpp-bench: out of memory\n");
        return -1;
    }
    for (i = 0; i < b->conf.connections; i++) {
        b->conns[i].ws.fd = -1;
        b->conns[i].idx = (uint32_t) i;
    }
    snprintf(b->run_id, sizeof(b->run_id), "%016llx",
             (unsigned long long) bench_ws_random(lp));
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

    due = (unsigned long) ((double) (b->lp.now - b->t_start) / XB_NS
                           * b->conf.connect_rate) + 1;
    while (b->next_start < b->conf.connections && b->next_start < due) {
        bench_ws_start(&b->lp, &b->conns[b->next_start++].ws);
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
        if (c->ws.fd >= 0 && c->ws.state != XS_UP
            && b->lp.now > c->ws.deadline)
        {
            bench_ws_finish(&b->lp, &c->ws, "timeout");
        }
    }
}


static void
xb_send_due(xb_t *b)
{
    uint64_t    due, k, lag;
    xb_conn_t  *c;
    int         rc, measured;

    /* tick k is due at t0 + k / rate: ticks 0 .. due - 1 are due now */
    due = (uint64_t) ((double) (b->lp.now - b->t0) / XB_NS * b->conf.rate) + 1;
    for (k = b->tick; k < due; k++) {
        measured = b->phase == PH_MEASURE;
        if (measured) {
            b->st.ticks++;
            lag = b->lp.now - b->t0
                  - (uint64_t) ((double) k / b->conf.rate * XB_NS);
            if (lag > b->st.max_lag_ns) {
                b->st.max_lag_ns = lag;
            }
        }
        c = &b->conns[k % b->conf.connections];
        if (c->ws.state != XS_UP) {
            b->st.skipped_down += (uint64_t) measured;
            continue;
        }
        rc = xb_stream_send_msg(b, c);
        if (rc == BENCH_WS_FULL) {
            b->st.skipped_backpressure += (uint64_t) measured;
            continue;
        }
        if (rc == BENCH_WS_OK) {
            c->seq++;
            b->st.all_ok++;
            b->st.attempted += (uint64_t) measured;
        }
    }
    b->tick = due;
}


static void
xb_close_all(xb_t *b)
{
    unsigned long  i;

    b->st.up_at_end = b->lp.count[XS_UP];
    for (i = 0; i < b->conf.connections; i++) {
        if (b->conns[i].ws.fd >= 0 && b->conns[i].ws.state == XS_UP) {
            xb_stream_close(b, &b->conns[i]);
        } else if (b->conns[i].ws.fd >= 0) {
            bench_ws_finish(&b->lp, &b->conns[i].ws, "timeout");
        }
    }
    b->t_phase_end = b->lp.now + BENCH_WS_CLOSE_WAIT;
}


static void
xb_phase(xb_t *b, xb_phase_e ph, double secs)
{
    b->phase = ph;
    b->t_phase_end = b->lp.now + (uint64_t) (secs * XB_NS);
}


/* Moves to the next phase when the current one is over. */
static void
xb_advance(xb_t *b)
{
    int  over = b->lp.now >= b->t_phase_end || b->stop;

    switch (b->phase) {
    case PH_CONNECT:
        if (!b->stop && (b->next_start < b->conf.connections
            || b->lp.count[XS_UP] + b->lp.count[BENCH_WS_DONE]
               < b->conf.connections))
        {
            return;
        }
        b->t_up = b->t0 = b->lp.now;
        xb_phase(b, PH_WARMUP, b->conf.warmup);
        if (b->conf.warmup > 0) return;
        /* fall through */
    case PH_WARMUP:
        if (!over && b->phase == PH_WARMUP && b->conf.warmup > 0) return;
        b->t_measure = b->lp.now;
        xb_phase(b, PH_MEASURE, b->conf.duration);
        return;
    case PH_MEASURE:
        if (!over) return;
        b->t_end = b->lp.now;
        if (b->conf.mode == XM_IDLE && b->conf.rss_pid > 0) {
            b->rss_kib = xb_rss_kib(b->conf.rss_pid);
        }
        xb_phase(b, PH_DRAIN, b->stop ? 0 : b->conf.drain);
        return;
    case PH_DRAIN:
        if (!over && b->st.all_delivered < b->st.all_ok) return;
        b->phase = PH_CLOSE;
        xb_close_all(b);
        return;
    case PH_CLOSE:
        if (b->lp.count[BENCH_WS_DONE] < b->conf.connections && !over) return;
        b->phase = PH_DONE;
        return;
    case PH_DONE:
        return;
    }
}


static void
xb_progress(xb_t *b, uint64_t *last)
{
    if (!b->conf.progress || b->lp.now - *last < XB_NS) {
        return;
    }
    *last = b->lp.now;
    fprintf(stderr, "phase %d: up %lu, done %lu, sent %llu, delivered %llu\n",
            b->phase, b->lp.count[XS_UP], b->lp.count[BENCH_WS_DONE],
            (unsigned long long) b->st.all_ok,
            (unsigned long long) b->st.all_delivered);
}


static void
xb_loop(xb_t *b)
{
    uint64_t  last_scan = 0, last_progress = 0;

    b->lp.now = b->t_start = bench_ws_now();
    while (b->phase != PH_DONE) {
        if (bench_ws_poll(&b->lp, 1) != 0) {
            perror("xmpp-bench: epoll_wait");
            break;
        }
        if (b->phase == PH_CONNECT) {
            xb_connect_due(b);
        }
        if (b->conf.mode == XM_MSG
            && (b->phase == PH_WARMUP || b->phase == PH_MEASURE))
        {
            xb_send_due(b);
        }
        if (b->lp.now - last_scan > XB_NS / 10) {
            last_scan = b->lp.now;
            xb_deadlines(b);
        }
        xb_advance(b);
        xb_progress(b, &last_progress);
    }
}


/* The run as the report module prints it (chat-bench's layout). */
static void
xb_report(xb_t *b, bench_report_t *r, char *config, size_t size,
    char *extra, size_t esize)
{
    xb_conf_t  *cf;

    cf = &b->conf;

    snprintf(config, size, "{\"connections\":%lu,\"prefix\":\"%s\","
             "\"offset\":%lu,\"domain\":\"%s\",\"connect_rate\":%g,"
             "\"rate\":%g,\"warmup_s\":%g,\"duration_s\":%g,"
             "\"drain_s\":%g,\"body_size\":%u}",
             cf->connections, cf->prefix, cf->offset, cf->domain,
             cf->connect_rate, cf->rate, cf->warmup, cf->duration, cf->drain,
             cf->body_size);

    /* what bench/peers/ejabberd.sh reads besides chat-bench's layout */
    if (cf->mode == XM_IDLE) {
        snprintf(extra, esize, "\"offered_per_s\":0,\"body_size\":%u,"
                 "\"rss_kib_at_peak\":%ld,", cf->body_size, b->rss_kib);
    } else {
        snprintf(extra, esize, "\"offered_per_s\":%.1f,\"body_size\":%u,",
                 cf->rate, cf->body_size);
    }

    *r = (bench_report_t) {
        .tool = "xmpp-bench", .run = b->run_id,
        .mode = xb_mode_names[cf->mode], .host = cf->host, .port = cf->port,
        .src = cf->src, .requested = cf->connections,
        .rate = cf->mode == XM_MSG ? cf->rate : 0, .warmup = cf->warmup,
        .e2e = cf->mode == XM_MSG, .t_start = b->t_start, .t_up = b->t_up,
        .t_measure = b->t_measure, .t_end = b->t_end, .config = config,
        .extra = extra, .st = &b->st
    };
}


int
main(int argc, char **argv)
{
    static xb_t       b;
    struct sigaction  sa;
    bench_report_t    report;
    char              config[512], extra[128];
    int               rc;

    rc = xb_options(&b.conf, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    if (xb_init(&b) != 0) {
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = xb_on_signal;
    xb_signal_target = &b;
    (void) sigaction(SIGINT, &sa, NULL);
    (void) sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    xb_loop(&b);

    xb_report(&b, &report, config, sizeof(config), extra, sizeof(extra));
    bench_report_text(&report);
    rc = 0;
    if (b.conf.json_path
        && bench_report_json(&report, b.conf.json_path) != 0)
    {
        rc = 2;
    }
    if ((double) b.st.up < b.conf.min_up_ratio * (double) b.conf.connections) {
        rc = rc ? rc : 1;
    }
    return rc;
}
