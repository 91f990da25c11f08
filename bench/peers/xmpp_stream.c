/*
 * XMPP over WebSocket (RFC 7395) for xmpp-bench: each text message holds one
 * element, so an element is read by its name and a few attributes and
 * children found by scanning; no general XML parser. The login is the
 * shortest RFC 6120 path: <open/>, SASL PLAIN, stream restart, resource
 * bind, the session iq only when the server says it is not optional,
 * <presence/>; then a marker iq whose answer says the server has processed
 * the presence (it answers in order), and the connection is up.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "xmpp_bench.h"

#define NS_FRAMING  "urn:ietf:params:xml:ns:xmpp-framing"
#define STANZA_MAX  (XB_BODY_MAX + 1024)


static int
stream_send(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    return bench_ws_send(&b->lp, &c->ws, BENCH_WS_TEXT, p, len, 0);
}


static void
stream_sends(xb_t *b, xb_conn_t *c, const char *s)
{
    if (stream_send(b, c, s, strlen(s)) == BENCH_WS_FULL) {
        bench_ws_finish(&b->lp, &c->ws, "backpressure_login");
    }
}


void
xb_stream_open(xb_t *b, xb_conn_t *c)
{
    int  n;

    n = snprintf(b->sbuf, STANZA_MAX,
                 "<open xmlns=\"" NS_FRAMING "\" to=\"%s\" version=\"1.0\"/>",
                 b->conf.domain);
    bench_ws_set_state(&b->lp, &c->ws,
                       c->ws.state == XS_AUTH ? XS_OPEN2 : XS_OPEN1);
    stream_sends(b, c, b->sbuf);
    (void) n;
}


/* The element's local name (after any prefix) into name. */
static void
elem_name(const char *p, size_t len, char *name, size_t size)
{
    size_t  i = 0, k = 0;

    while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r'
                       || p[i] == '\t'))
    {
        i++;
    }
    if (i < len && p[i] == '<') {
        i++;
    }
    for (; i < len && k + 1 < size; i++) {
        if (p[i] == ' ' || p[i] == '>' || p[i] == '/' || p[i] == '\t'
            || p[i] == '\n' || p[i] == '\r')
        {
            break;
        }
        if (p[i] == ':') {
            k = 0;
            continue;
        }
        name[k++] = p[i];
    }
    name[k] = '\0';
}


/*
 * The value of attribute attr (e.g. "from") of the element's start tag:
 * a pointer into p and its length, or NULL.
 */
static const char *
elem_attr(const char *p, size_t len, const char *attr, size_t *vlen)
{
    const char *gt, *a, *v, *e;
    size_t      al = strlen(attr);
    char        q;

    gt = memchr(p, '>', len);
    if (gt == NULL) {
        return NULL;
    }
    for (a = p; (a = memmem(a, (size_t) (gt - a), attr, al)) != NULL;
         a += al)
    {
        if (a == p || (a[-1] != ' ' && a[-1] != '\t' && a[-1] != '\n')
            || a + al + 2 > gt || a[al] != '=')
        {
            continue;
        }
        q = a[al + 1];
        if (q != '\'' && q != '"') {
            continue;
        }
        v = a + al + 2;
        e = memchr(v, q, (size_t) (gt - v));
        if (e == NULL) {
            return NULL;
        }
        *vlen = (size_t) (e - v);
        return v;
    }
    return NULL;
}


static int
has(const char *p, size_t len, const char *s)
{
    return memmem(p, len, s, strlen(s)) != NULL;
}


static void
stream_auth(xb_t *b, xb_conn_t *c)
{
    char  user[XB_USER_MAX + 1], plain[256], b64[400];
    int   n;

    xb_user(b, c->idx, user, sizeof(user));
    /* authzid empty, authcid, password (RFC 4616) */
    n = snprintf(plain, sizeof(plain), "%c%s%c%s", 0, user, 0,
                 b->conf.password);
    if (n <= 0 || (size_t) n >= sizeof(plain)) {
        bench_ws_finish(&b->lp, &c->ws, "credentials_too_long");
        return;
    }
    EVP_EncodeBlock((unsigned char *) b64, (unsigned char *) plain, n);
    snprintf(b->sbuf, STANZA_MAX,
             "<auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" "
             "mechanism=\"PLAIN\">%s</auth>", b64);
    bench_ws_set_state(&b->lp, &c->ws, XS_AUTH);
    stream_sends(b, c, b->sbuf);
}


static void
stream_presence(xb_t *b, xb_conn_t *c)
{
    bench_ws_set_state(&b->lp, &c->ws, XS_PRESENCE);
    stream_sends(b, c, "<presence/>");
    if (c->ws.fd >= 0) {
        stream_sends(b, c, "<iq type=\"get\" id=\"up\">"
                           "<ping xmlns=\"urn:xmpp:ping\"/></iq>");
    }
}


static void
stream_features(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    if (c->ws.state == XS_OPEN1) {
        if (!has(p, len, ">PLAIN<")) {
            bench_ws_finish(&b->lp, &c->ws, "no_sasl_plain");
            return;
        }
        stream_auth(b, c);
        return;
    }
    if (c->ws.state != XS_OPEN2) {
        b->st.other_frames++;
        return;
    }
    if (!has(p, len, "urn:ietf:params:xml:ns:xmpp-bind")) {
        bench_ws_finish(&b->lp, &c->ws, "no_bind");
        return;
    }
    /* RFC 6121 drops the session iq; older servers may still want it */
    c->session = has(p, len, "urn:ietf:params:xml:ns:xmpp-session")
                 && !has(p, len, "<optional");
    bench_ws_set_state(&b->lp, &c->ws, XS_BIND);
    stream_sends(b, c, "<iq type=\"set\" id=\"bind\">"
                       "<bind xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\">"
                       "<resource>bench</resource></bind></iq>");
}


static void
stream_iq(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    const char *type;
    size_t      tl = 0;

    type = elem_attr(p, len, "type", &tl);
    if (c->ws.state == XS_BIND || c->ws.state == XS_SESSION) {
        if (type == NULL || tl != 6 || memcmp(type, "result", 6) != 0) {
            bench_ws_finish(&b->lp, &c->ws,
                            c->ws.state == XS_BIND ? "bind_failed"
                                                   : "session_failed");
            return;
        }
        if (c->ws.state == XS_BIND && c->session) {
            bench_ws_set_state(&b->lp, &c->ws, XS_SESSION);
            stream_sends(b, c, "<iq type=\"set\" id=\"sess\"><session "
                         "xmlns=\"urn:ietf:params:xml:ns:xmpp-session\"/></iq>");
            return;
        }
        stream_presence(b, c);
        return;
    }
    /* the marker: a result or an error, either says presence is done */
    if (c->ws.state == XS_PRESENCE && has(p, len, "id='up'")) {
        xb_conn_up(b, c);
        return;
    }
    if (c->ws.state == XS_PRESENCE && has(p, len, "id=\"up\"")) {
        xb_conn_up(b, c);
        return;
    }
    b->st.other_frames++;
}


/* "<t> <seq> <run>": 0 ours, 1 another run's, -1 not a bench body. */
static int
body_parse(xb_t *b, const char *p, size_t len, uint64_t *t, uint64_t *seq)
{
    uint64_t  n[2] = { 0, 0 };
    size_t    i;
    unsigned  k = 0;

    for (i = 0; i < len && k < 2; i++) {
        if (p[i] == ' ') {
            k++;
        } else if (p[i] >= '0' && p[i] <= '9') {
            n[k] = n[k] * 10 + (uint64_t) (p[i] - '0');
        } else {
            return -1;
        }
    }
    if (k != 2 || len - i < 16) {
        return -1;
    }
    *t = n[0];
    *seq = n[1];
    return memcmp(p + i, b->run_id, 16) == 0 ? 0 : 1;
}


static void
stream_delivered(xb_t *b, xb_conn_t *c, uint64_t t, uint64_t seq)
{
    b->st.all_delivered++;
    if (seq <= c->peer_seq) {
        if (seq == c->peer_seq) {
            b->st.duplicates++;
            return;
        }
        b->st.out_of_order++;
    } else {
        c->peer_seq = seq;
    }
    /* sent within the measured window (t_end is 0 while it lasts) */
    if (b->t_measure && t >= b->t_measure
        && (b->t_end == 0 || t < b->t_end))
    {
        b->st.delivered++;
        hist_record(&b->st.e2e, b->lp.now > t ? b->lp.now - t : 0);
    }
}


static void
stream_message(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    char        peer[XB_USER_MAX + 1];
    const char *from, *type, *body, *end;
    size_t      fl = 0, tl = 0, pl;
    uint64_t    t, seq;

    type = elem_attr(p, len, "type", &tl);
    if (type != NULL && tl == 5 && memcmp(type, "error", 5) == 0) {
        b->st.errors++;
        return;
    }
    body = memmem(p, len, "<body>", 6);
    from = elem_attr(p, len, "from", &fl);
    if (body == NULL || from == NULL) {
        b->st.other_frames++;
        return;
    }
    body += 6;
    end = memmem(body, len - (size_t) (body - p), "</body>", 7);
    if (end == NULL) {
        b->st.parse_errors++;
        return;
    }
    switch (body_parse(b, body, (size_t) (end - body), &t, &seq)) {
    case 0:
        break;
    case 1:
        b->st.stale++;
        return;
    default:
        b->st.other_frames++;
        return;
    }
    xb_user(b, c->idx ^ 1, peer, sizeof(peer));
    pl = strlen(peer);
    if (fl <= pl || memcmp(from, peer, pl) != 0 || from[pl] != '@') {
        b->st.foreign++;
        return;
    }
    stream_delivered(b, c, t, seq);
}


void
xb_stream_element(xb_t *b, xb_conn_t *c, const char *p, size_t len)
{
    char  name[32];

    elem_name(p, len, name, sizeof(name));
    /* XB_DEBUG=1 traces every element the server sends */
    if (getenv("XB_DEBUG") != NULL) {
        fprintf(stderr, "%u< %.*s\n", c->idx, (int) len, p);
    }

    if (strcmp(name, "message") == 0) {
        stream_message(b, c, p, len);
    } else if (strcmp(name, "open") == 0 || strcmp(name, "presence") == 0) {
        return;
    } else if (strcmp(name, "features") == 0) {
        stream_features(b, c, p, len);
    } else if (strcmp(name, "success") == 0 && c->ws.state == XS_AUTH) {
        xb_stream_open(b, c);     /* the restart (RFC 7395 section 3.5) */
    } else if (strcmp(name, "failure") == 0) {
        bench_ws_finish(&b->lp, &c->ws, "sasl_failure");
    } else if (strcmp(name, "iq") == 0) {
        stream_iq(b, c, p, len);
    } else if (strcmp(name, "close") == 0) {
        if (c->ws.state != BENCH_WS_CLOSING) {
            /* the server ends the stream */
            bench_ws_close(&b->lp, &c->ws, 1000);
        }
    } else if (strcmp(name, "error") == 0) {
        bench_ws_finish(&b->lp, &c->ws, "stream_error");
    } else {
        b->st.other_frames++;
    }
}


int
xb_stream_send_msg(xb_t *b, xb_conn_t *c)
{
    char    peer[XB_USER_MAX + 1];
    int     head, body, tail;
    size_t  len;

    xb_user(b, c->idx ^ 1, peer, sizeof(peer));
    head = snprintf(b->sbuf, STANZA_MAX,
                    "<message to=\"%s@%s\" type=\"chat\"><body>",
                    peer, b->conf.domain);
    b->lp.now = bench_ws_now();
    body = snprintf(b->sbuf + head, STANZA_MAX - (size_t) head,
                    "%llu %llu %s", (unsigned long long) b->lp.now,
                    (unsigned long long) (c->seq + 1), b->run_id);
    len = (size_t) head + (size_t) body;
    if ((unsigned) body < b->conf.body_size) {
        memset(b->sbuf + len, 'x', b->conf.body_size - (unsigned) body);
        len += b->conf.body_size - (unsigned) body;
    }
    tail = snprintf(b->sbuf + len, STANZA_MAX - len, "</body></message>");
    len += (size_t) tail;
    return stream_send(b, c, b->sbuf, len);
}


void
xb_stream_close(xb_t *b, xb_conn_t *c)
{
    if (stream_send(b, c, "<close xmlns=\"" NS_FRAMING "\"/>",
                    sizeof("<close xmlns=\"" NS_FRAMING "\"/>") - 1)
        == BENCH_WS_DEAD)
    {
        return;
    }
    bench_ws_close(&b->lp, &c->ws, 1000);
}
