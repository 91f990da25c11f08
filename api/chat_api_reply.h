/*
 * chat-api's answers: a JSON body with Content-Type application/json,
 * and the errors of docs/PROTOCOL.md 6, {"error":"<code>","message":".."},
 * whose code follows from the status.
 */

#ifndef CHAT_API_REPLY_H
#define CHAT_API_REPLY_H

#include <jansson.h>
#include <microhttpd.h>


/* The error code of an HTTP status ("bad_request" for 400, ...);
 * "internal" for a status without one of its own. */
const char *chat_api_reply_code(unsigned status);

/* {"error":<the code of status>,"message":message}; NULL when out of
 * memory. */
json_t *chat_api_reply_error_body(unsigned status, const char *message);

/* Answers body (whose reference is taken) with status. */
enum MHD_Result chat_api_reply_json(struct MHD_Connection *c,
    unsigned status, json_t *body);

enum MHD_Result chat_api_reply_error(struct MHD_Connection *c,
    unsigned status, const char *message);

/* 405 with the Allow header of the methods allowed. */
enum MHD_Result chat_api_reply_not_allowed(struct MHD_Connection *c,
    const char *allow);

#endif /* CHAT_API_REPLY_H */
