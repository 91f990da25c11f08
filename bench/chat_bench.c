/*
 * chat-bench: a load generator for ngx_chat (docs/PROTOCOL.md sections 2-4).
 *
 * One thread runs one epoll loop over N WebSocket connections through the
 * phases connect -> warm-up -> measure -> drain -> close. Requests are sent
 * open-loop on a global schedule: tick k is due at t_up + k / rate and goes
 * to sender k mod n, so every connection sends evenly spaced requests and
 * the connections are evenly interleaved. Every request carries its send
 * time (CLOCK_MONOTONIC: the peers of a pair live in this process), in its
 * id and, for messages, in its body, so no per-request state is kept.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>

#include "bench.h"
#include "chat_ws_frame.h"
#include "json_scan.h"
#include "options.h"

#define BENCH_TICKS_TURN    10000     /* ticks per loop turn at most */
#define BENCH_SWEEP_NS      50000000ULL
#define BENCH_MAX_WAIT_MS   100

static volatile sig_atomic_t  bench_stop;

static int bench_conf(bench_conf_t *cf, int argc, char **argv);
static int bench_conf_check(bench_conf_t *cf);
static int bench_setup(bench_t *b);
static void bench_free(bench_t *b);
static void bench_check_ports(bench_t *b);
static void bench_run(bench_t *b);
static int bench_timeout(bench_t *b);
static void bench_advance(bench_t *b);
static void bench_connecting(bench_t *b);
static void bench_sweep(bench_t *b, uint64_t *next, const char *reason);
static void bench_start_load(bench_t *b);
static void bench_ticks(bench_t *b, uint64_t horizon);
static void bench_tick(bench_t *b, bench_conn_t *c, uint64_t due);
static int bench_drained(bench_t *b);
static void bench_start_close(bench_t *b);
static void bench_progress(bench_t *b);
static void bench_report(bench_t *b, bench_report_t *r, char *config,
    size_t size);
static int bench_request(bench_ws_loop_t *lp, bench_ws_t *ws, char *target,
    size_t tsize, char *headers, size_t hsize);
static void bench_open(bench_ws_loop_t *lp, bench_ws_t *ws);
static void bench_text(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
    size_t len);
static void bench_closed(bench_ws_loop_t *lp, bench_ws_t *ws, int prev,
    const char *reason);

static const char *const  bench_mode_names[] = { "msg", "idle", "typing" };

static const bench_ws_handler_t  bench_handler = {
    bench_request, bench_open, bench_text, bench_closed
};

#define BENCH_OPT(name, kind, field, lo, hi, arg, help)                      \
    { name, kind, offsetof(bench_conf_t, field), lo, hi, NULL, arg, help }

BENCH_LOAD_CONF_OF(bench_conf_t);

static const bench_opt_t  bench_opts[] = {
    BENCH_OPT("path", BENCH_OPT_STRING, path, 0, 0, "P",
              "WebSocket location"),
    BENCH_OPT("secret", BENCH_OPT_STRING, secret, 0, 0, "S",
              "HS256 secret (else $CHAT_JWT_SECRET)"),
    { "mode", BENCH_OPT_CHOICE, offsetof(bench_conf_t, mode), 0, 0,
      "msg|idle|typing", "M", "msg, idle or typing" },
    BENCH_OPT("max-inflight", BENCH_OPT_UINT, max_inflight, 1, 1e6, "N",
              "unanswered requests per connection"),
    BENCH_OPT("ping-interval", BENCH_OPT_DOUBLE, ping_interval, 0, 1e9, "S",
              "idle mode: a JSON ping per connection every S s"),
    BENCH_OPT("receipts", BENCH_OPT_FLAG, receipts, 0, 0, NULL,
              "msg mode: answer each message with a receipt"),
    BENCH_OPT("typing-alternate", BENCH_OPT_FLAG, typing_alternate, 0, 0,
              NULL, "typing mode: alternate start and stop"),
    BENCH_OPT_END
};


static void
bench_signal(int sig)
{
    (void) sig;
    bench_stop = 1;
}


int
main(int argc, char **argv)
{
    int              rc;
    double           ratio;
    bench_t         *b;
    bench_report_t   report;
    char             config[1024];

    b = calloc(1, sizeof(bench_t));
    if (b == NULL) {
        fprintf(stderr, "chat-bench: out of memory\n");
        return 2;
    }

    rc = bench_conf(&b->conf, argc, argv);
    if (rc != 0) {
        free(b);
        return rc > 0 ? 0 : 2;
    }

    if (bench_setup(b) != 0) {
        return 2;
    }

    bench_run(b);

    bench_report(b, &report, config, sizeof(config));
    bench_report_text(&report);

    rc = 0;

    if (b->conf.json_path
        && bench_report_json(&report, b->conf.json_path) != 0)
    {
        rc = 2;
    }

    ratio = (double) b->st.up / (double) b->conf.connections;
    if (ratio < b->conf.min_up_ratio) {
        fprintf(stderr, "chat-bench: only %.2f%% of the connections came up "
                "(--min-up-ratio %.2f%%)\n", ratio * 100,
                b->conf.min_up_ratio * 100);
        rc = 1;
    }

    bench_free(b);

    return rc;
}


/* Every connection is closed by now (PH_DONE): only the arrays are left. */
static void
bench_free(bench_t *b)
{
    bench_ws_loop_free(&b->lp);
    free(b->conns);
    free(b->senders);
    free(b->payload);
    free(b);
}


static int
bench_setup(bench_t *b)
{
    unsigned long      i;
    bench_conn_t      *c;
    bench_ws_loop_t   *lp;
    struct sigaction   sa;

    if (bench_ws_nofile("chat-bench", b->conf.connections) != 0) {
        return -1;
    }

    bench_check_ports(b);

    lp = &b->lp;
    lp->handler = &bench_handler;
    lp->data = b;
    lp->host = b->conf.host;
    lp->port = b->conf.port;
    lp->addr = &b->conf.addr;
    lp->src = b->conf.src ? &b->conf.src_addr : NULL;
    lp->connect_ns = (uint64_t) (b->conf.connect_timeout * (double) BENCH_NS);
    lp->st = &b->st;
    bench_stats_init(&b->st);

    b->conns = calloc(b->conf.connections, sizeof(bench_conn_t));
    b->senders = calloc(b->conf.connections, sizeof(uint32_t));
    b->payload_size = BENCH_BODY_MAX + 1024;
    b->payload = malloc(b->payload_size);

    if (bench_ws_loop_init(lp, b->conf.connections) != 0 || !b->conns
        || !b->senders || !b->payload)
    {
        fprintf(stderr, "chat-bench: setup: %s\n", strerror(errno));
        return -1;
    }

    /* tells this run's messages from those a former run left pending */
    snprintf(b->run_id, sizeof(b->run_id), "%012llx",
             (unsigned long long) (bench_ws_random(lp) & 0xffffffffffffULL));

    for (i = 0; i < b->conf.connections; i++) {
        c = &b->conns[i];
        c->ws.fd = -1;
        c->idx = (uint32_t) i;
        c->user_len = (uint8_t) snprintf(c->user, sizeof(c->user), "%s%lu",
                                         b->conf.prefix, b->conf.offset + i);
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bench_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    return 0;
}


/*
 * Without --src, every connection to the one server address takes a port
 * of the ephemeral range of one source address: warn when N cannot fit.
 */
static void
bench_check_ports(bench_t *b)
{
    FILE          *f;
    unsigned long  lo, hi;

    if (b->conf.src) {
        return;
    }

    f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f == NULL) {
        return;
    }

    if (fscanf(f, "%lu %lu", &lo, &hi) == 2 && hi >= lo
        && b->conf.connections > hi - lo + 1)
    {
        fprintf(stderr, "chat-bench: warning: %lu connections but only %lu "
                "ephemeral ports (%lu-%lu); use --src 127.0.0.X and several "
                "processes\n", b->conf.connections, hi - lo + 1, lo, hi);
    }

    fclose(f);
}


static void
bench_run(bench_t *b)
{
    unsigned long  i;

    b->lp.now = bench_ws_now();
    b->t_start = b->lp.now;
    b->t_connect_end = b->t_start
        + (uint64_t) (((double) b->conf.connections / b->conf.connect_rate
                       + b->conf.connect_timeout) * (double) BENCH_NS);
    b->phase = PH_CONNECT;
    b->next_progress = b->lp.now + BENCH_NS;

    fprintf(stderr, "chat-bench: run %s: connecting %lu to %s:%u\n",
            b->run_id, b->conf.connections, b->conf.host, b->conf.port);

    bench_advance(b);

    while (b->phase != PH_DONE) {
        if (bench_ws_poll(&b->lp, bench_timeout(b)) != 0) {
            fprintf(stderr, "chat-bench: epoll_wait: %s\n", strerror(errno));
            break;
        }

        bench_advance(b);

        if (b->conf.progress && b->lp.now >= b->next_progress) {
            bench_progress(b);
            b->next_progress += BENCH_NS;
        }
    }

    /* only after an epoll failure are there connections left */
    for (i = 0; i < b->started; i++) {
        if (b->conns[i].ws.state != BENCH_WS_DONE) {
            bench_ws_finish(&b->lp, &b->conns[i].ws, "aborted");
        }
    }
}


/* Milliseconds until the next thing due, rounded up. */
static int
bench_timeout(bench_t *b)
{
    uint64_t  next, limit;

    next = b->lp.now + BENCH_MAX_WAIT_MS * 1000000ULL;

    switch (b->phase) {

    case PH_CONNECT:
        if (b->started < b->conf.connections) {
            limit = b->t_start + (uint64_t) ((double) b->started
                        / b->conf.connect_rate * (double) BENCH_NS);
            next = limit < next ? limit : next;
        }
        break;

    case PH_WARMUP:
    case PH_MEASURE:
        if (b->tick_rate > 0) {
            limit = b->t_up + (uint64_t) ((double) b->ticks_done
                        / b->tick_rate * (double) BENCH_NS);
            next = limit < next ? limit : next;
        }
        /* fall through */

    default:
        next = b->t_phase_end < next ? b->t_phase_end : next;
        break;
    }

    if (next <= b->lp.now) {
        return 0;
    }

    return (int) ((next - b->lp.now + 999999) / 1000000);
}


static void
bench_advance(bench_t *b)
{
    if (bench_stop && b->phase < PH_CLOSE) {
        fprintf(stderr, "chat-bench: interrupted\n");

        /* the measured window ends here (it may be empty) */
        if (b->phase != PH_DRAIN) {
            if (b->phase != PH_MEASURE) {
                b->t_measure = b->lp.now;
            }
            b->t_end = b->lp.now;
        }

        bench_start_close(b);
    }

    switch (b->phase) {

    case PH_CONNECT:
        bench_connecting(b);
        break;

    case PH_WARMUP:
        bench_ticks(b, b->lp.now);
        if (b->lp.now >= b->t_measure) {
            b->phase = PH_MEASURE;
            b->t_phase_end = b->t_end;
            fprintf(stderr, "chat-bench: measuring for %.1f s\n",
                    b->conf.duration);
        }
        break;

    case PH_MEASURE:
        bench_ticks(b, b->lp.now < b->t_end ? b->lp.now : b->t_end - 1);
        if (b->lp.now >= b->t_end) {
            b->phase = PH_DRAIN;
            b->t_phase_end = b->lp.now
                + (uint64_t) (b->conf.drain * (double) BENCH_NS);
        }
        break;

    case PH_DRAIN:
        if (bench_drained(b) || b->lp.now >= b->t_phase_end) {
            bench_start_close(b);
        }
        break;

    case PH_CLOSE:
        if (b->lp.count[BENCH_WS_CLOSING] == 0
            || b->lp.now >= b->t_phase_end)
        {
            bench_sweep(b, NULL, "no_close_reply");
            b->phase = PH_DONE;
        }
        break;

    case PH_DONE:
        break;
    }
}


/* Starts what the connect rate allows, times out handshakes, moves on. */
static void
bench_connecting(bench_t *b)
{
    uint64_t        due;
    unsigned long   pending;

    due = (uint64_t) ((double) (b->lp.now - b->t_start) / (double) BENCH_NS
                      * b->conf.connect_rate) + 1;

    while (b->started < b->conf.connections && b->started < due) {
        bench_ws_start(&b->lp, &b->conns[b->started++].ws);
    }

    if (b->lp.now >= b->next_sweep) {
        bench_sweep(b, &b->next_sweep, "timeout");
    }

    pending = b->lp.count[BENCH_WS_CONNECTING] + b->lp.count[BENCH_WS_UPGRADE]
              + b->lp.count[CS_HELLO];

    if ((b->started == b->conf.connections && pending == 0)
        || b->lp.now >= b->t_connect_end)
    {
        bench_sweep(b, NULL, "timeout");
        bench_start_load(b);
    }
}


/*
 * Ends the connections past their deadline (handshake or close); with
 * next == NULL, every connection still pending or closing.
 */
static void
bench_sweep(bench_t *b, uint64_t *next, const char *reason)
{
    unsigned long   i;
    bench_conn_t   *c;

    for (i = 0; i < b->started; i++) {
        c = &b->conns[i];

        if (c->ws.state == CS_UP || c->ws.state == BENCH_WS_DONE) {
            continue;
        }

        if (next == NULL || b->lp.now >= c->ws.deadline) {
            bench_ws_finish(&b->lp, &c->ws, reason);
        }
    }

    if (next) {
        *next = b->lp.now + BENCH_SWEEP_NS;
    }
}


/* All connections are up (or failed): the schedule starts now. */
static void
bench_start_load(bench_t *b)
{
    unsigned long  i;

    b->t_up = b->lp.now;
    b->t_measure = b->t_up + (uint64_t) (b->conf.warmup * (double) BENCH_NS);
    b->t_end = b->t_measure + (uint64_t) (b->conf.duration * (double) BENCH_NS);
    b->t_phase_end = b->t_measure;
    b->phase = PH_WARMUP;

    for (i = 0; i < b->conf.connections; i++) {
        if (b->conns[i].ws.state == CS_UP) {
            b->senders[b->nsenders++] = (uint32_t) i;
        }
    }

    if (b->conf.mode == MODE_IDLE) {
        b->tick_rate = b->conf.ping_interval > 0
                       ? (double) b->nsenders / b->conf.ping_interval : 0;
    } else {
        b->tick_rate = b->conf.rate;
    }

    fprintf(stderr, "chat-bench: %lu of %lu up in %.2f s (%lu failed); "
            "warm-up %.1f s\n", b->lp.count[CS_UP], b->conf.connections,
            (double) (b->t_up - b->t_start) / (double) BENCH_NS,
            (unsigned long) b->st.failed, b->conf.warmup);

    if (b->nsenders == 0) {
        /* nothing to load or to hold: the window is empty */
        b->t_measure = b->t_end = b->lp.now;
        bench_start_close(b);
    }
}


/* Runs the ticks due at or before horizon (a bounded number per turn). */
static void
bench_ticks(bench_t *b, uint64_t horizon)
{
    unsigned   budget;
    uint64_t   due;

    if (b->tick_rate <= 0 || b->nsenders == 0 || horizon < b->t_up) {
        return;
    }

    for (budget = BENCH_TICKS_TURN; budget; budget--) {
        due = b->t_up + (uint64_t) ((double) b->ticks_done / b->tick_rate
                                    * (double) BENCH_NS);
        if (due > horizon) {
            break;
        }

        bench_tick(b, &b->conns[b->senders[b->ticks_done % b->nsenders]],
                   due);
        b->ticks_done++;
    }
}


static void
bench_tick(bench_t *b, bench_conn_t *c, uint64_t due)
{
    int        rc, win;
    uint64_t   ts;

    ts = bench_ws_now();
    win = ts >= b->t_measure && ts < b->t_end;

    if (win) {
        b->st.ticks++;
        if (ts > due && ts - due > b->st.max_lag_ns) {
            b->st.max_lag_ns = ts - due;
        }
    }

    if (c->ws.state != CS_UP) {
        b->st.skipped_down += win;
        return;
    }

    if ((b->conf.mode == MODE_TYPING ? c->fifo_count : c->inflight)
        >= b->conf.max_inflight)
    {
        b->st.skipped_inflight += win;
        return;
    }

    switch (b->conf.mode) {
    case MODE_MSG:
        rc = bench_send_msg(b, c, ts);
        break;
    case MODE_TYPING:
        rc = bench_send_typing(b, c, ts);
        break;
    default:
        rc = bench_send_ping(b, c, ts);
        break;
    }

    if (rc == BENCH_WS_FULL) {
        b->st.skipped_backpressure += win;
        return;
    }

    if (rc != BENCH_WS_OK) {
        b->st.skipped_down += win;
        return;
    }

    b->st.attempted += win;
}


/* Nothing more to wait for: every request answered, every message in. */
static int
bench_drained(bench_t *b)
{
    switch (b->conf.mode) {
    case MODE_MSG:
        return b->inflight == 0 && b->st.all_delivered >= b->st.all_ok;
    case MODE_TYPING:
        return b->fifo_total == 0;
    default:
        return b->inflight == 0;
    }
}


static void
bench_start_close(bench_t *b)
{
    unsigned long   i;
    bench_conn_t   *c;

    b->st.up_at_end = b->lp.count[CS_UP];

    for (i = 0; i < b->conf.connections; i++) {
        c = &b->conns[i];

        if (c->ws.state == CS_UP) {
            bench_ws_close(&b->lp, &c->ws, 1000);

        } else if (c->ws.state != BENCH_WS_DONE
                   && c->ws.state != BENCH_WS_NEW)
        {
            bench_ws_finish(&b->lp, &c->ws, "interrupted");
        }
    }

    b->phase = PH_CLOSE;
    b->t_phase_end = b->lp.now + BENCH_WS_CLOSE_WAIT;
}


/* The upgrade: the device in the query, the user's token in a header. */
static int
bench_request(bench_ws_loop_t *lp, bench_ws_t *ws, char *target,
    size_t tsize, char *headers, size_t hsize)
{
    int            n;
    time_t         now;
    bench_t       *b;
    bench_conn_t  *c;
    char           jwt[BENCH_JWT_MAX];

    b = lp->data;
    c = (bench_conn_t *) ws;
    now = time(NULL);

    if (bench_jwt_hs256(b->conf.secret, c->user, (long long) now,
                        (long long) now + 3600, jwt) < 0)
    {
        return -1;
    }

    n = snprintf(target, tsize, "%s%cdevice=bench-%lu", b->conf.path,
                 strchr(b->conf.path, '?') ? '&' : '?',
                 b->conf.offset + c->idx);
    if (n < 0 || (size_t) n >= tsize) {
        return -1;
    }

    n = snprintf(headers, hsize, "Authorization: Bearer %s\r\n", jwt);

    return n < 0 || (size_t) n >= hsize ? -1 : 0;
}


static void
bench_open(bench_ws_loop_t *lp, bench_ws_t *ws)
{
    bench_ws_set_state(lp, ws, CS_HELLO);
}


/* The first message must be the hello; then c is up. */
static void
bench_text(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p, size_t len)
{
    bench_t       *b;
    bench_conn_t  *c;
    json_val_t     type;
    static const char *const  keys[] = { "type" };

    b = lp->data;
    c = (bench_conn_t *) ws;

    if (ws->state != CS_HELLO) {
        bench_conn_text(b, c, p, len);
        return;
    }

    if (json_scan(p, len, keys, 1, &type) != 0 || !json_is(&type, "hello")) {
        bench_ws_fail(lp, ws, CHAT_WS_CLOSE_PROTOCOL, "no_hello");
        return;
    }

    bench_ws_set_state(lp, ws, CS_UP);
    b->st.up++;

    if (b->conf.mode == MODE_TYPING) {
        c->fifo = calloc(b->conf.max_inflight, sizeof(uint64_t));
        if (c->fifo == NULL) {
            bench_ws_finish(lp, ws, "out_of_memory");
        }
    }
}


static void
bench_closed(bench_ws_loop_t *lp, bench_ws_t *ws, int prev,
    const char *reason)
{
    uint32_t       i;
    bench_t       *b;
    bench_conn_t  *c;

    b = lp->data;
    c = (bench_conn_t *) ws;

    b->inflight -= c->inflight;
    c->inflight = 0;

    if (c->fifo) {
        for (i = 0; i < c->fifo_count; i++) {
            if (c->fifo[(c->fifo_head + i) % b->conf.max_inflight] != 0) {
                b->fifo_total--;
            }
        }
        free(c->fifo);
        c->fifo = NULL;
        c->fifo_count = 0;
    }

    switch (prev) {

    case CS_UP:
        b->st.dropped++;
        bench_count(&b->st.drop_reasons, reason, strlen(reason));
        break;

    case BENCH_WS_CLOSING:
        if (strcmp(reason, "closed") == 0) {
            b->st.closed_clean++;
            return;
        }
        break;

    default:
        b->st.failed++;
        bench_count(&b->st.fail_reasons, reason, strlen(reason));
        return;
    }

    /* how a connection that was up ended, when no close frame said it */
    if (strncmp(reason, "close_", 6) != 0) {
        bench_count(&b->st.close_codes, reason, strlen(reason));
    }
}


static void
bench_progress(bench_t *b)
{
    static const char *const  names[] = {
        "connect", "warmup", "measure", "drain", "close", "done"
    };

    fprintf(stderr, "chat-bench: [%s] up %lu pending %lu | attempted %llu "
            "answered %llu errors %llu delivered %llu | inflight %llu\n",
            names[b->phase], b->lp.count[CS_UP],
            b->lp.count[BENCH_WS_CONNECTING] + b->lp.count[BENCH_WS_UPGRADE]
            + b->lp.count[CS_HELLO],
            (unsigned long long) b->st.attempted,
            (unsigned long long) b->st.answered,
            (unsigned long long) b->st.errors,
            (unsigned long long) b->st.delivered,
            (unsigned long long) b->inflight);
}


/* The flags (see bench/README.md); 0, 1 after --help, -1 on an error. */
static int
bench_conf(bench_conf_t *cf, int argc, char **argv)
{
    int  rc;

    memset(cf, 0, sizeof(bench_conf_t));

    cf->host = "127.0.0.1";
    cf->port = 8080;
    cf->path = "/chat";
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

    rc = bench_options("chat-bench",
                       "usage: chat-bench [flags]   (see bench/README.md)\n",
                       bench_opts, argc, argv, cf);
    if (rc != 0) {
        return rc;
    }

    if (cf->secret == NULL) {
        cf->secret = getenv("CHAT_JWT_SECRET");
    }

    return bench_conf_check(cf);
}


/* The checks across flags, and the addresses. */
static int
bench_conf_check(bench_conf_t *cf)
{
    size_t  len;

    len = strlen(cf->prefix);

    if (len == 0 || len > BENCH_PREFIX_MAX
        || strspn(cf->prefix, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-")
           != len)
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

    return 0;
}


/* The run as the report module prints it. */
static void
bench_report(bench_t *b, bench_report_t *r, char *config, size_t size)
{
    bench_conf_t  *cf;

    cf = &b->conf;

    snprintf(config, size, "{\"connections\":%lu,\"prefix\":\"%s\","
             "\"offset\":%lu,\"connect_rate\":%g,\"rate\":%g,"
             "\"tick_rate\":%g,\"max_inflight\":%u,\"warmup_s\":%g,"
             "\"duration_s\":%g,\"drain_s\":%g,\"body_size\":%u,"
             "\"ping_interval_s\":%g,\"receipts\":%s}",
             cf->connections, cf->prefix, cf->offset, cf->connect_rate,
             cf->rate, b->tick_rate, cf->max_inflight, cf->warmup,
             cf->duration, cf->drain, cf->body_size, cf->ping_interval,
             cf->receipts ? "true" : "false");

    *r = (bench_report_t) {
        .tool = "chat-bench", .run = b->run_id,
        .mode = bench_mode_names[cf->mode], .host = cf->host,
        .port = cf->port, .src = cf->src,
        .answer = cf->mode == MODE_MSG ? "sent"
                  : cf->mode == MODE_IDLE ? "pong" : NULL,
        .requested = cf->connections, .rate = b->tick_rate,
        .warmup = cf->warmup, .e2e = cf->mode != MODE_IDLE,
        .t_start = b->t_start, .t_up = b->t_up, .t_measure = b->t_measure,
        .t_end = b->t_end, .config = config, .st = &b->st
    };
}
