/*
 * RFC 6455 client over non-blocking sockets (see ws_client.h).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench_crypto.h"
#include "json_scan.h"
#include "ws_client.h"
#include "ws_frame.h"

#define WS_RESPONSE_MAX  8192   /* the 101 response head */
#define WS_HEADER_MAX    14     /* a masked client frame's header */

static void ws_fail_errno(bench_t *b, bench_conn_t *c, const char *what,
    int err);
static void ws_connected(bench_t *b, bench_conn_t *c);
static int ws_write(bench_t *b, bench_conn_t *c, const char *p, size_t len);
static void ws_flush(bench_t *b, bench_conn_t *c);
static void ws_update_events(bench_t *b, bench_conn_t *c);
static void ws_read(bench_t *b, bench_conn_t *c);
static void ws_keep(bench_t *b, bench_conn_t *c, const char *p, size_t len);
static size_t ws_response(bench_t *b, bench_conn_t *c, const char *p,
    size_t len);
static size_t ws_frames(bench_t *b, bench_conn_t *c, const char *p,
    size_t len);
static void ws_frame(bench_t *b, bench_conn_t *c, unsigned op, int fin,
    const char *p, size_t len);
static void ws_message(bench_t *b, bench_conn_t *c, unsigned op,
    const char *p, size_t len);
static void ws_on_close(bench_t *b, bench_conn_t *c, const char *p,
    size_t len);
static void ws_protocol_error(bench_t *b, bench_conn_t *c, uint16_t code,
    const char *reason);


void
ws_start(bench_t *b, bench_conn_t *c)
{
    int  fd, one, rc;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ws_fail_errno(b, c, "socket", errno);
        return;
    }

    c->fd = fd;
    c->deadline = b->now
                  + (uint64_t) (b->conf.connect_timeout * (double) BENCH_NS);
    bench_set_state(b, c, CS_CONNECTING);

    one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (b->conf.src) {
        /*
         * Without this, bind() picks a port unique per source address for
         * any destination; with it, connect() picks one unique per 4-tuple.
         */
        (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                          sizeof(one));

        if (bind(fd, (struct sockaddr *) &b->conf.src_addr,
                 sizeof(struct sockaddr_in)) != 0)
        {
            ws_fail_errno(b, c, "bind", errno);
            return;
        }
    }

    c->events = EPOLLIN | EPOLLOUT;
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, fd,
                  &(struct epoll_event) { .events = c->events,
                                          .data.u32 = c->idx }) != 0)
    {
        ws_fail_errno(b, c, "epoll", errno);
        return;
    }

    rc = connect(fd, (struct sockaddr *) &b->conf.addr,
                 sizeof(struct sockaddr_in));

    if (rc == 0) {
        ws_connected(b, c);

    } else if (errno != EINPROGRESS) {
        ws_fail_errno(b, c, "connect", errno);
    }
}


static void
ws_fail_errno(bench_t *b, bench_conn_t *c, const char *what, int err)
{
    const char  *name;
    char         reason[BENCH_KEY_MAX];

    name = strerrorname_np(err);
    snprintf(reason, sizeof(reason), "%s_%s", what, name ? name : "error");

    ws_finish(b, c, reason);
}


void
ws_finish(bench_t *b, bench_conn_t *c, const char *reason)
{
    int  prev;

    prev = c->state;

    if (c->fd >= 0) {
        /* closing the only descriptor of the socket removes it from epoll */
        close(c->fd);
        c->fd = -1;
    }

    free(c->out);
    free(c->in);
    free(c->frag);
    c->out = c->in = c->frag = NULL;
    c->out_len = c->out_cap = c->in_len = c->frag_len = 0;

    bench_set_state(b, c, CS_DONE);
    bench_conn_closed(b, c, prev, reason);
}


/* The TCP connection is established (or failed): send the upgrade. */
static void
ws_connected(bench_t *b, bench_conn_t *c)
{
    int            err, n, jlen;
    time_t         now;
    socklen_t      elen;
    unsigned char  nonce[16];
    uint64_t       r1, r2;
    char           jwt[BENCH_JWT_MAX];
    char           req[1024 + BENCH_JWT_MAX];

    err = 0;
    elen = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
        err = errno;
    }

    if (err != 0) {
        ws_fail_errno(b, c, "connect", err);
        return;
    }

    r1 = bench_random(b);
    r2 = bench_random(b);
    memcpy(nonce, &r1, 8);
    memcpy(nonce + 8, &r2, 8);
    bench_ws_key(nonce, c->key);

    now = time(NULL);
    jlen = bench_jwt_hs256(b->conf.secret, c->user, (long long) now,
                           (long long) now + 3600, jwt);
    if (jlen < 0) {
        ws_finish(b, c, "jwt");
        return;
    }

    n = snprintf(req, sizeof(req),
                 "GET %s%cdevice=bench-%lu HTTP/1.1\r\n"
                 "Host: %s:%u\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "Authorization: Bearer %s\r\n"
                 "\r\n",
                 b->conf.path, strchr(b->conf.path, '?') ? '&' : '?',
                 b->conf.offset + c->idx, b->conf.host, b->conf.port,
                 c->key, jwt);

    if (n < 0 || (size_t) n >= sizeof(req)) {
        ws_finish(b, c, "request_too_long");
        return;
    }

    bench_set_state(b, c, CS_HANDSHAKE);

    (void) ws_write(b, c, req, (size_t) n);
}


/*
 * Writes what it can now and keeps the rest for EPOLLOUT, after anything
 * kept before. Returns 0, or -1 when the connection is gone.
 */
static int
ws_write(bench_t *b, bench_conn_t *c, const char *p, size_t len)
{
    ssize_t   n;
    size_t    cap;
    char     *out;

    if (c->out_len == 0) {
        n = send(c->fd, p, len, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                ws_fail_errno(b, c, "write", errno);
                return -1;
            }
            n = 0;
        }

        p += n;
        len -= (size_t) n;

        if (len == 0) {
            /* EPOLLOUT may still be on from the connect */
            ws_update_events(b, c);
            return c->state == CS_DONE ? -1 : 0;
        }
    }

    if (c->out_len + len > c->out_cap) {
        cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len) {
            cap *= 2;
        }

        out = realloc(c->out, cap);
        if (out == NULL) {
            ws_finish(b, c, "out_of_memory");
            return -1;
        }

        c->out = out;
        c->out_cap = cap;
    }

    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;

    ws_flush(b, c);

    return c->state == CS_DONE ? -1 : 0;
}


static void
ws_flush(bench_t *b, bench_conn_t *c)
{
    ssize_t  n;
    size_t   off;

    off = 0;

    while (off < c->out_len) {
        n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            ws_fail_errno(b, c, "write", errno);
            return;
        }

        off += (size_t) n;
    }

    if (off == c->out_len) {
        /* an idle connection keeps no buffer */
        free(c->out);
        c->out = NULL;
        c->out_len = c->out_cap = 0;

    } else if (off > 0) {
        memmove(c->out, c->out + off, c->out_len - off);
        c->out_len -= off;
    }

    ws_update_events(b, c);
}


static void
ws_update_events(bench_t *b, bench_conn_t *c)
{
    uint8_t  want;

    want = EPOLLIN;
    if (c->out_len || c->state == CS_CONNECTING) {
        want |= EPOLLOUT;
    }

    if (want == c->events) {
        return;
    }

    if (epoll_ctl(b->ep, EPOLL_CTL_MOD, c->fd,
                  &(struct epoll_event) { .events = want,
                                          .data.u32 = c->idx }) != 0)
    {
        ws_fail_errno(b, c, "epoll", errno);
        return;
    }

    c->events = want;
}


void
ws_event(bench_t *b, bench_conn_t *c, uint32_t events)
{
    if (c->state == CS_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            ws_connected(b, c);
        }
        return;
    }

    if ((events & EPOLLOUT) && c->out_len) {
        ws_flush(b, c);
        if (c->state == CS_DONE) {
            return;
        }
    }

    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ws_read(b, c);
    }
}


/*
 * One read per readiness event (level-triggered: the rest comes on the
 * next turn, which keeps the connections fair). An incomplete frame kept
 * from the last read is put in front of the new bytes.
 */
static void
ws_read(bench_t *b, bench_conn_t *c)
{
    ssize_t  n;
    size_t   total, off;

    if (c->in_len) {
        memcpy(b->rbuf, c->in, c->in_len);
    }

    n = recv(c->fd, b->rbuf + c->in_len, b->rbuf_size - c->in_len, 0);

    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            ws_fail_errno(b, c, "read", errno);
        }
        return;
    }

    if (n == 0) {
        ws_finish(b, c, "eof");
        return;
    }

    total = c->in_len + (size_t) n;
    off = 0;

    if (c->state == CS_HANDSHAKE) {
        off = ws_response(b, c, b->rbuf, total);
        if (c->state == CS_DONE) {
            return;
        }
    }

    if (c->state != CS_HANDSHAKE) {
        off += ws_frames(b, c, b->rbuf + off, total - off);
        if (c->state == CS_DONE) {
            return;
        }
    }

    ws_keep(b, c, b->rbuf + off, total - off);
}


/* Keeps the unparsed tail of the read buffer for the next read. */
static void
ws_keep(bench_t *b, bench_conn_t *c, const char *p, size_t len)
{
    char  *in;

    if (len == 0) {
        free(c->in);
        c->in = NULL;
        c->in_len = 0;
        return;
    }

    in = realloc(c->in, len);
    if (in == NULL) {
        ws_finish(b, c, "out_of_memory");
        return;
    }

    memcpy(in, p, len);
    c->in = in;
    c->in_len = len;
}


/*
 * The response head to the upgrade: 101 and the right accept value.
 * Returns its length, or 0 while it is incomplete (or on failure).
 */
static size_t
ws_response(bench_t *b, bench_conn_t *c, const char *p, size_t len)
{
    int          status;
    size_t       hlen, vlen;
    const char  *end, *line, *next, *v;
    char         accept[BENCH_WS_ACC_LEN + 1], reason[BENCH_KEY_MAX];

    end = memmem(p, len, "\r\n\r\n", 4);
    if (end == NULL) {
        if (len > WS_RESPONSE_MAX) {
            ws_finish(b, c, "bad_response");
        }
        return 0;
    }

    hlen = (size_t) (end - p) + 4;

    if (hlen < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' '
        || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9'
        || p[11] < '0' || p[11] > '9')
    {
        ws_finish(b, c, "bad_response");
        return 0;
    }

    status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

    if (status != 101) {
        snprintf(reason, sizeof(reason), "http_%d", status);
        ws_finish(b, c, reason);
        return 0;
    }

    if (bench_ws_accept(c->key, accept) != 0) {
        ws_finish(b, c, "accept_digest");
        return 0;
    }

    for (line = memchr(p, '\n', hlen); line && line < end; line = next) {
        line++;
        next = memchr(line, '\n', (size_t) (p + hlen - line));

        if (next == NULL || (size_t) (next - line) < 21
            || strncasecmp(line, "sec-websocket-accept:", 21) != 0)
        {
            continue;
        }

        v = line + 21;
        while (*v == ' ' || *v == '\t') {
            v++;
        }

        vlen = (size_t) (next - v);
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' ')) {
            vlen--;
        }

        if (vlen == BENCH_WS_ACC_LEN
            && memcmp(v, accept, BENCH_WS_ACC_LEN) == 0)
        {
            bench_set_state(b, c, CS_HELLO);
            return hlen;
        }

        break;
    }

    ws_finish(b, c, "bad_accept");

    return 0;
}


/*
 * Parses the complete frames in p[0..len), returns the bytes consumed (an
 * incomplete frame is left for the next read). Stops when c is closed.
 */
static size_t
ws_frames(bench_t *b, bench_conn_t *c, const char *p, size_t len)
{
    size_t          off, hdr;
    uint64_t        plen;
    unsigned        op;
    int             fin, i;
    unsigned char   b0, b1;

    off = 0;

    while (len - off >= 2) {
        b0 = (unsigned char) p[off];
        b1 = (unsigned char) p[off + 1];
        fin = b0 & 0x80;
        op = b0 & 0x0f;

        if ((b0 & 0x70) || (b1 & 0x80)) {
            /* no extension was negotiated; servers never mask */
            ws_protocol_error(b, c, 1002, "protocol_error");
            return off;
        }

        plen = b1 & 0x7f;
        hdr = 2;

        if (plen == 126) {
            hdr = 4;
        } else if (plen == 127) {
            hdr = 10;
        }

        if (len - off < hdr) {
            break;
        }

        if (hdr > 2) {
            plen = 0;
            for (i = 2; i < (int) hdr; i++) {
                plen = (plen << 8) | (unsigned char) p[off + i];
            }
        }

        if (plen > BENCH_MAX_FRAME) {
            ws_protocol_error(b, c, 1009, "frame_too_big");
            return off;
        }

        if (len - off - hdr < plen) {
            break;
        }

        ws_frame(b, c, op, fin, p + off + hdr, (size_t) plen);
        off += hdr + (size_t) plen;

        if (c->state == CS_DONE) {
            return off;
        }
    }

    return off;
}


static void
ws_frame(bench_t *b, bench_conn_t *c, unsigned op, int fin, const char *p,
    size_t len)
{
    char  *frag;

    if (op >= WS_OP_CLOSE) {
        if (!fin || len > 125) {
            ws_protocol_error(b, c, 1002, "protocol_error");
            return;
        }

        if (op == WS_OP_CLOSE) {
            ws_on_close(b, c, p, len);

        } else if (op == WS_OP_PING) {
            b->st.server_pings++;
            (void) ws_send(b, c, WS_OP_PONG, p, len, 1);

        } else if (op != WS_OP_PONG) {
            ws_protocol_error(b, c, 1002, "protocol_error");
        }

        return;
    }

    if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY) {
        ws_protocol_error(b, c, 1002, "protocol_error");
        return;
    }

    /* a new message while a fragmented one is open, or a stray fragment */
    if ((op == WS_OP_CONT) != (c->frag_op != 0)) {
        ws_protocol_error(b, c, 1002, "protocol_error");
        return;
    }

    if (op != WS_OP_CONT && fin) {
        ws_message(b, c, op, p, len);
        return;
    }

    if (c->frag_len + len > BENCH_MAX_FRAME) {
        ws_protocol_error(b, c, 1009, "message_too_big");
        return;
    }

    frag = realloc(c->frag, c->frag_len + len + 1);
    if (frag == NULL) {
        ws_finish(b, c, "out_of_memory");
        return;
    }

    memcpy(frag + c->frag_len, p, len);
    c->frag = frag;
    c->frag_len += len;

    if (op != WS_OP_CONT) {
        c->frag_op = (uint8_t) op;
    }

    if (fin) {
        op = c->frag_op;
        c->frag_op = 0;
        frag = c->frag;
        len = c->frag_len;
        c->frag = NULL;
        c->frag_len = 0;

        ws_message(b, c, op, frag, len);
        free(frag);
    }
}


static void
ws_message(bench_t *b, bench_conn_t *c, unsigned op, const char *p,
    size_t len)
{
    json_val_t   type;
    static const char *const  keys[] = { "type" };

    if (op != WS_OP_TEXT) {
        /* the protocol has only text messages */
        b->st.parse_errors++;
        return;
    }

    if (c->state == CS_HELLO) {
        if (json_scan(p, len, keys, 1, &type) != 0
            || !json_is(&type, "hello"))
        {
            ws_protocol_error(b, c, 1002, "no_hello");
            return;
        }

        bench_set_state(b, c, CS_UP);
        bench_conn_up(b, c);
        return;
    }

    bench_conn_text(b, c, p, len);
}


/* The server's close frame: the end of ours, or its own: echo it. */
static void
ws_on_close(bench_t *b, bench_conn_t *c, const char *p, size_t len)
{
    unsigned  code;
    char      key[BENCH_KEY_MAX];

    code = len >= 2 ? ((unsigned char) p[0] << 8) | (unsigned char) p[1]
                    : 1005;

    snprintf(key, sizeof(key), "%u", code);
    bench_count(&b->st.close_codes, key, strlen(key));

    if (c->state == CS_CLOSING) {
        ws_finish(b, c, "closed");
        return;
    }

    /* 1005 means "no code": the echo carries none either */
    (void) ws_send(b, c, WS_OP_CLOSE, p, len >= 2 ? 2 : 0, 1);

    if (c->state != CS_DONE) {
        snprintf(key, sizeof(key), "close_%u", code);
        ws_finish(b, c, key);
    }
}


static void
ws_protocol_error(bench_t *b, bench_conn_t *c, uint16_t code,
    const char *reason)
{
    char  payload[2];

    payload[0] = (char) (code >> 8);
    payload[1] = (char) (code & 0xff);

    (void) ws_send(b, c, WS_OP_CLOSE, payload, 2, 1);

    if (c->state != CS_DONE) {
        ws_finish(b, c, reason);
    }
}


void
ws_close(bench_t *b, bench_conn_t *c, uint16_t code)
{
    char  payload[2];

    payload[0] = (char) (code >> 8);
    payload[1] = (char) (code & 0xff);

    if (ws_send(b, c, WS_OP_CLOSE, payload, 2, 1) != WS_SEND_OK) {
        return;
    }

    c->deadline = b->now + BENCH_CLOSE_WAIT;
    bench_set_state(b, c, CS_CLOSING);
}


int
ws_send(bench_t *b, bench_conn_t *c, unsigned op, const char *p, size_t len,
    int control)
{
    uint64_t        r;
    unsigned char   mask[4];

    if (c->fd < 0) {
        return WS_SEND_DEAD;
    }

    if (!control && c->out_len > BENCH_OUT_LIMIT) {
        return WS_SEND_FULL;
    }

    if (len > b->payload_size) {
        return WS_SEND_DEAD;
    }

    /* a fresh mask per frame (RFC 6455 section 5.3) */
    r = bench_random(b);
    memcpy(mask, &r, 4);
    len = ws_frame_encode(b->wbuf, op, p, len, mask);

    return ws_write(b, c, b->wbuf, len) == 0 ? WS_SEND_OK : WS_SEND_DEAD;
}

