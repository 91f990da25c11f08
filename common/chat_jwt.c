/*
 * JWT shape, header and claim checks (docs/PROTOCOL.md section 2, token rules).
 * The signature itself is verified elsewhere, by libjwt.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_jwt.h"


static int chat_jwt_b64_value(unsigned char c);
static unsigned char *chat_jwt_b64_decode(const char *s, size_t len,
    size_t *out_len);
static json_t *chat_jwt_segment(const char *s, size_t len);
static int chat_jwt_str_eq(json_t *v, const char *s, size_t len);
static int chat_jwt_time(json_t *payload, const char *key, int64_t *out);
static int chat_jwt_check_times(json_t *payload,
    const chat_jwt_policy_t *policy, int64_t now, int64_t *exp,
    const char **err);
static int chat_jwt_check_aud(json_t *aud, chat_str_t audience);


int
chat_jwt_decode(const char *token, size_t len,
    const chat_jwt_policy_t *policy, chat_jwt_claims_t *claims,
    const char **err)
{
    json_t      *alg;
    const char  *dot1, *dot2, *sig;

    memset(claims, 0, sizeof(*claims));

    if (len > policy->max_length) {
        *err = "token too long";
        return -1;
    }

    if (token == NULL || policy->alg == NULL) {
        *err = "malformed token";
        return -1;
    }

    /* header "." payload "." signature, none of them empty */

    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        *err = "malformed token";
        return -1;
    }

    dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
    if (dot2 == NULL) {
        *err = "malformed token";
        return -1;
    }

    sig = dot2 + 1;

    if (dot1 == token || dot2 == dot1 + 1 || sig == token + len
        || memchr(sig, '.', len - (size_t) (sig - token)) != NULL)
    {
        *err = "malformed token";
        return -1;
    }

    claims->header = chat_jwt_segment(token, (size_t) (dot1 - token));
    if (claims->header == NULL) {
        *err = "malformed token header";
        return -1;
    }

    claims->payload = chat_jwt_segment(dot1 + 1, (size_t) (dot2 - dot1 - 1));
    if (claims->payload == NULL) {
        chat_jwt_claims_free(claims);
        *err = "malformed token payload";
        return -1;
    }

    /* exactly the configured algorithm: never "none", never a downgrade */

    alg = json_object_get(claims->header, "alg");

    if (!chat_jwt_str_eq(alg, policy->alg, strlen(policy->alg))) {
        chat_jwt_claims_free(claims);
        *err = "bad algorithm";
        return -1;
    }

    /*
     * RFC 7515 4.1.11: a token marking extensions as critical must be
     * refused by a recipient that does not implement them, and we implement
     * none.
     */

    if (json_object_get(claims->header, "crit") != NULL) {
        chat_jwt_claims_free(claims);
        *err = "unsupported critical header";
        return -1;
    }

    return 0;
}


int
chat_jwt_check_claims(chat_jwt_claims_t *claims,
    const chat_jwt_policy_t *policy, int64_t now, const char **err)
{
    json_t  *payload, *v;

    payload = claims->payload;

    if (payload == NULL) {
        *err = "no claims";
        return -1;
    }

    if (chat_jwt_check_times(payload, policy, now, &claims->exp, err) != 0) {
        return -1;
    }

    if (policy->issuer.len > 0
        && !chat_jwt_str_eq(json_object_get(payload, "iss"),
                            policy->issuer.s, policy->issuer.len))
    {
        *err = "bad issuer";
        return -1;
    }

    if (policy->audience.len > 0
        && !chat_jwt_check_aud(json_object_get(payload, "aud"),
                               policy->audience))
    {
        *err = "bad audience";
        return -1;
    }

    v = json_object_get(payload, "sub");

    if (!json_is_string(v)
        || !chat_id_valid(json_string_value(v), json_string_length(v)))
    {
        *err = "bad subject";
        return -1;
    }

    claims->sub.s = json_string_value(v);
    claims->sub.len = json_string_length(v);

    return 0;
}


void
chat_jwt_claims_free(chat_jwt_claims_t *claims)
{
    if (claims->header != NULL) {
        json_decref(claims->header);
    }

    if (claims->payload != NULL) {
        json_decref(claims->payload);
    }

    claims->header = NULL;
    claims->payload = NULL;
    claims->sub.s = NULL;
    claims->sub.len = 0;
}


/*
 * The clock comes from the caller; the claims come from the token, so only
 * now and the leeway take part in arithmetic, both within 0..MAX_TIME, and
 * a huge claim cannot overflow anything. An exp past MAX_TIME is kept as
 * MAX_TIME: the connection's timer works in milliseconds.
 */

static int
chat_jwt_check_times(json_t *payload, const chat_jwt_policy_t *policy,
    int64_t now, int64_t *exp, const char **err)
{
    int      rc;
    int64_t  t, leeway;

    leeway = policy->leeway < 0 ? 0 : policy->leeway;
    leeway = leeway > CHAT_JWT_MAX_TIME ? CHAT_JWT_MAX_TIME : leeway;

    if (chat_jwt_time(payload, "exp", &t) != 1) {
        *err = "bad or missing exp";
        return -1;
    }

    if (t <= now - leeway) {
        *err = "token expired";
        return -1;
    }

    *exp = t > CHAT_JWT_MAX_TIME ? CHAT_JWT_MAX_TIME : t;

    rc = chat_jwt_time(payload, "nbf", &t);

    if (rc < 0) {
        *err = "bad nbf";
        return -1;
    }

    if (rc == 1 && t > now + leeway) {
        *err = "token not yet valid";
        return -1;
    }

    rc = chat_jwt_time(payload, "iat", &t);

    if (rc < 0) {
        *err = "bad iat";
        return -1;
    }

    if (rc == 1 && t > now + leeway) {
        *err = "token issued in the future";
        return -1;
    }

    return 0;
}


/* Returns 1 with a time claim, 0 when absent, -1 when it is not a JSON
 * integer: fractional NumericDates are not issued by our token services, and
 * a real would need a lossy conversion. */

static int
chat_jwt_time(json_t *payload, const char *key, int64_t *out)
{
    json_t  *v;

    v = json_object_get(payload, key);

    if (v == NULL) {
        return 0;
    }

    if (!json_is_integer(v)) {
        return -1;
    }

    *out = (int64_t) json_integer_value(v);

    return 1;
}


/* "aud" is a string or an array of strings (RFC 7519 4.1.3). */

static int
chat_jwt_check_aud(json_t *aud, chat_str_t audience)
{
    size_t  i;

    if (json_is_string(aud)) {
        return chat_jwt_str_eq(aud, audience.s, audience.len);
    }

    if (!json_is_array(aud)) {
        return 0;
    }

    for (i = 0; i < json_array_size(aud); i++) {
        if (chat_jwt_str_eq(json_array_get(aud, i), audience.s, audience.len)) {
            return 1;
        }
    }

    return 0;
}


static int
chat_jwt_str_eq(json_t *v, const char *s, size_t len)
{
    return json_is_string(v)
           && json_string_length(v) == len
           && memcmp(json_string_value(v), s, len) == 0;
}


/* Decodes one base64url segment and parses it as a JSON object. */

static json_t *
chat_jwt_segment(const char *s, size_t len)
{
    size_t          n;
    json_t         *obj;
    json_error_t    jerr;
    unsigned char  *buf;

    buf = chat_jwt_b64_decode(s, len, &n);
    if (buf == NULL) {
        return NULL;
    }

    obj = json_loadb((const char *) buf, n, JSON_REJECT_DUPLICATES, &jerr);

    free(buf);

    if (obj != NULL && !json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }

    return obj;
}


static int
chat_jwt_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


/*
 * base64url without padding (RFC 7515 section 2): '=' is refused like any
 * character outside the alphabet, and so are a dangling single character
 * and unused low bits that are not zero, so that each payload has exactly
 * one encoding.  Returns a malloc()ed buffer, or NULL.
 */

static unsigned char *
chat_jwt_b64_decode(const char *s, size_t len, size_t *out_len)
{
    int             v;
    size_t          i, n, bits;
    uint32_t        acc;
    unsigned char  *buf;

    if (len % 4 == 1) {
        return NULL;
    }

    buf = malloc(len / 4 * 3 + 3);
    if (buf == NULL) {
        return NULL;
    }

    acc = 0;
    bits = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        v = chat_jwt_b64_value((unsigned char) s[i]);

        if (v < 0) {
            free(buf);
            return NULL;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (unsigned char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    if (acc != 0) {
        free(buf);
        return NULL;
    }

    *out_len = n;

    return buf;
}
