/*
 * The WebSocket client side of xmpp-bench: non-blocking connect, the
 * upgrade with subprotocol "xmpp" (RFC 7395 section 3.1: the server must
 * echo it), masked client frames out, unmasked server frames in
 * (fragments reassembled, pings answered, close handled). Each complete
 * text message goes to xb_stream_element: RFC 7395 puts exactly one XML
 * element in a message, so frame boundaries are the stanza boundaries.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench_crypto.h"
#include "ws_frame.h"
#include "xmpp_bench.h"

#define OP_CONT   0x0
#define OP_TEXT   0x1
#define OP_BIN    0x2
#define OP_CLOSE  0x8
#define OP_PING   0x9
#define OP_PONG   0xa

#define HEAD_MAX  8192   /* the 101 response head */

static int ws_send(xb_t *b, xb_conn_t *c, unsigned op, const char *p,
    size_t len, int control);


static void
ws_epoll(xb_t *b, xb_conn_t *c, int op, int out)
{
    struct epoll_event  ev;

    ev.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl(b->ep, op, c->fd, &ev) != 0) {
        xb_ws_finish(b, c, "epoll_ctl");
        return;
    }
    c->epout = (uint8_t) out;
}


void
xb_ws_start(xb_t *b, xb_conn_t *c)
{
    int  fd, one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        xb_conn_closed(b, c, "socket");
        return;
    }
    c->fd = fd;
    c->deadline = b->now + (uint64_t) (b->conf.connect_timeout * XB_NS);
    xb_set_state(b, c, XS_CONNECTING);
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (b->conf.src) {
        /* a port per 4-tuple, not per source address (see chat-bench) */
        (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                          sizeof(one));
        if (bind(fd, (struct sockaddr *) &b->conf.src_addr,
                 sizeof(b->conf.src_addr)) != 0)
        {
            xb_ws_finish(b, c, "bind");
            return;
        }
    }

    if (connect(fd, (struct sockaddr *) &b->conf.addr, sizeof(b->conf.addr))
        != 0 && errno != EINPROGRESS)
    {
        xb_ws_finish(b, c, errno == ECONNREFUSED ? "connect_ECONNREFUSED"
                                                 : "connect");
        return;
    }
    ws_epoll(b, c, EPOLL_CTL_ADD, 1);
}


static void
ws_upgrade(xb_t *b, xb_conn_t *c)
{
    unsigned char  nonce[16];
    char           req[1024];
    int            n;
    unsigned       i;

    for (i = 0; i < sizeof(nonce); i++) {
        b->rng = b->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        nonce[i] = (unsigned char) (b->rng >> 56);
    }
    bench_ws_key(nonce, c->key);

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Protocol: xmpp\r\n\r\n",
                 b->conf.path, b->conf.host, b->conf.port, c->key);
    xb_set_state(b, c, XS_UPGRADE);
    if (n <= 0 || (size_t) n >= sizeof(req)
        || ws_send(b, c, 0xff, req, (size_t) n, 1) != XB_SEND_OK)
    {
        xb_ws_finish(b, c, "upgrade_write");
    }
}


/* Writes what it can of p; queues the rest. */
static int
ws_write(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    ssize_t  n = 0;
    char    *q;

    if (c->out_len == 0) {
        n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                xb_ws_finish(b, c, "write");
                return XB_SEND_DEAD;
            }
            n = 0;
        }
        if ((size_t) n == len) {
            return XB_SEND_OK;
        }
    }
    q = realloc(c->out, c->out_len + len - (size_t) n);
    if (q == NULL) {
        xb_ws_finish(b, c, "oom");
        return XB_SEND_DEAD;
    }
    memcpy(q + c->out_len, p + n, len - (size_t) n);
    c->out = q;
    c->out_len += len - (size_t) n;
    if (!c->epout) {
        ws_epoll(b, c, EPOLL_CTL_MOD, 1);
    }
    return XB_SEND_OK;
}


static void
ws_flush(xb_t *b, xb_conn_t *c)
{
    ssize_t  n;

    n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            xb_ws_finish(b, c, "write");
        }
        return;
    }
    c->out_len -= (size_t) n;
    if (c->out_len > 0) {
        memmove(c->out, c->out + n, c->out_len);
        return;
    }
    free(c->out);
    c->out = NULL;
    ws_epoll(b, c, EPOLL_CTL_MOD, 0);
}


/*
 * Sends a masked frame of opcode op (0xff: raw bytes, the upgrade). A data
 * frame is refused (XB_SEND_FULL) when XB_OUT_LIMIT bytes wait already.
 */
static int
ws_send(xb_t *b, xb_conn_t *c, unsigned op, const char *p, size_t len,
    int control)
{
    unsigned char  m[4];

    if (op == 0xff) {
        return ws_write(b, c, p, len);
    }
    if (!control && c->out_len > XB_OUT_LIMIT) {
        return XB_SEND_FULL;
    }
    /* a fresh mask per frame (RFC 6455 section 5.3) */
    b->rng = b->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    memcpy(m, &b->rng, 4);
    return ws_write(b, c, b->wbuf, ws_frame_encode(b->wbuf, op, p, len, m));
}


int
xb_ws_send_text(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    return ws_send(b, c, OP_TEXT, p, len, 0);
}


void
xb_ws_close(xb_t *b, xb_conn_t *c)
{
    static const char  code[2] = { 0x03, (char) 0xe8 };   /* 1000 */

    c->deadline = b->now + XB_CLOSE_WAIT;
    xb_set_state(b, c, XS_CLOSING);
    (void) ws_send(b, c, OP_CLOSE, code, 2, 1);
}


void
xb_ws_finish(xb_t *b, xb_conn_t *c, const char *reason)
{
    if (c->fd >= 0) {
        (void) epoll_ctl(b->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    free(c->out);
    free(c->in);
    free(c->frag);
    c->out = c->in = c->frag = NULL;
    c->out_len = c->in_len = c->frag_len = 0;
    xb_conn_closed(b, c, reason);
}


/*
 * The value of header name in the response head p (names are
 * case-insensitive, blanks around the value optional), or NULL.
 */
static const char *
head_value(const char *p, size_t len, const char *name, size_t *vlen)
{
    const char *line, *eol, *end = p + len, *v;
    size_t      nl = strlen(name);

    for (line = p; line < end; line = eol + 2) {
        eol = memmem(line, (size_t) (end - line), "\r\n", 2);
        if (eol == NULL) {
            return NULL;
        }
        if ((size_t) (eol - line) <= nl || line[nl] != ':'
            || strncasecmp(line, name, nl) != 0)
        {
            continue;
        }
        for (v = line + nl + 1; v < eol && (*v == ' ' || *v == '\t'); v++) {
            /* skip */
        }
        for (*vlen = (size_t) (eol - v);
             *vlen && (v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t');
             (*vlen)--)
        {
            /* trim */
        }
        return v;
    }
    return NULL;
}


/* The 101 head: its length, 0 when incomplete, -1 when refused. */
static long
ws_response(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    const char *end, *v;
    char        acc[BENCH_WS_ACC_LEN + 1], code[16];
    size_t      hl, vl = 0;

    end = memmem(p, len, "\r\n\r\n", 4);
    if (end == NULL) {
        if (len > HEAD_MAX) {
            xb_ws_finish(b, c, "bad_response");
            return -1;
        }
        return 0;
    }
    hl = (size_t) (end - p) + 4;
    if (len < 12 || memcmp(p + 9, "101", 3) != 0) {
        snprintf(code, sizeof(code), "http_%.3s", len >= 12 ? p + 9 : "???");
        xb_ws_finish(b, c, code);
        return -1;
    }
    if (bench_ws_accept(c->key, acc) != 0) {
        xb_ws_finish(b, c, "crypto");
        return -1;
    }
    v = head_value(p, hl, "Sec-WebSocket-Accept", &vl);
    if (v == NULL || vl != BENCH_WS_ACC_LEN || memcmp(v, acc, vl) != 0) {
        xb_ws_finish(b, c, "bad_accept");
        return -1;
    }
    v = head_value(p, hl, "Sec-WebSocket-Protocol", &vl);
    if (v == NULL || vl != 4 || strncasecmp(v, "xmpp", 4) != 0) {
        xb_ws_finish(b, c, "no_subprotocol");
        return -1;
    }
    xb_stream_open(b, c);
    return (long) hl;
}


static void
ws_message(xb_t *b, xb_conn_t *c, unsigned op, const char *p, size_t len)
{
    if (op == OP_TEXT) {
        xb_stream_element(b, c, p, len);
    } else {
        b->st.parse_errors++;   /* RFC 7395 uses text frames only */
    }
}


static void
ws_on_close(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    char  reason[XB_KEY_MAX];

    if (c->state == XS_CLOSING) {
        b->st.closed_clean++;
        xb_ws_finish(b, c, NULL);
        return;
    }
    snprintf(reason, sizeof(reason), "close_%u",
             len >= 2 ? ((unsigned char) p[0] << 8) | (unsigned char) p[1]
                      : 1005);
    (void) ws_send(b, c, OP_CLOSE, p, len >= 2 ? 2 : 0, 1);
    xb_ws_finish(b, c, reason);
}


/* One frame; returns 0, or -1 when the connection is gone. */
static int
ws_frame(xb_t *b, xb_conn_t *c, unsigned op, int fin, const char *p,
    size_t len)
{
    char  *q;

    if (op >= OP_CLOSE) {
        if (op == OP_PING) {
            b->st.server_pings++;
            return ws_send(b, c, OP_PONG, p, len, 1) == XB_SEND_DEAD ? -1 : 0;
        }
        if (op == OP_CLOSE) {
            ws_on_close(b, c, p, len);
            return -1;
        }
        return 0;
    }
    if (op == OP_CONT || !fin) {
        if (op != OP_CONT) {
            c->frag_op = (uint8_t) op;
        }
        q = realloc(c->frag, c->frag_len + len + 1);
        if (q == NULL || c->frag_len + len > XB_MAX_FRAME) {
            free(q);
            c->frag = NULL;
            xb_ws_finish(b, c, "frame_too_big");
            return -1;
        }
        memcpy(q + c->frag_len, p, len);
        c->frag = q;
        c->frag_len += len;
        if (!fin) {
            return 0;
        }
        ws_message(b, c, c->frag_op, c->frag, c->frag_len);
        free(c->frag);
        c->frag = NULL;
        c->frag_len = 0;
    } else {
        ws_message(b, c, op, p, len);
    }
    return c->fd >= 0 ? 0 : -1;
}


/* Handles the complete frames of p; returns the bytes used, -1 if gone. */
static long
ws_frames(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    const unsigned char *u;
    size_t               off = 0, hl, n;
    unsigned             i;

    while (len - off >= 2) {
        u = (const unsigned char *) p + off;
        n = u[1] & 0x7f;
        hl = 2;
        if (n == 126) {
            if (len - off < 4) break;
            n = ((size_t) u[2] << 8) | u[3];
            hl = 4;
        } else if (n == 127) {
            if (len - off < 10) break;
            for (n = 0, i = 0; i < 8; i++) n = (n << 8) | u[2 + i];
            hl = 10;
        }
        if ((u[1] & 0x80) || n > XB_MAX_FRAME) {
            xb_ws_finish(b, c, (u[1] & 0x80) ? "masked_frame" : "frame_too_big");
            return -1;
        }
        if (len - off < hl + n) break;
        if (ws_frame(b, c, u[0] & 0x0f, u[0] >> 7, p + off + hl, n) != 0) {
            return -1;
        }
        off += hl + n;
    }
    return (long) off;
}


/* Handles p (after the carried bytes); keeps an incomplete tail. */
static void
ws_input(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    long   used;
    char  *q;

    if (c->state == XS_UPGRADE) {
        used = ws_response(b, c, p, len);
    } else {
        used = ws_frames(b, c, p, len);
    }
    if (used < 0 || c->fd < 0) {
        return;
    }
    if ((size_t) used == len) {
        free(c->in);
        c->in = NULL;
        c->in_len = 0;
        return;
    }
    if (p == c->in) {
        memmove(c->in, c->in + used, len - (size_t) used);
        c->in_len = len - (size_t) used;
        return;
    }
    q = malloc(len - (size_t) used);
    if (q == NULL) {
        xb_ws_finish(b, c, "oom");
        return;
    }
    memcpy(q, p + used, len - (size_t) used);
    c->in = q;
    c->in_len = len - (size_t) used;
}


static void
ws_read(xb_t *b, xb_conn_t *c)
{
    ssize_t  n;
    char    *q;

    n = recv(c->fd, b->rbuf, b->rbuf_size, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        xb_ws_finish(b, c, n == 0 ? "eof" : "read_error");
        return;
    }
    if (c->in_len == 0) {
        ws_input(b, c, b->rbuf, (size_t) n);
        return;
    }
    q = realloc(c->in, c->in_len + (size_t) n);
    if (q == NULL) {
        xb_ws_finish(b, c, "oom");
        return;
    }
    memcpy(q + c->in_len, b->rbuf, (size_t) n);
    c->in = q;
    c->in_len += (size_t) n;
    ws_input(b, c, c->in, c->in_len);
}


void
xb_ws_event(xb_t *b, xb_conn_t *c, uint32_t events)
{
    int        err = 0;
    socklen_t  el = sizeof(err);

    if (c->state == XS_CONNECTING) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
            xb_ws_finish(b, c, err == ECONNREFUSED ? "connect_ECONNREFUSED"
                                                   : "connect");
            return;
        }
        if (!(events & EPOLLOUT)) {
            return;
        }
        ws_epoll(b, c, EPOLL_CTL_MOD, 0);
        ws_upgrade(b, c);
        return;
    }
    if ((events & EPOLLOUT) && c->out_len > 0) {
        ws_flush(b, c);
    }
    if (c->fd >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        ws_read(b, c);
    }
}
