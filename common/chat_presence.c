/*
 * The presence hash's decoding.
 */

#include <string.h>

#include "chat_presence.h"


int64_t
chat_presence_ms(const char *s, size_t len)
{
    size_t   i;
    int64_t  ms;

    if (s == NULL || len == 0) {
        return -1;
    }

    ms = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9'
            || ms > (INT64_MAX - (s[i] - '0')) / 10)
        {
            return -1;
        }

        ms = ms * 10 + (s[i] - '0');
    }

    return ms;
}


void
chat_presence_decode(const char *st, size_t st_len, const char *ls,
    size_t ls_len, chat_presence_t *p)
{
    p->online = st != NULL && st_len == 6 && memcmp(st, "online", 6) == 0;
    p->last_seen = p->online ? -1 : chat_presence_ms(ls, ls_len);
}
