/*
 * The strength checks of a shared secret (chat_secret.h).
 */

#include <string.h>
#include <strings.h>

#include "chat_secret.h"


/*
 * Words that mark a value as something to replace, compared without case:
 * the example configuration's and the README's placeholders, the
 * development secret that earlier versions of the scripts used, and the
 * usual ways of writing "replace me".
 */
static const char  *chat_secret_placeholders[] = {
    "change-me",
    "change_me",
    "change me",
    "changeme",
    "replace-me",
    "replace_me",
    "replaceme",
    "placeholder",
    "not-for-production",
    "your-secret",
    "your_secret",
    "example-secret",
    NULL
};


/* Fewer different bytes than this is a pattern ("aaaa...", "1234 1234..."),
 * not randomness: 32 random hex digits have fewer about once in 10^16. */
#define CHAT_SECRET_MIN_DISTINCT  5


static int
chat_secret_contains(const char *s, size_t len, const char *word)
{
    size_t  i, n;

    n = strlen(word);

    for (i = 0; i + n <= len; i++) {
        if (strncasecmp(s + i, word, n) == 0) {
            return 1;
        }
    }

    return 0;
}


const char *
chat_secret_weak(const char *secret, size_t len)
{
    size_t          i, distinct;
    unsigned char   seen[256];
    const char    **w;

    if (len < CHAT_SECRET_MIN) {
        return "is shorter than 32 bytes";
    }

    for (w = chat_secret_placeholders; *w; w++) {
        if (chat_secret_contains(secret, len, *w)) {
            return "is a placeholder";
        }
    }

    memset(seen, 0, sizeof(seen));
    distinct = 0;

    for (i = 0; i < len; i++) {
        if (!seen[(unsigned char) secret[i]]) {
            seen[(unsigned char) secret[i]] = 1;
            distinct++;
        }
    }

    if (distinct < CHAT_SECRET_MIN_DISTINCT) {
        return "has fewer than 5 different bytes";
    }

    return NULL;
}
