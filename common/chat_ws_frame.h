/*
 * RFC 6455 framing, server side: an incremental, bounded, pure parser of
 * client frames and an encoder of server frames.
 *
 * The parser never allocates and never looks past what it is fed. It unmasks
 * payload in place in the caller's buffer and validates text messages as
 * UTF-8 across fragments. Refusals carry the close code the server must send.
 */

#ifndef CHAT_WS_FRAME_H
#define CHAT_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "chat_utf8.h"

#define CHAT_WS_OP_CONT    0x0
#define CHAT_WS_OP_TEXT    0x1
#define CHAT_WS_OP_BINARY  0x2
#define CHAT_WS_OP_CLOSE   0x8
#define CHAT_WS_OP_PING    0x9
#define CHAT_WS_OP_PONG    0xa

#define CHAT_WS_CLOSE_NORMAL         1000
#define CHAT_WS_CLOSE_GOING_AWAY     1001
#define CHAT_WS_CLOSE_PROTOCOL       1002
#define CHAT_WS_CLOSE_UNSUPPORTED    1003
#define CHAT_WS_CLOSE_NO_STATUS      1005  /* never sent: "close had no code" */
#define CHAT_WS_CLOSE_BAD_DATA       1007
#define CHAT_WS_CLOSE_POLICY         1008
#define CHAT_WS_CLOSE_TOO_BIG        1009
#define CHAT_WS_CLOSE_INTERNAL       1011
#define CHAT_WS_CLOSE_TOKEN_EXPIRED  4401

#define CHAT_WS_MAX_CONTROL   125
#define CHAT_WS_MAX_HEADER    10   /* largest server frame header */

typedef enum {
    CHAT_WS_AGAIN = 0,  /* all input consumed, need more */
    CHAT_WS_DATA,       /* data/len: an unmasked chunk of the current text
                           message, len > 0, pointing into the input */
    CHAT_WS_MESSAGE,    /* the current text message is complete and valid */
    CHAT_WS_PING,       /* data/len: the ping payload (answer with a pong) */
    CHAT_WS_PONG,       /* data/len: the pong payload */
    CHAT_WS_CLOSE,      /* code: the peer's code (1005 when it sent none);
                           data/len: the reason, valid UTF-8 */
    CHAT_WS_ERROR       /* code: the close code to send; reason: static text */
} chat_ws_event_type_e;

typedef struct {
    chat_ws_event_type_e   type;
    unsigned char         *data;
    size_t                 len;
    /* DATA: size of the current message counting the whole current frame;
     * an upper bound to allocate for, never above max_message. */
    uint64_t               message_size;
    uint16_t               code;
    const char            *reason;
} chat_ws_event_t;

typedef struct {
    uint64_t       max_message;
    uint64_t       frame_left;     /* payload bytes of the current frame */
    uint64_t       message_size;   /* bytes of the current message so far */
    chat_utf8_t    utf8;
    uint8_t        state;
    uint8_t        opcode;         /* of the current frame */
    uint8_t        fin;
    uint8_t        in_message;     /* a fragmented text message is open */
    uint8_t        mask[4];
    uint8_t        mask_pos;
    uint8_t        hdr_len;        /* header bytes collected */
    uint8_t        hdr_need;       /* header bytes needed */
    uint8_t        control_len;
    uint8_t        hdr[14];
    uint8_t        control[CHAT_WS_MAX_CONTROL];
    uint16_t       error_code;     /* sticky once set */
    const char    *error_reason;
} chat_ws_parser_t;

void chat_ws_parser_init(chat_ws_parser_t *p, uint64_t max_message);

/*
 * Consumes input up to and including the next event and returns how many
 * bytes it consumed (possibly 0 when it returns an event already due).
 * Call it again with the rest of the input until it reports CHAT_WS_AGAIN
 * (everything consumed) or CHAT_WS_ERROR (sticky: every later call repeats it).
 * Payload bytes are unmasked in place.
 */
size_t chat_ws_parse(chat_ws_parser_t *p, unsigned char *in, size_t len,
    chat_ws_event_t *ev);

/*
 * 1 from the first byte of a frame until it is complete, and from the first
 * frame of a fragmented message until its last is: what a deadline for
 * completing a message measures. 0 between frames, and after an error.
 */
int chat_ws_incomplete(const chat_ws_parser_t *p);

/* Writes the header of an unmasked, final server frame; returns its size
 * (2, 4 or 10 bytes; buf must hold CHAT_WS_MAX_HEADER). */
size_t chat_ws_frame_header(unsigned char *buf, unsigned opcode, uint64_t len);

/* Writes a close payload: the code, then the reason cut to fit 125 bytes on a
 * character boundary; returns its size. buf must hold CHAT_WS_MAX_CONTROL. */
size_t chat_ws_close_payload(unsigned char *buf, uint16_t code,
    const char *reason, size_t reason_len);

/* 1 when a peer may send this code in a close frame (RFC 6455 7.4). */
int chat_ws_close_code_valid(unsigned code);

#endif /* CHAT_WS_FRAME_H */
