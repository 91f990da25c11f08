/*
 * Decoder of client request frames (docs/PROTOCOL.md section 3): one JSON text
 * message in, one validated request or one protocol error out.
 *
 * Pure: no I/O, no globals; bounded before parsing (nesting depth) and while
 * validating (string lengths, array sizes). Strings in the result point into
 * the parsed JSON document, which lives until chat_req_free().
 */

#ifndef CHAT_PROTO_H
#define CHAT_PROTO_H

#include <stdint.h>
#include <jansson.h>

#include "chat_ids.h"

#define CHAT_PROTO_MAX_DEPTH       4     /* deepest valid frame: send.media */
#define CHAT_PROTO_MAX_USERS       500   /* presence_sub/unsub */
#define CHAT_PROTO_MAX_MEMBERS     1024  /* group_create/add/remove, hard bound */
#define CHAT_PROTO_MAX_GROUP_NAME  128   /* bytes */
#define CHAT_PROTO_MAX_TOKEN       8192  /* bytes */
#define CHAT_PROTO_MAX_HISTORY     100   /* a larger limit is clamped */
#define CHAT_PROTO_DEFAULT_HISTORY 50
#define CHAT_PROTO_SERVER_ID_MARK  '~'   /* first byte of the server's own ids */
#define CHAT_PROTO_MAX_TTL         7776000  /* conv_set: 90 days, in seconds */
#define CHAT_PROTO_TTL_BAD         (-1)  /* conv_set: ttl absent or invalid */

typedef enum {
    CHAT_REQ_PING = 1,
    CHAT_REQ_AUTH,
    CHAT_REQ_SEND,
    CHAT_REQ_RECEIPT,
    CHAT_REQ_TYPING,
    CHAT_REQ_PRESENCE_SUB,
    CHAT_REQ_PRESENCE_UNSUB,
    CHAT_REQ_GROUP_CREATE,
    CHAT_REQ_GROUP_ADD,
    CHAT_REQ_GROUP_REMOVE,
    CHAT_REQ_GROUP_LEAVE,
    CHAT_REQ_HISTORY,
    CHAT_REQ_CONV_SET
} chat_req_type_e;

typedef enum {
    CHAT_RECEIPT_DELIVERED = 1,
    CHAT_RECEIPT_READ
} chat_receipt_status_e;

typedef enum {
    CHAT_TYPING_START = 1,
    CHAT_TYPING_STOP
} chat_typing_state_e;

typedef struct {
    chat_str_t  url;
    chat_str_t  mime;
    int64_t     size;
} chat_media_t;

typedef struct {
    chat_req_type_e        type;
    chat_str_t             id;          /* client id; len 0 when absent */

    chat_str_t             to;          /* send, typing: user id */
    chat_str_t             group;       /* send, typing, group_*: group id */
    chat_str_t             body;        /* send */
    int                    has_media;
    chat_media_t           media;       /* send: url as sent (of the form
                                           chat_media_url_parse() takes;
                                           its signature is the caller's
                                           to check); mime, size ignored */

    chat_str_t             conv;        /* receipt, history, conv_set */
    chat_conv_t            conv_parsed;
    chat_receipt_status_e  status;      /* receipt */
    int64_t                seq;         /* receipt */
    chat_typing_state_e    typing;      /* typing */

    int64_t                before_seq;  /* history; 0 when absent */
    int64_t                ttl;         /* conv_set: seconds, or
                                           CHAT_PROTO_TTL_BAD: the frame is
                                           decoded anyway, since who may
                                           set it is checked first (by the
                                           module for a DM, by the worker
                                           for a group) */
    int                    limit;       /* history; 1..100 */

    chat_str_t             token;       /* auth */
    chat_str_t             name;        /* group_create; len 0 when absent */

    json_t                *users;       /* presence_*: array of valid user
                                           ids, group_*: members; borrowed */
    size_t                 nusers;

    json_t                *root;        /* owned; freed by chat_req_free */
} chat_req_t;

typedef struct {
    const char  *code;     /* "bad_request", "forbidden", ... (static) */
    const char  *message;  /* human-readable, static */
} chat_proto_error_t;

/*
 * Decodes one text message sent by user self. Returns 0 with req filled, or
 * -1 with err filled; in both cases req->id holds the frame's "id" when it
 * had a valid one (to echo in the answer), and chat_req_free(req) must be
 * called once the caller is done with req.
 */
int chat_proto_decode(const char *text, size_t len, chat_str_t self,
    chat_req_t *req, chat_proto_error_t *err);

void chat_req_free(chat_req_t *req);

/* The protocol name of a request type ("send", ...). */
const char *chat_req_type_name(chat_req_type_e type);

#endif /* CHAT_PROTO_H */
