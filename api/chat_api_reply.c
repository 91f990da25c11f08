/*
 * chat-api's answers.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_api_reply.h"


typedef struct {
    unsigned     status;
    const char  *code;
} chat_api_reply_code_t;

static const chat_api_reply_code_t  chat_api_reply_codes[] = {
    { MHD_HTTP_BAD_REQUEST, "bad_request" },
    { MHD_HTTP_UNAUTHORIZED, "unauthorized" },
    { MHD_HTTP_FORBIDDEN, "forbidden" },
    { MHD_HTTP_NOT_FOUND, "not_found" },
    { MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed" },
    { MHD_HTTP_CONTENT_TOO_LARGE, "too_large" },
    { MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type" },
    { MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited" },
    { MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable" },
    { 0, NULL }
};


const char *
chat_api_reply_code(unsigned status)
{
    const chat_api_reply_code_t  *c;

    for (c = chat_api_reply_codes; c->code != NULL; c++) {
        if (c->status == status) {
            return c->code;
        }
    }

    return "internal";
}


json_t *
chat_api_reply_error_body(unsigned status, const char *message)
{
    return json_pack("{s:s, s:s}", "error", chat_api_reply_code(status),
                     "message", message);
}


/* The bytes of body, or a fixed 500 body when out of memory. */

static enum MHD_Result
chat_api_reply_send(struct MHD_Connection *c, unsigned status, json_t *body,
    const char *allow)
{
    static const char   oom[] = "{\"error\":\"internal\","
                                "\"message\":\"out of memory\"}";
    char               *text;
    enum MHD_Result     rc;
    struct MHD_Response *r;

    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    if (text != NULL) {
        r = MHD_create_response_from_buffer(strlen(text), text,
                                            MHD_RESPMEM_MUST_FREE);
        if (r == NULL) {
            free(text);
        }

    } else {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        r = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *) oom,
                                            MHD_RESPMEM_PERSISTENT);
    }

    if (r == NULL) {
        return MHD_NO;
    }

    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json") != MHD_YES
        || (allow != NULL
            && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow)
               != MHD_YES))
    {
        MHD_destroy_response(r);
        return MHD_NO;
    }

    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);

    return rc;
}


enum MHD_Result
chat_api_reply_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
    return chat_api_reply_send(c, status, body, NULL);
}


enum MHD_Result
chat_api_reply_error(struct MHD_Connection *c, unsigned status,
    const char *message)
{
    return chat_api_reply_send(c, status,
                               chat_api_reply_error_body(status, message),
                               NULL);
}


enum MHD_Result
chat_api_reply_not_allowed(struct MHD_Connection *c, const char *allow)
{
    return chat_api_reply_send(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                               chat_api_reply_error_body(
                                   MHD_HTTP_METHOD_NOT_ALLOWED,
                                   "method not allowed here"),
                               allow);
}
