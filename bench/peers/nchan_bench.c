/*
 * nchan-bench: main, the phases, the send schedule and what the
 * subscribers make of the messages (see nb.h).
 *
 * The phases are chat-bench's: connect (at --connect-rate) -> warm-up ->
 * measured window -> drain -> close -> report. The relay schedule is open
 * loop, as in chat-bench: tick k is due at t_up + k / rate and goes to the
 * publisher of pair k mod n, whatever came back. A message is the body
 * chat-bench sends, "<t> <seq> <run>" padded with x to --body-size, where t
 * is CLOCK_MONOTONIC in ns at the send: the subscriber of the pair lives in
 * this process, so arrival - t is the end-to-end latency.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb.h"

#define NB_SWEEP_NS   (100 * 1000000ULL)

static nb_t  *nb_signalled;

static int nb_conf(nb_conf_t *cf, int argc, char **argv);
static int nb_init(nb_t *nb);
static void nb_loop(nb_t *nb);
static void nb_advance(nb_t *nb);
static void nb_start_conns(nb_t *nb);
static int nb_connect_done(nb_t *nb);
static void nb_enter_load(nb_t *nb);
static void nb_write_ready(nb_t *nb);
static void nb_ticks(nb_t *nb);
static void nb_publish(nb_t *nb, nb_conn_t *c, int counted);
static void nb_enter(nb_t *nb, nb_phase_e phase, double seconds);
static void nb_next_phase(nb_t *nb);
static void nb_sweep(nb_t *nb);
static void nb_progress(nb_t *nb);
static int nb_wait_ms(nb_t *nb);
static void nb_report(nb_t *nb, bench_report_t *r, char *config,
    size_t size);
static int nb_request(bench_ws_loop_t *lp, bench_ws_t *ws, char *target,
    size_t tsize, char *headers, size_t hsize);
static void nb_open(bench_ws_loop_t *lp, bench_ws_t *ws);
static void nb_text(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
    size_t len);
static void nb_closed(bench_ws_loop_t *lp, bench_ws_t *ws, int prev,
    const char *reason);

static const bench_ws_handler_t  nb_handler = {
    nb_request, nb_open, nb_text, nb_closed
};

#define NB_OPT(name, kind, field, lo, hi, arg, help)                         \
    { name, kind, offsetof(nb_conf_t, field), lo, hi, NULL, arg, help }

BENCH_LOAD_CONF_OF(nb_conf_t);

static const bench_opt_t  nb_opts[] = {
    NB_OPT("pub-path", BENCH_OPT_STRING, pub_path, 0, 0, "P",
           "publisher location, channel appended"),
    NB_OPT("sub-path", BENCH_OPT_STRING, sub_path, 0, 0, "P",
           "subscriber location, channel appended"),
    { "mode", BENCH_OPT_CHOICE, offsetof(nb_conf_t, mode), 0, 0,
      "relay|idle", "M", "relay or idle" },
    NB_OPT("pairs", BENCH_OPT_ULONG, pairs, 1, 1e7, "N",
           "relay: publisher/subscriber pairs (idle: --connections)"),
    NB_OPT("ready-file", BENCH_OPT_STRING, ready_path, 0, 0, "FILE",
           "write FILE once every connection is up or failed"),
    BENCH_OPT_END
};


static void
nb_on_signal(int sig)
{
    (void) sig;
    if (nb_signalled) {
        nb_signalled->stop = 1;
    }
}


int
main(int argc, char **argv)
{
    static nb_t      nb;
    int              rc;
    uint64_t         up;
    bench_report_t   report;
    char             config[512];

    rc = nb_conf(&nb.conf, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    if (nb_init(&nb) != 0) {
        return 2;
    }

    nb_signalled = &nb;
    signal(SIGINT, nb_on_signal);
    signal(SIGTERM, nb_on_signal);
    signal(SIGPIPE, SIG_IGN);

    nb_loop(&nb);

    nb_report(&nb, &report, config, sizeof(config));
    bench_report_text(&report);
    if (nb.conf.json_path
        && bench_report_json(&report, nb.conf.json_path) != 0)
    {
        return 2;
    }

    up = nb.st.up;
    return (double) up < nb.conf.min_up_ratio * (double) nb.nconns ? 1 : 0;
}


/* Buffers, descriptors, the connection table and the run id. */
static int
nb_init(nb_t *nb)
{
    unsigned long     i;
    bench_ws_loop_t  *lp;

    nb->nconns = nb->conf.mode == NB_RELAY ? 2 * nb->conf.pairs
                                           : nb->conf.connections;

    if (bench_ws_nofile("nchan-bench", nb->nconns) != 0) {
        return -1;
    }

    lp = &nb->lp;
    lp->handler = &nb_handler;
    lp->data = nb;
    lp->host = nb->conf.host;
    lp->port = nb->conf.port;
    lp->addr = &nb->conf.addr;
    lp->src = nb->conf.src ? &nb->conf.src_addr : NULL;
    lp->connect_ns = (uint64_t) (nb->conf.connect_timeout * (double) NB_NS);
    lp->st = &nb->st;
    bench_stats_init(&nb->st);

    nb->payload = malloc(NB_BODY_MAX + 64);
    nb->conns = calloc(nb->nconns, sizeof(nb_conn_t));
    nb->senders = calloc(nb->conf.mode == NB_RELAY ? nb->conf.pairs : 1,
                         sizeof(uint32_t));

    if (bench_ws_loop_init(lp, nb->nconns) != 0 || !nb->payload
        || !nb->conns || !nb->senders)
    {
        perror("nchan-bench: init");
        return -1;
    }

    for (i = 0; i < nb->nconns; i++) {
        nb->conns[i].ws.fd = -1;
        nb->conns[i].idx = (uint32_t) i;
        nb->conns[i].role = nb->conf.mode == NB_RELAY && (i & 1) ? NB_PUB
                                                                 : NB_SUB;
    }

    snprintf(nb->run_id, sizeof(nb->run_id), "%012llx",
             (unsigned long long) (bench_ws_random(lp) & 0xffffffffffffULL));

    nb->t_start = lp->now;
    nb->phase = NP_CONNECT;

    return 0;
}


static void
nb_loop(nb_t *nb)
{
    while (nb->phase != NP_DONE) {
        if (bench_ws_poll(&nb->lp, nb_wait_ms(nb)) != 0) {
            perror("nchan-bench: epoll_wait");
            nb->stop = 1;
        }

        nb_advance(nb);
    }
}


/* How long epoll may sleep: 1 ms under load, else until the next sweep. */
static int
nb_wait_ms(nb_t *nb)
{
    if (nb->phase == NP_CONNECT
        || (nb->conf.mode == NB_RELAY
            && (nb->phase == NP_WARMUP || nb->phase == NP_MEASURE)))
    {
        return 1;
    }
    return 20;
}


static void
nb_advance(nb_t *nb)
{
    if (nb->stop && nb->phase < NP_CLOSE) {
        /* a signal: what was measured is reported, no drain */
        if (nb->phase == NP_MEASURE) {
            nb->t_end = nb->lp.now;
        }
        nb->t_phase_end = nb->lp.now;
        nb->phase = NP_DRAIN;
    }

    if (nb->phase == NP_CONNECT) {
        nb_start_conns(nb);
        if (nb_connect_done(nb)) {
            nb_enter_load(nb);
        }
    }

    /*
     * Phases change before the ticks run: a send's time (read after now)
     * then falls in the window exactly when it is counted as sent in it.
     */
    if (nb->phase != NP_CONNECT) {
        nb_next_phase(nb);
    }

    if (nb->conf.mode == NB_RELAY
        && (nb->phase == NP_WARMUP || nb->phase == NP_MEASURE))
    {
        nb_ticks(nb);
    }

    if (nb->lp.now >= nb->next_sweep) {
        nb->next_sweep = nb->lp.now + NB_SWEEP_NS;
        nb_sweep(nb);
    }

    if (nb->conf.progress && nb->lp.now >= nb->next_progress) {
        nb->next_progress = nb->lp.now + NB_NS;
        nb_progress(nb);
    }
}


static void
nb_start_conns(nb_t *nb)
{
    double         due;
    unsigned long  want;

    due = (double) (nb->lp.now - nb->t_start) / (double) NB_NS
          * nb->conf.connect_rate + 1;
    want = due < (double) nb->nconns ? (unsigned long) due : nb->nconns;

    while (nb->started < want) {
        bench_ws_start(&nb->lp, &nb->conns[nb->started++].ws);
    }
}


/* Every connection is up or failed, or the last one ran out of time. */
static int
nb_connect_done(nb_t *nb)
{
    return nb->started == nb->nconns
           && nb->lp.count[BENCH_WS_CONNECTING] == 0
           && nb->lp.count[BENCH_WS_UPGRADE] == 0;
}


static void
nb_enter_load(nb_t *nb)
{
    unsigned long  i;

    nb->t_up = nb->lp.now;

    if (nb->conf.mode == NB_RELAY) {
        /* a pair sends only when both its ends came up */
        for (i = 0; i < nb->conf.pairs; i++) {
            if (nb->conns[2 * i].ws.state == NS_UP
                && nb->conns[2 * i + 1].ws.state == NS_UP)
            {
                nb->senders[nb->nsenders++] = (uint32_t) (2 * i + 1);
            }
        }
    }

    nb_enter(nb, NP_WARMUP, nb->conf.warmup);
    nb_write_ready(nb);

    fprintf(stderr, "nchan-bench: %llu of %lu connections up in %.2f s\n",
            (unsigned long long) nb->st.up, nb->nconns,
            (double) (nb->t_up - nb->t_start) / NB_NS);
    if (nb->conf.mode == NB_RELAY) {
        fprintf(stderr, "nchan-bench: %lu of %lu pairs sending\n",
                nb->nsenders, nb->conf.pairs);
    }
}


/* Tells the script that the connections are in place (idle memory). */
static void
nb_write_ready(nb_t *nb)
{
    FILE  *f;

    if (nb->conf.ready_path == NULL) {
        return;
    }
    f = fopen(nb->conf.ready_path, "w");
    if (f == NULL || fprintf(f, "%llu\n", (unsigned long long) nb->st.up) < 0
        || fclose(f) != 0)
    {
        perror("nchan-bench: --ready-file");
    }
}


/* Runs every tick that is due; the measured ones are counted. */
static void
nb_ticks(nb_t *nb)
{
    uint64_t    due, lag;
    nb_conn_t  *c;
    int         counted;

    if (nb->nsenders == 0) {
        return;
    }

    for ( ;; ) {
        due = nb->t_up + (uint64_t) ((double) nb->ticks_done * NB_NS
                                     / nb->conf.rate);
        if (due > nb->lp.now) {
            return;
        }

        c = &nb->conns[nb->senders[nb->ticks_done % nb->nsenders]];
        nb->ticks_done++;

        counted = nb->phase == NP_MEASURE;
        if (counted) {
            nb->st.ticks++;
            lag = nb->lp.now - due;
            if (lag > nb->st.max_lag_ns) {
                nb->st.max_lag_ns = lag;
            }
        }

        if (c->ws.state != NS_UP) {
            nb->st.skipped_down += counted;
            continue;
        }
        nb_publish(nb, c, counted);
    }
}


static void
nb_publish(nb_t *nb, nb_conn_t *c, int counted)
{
    int     n;
    size_t  len;
    int     rc;

    n = snprintf(nb->payload, NB_BODY_MAX + 64, "%llu %llu %s",
                 (unsigned long long) bench_ws_now(),
                 (unsigned long long) (c->seq + 1), nb->run_id);
    len = (size_t) n;
    if (len < nb->conf.body_size) {
        memset(nb->payload + len, 'x', nb->conf.body_size - len);
        len = nb->conf.body_size;
    }

    rc = bench_ws_send(&nb->lp, &c->ws, BENCH_WS_TEXT, nb->payload, len, 0);
    if (rc == BENCH_WS_FULL) {
        nb->st.skipped_backpressure += counted;
        return;
    }
    if (rc != BENCH_WS_OK) {
        nb->st.skipped_down += counted;
        return;
    }

    c->seq++;
    if (counted) {
        nb->st.attempted++;
        if (c->win_first == 0) {
            c->win_first = c->seq;
        }
        c->win_last = c->seq;
    }
}


/*
 * A text message. On a publisher, Nchan's reply to the n-th publish (in
 * order: one socket); on a subscriber, a message "<t> <seq> <run>x..".
 */
static void
nb_text(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p, size_t len)
{
    unsigned long long  t, seq;
    int                 used;
    nb_t               *nb;
    nb_conn_t          *c;
    char                head[64];

    nb = lp->data;
    c = (nb_conn_t *) ws;

    if (c->role == NB_PUB) {
        nb->st.replies++;
        c->acked++;
        if (c->win_first && c->acked >= c->win_first
            && c->acked <= c->win_last)
        {
            nb->st.answered++;
        }
        return;
    }

    /* the numbers and the run id are in the first 64 bytes */
    len = len < sizeof(head) - 1 ? len : sizeof(head) - 1;
    memcpy(head, p, len);
    head[len] = '\0';
    used = 0;

    if (sscanf(head, "%llu %llu %n", &t, &seq, &used) != 2 || used == 0
        || len - (size_t) used < NB_RUN_LEN || t > nb->lp.now)
    {
        nb->st.parse_errors++;
        return;
    }
    if (memcmp(head + used, nb->run_id, NB_RUN_LEN) != 0) {
        nb->st.stale++;
        return;
    }

    if (seq <= c->seq) {
        if (seq == c->seq) {
            nb->st.duplicates++;
            return;
        }
        nb->st.out_of_order++;
    } else {
        c->seq = seq;
    }

    if (nb->t_measure && t >= nb->t_measure
        && (nb->t_end == 0 || t < nb->t_end))
    {
        nb->st.delivered++;
        hist_record(&nb->st.e2e, nb->lp.now - t);
    }
}


static void
nb_enter(nb_t *nb, nb_phase_e phase, double seconds)
{
    nb->phase = phase;
    nb->t_phase_end = nb->lp.now + (uint64_t) (seconds * (double) NB_NS);
}


static void
nb_next_phase(nb_t *nb)
{
    unsigned long  i;

    switch (nb->phase) {

    case NP_WARMUP:
        if (nb->lp.now >= nb->t_phase_end) {
            nb->t_measure = nb->lp.now;
            nb_enter(nb, NP_MEASURE, nb->conf.duration);
        }
        return;

    case NP_MEASURE:
        if (nb->lp.now >= nb->t_phase_end) {
            nb->t_end = nb->lp.now;
            nb_enter(nb, NP_DRAIN, nb->conf.drain);
        }
        return;

    case NP_DRAIN:
        /* every message of the window arrived, or the drain is over */
        if (nb->lp.now < nb->t_phase_end
            && nb->st.delivered + nb->st.out_of_order < nb->st.attempted)
        {
            return;
        }
        nb->st.up_at_end = nb->lp.count[NS_UP];
        nb_enter(nb, NP_CLOSE, (double) BENCH_WS_CLOSE_WAIT / NB_NS);
        for (i = 0; i < nb->nconns; i++) {
            if (nb->conns[i].ws.state == NS_UP) {
                bench_ws_close(&nb->lp, &nb->conns[i].ws, 1000);
            }
        }
        return;

    case NP_CLOSE:
        if (nb->lp.count[NS_UP] + nb->lp.count[BENCH_WS_CLOSING] > 0
            && nb->lp.now < nb->t_phase_end)
        {
            return;
        }
        for (i = 0; i < nb->nconns; i++) {
            if (nb->conns[i].ws.fd >= 0) {
                bench_ws_finish(&nb->lp, &nb->conns[i].ws, "close_timeout");
            }
        }
        nb->phase = NP_DONE;
        return;

    default:
        return;
    }
}


/* Handshakes and closes that ran out of time. */
static void
nb_sweep(nb_t *nb)
{
    unsigned long  i;
    nb_conn_t     *c;

    for (i = 0; i < nb->started; i++) {
        c = &nb->conns[i];
        if ((c->ws.state == BENCH_WS_CONNECTING
             || c->ws.state == BENCH_WS_UPGRADE)
            && nb->lp.now > c->ws.deadline)
        {
            bench_ws_finish(&nb->lp, &c->ws, "timeout");
        }
    }
}


static void
nb_progress(nb_t *nb)
{
    fprintf(stderr, "nchan-bench: phase %d up %lu failed %llu dropped %llu "
            "sent %llu delivered %llu\n", nb->phase, nb->lp.count[NS_UP],
            (unsigned long long) nb->st.failed,
            (unsigned long long) nb->st.dropped,
            (unsigned long long) nb->st.attempted,
            (unsigned long long) nb->st.delivered);
}


/* The upgrade of c: its end of its pair's (or its own) channel. */
static int
nb_request(bench_ws_loop_t *lp, bench_ws_t *ws, char *target, size_t tsize,
    char *headers, size_t hsize)
{
    int            n;
    nb_t          *nb;
    nb_conn_t     *c;
    unsigned long  chan;

    (void) headers;
    (void) hsize;

    nb = lp->data;
    c = (nb_conn_t *) ws;

    /* relay: the two ends of a pair share a channel */
    chan = nb->conf.offset
           + (nb->conf.mode == NB_RELAY ? c->idx / 2 : c->idx);

    n = snprintf(target, tsize, "%s%s%lu",
                 c->role == NB_PUB ? nb->conf.pub_path : nb->conf.sub_path,
                 nb->conf.prefix, chan);

    return n < 0 || (size_t) n >= tsize ? -1 : 0;
}


static void
nb_open(bench_ws_loop_t *lp, bench_ws_t *ws)
{
    nb_t  *nb;

    (void) ws;

    nb = lp->data;
    nb->st.up++;
}


/* Counts how c ended: never up (failed), up and lost (dropped), or ours. */
static void
nb_closed(bench_ws_loop_t *lp, bench_ws_t *ws, int prev, const char *reason)
{
    nb_t  *nb;

    (void) ws;

    nb = lp->data;

    if (prev == BENCH_WS_CONNECTING || prev == BENCH_WS_UPGRADE
        || prev == BENCH_WS_NEW)
    {
        nb->st.failed++;
        bench_count(&nb->st.fail_reasons, reason, strlen(reason));

    } else if (prev == BENCH_WS_CLOSING && strcmp(reason, "closed") == 0) {
        nb->st.closed_clean++;

    } else if (prev == NS_UP && nb->phase < NP_CLOSE) {
        nb->st.dropped++;
        bench_count(&nb->st.drop_reasons, reason, strlen(reason));
    }
}


/* The flags; 0, 1 after --help, -1 on an error. */
static int
nb_conf(nb_conf_t *cf, int argc, char **argv)
{
    int  rc;

    memset(cf, 0, sizeof(nb_conf_t));
    cf->host = "127.0.0.1";
    cf->port = 8080;
    cf->pub_path = "/pub/";
    cf->sub_path = "/sub/";
    cf->pairs = 100;
    cf->connections = 100;
    cf->rate = 1000;
    cf->connect_rate = 1000;
    cf->connect_timeout = 10;
    cf->warmup = 2;
    cf->duration = 10;
    cf->drain = 2;
    cf->min_up_ratio = 0.99;

    rc = bench_options("nchan-bench", "usage: nchan-bench [flags]   "
                       "(see bench/peers/README.md; --prefix: pair, idle "
                       "in idle mode)\n", nb_opts, argc, argv, cf);
    if (rc != 0) {
        return rc;
    }

    if (cf->mode == NB_RELAY && cf->rate <= 0) {
        fprintf(stderr, "nchan-bench: --rate must be above 0\n");
        return -1;
    }

    if (cf->prefix == NULL) {
        cf->prefix = cf->mode == NB_RELAY ? "pair" : "idle";
    }

    return 0;
}


/* The run as the report module prints it (chat-bench's layout). */
static void
nb_report(nb_t *nb, bench_report_t *r, char *config, size_t size)
{
    int         relay;
    nb_conf_t  *cf;

    cf = &nb->conf;
    relay = cf->mode == NB_RELAY;

    snprintf(config, size, "{\"pairs\":%lu,\"connections\":%lu,"
             "\"prefix\":\"%s\",\"offset\":%lu,\"rate\":%g,"
             "\"connect_rate\":%g,\"warmup_s\":%g,\"duration_s\":%g,"
             "\"drain_s\":%g,\"body_size\":%u}",
             relay ? cf->pairs : 0, nb->nconns, cf->prefix, cf->offset,
             relay ? cf->rate : 0, cf->connect_rate, cf->warmup,
             cf->duration, cf->drain, cf->body_size);

    *r = (bench_report_t) {
        .tool = "nchan-bench", .run = nb->run_id,
        .mode = relay ? "relay" : "idle", .host = cf->host, .port = cf->port,
        .src = cf->src, .answer = relay ? "publish_reply" : NULL,
        .requested = nb->nconns, .rate = relay ? cf->rate : 0,
        .warmup = cf->warmup, .e2e = relay, .t_start = nb->t_start,
        .t_up = nb->t_up, .t_measure = nb->t_measure, .t_end = nb->t_end,
        .config = config, .st = &nb->st
    };
}
