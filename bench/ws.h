/*
 * The WebSocket client of the load generators (chat-bench, nchan-bench,
 * xmpp-bench): RFC 6455 over non-blocking sockets in one epoll loop.
 * Connect (rate and source address are the caller's), the upgrade request
 * (target and extra headers from the application, an optional
 * subprotocol that the 101 must echo), the Sec-WebSocket-Accept check,
 * then masked client frames out and unmasked server frames in
 * (fragments reassembled, pings answered, close echoed). Partial reads and
 * writes are carried per connection; the application hears of a
 * connection only through the handler it registered.
 */

#ifndef BENCH_WS_H
#define BENCH_WS_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "bench_crypto.h"
#include "report.h"

#define BENCH_WS_NS           1000000000ULL
#define BENCH_WS_MAX_MESSAGE  (1024 * 1024)      /* largest server message */
#define BENCH_WS_OUT_LIMIT    (4 * 1024 * 1024)  /* unsent bytes per conn */
#define BENCH_WS_SEND_MAX     (64 * 1024)        /* largest payload sent */
#define BENCH_WS_CLOSE_WAIT   (2 * BENCH_WS_NS)  /* for the close handshake */

/*
 * Connection states. The transport moves a connection through the first
 * five; once upgraded it is in BENCH_WS_OPEN, and the application may
 * define states of its own from there on (its handshake, "up").
 */
enum {
    BENCH_WS_NEW = 0,      /* not started */
    BENCH_WS_CONNECTING,   /* TCP connect in progress */
    BENCH_WS_UPGRADE,      /* upgrade request sent, reading the 101 */
    BENCH_WS_CLOSING,      /* our close frame is queued, waiting for one */
    BENCH_WS_DONE,         /* fd closed */
    BENCH_WS_OPEN,         /* upgraded: the application's from here */
    BENCH_WS_STATES = 16
};

/* bench_ws_send() results */
#define BENCH_WS_OK     0
#define BENCH_WS_DEAD  -1   /* the connection is gone */
#define BENCH_WS_FULL   1   /* too much unsent already: try later */

#define BENCH_WS_TEXT   0x1
#define BENCH_WS_CLOSE  0x8
#define BENCH_WS_PING   0x9
#define BENCH_WS_PONG   0xa

typedef struct bench_ws_loop_s  bench_ws_loop_t;

/* One connection; an application's connection embeds it first. */
typedef struct {
    int        fd;
    uint8_t    state;
    uint8_t    events;       /* registered epoll events (in/out) */
    uint8_t    frag_op;      /* opcode of an open fragmented message */
    uint64_t   deadline;     /* ns: end of the handshake or of the close */
    char      *out;          /* bytes not yet written */
    size_t     out_len;
    size_t     out_cap;
    char      *in;           /* an incomplete frame carried between reads */
    size_t     in_len;
    char      *frag;         /* a fragmented message being assembled */
    size_t     frag_len;
    char       key[BENCH_WS_KEY_LEN + 1];   /* Sec-WebSocket-Key */
} bench_ws_t;

typedef struct {
    /* Writes the request target (after "GET ") and extra header lines
       ("Name: value\r\n" each) of ws's upgrade; 0, or -1 to fail it. */
    int   (*request)(bench_ws_loop_t *lp, bench_ws_t *ws, char *target,
                     size_t tsize, char *headers, size_t hsize);
    /* The 101 was accepted: ws is in BENCH_WS_OPEN. */
    void  (*open)(bench_ws_loop_t *lp, bench_ws_t *ws);
    /* A complete text message. */
    void  (*text)(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
                  size_t len);
    /* ws's socket is closed (state BENCH_WS_DONE): it was in prev;
       reason is "closed" after a completed close handshake of ours. */
    void  (*closed)(bench_ws_loop_t *lp, bench_ws_t *ws, int prev,
                    const char *reason);
} bench_ws_handler_t;

struct bench_ws_loop_s {
    const bench_ws_handler_t  *handler;
    void                      *data;          /* the application's */
    const char                *host;          /* for the Host header */
    unsigned                   port;
    const struct sockaddr_in  *addr;
    const struct sockaddr_in  *src;           /* bind first; NULL: no */
    const char                *protocol;      /* subprotocol; NULL: none */
    uint64_t                   connect_ns;    /* connect to the 101 */
    bench_stats_t             *st;            /* pings, close codes */

    int                        ep;
    uint64_t                   now;           /* CLOCK_MONOTONIC ns */
    uint64_t                   rng;
    unsigned long              count[BENCH_WS_STATES];  /* by state */
    char                      *rbuf;
    char                      *wbuf;
};

/* Creates the epoll set and the buffers, seeds rng; 0, or -1 (errno). */
int bench_ws_loop_init(bench_ws_loop_t *lp, unsigned long conns);
void bench_ws_loop_free(bench_ws_loop_t *lp);

/*
 * Raises the descriptor soft limit to the hard one; 0 when conns (plus a
 * few) fit, else -1 after a message naming tool.
 */
int bench_ws_nofile(const char *tool, unsigned long conns);

/* Waits up to ms for events, handles them, updates now; -1 on failure. */
int bench_ws_poll(bench_ws_loop_t *lp, int ms);

uint64_t bench_ws_now(void);
uint64_t bench_ws_random(bench_ws_loop_t *lp);

/* Counts ws into its new state (every state change goes through here). */
void bench_ws_set_state(bench_ws_loop_t *lp, bench_ws_t *ws, int state);

/* Starts connecting ws (state BENCH_WS_NEW); failures end in closed(). */
void bench_ws_start(bench_ws_loop_t *lp, bench_ws_t *ws);

/*
 * Sends one frame of len bytes (at most BENCH_WS_SEND_MAX). A control
 * frame is never refused for backpressure; a data frame is when
 * BENCH_WS_OUT_LIMIT bytes wait already.
 */
int bench_ws_send(bench_ws_loop_t *lp, bench_ws_t *ws, unsigned op,
    const char *p, size_t len, int control);

/* Starts the close handshake with code (state BENCH_WS_CLOSING). */
void bench_ws_close(bench_ws_loop_t *lp, bench_ws_t *ws, uint16_t code);

/* Sends a close frame with code, then closes the socket with reason. */
void bench_ws_fail(bench_ws_loop_t *lp, bench_ws_t *ws, uint16_t code,
    const char *reason);

/* Closes the socket at once; reason goes to closed(). */
void bench_ws_finish(bench_ws_loop_t *lp, bench_ws_t *ws,
    const char *reason);

#endif
