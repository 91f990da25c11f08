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
#include "options.h"
#include "ws_client.h"

#define BENCH_EVENTS        1024
#define BENCH_TICKS_TURN    10000     /* ticks per loop turn at most */
#define BENCH_SWEEP_NS      50000000ULL
#define BENCH_MAX_WAIT_MS   100

static volatile sig_atomic_t  bench_stop;

static int bench_setup(bench_t *b);
static void bench_free(bench_t *b);
static int bench_raise_nofile(bench_t *b);
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


static void
bench_signal(int sig)
{
    (void) sig;
    bench_stop = 1;
}


int
main(int argc, char **argv)
{
    int       rc;
    double    ratio;
    bench_t  *b;

    b = calloc(1, sizeof(bench_t));
    if (b == NULL) {
        fprintf(stderr, "chat-bench: out of memory\n");
        return 2;
    }

    rc = bench_options(argc, argv, &b->conf);
    if (rc != 0) {
        free(b);
        return rc > 0 ? 0 : 2;
    }

    if (bench_setup(b) != 0) {
        return 2;
    }

    bench_run(b);

    bench_report_text(b);

    rc = 0;

    if (b->conf.json_path && bench_report_json(b, b->conf.json_path) != 0) {
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
    free(b->conns);
    free(b->senders);
    free(b->rbuf);
    free(b->payload);
    free(b->wbuf);
    free(b);
}


static int
bench_setup(bench_t *b)
{
    unsigned long      i;
    uint64_t           seed;
    bench_conn_t      *c;
    struct sigaction   sa;

    if (bench_raise_nofile(b) != 0) {
        return -1;
    }

    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
        seed = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
    }
    b->rng = seed;

    /* tells this run's messages from those a former run left pending */
    snprintf(b->run_id, sizeof(b->run_id), "%012llx",
             (unsigned long long) (bench_random(b) & 0xffffffffffffULL));

    b->ep = epoll_create1(EPOLL_CLOEXEC);
    b->conns = calloc(b->conf.connections, sizeof(bench_conn_t));
    b->senders = calloc(b->conf.connections, sizeof(uint32_t));
    b->rbuf_size = 2 * BENCH_MAX_FRAME;
    b->rbuf = malloc(b->rbuf_size);
    b->payload_size = BENCH_BODY_MAX + 1024;
    b->payload = malloc(b->payload_size);
    b->wbuf = malloc(b->payload_size + 16);

    if (b->ep < 0 || !b->conns || !b->senders || !b->rbuf || !b->payload
        || !b->wbuf)
    {
        fprintf(stderr, "chat-bench: setup: %s\n", strerror(errno));
        return -1;
    }

    for (i = 0; i < b->conf.connections; i++) {
        c = &b->conns[i];
        c->fd = -1;
        c->idx = (uint32_t) i;
        c->user_len = (uint8_t) snprintf(c->user, sizeof(c->user), "%s%lu",
                                         b->conf.prefix, b->conf.offset + i);
    }

    b->count[CS_NEW] = b->conf.connections;

    hist_init(&b->st.e2e);
    hist_init(&b->st.reply);
    hist_init(&b->st.error);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bench_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    return 0;
}


/* Every connection is a descriptor: the soft limit goes up to the hard. */
static int
bench_raise_nofile(bench_t *b)
{
    struct rlimit  rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "chat-bench: getrlimit: %s\n", strerror(errno));
        return -1;
    }

    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            fprintf(stderr, "chat-bench: setrlimit: %s\n", strerror(errno));
        }
        (void) getrlimit(RLIMIT_NOFILE, &rl);
    }

    b->nofile = rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long) rl.rlim_cur;

    /* stdio, epoll and the JSON file need a few */
    if (b->conf.connections + 16 > (unsigned long) b->nofile) {
        fprintf(stderr, "chat-bench: %lu connections need more descriptors "
                "than RLIMIT_NOFILE allows (%ld, hard limit); raise it "
                "(ulimit -Hn, as root) or split the load over processes\n",
                b->conf.connections, b->nofile);
        return -1;
    }

    bench_check_ports(b);

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
    int                  i, n;
    bench_conn_t        *c;
    struct epoll_event   ev[BENCH_EVENTS];

    b->now = bench_now();
    b->t_start = b->now;
    b->t_connect_end = b->t_start
        + (uint64_t) (((double) b->conf.connections / b->conf.connect_rate
                       + b->conf.connect_timeout) * (double) BENCH_NS);
    b->phase = PH_CONNECT;
    b->next_progress = b->now + BENCH_NS;

    fprintf(stderr, "chat-bench: run %s: connecting %lu to %s:%u\n",
            b->run_id, b->conf.connections, b->conf.host, b->conf.port);

    bench_advance(b);

    while (b->phase != PH_DONE) {
        n = epoll_wait(b->ep, ev, BENCH_EVENTS, bench_timeout(b));

        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "chat-bench: epoll_wait: %s\n", strerror(errno));
            break;
        }

        b->now = bench_now();

        for (i = 0; i < n; i++) {
            c = &b->conns[ev[i].data.u32];

            if (c->state != CS_DONE) {
                ws_event(b, c, ev[i].events);
            }
        }

        b->now = bench_now();
        bench_advance(b);

        if (b->conf.progress && b->now >= b->next_progress) {
            bench_progress(b);
            b->next_progress += BENCH_NS;
        }
    }

    /* only after an epoll failure are there connections left */
    for (i = 0; i < (int) b->started; i++) {
        if (b->conns[i].state != CS_DONE) {
            ws_finish(b, &b->conns[i], "aborted");
        }
    }

    close(b->ep);
}


/* Milliseconds until the next thing due, rounded up. */
static int
bench_timeout(bench_t *b)
{
    uint64_t  next, limit;

    next = b->now + BENCH_MAX_WAIT_MS * 1000000ULL;

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

    if (next <= b->now) {
        return 0;
    }

    return (int) ((next - b->now + 999999) / 1000000);
}


static void
bench_advance(bench_t *b)
{
    if (bench_stop && b->phase < PH_CLOSE) {
        fprintf(stderr, "chat-bench: interrupted\n");

        /* the measured window ends here (it may be empty) */
        if (b->phase != PH_DRAIN) {
            if (b->phase != PH_MEASURE) {
                b->t_measure = b->now;
            }
            b->t_end = b->now;
        }

        bench_start_close(b);
    }

    switch (b->phase) {

    case PH_CONNECT:
        bench_connecting(b);
        break;

    case PH_WARMUP:
        bench_ticks(b, b->now);
        if (b->now >= b->t_measure) {
            b->phase = PH_MEASURE;
            b->t_phase_end = b->t_end;
            fprintf(stderr, "chat-bench: measuring for %.1f s\n",
                    b->conf.duration);
        }
        break;

    case PH_MEASURE:
        bench_ticks(b, b->now < b->t_end ? b->now : b->t_end - 1);
        if (b->now >= b->t_end) {
            b->phase = PH_DRAIN;
            b->t_phase_end = b->now
                + (uint64_t) (b->conf.drain * (double) BENCH_NS);
        }
        break;

    case PH_DRAIN:
        if (bench_drained(b) || b->now >= b->t_phase_end) {
            bench_start_close(b);
        }
        break;

    case PH_CLOSE:
        if (b->count[CS_CLOSING] == 0 || b->now >= b->t_phase_end) {
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

    due = (uint64_t) ((double) (b->now - b->t_start) / (double) BENCH_NS
                      * b->conf.connect_rate) + 1;

    while (b->started < b->conf.connections && b->started < due) {
        ws_start(b, &b->conns[b->started++]);
    }

    if (b->now >= b->next_sweep) {
        bench_sweep(b, &b->next_sweep, "timeout");
    }

    pending = b->count[CS_CONNECTING] + b->count[CS_HANDSHAKE]
              + b->count[CS_HELLO];

    if ((b->started == b->conf.connections && pending == 0)
        || b->now >= b->t_connect_end)
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

        if (c->state == CS_UP || c->state == CS_DONE) {
            continue;
        }

        if (next == NULL || b->now >= c->deadline) {
            ws_finish(b, c, reason);
        }
    }

    if (next) {
        *next = b->now + BENCH_SWEEP_NS;
    }
}


/* All connections are up (or failed): the schedule starts now. */
static void
bench_start_load(bench_t *b)
{
    unsigned long  i;

    b->t_up = b->now;
    b->t_measure = b->t_up + (uint64_t) (b->conf.warmup * (double) BENCH_NS);
    b->t_end = b->t_measure + (uint64_t) (b->conf.duration * (double) BENCH_NS);
    b->t_phase_end = b->t_measure;
    b->phase = PH_WARMUP;

    for (i = 0; i < b->conf.connections; i++) {
        if (b->conns[i].state == CS_UP) {
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
            "warm-up %.1f s\n", b->count[CS_UP], b->conf.connections,
            (double) (b->t_up - b->t_start) / (double) BENCH_NS,
            (unsigned long) b->st.failed, b->conf.warmup);

    if (b->nsenders == 0) {
        /* nothing to load or to hold: the window is empty */
        b->t_measure = b->t_end = b->now;
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

    ts = bench_now();
    win = ts >= b->t_measure && ts < b->t_end;

    if (win) {
        b->st.ticks++;
        if (ts > due && ts - due > b->st.max_lag_ns) {
            b->st.max_lag_ns = ts - due;
        }
    }

    if (c->state != CS_UP) {
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

    if (rc == WS_SEND_FULL) {
        b->st.skipped_backpressure += win;
        return;
    }

    if (rc != WS_SEND_OK) {
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

    b->st.up_at_end = b->count[CS_UP];

    for (i = 0; i < b->conf.connections; i++) {
        c = &b->conns[i];

        if (c->state == CS_UP) {
            ws_close(b, c, 1000);

        } else if (c->state != CS_DONE && c->state != CS_NEW) {
            ws_finish(b, c, "interrupted");
        }
    }

    b->phase = PH_CLOSE;
    b->t_phase_end = b->now + BENCH_CLOSE_WAIT;
}


void
bench_conn_up(bench_t *b, bench_conn_t *c)
{
    b->st.up++;

    if (b->conf.mode == MODE_TYPING) {
        c->fifo = calloc(b->conf.max_inflight, sizeof(uint64_t));
        if (c->fifo == NULL) {
            ws_finish(b, c, "out_of_memory");
        }
    }
}


void
bench_conn_closed(bench_t *b, bench_conn_t *c, int prev, const char *reason)
{
    uint32_t  i;

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

    case CS_CLOSING:
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


void
bench_set_state(bench_t *b, bench_conn_t *c, int state)
{
    b->count[c->state]--;
    b->count[state]++;
    c->state = (uint8_t) state;
}


void
bench_count(bench_table_t *t, const char *key, size_t len)
{
    unsigned  i;

    if (len >= BENCH_KEY_MAX) {
        len = BENCH_KEY_MAX - 1;
    }

    for (i = 0; i < t->n; i++) {
        if (strlen(t->e[i].key) == len && memcmp(t->e[i].key, key, len) == 0)
        {
            t->e[i].n++;
            return;
        }
    }

    if (t->n == BENCH_TABLE_MAX) {
        t->other++;
        return;
    }

    /* keys are printed into JSON: keep only harmless characters */
    for (i = 0; i < len; i++) {
        t->e[t->n].key[i] = (key[i] >= ' ' && key[i] < 0x7f && key[i] != '"'
                             && key[i] != '\\') ? key[i] : '?';
    }
    t->e[t->n].key[len] = '\0';
    t->e[t->n].n = 1;
    t->n++;
}


uint64_t
bench_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * BENCH_NS + (uint64_t) ts.tv_nsec;
}


/* splitmix64: fast, and seeded from getrandom() */
uint64_t
bench_random(bench_t *b)
{
    uint64_t  z;

    z = (b->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static void
bench_progress(bench_t *b)
{
    static const char *const  names[] = {
        "connect", "warmup", "measure", "drain", "close", "done"
    };

    fprintf(stderr, "chat-bench: [%s] up %lu pending %lu | attempted %llu "
            "answered %llu errors %llu delivered %llu | inflight %llu\n",
            names[b->phase], b->count[CS_UP],
            b->count[CS_CONNECTING] + b->count[CS_HANDSHAKE]
            + b->count[CS_HELLO],
            (unsigned long long) b->st.attempted,
            (unsigned long long) b->st.answered,
            (unsigned long long) b->st.errors,
            (unsigned long long) b->st.delivered,
            (unsigned long long) b->inflight);
}
