/*
 * JWT checks that are ours (libjwt 1.10 verifies only the signature): the
 * token's shape, its header's algorithm, and every claim.
 *
 * Pure: the caller passes the clock, and owns what it gets back.
 */

#ifndef CHAT_JWT_H
#define CHAT_JWT_H

#include <stdint.h>
#include <jansson.h>

#include "chat_ids.h"

/*
 * The latest time the checks work with, 9999-12-31T23:59:59Z: a later exp
 * is taken as this, and the leeway is cut to it, so that an exp converted
 * to milliseconds, or the clock plus the leeway, never overflows.
 */
#define CHAT_JWT_MAX_TIME  253402300799LL

typedef struct {
    const char  *alg;        /* "HS256", "RS256" or "ES256": the only one
                                accepted */
    chat_str_t   issuer;     /* checked when len > 0 */
    chat_str_t   audience;   /* checked when len > 0 */
    int64_t      leeway;     /* seconds of clock skew allowed */
    size_t       max_length; /* longest token accepted, bytes */
} chat_jwt_policy_t;

typedef struct {
    json_t      *header;     /* owned */
    json_t      *payload;    /* owned */
    chat_str_t   sub;        /* points into payload */
    int64_t      exp;        /* seconds since the epoch, at most
                                CHAT_JWT_MAX_TIME */
} chat_jwt_claims_t;

/*
 * Splits token into its three base64url segments, decodes the header and
 * payload as JSON objects and checks the header's "alg" against policy->alg.
 * Returns 0, or -1 with *err set to a static reason. On success, claims'
 * header and payload are owned by the caller (chat_jwt_claims_free).
 */
int chat_jwt_decode(const char *token, size_t len,
    const chat_jwt_policy_t *policy, chat_jwt_claims_t *claims,
    const char **err);

/*
 * Checks the claims at time now (seconds): exp required and in the future
 * (within leeway); nbf and iat honoured when present (not in the future
 * beyond leeway); iss and aud (a string or an array of strings) when the
 * policy names them; sub required, a valid user id. Fills claims->sub and
 * claims->exp (an exp past CHAT_JWT_MAX_TIME as CHAT_JWT_MAX_TIME). now is
 * the caller's clock, from 0 to CHAT_JWT_MAX_TIME; any leeway is taken
 * (cut to 0..CHAT_JWT_MAX_TIME). Returns 0 or -1 with *err set to a static
 * reason.
 */
int chat_jwt_check_claims(chat_jwt_claims_t *claims,
    const chat_jwt_policy_t *policy, int64_t now, const char **err);

void chat_jwt_claims_free(chat_jwt_claims_t *claims);

#endif /* CHAT_JWT_H */
