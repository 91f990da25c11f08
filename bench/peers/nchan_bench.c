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
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "nb.h"

#define NB_EVENTS     1024
#define NB_SWEEP_NS   (100 * 1000000ULL)

static nb_t  *nb_signalled;

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
static uint64_t nb_clock(void);
static int nb_wait_ms(nb_t *nb);


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
    static nb_t  nb;
    int          rc;
    uint64_t     up;

    rc = nb_options(&nb.conf, argc, argv);
    if (rc != 0) {
        return rc;
    }
    if (nb_init(&nb) != 0) {
        return 2;
    }

    nb_signalled = &nb;
    signal(SIGINT, nb_on_signal);
    signal(SIGTERM, nb_on_signal);
    signal(SIGPIPE, SIG_IGN);

    nb_loop(&nb);

    nb_report(&nb);
    if (nb.conf.json_path && nb_report_json(&nb, nb.conf.json_path) != 0) {
        return 2;
    }

    up = nb.st.up;
    return (double) up < nb.conf.min_up_ratio * (double) nb.nconns ? 1 : 0;
}


/* Buffers, descriptors, the connection table and the run id. */
static int
nb_init(nb_t *nb)
{
    struct rlimit   rl;
    unsigned long   i;

    nb->nconns = nb->conf.mode == NB_RELAY ? 2 * nb->conf.pairs
                                           : nb->conf.connections;

    /* as many descriptors as allowed: a connection is one */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }
    nb->nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long) rl.rlim_cur
                                                    : 1024;
    if ((long) nb->nconns > nb->nofile - 16) {
        fprintf(stderr, "nchan-bench: %lu connections, but only %ld "
                "descriptors: run several processes (--src, --offset)\n",
                nb->nconns, nb->nofile);
        return -1;
    }

    nb->rbuf_size = 2 * NB_MAX_FRAME + 64;
    nb->rbuf = malloc(nb->rbuf_size);
    nb->wbuf = malloc(NB_BODY_MAX + 16);
    nb->payload = malloc(NB_BODY_MAX + 64);
    nb->conns = calloc(nb->nconns, sizeof(nb_conn_t));
    nb->senders = calloc(nb->conf.mode == NB_RELAY ? nb->conf.pairs : 1,
                         sizeof(uint32_t));
    nb->ep = epoll_create1(EPOLL_CLOEXEC);

    if (!nb->rbuf || !nb->wbuf || !nb->payload || !nb->conns
        || !nb->senders || nb->ep < 0)
    {
        perror("nchan-bench: init");
        return -1;
    }

    for (i = 0; i < nb->nconns; i++) {
        nb->conns[i].fd = -1;
        nb->conns[i].idx = (uint32_t) i;
        nb->conns[i].role = nb->conf.mode == NB_RELAY && (i & 1) ? NB_PUB
                                                                 : NB_SUB;
    }
    nb->count[NS_NEW] = nb->nconns;

    nb->rng = nb_clock() ^ ((uint64_t) getpid() << 32) ^ 0x9e3779b97f4a7c15;
    snprintf(nb->run_id, sizeof(nb->run_id), "%012llx",
             (unsigned long long) (nb_random(nb) & 0xffffffffffffULL));

    hist_init(&nb->st.e2e);
    nb->now = nb->t_start = nb_clock();
    nb->phase = NP_CONNECT;

    return 0;
}


static void
nb_loop(nb_t *nb)
{
    struct epoll_event  ev[NB_EVENTS];
    int                 n, i;
    uint32_t            idx;

    while (nb->phase != NP_DONE) {
        n = epoll_wait(nb->ep, ev, NB_EVENTS, nb_wait_ms(nb));
        if (n < 0 && errno != EINTR) {
            perror("nchan-bench: epoll_wait");
            nb->stop = 1;
        }
        nb->now = nb_clock();

        for (i = 0; i < n; i++) {
            idx = ev[i].data.u32;
            if (idx < nb->nconns && nb->conns[idx].fd >= 0) {
                nb_ws_event(nb, &nb->conns[idx], ev[i].events);
            }
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
            nb->t_end = nb->now;
        }
        nb->t_phase_end = nb->now;
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

    if (nb->now >= nb->next_sweep) {
        nb->next_sweep = nb->now + NB_SWEEP_NS;
        nb_sweep(nb);
    }

    if (nb->conf.progress && nb->now >= nb->next_progress) {
        nb->next_progress = nb->now + NB_NS;
        nb_progress(nb);
    }
}


static void
nb_start_conns(nb_t *nb)
{
    double         due;
    unsigned long  want;

    due = (double) (nb->now - nb->t_start) / (double) NB_NS
          * nb->conf.connect_rate + 1;
    want = due < (double) nb->nconns ? (unsigned long) due : nb->nconns;

    while (nb->started < want) {
        nb_ws_start(nb, &nb->conns[nb->started++]);
    }
}


/* Every connection is up or failed, or the last one ran out of time. */
static int
nb_connect_done(nb_t *nb)
{
    return nb->started == nb->nconns
           && nb->count[NS_CONNECTING] == 0
           && nb->count[NS_HANDSHAKE] == 0;
}


static void
nb_enter_load(nb_t *nb)
{
    unsigned long  i;

    nb->t_up = nb->now;

    if (nb->conf.mode == NB_RELAY) {
        /* a pair sends only when both its ends came up */
        for (i = 0; i < nb->conf.pairs; i++) {
            if (nb->conns[2 * i].state == NS_UP
                && nb->conns[2 * i + 1].state == NS_UP)
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
        if (due > nb->now) {
            return;
        }

        c = &nb->conns[nb->senders[nb->ticks_done % nb->nsenders]];
        nb->ticks_done++;

        counted = nb->phase == NP_MEASURE;
        if (counted) {
            nb->st.ticks++;
            lag = nb->now - due;
            if (lag > nb->st.max_lag_ns) {
                nb->st.max_lag_ns = lag;
            }
        }

        if (c->state != NS_UP) {
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
                 (unsigned long long) nb_clock(),
                 (unsigned long long) (c->seq + 1), nb->run_id);
    len = (size_t) n;
    if (len < nb->conf.body_size) {
        memset(nb->payload + len, 'x', nb->conf.body_size - len);
        len = nb->conf.body_size;
    }

    rc = nb_ws_send(nb, c, NB_WS_TEXT, nb->payload, len, 0);
    if (rc == NB_SEND_FULL) {
        nb->st.skipped_backpressure += counted;
        return;
    }
    if (rc != NB_SEND_OK) {
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
void
nb_conn_text(nb_t *nb, nb_conn_t *c, const char *p, size_t len)
{
    unsigned long long  t, seq;
    int                 used;
    char                head[64];

    if (c->role == NB_PUB) {
        nb->st.pub_replies++;
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
        || len - (size_t) used < NB_RUN_LEN || t > nb->now)
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
        hist_record(&nb->st.e2e, nb->now - t);
    }
}


static void
nb_enter(nb_t *nb, nb_phase_e phase, double seconds)
{
    nb->phase = phase;
    nb->t_phase_end = nb->now + (uint64_t) (seconds * (double) NB_NS);
}


static void
nb_next_phase(nb_t *nb)
{
    unsigned long  i;

    switch (nb->phase) {

    case NP_WARMUP:
        if (nb->now >= nb->t_phase_end) {
            nb->t_measure = nb->now;
            nb_enter(nb, NP_MEASURE, nb->conf.duration);
        }
        return;

    case NP_MEASURE:
        if (nb->now >= nb->t_phase_end) {
            nb->t_end = nb->now;
            nb_enter(nb, NP_DRAIN, nb->conf.drain);
        }
        return;

    case NP_DRAIN:
        /* every message of the window arrived, or the drain is over */
        if (nb->now < nb->t_phase_end
            && nb->st.delivered + nb->st.out_of_order < nb->st.attempted)
        {
            return;
        }
        nb->st.up_at_end = nb->count[NS_UP];
        nb_enter(nb, NP_CLOSE, (double) NB_CLOSE_WAIT / NB_NS);
        for (i = 0; i < nb->nconns; i++) {
            if (nb->conns[i].state == NS_UP) {
                nb_ws_close(nb, &nb->conns[i], 1000);
            }
        }
        return;

    case NP_CLOSE:
        if (nb->count[NS_UP] + nb->count[NS_CLOSING] > 0
            && nb->now < nb->t_phase_end)
        {
            return;
        }
        for (i = 0; i < nb->nconns; i++) {
            if (nb->conns[i].fd >= 0) {
                nb_ws_finish(nb, &nb->conns[i], "close_timeout");
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
        if ((c->state == NS_CONNECTING || c->state == NS_HANDSHAKE)
            && nb->now > c->deadline)
        {
            nb_ws_finish(nb, c, "timeout");
        }
    }
}


static void
nb_progress(nb_t *nb)
{
    fprintf(stderr, "nchan-bench: phase %d up %lu failed %llu dropped %llu "
            "sent %llu delivered %llu\n", nb->phase, nb->count[NS_UP],
            (unsigned long long) nb->st.failed,
            (unsigned long long) nb->st.dropped,
            (unsigned long long) nb->st.attempted,
            (unsigned long long) nb->st.delivered);
}


void
nb_set_state(nb_t *nb, nb_conn_t *c, nb_state_e state)
{
    nb->count[c->state]--;
    nb->count[state]++;
    c->state = (uint8_t) state;
}


void
nb_conn_up(nb_t *nb, nb_conn_t *c)
{
    (void) c;
    nb->st.up++;
}


/* Counts how c ended: never up (failed), up and lost (dropped), or ours. */
void
nb_conn_closed(nb_t *nb, nb_conn_t *c, int prev, const char *reason)
{
    (void) c;

    if (prev == NS_CONNECTING || prev == NS_HANDSHAKE || prev == NS_NEW) {
        nb->st.failed++;
        nb_count(&nb->st.fail_reasons, reason);

    } else if (prev == NS_CLOSING && strcmp(reason, "closed") == 0) {
        nb->st.closed_clean++;

    } else if (prev == NS_UP && nb->phase < NP_CLOSE) {
        nb->st.dropped++;
        nb_count(&nb->st.drop_reasons, reason);
    }
}


void
nb_count(nb_table_t *t, const char *key)
{
    unsigned  i;

    for (i = 0; i < t->len; i++) {
        if (strcmp(t->key[i], key) == 0) {
            t->n[i]++;
            return;
        }
    }
    if (t->len == NB_TABLE_MAX) {
        t->other++;
        return;
    }
    snprintf(t->key[t->len], NB_KEY_MAX, "%s", key);
    t->n[t->len++] = 1;
}


/* xorshift64*: masks and keys need no cryptographic strength here */
uint64_t
nb_random(nb_t *nb)
{
    nb->rng ^= nb->rng >> 12;
    nb->rng ^= nb->rng << 25;
    nb->rng ^= nb->rng >> 27;
    return nb->rng * 0x2545f4914f6cdd1dULL;
}


static uint64_t
nb_clock(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * NB_NS + (uint64_t) ts.tv_nsec;
}
