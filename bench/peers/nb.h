/*
 * nchan-bench: the load generator for Nchan, the relay-path peer of the
 * benchmark suite (bench/peers/nchan.sh runs it). One process, one thread,
 * one epoll loop, on chat-bench's modules: bench/ws.c moves bytes and
 * WebSocket frames, bench/options.c reads the command line, bench/report.c
 * writes the results in chat-bench's layout (so bench/merge_results.py
 * merges them too); nchan_bench.c drives the connections through the
 * phases and the send schedule.
 *
 * relay mode: P pairs; pair i is subscriber connection 2i on
 * <sub-path><prefix><offset+i> and publisher connection 2i+1 on
 * <pub-path><prefix><offset+i>. idle mode: N subscribers, each on its own
 * channel, held open.
 */

#ifndef NB_H
#define NB_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "../options.h"
#include "../report.h"
#include "../ws.h"

#define NB_NS           BENCH_WS_NS
#define NB_BODY_MAX     BENCH_LOAD_BODY_MAX
#define NB_RUN_LEN      12                 /* hex digits of the run id */

typedef enum {
    NB_RELAY = 0,
    NB_IDLE
} nb_mode_e;

typedef enum {
    NB_SUB = 0,
    NB_PUB
} nb_role_e;

/* a connection is up once upgraded (ws.h has the transport's states) */
#define NS_UP  BENCH_WS_OPEN

typedef enum {
    NP_CONNECT = 0,
    NP_WARMUP,
    NP_MEASURE,
    NP_DRAIN,
    NP_CLOSE,
    NP_DONE
} nb_phase_e;

typedef struct {
    BENCH_LOAD_CONF;                    /* mode: nb_mode_e; connections:
                                           idle mode's */
    const char          *pub_path;
    const char          *sub_path;
    unsigned long        pairs;         /* relay */
    const char          *ready_path;
} nb_conf_t;

typedef struct {
    bench_ws_t ws;           /* first: the transport's handlers get it */
    uint32_t   idx;
    uint8_t    role;
    /* publisher: sequence of the last message sent, of the last reply,
       and the sequences sent in the measured window;
       subscriber: the highest sequence received */
    uint64_t   seq;
    uint64_t   acked;
    uint64_t   win_first;
    uint64_t   win_last;
} nb_conn_t;

typedef struct {
    nb_conf_t       conf;
    bench_ws_loop_t lp;               /* now, the state counts, rng */
    nb_conn_t      *conns;
    unsigned long   nconns;
    volatile int    stop;

    char           *payload;          /* a message body being built */
    char            run_id[NB_RUN_LEN + 1];

    nb_phase_e      phase;
    uint64_t        t_start;
    uint64_t        t_up;             /* the connect phase ended */
    uint64_t        t_measure;
    uint64_t        t_end;
    uint64_t        t_phase_end;
    unsigned long   started;
    uint32_t       *senders;          /* publishers of pairs up at t_up */
    unsigned long   nsenders;
    uint64_t        ticks_done;
    uint64_t        next_sweep;
    uint64_t        next_progress;

    bench_stats_t   st;
} nb_t;

#endif
