/*
 * Incremental UTF-8 validation (RFC 3629): rejects overlong forms,
 * surrogates (U+D800..U+DFFF) and code points above U+10FFFF.
 *
 * The validator keeps only the state of one partially seen character, so a
 * character split across WebSocket frames or reads is accepted.
 */

#ifndef CHAT_UTF8_H
#define CHAT_UTF8_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t  need;     /* continuation bytes still expected */
    uint8_t  lo;       /* allowed range of the next continuation byte */
    uint8_t  hi;
} chat_utf8_t;

void chat_utf8_init(chat_utf8_t *u);

/* Feeds n bytes; returns 0 while the input is a valid prefix, -1 at the first
 * invalid byte (the state is then undefined until chat_utf8_init). */
int chat_utf8_feed(chat_utf8_t *u, const unsigned char *p, size_t n);

/* 1 when the bytes fed so far end on a character boundary. */
int chat_utf8_complete(const chat_utf8_t *u);

/* 1 when p[0..n) is complete, valid UTF-8. */
int chat_utf8_valid(const unsigned char *p, size_t n);

#endif /* CHAT_UTF8_H */
