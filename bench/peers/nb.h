/*
 * nchan-bench: the load generator for Nchan, the relay-path peer of the
 * benchmark suite (bench/peers/nchan.sh runs it). One process, one thread,
 * one epoll loop, like chat-bench: nb_ws.c moves bytes and WebSocket
 * frames, nchan_bench.c drives the connections through the phases and the
 * send schedule, nb_options.c reads the command line, nb_report.c writes
 * the results in chat-bench's JSON layout (so bench/merge_results.py merges
 * them too).
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

#include "../histogram.h"

#define NB_NS           1000000000ULL
#define NB_MAX_FRAME    (1024 * 1024)      /* largest server message */
#define NB_OUT_LIMIT    (4 * 1024 * 1024)  /* unsent bytes per connection */
#define NB_BODY_MAX     (60 * 1024)
#define NB_CLOSE_WAIT   2000000000ULL      /* ns for the close handshake */
#define NB_TABLE_MAX    16
#define NB_KEY_MAX      32
#define NB_RUN_LEN      12                 /* hex digits of the run id */

typedef enum {
    NB_RELAY = 0,
    NB_IDLE
} nb_mode_e;

typedef enum {
    NB_SUB = 0,
    NB_PUB
} nb_role_e;

typedef enum {
    NS_NEW = 0,      /* not started */
    NS_CONNECTING,   /* TCP connect in progress */
    NS_HANDSHAKE,    /* upgrade request sent, reading the 101 */
    NS_UP,
    NS_CLOSING,      /* our close frame is out, waiting for the server's */
    NS_DONE,         /* fd closed */
    NS_MAX
} nb_state_e;

typedef enum {
    NP_CONNECT = 0,
    NP_WARMUP,
    NP_MEASURE,
    NP_DRAIN,
    NP_CLOSE,
    NP_DONE
} nb_phase_e;

/* counts by a short key: failure reasons, drop reasons, close codes */
typedef struct {
    char      key[NB_TABLE_MAX][NB_KEY_MAX];
    uint64_t  n[NB_TABLE_MAX];
    unsigned  len;
    uint64_t  other;
} nb_table_t;

typedef struct {
    const char          *host;
    unsigned             port;
    const char          *src;
    const char          *pub_path;
    const char          *sub_path;
    const char          *prefix;
    unsigned long        offset;
    nb_mode_e            mode;
    unsigned long        pairs;         /* relay */
    unsigned long        connections;   /* idle */
    double               rate;
    double               connect_rate;
    double               connect_timeout;
    double               warmup;
    double               duration;
    double               drain;
    unsigned             body_size;
    int                  progress;
    const char          *json_path;
    const char          *ready_path;
    double               min_up_ratio;

    struct sockaddr_in   addr;
    struct sockaddr_in   src_addr;
} nb_conf_t;

typedef struct {
    int        fd;
    uint32_t   idx;
    uint8_t    state;
    uint8_t    role;
    uint8_t    events;       /* registered epoll events */
    uint8_t    frag_op;      /* opcode of an open fragmented message */
    uint64_t   deadline;     /* ns: end of the handshake or of the close */
    /* publisher: sequence of the last message sent, of the last reply,
       and the sequences sent in the measured window;
       subscriber: the highest sequence received */
    uint64_t   seq;
    uint64_t   acked;
    uint64_t   win_first;
    uint64_t   win_last;

    char      *out;          /* bytes not yet written */
    size_t     out_len;
    size_t     out_cap;
    char      *in;           /* an incomplete frame carried between reads */
    size_t     in_len;
    char      *frag;         /* a fragmented message being assembled */
    size_t     frag_len;
    char       key[28];      /* Sec-WebSocket-Key */
} nb_conn_t;

typedef struct {
    uint64_t    up;
    uint64_t    failed;
    uint64_t    dropped;
    uint64_t    up_at_end;
    uint64_t    closed_clean;
    nb_table_t  fail_reasons;
    nb_table_t  drop_reasons;
    nb_table_t  close_codes;

    /* messages whose send time is in the measured window */
    uint64_t    ticks;
    uint64_t    attempted;
    uint64_t    answered;         /* the publisher's reply arrived */
    uint64_t    skipped_down;
    uint64_t    skipped_backpressure;
    uint64_t    max_lag_ns;
    uint64_t    delivered;
    uint64_t    out_of_order;
    uint64_t    duplicates;

    /* frames of any time */
    uint64_t    pub_replies;
    uint64_t    stale;            /* another run's messages */
    uint64_t    parse_errors;
    uint64_t    server_pings;

    hist_t      e2e;
} nb_stats_t;

typedef struct {
    nb_conf_t       conf;
    int             ep;
    nb_conn_t      *conns;
    unsigned long   nconns;
    unsigned long   count[NS_MAX];
    volatile int    stop;

    char           *rbuf;
    size_t          rbuf_size;
    char           *wbuf;             /* a frame being built */
    char           *payload;          /* a message body being built */
    uint64_t        rng;
    char            run_id[NB_RUN_LEN + 1];

    nb_phase_e      phase;
    uint64_t        now;
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
    long            nofile;

    nb_stats_t      st;
} nb_t;

/* nchan_bench.c: the hooks nb_ws.c calls */
void nb_set_state(nb_t *nb, nb_conn_t *c, nb_state_e state);
void nb_conn_up(nb_t *nb, nb_conn_t *c);
void nb_conn_text(nb_t *nb, nb_conn_t *c, const char *p, size_t len);
void nb_conn_closed(nb_t *nb, nb_conn_t *c, int prev, const char *reason);
uint64_t nb_random(nb_t *nb);
void nb_count(nb_table_t *t, const char *key);

/* nb_ws.c */
#define NB_WS_TEXT   0x1
#define NB_WS_CLOSE  0x8
#define NB_WS_PING   0x9
#define NB_WS_PONG   0xa
#define NB_SEND_OK     0
#define NB_SEND_DEAD  -1
#define NB_SEND_FULL   1

void nb_ws_start(nb_t *nb, nb_conn_t *c);
void nb_ws_event(nb_t *nb, nb_conn_t *c, uint32_t events);
int nb_ws_send(nb_t *nb, nb_conn_t *c, unsigned op, const char *p,
    size_t len, int control);
void nb_ws_close(nb_t *nb, nb_conn_t *c, uint16_t code);
void nb_ws_finish(nb_t *nb, nb_conn_t *c, const char *reason);

/* nb_options.c: 0, or 2 after printing a usage error */
int nb_options(nb_conf_t *conf, int argc, char **argv);

/* nb_report.c */
void nb_report(nb_t *nb);
int nb_report_json(nb_t *nb, const char *path);

#endif
