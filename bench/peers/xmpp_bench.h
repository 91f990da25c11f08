/*
 * xmpp-bench: the load generator for the ejabberd peer. One process, one
 * thread, one epoll loop, like chat-bench: xmpp_ws.c moves bytes and
 * WebSocket frames (RFC 6455, subprotocol "xmpp"), xmpp_stream.c speaks
 * XMPP over them (RFC 7395: one element per text message; open, SASL
 * PLAIN, restart, bind, session, presence; chat messages), xmpp_bench.c
 * drives the phases and the send schedule, xmpp_report.c prints results.
 */

#ifndef XMPP_BENCH_H
#define XMPP_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "histogram.h"

#define XB_NS          1000000000ULL
#define XB_MAX_FRAME   (1024 * 1024)      /* largest server message */
#define XB_OUT_LIMIT   (4 * 1024 * 1024)  /* unsent bytes per connection */
#define XB_BODY_MAX    (60 * 1024)
#define XB_USER_MAX    64
#define XB_TABLE_MAX   16
#define XB_KEY_MAX     32
#define XB_CLOSE_WAIT  (2 * XB_NS)

typedef enum { XM_MSG = 0, XM_IDLE } xb_mode_e;

/* connection states, in the order a connection goes through them */
typedef enum {
    XS_NEW = 0,
    XS_CONNECTING,   /* TCP connect in progress */
    XS_UPGRADE,      /* upgrade request sent, reading the 101 */
    XS_OPEN1,        /* <open/> sent, waiting for the SASL features */
    XS_AUTH,         /* <auth/> sent, waiting for <success/> */
    XS_OPEN2,        /* stream restarted, waiting for the bind feature */
    XS_BIND,         /* bind iq sent */
    XS_SESSION,      /* session iq sent (servers that require it) */
    XS_PRESENCE,     /* <presence/> and a marker iq sent, waiting for it */
    XS_UP,
    XS_CLOSING,      /* <close/> and a close frame sent */
    XS_DONE,         /* fd closed */
    XS_MAX
} xb_state_e;

typedef enum {
    PH_CONNECT = 0, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_CLOSE, PH_DONE
} xb_phase_e;

typedef struct {
    char      key[XB_KEY_MAX];
    uint64_t  n;
} xb_count_t;

/* counts by a short key: failure reasons, drop reasons */
typedef struct {
    xb_count_t  e[XB_TABLE_MAX];
    unsigned    n;
    uint64_t    other;
} xb_table_t;

typedef struct {
    const char          *host;
    unsigned             port;
    const char          *path;
    const char          *domain;      /* the XMPP domain (to= of <open/>) */
    const char          *src;
    const char          *prefix;
    const char          *password;
    unsigned long        offset;
    unsigned long        connections;
    double               connect_rate;
    double               connect_timeout;
    xb_mode_e            mode;
    double               rate;
    double               warmup;
    double               duration;
    double               drain;
    unsigned             body_size;
    long                 rss_pid;     /* idle mode: sample this VmRSS */
    int                  progress;
    const char          *json_path;
    double               min_up_ratio;
    struct sockaddr_in   addr;
    struct sockaddr_in   src_addr;
} xb_conf_t;

typedef struct {
    int        fd;
    uint32_t   idx;
    uint8_t    state;
    uint8_t    epout;        /* EPOLLOUT registered */
    uint8_t    frag_op;      /* opcode of an open fragmented message */
    uint8_t    session;      /* the server requires the session iq */
    uint64_t   seq;          /* of the last message sent */
    uint64_t   peer_seq;     /* highest sequence received from the peer */
    uint64_t   deadline;     /* ns: end of the handshake or of the close */
    char      *out;          /* bytes not yet written */
    size_t     out_len;
    char      *in;           /* bytes of an incomplete frame */
    size_t     in_len;
    char      *frag;         /* a fragmented message being assembled */
    size_t     frag_len;
    char       key[28];      /* Sec-WebSocket-Key */
} xb_conn_t;

typedef struct {
    uint64_t    up, failed, dropped, up_at_end, closed_clean;
    xb_table_t  fail_reasons;
    xb_table_t  drop_reasons;

    /* messages sent in the measured window */
    uint64_t    ticks, attempted, skipped_down, skipped_backpressure;
    uint64_t    max_lag_ns;
    uint64_t    delivered, out_of_order, duplicates;

    /* stanzas of any time */
    uint64_t    stale, foreign, errors, other, server_pings, parse_errors;
    uint64_t    all_sent, all_delivered;   /* the whole run's messages */

    hist_t      e2e;
} xb_stats_t;

typedef struct {
    xb_conf_t       conf;
    int             ep;
    xb_conn_t      *conns;
    unsigned long   count[XS_MAX];
    volatile int    stop;
    char           *rbuf;
    size_t          rbuf_size;
    char           *wbuf;          /* a frame being built */
    char           *sbuf;          /* a stanza being built */
    uint64_t        rng;
    char            run_id[17];
    xb_phase_e      phase;
    uint64_t        now;
    uint64_t        t_start, t_up, t_measure, t_end, t_phase_end;
    uint64_t        t0;            /* tick 0 of the schedule */
    uint64_t        tick;          /* next tick */
    unsigned long   next_start;    /* next connection to start */
    long            rss_kib;       /* idle mode: VmRSS at the peak */
    xb_stats_t      st;
} xb_t;

/* xmpp_bench.c */
uint64_t xb_now(void);
void xb_set_state(xb_t *b, xb_conn_t *c, xb_state_e s);
void xb_conn_up(xb_t *b, xb_conn_t *c);
void xb_conn_closed(xb_t *b, xb_conn_t *c, const char *reason);
void xb_count(xb_table_t *t, const char *key);
void xb_user(const xb_t *b, unsigned long idx, char *out, size_t size);

/* xmpp_ws.c */
#define XB_SEND_OK     0
#define XB_SEND_DEAD  -1
#define XB_SEND_FULL   1
void xb_ws_start(xb_t *b, xb_conn_t *c);
void xb_ws_event(xb_t *b, xb_conn_t *c, uint32_t events);
int xb_ws_send_text(xb_t *b, xb_conn_t *c, const char *p, size_t len);
void xb_ws_close(xb_t *b, xb_conn_t *c);
void xb_ws_finish(xb_t *b, xb_conn_t *c, const char *reason);

/* xmpp_stream.c */
void xb_stream_open(xb_t *b, xb_conn_t *c);
void xb_stream_element(xb_t *b, xb_conn_t *c, const char *p, size_t len);
int xb_stream_send_msg(xb_t *b, xb_conn_t *c);
void xb_stream_close(xb_t *b, xb_conn_t *c);

/* xmpp_report.c */
void xb_report_text(xb_t *b);
int xb_report_json(xb_t *b, const char *path);

#endif
