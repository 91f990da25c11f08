/*
 * A minimal scanner for the flat JSON objects the server sends: one pass
 * over the text, no allocation, no recursion. It finds the values of the
 * wanted top-level keys; nested objects and arrays are skipped whole.
 */

#ifndef BENCH_JSON_SCAN_H
#define BENCH_JSON_SCAN_H

#include <stddef.h>

typedef struct {
    const char  *p;        /* NULL: the key is absent */
    size_t       len;      /* strings: the contents, without the quotes */
    int          string;   /* the value is a string */
    int          escaped;  /* the string holds a backslash escape */
} json_val_t;

/*
 * Scans the object s[0..len) and fills vals[i] for keys[i] (i < nkeys).
 * Returns 0, or -1 when the text is not a well-formed object (vals then
 * hold what was found before the fault).
 */
int json_scan(const char *s, size_t len, const char *const *keys,
    size_t nkeys, json_val_t *vals);

/* The value is the string lit (no escapes). */
int json_is(const json_val_t *v, const char *lit);

/* Parses a JSON integer value >= 0; -1 when it is not one. */
int json_uint(const json_val_t *v, unsigned long long *out);

#endif
