/*
 * Unit tests of common/chat_secret.c.
 */

#include "test.h"
#include "chat_secret.h"


#define WEAK(lit)  chat_secret_weak((lit), sizeof(lit) - 1)


TEST(random_secrets_pass)
{
    CHECK(WEAK("q8Jx0mR3vT6yB1nK4wZ7cF2hL5pS9dG0") == NULL);
    CHECK(WEAK("3f9a1c7e5b2d46083f9a1c7e5b2d4608") == NULL);
    CHECK(WEAK("Kd8/2mQ+xv0bN1r7Tz4yH6wP3sL9aE5cU0fJ2gR8iO=") == NULL);
}


TEST(short_secrets_fail)
{
    CHECK(WEAK("") != NULL);
    CHECK(WEAK("q8Jx0mR3vT6yB1nK4wZ7cF2hL5pS9dG") != NULL);      /* 31 */
    CHECK(strcmp(WEAK("secret"), "is shorter than 32 bytes") == 0);
}


TEST(placeholders_fail)
{
    const char  *why;

    why = WEAK("CHANGE-ME: 32 or more random bytes (openssl rand)");
    CHECK(why != NULL && strcmp(why, "is a placeholder") == 0);
    CHECK(WEAK("ngx-chat-development-secret-not-for-production") != NULL);
    CHECK(WEAK("please changeme to something random 1234567") != NULL);
    CHECK(WEAK("Replace_Me_With_A_Random_Secret_Of_32_Bytes") != NULL);
    CHECK(WEAK("this is a placeholder secret for the docs!!") != NULL);
}


TEST(patterns_fail)
{
    CHECK(WEAK("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") != NULL);
    CHECK(WEAK("abababababababababababababababab") != NULL);
    CHECK(WEAK("1234123412341234123412341234123412341234") != NULL);
    CHECK(WEAK("1234512345123451234512345123451234512345") == NULL);
}


TEST(length_not_nul)
{
    /* the secret is len bytes: a NUL inside counts, nothing after it */
    static const char  s[] = "q8Jx0mR3vT6yB1nK\0wZ7cF2hL5pS9dG0CHANGEME";

    CHECK(chat_secret_weak(s, 33) == NULL);
    CHECK(chat_secret_weak(s, sizeof(s) - 1) != NULL);
}


int
main(void)
{
    RUN(random_secrets_pass);
    RUN(short_secrets_fail);
    RUN(placeholders_fail);
    RUN(patterns_fail);
    RUN(length_not_nul);

    return test_summary("secret");
}
