/*
 * Encoding one masked client frame (RFC 6455 section 5.2): shared by
 * chat-bench's ws_client.c and the peers' clients under bench/peers/.
 */

#ifndef BENCH_WS_FRAME_H
#define BENCH_WS_FRAME_H

#include <stddef.h>

#define WS_FRAME_HEAD_MAX  14   /* 2 + 8 (length) + 4 (mask) */

/*
 * Writes a final frame of opcode op with payload p (len bytes) masked with
 * mask into dst (WS_FRAME_HEAD_MAX + len bytes); returns its length.
 */
size_t ws_frame_encode(char *dst, unsigned op, const char *p, size_t len,
    const unsigned char mask[4]);

#endif
