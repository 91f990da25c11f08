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

#endif /* CHAT_JSON_H */
