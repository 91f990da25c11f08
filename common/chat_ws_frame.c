/*
 * RFC 6455 framing, server side.
 *
 * The parser is a small state machine driven by chat_ws_parse(): it collects
 * a frame header (at most 14 bytes) in p->hdr, then either hands text payload
 * back to the caller in place or collects a control payload in p->control.
 * Every refusal is recorded in p->error_code and repeated from then on.
 */

#include <string.h>

#include "chat_ws_frame.h"


#define CHAT_WS_ST_HEADER   0   /* collecting a frame header */
#define CHAT_WS_ST_DATA     1   /* payload of a text or continuation frame */
#define CHAT_WS_ST_CONTROL  2   /* payload of a close, ping or pong frame */

#define CHAT_WS_FIN         0x80
#define CHAT_WS_RSV         0x70
#define CHAT_WS_MASKED      0x80

/* the 2-byte header start and the 4-byte masking key */
#define CHAT_WS_HDR_MIN     2
#define CHAT_WS_MASK_LEN    4

#define CHAT_WS_MAX_REASON  (CHAT_WS_MAX_CONTROL - 2)


static size_t chat_ws_read_header(chat_ws_parser_t *p, unsigned char *in,
    size_t len);
static void chat_ws_check_start(chat_ws_parser_t *p);
static void chat_ws_start_frame(chat_ws_parser_t *p);
static size_t chat_ws_read_data(chat_ws_parser_t *p, unsigned char *in,
    size_t len, chat_ws_event_t *ev);
static size_t chat_ws_read_control(chat_ws_parser_t *p, unsigned char *in,
    size_t len);
static void chat_ws_end_message(chat_ws_parser_t *p, chat_ws_event_t *ev);
static void chat_ws_control_event(chat_ws_parser_t *p, chat_ws_event_t *ev);
static void chat_ws_close_event(chat_ws_parser_t *p, chat_ws_event_t *ev);
static void chat_ws_unmask(chat_ws_parser_t *p, unsigned char *buf, size_t n);
static void chat_ws_fail(chat_ws_parser_t *p, uint16_t code,
    const char *reason);


void
chat_ws_parser_init(chat_ws_parser_t *p, uint64_t max_message)
{
    memset(p, 0, sizeof(chat_ws_parser_t));

    p->max_message = max_message;
    p->state = CHAT_WS_ST_HEADER;
    p->hdr_need = CHAT_WS_HDR_MIN;

    chat_utf8_init(&p->utf8);
}


/*
 * Each pass of the loop either consumes input or produces an event; an event
 * or an error ends the call.  A final frame whose payload ended with a DATA
 * event gets its MESSAGE event on the next call, without consuming anything.
 */

size_t
chat_ws_parse(chat_ws_parser_t *p, unsigned char *in, size_t len,
    chat_ws_event_t *ev)
{
    size_t  n;

    memset(ev, 0, sizeof(chat_ws_event_t));
    ev->type = CHAT_WS_AGAIN;

    n = 0;

    for ( ;; ) {

        if (p->error_code) {
            ev->type = CHAT_WS_ERROR;
            ev->code = p->error_code;
            ev->reason = p->error_reason;
            return n;
        }

        if (ev->type != CHAT_WS_AGAIN) {
            return n;
        }

        if (p->state == CHAT_WS_ST_HEADER || p->frame_left > 0) {
            if (n == len) {
                return n;
            }

            if (p->state == CHAT_WS_ST_HEADER) {
                n += chat_ws_read_header(p, in + n, len - n);

            } else if (p->state == CHAT_WS_ST_DATA) {
                n += chat_ws_read_data(p, in + n, len - n, ev);

            } else {
                n += chat_ws_read_control(p, in + n, len - n);
            }

        } else if (p->state == CHAT_WS_ST_CONTROL) {
            chat_ws_control_event(p, ev);

        } else if (p->fin) {
            chat_ws_end_message(p, ev);

        } else {
            p->state = CHAT_WS_ST_HEADER;
        }
    }
}


/* An event due (a frame's end) is reported by the call that returns it. */

int
chat_ws_incomplete(const chat_ws_parser_t *p)
{
    return p->error_code == 0
           && (p->in_message || p->state != CHAT_WS_ST_HEADER
               || p->hdr_len > 0);
}


/*
 * Copies header bytes into p->hdr.  The size of the header is only known
 * from its second byte, which is also where the frame can first be refused.
 */

static size_t
chat_ws_read_header(chat_ws_parser_t *p, unsigned char *in, size_t len)
{
    size_t  n;

    n = 0;

    while (n < len && p->hdr_len < p->hdr_need) {
        p->hdr[p->hdr_len++] = in[n++];

        if (p->hdr_len == CHAT_WS_HDR_MIN) {
            chat_ws_check_start(p);

            if (p->error_code) {
                return n;
            }
        }
    }

    if (p->hdr_len == p->hdr_need) {
        chat_ws_start_frame(p);
    }

    return n;
}


/* Checks the first two header bytes and sets the full header size. */

static void
chat_ws_check_start(chat_ws_parser_t *p)
{
    unsigned     op, len7;
    uint16_t     code;
    const char  *reason;

    op = p->hdr[0] & 0x0f;
    len7 = p->hdr[1] & 0x7f;

    code = CHAT_WS_CLOSE_PROTOCOL;
    reason = NULL;

    if (p->hdr[0] & CHAT_WS_RSV) {
        reason = "reserved bits set";

    } else if (!(p->hdr[1] & CHAT_WS_MASKED)) {
        reason = "unmasked frame";

    } else if (op >= CHAT_WS_OP_CLOSE && op <= CHAT_WS_OP_PONG) {

        if (!(p->hdr[0] & CHAT_WS_FIN)) {
            reason = "fragmented control frame";

        } else if (len7 > CHAT_WS_MAX_CONTROL) {
            reason = "control frame too long";
        }

    } else if (op > CHAT_WS_OP_BINARY) {
        reason = "reserved opcode";

    } else if (op == CHAT_WS_OP_CONT && !p->in_message) {
        reason = "continuation without a message";

    } else if (op != CHAT_WS_OP_CONT && p->in_message) {
        reason = "new message inside a fragmented one";

    } else if (op == CHAT_WS_OP_BINARY) {
        /* refused before its payload, so no binary message is ever open */
        code = CHAT_WS_CLOSE_UNSUPPORTED;
        reason = "binary messages are not accepted";
    }

    if (reason) {
        chat_ws_fail(p, code, reason);
        return;
    }

    /* lengths 126 and 127 announce a 16-bit and a 64-bit length */
    p->hdr_need = CHAT_WS_HDR_MIN + CHAT_WS_MASK_LEN
                  + (len7 == 126 ? 2 : (len7 == 127 ? 8 : 0));
}


/*
 * The header is complete: decodes the length and the key, and refuses a
 * message that would grow past max_message before any of its payload is
 * read, so that the caller never allocates more than max_message.
 */

static void
chat_ws_start_frame(chat_ws_parser_t *p)
{
    unsigned   i, k, len7;
    uint64_t   size;

    len7 = p->hdr[1] & 0x7f;
    k = CHAT_WS_HDR_MIN;
    size = len7;

    if (len7 >= 126) {
        size = 0;

        for (i = (len7 == 126) ? 2 : 8; i > 0; i--) {
            size = (size << 8) | p->hdr[k++];
        }

        if (size >> 63) {
            chat_ws_fail(p, CHAT_WS_CLOSE_PROTOCOL, "frame length too large");
            return;
        }
    }

    memcpy(p->mask, p->hdr + k, CHAT_WS_MASK_LEN);

    p->mask_pos = 0;
    p->hdr_len = 0;
    p->hdr_need = CHAT_WS_HDR_MIN;
    p->opcode = p->hdr[0] & 0x0f;
    p->fin = (p->hdr[0] & CHAT_WS_FIN) ? 1 : 0;
    p->frame_left = size;

    if (p->opcode >= CHAT_WS_OP_CLOSE) {
        p->control_len = 0;
        p->state = CHAT_WS_ST_CONTROL;
        return;
    }

    if (p->opcode == CHAT_WS_OP_TEXT) {
        p->message_size = 0;
        chat_utf8_init(&p->utf8);
    }

    /* message_size <= max_message always holds, so this cannot overflow */
    if (size > p->max_message - p->message_size) {
        chat_ws_fail(p, CHAT_WS_CLOSE_TOO_BIG, "message too big");
        return;
    }

    p->message_size += size;
    p->in_message = !p->fin;
    p->state = CHAT_WS_ST_DATA;
}


static size_t
chat_ws_read_data(chat_ws_parser_t *p, unsigned char *in, size_t len,
    chat_ws_event_t *ev)
{
    size_t  n;

    n = (len < p->frame_left) ? len : (size_t) p->frame_left;

    chat_ws_unmask(p, in, n);
    p->frame_left -= n;

    if (chat_utf8_feed(&p->utf8, in, n) != 0) {
        chat_ws_fail(p, CHAT_WS_CLOSE_BAD_DATA, "invalid UTF-8");
        return n;
    }

    ev->type = CHAT_WS_DATA;
    ev->data = in;
    ev->len = n;
    ev->message_size = p->message_size;

    return n;
}


/* Control payloads may arrive in pieces: they are kept until complete. */

static size_t
chat_ws_read_control(chat_ws_parser_t *p, unsigned char *in, size_t len)
{
    size_t          n;
    unsigned char  *dst;

    n = (len < p->frame_left) ? len : (size_t) p->frame_left;
    dst = p->control + p->control_len;

    memcpy(dst, in, n);
    chat_ws_unmask(p, dst, n);

    p->control_len = (uint8_t) (p->control_len + n);
    p->frame_left -= n;

    return n;
}


/* The final frame is consumed: the text must not end inside a character. */

static void
chat_ws_end_message(chat_ws_parser_t *p, chat_ws_event_t *ev)
{
    if (!chat_utf8_complete(&p->utf8)) {
        chat_ws_fail(p, CHAT_WS_CLOSE_BAD_DATA, "invalid UTF-8");
        return;
    }

    ev->type = CHAT_WS_MESSAGE;
    ev->message_size = p->message_size;

    p->state = CHAT_WS_ST_HEADER;
}


static void
chat_ws_control_event(chat_ws_parser_t *p, chat_ws_event_t *ev)
{
    p->state = CHAT_WS_ST_HEADER;

    if (p->opcode == CHAT_WS_OP_CLOSE) {
        chat_ws_close_event(p, ev);
        return;
    }

    ev->type = (p->opcode == CHAT_WS_OP_PING) ? CHAT_WS_PING : CHAT_WS_PONG;
    ev->data = p->control;
    ev->len = p->control_len;
}


static void
chat_ws_close_event(chat_ws_parser_t *p, chat_ws_event_t *ev)
{
    unsigned  code;

    if (p->control_len == 0) {
        ev->type = CHAT_WS_CLOSE;
        ev->code = CHAT_WS_CLOSE_NO_STATUS;
        ev->data = p->control;
        return;
    }

    if (p->control_len == 1) {
        chat_ws_fail(p, CHAT_WS_CLOSE_PROTOCOL, "close payload of one byte");
        return;
    }

    code = ((unsigned) p->control[0] << 8) | p->control[1];

    if (!chat_ws_close_code_valid(code)) {
        chat_ws_fail(p, CHAT_WS_CLOSE_PROTOCOL, "invalid close code");
        return;
    }

    if (!chat_utf8_valid(p->control + 2, p->control_len - 2)) {
        chat_ws_fail(p, CHAT_WS_CLOSE_BAD_DATA,
                     "invalid UTF-8 in close reason");
        return;
    }

    ev->type = CHAT_WS_CLOSE;
    ev->code = (uint16_t) code;
    ev->data = p->control + 2;
    ev->len = p->control_len - 2;
}


/* The key position carries over from one piece of a payload to the next. */

static void
chat_ws_unmask(chat_ws_parser_t *p, unsigned char *buf, size_t n)
{
    size_t    i;
    unsigned  pos;

    pos = p->mask_pos;

    for (i = 0; i < n; i++) {
        buf[i] ^= p->mask[(pos + i) & 3];
    }

    p->mask_pos = (uint8_t) ((pos + n) & 3);
}


static void
chat_ws_fail(chat_ws_parser_t *p, uint16_t code, const char *reason)
{
    p->error_code = code;
    p->error_reason = reason;
}


size_t
chat_ws_frame_header(unsigned char *buf, unsigned opcode, uint64_t len)
{
    unsigned  i;

    buf[0] = (unsigned char) (CHAT_WS_FIN | (opcode & 0x0f));

    if (len < 126) {
        buf[1] = (unsigned char) len;
        return 2;
    }

    if (len <= 0xffff) {
        buf[1] = 126;
        buf[2] = (unsigned char) (len >> 8);
        buf[3] = (unsigned char) len;
        return 4;
    }

    buf[1] = 127;

    for (i = 0; i < 8; i++) {
        buf[2 + i] = (unsigned char) (len >> (56 - 8 * i));
    }

    return 10;
}


/*
 * The reason is cut back to the start of the character that does not fit.
 * A reason that is still not valid UTF-8 is dropped: the peer would have to
 * fail the connection on it.
 */

size_t
chat_ws_close_payload(unsigned char *buf, uint16_t code, const char *reason,
    size_t reason_len)
{
    size_t                n;
    const unsigned char  *r;

    r = (const unsigned char *) reason;

    buf[0] = (unsigned char) (code >> 8);
    buf[1] = (unsigned char) code;

    n = reason_len;

    if (n > CHAT_WS_MAX_REASON) {
        n = CHAT_WS_MAX_REASON;

        while (n > 0 && (r[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    if (n == 0 || !chat_utf8_valid(r, n)) {
        return 2;
    }

    memcpy(buf + 2, r, n);

    return 2 + n;
}


/*
 * Codes a peer may send (RFC 6455 7.4): 1004 is reserved, 1005 and 1006 only
 * stand for a missing code or a lost connection, 1015 is for TLS failures and
 * 1016-2999 are unassigned; 3000-4999 belong to libraries and applications.
 */

int
chat_ws_close_code_valid(unsigned code)
{
    if (code >= 3000 && code <= 4999) {
        return 1;
    }

    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}
