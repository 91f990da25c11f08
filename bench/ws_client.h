/*
 * The client side of RFC 6455 over non-blocking sockets: connect (rate and
 * source address are the caller's), the upgrade request with a bearer
 * token, the 101 and Sec-WebSocket-Accept checks, the hello, then frames:
 * masked client frames out, unmasked server frames in (fragments, pings,
 * close). Partial reads and writes are carried per connection.
 */

#ifndef BENCH_WS_CLIENT_H
#define BENCH_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

#define WS_OP_CONT    0x0
#define WS_OP_TEXT    0x1
#define WS_OP_BINARY  0x2
#define WS_OP_CLOSE   0x8
#define WS_OP_PING    0x9
#define WS_OP_PONG    0xa

#define WS_SEND_OK       0
#define WS_SEND_DEAD    -1   /* the connection is gone */
#define WS_SEND_FULL     1   /* too much unsent already: try later */

/* Starts connecting c (state CS_NEW); failures end in bench_conn_closed. */
void ws_start(bench_t *b, bench_conn_t *c);

/* Handles epoll events of c. */
void ws_event(bench_t *b, bench_conn_t *c, uint32_t events);

/*
 * Sends one frame of len bytes. A control frame is never refused for
 * backpressure; a data frame is when BENCH_OUT_LIMIT bytes wait already.
 */
int ws_send(bench_t *b, bench_conn_t *c, unsigned op, const char *p,
    size_t len, int control);

/* Starts the close handshake with code (state CS_CLOSING). */
void ws_close(bench_t *b, bench_conn_t *c, uint16_t code);

/* Closes the socket at once; reason goes to bench_conn_closed. */
void ws_finish(bench_t *b, bench_conn_t *c, const char *reason);

#endif
