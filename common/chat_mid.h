/*
 * Message ids: 26 characters of Crockford base32 encoding 48 bits of Unix
 * milliseconds then 80 random bits, so that ids sort by creation time
 * (docs/PROTOCOL.md section 1: at most 32 bytes, unique, time-ordered).
 */

#ifndef CHAT_MID_H
#define CHAT_MID_H

#include <stdint.h>

#define CHAT_MID_LEN  26

/* Writes the id of time ms with the given 10 random bytes into out
 * (CHAT_MID_LEN bytes, not NUL-terminated). */
void chat_mid_make(char *out, int64_t ms, const unsigned char rnd[10]);

#endif /* CHAT_MID_H */
