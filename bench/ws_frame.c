/*
 * A masked client frame (see ws_frame.h).
 */

#include <stdint.h>
#include <string.h>

#include "ws_frame.h"


/* dst = src XOR the mask, eight bytes at a time, then the tail. */
static void
ws_mask(char *dst, const char *src, size_t len, const unsigned char m[4])
{
    size_t    i;
    uint64_t  w, m8;
    unsigned char  mm[8];

    memcpy(mm, m, 4);
    memcpy(mm + 4, m, 4);
    memcpy(&m8, mm, 8);

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= m8;
        memcpy(dst + i, &w, 8);
    }

    for ( ; i < len; i++) {
        dst[i] = (char) (src[i] ^ m[i & 3]);
    }
}


size_t
ws_frame_encode(char *dst, unsigned op, const char *p, size_t len,
    const unsigned char mask[4])
{
    unsigned char  *h = (unsigned char *) dst;
    size_t          hdr;

    h[0] = (unsigned char) (0x80 | op);

    if (len < 126) {
        h[1] = (unsigned char) (0x80 | len);
        hdr = 2;

    } else if (len < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char) (len >> 8);
        h[3] = (unsigned char) len;
        hdr = 4;

    } else {
        h[1] = 0x80 | 127;
        for (hdr = 2; hdr < 10; hdr++) {
            h[hdr] = (unsigned char) ((uint64_t) len >> (8 * (9 - hdr)));
        }
    }

    memcpy(h + hdr, mask, 4);
    hdr += 4;

    ws_mask(dst + hdr, p, len, mask);

    return hdr + len;
}
