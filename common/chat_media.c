/*
 * Media (docs/PROTOCOL.md 6): ids, signed expiring URLs, the stored
 * file's header and the allowed-types list. See chat_media.h.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "chat_media.h"


#define CHAT_MEDIA_MAC_LEN      32              /* SHA-256 output */
/* "<id>.<expiry>": the id, a dot, at most 20 digits */
#define CHAT_MEDIA_SIGNED_MAX   (CHAT_MEDIA_ID_LEN + 1 + 20)
/* the header: a magic line, then "<type>\n", then NUL padding */
#define CHAT_MEDIA_MAGIC        "chat-media 1\n"


static const char  chat_media_hex[] = "0123456789abcdef";
static const char  chat_media_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static int chat_media_hex_digit(unsigned char c);
static int chat_media_b64url_char(unsigned char c);
static size_t chat_media_b64url_encode(char *out, const unsigned char *in,
    size_t len);
static int chat_media_parse_expiry(const char *s, size_t len,
    int64_t *expiry);
static int chat_media_parse_query(const char *q, size_t len,
    int64_t *expiry, chat_str_t *sig);
static int chat_media_token_char(unsigned char c);
static int chat_media_type_match(const char *pattern, size_t plen,
    chat_str_t mime);


static int
chat_media_hex_digit(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}


static int
chat_media_b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}


int
chat_media_id_valid(chat_str_t id)
{
    size_t  i;

    if (id.s == NULL || id.len != CHAT_MEDIA_ID_LEN) {
        return 0;
    }

    for (i = 0; i < id.len; i++) {
        if (!chat_media_hex_digit((unsigned char) id.s[i])) {
            return 0;
        }
    }

    return 1;
}


void
chat_media_id_make(const unsigned char random[16],
    char id[CHAT_MEDIA_ID_LEN])
{
    size_t  i;

    for (i = 0; i < 16; i++) {
        id[2 * i] = chat_media_hex[random[i] >> 4];
        id[2 * i + 1] = chat_media_hex[random[i] & 0x0f];
    }
}


/* base64url of len bytes, unpadded, into out; returns its length */

static size_t
chat_media_b64url_encode(char *out, const unsigned char *in, size_t len)
{
    size_t    i, n;
    uint32_t  v;

    n = 0;

    for (i = 0; i + 3 <= len; i += 3) {
        v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8) | in[i + 2];
        out[n++] = chat_media_b64url[(v >> 18) & 0x3f];
        out[n++] = chat_media_b64url[(v >> 12) & 0x3f];
        out[n++] = chat_media_b64url[(v >> 6) & 0x3f];
        out[n++] = chat_media_b64url[v & 0x3f];
    }

    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        out[n++] = chat_media_b64url[(v >> 18) & 0x3f];
        out[n++] = chat_media_b64url[(v >> 12) & 0x3f];

    } else if (len - i == 2) {
        v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8);
        out[n++] = chat_media_b64url[(v >> 18) & 0x3f];
        out[n++] = chat_media_b64url[(v >> 12) & 0x3f];
        out[n++] = chat_media_b64url[(v >> 6) & 0x3f];
    }

    return n;
}


void
chat_media_sign(const chat_media_key_t *key, chat_str_t id, int64_t expiry,
    char sig[CHAT_MEDIA_SIG_LEN])
{
    int            n;
    char           msg[CHAT_MEDIA_SIGNED_MAX + 1];
    unsigned int   maclen;
    unsigned char  mac[EVP_MAX_MD_SIZE];

    /* an id is never longer than CHAT_MEDIA_ID_LEN where it is signed:
     * the callers made or validated it; the cut only keeps msg bounded */
    n = snprintf(msg, sizeof(msg), "%.*s.%" PRId64,
                 (int) (id.len < CHAT_MEDIA_ID_LEN ? id.len
                                                   : CHAT_MEDIA_ID_LEN),
                 id.s, expiry);

    maclen = 0;

    if (n < 0 || (size_t) n >= sizeof(msg)
        || HMAC(EVP_sha256(), key->data, (int) key->len,
                (const unsigned char *) msg, (size_t) n, mac, &maclen)
           == NULL
        || maclen != CHAT_MEDIA_MAC_LEN)
    {
        /* libcrypto failed (out of memory): a signature no URL can match,
         * so that nothing unsigned ever verifies */
        memset(sig, '.', CHAT_MEDIA_SIG_LEN);
        return;
    }

    (void) chat_media_b64url_encode(sig, mac, CHAT_MEDIA_MAC_LEN);
}


size_t
chat_media_url(char *buf, const chat_media_key_t *key, chat_str_t id,
    int64_t expiry)
{
    int   n;
    char  sig[CHAT_MEDIA_SIG_LEN];

    chat_media_sign(key, id, expiry, sig);

    n = snprintf(buf, CHAT_MEDIA_URL_MAX, CHAT_MEDIA_PREFIX "%.*s?e=%" PRId64
                 "&s=%.*s",
                 (int) (id.len < CHAT_MEDIA_ID_LEN ? id.len
                                                   : CHAT_MEDIA_ID_LEN),
                 id.s, expiry, CHAT_MEDIA_SIG_LEN, sig);

    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }

    return (size_t) n < CHAT_MEDIA_URL_MAX ? (size_t) n
                                           : CHAT_MEDIA_URL_MAX - 1;
}


/* 1-20 decimal digits whose value fits an int64_t, no sign, no leading
 * zero but "0" itself: the one spelling of each expiry, so that a URL is
 * not re-signed in another form */

static int
chat_media_parse_expiry(const char *s, size_t len, int64_t *expiry)
{
    size_t   i;
    int64_t  v, d;

    if (len == 0 || len > 20 || (s[0] == '0' && len > 1)) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        d = s[i] - '0';

        if (v > (INT64_MAX - d) / 10) {
            return -1;
        }

        v = v * 10 + d;
    }

    *expiry = v;
    return 0;
}


/* "e=<digits>&s=<sig>" or "s=<sig>&e=<digits>", exactly */

static int
chat_media_parse_query(const char *q, size_t len, int64_t *expiry,
    chat_str_t *sig)
{
    int          have_e, have_s;
    size_t       i, start, end;
    const char  *amp;

    have_e = 0;
    have_s = 0;
    start = 0;

    for (i = 0; i < 2; i++) {
        amp = memchr(q + start, '&', len - start);
        end = (amp != NULL) ? (size_t) (amp - q) : len;

        /* the first parameter ends at '&', the second at the end */
        if ((i == 0) != (amp != NULL) || end - start < 2
            || q[start + 1] != '=')
        {
            return -1;
        }

        if (q[start] == 'e' && !have_e) {
            if (chat_media_parse_expiry(q + start + 2, end - start - 2,
                                        expiry) != 0)
            {
                return -1;
            }

            have_e = 1;

        } else if (q[start] == 's' && !have_s) {
            sig->s = q + start + 2;
            sig->len = end - start - 2;
            have_s = 1;

        } else {
            return -1;
        }

        start = end + 1;
    }

    if (sig->len != CHAT_MEDIA_SIG_LEN) {
        return -1;
    }

    for (i = 0; i < sig->len; i++) {
        if (!chat_media_b64url_char((unsigned char) sig->s[i])) {
            return -1;
        }
    }

    return 0;
}


int
chat_media_url_parse(const char *url, size_t len, chat_str_t *id,
    int64_t *expiry, chat_str_t *sig)
{
    size_t      plen;
    chat_str_t  i;

    plen = sizeof(CHAT_MEDIA_PREFIX) - 1;

    if (url == NULL || len < plen + CHAT_MEDIA_ID_LEN + 1
        || memcmp(url, CHAT_MEDIA_PREFIX, plen) != 0
        || url[plen + CHAT_MEDIA_ID_LEN] != '?')
    {
        return -1;
    }

    i.s = url + plen;
    i.len = CHAT_MEDIA_ID_LEN;

    if (!chat_media_id_valid(i)) {
        return -1;
    }

    if (chat_media_parse_query(url + plen + CHAT_MEDIA_ID_LEN + 1,
                               len - plen - CHAT_MEDIA_ID_LEN - 1,
                               expiry, sig) != 0)
    {
        return -1;
    }

    *id = i;
    return 0;
}


chat_media_check_e
chat_media_check(const chat_media_key_t *key, chat_str_t id, int64_t expiry,
    chat_str_t sig, int64_t now)
{
    char  want[CHAT_MEDIA_SIG_LEN];

    if (!chat_media_id_valid(id) || sig.len != CHAT_MEDIA_SIG_LEN) {
        return CHAT_MEDIA_URL_MALFORMED;
    }

    chat_media_sign(key, id, expiry, want);

    /* the signature first: an expired URL is only told apart from a
     * forged one when it is genuine */
    if (CRYPTO_memcmp(want, sig.s, CHAT_MEDIA_SIG_LEN) != 0) {
        return CHAT_MEDIA_URL_FORGED;
    }

    if (now >= expiry) {
        return CHAT_MEDIA_URL_EXPIRED;
    }

    return CHAT_MEDIA_URL_OK;
}


chat_media_check_e
chat_media_check_url(const chat_media_key_t *key, const char *url,
    size_t len, int64_t now, chat_str_t *id)
{
    int64_t             expiry;
    chat_str_t          i, sig;
    chat_media_check_e  rc;

    if (chat_media_url_parse(url, len, &i, &expiry, &sig) != 0) {
        return CHAT_MEDIA_URL_MALFORMED;
    }

    rc = chat_media_check(key, i, expiry, sig, now);

    if (rc == CHAT_MEDIA_URL_OK) {
        *id = i;
    }

    return rc;
}


json_t *
chat_media_object(const chat_media_key_t *key, chat_str_t id,
    chat_str_t mime, int64_t size, int64_t expiry)
{
    char     url[CHAT_MEDIA_URL_MAX];
    size_t   n;
    json_t  *obj;

    n = chat_media_url(url, key, id, expiry);

    obj = json_object();

    if (obj == NULL
        || json_object_set_new(obj, "url", json_stringn(url, n)) != 0
        || json_object_set_new(obj, "mime", json_stringn(mime.s, mime.len))
           != 0
        || json_object_set_new(obj, "size", json_integer(size)) != 0)
    {
        json_decref(obj);
        return NULL;
    }

    return obj;
}


/* RFC 9110's tchar, less the uppercase letters (a recorded type is
 * lowercase, so that the allowed-types match is a plain compare) */

static int
chat_media_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}


int
chat_media_mime_valid(chat_str_t mime)
{
    size_t  i, slash;

    if (mime.s == NULL || mime.len < 3 || mime.len > CHAT_MEDIA_MIME_MAX) {
        return 0;
    }

    slash = 0;

    for (i = 0; i < mime.len; i++) {
        if (mime.s[i] == '/') {
            if (slash != 0 || i == 0) {
                return 0;
            }

            slash = i;

        } else if (!chat_media_token_char((unsigned char) mime.s[i])) {
            return 0;
        }
    }

    return slash != 0 && slash != mime.len - 1;
}


/* one entry of the types list: "type/subtype" exactly, or "type/" and an
 * asterisk for any subtype of type; the list is configuration, and types are case
 * insensitive, so "Image/PNG" there still means image/png */

static int
chat_media_type_match(const char *pattern, size_t plen, chat_str_t mime)
{
    if (plen >= 2 && pattern[plen - 2] == '/' && pattern[plen - 1] == '*') {
        return mime.len > plen - 1
               && strncasecmp(mime.s, pattern, plen - 1) == 0;
    }

    return plen == mime.len && strncasecmp(pattern, mime.s, plen) == 0;
}


int
chat_media_type_allowed(const char *types, chat_str_t mime)
{
    size_t       n;
    const char  *p;

    if (types == NULL || !chat_media_mime_valid(mime)) {
        return 0;
    }

    p = types;

    for ( ;; ) {
        p += strspn(p, " \t,");

        if (*p == '\0') {
            return 0;
        }

        n = strcspn(p, " \t,");

        if (chat_media_type_match(p, n, mime)) {
            return 1;
        }

        p += n;
    }
}


int
chat_media_header_encode(char buf[CHAT_MEDIA_HEADER_SIZE], chat_str_t mime)
{
    size_t  m;

    if (!chat_media_mime_valid(mime)) {
        return -1;
    }

    m = sizeof(CHAT_MEDIA_MAGIC) - 1;

    memset(buf, 0, CHAT_MEDIA_HEADER_SIZE);
    memcpy(buf, CHAT_MEDIA_MAGIC, m);
    memcpy(buf + m, mime.s, mime.len);
    buf[m + mime.len] = '\n';

    return 0;
}


int
chat_media_header_decode(const char *buf, size_t len, chat_str_t *mime)
{
    size_t       m, i;
    const char  *nl;
    chat_str_t   t;

    m = sizeof(CHAT_MEDIA_MAGIC) - 1;

    if (buf == NULL || len < CHAT_MEDIA_HEADER_SIZE
        || memcmp(buf, CHAT_MEDIA_MAGIC, m) != 0)
    {
        return -1;
    }

    nl = memchr(buf + m, '\n', CHAT_MEDIA_HEADER_SIZE - m);

    if (nl == NULL) {
        return -1;
    }

    t.s = buf + m;
    t.len = (size_t) (nl - t.s);

    if (!chat_media_mime_valid(t)) {
        return -1;
    }

    /* the rest is padding, exactly as the encoder leaves it */
    for (i = (size_t) (nl - buf) + 1; i < CHAT_MEDIA_HEADER_SIZE; i++) {
        if (buf[i] != '\0') {
            return -1;
        }
    }

    *mime = t;
    return 0;
}


int
chat_media_path(char *buf, size_t size, const char *dir, chat_str_t id)
{
    int  n;

    if (!chat_media_id_valid(id) || dir == NULL) {
        return -1;
    }

    n = snprintf(buf, size, "%s/%.2s/%.*s", dir, id.s, (int) id.len, id.s);

    if (n < 0 || (size_t) n >= size) {
        return -1;
    }

    return n;
}
