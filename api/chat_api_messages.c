/*
 * GET /api/conversations/{conv}/messages?before_seq=&after_seq=&limit=
 * (docs/PROTOCOL.md 6): a page of a conversation's messages, oldest first,
 * by the rules of the WebSocket history (workers/chat_worker_read.c).
 */

#include <string.h>

#include "chat_api_endpoints.h"
#include "chat_api_query.h"
#include "chat_api_reply.h"
#include "chat_json.h"


#define CHAT_API_MSGS_DEFAULT  50
#define CHAT_API_MSGS_MAX      100

typedef struct {
    chat_api_req_t  *req;
    json_t          *messages;      /* oldest first */
    int64_t          limit;
    int64_t          n;
    int              newest_first;  /* rows come newest first */
    int              more;
} chat_api_msgs_walk_t;

typedef struct {
    chat_str_t       conv;
    chat_conv_t      parsed;
    int64_t          before_seq;
    int64_t          after_seq;
    int64_t          limit;
} chat_api_msgs_query_t;


/* The store is asked one row more than the limit: that one only tells
 * that more remain. */

static int
chat_api_msgs_one(const chat_store_msg_t *msg, void *data)
{
    json_t                *frame;
    chat_api_msgs_walk_t  *walk = data;

    if (walk->n == walk->limit) {
        walk->more = 1;
        return CHAT_STORE_STOP;
    }

    frame = chat_api_msg(walk->req, msg);
    if (frame == NULL) {
        return -1;
    }

    walk->n++;

    return walk->newest_first
           ? json_array_insert_new(walk->messages, 0, frame)
           : json_array_append_new(walk->messages, frame);
}


/* The parameters, or a 400 answered (*rc set, 1 returned). */

static int
chat_api_msgs_parse(chat_api_req_t *req, chat_api_msgs_query_t *q,
    enum MHD_Result *rc)
{
    const char  *why;

    q->conv = req->route.arg;

    if (chat_conv_parse(q->conv.s, q->conv.len, &q->parsed) != 0) {
        why = "not a conversation id";

    } else if (chat_api_query_cursor(chat_api_http_arg(req, "before_seq"),
                                     1, &q->before_seq) != 0)
    {
        why = "before_seq must be a seq (an integer of at least 1)";

    } else if (chat_api_query_cursor(chat_api_http_arg(req, "after_seq"),
                                     0, &q->after_seq) != 0)
    {
        /* 0 catches up from the first message of all */
        why = "after_seq must be an integer of at least 0";

    } else if (chat_api_http_arg(req, "before_seq") != NULL
               && chat_api_http_arg(req, "after_seq") != NULL)
    {
        why = "before_seq and after_seq cannot both be given";

    } else if (chat_api_query_limit(chat_api_http_arg(req, "limit"),
                                    CHAT_API_MSGS_DEFAULT,
                                    CHAT_API_MSGS_MAX, &q->limit) != 0)
    {
        why = "limit must be an integer of at least 1";

    } else {
        if (chat_api_http_arg(req, "after_seq") == NULL) {
            q->after_seq = CHAT_STORE_NEWEST;
        }

        return 0;
    }

    *rc = chat_api_reply_error(req->conn, MHD_HTTP_BAD_REQUEST, why);

    return 1;
}


/*
 * No member row: a party of a DM reads it before its first message (an
 * empty page); anyone else is not a member (403), of a group that exists
 * (else 404).
 */

static enum MHD_Result
chat_api_msgs_not_member(chat_api_req_t *req, chat_api_msgs_query_t *q,
    json_t *body)
{
    int                 rc;
    chat_store_group_t  group;

    if (q->parsed.kind == CHAT_CONV_DM) {
        if (chat_conv_dm_has(&q->parsed, req->user)) {
            return chat_api_reply_json(req->conn, MHD_HTTP_OK, body);
        }

        json_decref(body);
        return chat_api_reply_error(req->conn, MHD_HTTP_FORBIDDEN,
                                    "not a member of this conversation");
    }

    json_decref(body);

    rc = chat_store_group_get(req->slot->store, q->conv, req->user, &group);

    if (rc == CHAT_STORE_NOT_FOUND) {
        return chat_api_reply_error(req->conn, MHD_HTTP_NOT_FOUND,
                                    "no such group");
    }

    if (rc != CHAT_STORE_OK) {
        return chat_api_store_failed(req, "a group");
    }

    return chat_api_reply_error(req->conn, MHD_HTTP_FORBIDDEN,
                                "not a member of this conversation");
}


enum MHD_Result
chat_api_messages(chat_api_req_t *req)
{
    int                     rc;
    json_t                 *body;
    enum MHD_Result         answered;
    chat_api_msgs_walk_t    walk;
    chat_api_msgs_query_t   q;

    memset(&q, 0, sizeof(q));

    if (chat_api_msgs_parse(req, &q, &answered)) {
        return answered;
    }

    memset(&walk, 0, sizeof(walk));
    walk.req = req;
    walk.limit = q.limit;
    walk.newest_first = q.after_seq == CHAT_STORE_NEWEST;
    walk.messages = json_array();

    body = json_pack("{s:s%, s:o, s:b}", "conv", q.conv.s, q.conv.len,
                     "messages", walk.messages, "more", 0);

    if (body == NULL) {
        return chat_api_reply_json(req->conn, MHD_HTTP_OK, NULL);
    }

    rc = chat_store_history(req->slot->store, q.conv, req->user,
                            q.before_seq, q.after_seq, q.limit + 1,
                            req->now_ms, chat_api_msgs_one, &walk);

    if (rc == CHAT_STORE_NOT_FOUND) {
        return chat_api_msgs_not_member(req, &q, body);
    }

    if (rc != CHAT_STORE_OK) {
        json_decref(body);
        return chat_api_store_failed(req, "a history page");
    }

    if (chat_json_put(body, "more", json_boolean(walk.more)) != 0) {
        json_decref(body);
        body = NULL;
    }

    return chat_api_reply_json(req->conn, MHD_HTTP_OK, body);
}
