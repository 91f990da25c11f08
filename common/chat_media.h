/*
 * Media (docs/PROTOCOL.md 6): the ids chat-api gives uploads, the signed
 * expiring URLs that every process builds or checks the same way, the
 * header each stored file begins with, and the allowed-types list.
 *
 * A URL is "/media/<id>?e=<expiry>&s=<sig>": expiry in Unix seconds, sig
 * the base64url (no padding) of HMAC-SHA256(key, "<id>.<expiry>"). chat-api
 * and chat-worker sign; the module checks (constant-time compare), both
 * when nginx serves the file and when a send carries the URL.
 *
 * A stored file is CHAT_MEDIA_HEADER_SIZE bytes of header, then the exact
 * bytes uploaded; it lives at <media dir>/<id's first 2 chars>/<id>. The
 * header says the type recorded at upload, so that nginx serves it with
 * that Content-Type without asking anyone.
 *
 * Pure but for the HMAC (OpenSSL's libcrypto): no I/O.
 */

#ifndef CHAT_MEDIA_H
#define CHAT_MEDIA_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "chat_ids.h"


#define CHAT_MEDIA_ID_LEN        32     /* lowercase hex of 16 random bytes */
#define CHAT_MEDIA_SIG_LEN       43     /* base64url of 32 bytes, unpadded */
#define CHAT_MEDIA_MIME_MAX      127    /* bytes of a type/subtype */
#define CHAT_MEDIA_HEADER_SIZE   256    /* bytes before the content */
#define CHAT_MEDIA_PREFIX        "/media/"

/* "/media/" id "?e=" 20 digits "&s=" sig, and a NUL */
#define CHAT_MEDIA_URL_MAX                                                    \
    (sizeof(CHAT_MEDIA_PREFIX) - 1 + CHAT_MEDIA_ID_LEN + 3 + 20 + 3           \
     + CHAT_MEDIA_SIG_LEN + 1)

/* <dir> "/" 2 chars "/" id, and a NUL */
#define CHAT_MEDIA_PATH_EXTRA    (1 + 2 + 1 + CHAT_MEDIA_ID_LEN + 1)

#define CHAT_MEDIA_DEFAULT_TYPES  "image/* video/* audio/* application/pdf"
#define CHAT_MEDIA_DEFAULT_MAX    (16 * 1024 * 1024)    /* bytes */
#define CHAT_MEDIA_DEFAULT_URL_TTL  (7 * 86400)         /* seconds */
#define CHAT_MEDIA_DEFAULT_GRACE    (24 * 3600)         /* seconds */

/* the shortest key accepted, in bytes (as for the HS256 token secret) */
#define CHAT_MEDIA_KEY_MIN       32

typedef enum {
    CHAT_MEDIA_URL_OK = 0,
    CHAT_MEDIA_URL_MALFORMED,     /* not a URL of this form */
    CHAT_MEDIA_URL_FORGED,        /* the signature does not match */
    CHAT_MEDIA_URL_EXPIRED        /* signed, but past its expiry */
} chat_media_check_e;

typedef struct {
    const unsigned char  *data;
    size_t                len;
} chat_media_key_t;


/* 1 when id is CHAT_MEDIA_ID_LEN lowercase hex digits, else 0. */
int chat_media_id_valid(chat_str_t id);

/* Makes a new id of 16 bytes of the given randomness. */
void chat_media_id_make(const unsigned char random[16],
    char id[CHAT_MEDIA_ID_LEN]);

/* The signature of (id, expiry) into sig (not NUL-terminated). */
void chat_media_sign(const chat_media_key_t *key, chat_str_t id,
    int64_t expiry, char sig[CHAT_MEDIA_SIG_LEN]);

/* The URL of id valid until expiry, NUL-terminated, into buf
 * (CHAT_MEDIA_URL_MAX bytes); returns its length. */
size_t chat_media_url(char *buf, const chat_media_key_t *key, chat_str_t id,
    int64_t expiry);

/*
 * Splits a URL of the form above into its id, expiry and signature (which
 * point into url); "e" and "s" may come in either order, nothing else may
 * come. 0, or -1 when it is not of that form.
 */
int chat_media_url_parse(const char *url, size_t len, chat_str_t *id,
    int64_t *expiry, chat_str_t *sig);

/* Whether (id, expiry, sig) was signed with key and is still valid at
 * now (Unix seconds); the compare takes the same time wherever it fails. */
chat_media_check_e chat_media_check(const chat_media_key_t *key,
    chat_str_t id, int64_t expiry, chat_str_t sig, int64_t now);

/* chat_media_url_parse() then chat_media_check(); *id is set on OK. */
chat_media_check_e chat_media_check_url(const chat_media_key_t *key,
    const char *url, size_t len, int64_t now, chat_str_t *id);

/*
 * The media object a msg frame carries: {"url","mime","size"}, with a URL
 * valid until expiry. NULL when out of memory.
 */
json_t *chat_media_object(const chat_media_key_t *key, chat_str_t id,
    chat_str_t mime, int64_t size, int64_t expiry);

/* 1 when mime is a type/subtype of token characters, at most
 * CHAT_MEDIA_MIME_MAX bytes, lowercase; else 0. Parameters (";...") are
 * not part of it: the caller cuts them off. */
int chat_media_mime_valid(chat_str_t mime);

/* 1 when mime is valid and in types, a list separated by blanks or
 * commas of entries "type/subtype" (that type) and "type/" then an
 * asterisk (any subtype of type), matched without regard to case; else 0. */
int chat_media_type_allowed(const char *types, chat_str_t mime);

/* The header of a stored file of type mime into buf; -1 when mime is not
 * valid. */
int chat_media_header_encode(char buf[CHAT_MEDIA_HEADER_SIZE],
    chat_str_t mime);

/* The type of a stored file's header (pointing into buf); -1 when buf is
 * not such a header. */
int chat_media_header_decode(const char *buf, size_t len, chat_str_t *mime);

/* <dir>/<2 chars>/<id>, NUL-terminated, into buf of size bytes (strlen(dir)
 * + CHAT_MEDIA_PATH_EXTRA); returns its length, or -1 when it does not fit
 * or id is not valid. */
int chat_media_path(char *buf, size_t size, const char *dir, chat_str_t id);

#endif /* CHAT_MEDIA_H */
