/*
 * xmpp-bench: the load generator for the ejabberd peer. One process, one
 * thread, one epoll loop, on chat-bench's modules: bench/ws.c moves bytes
 * and WebSocket frames (RFC 6455, subprotocol "xmpp"), bench/options.c
 * reads the flags, bench/report.c prints the results; xmpp_stream.c
 * speaks XMPP over the frames (RFC 7395: one element per text message;
 * open, SASL PLAIN, restart, bind, session, presence; chat messages),
 * xmpp_bench.c drives the phases and the send schedule.
 */

#ifndef XMPP_BENCH_H
#define XMPP_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "options.h"
#include "report.h"
#include "ws.h"

#define XB_NS          BENCH_WS_NS
#define XB_BODY_MAX    BENCH_LOAD_BODY_MAX
#define XB_USER_MAX    64

typedef enum { XM_MSG = 0, XM_IDLE } xb_mode_e;

/* the states of an upgraded connection, in the order it goes through
   them (ws.h has the transport's) */
typedef enum {
    XS_OPEN1 = BENCH_WS_OPEN,   /* <open/> sent, waiting for the SASL
                                   features */
    XS_AUTH,         /* <auth/> sent, waiting for <success/> */
    XS_OPEN2,        /* stream restarted, waiting for the bind feature */
    XS_BIND,         /* bind iq sent */
    XS_SESSION,      /* session iq sent (servers that require it) */
    XS_PRESENCE,     /* <presence/> and a marker iq sent, waiting for it */
    XS_UP
} xb_state_e;

_Static_assert((int) XS_UP < (int) BENCH_WS_STATES,
               "the transport counts every state");

typedef enum {
    PH_CONNECT = 0, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_CLOSE, PH_DONE
} xb_phase_e;

typedef struct {
    BENCH_LOAD_CONF;                  /* mode: xb_mode_e */
    const char          *path;
    const char          *domain;      /* the XMPP domain (to= of <open/>) */
    const char          *password;
    long                 rss_pid;     /* idle mode: sample this VmRSS */
} xb_conf_t;

typedef struct {
    bench_ws_t ws;           /* first: the transport's handlers get it */
    uint32_t   idx;
    uint8_t    session;      /* the server requires the session iq */
    uint64_t   seq;          /* of the last message sent */
    uint64_t   peer_seq;     /* highest sequence received from the peer */
} xb_conn_t;

typedef struct {
    xb_conf_t       conf;
    bench_ws_loop_t lp;            /* now, the state counts, rng */
    xb_conn_t      *conns;
    volatile int    stop;
    char           *sbuf;          /* a stanza being built */
    char            run_id[17];
    xb_phase_e      phase;
    uint64_t        t_start, t_up, t_measure, t_end, t_phase_end;
    uint64_t        t0;            /* tick 0 of the schedule */
    uint64_t        tick;          /* next tick */
    unsigned long   next_start;    /* next connection to start */
    long            rss_kib;       /* idle mode: VmRSS at the peak */
    bench_stats_t   st;
} xb_t;

/* xmpp_bench.c */
void xb_conn_up(xb_t *b, xb_conn_t *c);
void xb_user(const xb_t *b, unsigned long idx, char *out, size_t size);

/* xmpp_stream.c */
void xb_stream_open(xb_t *b, xb_conn_t *c);
void xb_stream_element(xb_t *b, xb_conn_t *c, const char *p, size_t len);
int xb_stream_send_msg(xb_t *b, xb_conn_t *c);
void xb_stream_close(xb_t *b, xb_conn_t *c);

#endif
