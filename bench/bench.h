/*
 * chat-bench: the shared state of the load generator. One process, one
 * thread, one epoll loop: ws.c moves bytes and WebSocket frames (the
 * transport of every load generator here), chat_proto.c builds requests
 * and reads answers, chat_bench.c drives the connections through the
 * phases and reads the flags (options.c), report.c prints the results.
 */

#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "options.h"
#include "report.h"
#include "ws.h"

#define BENCH_USER_MAX     64
#define BENCH_PREFIX_MAX   40
#define BENCH_BODY_MAX     BENCH_LOAD_BODY_MAX
#define BENCH_NS           BENCH_WS_NS
#define BENCH_SEEN_BITS    1024                /* duplicate detection window */

typedef enum {
    MODE_MSG = 0,
    MODE_IDLE,
    MODE_TYPING
} bench_mode_e;

/* the states of an upgraded connection (ws.h has the transport's) */
enum {
    CS_HELLO = BENCH_WS_OPEN,   /* upgraded, waiting for the hello */
    CS_UP
};

typedef enum {
    PH_CONNECT = 0,
    PH_WARMUP,
    PH_MEASURE,
    PH_DRAIN,
    PH_CLOSE,
    PH_DONE
} bench_phase_e;

typedef struct {
    BENCH_LOAD_CONF;                     /* mode: bench_mode_e */
    const char          *path;
    const char          *secret;
    unsigned             max_inflight;
    double               ping_interval;
    int                  receipts;
    int                  typing_alternate;
} bench_conf_t;

typedef struct {
    bench_ws_t ws;           /* first: the transport's handlers get it */
    uint32_t   idx;          /* 0-based, within this process */
    uint8_t    user_len;
    uint32_t   inflight;     /* requests sent and not yet answered */
    uint64_t   seq;          /* of the last request sent */
    uint64_t   peer_seq;     /* highest body sequence of a peer message */
    /* which of the BENCH_SEEN_BITS sequences up to peer_seq arrived:
       bit (seq % BENCH_SEEN_BITS) */
    uint64_t   seen[BENCH_SEEN_BITS / 64];

    /* typing mode: send times of this connection's unmatched typings,
       oldest first; bit 0 holds the state (1: start) */
    uint64_t  *fifo;
    uint32_t   fifo_head;
    uint32_t   fifo_count;

    char       user[BENCH_USER_MAX + 1];
} bench_conn_t;

typedef struct {
    bench_conf_t    conf;
    bench_ws_loop_t lp;                /* now, the state counts, rng */
    bench_conn_t   *conns;
    uint64_t        inflight;          /* sum of the conns' inflight */
    uint64_t        fifo_total;        /* sum of the conns' fifo_count */
    volatile int    stop;              /* SIGINT/SIGTERM */

    char           *payload;           /* a JSON request being built */
    size_t          payload_size;
    char            run_id[17];        /* tells this run's frames apart */

    bench_phase_e   phase;
    uint64_t        t_start;           /* connecting began */
    uint64_t        t_connect_end;     /* bound on the connect phase */
    uint64_t        t_up;              /* connect phase ended */
    uint64_t        t_measure;         /* warm-up ended */
    uint64_t        t_end;             /* measured window ended */
    uint64_t        t_phase_end;       /* end of the current phase */

    unsigned long   started;           /* connections started */
    uint32_t       *senders;           /* indexes of the conns up at t_up */
    unsigned long   nsenders;
    double          tick_rate;         /* ticks per second, all senders */
    uint64_t        ticks_done;
    uint64_t        next_progress;
    uint64_t        next_sweep;        /* of handshake deadlines */

    bench_stats_t   st;
} bench_t;

/* chat_bench.c: the messages of a connection that is up */
void bench_conn_text(bench_t *b, bench_conn_t *c, const char *p, size_t len);

/* chat_proto.c: the requests of the load (BENCH_WS_* results) */
int bench_send_msg(bench_t *b, bench_conn_t *c, uint64_t ts);
int bench_send_typing(bench_t *b, bench_conn_t *c, uint64_t ts);
int bench_send_ping(bench_t *b, bench_conn_t *c, uint64_t ts);

#endif
