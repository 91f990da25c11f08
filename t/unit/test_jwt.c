/*
 * Unit tests of common/chat_jwt.c.
 *
 * Tokens are built here from JSON literals (single quotes stand for double
 * quotes); no signature is checked by this module, so any non-empty third
 * segment does.
 */

#include <stdlib.h>
#include <stdint.h>

#include "test.h"
#include "chat_jwt.h"


#define NOW     1795318602LL
#define LEEWAY  30

#define S(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })

#define HS256   "{'alg':'HS256','typ':'JWT'}"


static chat_jwt_policy_t  policy;
static chat_jwt_claims_t  claims;
static const char        *why;
static char               tok[16384];


static void
reset_policy(void)
{
    memset(&policy, 0, sizeof(policy));
    policy.alg = "HS256";
    policy.leeway = LEEWAY;
    policy.max_length = 8192;
}


static size_t
b64url(char *out, const char *in, size_t len)
{
    static const char  abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "abcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t    i, n;
    uint32_t  v;

    n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) (unsigned char) in[i] << 16
            | (uint32_t) (unsigned char) in[i + 1] << 8
            | (unsigned char) in[i + 2];
        out[n++] = abc[v >> 18];
        out[n++] = abc[(v >> 12) & 63];
        out[n++] = abc[(v >> 6) & 63];
        out[n++] = abc[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) (unsigned char) in[i] << 16;
        out[n++] = abc[v >> 18];
        out[n++] = abc[(v >> 12) & 63];

    } else if (len - i == 2) {
        v = (uint32_t) (unsigned char) in[i] << 16
            | (uint32_t) (unsigned char) in[i + 1] << 8;
        out[n++] = abc[v >> 18];
        out[n++] = abc[(v >> 12) & 63];
        out[n++] = abc[(v >> 6) & 63];
    }

    return n;
}


static size_t
b64json(char *out, const char *json)
{
    char    buf[4096];
    size_t  i, len;

    len = strlen(json);

    for (i = 0; i < len; i++) {
        buf[i] = json[i] == '\'' ? '"' : json[i];
    }

    return b64url(out, buf, len);
}


/* header "." payload ".sig", into tok; returns its length */

static size_t
make(const char *header, const char *payload)
{
    size_t  n;

    n = b64json(tok, header);
    tok[n++] = '.';
    n += b64json(tok + n, payload);
    memcpy(tok + n, ".c2ln", 5);
    n += 5;
    tok[n] = '\0';

    return n;
}


static int
decode_raw(const char *token, size_t len)
{
    chat_jwt_claims_free(&claims);
    why = NULL;
    return chat_jwt_decode(token, len, &policy, &claims, &why);
}


static int
decode(const char *header, const char *payload)
{
    size_t  n;

    n = make(header, payload);

    return decode_raw(tok, n);
}


/* decodes and checks at now; returns 0 or -1 */

static int
check(const char *payload, int64_t now)
{
    if (decode(HS256, payload) != 0) {
        fprintf(stderr, "  decode failed: %s\n", why);
        return -2;
    }

    return chat_jwt_check_claims(&claims, &policy, now, &why);
}


static int
refused(int rc, const char *reason)
{
    if (rc != -1 || why == NULL || strcmp(why, reason) != 0) {
        fprintf(stderr, "  rc %d, reason \"%s\", expected \"%s\"\n",
                rc, why ? why : "(null)", reason);
        return 0;
    }

    return 1;
}


static char *
payload(const char *extra, long long exp)
{
    static char  buf[1024];

    snprintf(buf, sizeof(buf), "{'sub':'alice','exp':%lld%s%s}", exp,
             *extra ? "," : "", extra);

    return buf;
}


TEST(valid)
{
    CHECK_EQ(check(payload("'iat':1795318000", NOW + 3600), NOW), 0);
    CHECK_STR(claims.sub.s, claims.sub.len, "alice");
    CHECK_EQ(claims.exp, NOW + 3600);
    CHECK(json_is_object(claims.header));
    CHECK(json_is_object(claims.payload));
}


TEST(b64_lengths)
{
    char  pl[256];
    int   pad;

    /* payloads of every length modulo 3 decode */
    for (pad = 0; pad < 6; pad++) {
        snprintf(pl, sizeof(pl), "{'sub':'alice','exp':%lld%*s}",
                 NOW + 60, pad, "");
        CHECK_EQ(check(pl, NOW), 0);
    }
}


TEST(alg_refused)
{
    const char  *p = payload("", NOW + 60);

    CHECK(refused(decode("{'alg':'none'}", p), "bad algorithm"));
    CHECK(refused(decode("{'alg':'HS512'}", p), "bad algorithm"));
    CHECK(refused(decode("{'alg':'hs256'}", p), "bad algorithm"));
    CHECK(refused(decode("{'alg':'HS256 '}", p), "bad algorithm"));
    CHECK(refused(decode("{'alg':'HS25'}", p), "bad algorithm"));
    CHECK(refused(decode("{'alg':'HS256\\u0000'}", p),
                  "malformed token header"));
    CHECK(refused(decode("{'typ':'JWT'}", p), "bad algorithm"));
    CHECK(refused(decode("{'alg':256}", p), "bad algorithm"));
    CHECK(refused(decode("{'alg':null}", p), "bad algorithm"));
    CHECK(refused(decode("{'alg':['HS256']}", p), "bad algorithm"));
    CHECK(claims.header == NULL && claims.payload == NULL);

    /* an RS256 server refuses HS256 tokens: no key confusion */
    policy.alg = "RS256";
    CHECK(refused(decode(HS256, p), "bad algorithm"));
    CHECK_EQ(decode("{'alg':'RS256'}", p), 0);
    reset_policy();
}


TEST(crit_refused)
{
    CHECK(refused(decode("{'alg':'HS256','crit':['exp']}",
                         payload("", NOW + 60)),
                  "unsupported critical header"));
}


TEST(shape)
{
    char    *dot;
    size_t   n;

    CHECK(refused(decode_raw("abc", 3), "malformed token"));
    CHECK(refused(decode_raw("abc.def", 7), "malformed token"));
    CHECK(refused(decode_raw("..", 2), "malformed token"));
    CHECK(refused(decode_raw("", 0), "malformed token"));

    n = make(HS256, payload("", NOW + 60));

    /* four segments */
    memcpy(tok + n, ".x", 3);
    CHECK(refused(decode_raw(tok, n + 2), "malformed token"));

    /* an empty signature */
    CHECK(refused(decode_raw(tok, n - 4), "malformed token"));

    /* an empty header, an empty payload */
    dot = strchr(tok, '.');
    CHECK(refused(decode_raw(dot, n - (size_t) (dot - tok)),
                  "malformed token"));
    n = b64json(tok, HS256);
    memcpy(tok + n, "..sig", 6);
    CHECK(refused(decode_raw(tok, n + 5), "malformed token"));
}


TEST(length_cap)
{
    size_t  n;
    char   *junk;

    n = make(HS256, payload("", NOW + 60));

    policy.max_length = n;
    CHECK_EQ(decode_raw(tok, n), 0);

    policy.max_length = n - 1;
    CHECK(refused(decode_raw(tok, n), "token too long"));

    /* checked before anything else is looked at */
    junk = malloc(100000);
    memset(junk, '.', 100000);
    policy.max_length = 8192;
    CHECK(refused(decode_raw(junk, 100000), "token too long"));
    free(junk);

    reset_policy();
}


TEST(bad_base64)
{
    size_t  n, h;

    n = make(HS256, payload("", NOW + 60));
    h = (size_t) (strchr(tok, '.') - tok);

    /* the header {"alg":"HS256","typ":"JWT"} encodes to 36 characters */
    CHECK_EQ(h, 36);

    tok[3] = '+';
    CHECK(refused(decode_raw(tok, n), "malformed token header"));
    tok[3] = '/';
    CHECK(refused(decode_raw(tok, n), "malformed token header"));
    tok[3] = ' ';
    CHECK(refused(decode_raw(tok, n), "malformed token header"));
    tok[3] = '\0';
    CHECK(refused(decode_raw(tok, n), "malformed token header"));

    /* padding is not base64url as JWT uses it */
    CHECK(refused(decode_raw("eyJhbGciOiJIUzI1NiJ9.e30=.c2ln", 30),
                  "malformed token payload"));

    /* one dangling character; nonzero unused bits ("e31" is "{}" + 1) */
    CHECK(refused(decode_raw("eyJhbGciOiJIUzI1NiJ9.e30xA.c2ln", 31),
                  "malformed token payload"));
    CHECK(refused(decode_raw("eyJhbGciOiJIUzI1NiJ9.e31.c2ln", 29),
                  "malformed token payload"));

    /* "eyB9" is "{ }": a dangling zero character adds no byte but is wrong */
    CHECK_EQ(decode_raw("eyJhbGciOiJIUzI1NiJ9.eyB9.c2ln", 30), 0);
    CHECK(refused(decode_raw("eyJhbGciOiJIUzI1NiJ9.eyB9A.c2ln", 31),
                  "malformed token payload"));

    /* "e30" is "{}": the shape is right, then claims are missing */
    CHECK_EQ(decode_raw("eyJhbGciOiJIUzI1NiJ9.e30.c2ln", 29), 0);
    CHECK(refused(chat_jwt_check_claims(&claims, &policy, NOW, &why),
                  "bad or missing exp"));
}


TEST(bad_json)
{
    const char  *p = payload("", NOW + 60);

    CHECK(refused(decode("{'alg':'HS256'", p), "malformed token header"));
    CHECK(refused(decode("['HS256']", p), "malformed token header"));
    CHECK(refused(decode("'HS256'", p), "malformed token header"));
    CHECK(refused(decode("{'alg':'HS256','alg':'none'}", p),
                  "malformed token header"));
    CHECK(refused(decode(HS256, "[1]"), "malformed token payload"));
    CHECK(refused(decode(HS256, "{'sub':'alice','sub':'bob','exp':1}"),
                  "malformed token payload"));
    CHECK(refused(decode(HS256, "not json"), "malformed token payload"));
    CHECK(claims.header == NULL && claims.payload == NULL);
}


TEST(exp_claim)
{
    CHECK(refused(check("{'sub':'alice'}", NOW), "bad or missing exp"));
    CHECK(refused(check("{'sub':'alice','exp':'1795318700'}", NOW),
                  "bad or missing exp"));
    CHECK(refused(check("{'sub':'alice','exp':1795318700.0}", NOW),
                  "bad or missing exp"));
    CHECK(refused(check("{'sub':'alice','exp':null}", NOW),
                  "bad or missing exp"));

    /* expired when now >= exp + leeway */
    CHECK_EQ(check(payload("", NOW), NOW), 0);
    CHECK_EQ(check(payload("", NOW - LEEWAY + 1), NOW), 0);
    CHECK(refused(check(payload("", NOW - LEEWAY), NOW), "token expired"));
    CHECK(refused(check(payload("", NOW - 3600), NOW), "token expired"));
    CHECK(refused(check(payload("", -1), NOW), "token expired"));

    policy.leeway = 0;
    CHECK(refused(check(payload("", NOW), NOW), "token expired"));
    CHECK_EQ(check(payload("", NOW + 1), NOW), 0);
    reset_policy();

    /* the latest exp kept as it is */
    CHECK_EQ(check(payload("", CHAT_JWT_MAX_TIME), NOW), 0);
    CHECK_EQ(claims.exp, CHAT_JWT_MAX_TIME);
    CHECK_EQ(check(payload("", CHAT_JWT_MAX_TIME - 1), NOW), 0);
    CHECK_EQ(claims.exp, CHAT_JWT_MAX_TIME - 1);
}


/* An absurd exp is accepted as the latest time, which stays representable
 * in milliseconds (the connection's timer); no arithmetic overflows, which
 * UBSan would report. */
TEST(exp_absurd)
{
    CHECK_EQ(check(payload("", 9223372036854775807LL), NOW), 0);
    CHECK_EQ(claims.exp, CHAT_JWT_MAX_TIME);
    CHECK(claims.exp <= INT64_MAX / 1000);
    CHECK_EQ(claims.exp * 1000, CHAT_JWT_MAX_TIME * 1000);

    CHECK_EQ(check(payload("", 9223372036854775807LL / 1000 + 1), NOW), 0);
    CHECK_EQ(claims.exp, CHAT_JWT_MAX_TIME);
    CHECK_EQ(check(payload("", CHAT_JWT_MAX_TIME + 1), NOW), 0);
    CHECK_EQ(claims.exp, CHAT_JWT_MAX_TIME);

    /* past ones, however far, are expired */
    CHECK(refused(check(payload("", 0), NOW), "token expired"));
    CHECK(refused(check(payload("", -9223372036854775807LL - 1), NOW),
                  "token expired"));
    CHECK(refused(check(payload("", -CHAT_JWT_MAX_TIME * 1000), NOW),
                  "token expired"));

    /* past an int64 jansson refuses the JSON; a real is not a time */
    CHECK(decode(HS256, "{'sub':'alice','exp':9223372036854775808}") != 0);
    CHECK(refused(check("{'sub':'alice','exp':1e300}", NOW),
                  "bad or missing exp"));
}


/* A leeway from the configuration, however large, is cut, not added
 * past an int64 (now + leeway for nbf and iat, now - leeway for exp). */
TEST(leeway_absurd)
{
    policy.leeway = INT64_MAX;
    CHECK(refused(check(payload("'nbf':9223372036854775807", NOW + 60), NOW),
                  "token not yet valid"));
    CHECK(refused(check(payload("'iat':9223372036854775807", NOW + 60), NOW),
                  "token issued in the future"));
    CHECK_EQ(check(payload("'nbf':253402300799", NOW + 60), NOW), 0);
    CHECK_EQ(check(payload("'iat':253402300799", NOW + 60), NOW), 0);
    CHECK(refused(check(payload("", -9223372036854775807LL), NOW),
                  "token expired"));
    CHECK(refused(check(payload("", NOW - CHAT_JWT_MAX_TIME), NOW),
                  "token expired"));
    CHECK_EQ(check(payload("", NOW - CHAT_JWT_MAX_TIME + 1), NOW), 0);

    policy.leeway = INT64_MIN;
    CHECK(refused(check(payload("", NOW), NOW), "token expired"));
    CHECK_EQ(check(payload("'nbf':1795318602", NOW + 1), NOW), 0);
    CHECK(refused(check(payload("'nbf':1795318603", NOW + 1), NOW),
                  "token not yet valid"));
    reset_policy();
}


TEST(nbf_claim)
{
    CHECK_EQ(check(payload("'nbf':1795318632", NOW + 60), NOW), 0);
    CHECK(refused(check(payload("'nbf':1795318633", NOW + 60), NOW),
                  "token not yet valid"));
    CHECK(refused(check(payload("'nbf':9223372036854775807", NOW + 60), NOW),
                  "token not yet valid"));
    CHECK(refused(check(payload("'nbf':'0'", NOW + 60), NOW), "bad nbf"));
    CHECK(refused(check(payload("'nbf':1.5", NOW + 60), NOW), "bad nbf"));
    CHECK_EQ(check(payload("'nbf':0", NOW + 60), NOW), 0);
}


TEST(iat_claim)
{
    CHECK_EQ(check(payload("'iat':1795318632", NOW + 60), NOW), 0);
    CHECK(refused(check(payload("'iat':1795318633", NOW + 60), NOW),
                  "token issued in the future"));
    CHECK(refused(check(payload("'iat':true", NOW + 60), NOW), "bad iat"));
    CHECK_EQ(check(payload("'iat':-9223372036854775807", NOW + 60), NOW), 0);
}


TEST(iss_claim)
{
    /* not configured: not checked */
    CHECK_EQ(check(payload("'iss':'anyone'", NOW + 60), NOW), 0);

    policy.issuer = S("https://auth.example");
    CHECK_EQ(check(payload("'iss':'https://auth.example'", NOW + 60), NOW),
             0);
    CHECK(refused(check(payload("", NOW + 60), NOW), "bad issuer"));
    CHECK(refused(check(payload("'iss':'https://auth.example/'", NOW + 60),
                        NOW), "bad issuer"));
    CHECK(refused(check(payload("'iss':'https://auth.exampl'", NOW + 60),
                        NOW), "bad issuer"));
    CHECK(refused(check(payload("'iss':['https://auth.example']", NOW + 60),
                        NOW), "bad issuer"));
    reset_policy();
}


TEST(aud_claim)
{
    CHECK_EQ(check(payload("'aud':'other'", NOW + 60), NOW), 0);

    policy.audience = S("chat");
    CHECK_EQ(check(payload("'aud':'chat'", NOW + 60), NOW), 0);
    CHECK_EQ(check(payload("'aud':['web','chat']", NOW + 60), NOW), 0);
    CHECK_EQ(check(payload("'aud':[1,'chat']", NOW + 60), NOW), 0);
    CHECK(refused(check(payload("", NOW + 60), NOW), "bad audience"));
    CHECK(refused(check(payload("'aud':'chats'", NOW + 60), NOW),
                  "bad audience"));
    CHECK(refused(check(payload("'aud':'Chat'", NOW + 60), NOW),
                  "bad audience"));
    CHECK(refused(check(payload("'aud':['web','cha']", NOW + 60), NOW),
                  "bad audience"));
    CHECK(refused(check(payload("'aud':[]", NOW + 60), NOW),
                  "bad audience"));
    CHECK(refused(check(payload("'aud':{'chat':1}", NOW + 60), NOW),
                  "bad audience"));
    reset_policy();
}


TEST(sub_claim)
{
    char  pl[256];

    CHECK(refused(check("{'exp':1795318700}", NOW), "bad subject"));
    CHECK(refused(check("{'exp':1795318700,'sub':''}", NOW), "bad subject"));
    CHECK(refused(check("{'exp':1795318700,'sub':42}", NOW), "bad subject"));
    CHECK(refused(check("{'exp':1795318700,'sub':'a b'}", NOW),
                  "bad subject"));
    CHECK(refused(check("{'exp':1795318700,'sub':'a:b'}", NOW),
                  "bad subject"));

    snprintf(pl, sizeof(pl), "{'exp':1795318700,'sub':'%064d'}", 0);
    CHECK_EQ(check(pl, NOW), 0);
    CHECK_EQ(claims.sub.len, 64);
    snprintf(pl, sizeof(pl), "{'exp':1795318700,'sub':'%065d'}", 0);
    CHECK(refused(check(pl, NOW), "bad subject"));
}


TEST(free_twice)
{
    chat_jwt_claims_t  c;

    memset(&c, 0, sizeof(c));
    chat_jwt_claims_free(&c);
    CHECK(refused(chat_jwt_check_claims(&c, &policy, NOW, &why),
                  "no claims"));

    make(HS256, payload("", NOW + 60));
    CHECK_EQ(chat_jwt_decode(tok, strlen(tok), &policy, &c, &why), 0);
    chat_jwt_claims_free(&c);
    CHECK(c.header == NULL && c.payload == NULL);
    chat_jwt_claims_free(&c);
}


int
main(void)
{
    reset_policy();

    RUN(valid);
    RUN(b64_lengths);
    RUN(alg_refused);
    RUN(crit_refused);
    RUN(shape);
    RUN(length_cap);
    RUN(bad_base64);
    RUN(bad_json);
    RUN(exp_claim);
    RUN(exp_absurd);
    RUN(leeway_absurd);
    RUN(nbf_claim);
    RUN(iat_claim);
    RUN(iss_claim);
    RUN(aud_claim);
    RUN(sub_claim);
    RUN(free_twice);

    chat_jwt_claims_free(&claims);

    return test_summary("jwt");
}
