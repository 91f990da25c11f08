/*
 * A tiny unit test harness: TEST() defines a case, CHECK() records a failed
 * expectation and goes on, RUN() runs a case, and test_summary() prints
 * "<name>: N passed, N failed" and gives the exit status.
 */

#ifndef CHAT_TEST_H
#define CHAT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int  test_passed, test_failed, test_case_failed;

#define TEST(name)  static void name(void)

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",                    \
                    __FILE__, __LINE__, #cond);                               \
            test_case_failed = 1;                                             \
        }                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long  a_ = (long long) (a), b_ = (long long) (b);                \
        if (a_ != b_) {                                                       \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n",     \
                    __FILE__, __LINE__, #a, a_, #b, b_);                      \
            test_case_failed = 1;                                             \
        }                                                                     \
    } while (0)

#define CHECK_STR(s, len, lit)                                                \
    CHECK((len) == sizeof(lit) - 1 && memcmp((s), (lit), (len)) == 0)

#define RUN(name)                                                             \
    do {                                                                      \
        test_case_failed = 0;                                                 \
        name();                                                               \
        if (test_case_failed) {                                               \
            test_failed++;                                                    \
            fprintf(stderr, "FAIL %s%s\n", #name, test_backend_tag());        \
        } else {                                                              \
            test_passed++;                                                    \
        }                                                                     \
    } while (0)

/* " (postgres)" when the store's tests run on PostgreSQL
 * (t/unit/test_backend.h), so that each line says which backend it is
 * about; "" otherwise. */
static inline const char *
test_backend_tag(void)
{
    const char  *b = getenv("CHAT_TEST_STORE");

    return b != NULL && strcmp(b, "postgres") == 0 ? " (postgres)" : "";
}

static int
test_summary(const char *suite)
{
    printf("%s%s: %d passed, %d failed\n", suite, test_backend_tag(),
           test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif /* CHAT_TEST_H */
