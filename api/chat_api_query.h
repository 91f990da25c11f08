/*
 * The query parameters of the API (docs/PROTOCOL.md 6), parsed without
 * the HTTP library: each value is the text after "name=" (NULL when the
 * parameter is absent), so that the rules can be tested alone.
 */

#ifndef CHAT_API_QUERY_H
#define CHAT_API_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "chat_ids.h"


#define CHAT_API_PRESENCE_MAX  500     /* users of one presence query */

/*
 * A limit: absent, dflt; an integer above max counts as max; one below 1,
 * or anything that is not an integer (signs, blanks and fractions
 * included): -1.
 */
int chat_api_query_limit(const char *value, int64_t dflt, int64_t max,
    int64_t *limit);

/*
 * A cursor (before_ts, before_seq, after_seq): absent, 0; else an integer
 * of at least min and at most INT64_MAX written in digits, else -1.
 */
int chat_api_query_cursor(const char *value, int64_t min, int64_t *out);

/*
 * The users of a presence query, "a,b,c": 1 to max valid user ids
 * (chat_id_valid) separated by commas, into users (pointing into value);
 * *n is how many. -1 when absent, empty, one is not valid or there are
 * more than max.
 */
int chat_api_query_users(const char *value, chat_str_t *users, size_t max,
    size_t *n);

#endif /* CHAT_API_QUERY_H */
