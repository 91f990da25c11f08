/*
 * The WebSocket client of nchan-bench (RFC 6455, client side, no
 * extensions, no subprotocol). chat-bench's ws_client.c is bound to the
 * chat protocol (a bearer token on the upgrade, a "hello" before a
 * connection counts as up); Nchan has neither, so this one is up as soon
 * as the 101 with the right accept value is read. The handshake values
 * come from bench_crypto.c.
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

#include "../bench_crypto.h"
#include "nb.h"

#define NB_HEAD_MAX  8192   /* the 101 response head */

static void nb_ws_errno(nb_t *nb, nb_conn_t *c, const char *what, int err);
static void nb_ws_upgrade(nb_t *nb, nb_conn_t *c);
static int nb_ws_write(nb_t *nb, nb_conn_t *c, const char *p, size_t len);
static void nb_ws_flush(nb_t *nb, nb_conn_t *c);
static void nb_ws_want(nb_t *nb, nb_conn_t *c);
static void nb_ws_read(nb_t *nb, nb_conn_t *c);
static size_t nb_ws_head(nb_t *nb, nb_conn_t *c, const char *p, size_t len);
static int nb_ws_accept_ok(const char *head, size_t len, const char *want);
static size_t nb_ws_parse(nb_t *nb, nb_conn_t *c, const char *p,
    size_t len);
static void nb_ws_control(nb_t *nb, nb_conn_t *c, unsigned op,
    const char *p, size_t len);
static void nb_ws_data(nb_t *nb, nb_conn_t *c, unsigned op, int fin,
    const char *p, size_t len);
static void nb_ws_fail(nb_t *nb, nb_conn_t *c, uint16_t code,
    const char *reason);


void
nb_ws_start(nb_t *nb, nb_conn_t *c)
{
    int  fd, one;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        nb_ws_errno(nb, c, "socket", errno);
        return;
    }

    c->fd = fd;
    c->deadline = nb->now
                  + (uint64_t) (nb->conf.connect_timeout * (double) NB_NS);
    nb_set_state(nb, c, NS_CONNECTING);

    one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (nb->conf.src) {
        /* the port is then chosen per 4-tuple at connect(), not per source
           address at bind(): more than 28k connections per source */
        (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                          sizeof(one));
        if (bind(fd, (struct sockaddr *) &nb->conf.src_addr,
                 sizeof(nb->conf.src_addr)) != 0)
        {
            nb_ws_errno(nb, c, "bind", errno);
            return;
        }
    }

    c->events = EPOLLIN | EPOLLOUT;
    if (epoll_ctl(nb->ep, EPOLL_CTL_ADD, fd,
                  &(struct epoll_event) { .events = c->events,
                                          .data.u32 = c->idx }) != 0)
    {
        nb_ws_errno(nb, c, "epoll", errno);
        return;
    }

    if (connect(fd, (struct sockaddr *) &nb->conf.addr,
                sizeof(nb->conf.addr)) == 0)
    {
        nb_ws_upgrade(nb, c);

    } else if (errno != EINPROGRESS) {
        nb_ws_errno(nb, c, "connect", errno);
    }
}


static void
nb_ws_errno(nb_t *nb, nb_conn_t *c, const char *what, int err)
{
    const char  *name;
    char         reason[NB_KEY_MAX];

    name = strerrorname_np(err);
    snprintf(reason, sizeof(reason), "%s_%s", what, name ? name : "error");
    nb_ws_finish(nb, c, reason);
}


void
nb_ws_finish(nb_t *nb, nb_conn_t *c, const char *reason)
{
    int  prev;

    prev = c->state;

    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }

    free(c->out);
    free(c->in);
    free(c->frag);
    c->out = c->in = c->frag = NULL;
    c->out_len = c->out_cap = c->in_len = c->frag_len = 0;

    nb_set_state(nb, c, NS_DONE);
    nb_conn_closed(nb, c, prev, reason);
}


/* TCP is up (or failed): send the upgrade request for the channel. */
static void
nb_ws_upgrade(nb_t *nb, nb_conn_t *c)
{
    int            err, n;
    socklen_t      elen;
    uint64_t       r[2];
    unsigned long  chan;
    const char    *path;
    char           req[1024];

    err = 0;
    elen = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
        err = errno;
    }
    if (err != 0) {
        nb_ws_errno(nb, c, "connect", err);
        return;
    }

    r[0] = nb_random(nb);
    r[1] = nb_random(nb);
    bench_ws_key((const unsigned char *) r, c->key);

    /* relay: the two ends of a pair share a channel */
    chan = nb->conf.offset
           + (nb->conf.mode == NB_RELAY ? c->idx / 2 : c->idx);
    path = c->role == NB_PUB ? nb->conf.pub_path : nb->conf.sub_path;

    n = snprintf(req, sizeof(req),
                 "GET %s%s%lu HTTP/1.1\r\n"
                 "Host: %s:%u\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "\r\n",
                 path, nb->conf.prefix, chan, nb->conf.host, nb->conf.port,
                 c->key);
    if (n < 0 || (size_t) n >= sizeof(req)) {
        nb_ws_finish(nb, c, "request_too_long");
        return;
    }

    nb_set_state(nb, c, NS_HANDSHAKE);
    (void) nb_ws_write(nb, c, req, (size_t) n);
}


/*
 * Writes what the socket takes now and queues the rest (after anything
 * queued before) for EPOLLOUT. Returns 0, or -1 when c is gone.
 */
static int
nb_ws_write(nb_t *nb, nb_conn_t *c, const char *p, size_t len)
{
    ssize_t  n;
    size_t   cap;
    char    *out;

    if (c->out_len == 0) {
        n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                nb_ws_errno(nb, c, "write", errno);
                return -1;
            }
            n = 0;
        }
        p += n;
        len -= (size_t) n;
    }

    if (len > 0) {
        if (c->out_len + len > c->out_cap) {
            for (cap = c->out_cap ? c->out_cap : 4096;
                 cap < c->out_len + len; cap *= 2) { /* void */ }

            out = realloc(c->out, cap);
            if (out == NULL) {
                nb_ws_finish(nb, c, "out_of_memory");
                return -1;
            }
            c->out = out;
            c->out_cap = cap;
        }
        memcpy(c->out + c->out_len, p, len);
        c->out_len += len;
    }

    nb_ws_want(nb, c);
    return c->state == NS_DONE ? -1 : 0;
}


static void
nb_ws_flush(nb_t *nb, nb_conn_t *c)
{
    ssize_t  n;
    size_t   done;

    for (done = 0; done < c->out_len; done += (size_t) n) {
        n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                n = 0;
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            nb_ws_errno(nb, c, "write", errno);
            return;
        }
    }

    if (done == c->out_len) {
        /* an idle connection holds no buffer */
        free(c->out);
        c->out = NULL;
        c->out_len = c->out_cap = 0;

    } else {
        memmove(c->out, c->out + done, c->out_len - done);
        c->out_len -= done;
    }

    nb_ws_want(nb, c);
}


/* EPOLLOUT only while bytes wait (or the connect is pending). */
static void
nb_ws_want(nb_t *nb, nb_conn_t *c)
{
    uint8_t  want;

    want = EPOLLIN;
    if (c->out_len > 0 || c->state == NS_CONNECTING) {
        want |= EPOLLOUT;
    }
    if (want == c->events) {
        return;
    }

    if (epoll_ctl(nb->ep, EPOLL_CTL_MOD, c->fd,
                  &(struct epoll_event) { .events = want,
                                          .data.u32 = c->idx }) != 0)
    {
        nb_ws_errno(nb, c, "epoll", errno);
        return;
    }
    c->events = want;
}


void
nb_ws_event(nb_t *nb, nb_conn_t *c, uint32_t events)
{
    if (c->state == NS_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            nb_ws_upgrade(nb, c);
        }
        return;
    }

    if ((events & EPOLLOUT) && c->out_len > 0) {
        nb_ws_flush(nb, c);
        if (c->state == NS_DONE) {
            return;
        }
    }

    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        nb_ws_read(nb, c);
    }
}


/*
 * One recv per event (level-triggered epoll brings the rest on the next
 * turn, so that busy connections do not starve the others). A partial
 * frame kept from the previous read goes in front of the new bytes.
 */
static void
nb_ws_read(nb_t *nb, nb_conn_t *c)
{
    ssize_t  n;
    size_t   len, used;
    char    *keep;

    if (c->in_len > 0) {
        memcpy(nb->rbuf, c->in, c->in_len);
    }

    n = recv(c->fd, nb->rbuf + c->in_len, nb->rbuf_size - c->in_len, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            nb_ws_errno(nb, c, "read", errno);
        }
        return;
    }
    if (n == 0) {
        nb_ws_finish(nb, c, "eof");
        return;
    }

    len = c->in_len + (size_t) n;
    used = 0;

    if (c->state == NS_HANDSHAKE) {
        used = nb_ws_head(nb, c, nb->rbuf, len);
    }
    if (c->state == NS_UP || c->state == NS_CLOSING) {
        used += nb_ws_parse(nb, c, nb->rbuf + used, len - used);
    }
    if (c->state == NS_DONE) {
        return;
    }

    free(c->in);
    c->in = NULL;
    c->in_len = 0;

    if (used < len) {
        keep = malloc(len - used);
        if (keep == NULL) {
            nb_ws_finish(nb, c, "out_of_memory");
            return;
        }
        memcpy(keep, nb->rbuf + used, len - used);
        c->in = keep;
        c->in_len = len - used;
    }
}


/*
 * The answer to the upgrade: "101" and the accept value of our key.
 * Returns the head's length once complete and right, else 0.
 */
static size_t
nb_ws_head(nb_t *nb, nb_conn_t *c, const char *p, size_t len)
{
    const char  *end;
    size_t       hlen;
    char         want[BENCH_WS_ACC_LEN + 1], reason[NB_KEY_MAX];

    end = memmem(p, len, "\r\n\r\n", 4);
    if (end == NULL) {
        if (len > NB_HEAD_MAX) {
            nb_ws_finish(nb, c, "bad_response");
        }
        return 0;
    }
    hlen = (size_t) (end - p) + 4;

    if (hlen < 13 || strncmp(p, "HTTP/1.1 ", 9) != 0) {
        nb_ws_finish(nb, c, "bad_response");
        return 0;
    }
    if (strncmp(p + 9, "101", 3) != 0) {
        snprintf(reason, sizeof(reason), "http_%.3s", p + 9);
        nb_ws_finish(nb, c, reason);
        return 0;
    }

    if (bench_ws_accept(c->key, want) != 0) {
        nb_ws_finish(nb, c, "accept_digest");
        return 0;
    }
    if (!nb_ws_accept_ok(p, hlen, want)) {
        nb_ws_finish(nb, c, "bad_accept");
        return 0;
    }

    nb_set_state(nb, c, NS_UP);
    nb_conn_up(nb, c);

    return hlen;
}


/* Whether the head has "Sec-WebSocket-Accept: <want>" (any case, any
   blanks around the value). */
static int
nb_ws_accept_ok(const char *head, size_t len, const char *want)
{
    static const char  name[] = "\nsec-websocket-accept:";
    const char  *p, *end;
    size_t       i;

    end = head + len;

    for (p = head; p + sizeof(name) - 1 < end; p++) {
        if (strncasecmp(p, name, sizeof(name) - 1) != 0) {
            continue;
        }

        p += sizeof(name) - 1;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        for (i = 0; want[i] && p + i < end && p[i] == want[i]; i++) {
            /* void */
        }
        return want[i] == '\0' && p + i < end
               && (p[i] == '\r' || p[i] == ' ' || p[i] == '\t');
    }

    return 0;
}


/*
 * Hands every complete frame in p[0..len) on; returns the bytes used (a
 * partial frame stays for the next read). Stops once c is closed.
 */
static size_t
nb_ws_parse(nb_t *nb, nb_conn_t *c, const char *p, size_t len)
{
    const unsigned char  *u;
    size_t                pos, need, i;
    uint64_t              plen;
    unsigned              op;

    pos = 0;

    while (c->state != NS_DONE && len - pos >= 2) {
        u = (const unsigned char *) p + pos;

        /* nothing was negotiated that sets RSV bits; a server never masks */
        if ((u[0] & 0x70) != 0 || (u[1] & 0x80) != 0) {
            nb_ws_fail(nb, c, 1002, "protocol_error");
            break;
        }

        plen = u[1] & 0x7f;
        need = plen == 126 ? 4 : plen == 127 ? 10 : 2;
        if (len - pos < need) {
            break;
        }
        if (need > 2) {
            for (plen = 0, i = 2; i < need; i++) {
                plen = plen << 8 | u[i];
            }
        }
        if (plen > NB_MAX_FRAME) {
            nb_ws_fail(nb, c, 1009, "frame_too_big");
            break;
        }
        if (len - pos - need < plen) {
            break;
        }

        op = u[0] & 0x0f;
        if (op & 0x8) {
            nb_ws_control(nb, c, op, p + pos + need, (size_t) plen);
        } else {
            nb_ws_data(nb, c, op, u[0] & 0x80, p + pos + need,
                       (size_t) plen);
        }
        pos += need + (size_t) plen;
    }

    return pos;
}


static void
nb_ws_control(nb_t *nb, nb_conn_t *c, unsigned op, const char *p,
    size_t len)
{
    unsigned  code;
    char      key[NB_KEY_MAX];

    if (len > 125) {
        nb_ws_fail(nb, c, 1002, "protocol_error");
        return;
    }

    switch (op) {

    case NB_WS_PING:
        nb->st.server_pings++;
        (void) nb_ws_send(nb, c, NB_WS_PONG, p, len, 1);
        return;

    case NB_WS_PONG:
        return;

    case NB_WS_CLOSE:
        code = len >= 2 ? (unsigned) ((unsigned char) p[0] << 8
                                      | (unsigned char) p[1])
                        : 1005;
        snprintf(key, sizeof(key), "%u", code);
        nb_count(&nb->st.close_codes, key);

        if (c->state == NS_CLOSING) {
            nb_ws_finish(nb, c, "closed");
            return;
        }
        /* the server's own close: echo its code, then go */
        (void) nb_ws_send(nb, c, NB_WS_CLOSE, p, len >= 2 ? 2 : 0, 1);
        if (c->state != NS_DONE) {
            snprintf(key, sizeof(key), "close_%u", code);
            nb_ws_finish(nb, c, key);
        }
        return;

    default:
        nb_ws_fail(nb, c, 1002, "protocol_error");
    }
}


/* A text or binary frame, or a piece of a fragmented message. */
static void
nb_ws_data(nb_t *nb, nb_conn_t *c, unsigned op, int fin, const char *p,
    size_t len)
{
    char  *frag;

    if (op > 0x2 || (op == 0) != (c->frag_op != 0)) {
        /* a reserved opcode, a stray continuation, or a new message
           inside a fragmented one */
        nb_ws_fail(nb, c, 1002, "protocol_error");
        return;
    }

    if (op != 0 && fin) {
        nb_conn_text(nb, c, p, len);
        return;
    }

    if (c->frag_len + len > NB_MAX_FRAME) {
        nb_ws_fail(nb, c, 1009, "message_too_big");
        return;
    }
    frag = realloc(c->frag, c->frag_len + len + 1);
    if (frag == NULL) {
        nb_ws_finish(nb, c, "out_of_memory");
        return;
    }
    memcpy(frag + c->frag_len, p, len);
    c->frag = frag;
    c->frag_len += len;
    if (op != 0) {
        c->frag_op = (uint8_t) op;
    }

    if (fin) {
        nb_conn_text(nb, c, c->frag, c->frag_len);
        free(c->frag);
        c->frag = NULL;
        c->frag_len = 0;
        c->frag_op = 0;
    }
}


static void
nb_ws_fail(nb_t *nb, nb_conn_t *c, uint16_t code, const char *reason)
{
    unsigned char  b[2] = { (unsigned char) (code >> 8),
                            (unsigned char) code };

    (void) nb_ws_send(nb, c, NB_WS_CLOSE, (const char *) b, 2, 1);
    if (c->state != NS_DONE) {
        nb_ws_finish(nb, c, reason);
    }
}


void
nb_ws_close(nb_t *nb, nb_conn_t *c, uint16_t code)
{
    unsigned char  b[2] = { (unsigned char) (code >> 8),
                            (unsigned char) code };

    if (nb_ws_send(nb, c, NB_WS_CLOSE, (const char *) b, 2, 1)
        != NB_SEND_OK)
    {
        return;
    }
    c->deadline = nb->now + NB_CLOSE_WAIT;
    nb_set_state(nb, c, NS_CLOSING);
}


/*
 * One masked frame. Data frames are refused (NB_SEND_FULL) while more
 * than NB_OUT_LIMIT bytes wait; control frames never are.
 */
int
nb_ws_send(nb_t *nb, nb_conn_t *c, unsigned op, const char *p, size_t len,
    int control)
{
    unsigned char  *f;
    size_t          h, i;
    uint64_t        r;

    if (c->fd < 0 || len > NB_BODY_MAX) {
        return NB_SEND_DEAD;
    }
    if (!control && c->out_len > NB_OUT_LIMIT) {
        return NB_SEND_FULL;
    }

    f = (unsigned char *) nb->wbuf;
    f[0] = (unsigned char) (0x80 | op);
    h = 2;
    if (len < 126) {
        f[1] = (unsigned char) (0x80 | len);
    } else {
        /* NB_BODY_MAX < 65536: the 16-bit length always fits */
        f[1] = 0x80 | 126;
        f[2] = (unsigned char) (len >> 8);
        f[3] = (unsigned char) len;
        h = 4;
    }

    /* a fresh mask per frame (RFC 6455 section 5.3) */
    r = nb_random(nb);
    memcpy(f + h, &r, 4);
    for (i = 0; i < len; i++) {
        f[h + 4 + i] = (unsigned char) p[i] ^ f[h + (i & 3)];
    }

    return nb_ws_write(nb, c, nb->wbuf, h + 4 + len) == 0 ? NB_SEND_OK
                                                          : NB_SEND_DEAD;
}
