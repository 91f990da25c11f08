/* Message ids: length, alphabet, time order, randomness in the tail. */

#include <string.h>

#include "test.h"
#include "chat_mid.h"


static const unsigned char  zero[10], ones[10] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
};


TEST(test_mid_zero_is_all_zero_digits)
{
    char  m[CHAT_MID_LEN];

    chat_mid_make(m, 0, zero);
    CHECK(memcmp(m, "00000000000000000000000000", CHAT_MID_LEN) == 0);
}


TEST(test_mid_known_time_prefix)
{
    char  m[CHAT_MID_LEN];

    /* 1 ms: the 48-bit time ends in the 10th digit (bits 48..49 of 130) */
    chat_mid_make(m, 1, zero);
    CHECK(memcmp(m, "0000000001", 10) == 0);
    CHECK(memcmp(m + 10, "0000000000000000", 16) == 0);

    chat_mid_make(m, 0, ones);
    CHECK(memcmp(m, "0000000000ZZZZZZZZZZZZZZZZ", CHAT_MID_LEN) == 0);
}


TEST(test_mid_sorts_by_time)
{
    char     a[CHAT_MID_LEN], b[CHAT_MID_LEN];
    int64_t  t;

    for (t = 1795318602103LL; t < 1795318602103LL + 5000; t += 7) {
        chat_mid_make(a, t, ones);
        chat_mid_make(b, t + 1, zero);
        CHECK(memcmp(a, b, CHAT_MID_LEN) < 0);
    }
}


TEST(test_mid_uses_crockford_alphabet)
{
    int            i, j;
    char           m[CHAT_MID_LEN];
    unsigned char  r[10];

    for (i = 0; i < 256; i++) {
        memset(r, i, sizeof(r));
        chat_mid_make(m, 1795318602103LL + i, r);

        for (j = 0; j < CHAT_MID_LEN; j++) {
            CHECK(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", m[j]) != NULL);
        }
    }
}


int
main(void)
{
    RUN(test_mid_zero_is_all_zero_digits);
    RUN(test_mid_known_time_prefix);
    RUN(test_mid_sorts_by_time);
    RUN(test_mid_uses_crockford_alphabet);

    return test_summary("mid");
}
