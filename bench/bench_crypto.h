/*
 * The little cryptography a client needs: HS256 access tokens and the
 * WebSocket handshake's key and accept values (OpenSSL's libcrypto).
 */

#ifndef BENCH_CRYPTO_H
#define BENCH_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_JWT_MAX     512
#define BENCH_WS_KEY_LEN  24   /* base64 of 16 bytes */
#define BENCH_WS_ACC_LEN  28   /* base64 of a SHA-1 */

/*
 * Writes a compact HS256 JWT {"sub":sub,"iat":iat,"exp":exp} signed with
 * secret into out (BENCH_JWT_MAX bytes, NUL-terminated). Returns its
 * length, or -1.
 */
int bench_jwt_hs256(const char *secret, const char *sub, long long iat,
    long long exp, char *out);

/* Sec-WebSocket-Key from 16 random bytes: out gets 24 chars and a NUL. */
void bench_ws_key(const unsigned char nonce[16], char *out);

/* The Sec-WebSocket-Accept the server must answer to key: 28 chars + NUL. */
int bench_ws_accept(const char *key, char *out);

#endif
