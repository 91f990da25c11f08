/*
 * Minimal JSON object scanner (see json_scan.h).
 */

#include <string.h>

#include "json_scan.h"


static size_t
json_skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'
                       || s[i] == '\r'))
    {
        i++;
    }

    return i;
}


/*
 * s[i] is the opening quote. Returns the index just past the closing quote,
 * or 0 when the string does not end; *esc is set when it holds an escape.
 */
static size_t
json_skip_string(const char *s, size_t len, size_t i, int *esc)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\') {
            *esc = 1;
            i++;
            continue;
        }

        if (s[i] == '"') {
            return i + 1;
        }
    }

    return 0;
}


/*
 * s[i] opens an object or an array. Returns the index just past its end,
 * or 0. Only the depth is counted: brackets need not match in kind, which
 * is enough to step over a value of a well-formed frame.
 */
static size_t
json_skip_nested(const char *s, size_t len, size_t i)
{
    int     esc;
    size_t  depth;

    depth = 0;

    while (i < len) {
        switch (s[i]) {

        case '"':
            i = json_skip_string(s, len, i, &esc);
            if (i == 0) {
                return 0;
            }
            continue;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (--depth == 0) {
                return i + 1;
            }
            break;
        }

        i++;
    }

    return 0;
}


/* A number, true, false or null: up to the next delimiter. */
static size_t
json_skip_scalar(const char *s, size_t len, size_t i)
{
    while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']'
           && s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t')
    {
        i++;
    }

    return i;
}


static void
json_match_key(const char *key, size_t klen, const char *const *keys,
    size_t nkeys, json_val_t *vals, const json_val_t *val)
{
    size_t  k;

    for (k = 0; k < nkeys; k++) {
        if (strlen(keys[k]) == klen && memcmp(keys[k], key, klen) == 0) {
            vals[k] = *val;
            return;
        }
    }
}


int
json_scan(const char *s, size_t len, const char *const *keys, size_t nkeys,
    json_val_t *vals)
{
    int          kesc;
    size_t       i, kstart, kend, end;
    json_val_t   val;

    memset(vals, 0, nkeys * sizeof(json_val_t));

    i = json_skip_ws(s, len, 0);
    if (i >= len || s[i] != '{') {
        return -1;
    }

    i = json_skip_ws(s, len, i + 1);
    if (i < len && s[i] == '}') {
        return 0;
    }

    for ( ;; ) {
        if (i >= len || s[i] != '"') {
            return -1;
        }

        kesc = 0;
        kstart = i + 1;
        end = json_skip_string(s, len, i, &kesc);
        if (end == 0) {
            return -1;
        }
        kend = end - 1;

        i = json_skip_ws(s, len, end);
        if (i >= len || s[i] != ':') {
            return -1;
        }
        i = json_skip_ws(s, len, i + 1);
        if (i >= len) {
            return -1;
        }

        memset(&val, 0, sizeof(json_val_t));

        if (s[i] == '"') {
            end = json_skip_string(s, len, i, &val.escaped);
            if (end == 0) {
                return -1;
            }
            val.p = s + i + 1;
            val.len = end - i - 2;
            val.string = 1;

        } else if (s[i] == '{' || s[i] == '[') {
            end = json_skip_nested(s, len, i);
            if (end == 0) {
                return -1;
            }
            val.p = s + i;
            val.len = end - i;

        } else {
            end = json_skip_scalar(s, len, i);
            if (end == i) {
                return -1;
            }
            val.p = s + i;
            val.len = end - i;
        }

        if (!kesc) {
            json_match_key(s + kstart, kend - kstart, keys, nkeys, vals, &val);
        }

        i = json_skip_ws(s, len, end);
        if (i >= len) {
            return -1;
        }

        if (s[i] == '}') {
            return 0;
        }

        if (s[i] != ',') {
            return -1;
        }

        i = json_skip_ws(s, len, i + 1);
    }
}


int
json_is(const json_val_t *v, const char *lit)
{
    size_t  n;

    if (v->p == NULL || !v->string || v->escaped) {
        return 0;
    }

    n = strlen(lit);

    return v->len == n && memcmp(v->p, lit, n) == 0;
}


int
json_uint(const json_val_t *v, unsigned long long *out)
{
    size_t              i;
    unsigned long long  n;

    if (v->p == NULL || v->string || v->len == 0 || v->len > 19) {
        return -1;
    }

    n = 0;

    for (i = 0; i < v->len; i++) {
        if (v->p[i] < '0' || v->p[i] > '9') {
            return -1;
        }
        n = n * 10 + (unsigned long long) (v->p[i] - '0');
    }

    *out = n;

    return 0;
}
