/*
 * The query parameters' rules.
 */

#include <string.h>

#include "chat_api_query.h"


/* Digits only, at least one; *big set when they exceed INT64_MAX (the
 * value is then INT64_MAX). */

static int
chat_api_query_digits(const char *s, int64_t *out, int *big)
{
    int64_t  n;

    if (*s == '\0') {
        return -1;
    }

    n = 0;
    *big = 0;

    for ( /* void */ ; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }

        if (n > (INT64_MAX - (*s - '0')) / 10) {
            *big = 1;
            n = INT64_MAX;

        } else if (!*big) {
            n = n * 10 + (*s - '0');
        }
    }

    *out = n;

    return 0;
}


int
chat_api_query_limit(const char *value, int64_t dflt, int64_t max,
    int64_t *limit)
{
    int      big;
    int64_t  n;

    if (value == NULL) {
        *limit = dflt;
        return 0;
    }

    if (chat_api_query_digits(value, &n, &big) != 0 || n < 1) {
        return -1;
    }

    *limit = n > max ? max : n;

    return 0;
}


int
chat_api_query_cursor(const char *value, int64_t min, int64_t *out)
{
    int      big;
    int64_t  n;

    if (value == NULL) {
        *out = 0;
        return 0;
    }

    if (chat_api_query_digits(value, &n, &big) != 0 || big || n < min) {
        return -1;
    }

    *out = n;

    return 0;
}


int
chat_api_query_users(const char *value, chat_str_t *users, size_t max,
    size_t *n)
{
    size_t       len;
    const char  *p;

    *n = 0;

    if (value == NULL || *value == '\0') {
        return -1;
    }

    for (p = value; /* void */ ; p += len + 1) {
        len = strcspn(p, ",");

        if (*n == max || !chat_id_valid(p, len)) {
            return -1;
        }

        users[*n].s = p;
        users[*n].len = len;
        (*n)++;

        if (p[len] == '\0') {
            return 0;
        }
    }
}
