/*
 * The chat protocol of chat-bench (docs/PROTOCOL.md sections 3-4): the requests
 * it sends (send, typing, ping, receipt) and what it makes of the frames
 * the server sends back (sent, pong, error, msg, typing).
 *
 * Frames are scanned once for the few top-level keys that matter; a frame
 * that is not a JSON object, or lacks a field, is counted as a parse error.
 */

#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "json_scan.h"
#include "ws.h"

/* the keys of a server frame that matter here */
enum { K_TYPE, K_ID, K_FROM, K_BODY, K_CODE, K_STATE, K_CONV, K_SEQ, K_N };

static const char *const  bench_keys[K_N] = {
    "type", "id", "from", "body", "code", "state", "conv", "seq"
};

static void bench_on_reply(bench_t *b, bench_conn_t *c, json_val_t *v,
    uint64_t now);
static void bench_on_error(bench_t *b, bench_conn_t *c, json_val_t *v,
    uint64_t now);
static void bench_on_msg(bench_t *b, bench_conn_t *c, json_val_t *v,
    uint64_t now);
static void bench_on_typing(bench_t *b, bench_conn_t *c, json_val_t *v,
    uint64_t now);
static int bench_send_text(bench_t *b, bench_conn_t *c, size_t len);
static int bench_seen(bench_conn_t *c, uint64_t seq);
static void bench_receipt(bench_t *b, bench_conn_t *c, json_val_t *v);
static void bench_fifo_drop(bench_t *b, bench_conn_t *c, uint64_t ts);
static int bench_parse_id(bench_t *b, const json_val_t *id, uint64_t *seq,
    uint64_t *ts);
static int bench_parse_body(bench_t *b, const json_val_t *body,
    uint64_t *ts, uint64_t *seq);


/*
 * {"type":"send","id":"<run>.<seq>.<ts>","to":<peer>,
 *  "body":"<ts> <seq> <run>xxx..."}: the body is padded to --body-size.
 */
/* Sends the request built in b->payload (BENCH_WS_* results). */
static int
bench_send_text(bench_t *b, bench_conn_t *c, size_t len)
{
    return bench_ws_send(&b->lp, &c->ws, BENCH_WS_TEXT, b->payload, len, 0);
}


int
bench_send_msg(bench_t *b, bench_conn_t *c, uint64_t ts)
{
    int       head, body, rc;
    size_t    len;
    uint64_t  seq;

    seq = c->seq + 1;

    head = snprintf(b->payload, b->payload_size,
                    "{\"type\":\"send\",\"id\":\"%s.%llu.%llu\",\"to\":\"%s\","
                    "\"body\":\"",
                    b->run_id, (unsigned long long) seq,
                    (unsigned long long) ts, b->conns[c->idx ^ 1].user);

    body = snprintf(b->payload + head, b->payload_size - (size_t) head,
                    "%llu %llu %s", (unsigned long long) ts,
                    (unsigned long long) seq, b->run_id);

    len = (size_t) head + (size_t) body;

    if ((unsigned) body < b->conf.body_size) {
        memset(b->payload + len, 'x', b->conf.body_size - (unsigned) body);
        len += b->conf.body_size - (unsigned) body;
    }

    memcpy(b->payload + len, "\"}", 2);
    len += 2;

    rc = bench_send_text(b, c, len);

    if (rc == BENCH_WS_OK) {
        c->seq = seq;
        c->inflight++;
        b->inflight++;
    }

    return rc;
}


/*
 * {"type":"typing","id":..,"to":<peer>,"state":"start"}: the id only comes
 * back in an error, which takes the typing out of the FIFO.
 */
int
bench_send_typing(bench_t *b, bench_conn_t *c, uint64_t ts)
{
    int        n, rc, start;
    uint64_t   seq;
    uint32_t   cap;

    seq = c->seq + 1;
    start = !b->conf.typing_alternate || (seq & 1);

    n = snprintf(b->payload, b->payload_size,
                 "{\"type\":\"typing\",\"id\":\"%s.%llu.%llu\",\"to\":\"%s\","
                 "\"state\":\"%s\"}",
                 b->run_id, (unsigned long long) seq, (unsigned long long) ts,
                 b->conns[c->idx ^ 1].user, start ? "start" : "stop");

    rc = bench_send_text(b, c, (size_t) n);

    if (rc == BENCH_WS_OK) {
        c->seq = seq;
        cap = b->conf.max_inflight;
        /*
         * The send time with its two low bits reused: bit 0 is the state
         * (1: start), bit 1 is always set so that a live entry is never 0;
         * an entry refused by an error is set to 0.
         */
        c->fifo[(c->fifo_head + c->fifo_count) % cap] = (ts & ~3ULL) | 2
                                                        | (uint64_t) start;
        c->fifo_count++;
        b->fifo_total++;
    }

    return rc;
}


/* idle mode: {"type":"ping","id":..}, answered {"type":"pong","id":..} */
int
bench_send_ping(bench_t *b, bench_conn_t *c, uint64_t ts)
{
    int       n, rc;
    uint64_t  seq;

    seq = c->seq + 1;

    n = snprintf(b->payload, b->payload_size,
                 "{\"type\":\"ping\",\"id\":\"%s.%llu.%llu\"}",
                 b->run_id, (unsigned long long) seq, (unsigned long long) ts);

    rc = bench_send_text(b, c, (size_t) n);

    if (rc == BENCH_WS_OK) {
        c->seq = seq;
        c->inflight++;
        b->inflight++;
    }

    return rc;
}


void
bench_conn_text(bench_t *b, bench_conn_t *c, const char *p, size_t len)
{
    uint64_t     now;
    json_val_t   v[K_N];

    now = bench_ws_now();

    if (json_scan(p, len, bench_keys, K_N, v) != 0 || !v[K_TYPE].string) {
        b->st.parse_errors++;
        return;
    }

    if (json_is(&v[K_TYPE], "msg")) {
        bench_on_msg(b, c, v, now);

    } else if (json_is(&v[K_TYPE], "sent") || json_is(&v[K_TYPE], "pong")) {
        bench_on_reply(b, c, v, now);

    } else if (json_is(&v[K_TYPE], "error")) {
        bench_on_error(b, c, v, now);

    } else if (json_is(&v[K_TYPE], "typing")) {
        bench_on_typing(b, c, v, now);

    } else {
        b->st.other_frames++;
    }
}


/* "sent" to a send, "pong" to a ping: the id has the send time. */
static void
bench_on_reply(bench_t *b, bench_conn_t *c, json_val_t *v, uint64_t now)
{
    uint64_t  seq, ts;

    if (bench_parse_id(b, &v[K_ID], &seq, &ts) != 0 || c->inflight == 0) {
        b->st.unmatched++;
        return;
    }

    c->inflight--;
    b->inflight--;

    if (json_is(&v[K_TYPE], "sent")) {
        /* "sent": a delivery to wait for in the drain */
        b->st.all_ok++;
    }

    if (ts >= b->t_measure && ts < b->t_end) {
        b->st.answered++;
        hist_record(&b->st.reply, now > ts ? now - ts : 0);
    }
}


static void
bench_on_error(bench_t *b, bench_conn_t *c, json_val_t *v, uint64_t now)
{
    int          ours;
    uint64_t     seq, ts;
    json_val_t  *code;

    code = &v[K_CODE];

    if (!code->string || code->escaped || code->len == 0) {
        b->st.parse_errors++;
        return;
    }

    ours = bench_parse_id(b, &v[K_ID], &seq, &ts) == 0;

    if (ours && b->conf.mode == MODE_TYPING) {
        bench_fifo_drop(b, c, ts);

    } else if (ours && c->inflight) {
        c->inflight--;
        b->inflight--;
    }

    /* an error of no request of ours counts when it comes in the window */
    if (!ours) {
        ts = now;
    }

    if (ts >= b->t_measure && ts < b->t_end) {
        b->st.errors++;
        bench_count(&b->st.error_codes, code->p, code->len);

        if (ours) {
            hist_record(&b->st.error, now > ts ? now - ts : 0);
        }
    }
}


/*
 * The peer that sent a frame whose "from" is given, or NULL when it is the
 * connection's own echo or someone else's frame (each counted).
 */
static bench_conn_t *
bench_from_peer(bench_t *b, bench_conn_t *c, json_val_t *from)
{
    bench_conn_t  *peer;

    if (from->len == c->user_len && memcmp(from->p, c->user, c->user_len) == 0)
    {
        b->st.echoes++;
        return NULL;
    }

    peer = (c->idx ^ 1) < b->conf.connections ? &b->conns[c->idx ^ 1] : NULL;

    if (peer == NULL || from->len != peer->user_len
        || memcmp(from->p, peer->user, peer->user_len) != 0)
    {
        b->st.foreign++;
        return NULL;
    }

    return peer;
}


/* A message: from the peer (measured), our own echo, or another's. */
static void
bench_on_msg(bench_t *b, bench_conn_t *c, json_val_t *v, uint64_t now)
{
    bench_conn_t  *peer;
    uint64_t       ts, seq;

    if (!v[K_FROM].string || v[K_FROM].escaped) {
        b->st.parse_errors++;
        return;
    }

    peer = bench_from_peer(b, c, &v[K_FROM]);
    if (peer == NULL) {
        return;
    }

    switch (bench_parse_body(b, &v[K_BODY], &ts, &seq)) {
    case 0:
        break;
    case 1:
        b->st.stale++;
        return;
    default:
        b->st.parse_errors++;
        return;
    }

    switch (bench_seen(c, seq)) {
    case 0:
        break;
    case 1:
        b->st.out_of_order++;
        break;
    default:
        b->st.duplicates++;
        return;
    }

    b->st.all_delivered++;

    if (ts >= b->t_measure && ts < b->t_end) {
        b->st.delivered++;
        hist_record(&b->st.e2e, now > ts ? now - ts : 0);
    }

    if (b->conf.receipts) {
        bench_receipt(b, c, v);
    }
}


/*
 * Notes the arrival of the peer's message seq: 0 in order, 1 after a later
 * one, 2 seen before. Older than the window of BENCH_SEEN_BITS sequences,
 * a message cannot be told from a duplicate and counts as out of order.
 */
static int
bench_seen(bench_conn_t *c, uint64_t seq)
{
    uint64_t  s, bit;

    if (seq > c->peer_seq) {
        if (seq - c->peer_seq >= BENCH_SEEN_BITS) {
            memset(c->seen, 0, sizeof(c->seen));

        } else {
            /* the sequences skipped over have not arrived (yet) */
            for (s = c->peer_seq + 1; s < seq; s++) {
                c->seen[(s % BENCH_SEEN_BITS) / 64] &=
                                                ~(1ULL << (s % 64));
            }
        }

        c->peer_seq = seq;
        c->seen[(seq % BENCH_SEEN_BITS) / 64] |= 1ULL << (seq % 64);

        return 0;
    }

    if (c->peer_seq - seq >= BENCH_SEEN_BITS) {
        return 1;
    }

    bit = 1ULL << (seq % 64);

    if (c->seen[(seq % BENCH_SEEN_BITS) / 64] & bit) {
        return 2;
    }

    c->seen[(seq % BENCH_SEEN_BITS) / 64] |= bit;

    return 1;
}


/* {"type":"receipt","conv":..,"status":"delivered","seq":N} */
static void
bench_receipt(bench_t *b, bench_conn_t *c, json_val_t *v)
{
    int                 n;
    unsigned long long  seq;

    if (!v[K_CONV].string || v[K_CONV].escaped || v[K_CONV].len > 200
        || json_uint(&v[K_SEQ], &seq) != 0)
    {
        b->st.parse_errors++;
        return;
    }

    n = snprintf(b->payload, b->payload_size,
                 "{\"type\":\"receipt\",\"conv\":\"%.*s\","
                 "\"status\":\"delivered\",\"seq\":%llu}",
                 (int) v[K_CONV].len, v[K_CONV].p, seq);

    if (bench_send_text(b, c, (size_t) n) == BENCH_WS_OK) {
        b->st.receipts_sent++;
    }
}


/*
 * A typing from the peer matches the oldest unmatched typing the peer
 * sent (FIFO per pair): typings carry no body to tell them apart. With
 * --typing-alternate the state tells a typing the server dropped from the
 * next one, which is then counted lost instead of matched late.
 */
static void
bench_on_typing(bench_t *b, bench_conn_t *c, json_val_t *v, uint64_t now)
{
    int            start;
    uint64_t       e, ts;
    bench_conn_t  *peer;

    if (!v[K_FROM].string || !v[K_STATE].string) {
        b->st.parse_errors++;
        return;
    }

    peer = bench_from_peer(b, c, &v[K_FROM]);
    if (peer == NULL) {
        return;
    }

    start = json_is(&v[K_STATE], "start");

    while (peer->fifo_count) {
        e = peer->fifo[peer->fifo_head];
        peer->fifo_head = (peer->fifo_head + 1) % b->conf.max_inflight;
        peer->fifo_count--;

        if (e == 0) {
            /* refused with an error: already taken out of fifo_total */
            continue;
        }

        b->fifo_total--;
        ts = e & ~3ULL;

        if ((int) (e & 1) != start) {
            b->st.typing_lost += ts >= b->t_measure && ts < b->t_end;
            continue;
        }

        if (ts >= b->t_measure && ts < b->t_end) {
            b->st.delivered++;
            hist_record(&b->st.e2e, now > ts ? now - ts : 0);
        }

        return;
    }

    b->st.unmatched++;
}


/* An error refused the typing sent at ts: it will never arrive. */
static void
bench_fifo_drop(bench_t *b, bench_conn_t *c, uint64_t ts)
{
    uint32_t   i, k;
    uint64_t  *e;

    for (i = 0; i < c->fifo_count; i++) {
        k = (c->fifo_head + i) % b->conf.max_inflight;
        e = &c->fifo[k];

        if (*e != 0 && (*e & ~3ULL) == (ts & ~3ULL)) {
            *e = 0;
            b->fifo_total--;
            break;
        }
    }

    /* dead entries at the front go at once, freeing room for new ones */
    while (c->fifo_count && c->fifo[c->fifo_head] == 0) {
        c->fifo_head = (c->fifo_head + 1) % b->conf.max_inflight;
        c->fifo_count--;
    }
}


/* "<run>.<seq>.<ts>": 0 when it is one of ours. */
static int
bench_parse_id(bench_t *b, const json_val_t *id, uint64_t *seq, uint64_t *ts)
{
    size_t              rl, i;
    const char         *p;
    unsigned long long  n[2];
    int                 k;

    rl = strlen(b->run_id);

    if (!id->string || id->escaped || id->len < rl + 4
        || memcmp(id->p, b->run_id, rl) != 0 || id->p[rl] != '.')
    {
        return -1;
    }

    p = id->p + rl + 1;
    k = 0;
    n[0] = n[1] = 0;

    for (i = rl + 1; i < id->len; i++, p++) {
        if (*p == '.' && k == 0) {
            k = 1;
        } else if (*p >= '0' && *p <= '9') {
            n[k] = n[k] * 10 + (unsigned long long) (*p - '0');
        } else {
            return -1;
        }
    }

    if (k != 1) {
        return -1;
    }

    *seq = n[0];
    *ts = n[1];

    return 0;
}


/* "<ts> <seq> <run>x..": 0, 1 for another run's body, -1 if not ours. */
static int
bench_parse_body(bench_t *b, const json_val_t *body, uint64_t *ts,
    uint64_t *seq)
{
    size_t              i, rl;
    unsigned long long  n[2];
    int                 k;

    if (!body->string || body->escaped) {
        return -1;
    }

    n[0] = n[1] = 0;
    k = 0;

    for (i = 0; i < body->len && k < 2; i++) {
        if (body->p[i] == ' ') {
            k++;
        } else if (body->p[i] >= '0' && body->p[i] <= '9') {
            n[k] = n[k] * 10 + (unsigned long long) (body->p[i] - '0');
        } else {
            return -1;
        }
    }

    rl = strlen(b->run_id);

    if (k != 2 || body->len - i < rl) {
        return -1;
    }

    if (memcmp(body->p + i, b->run_id, rl) != 0) {
        return 1;
    }

    *ts = n[0];
    *seq = n[1];

    return 0;
}
