/*
 * Message ids (see chat_mid.h). The 128 bits are written 5 bits at a time
 * from the most significant end, so the text sorts like the number.
 */

#include "chat_mid.h"


static const char  chat_mid_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";


void
chat_mid_make(char *out, int64_t ms, const unsigned char rnd[10])
{
    int            i, bit;
    unsigned char  v[16];

    /* 16 bytes, big-endian: 6 of time, 10 of randomness */
    for (i = 0; i < 6; i++) {
        v[i] = (unsigned char) ((uint64_t) ms >> (8 * (5 - i)));
    }

    for (i = 0; i < 10; i++) {
        v[6 + i] = rnd[i];
    }

    /* 26 digits of 5 bits cover 130 bits: the first digit holds 3 */
    for (i = 0; i < CHAT_MID_LEN; i++) {
        unsigned  d = 0;
        int       k;

        for (k = 0; k < 5; k++) {
            bit = i * 5 + k - 2;
            d <<= 1;

            if (bit >= 0 && (v[bit / 8] >> (7 - bit % 8)) & 1) {
                d |= 1;
            }
        }

        out[i] = chat_mid_alphabet[d];
    }
}
