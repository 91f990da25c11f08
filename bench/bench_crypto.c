/*
 * HS256 tokens and WebSocket handshake values (see bench_crypto.h). Only
 * one-shot libcrypto calls that OpenSSL 3 does not deprecate: HMAC(),
 * EVP_Digest() and EVP_EncodeBlock().
 */

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bench_crypto.h"

/* RFC 6455 section 1.3 */
#define WS_GUID  "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


/* base64url without padding (RFC 7515); returns the length written. */
static size_t
b64url(const unsigned char *in, size_t len, char *out)
{
    int     n;
    size_t  i, k;

    n = EVP_EncodeBlock((unsigned char *) out, in, (int) len);

    for (i = 0, k = 0; i < (size_t) n; i++) {
        if (out[i] == '=') {
            break;
        }
        out[k++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }

    out[k] = '\0';

    return k;
}


int
bench_jwt_hs256(const char *secret, const char *sub, long long iat,
    long long exp, char *out)
{
    int            n;
    size_t         len;
    unsigned int   maclen;
    unsigned char  mac[EVP_MAX_MD_SIZE];
    char           claims[256];
    static const char  header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

    n = snprintf(claims, sizeof(claims),
                 "{\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}", sub, iat, exp);
    if (n < 0 || (size_t) n >= sizeof(claims)) {
        return -1;
    }

    /* base64 grows 3 bytes to 4: both parts and the signature fit */
    len = b64url((const unsigned char *) header, sizeof(header) - 1, out);
    out[len++] = '.';
    len += b64url((const unsigned char *) claims, (size_t) n, out + len);

    if (HMAC(EVP_sha256(), secret, (int) strlen(secret),
             (const unsigned char *) out, len, mac, &maclen) == NULL)
    {
        return -1;
    }

    out[len++] = '.';
    len += b64url(mac, maclen, out + len);

    return len < BENCH_JWT_MAX ? (int) len : -1;
}


void
bench_ws_key(const unsigned char nonce[16], char *out)
{
    EVP_EncodeBlock((unsigned char *) out, nonce, 16);
}


int
bench_ws_accept(const char *key, char *out)
{
    unsigned int   mdlen;
    unsigned char  md[EVP_MAX_MD_SIZE];
    char           buf[BENCH_WS_KEY_LEN + sizeof(WS_GUID)];

    memcpy(buf, key, BENCH_WS_KEY_LEN);
    memcpy(buf + BENCH_WS_KEY_LEN, WS_GUID, sizeof(WS_GUID) - 1);

    if (!EVP_Digest(buf, BENCH_WS_KEY_LEN + sizeof(WS_GUID) - 1, md, &mdlen,
                    EVP_sha1(), NULL))
    {
        return -1;
    }

    EVP_EncodeBlock((unsigned char *) out, md, (int) mdlen);

    return 0;
}
