/*
 * Small accessors for JSON objects decoded with jansson, shared by the
 * protocol decoder and the workers' record decoder.
 */

#ifndef CHAT_JSON_H
#define CHAT_JSON_H

#include <jansson.h>

#include "chat_ids.h"

/* Returns 1 with the string member key in out (pointing into obj), 0 when
 * absent, -1 when the member is not a string (null included). */
int chat_json_string(json_t *obj, const char *key, chat_str_t *out);

/* A JSON string of s (s.s may be NULL when s.len is 0); NULL when out of
 * memory. */
json_t *chat_json_str(chat_str_t s);

/* Sets key of obj to value, a new reference that is always released
 * (NULL: the value could not be made). 0, or -1 when out of memory. */
int chat_json_put(json_t *obj, const char *key, json_t *value);

#endif /* CHAT_JSON_H */
