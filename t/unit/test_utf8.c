/*
 * Unit tests of the incremental UTF-8 validator, including an exhaustive
 * comparison with a straightforward decoder over short sequences.
 */

#include <stdint.h>

#include "test.h"
#include "chat_utf8.h"


#define V(lit)  chat_utf8_valid((const unsigned char *) (lit), sizeof(lit) - 1)


/* A plain decoder: the code point must exist and use its shortest form. */

static int
ref_valid(const unsigned char *s, size_t n)
{
    size_t    i, j, k;
    uint32_t  cp, min;

    for (i = 0; i < n; i += k + 1) {

        if (s[i] < 0x80) {
            k = 0;
            continue;
        }

        if ((s[i] & 0xe0) == 0xc0) {
            k = 1;
            cp = s[i] & 0x1f;
            min = 0x80;

        } else if ((s[i] & 0xf0) == 0xe0) {
            k = 2;
            cp = s[i] & 0x0f;
            min = 0x800;

        } else if ((s[i] & 0xf8) == 0xf0) {
            k = 3;
            cp = s[i] & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        for (j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (s[i + j] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


TEST(test_ascii_and_empty)
{
    CHECK_EQ(chat_utf8_valid(NULL, 0), 1);
    CHECK_EQ(V(""), 1);
    CHECK_EQ(V("hello, world"), 1);
    CHECK_EQ(V("\x00\x7f"), 1);
}


TEST(test_boundaries_valid)
{
    CHECK_EQ(V("\xc2\x80"), 1);                 /* U+0080 */
    CHECK_EQ(V("\xdf\xbf"), 1);                 /* U+07FF */
    CHECK_EQ(V("\xe0\xa0\x80"), 1);             /* U+0800 */
    CHECK_EQ(V("\xed\x9f\xbf"), 1);             /* U+D7FF */
    CHECK_EQ(V("\xee\x80\x80"), 1);             /* U+E000 */
    CHECK_EQ(V("\xef\xbf\xbf"), 1);             /* U+FFFF */
    CHECK_EQ(V("\xf0\x90\x80\x80"), 1);         /* U+10000 */
    CHECK_EQ(V("\xf4\x8f\xbf\xbf"), 1);         /* U+10FFFF */
    CHECK_EQ(V("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), 1);
}


TEST(test_overlong)
{
    CHECK_EQ(V("\xc0\x80"), 0);
    CHECK_EQ(V("\xc0\xaf"), 0);
    CHECK_EQ(V("\xc1\xbf"), 0);
    CHECK_EQ(V("\xe0\x80\x80"), 0);
    CHECK_EQ(V("\xe0\x9f\xbf"), 0);
    CHECK_EQ(V("\xf0\x80\x80\x80"), 0);
    CHECK_EQ(V("\xf0\x8f\xbf\xbf"), 0);
}


TEST(test_surrogates_and_range)
{
    CHECK_EQ(V("\xed\xa0\x80"), 0);             /* U+D800 */
    CHECK_EQ(V("\xed\xbf\xbf"), 0);             /* U+DFFF */
    CHECK_EQ(V("\xf4\x90\x80\x80"), 0);         /* U+110000 */
    CHECK_EQ(V("\xf5\x80\x80\x80"), 0);
    CHECK_EQ(V("\xf7\xbf\xbf\xbf"), 0);
    CHECK_EQ(V("\xf8\x88\x80\x80\x80"), 0);
    CHECK_EQ(V("\xfe"), 0);
    CHECK_EQ(V("\xff"), 0);
}


TEST(test_stray_and_truncated)
{
    CHECK_EQ(V("\x80"), 0);
    CHECK_EQ(V("\xbf"), 0);
    CHECK_EQ(V("a\x80" "b"), 0);
    CHECK_EQ(V("\xc3\xa9\xa9"), 0);             /* one continuation too many */
    CHECK_EQ(V("\xc3" "a"), 0);                 /* lead then ASCII */
    CHECK_EQ(V("\xe2\x82" "a"), 0);
    CHECK_EQ(V("\xe2\x82"), 0);                 /* truncated at the end */
    CHECK_EQ(V("\xf0\x9f\x98"), 0);
    CHECK_EQ(V("\xc3"), 0);
}


TEST(test_incremental)
{
    size_t                i;
    chat_utf8_t           u;
    const unsigned char   s[] = { 'a', 0xf0, 0x9f, 0x98, 0x80, 'b' };

    /* one byte at a time: complete only between characters */
    chat_utf8_init(&u);

    for (i = 0; i < sizeof(s); i++) {
        CHECK_EQ(chat_utf8_feed(&u, s + i, 1), 0);
        CHECK_EQ(chat_utf8_complete(&u), (i == 0 || i >= 4));
    }

    /* a split restricted second byte is still checked against its lead */
    chat_utf8_init(&u);
    CHECK_EQ(chat_utf8_feed(&u, (const unsigned char *) "\xf0", 1), 0);
    CHECK_EQ(chat_utf8_feed(&u, (const unsigned char *) "\x8f", 1), -1);

    chat_utf8_init(&u);
    CHECK_EQ(chat_utf8_feed(&u, (const unsigned char *) "\xed", 1), 0);
    CHECK_EQ(chat_utf8_feed(&u, (const unsigned char *) "\xa0", 1), -1);

    chat_utf8_init(&u);
    CHECK_EQ(chat_utf8_feed(&u, (const unsigned char *) "\xf4\x8f", 2), 0);
    CHECK_EQ(chat_utf8_feed(&u, (const unsigned char *) "\xbf", 1), 0);
    CHECK_EQ(chat_utf8_complete(&u), 0);
    CHECK_EQ(chat_utf8_feed(&u, (const unsigned char *) "\xbf", 1), 0);
    CHECK_EQ(chat_utf8_complete(&u), 1);

    /* feeding nothing changes nothing */
    CHECK_EQ(chat_utf8_feed(&u, NULL, 0), 0);
    CHECK_EQ(chat_utf8_complete(&u), 1);
}


/* Bad and good bytes at every offset of a long ASCII run (the fast path). */

TEST(test_ascii_fast_path)
{
    size_t         i;
    unsigned char  s[100];

    for (i = 0; i < sizeof(s); i++) {
        memset(s, 'x', sizeof(s));
        s[i] = 0x80;
        CHECK_EQ(chat_utf8_valid(s, sizeof(s)), 0);

        s[i] = 0xff;
        CHECK_EQ(chat_utf8_valid(s, sizeof(s)), 0);

        if (i + 1 < sizeof(s)) {
            s[i] = 0xc3;
            s[i + 1] = 0xa9;
            CHECK_EQ(chat_utf8_valid(s, sizeof(s)), 1);
            CHECK_EQ(chat_utf8_valid(s, i + 1), 0);
        }
    }
}


/* Every sequence of one to three bytes, fed whole and split in two. */

TEST(test_exhaustive_short)
{
    int            ok, bad;
    size_t         n, cut;
    uint32_t       v, end;
    chat_utf8_t    u;
    unsigned char  s[3];

    bad = 0;

    for (n = 1; n <= 3; n++) {
        end = 1u << (8 * n);

        for (v = 0; v < end; v++) {
            s[0] = (unsigned char) v;
            s[1] = (unsigned char) (v >> 8);
            s[2] = (unsigned char) (v >> 16);

            ok = ref_valid(s, n);

            if (chat_utf8_valid(s, n) != ok) {
                bad++;
            }

            cut = v % n;
            chat_utf8_init(&u);

            if ((chat_utf8_feed(&u, s, cut) == 0
                 && chat_utf8_feed(&u, s + cut, n - cut) == 0
                 && chat_utf8_complete(&u)) != ok)
            {
                bad++;
            }
        }
    }

    CHECK_EQ(bad, 0);
}


/* Four-byte sequences: every lead byte with telling continuation values. */

TEST(test_exhaustive_four)
{
    int            bad;
    unsigned       a, b, c, d;
    unsigned char  s[4];

    static const unsigned char  tail[] = {
        0x00, 0x41, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
        0xc0, 0xc2, 0xe0, 0xf0, 0xf4, 0xff
    };

    bad = 0;

    for (a = 0; a < 256; a++) {
        for (b = 0; b < sizeof(tail); b++) {
            for (c = 0; c < sizeof(tail); c++) {
                for (d = 0; d < sizeof(tail); d++) {
                    s[0] = (unsigned char) a;
                    s[1] = tail[b];
                    s[2] = tail[c];
                    s[3] = tail[d];

                    if (chat_utf8_valid(s, 4) != ref_valid(s, 4)) {
                        bad++;
                    }
                }
            }
        }
    }

    CHECK_EQ(bad, 0);
}


int
main(void)
{
    RUN(test_ascii_and_empty);
    RUN(test_boundaries_valid);
    RUN(test_overlong);
    RUN(test_surrogates_and_range);
    RUN(test_stray_and_truncated);
    RUN(test_incremental);
    RUN(test_ascii_fast_path);
    RUN(test_exhaustive_short);
    RUN(test_exhaustive_four);

    return test_summary("utf8");
}
