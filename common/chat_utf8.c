/*
 * Incremental UTF-8 validation.
 *
 * The state is the number of continuation bytes still expected and the range
 * the next one must fall in.  The range is 80..BF except right after the lead
 * bytes whose second byte is restricted by RFC 3629:
 *
 *     E0  A0..BF   (shorter forms are overlong)
 *     ED  80..9F   (A0..BF would encode surrogates)
 *     F0  90..BF   (shorter forms are overlong)
 *     F4  80..8F   (90..BF would exceed U+10FFFF)
 *
 * Lead bytes C0, C1 (overlong) and F5..FF (beyond U+10FFFF) never occur.
 */

#include <string.h>

#include "chat_utf8.h"


#define CHAT_UTF8_ASCII_MASK  0x8080808080808080ULL


static const unsigned char *chat_utf8_skip_ascii(const unsigned char *p,
    const unsigned char *end);
static int chat_utf8_lead(chat_utf8_t *u, unsigned c);


void
chat_utf8_init(chat_utf8_t *u)
{
    u->need = 0;
    u->lo = 0x80;
    u->hi = 0xbf;
}


int
chat_utf8_feed(chat_utf8_t *u, const unsigned char *p, size_t n)
{
    unsigned              c;
    const unsigned char  *end;

    if (n == 0) {
        return 0;
    }

    end = p + n;

    while (p < end) {

        if (u->need == 0) {
            p = chat_utf8_skip_ascii(p, end);

            if (p == end) {
                break;
            }

            if (chat_utf8_lead(u, *p++) != 0) {
                return -1;
            }

            continue;
        }

        c = *p++;

        if (c < u->lo || c > u->hi) {
            return -1;
        }

        u->need--;
        u->lo = 0x80;
        u->hi = 0xbf;
    }

    return 0;
}


int
chat_utf8_complete(const chat_utf8_t *u)
{
    return u->need == 0;
}


int
chat_utf8_valid(const unsigned char *p, size_t n)
{
    chat_utf8_t  u;

    chat_utf8_init(&u);

    return chat_utf8_feed(&u, p, n) == 0 && chat_utf8_complete(&u);
}


/*
 * Chat text is mostly ASCII: test eight bytes at once for a set high bit
 * before falling back to single bytes.  memcpy() keeps unaligned loads legal.
 */

static const unsigned char *
chat_utf8_skip_ascii(const unsigned char *p, const unsigned char *end)
{
    uint64_t  w;

    while (end - p >= 8) {
        memcpy(&w, p, sizeof(w));

        if (w & CHAT_UTF8_ASCII_MASK) {
            break;
        }

        p += 8;
    }

    while (p < end && *p < 0x80) {
        p++;
    }

    return p;
}


/* Sets the state after the non-ASCII byte c that must start a character. */

static int
chat_utf8_lead(chat_utf8_t *u, unsigned c)
{
    /* a continuation byte without a lead, or an overlong C0/C1 form */
    if (c < 0xc2) {
        return -1;
    }

    if (c < 0xe0) {
        u->need = 1;
        u->lo = 0x80;
        u->hi = 0xbf;
        return 0;
    }

    if (c < 0xf0) {
        u->need = 2;
        u->lo = (c == 0xe0) ? 0xa0 : 0x80;
        u->hi = (c == 0xed) ? 0x9f : 0xbf;
        return 0;
    }

    if (c < 0xf5) {
        u->need = 3;
        u->lo = (c == 0xf0) ? 0x90 : 0x80;
        u->hi = (c == 0xf4) ? 0x8f : 0xbf;
        return 0;
    }

    return -1;
}
