/*
 * Unit tests of the RFC 6455 frame parser and encoder.  Client frames are
 * built by hand and parsed whole and in pieces of several sizes (down to a
 * byte per call); every split must give the same events.
 */

#include <stdint.h>

#include "test.h"
#include "chat_ws_frame.h"


#define BIG        (1 << 20)
#define WIRE_MAX   (80 * 1024)


typedef struct {
    unsigned char  d[WIRE_MAX];
    size_t         len;
} wire_t;

/* What one parse of a wire gave. */
typedef struct {
    char           seq[64];     /* event letters; a run of DATA is one D */
    size_t         nseq;
    unsigned char  msg[WIRE_MAX];
    size_t         msg_len;     /* of the message being received */
    unsigned char  done[WIRE_MAX];
    size_t         done_len;    /* of the last complete message */
    unsigned char  ctl[CHAT_WS_MAX_CONTROL];
    size_t         ctl_len;     /* of the last ping, pong or close */
    unsigned       code;        /* of the last close or error */
    const char    *reason;      /* of the error */
    uint64_t       max_size;    /* the largest DATA message_size */
    size_t         consumed;
} run_t;


static const unsigned char  key[4] = { 0x37, 0xfa, 0x21, 0x3d };

static wire_t         w;
static run_t          run;
static unsigned char  work[WIRE_MAX];


/* Appends a client frame; the key is NULL for an unmasked one. */

static void
put_frame(wire_t *b, unsigned fin, unsigned rsv, unsigned op,
    const void *payload, size_t len, const unsigned char *mask)
{
    size_t                i;
    unsigned char        *o;
    const unsigned char  *s;

    o = b->d + b->len;
    s = payload;

    *o++ = (unsigned char) ((fin ? 0x80 : 0) | (rsv << 4) | op);

    if (len < 126) {
        *o++ = (unsigned char) ((mask ? 0x80 : 0) | len);

    } else if (len <= 0xffff) {
        *o++ = (mask ? 0x80 : 0) | 126;
        *o++ = (unsigned char) (len >> 8);
        *o++ = (unsigned char) len;

    } else {
        *o++ = (mask ? 0x80 : 0) | 127;

        for (i = 0; i < 8; i++) {
            *o++ = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
        }
    }

    if (mask) {
        memcpy(o, mask, 4);
        o += 4;
    }

    for (i = 0; i < len; i++) {
        *o++ = s[i] ^ (mask ? mask[i % 4] : 0);
    }

    b->len = o - b->d;
}


static void
put(wire_t *b, unsigned fin, unsigned op, const char *text)
{
    put_frame(b, fin, 0, op, text, strlen(text), key);
}


static void
put_close(wire_t *b, unsigned code, const char *reason, size_t len)
{
    unsigned char  pl[CHAT_WS_MAX_CONTROL];

    pl[0] = (unsigned char) (code >> 8);
    pl[1] = (unsigned char) code;
    memcpy(pl + 2, reason, len);

    put_frame(b, 1, 0, CHAT_WS_OP_CLOSE, pl, len + 2, key);
}


static void
record(const chat_ws_event_t *ev, const unsigned char *in, size_t len)
{
    static const char  letters[] = "_DMPOCE";

    if (ev->type == CHAT_WS_AGAIN) {
        return;
    }

    if (ev->type != CHAT_WS_DATA || run.nseq == 0
        || run.seq[run.nseq - 1] != 'D')
    {
        if (run.nseq < sizeof(run.seq) - 1) {
            run.seq[run.nseq++] = letters[ev->type];
        }
    }

    switch (ev->type) {

    case CHAT_WS_DATA:
        CHECK(ev->len > 0);
        CHECK(ev->data >= in && ev->data + ev->len <= in + len);
        CHECK(ev->message_size >= run.msg_len + ev->len);
        memcpy(run.msg + run.msg_len, ev->data, ev->len);
        run.msg_len += ev->len;

        if (ev->message_size > run.max_size) {
            run.max_size = ev->message_size;
        }

        break;

    case CHAT_WS_MESSAGE:
        memcpy(run.done, run.msg, run.msg_len);
        run.done_len = run.msg_len;
        run.msg_len = 0;
        break;

    case CHAT_WS_ERROR:
        run.code = ev->code;
        run.reason = ev->reason;
        break;

    default: /* ping, pong, close */
        CHECK(ev->len <= CHAT_WS_MAX_CONTROL);
        memcpy(run.ctl, ev->data, ev->len);
        run.ctl_len = ev->len;
        run.code = (ev->type == CHAT_WS_CLOSE) ? ev->code : 0;
        break;
    }
}


/* Parses w with a fresh parser, fed chunk bytes a call (0: all at once). */

static void
parse_wire(uint64_t max, size_t chunk)
{
    size_t             off, n, c, rest;
    unsigned char     *in;
    chat_ws_parser_t   p;
    chat_ws_event_t    ev;

    memset(&run, 0, sizeof(run));
    memcpy(work, w.d, w.len);
    chat_ws_parser_init(&p, max);

    for (off = 0; off < w.len; off += n) {
        n = (chunk == 0 || chunk > w.len - off) ? w.len - off : chunk;
        in = work + off;
        rest = n;

        do {
            c = chat_ws_parse(&p, in, rest, &ev);
            CHECK(c <= rest);
            record(&ev, in, rest);
            in += c;
            rest -= c;
            run.consumed += c;

            if (ev.type == CHAT_WS_ERROR) {
                /* sticky, with or without more input */
                CHECK_EQ(chat_ws_parse(&p, in, rest, &ev), 0);
                CHECK_EQ(ev.type, CHAT_WS_ERROR);
                CHECK_EQ(ev.code, run.code);
                CHECK_EQ(chat_ws_parse(&p, NULL, 0, &ev), 0);
                CHECK_EQ(ev.type, CHAT_WS_ERROR);
                return;
            }

        } while (ev.type != CHAT_WS_AGAIN);

        CHECK_EQ(rest, 0);
    }
}


/* Parses w split in several ways; each must give the events seq and code. */

static int
expect(uint64_t max, const char *seq, unsigned code)
{
    size_t  i;

    static const size_t  chunks[] = { 0, 1, 2, 3, 5, 13, 200 };

    for (i = sizeof(chunks) / sizeof(chunks[0]); i-- > 0; ) {
        parse_wire(max, chunks[i]);

        if (strcmp(run.seq, seq) != 0 || run.code != code) {
            fprintf(stderr, "  chunk %zu: events \"%s\" code %u, expected "
                    "\"%s\" code %u\n", chunks[i], run.seq, run.code, seq,
                    code);
            return 0;
        }
    }

    return 1;
}


static void
reset(void)
{
    w.len = 0;
}


TEST(test_text)
{
    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "Hello");
    CHECK(expect(BIG, "DM", 0));
    CHECK_STR(run.done, run.done_len, "Hello");
    CHECK_EQ(run.max_size, 5);
    CHECK_EQ(run.consumed, 11);

    /* two messages in one read */
    put(&w, 1, CHAT_WS_OP_TEXT, "caf\xc3\xa9");
    CHECK(expect(BIG, "DMDM", 0));
    CHECK_STR(run.done, run.done_len, "caf\xc3\xa9");
}


TEST(test_empty_text)
{
    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "");
    CHECK(expect(BIG, "M", 0));
    CHECK_EQ(run.done_len, 0);

    /* empty fragments around the text */
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "");
    put(&w, 0, CHAT_WS_OP_CONT, "ab");
    put(&w, 1, CHAT_WS_OP_CONT, "");
    CHECK(expect(BIG, "DM", 0));
    CHECK_STR(run.done, run.done_len, "ab");
}


TEST(test_fragments_with_ping)
{
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "Hel");
    put(&w, 1, CHAT_WS_OP_PING, "ping!");
    put(&w, 0, CHAT_WS_OP_CONT, "l");
    put(&w, 1, CHAT_WS_OP_PONG, "");
    put(&w, 1, CHAT_WS_OP_CONT, "o");
    CHECK(expect(BIG, "DPDODM", 0));
    CHECK_STR(run.done, run.done_len, "Hello");
    CHECK_EQ(run.ctl_len, 0);
    CHECK_EQ(run.max_size, 5);

    /* byte at a time, with the ping payload checked */
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "Hel");
    put(&w, 1, CHAT_WS_OP_PING, "ping!");
    put(&w, 1, CHAT_WS_OP_CONT, "lo");
    parse_wire(BIG, 1);
    CHECK(strcmp(run.seq, "DPDM") == 0);
    CHECK_STR(run.ctl, run.ctl_len, "ping!");
    CHECK_STR(run.done, run.done_len, "Hello");
}


TEST(test_utf8_across_fragments)
{
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "a\xf0\x9f");
    put(&w, 1, CHAT_WS_OP_CONT, "\x98\x80z");
    CHECK(expect(BIG, "DM", 0));
    CHECK_STR(run.done, run.done_len, "a\xf0\x9f\x98\x80z");

    /* invalid in the second fragment */
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "ok");
    put(&w, 1, CHAT_WS_OP_CONT, "a\xc0\x80");
    CHECK(expect(BIG, "DE", CHAT_WS_CLOSE_BAD_DATA));
    CHECK(strcmp(run.reason, "invalid UTF-8") == 0);

    /* the split character is checked against its lead byte */
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "\xed");
    put(&w, 1, CHAT_WS_OP_CONT, "\xa0\x80");
    CHECK(expect(BIG, "DE", CHAT_WS_CLOSE_BAD_DATA));

    /* invalid at once: no DATA */
    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "\xff");
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_BAD_DATA));
}


TEST(test_incomplete_at_fin)
{
    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "ab\xe2\x82");
    CHECK(expect(BIG, "DE", CHAT_WS_CLOSE_BAD_DATA));

    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "ab");
    put(&w, 1, CHAT_WS_OP_CONT, "\xf0");
    CHECK(expect(BIG, "DE", CHAT_WS_CLOSE_BAD_DATA));
}


TEST(test_too_big)
{
    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "Hello");
    CHECK(expect(5, "DM", 0));

    /* refused at the header: none of the payload is read */
    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "Hello!");
    CHECK(expect(5, "E", CHAT_WS_CLOSE_TOO_BIG));
    CHECK(strcmp(run.reason, "message too big") == 0);
    CHECK_EQ(run.consumed, 6);

    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "Hel");
    put(&w, 1, CHAT_WS_OP_CONT, "lo");
    CHECK(expect(5, "DM", 0));

    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "Hel");
    put(&w, 1, CHAT_WS_OP_CONT, "lo!");
    CHECK(expect(5, "DE", CHAT_WS_CLOSE_TOO_BIG));
    CHECK_EQ(run.consumed, 9 + 6);
    CHECK_STR(run.msg, run.msg_len, "Hel");

    /* the count starts again with each message */
    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "Hello");
    put(&w, 1, CHAT_WS_OP_TEXT, "World");
    CHECK(expect(5, "DMDM", 0));

    /* control frames do not count */
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "Hel");
    put(&w, 1, CHAT_WS_OP_PING, "0123456789");
    put(&w, 1, CHAT_WS_OP_CONT, "lo");
    CHECK(expect(5, "DPDM", 0));

    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "");
    put(&w, 1, CHAT_WS_OP_TEXT, "x");
    CHECK(expect(0, "ME", CHAT_WS_CLOSE_TOO_BIG));
}


TEST(test_length_forms)
{
    size_t         i, n;
    unsigned char  text[70000];

    static const size_t  sizes[] = { 125, 126, 200, 65535, 65536, 70000 };

    for (i = 0; i < sizeof(text); i++) {
        text[i] = (unsigned char) ('a' + i % 26);
    }

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        n = sizes[i];

        reset();
        put_frame(&w, 1, 0, CHAT_WS_OP_TEXT, text, n, key);
        CHECK_EQ(w.d[1], 0x80 | (n < 126 ? n : (n <= 0xffff ? 126 : 127)));
        CHECK(expect(BIG, "DM", 0));
        CHECK_EQ(run.done_len, n);
        CHECK(memcmp(run.done, text, n) == 0);
        CHECK_EQ(run.max_size, n);
    }

    /* a 64-bit length with its top bit set */
    reset();
    memcpy(w.d, "\x81\xff\x80\x00\x00\x00\x00\x00\x00\x01" "abcd", 14);
    w.len = 14;
    CHECK(expect(UINT64_MAX, "E", CHAT_WS_CLOSE_PROTOCOL));
}


TEST(test_close)
{
    reset();
    put_close(&w, 1000, "bye \xc3\xbc", 6);
    CHECK(expect(BIG, "C", 1000));
    CHECK_STR(run.ctl, run.ctl_len, "bye \xc3\xbc");

    reset();
    put(&w, 1, CHAT_WS_OP_CLOSE, "");
    CHECK(expect(BIG, "C", CHAT_WS_CLOSE_NO_STATUS));
    CHECK_EQ(run.ctl_len, 0);

    reset();
    put(&w, 1, CHAT_WS_OP_CLOSE, "\x03");
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));
    CHECK(strcmp(run.reason, "close payload of one byte") == 0);

    /* even when what an earlier ping left would complete a valid code */
    reset();
    put(&w, 1, CHAT_WS_OP_PING, "\x03\xe8");
    put(&w, 1, CHAT_WS_OP_CLOSE, "\x03");
    CHECK(expect(BIG, "PE", CHAT_WS_CLOSE_PROTOCOL));

    reset();
    put_close(&w, 1000, "\xc3", 1);
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_BAD_DATA));

    reset();
    put_close(&w, 1001, "\xed\xa0\x80", 3);
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_BAD_DATA));

    /* between fragments */
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "a");
    put_close(&w, 4401, "", 0);
    CHECK(expect(BIG, "DC", 4401));
}


TEST(test_close_codes)
{
    size_t    i;
    unsigned  c;

    static const unsigned  bad[] = {
        0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
        65535
    };
    static const unsigned  good[] = {
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
        1014, 3000, 4000, 4401, 4999
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reset();
        put_close(&w, bad[i], "x", 1);
        CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));
        CHECK(strcmp(run.reason, "invalid close code") == 0);
    }

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        reset();
        put_close(&w, good[i], "x", 1);
        CHECK(expect(BIG, "C", good[i]));
        CHECK_STR(run.ctl, run.ctl_len, "x");
    }

    for (c = 0; c < 70000; c++) {
        CHECK_EQ(chat_ws_close_code_valid(c),
                 (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014)
                 || (c >= 3000 && c <= 4999));
    }
}


TEST(test_protocol_errors)
{
    unsigned  op, rsv;

    reset();
    put_frame(&w, 1, 0, CHAT_WS_OP_TEXT, "hi", 2, NULL);
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));
    CHECK(strcmp(run.reason, "unmasked frame") == 0);

    reset();
    put_frame(&w, 1, 0, CHAT_WS_OP_PING, "", 0, NULL);
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));

    for (rsv = 1; rsv < 8; rsv++) {
        reset();
        put_frame(&w, 1, rsv, CHAT_WS_OP_TEXT, "hi", 2, key);
        CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));
        CHECK(strcmp(run.reason, "reserved bits set") == 0);
    }

    for (op = 3; op < 16; op++) {
        if (op >= CHAT_WS_OP_CLOSE && op <= CHAT_WS_OP_PONG) {
            continue;
        }

        reset();
        put_frame(&w, 1, 0, op, "", 0, key);
        CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));
        CHECK(strcmp(run.reason, "reserved opcode") == 0);
    }

    /* a reserved opcode in the middle of a message */
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "a");
    put_frame(&w, 1, 0, 0xb, "", 0, key);
    CHECK(expect(BIG, "DE", CHAT_WS_CLOSE_PROTOCOL));
}


TEST(test_control_frames)
{
    unsigned char  pl[126];

    memset(pl, 'p', sizeof(pl));

    reset();
    put_frame(&w, 1, 0, CHAT_WS_OP_PING, pl, 125, key);
    CHECK(expect(BIG, "P", 0));
    CHECK_EQ(run.ctl_len, 125);
    CHECK(memcmp(run.ctl, pl, 125) == 0);

    reset();
    put_frame(&w, 1, 0, CHAT_WS_OP_PONG, pl, 126, key);
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));
    CHECK(strcmp(run.reason, "control frame too long") == 0);

    reset();
    put_frame(&w, 1, 0, CHAT_WS_OP_CLOSE, pl, 126, key);
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));

    reset();
    put(&w, 0, CHAT_WS_OP_PING, "a");
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));
    CHECK(strcmp(run.reason, "fragmented control frame") == 0);

    reset();
    put(&w, 0, CHAT_WS_OP_PONG, "");
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));

    reset();
    put(&w, 0, CHAT_WS_OP_CLOSE, "");
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));
}


TEST(test_fragment_order)
{
    reset();
    put(&w, 1, CHAT_WS_OP_CONT, "a");
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_PROTOCOL));
    CHECK(strcmp(run.reason, "continuation without a message") == 0);

    /* the message is closed after its final frame */
    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "a");
    put(&w, 1, CHAT_WS_OP_CONT, "b");
    CHECK(expect(BIG, "DME", CHAT_WS_CLOSE_PROTOCOL));

    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "a");
    put(&w, 1, CHAT_WS_OP_TEXT, "b");
    CHECK(expect(BIG, "DE", CHAT_WS_CLOSE_PROTOCOL));
    CHECK(strcmp(run.reason, "new message inside a fragmented one") == 0);

    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "a");
    put(&w, 1, CHAT_WS_OP_BINARY, "b");
    CHECK(expect(BIG, "DE", CHAT_WS_CLOSE_PROTOCOL));
}


TEST(test_binary)
{
    reset();
    put(&w, 1, CHAT_WS_OP_BINARY, "\x01\x02\x03");
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_UNSUPPORTED));
    CHECK(strcmp(run.reason, "binary messages are not accepted") == 0);
    CHECK_EQ(run.consumed, 2);

    /* its payload is left masked */
    CHECK(memcmp(work + 6, w.d + 6, 3) == 0);

    reset();
    put(&w, 0, CHAT_WS_OP_BINARY, "");
    CHECK(expect(BIG, "E", CHAT_WS_CLOSE_UNSUPPORTED));

    reset();
    put(&w, 1, CHAT_WS_OP_PING, "");
    put(&w, 1, CHAT_WS_OP_BINARY, "");
    CHECK(expect(BIG, "PE", CHAT_WS_CLOSE_UNSUPPORTED));
}


TEST(test_sticky_error)
{
    size_t            c;
    unsigned char     buf[32];
    chat_ws_parser_t  p;
    chat_ws_event_t   ev;

    reset();
    put_frame(&w, 1, 0, CHAT_WS_OP_TEXT, "hi", 2, NULL);
    put(&w, 1, CHAT_WS_OP_TEXT, "ok");

    chat_ws_parser_init(&p, BIG);
    memcpy(buf, w.d, w.len);

    c = chat_ws_parse(&p, buf, w.len, &ev);
    CHECK_EQ(ev.type, CHAT_WS_ERROR);
    CHECK_EQ(ev.code, CHAT_WS_CLOSE_PROTOCOL);
    CHECK(c <= 2);

    /* a valid frame after it does not help */
    c = chat_ws_parse(&p, buf + 4, w.len - 4, &ev);
    CHECK_EQ(c, 0);
    CHECK_EQ(ev.type, CHAT_WS_ERROR);
    CHECK_EQ(ev.code, CHAT_WS_CLOSE_PROTOCOL);
    CHECK(strcmp(ev.reason, "unmasked frame") == 0);

    /* and the parser starts over after init */
    chat_ws_parser_init(&p, BIG);
    c = chat_ws_parse(&p, buf + 4, w.len - 4, &ev);
    CHECK_EQ(ev.type, CHAT_WS_DATA);
    CHECK_EQ(c, w.len - 4);
    CHECK_STR(ev.data, ev.len, "ok");

    c = chat_ws_parse(&p, buf + w.len, 0, &ev);
    CHECK_EQ(c, 0);
    CHECK_EQ(ev.type, CHAT_WS_MESSAGE);

    c = chat_ws_parse(&p, NULL, 0, &ev);
    CHECK_EQ(c, 0);
    CHECK_EQ(ev.type, CHAT_WS_AGAIN);
}


/* Appends to s, from n, len - 1 bytes incomplete and then a complete one. */

static size_t
incomplete_for(char *s, size_t n, size_t len)
{
    memset(s + n, '1', len - 1);
    s[n + len - 1] = '0';
    s[n + len] = '\0';

    return n + len;
}


/*
 * Fed a byte at a time, the parser is incomplete from a frame's first byte
 * to its end, and through a fragmented message from its first frame to
 * its last, control frames between them included; never after an error.
 */

TEST(test_incomplete)
{
    char              got[256], want[256];
    size_t            i, n, c, rest;
    unsigned char    *in;
    chat_ws_parser_t  p;
    chat_ws_event_t   ev;

    reset();
    put(&w, 1, CHAT_WS_OP_TEXT, "Hi");          /* 2 + 4 + 2 bytes */
    put(&w, 1, CHAT_WS_OP_PING, "");            /* 6 */
    put(&w, 0, CHAT_WS_OP_TEXT, "a");           /* 7 */
    put(&w, 1, CHAT_WS_OP_PING, "p");           /* 7 */
    put(&w, 1, CHAT_WS_OP_CONT, "b");           /* 7 */

    /* after each byte: 1 while incomplete, 0 at the end of a whole frame
     * or message */
    n = incomplete_for(want, 0, 8);
    n = incomplete_for(want, n, 6);
    n = incomplete_for(want, n, 7 + 7 + 7);

    memcpy(work, w.d, w.len);
    chat_ws_parser_init(&p, BIG);
    CHECK_EQ(chat_ws_incomplete(&p), 0);

    for (i = 0; i < w.len; i++) {
        in = work + i;
        rest = 1;

        do {
            c = chat_ws_parse(&p, in, rest, &ev);
            in += c;
            rest -= c;
        } while (ev.type != CHAT_WS_AGAIN && ev.type != CHAT_WS_ERROR);

        got[i] = chat_ws_incomplete(&p) ? '1' : '0';
    }

    got[i] = '\0';
    CHECK_EQ(w.len, n);
    CHECK(strcmp(got, want) == 0);

    /* a refused frame leaves nothing to wait for */
    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "a");
    put_frame(&w, 1, 0, CHAT_WS_OP_TEXT, "hi", 2, key);
    memcpy(work, w.d, w.len);
    chat_ws_parser_init(&p, BIG);
    in = work;
    rest = w.len;

    do {
        c = chat_ws_parse(&p, in, rest, &ev);
        in += c;
        rest -= c;
    } while (ev.type != CHAT_WS_AGAIN && ev.type != CHAT_WS_ERROR);

    CHECK_EQ(ev.type, CHAT_WS_ERROR);
    CHECK_EQ(chat_ws_incomplete(&p), 0);
}


/* DATA announces the whole current frame from its first byte on. */

TEST(test_message_size)
{
    size_t            i, c, rest;
    uint64_t          sizes[8];
    chat_ws_parser_t  p;
    chat_ws_event_t   ev;

    reset();
    put(&w, 0, CHAT_WS_OP_TEXT, "Hel");
    put(&w, 1, CHAT_WS_OP_PING, "");
    put(&w, 1, CHAT_WS_OP_CONT, "lo");
    memcpy(work, w.d, w.len);

    chat_ws_parser_init(&p, BIG);
    c = 0;

    for (i = 0; i < w.len; i++) {
        rest = 1;

        do {
            rest -= chat_ws_parse(&p, work + i + 1 - rest, rest, &ev);

            if (ev.type == CHAT_WS_DATA && c < 8) {
                sizes[c++] = ev.message_size;
            }

        } while (ev.type != CHAT_WS_AGAIN && ev.type != CHAT_WS_ERROR);
    }

    CHECK_EQ(c, 5);
    CHECK_EQ(sizes[0], 3);
    CHECK_EQ(sizes[2], 3);
    CHECK_EQ(sizes[3], 5);
    CHECK_EQ(sizes[4], 5);
}


/* Server frames read back by the client side of put_frame(). */

TEST(test_encoder)
{
    size_t         i, n, len;
    unsigned char  hdr[CHAT_WS_MAX_HEADER];

    static const struct {
        uint64_t       len;
        size_t         size;
        unsigned char  bytes[CHAT_WS_MAX_HEADER];
    } cases[] = {
        { 0,     2,  { 0x81, 0x00 } },
        { 125,   2,  { 0x81, 0x7d } },
        { 126,   4,  { 0x81, 0x7e, 0x00, 0x7e } },
        { 65535, 4,  { 0x81, 0x7e, 0xff, 0xff } },
        { 65536, 10, { 0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 } },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = (size_t) cases[i].len;
        n = chat_ws_frame_header(hdr, CHAT_WS_OP_TEXT, len);
        CHECK_EQ(n, cases[i].size);
        CHECK(memcmp(hdr, cases[i].bytes, n) == 0);

        /* masked by a client, it parses to a message of that size */
        reset();
        memcpy(w.d, hdr, n);
        w.d[1] |= 0x80;
        memset(w.d + n, 0, 4);
        memset(w.d + n + 4, 'z', len);
        w.len = n + 4 + len;
        CHECK(expect(BIG, len ? "DM" : "M", 0));
        CHECK_EQ(run.done_len, len);
    }

    n = chat_ws_frame_header(hdr, CHAT_WS_OP_CLOSE, 2);
    CHECK_EQ(n, 2);
    CHECK_EQ(hdr[0], 0x88);

    n = chat_ws_frame_header(hdr, CHAT_WS_OP_PONG, 0x0102030405ULL);
    CHECK_EQ(n, 10);
    CHECK(memcmp(hdr, "\x8a\x7f\x00\x00\x00\x01\x02\x03\x04\x05", 10) == 0);
}


TEST(test_close_payload)
{
    size_t         n;
    char           reason[200];
    unsigned char  buf[CHAT_WS_MAX_CONTROL];

    n = chat_ws_close_payload(buf, 1000, "bye", 3);
    CHECK_EQ(n, 5);
    CHECK(memcmp(buf, "\x03\xe8" "bye", 5) == 0);

    n = chat_ws_close_payload(buf, CHAT_WS_CLOSE_TOKEN_EXPIRED, NULL, 0);
    CHECK_EQ(n, 2);
    CHECK(memcmp(buf, "\x11\x31", 2) == 0);

    /* 122 + a 2-byte character: cut before the character */
    memset(reason, 'a', sizeof(reason));
    memcpy(reason + 122, "\xc3\xa9", 2);
    n = chat_ws_close_payload(buf, 1000, reason, 124);
    CHECK_EQ(n, 2 + 122);
    CHECK(memcmp(buf + 2, reason, 122) == 0);

    /* 121 + a 2-byte character fits exactly */
    memset(reason, 'a', sizeof(reason));
    memcpy(reason + 121, "\xc3\xa9", 2);
    n = chat_ws_close_payload(buf, 1000, reason, 123);
    CHECK_EQ(n, CHAT_WS_MAX_CONTROL);
    CHECK(memcmp(buf + 2, reason, 123) == 0);

    /* a 4-byte character across the limit */
    memset(reason, 'a', sizeof(reason));
    memcpy(reason + 120, "\xf0\x9f\x98\x80", 4);
    n = chat_ws_close_payload(buf, 1001, reason, 130);
    CHECK_EQ(n, 2 + 120);

    memset(reason, 'a', sizeof(reason));
    n = chat_ws_close_payload(buf, 1001, reason, sizeof(reason));
    CHECK_EQ(n, CHAT_WS_MAX_CONTROL);

    /* an invalid reason is not sent */
    n = chat_ws_close_payload(buf, 1011, "\xff", 1);
    CHECK_EQ(n, 2);

    /* what it writes, a client parses back */
    reset();
    n = chat_ws_close_payload(buf, 1000, "bye \xe2\x82\xac", 7);
    put_frame(&w, 1, 0, CHAT_WS_OP_CLOSE, buf, n, key);
    CHECK(expect(BIG, "C", 1000));
    CHECK_STR(run.ctl, run.ctl_len, "bye \xe2\x82\xac");
}


int
main(void)
{
    RUN(test_text);
    RUN(test_empty_text);
    RUN(test_fragments_with_ping);
    RUN(test_utf8_across_fragments);
    RUN(test_incomplete_at_fin);
    RUN(test_too_big);
    RUN(test_length_forms);
    RUN(test_close);
    RUN(test_close_codes);
    RUN(test_protocol_errors);
    RUN(test_control_frames);
    RUN(test_fragment_order);
    RUN(test_binary);
    RUN(test_sticky_error);
    RUN(test_incomplete);
    RUN(test_message_size);
    RUN(test_encoder);
    RUN(test_close_payload);

    return test_summary("ws_frame");
}
