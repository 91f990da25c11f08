/*
 * chat-bench: the shared state of the load generator. One process, one
 * thread, one epoll loop: ws_client.c moves bytes and WebSocket frames,
 * chat_proto.c builds requests and reads answers, chat_bench.c drives the
 * connections through the phases, report.c prints the results.
 */

#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "histogram.h"

#define BENCH_USER_MAX     64
#define BENCH_PREFIX_MAX   40
#define BENCH_MAX_FRAME    (1024 * 1024)       /* largest server message */
#define BENCH_OUT_LIMIT    (4 * 1024 * 1024)   /* unsent bytes per conn */
#define BENCH_BODY_MAX     (60 * 1024)
#define BENCH_TABLE_MAX    24                  /* distinct keys per table */
#define BENCH_KEY_MAX      32
#define BENCH_CLOSE_WAIT   2000000000ULL       /* ns for the close handshake */
#define BENCH_NS           1000000000ULL
#define BENCH_SEEN_BITS    1024                /* duplicate detection window */

typedef enum {
    MODE_MSG = 0,
    MODE_IDLE,
    MODE_TYPING
} bench_mode_e;

/* connection states; the counters in bench_t follow them */
typedef enum {
    CS_NEW = 0,      /* not started */
    CS_CONNECTING,   /* TCP connect in progress */
    CS_HANDSHAKE,    /* upgrade request sent, reading the 101 */
    CS_HELLO,        /* upgraded, waiting for the hello */
    CS_UP,
    CS_CLOSING,      /* our close frame is queued, waiting for the server's */
    CS_DONE,         /* fd closed */
    CS_MAX
} bench_state_e;

typedef enum {
    PH_CONNECT = 0,
    PH_WARMUP,
    PH_MEASURE,
    PH_DRAIN,
    PH_CLOSE,
    PH_DONE
} bench_phase_e;

typedef struct {
    char      key[BENCH_KEY_MAX];
    uint64_t  n;
} bench_count_t;

/* counts by a short string key: error codes, failure reasons, close codes */
typedef struct {
    bench_count_t  e[BENCH_TABLE_MAX];
    unsigned       n;
    uint64_t       other;   /* keys that did not fit */
} bench_table_t;

typedef struct {
    const char          *host;
    unsigned             port;
    const char          *path;
    const char          *src;
    const char          *secret;
    const char          *prefix;
    unsigned long        offset;
    unsigned long        connections;
    double               connect_rate;
    double               connect_timeout;
    bench_mode_e         mode;
    double               rate;
    unsigned             max_inflight;
    double               duration;
    double               warmup;
    double               drain;
    unsigned             body_size;
    double               ping_interval;
    int                  receipts;
    int                  typing_alternate;
    int                  progress;
    const char          *json_path;
    double               min_up_ratio;

    struct sockaddr_in   addr;
    struct sockaddr_in   src_addr;
} bench_conf_t;

typedef struct {
    int        fd;
    uint32_t   idx;          /* 0-based, within this process */
    uint8_t    state;
    uint8_t    events;       /* registered epoll events (in/out) */
    uint8_t    frag_op;      /* opcode of an open fragmented message */
    uint8_t    user_len;
    uint32_t   inflight;     /* requests sent and not yet answered */
    uint64_t   seq;          /* of the last request sent */
    uint64_t   peer_seq;     /* highest body sequence of a peer message */
    /* which of the BENCH_SEEN_BITS sequences up to peer_seq arrived:
       bit (seq % BENCH_SEEN_BITS) */
    uint64_t   seen[BENCH_SEEN_BITS / 64];
    uint64_t   deadline;     /* ns: end of the handshake or of the close */

    char      *out;          /* bytes not yet written */
    size_t     out_len;
    size_t     out_cap;
    char      *in;           /* an incomplete frame carried between reads */
    size_t     in_len;
    char      *frag;         /* a fragmented message being assembled */
    size_t     frag_len;

    /* typing mode: send times of this connection's unmatched typings,
       oldest first; bit 0 holds the state (1: start) */
    uint64_t  *fifo;
    uint32_t   fifo_head;
    uint32_t   fifo_count;

    char       key[28];      /* Sec-WebSocket-Key */
    char       user[BENCH_USER_MAX + 1];
} bench_conn_t;

typedef struct {
    /* connections */
    uint64_t        up;            /* came up (hello received) */
    uint64_t        failed;        /* never came up */
    uint64_t        dropped;       /* up, then closed before the end */
    uint64_t        up_at_end;     /* still up when the close phase began */
    uint64_t        closed_clean;  /* close handshake completed at the end */
    bench_table_t   fail_reasons;
    bench_table_t   drop_reasons;
    bench_table_t   close_codes;   /* close frames the server sent */

    /* requests whose send time is in the measured window */
    uint64_t        ticks;
    uint64_t        attempted;
    uint64_t        answered;      /* "sent" (msg), "pong" (idle pings) */
    uint64_t        errors;
    bench_table_t   error_codes;
    uint64_t        skipped_inflight;
    uint64_t        skipped_down;
    uint64_t        skipped_backpressure;
    uint64_t        max_lag_ns;    /* how late the sender ran on a tick */

    /* deliveries of messages (or typings) sent in the measured window */
    uint64_t        delivered;
    uint64_t        out_of_order;  /* arrived after a later one */
    uint64_t        duplicates;    /* arrived again (not measured again) */
    uint64_t        typing_lost;   /* typings skipped by a later match */

    /* frames of any time */
    uint64_t        echoes;        /* own msg frames echoed back */
    uint64_t        stale;         /* msg frames of another run */
    uint64_t        foreign;       /* msg/typing frames from others */
    uint64_t        unmatched;     /* replies or typings matching nothing */
    uint64_t        parse_errors;
    uint64_t        other_frames;
    uint64_t        server_pings;
    uint64_t        receipts_sent;

    /* totals over the whole run, for ending the drain early */
    uint64_t        all_ok;        /* sends answered "sent" */
    uint64_t        all_delivered; /* peer messages of this run received */

    hist_t          e2e;           /* send -> peer's msg (or typing) */
    hist_t          reply;         /* send -> "sent" (or ping -> pong) */
    hist_t          error;         /* request -> its error frame */
} bench_stats_t;

typedef struct {
    bench_conf_t    conf;
    int             ep;
    bench_conn_t   *conns;
    unsigned long   count[CS_MAX];     /* connections in each state */
    uint64_t        inflight;          /* sum of the conns' inflight */
    uint64_t        fifo_total;        /* sum of the conns' fifo_count */
    volatile int    stop;              /* SIGINT/SIGTERM */

    char           *rbuf;              /* read buffer */
    size_t          rbuf_size;
    char           *wbuf;              /* a frame being built */
    char           *payload;           /* a JSON request being built */
    size_t          payload_size;
    uint64_t        rng;
    char            run_id[17];        /* tells this run's frames apart */

    bench_phase_e   phase;
    uint64_t        now;               /* CLOCK_MONOTONIC ns, per loop turn */
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

    long            nofile;            /* RLIMIT_NOFILE after raising it */
    bench_stats_t   st;
} bench_t;

/* chat_bench.c: the hooks ws_client.c calls */
void bench_conn_up(bench_t *b, bench_conn_t *c);
void bench_conn_text(bench_t *b, bench_conn_t *c, const char *p, size_t len);
void bench_conn_closed(bench_t *b, bench_conn_t *c, int prev_state,
    const char *reason);
void bench_set_state(bench_t *b, bench_conn_t *c, int state);
uint64_t bench_now(void);
uint64_t bench_random(bench_t *b);

/* chat_proto.c: the requests of the load (WS_SEND_* results) */
int bench_send_msg(bench_t *b, bench_conn_t *c, uint64_t ts);
int bench_send_typing(bench_t *b, bench_conn_t *c, uint64_t ts);
int bench_send_ping(bench_t *b, bench_conn_t *c, uint64_t ts);

/* tables */
void bench_count(bench_table_t *t, const char *key, size_t len);

/* report.c */
void bench_report_text(bench_t *b);
int bench_report_json(bench_t *b, const char *path);

#endif
