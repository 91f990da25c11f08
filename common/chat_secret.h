/*
 * Whether a shared secret (the HS256 key of access tokens) is fit to sign
 * anything: long enough, not a placeholder copied from an example, not a
 * run of a few characters. Checked when nginx reads its configuration, so
 * a weak secret stops nginx -t instead of signing tokens anyone can forge.
 *
 * Pure: no I/O, no allocation.
 */

#ifndef CHAT_SECRET_H
#define CHAT_SECRET_H

#include <stddef.h>

/* The shortest secret accepted, in bytes: the HMAC-SHA256 output size. */
#define CHAT_SECRET_MIN  32

/*
 * NULL when secret (len bytes, not NUL-terminated) is acceptable, else a
 * static reason, a phrase that follows "the secret ".
 */
const char *chat_secret_weak(const char *secret, size_t len);

#endif /* CHAT_SECRET_H */
