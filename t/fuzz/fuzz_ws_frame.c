/*
 * libFuzzer target of the WebSocket frame parser.
 *
 * The input is parsed as client frames several times: whole, a byte per
 * call (over its first 4 KB), in pieces whose sizes are derived from the
 * input, and cut once; each with a small and a large max_message.  Every
 * event is checked against the parser's contract, and all splits must give
 * the same transcript: the same messages, control frames and final error,
 * whatever the DATA chunking.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat_utf8.h"
#include "chat_ws_frame.h"
#include "fuzz.h"


#define FUZZ_MAX_SMALL  1024
#define FUZZ_MAX_LARGE  (1 << 20)
#define FUZZ_SPLITS     4
#define FUZZ_BYTEWISE   4096

#define fuzz_assert(cond)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            abort();                                                          \
        }                                                                     \
    } while (0)


typedef struct {
    const uint8_t  *data;
    size_t          size;
    unsigned char  *work;       /* the input, unmasked in place */
    unsigned char  *msg;        /* the message being reassembled */
    size_t          msg_len;
    uint64_t        max;
    uint64_t        hash;       /* of the transcript */
    uint32_t        rand;
} fuzz_run_t;


static void
fuzz_mix(fuzz_run_t *r, const unsigned char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        r->hash = (r->hash ^ p[i]) * 0x100000001b3ULL;
    }
}


static void
fuzz_mix_event(fuzz_run_t *r, unsigned type, unsigned code)
{
    unsigned char  b[3];

    b[0] = (unsigned char) type;
    b[1] = (unsigned char) (code >> 8);
    b[2] = (unsigned char) code;

    fuzz_mix(r, b, sizeof(b));
}


/* The size of the next piece of input for a split. */

static size_t
fuzz_piece(fuzz_run_t *r, unsigned split, size_t off)
{
    size_t  left, n;

    left = r->size - off;

    switch (split) {

    case 0:
        return left;

    case 1:
        /* a byte per call, over a prefix long enough for several frames */
        return (off < FUZZ_BYTEWISE) ? 1 : left;

    case 2:
        r->rand = r->rand * 1103515245u + 12345u;
        n = 1 + (r->rand >> 16) % (1 + r->data[0] % 64);
        break;

    default:
        /* one cut at a place chosen by the first byte */
        n = (off == 0) ? r->size * r->data[0] / 256 : left;
        n = (n == 0) ? left : n;
        break;
    }

    return (n < left) ? n : left;
}


static void
fuzz_check_event(fuzz_run_t *r, chat_ws_parser_t *p, chat_ws_event_t *ev,
    const unsigned char *in, size_t len)
{
    switch (ev->type) {

    case CHAT_WS_DATA:
        fuzz_assert(ev->len > 0);
        fuzz_assert(ev->data >= in && ev->data + ev->len <= in + len);
        fuzz_assert(ev->message_size <= r->max);
        fuzz_assert(r->msg_len + ev->len <= ev->message_size);
        fuzz_assert(chat_ws_incomplete(p));

        memcpy(r->msg + r->msg_len, ev->data, ev->len);
        r->msg_len += ev->len;
        break;

    case CHAT_WS_MESSAGE:
        fuzz_assert(r->msg_len <= r->max);
        fuzz_assert(chat_utf8_valid(r->msg, r->msg_len));
        fuzz_assert(!chat_ws_incomplete(p));

        fuzz_mix_event(r, ev->type, 0);
        fuzz_mix(r, r->msg, r->msg_len);
        r->msg_len = 0;
        break;

    case CHAT_WS_PING:
    case CHAT_WS_PONG:
        fuzz_assert(ev->len <= CHAT_WS_MAX_CONTROL);
        fuzz_assert(ev->data == p->control);
        /* a control frame ends; a fragmented message around it does not */
        fuzz_assert(chat_ws_incomplete(p) == p->in_message);

        fuzz_mix_event(r, ev->type, 0);
        fuzz_mix(r, ev->data, ev->len);
        break;

    case CHAT_WS_CLOSE:
        fuzz_assert(ev->len <= CHAT_WS_MAX_CONTROL - 2);
        fuzz_assert(ev->data >= p->control
                    && ev->data + ev->len <= p->control + CHAT_WS_MAX_CONTROL);
        fuzz_assert(chat_ws_close_code_valid(ev->code)
                    || (ev->code == CHAT_WS_CLOSE_NO_STATUS && ev->len == 0));
        fuzz_assert(chat_utf8_valid(ev->data, ev->len));

        fuzz_mix_event(r, ev->type, ev->code);
        fuzz_mix(r, ev->data, ev->len);
        break;

    case CHAT_WS_ERROR:
        fuzz_assert(ev->code == CHAT_WS_CLOSE_PROTOCOL
                    || ev->code == CHAT_WS_CLOSE_UNSUPPORTED
                    || ev->code == CHAT_WS_CLOSE_BAD_DATA
                    || ev->code == CHAT_WS_CLOSE_TOO_BIG);
        fuzz_assert(ev->reason != NULL && ev->reason[0] != '\0');
        fuzz_assert(!chat_ws_incomplete(p));

        /* what DATA gave of an unfinished message depends on the split */
        fuzz_mix_event(r, ev->type, ev->code);
        break;

    default:
        fuzz_assert(ev->type == CHAT_WS_AGAIN);
        break;
    }
}


/* After an error, the parser repeats it and consumes nothing. */

static void
fuzz_check_sticky(chat_ws_parser_t *p, const chat_ws_event_t *error,
    unsigned char *in, size_t len)
{
    chat_ws_event_t  ev;

    fuzz_assert(chat_ws_parse(p, in, len, &ev) == 0);
    fuzz_assert(ev.type == CHAT_WS_ERROR && ev.code == error->code);

    fuzz_assert(chat_ws_parse(p, NULL, 0, &ev) == 0);
    fuzz_assert(ev.type == CHAT_WS_ERROR && ev.code == error->code);
}


static uint64_t
fuzz_run(fuzz_run_t *r, unsigned split)
{
    size_t             off, n, c, rest, idle;
    unsigned char     *in;
    chat_ws_event_t    ev;
    chat_ws_parser_t   p;

    memcpy(r->work, r->data, r->size);
    r->msg_len = 0;
    r->hash = 0xcbf29ce484222325ULL;
    r->rand = r->data[0];

    chat_ws_parser_init(&p, r->max);

    for (off = 0; off < r->size; off += n) {
        n = fuzz_piece(r, split, off);
        in = r->work + off;
        rest = n;
        idle = 0;

        for ( ;; ) {
            c = chat_ws_parse(&p, in, rest, &ev);
            fuzz_assert(c <= rest);

            fuzz_check_event(r, &p, &ev, in, rest);

            in += c;
            rest -= c;

            if (ev.type == CHAT_WS_AGAIN) {
                fuzz_assert(rest == 0);
                break;
            }

            if (ev.type == CHAT_WS_ERROR) {
                fuzz_check_sticky(&p, &ev, in, rest);
                return r->hash;
            }

            /* only MESSAGE comes without input, and never twice in a row */
            idle = (c == 0) ? idle + 1 : 0;
            fuzz_assert(c > 0 || ev.type == CHAT_WS_MESSAGE);
            fuzz_assert(idle < 2);
        }
    }

    return r->hash;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned    i, split;
    uint64_t    first;
    fuzz_run_t  r;

    static const uint64_t  maxes[] = { FUZZ_MAX_SMALL, FUZZ_MAX_LARGE };

    if (size == 0) {
        return 0;
    }

    r.data = data;
    r.size = size;
    r.work = malloc(size);
    r.msg = malloc(size);

    if (r.work == NULL || r.msg == NULL) {
        abort();
    }

    for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
        r.max = maxes[i];
        first = fuzz_run(&r, 0);

        for (split = 1; split < FUZZ_SPLITS; split++) {
            fuzz_assert(fuzz_run(&r, split) == first);
        }
    }

    free(r.work);
    free(r.msg);

    return 0;
}
