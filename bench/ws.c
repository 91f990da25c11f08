/*
 * RFC 6455 client over non-blocking sockets (see ws.h). Frames out are
 * encoded with the project's codec (common/chat_ws_frame.h) plus the
 * client's mask; frames in are whole frames cut out of the read buffer.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "chat_ws_frame.h"
#include "ws.h"

#define BENCH_WS_EVENTS      1024
#define BENCH_WS_HEAD_MAX    8192   /* the 101 response head */
#define BENCH_WS_RBUF        (2 * BENCH_WS_MAX_MESSAGE + 64)
#define BENCH_WS_MASKED      0x80

static void bench_ws_errno(bench_ws_loop_t *lp, bench_ws_t *ws,
    const char *what, int err);
static void bench_ws_upgrade(bench_ws_loop_t *lp, bench_ws_t *ws);
static int bench_ws_write(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
    size_t len);
static void bench_ws_flush(bench_ws_loop_t *lp, bench_ws_t *ws);
static void bench_ws_want(bench_ws_loop_t *lp, bench_ws_t *ws);
static void bench_ws_event(bench_ws_loop_t *lp, bench_ws_t *ws,
    uint32_t events);
static void bench_ws_read(bench_ws_loop_t *lp, bench_ws_t *ws);
static void bench_ws_keep(bench_ws_loop_t *lp, bench_ws_t *ws,
    const char *p, size_t len);
static size_t bench_ws_response(bench_ws_loop_t *lp, bench_ws_t *ws,
    const char *p, size_t len);
static const char *bench_ws_header(const char *p, size_t len,
    const char *name, size_t *vlen);
static size_t bench_ws_frames(bench_ws_loop_t *lp, bench_ws_t *ws,
    const char *p, size_t len);
static void bench_ws_frame(bench_ws_loop_t *lp, bench_ws_t *ws, unsigned op,
    int fin, const char *p, size_t len);
static void bench_ws_message(bench_ws_loop_t *lp, bench_ws_t *ws,
    unsigned op, const char *p, size_t len);
static void bench_ws_on_close(bench_ws_loop_t *lp, bench_ws_t *ws,
    const char *p, size_t len);


int
bench_ws_loop_init(bench_ws_loop_t *lp, unsigned long conns)
{
    uint64_t  seed;

    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
        seed = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
    }

    lp->rng = seed;
    lp->count[BENCH_WS_NEW] = conns;
    lp->ep = epoll_create1(EPOLL_CLOEXEC);
    lp->rbuf = malloc(BENCH_WS_RBUF);
    lp->wbuf = malloc(BENCH_WS_SEND_MAX + 16);

    if (lp->ep < 0 || lp->rbuf == NULL || lp->wbuf == NULL) {
        return -1;
    }

    lp->now = bench_ws_now();

    return 0;
}


void
bench_ws_loop_free(bench_ws_loop_t *lp)
{
    if (lp->ep >= 0) {
        close(lp->ep);
    }

    free(lp->rbuf);
    free(lp->wbuf);
}


int
bench_ws_nofile(const char *tool, unsigned long conns)
{
    long           nofile;
    struct rlimit  rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "%s: getrlimit: %s\n", tool, strerror(errno));
        return -1;
    }

    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            fprintf(stderr, "%s: setrlimit: %s\n", tool, strerror(errno));
        }
        (void) getrlimit(RLIMIT_NOFILE, &rl);
    }

    nofile = rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long) rl.rlim_cur;

    /* stdio, epoll and the JSON file need a few */
    if (conns + 16 > (unsigned long) nofile) {
        fprintf(stderr, "%s: %lu connections need more descriptors than "
                "RLIMIT_NOFILE allows (%ld, hard limit); raise it "
                "(ulimit -Hn, as root) or split the load over processes "
                "(--src, --offset)\n", tool, conns, nofile);
        return -1;
    }

    return 0;
}


int
bench_ws_poll(bench_ws_loop_t *lp, int ms)
{
    int                 i, n;
    bench_ws_t         *ws;
    struct epoll_event  ev[BENCH_WS_EVENTS];

    n = epoll_wait(lp->ep, ev, BENCH_WS_EVENTS, ms);

    if (n < 0 && errno != EINTR) {
        return -1;
    }

    lp->now = bench_ws_now();

    for (i = 0; i < n; i++) {
        ws = ev[i].data.ptr;

        if (ws->state != BENCH_WS_DONE) {
            bench_ws_event(lp, ws, ev[i].events);
        }
    }

    lp->now = bench_ws_now();

    return 0;
}


uint64_t
bench_ws_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * BENCH_WS_NS + (uint64_t) ts.tv_nsec;
}


/* splitmix64: fast, and seeded from getrandom() */
uint64_t
bench_ws_random(bench_ws_loop_t *lp)
{
    uint64_t  z;

    z = (lp->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


void
bench_ws_set_state(bench_ws_loop_t *lp, bench_ws_t *ws, int state)
{
    lp->count[ws->state]--;
    lp->count[state]++;
    ws->state = (uint8_t) state;
}


void
bench_ws_start(bench_ws_loop_t *lp, bench_ws_t *ws)
{
    int  fd, one;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        bench_ws_errno(lp, ws, "socket", errno);
        return;
    }

    ws->fd = fd;
    ws->deadline = lp->now + lp->connect_ns;
    bench_ws_set_state(lp, ws, BENCH_WS_CONNECTING);

    one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (lp->src) {
        /*
         * Without this, bind() picks a port unique per source address for
         * any destination; with it, connect() picks one unique per 4-tuple.
         */
        (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                          sizeof(one));

        if (bind(fd, (const struct sockaddr *) lp->src,
                 sizeof(struct sockaddr_in)) != 0)
        {
            bench_ws_errno(lp, ws, "bind", errno);
            return;
        }
    }

    ws->events = EPOLLIN | EPOLLOUT;
    if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd,
                  &(struct epoll_event) { .events = ws->events,
                                          .data.ptr = ws }) != 0)
    {
        bench_ws_errno(lp, ws, "epoll", errno);
        return;
    }

    if (connect(fd, (const struct sockaddr *) lp->addr,
                sizeof(struct sockaddr_in)) == 0)
    {
        bench_ws_upgrade(lp, ws);

    } else if (errno != EINPROGRESS) {
        bench_ws_errno(lp, ws, "connect", errno);
    }
}


static void
bench_ws_errno(bench_ws_loop_t *lp, bench_ws_t *ws, const char *what,
    int err)
{
    const char  *name;
    char         reason[BENCH_KEY_MAX];

    name = strerrorname_np(err);
    snprintf(reason, sizeof(reason), "%s_%s", what, name ? name : "error");

    bench_ws_finish(lp, ws, reason);
}


void
bench_ws_finish(bench_ws_loop_t *lp, bench_ws_t *ws, const char *reason)
{
    int  prev;

    prev = ws->state;

    if (ws->fd >= 0) {
        /* closing the only descriptor of the socket removes it from epoll */
        close(ws->fd);
        ws->fd = -1;
    }

    free(ws->out);
    free(ws->in);
    free(ws->frag);
    ws->out = ws->in = ws->frag = NULL;
    ws->out_len = ws->out_cap = ws->in_len = ws->frag_len = 0;

    bench_ws_set_state(lp, ws, BENCH_WS_DONE);
    lp->handler->closed(lp, ws, prev, reason);
}


/* The TCP connection is established (or failed): send the upgrade. */
static void
bench_ws_upgrade(bench_ws_loop_t *lp, bench_ws_t *ws)
{
    int            err, n;
    socklen_t      elen;
    uint64_t       nonce[2];
    char           target[1024], headers[1024], req[3072];

    err = 0;
    elen = sizeof(err);

    if (getsockopt(ws->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
        err = errno;
    }

    if (err != 0) {
        bench_ws_errno(lp, ws, "connect", err);
        return;
    }

    nonce[0] = bench_ws_random(lp);
    nonce[1] = bench_ws_random(lp);
    bench_ws_key((const unsigned char *) nonce, ws->key);

    headers[0] = '\0';
    if (lp->handler->request(lp, ws, target, sizeof(target), headers,
                             sizeof(headers)) != 0)
    {
        bench_ws_finish(lp, ws, "request");
        return;
    }

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\n"
                 "Host: %s:%u\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "%s%s%s"
                 "%s\r\n",
                 target, lp->host, lp->port, ws->key,
                 lp->protocol ? "Sec-WebSocket-Protocol: " : "",
                 lp->protocol ? lp->protocol : "", lp->protocol ? "\r\n" : "",
                 headers);

    if (n < 0 || (size_t) n >= sizeof(req)) {
        bench_ws_finish(lp, ws, "request_too_long");
        return;
    }

    bench_ws_set_state(lp, ws, BENCH_WS_UPGRADE);

    (void) bench_ws_write(lp, ws, req, (size_t) n);
}


/*
 * Writes what it can now and keeps the rest for EPOLLOUT, after anything
 * kept before. Returns 0, or -1 when the connection is gone.
 */
static int
bench_ws_write(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
    size_t len)
{
    ssize_t   n;
    size_t    cap;
    char     *out;

    if (ws->out_len == 0) {
        n = send(ws->fd, p, len, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                bench_ws_errno(lp, ws, "write", errno);
                return -1;
            }
            n = 0;
        }

        p += n;
        len -= (size_t) n;

        if (len == 0) {
            /* EPOLLOUT may still be on from the connect */
            bench_ws_want(lp, ws);
            return ws->state == BENCH_WS_DONE ? -1 : 0;
        }
    }

    if (ws->out_len + len > ws->out_cap) {
        cap = ws->out_cap ? ws->out_cap : 4096;
        while (cap < ws->out_len + len) {
            cap *= 2;
        }

        out = realloc(ws->out, cap);
        if (out == NULL) {
            bench_ws_finish(lp, ws, "out_of_memory");
            return -1;
        }

        ws->out = out;
        ws->out_cap = cap;
    }

    memcpy(ws->out + ws->out_len, p, len);
    ws->out_len += len;

    bench_ws_flush(lp, ws);

    return ws->state == BENCH_WS_DONE ? -1 : 0;
}


static void
bench_ws_flush(bench_ws_loop_t *lp, bench_ws_t *ws)
{
    ssize_t  n;
    size_t   off;

    off = 0;

    while (off < ws->out_len) {
        n = send(ws->fd, ws->out + off, ws->out_len - off, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            bench_ws_errno(lp, ws, "write", errno);
            return;
        }

        off += (size_t) n;
    }

    if (off == ws->out_len) {
        /* an idle connection keeps no buffer */
        free(ws->out);
        ws->out = NULL;
        ws->out_len = ws->out_cap = 0;

    } else if (off > 0) {
        memmove(ws->out, ws->out + off, ws->out_len - off);
        ws->out_len -= off;
    }

    bench_ws_want(lp, ws);
}


/* EPOLLOUT only while bytes wait (or the connect is pending). */
static void
bench_ws_want(bench_ws_loop_t *lp, bench_ws_t *ws)
{
    uint8_t  want;

    want = EPOLLIN;
    if (ws->out_len || ws->state == BENCH_WS_CONNECTING) {
        want |= EPOLLOUT;
    }

    if (want == ws->events) {
        return;
    }

    if (epoll_ctl(lp->ep, EPOLL_CTL_MOD, ws->fd,
                  &(struct epoll_event) { .events = want,
                                          .data.ptr = ws }) != 0)
    {
        bench_ws_errno(lp, ws, "epoll", errno);
        return;
    }

    ws->events = want;
}


static void
bench_ws_event(bench_ws_loop_t *lp, bench_ws_t *ws, uint32_t events)
{
    if (ws->state == BENCH_WS_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            bench_ws_upgrade(lp, ws);
        }
        return;
    }

    if ((events & EPOLLOUT) && ws->out_len) {
        bench_ws_flush(lp, ws);
        if (ws->state == BENCH_WS_DONE) {
            return;
        }
    }

    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        bench_ws_read(lp, ws);
    }
}


/*
 * One read per readiness event (level-triggered: the rest comes on the
 * next turn, which keeps the connections fair). An incomplete frame kept
 * from the last read is put in front of the new bytes.
 */
static void
bench_ws_read(bench_ws_loop_t *lp, bench_ws_t *ws)
{
    ssize_t  n;
    size_t   total, off;

    if (ws->in_len) {
        memcpy(lp->rbuf, ws->in, ws->in_len);
    }

    n = recv(ws->fd, lp->rbuf + ws->in_len, BENCH_WS_RBUF - ws->in_len, 0);

    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            bench_ws_errno(lp, ws, "read", errno);
        }
        return;
    }

    if (n == 0) {
        bench_ws_finish(lp, ws, "eof");
        return;
    }

    total = ws->in_len + (size_t) n;
    off = 0;

    if (ws->state == BENCH_WS_UPGRADE) {
        off = bench_ws_response(lp, ws, lp->rbuf, total);
    }

    if (ws->state != BENCH_WS_UPGRADE && ws->state != BENCH_WS_DONE) {
        off += bench_ws_frames(lp, ws, lp->rbuf + off, total - off);
    }

    if (ws->state != BENCH_WS_DONE) {
        bench_ws_keep(lp, ws, lp->rbuf + off, total - off);
    }
}


/* Keeps the unparsed tail of the read buffer for the next read. */
static void
bench_ws_keep(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
    size_t len)
{
    char  *in;

    if (len == 0) {
        free(ws->in);
        ws->in = NULL;
        ws->in_len = 0;
        return;
    }

    in = realloc(ws->in, len);
    if (in == NULL) {
        bench_ws_finish(lp, ws, "out_of_memory");
        return;
    }

    memmove(in, p, len);
    ws->in = in;
    ws->in_len = len;
}


/*
 * The response head to the upgrade: 101, the right accept value and the
 * subprotocol asked for. Returns its length, or 0 while it is incomplete
 * (or on failure).
 */
static size_t
bench_ws_response(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
    size_t len)
{
    int          status;
    size_t       hlen, vlen;
    const char  *end, *v;
    char         accept[BENCH_WS_ACC_LEN + 1], reason[BENCH_KEY_MAX];

    end = memmem(p, len, "\r\n\r\n", 4);
    if (end == NULL) {
        if (len > BENCH_WS_HEAD_MAX) {
            bench_ws_finish(lp, ws, "bad_response");
        }
        return 0;
    }

    hlen = (size_t) (end - p) + 4;

    if (hlen < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' '
        || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9'
        || p[11] < '0' || p[11] > '9')
    {
        bench_ws_finish(lp, ws, "bad_response");
        return 0;
    }

    status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

    if (status != 101) {
        snprintf(reason, sizeof(reason), "http_%d", status);
        bench_ws_finish(lp, ws, reason);
        return 0;
    }

    if (bench_ws_accept(ws->key, accept) != 0) {
        bench_ws_finish(lp, ws, "accept_digest");
        return 0;
    }

    v = bench_ws_header(p, hlen, "Sec-WebSocket-Accept", &vlen);
    if (v == NULL || vlen != BENCH_WS_ACC_LEN
        || memcmp(v, accept, BENCH_WS_ACC_LEN) != 0)
    {
        bench_ws_finish(lp, ws, "bad_accept");
        return 0;
    }

    if (lp->protocol) {
        v = bench_ws_header(p, hlen, "Sec-WebSocket-Protocol", &vlen);
        if (v == NULL || vlen != strlen(lp->protocol)
            || strncasecmp(v, lp->protocol, vlen) != 0)
        {
            bench_ws_finish(lp, ws, "no_subprotocol");
            return 0;
        }
    }

    bench_ws_set_state(lp, ws, BENCH_WS_OPEN);
    lp->handler->open(lp, ws);

    return hlen;
}


/*
 * The value of header name in the response head p (names are
 * case-insensitive, blanks around the value optional), or NULL.
 */
static const char *
bench_ws_header(const char *p, size_t len, const char *name, size_t *vlen)
{
    size_t       nlen;
    const char  *line, *eol, *end, *v;

    nlen = strlen(name);
    end = p + len;

    for (line = p; line < end; line = eol + 2) {
        eol = memmem(line, (size_t) (end - line), "\r\n", 2);
        if (eol == NULL) {
            return NULL;
        }

        if ((size_t) (eol - line) <= nlen || line[nlen] != ':'
            || strncasecmp(line, name, nlen) != 0)
        {
            continue;
        }

        v = line + nlen + 1;
        while (v < eol && (*v == ' ' || *v == '\t')) {
            v++;
        }

        *vlen = (size_t) (eol - v);
        while (*vlen && (v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t')) {
            (*vlen)--;
        }

        return v;
    }

    return NULL;
}


/*
 * Handles the complete frames in p[0..len), returns the bytes consumed (an
 * incomplete frame is left for the next read). Stops when ws is closed.
 */
static size_t
bench_ws_frames(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
    size_t len)
{
    size_t               off, hdr, i;
    uint64_t             plen;
    const unsigned char  *u;

    off = 0;

    while (ws->state != BENCH_WS_DONE && len - off >= 2) {
        u = (const unsigned char *) p + off;

        if ((u[0] & 0x70) || (u[1] & BENCH_WS_MASKED)) {
            /* no extension was negotiated; servers never mask */
            bench_ws_fail(lp, ws, CHAT_WS_CLOSE_PROTOCOL, "protocol_error");
            break;
        }

        plen = u[1] & 0x7f;
        hdr = plen == 126 ? 4 : plen == 127 ? 10 : 2;

        if (len - off < hdr) {
            break;
        }

        if (hdr > 2) {
            for (plen = 0, i = 2; i < hdr; i++) {
                plen = (plen << 8) | u[i];
            }
        }

        if (plen > BENCH_WS_MAX_MESSAGE) {
            bench_ws_fail(lp, ws, CHAT_WS_CLOSE_TOO_BIG, "frame_too_big");
            break;
        }

        if (len - off - hdr < plen) {
            break;
        }

        bench_ws_frame(lp, ws, u[0] & 0x0f, u[0] & 0x80, p + off + hdr,
                       (size_t) plen);
        off += hdr + (size_t) plen;
    }

    return off;
}


static void
bench_ws_frame(bench_ws_loop_t *lp, bench_ws_t *ws, unsigned op, int fin,
    const char *p, size_t len)
{
    char  *frag;

    if (op >= CHAT_WS_OP_CLOSE) {
        if (!fin || len > CHAT_WS_MAX_CONTROL) {
            bench_ws_fail(lp, ws, CHAT_WS_CLOSE_PROTOCOL, "protocol_error");

        } else if (op == CHAT_WS_OP_CLOSE) {
            bench_ws_on_close(lp, ws, p, len);

        } else if (op == CHAT_WS_OP_PING) {
            lp->st->server_pings++;
            (void) bench_ws_send(lp, ws, CHAT_WS_OP_PONG, p, len, 1);

        } else if (op != CHAT_WS_OP_PONG) {
            bench_ws_fail(lp, ws, CHAT_WS_CLOSE_PROTOCOL, "protocol_error");
        }

        return;
    }

    /* a reserved opcode, a new message while a fragmented one is open,
       or a stray fragment */
    if (op > CHAT_WS_OP_BINARY
        || (op == CHAT_WS_OP_CONT) != (ws->frag_op != 0))
    {
        bench_ws_fail(lp, ws, CHAT_WS_CLOSE_PROTOCOL, "protocol_error");
        return;
    }

    if (op != CHAT_WS_OP_CONT && fin) {
        bench_ws_message(lp, ws, op, p, len);
        return;
    }

    if (ws->frag_len + len > BENCH_WS_MAX_MESSAGE) {
        bench_ws_fail(lp, ws, CHAT_WS_CLOSE_TOO_BIG, "message_too_big");
        return;
    }

    frag = realloc(ws->frag, ws->frag_len + len + 1);
    if (frag == NULL) {
        bench_ws_finish(lp, ws, "out_of_memory");
        return;
    }

    memcpy(frag + ws->frag_len, p, len);
    ws->frag = frag;
    ws->frag_len += len;

    if (op != CHAT_WS_OP_CONT) {
        ws->frag_op = (uint8_t) op;
    }

    if (fin) {
        op = ws->frag_op;
        len = ws->frag_len;
        ws->frag_op = 0;
        ws->frag = NULL;
        ws->frag_len = 0;

        bench_ws_message(lp, ws, op, frag, len);
        free(frag);
    }
}


static void
bench_ws_message(bench_ws_loop_t *lp, bench_ws_t *ws, unsigned op,
    const char *p, size_t len)
{
    if (op != CHAT_WS_OP_TEXT) {
        /* the protocols measured have only text messages */
        lp->st->parse_errors++;
        return;
    }

    lp->handler->text(lp, ws, p, len);
}


/* The server's close frame: the end of ours, or its own: echo it. */
static void
bench_ws_on_close(bench_ws_loop_t *lp, bench_ws_t *ws, const char *p,
    size_t len)
{
    unsigned  code;
    char      key[BENCH_KEY_MAX];

    code = len >= 2 ? ((unsigned) (unsigned char) p[0] << 8)
                      | (unsigned char) p[1]
                    : CHAT_WS_CLOSE_NO_STATUS;

    snprintf(key, sizeof(key), "%u", code);
    bench_count(&lp->st->close_codes, key, strlen(key));

    if (ws->state == BENCH_WS_CLOSING) {
        bench_ws_finish(lp, ws, "closed");
        return;
    }

    /* 1005 means "no code": the echo carries none either */
    (void) bench_ws_send(lp, ws, CHAT_WS_OP_CLOSE, p, len >= 2 ? 2 : 0, 1);

    if (ws->state != BENCH_WS_DONE) {
        snprintf(key, sizeof(key), "close_%u", code);
        bench_ws_finish(lp, ws, key);
    }
}


void
bench_ws_fail(bench_ws_loop_t *lp, bench_ws_t *ws, uint16_t code,
    const char *reason)
{
    unsigned char  payload[CHAT_WS_MAX_CONTROL];
    size_t         n;

    n = chat_ws_close_payload(payload, code, NULL, 0);
    (void) bench_ws_send(lp, ws, CHAT_WS_OP_CLOSE, (char *) payload, n, 1);

    if (ws->state != BENCH_WS_DONE) {
        bench_ws_finish(lp, ws, reason);
    }
}


void
bench_ws_close(bench_ws_loop_t *lp, bench_ws_t *ws, uint16_t code)
{
    unsigned char  payload[CHAT_WS_MAX_CONTROL];
    size_t         n;

    n = chat_ws_close_payload(payload, code, NULL, 0);
    if (bench_ws_send(lp, ws, CHAT_WS_OP_CLOSE, (char *) payload, n, 1)
        != BENCH_WS_OK)
    {
        return;
    }

    ws->deadline = lp->now + BENCH_WS_CLOSE_WAIT;
    bench_ws_set_state(lp, ws, BENCH_WS_CLOSING);
}


int
bench_ws_send(bench_ws_loop_t *lp, bench_ws_t *ws, unsigned op,
    const char *p, size_t len, int control)
{
    size_t          i, hdr;
    uint64_t        r;
    unsigned char  *f, *mask;

    if (ws->fd < 0 || len > BENCH_WS_SEND_MAX) {
        return BENCH_WS_DEAD;
    }

    if (!control && ws->out_len > BENCH_WS_OUT_LIMIT) {
        return BENCH_WS_FULL;
    }

    /* the server frame's header, with the mask bit and key of a client */
    f = (unsigned char *) lp->wbuf;
    hdr = chat_ws_frame_header(f, op, len);
    f[1] |= BENCH_WS_MASKED;

    /* a fresh mask per frame (RFC 6455 section 5.3) */
    r = bench_ws_random(lp);
    mask = f + hdr;
    memcpy(mask, &r, 4);
    hdr += 4;

    for (i = 0; i < len; i++) {
        f[hdr + i] = (unsigned char) p[i] ^ mask[i & 3];
    }

    return bench_ws_write(lp, ws, lp->wbuf, hdr + len) == 0 ? BENCH_WS_OK
                                                            : BENCH_WS_DEAD;
}
