/*
 * GET /api/conversations?limit=&before_ts= (docs/PROTOCOL.md 6): the
 * user's conversations, the most recent activity first.
 */

#include <string.h>

#include "chat_api_endpoints.h"
#include "chat_api_query.h"
#include "chat_api_reply.h"
#include "chat_json.h"


#define CHAT_API_CONVS_DEFAULT  50
#define CHAT_API_CONVS_MAX      200

typedef struct {
    chat_api_req_t  *req;
    json_t          *rows;
    int64_t          limit;
    int64_t          n;
    int              more;
    int              failed;
} chat_api_convs_walk_t;


/* "with" the other member of a DM, or "group" and "name". */

static int
chat_api_convs_who(json_t *row, const chat_store_conv_row_t *r,
    chat_str_t user)
{
    chat_conv_t  conv;

    if (chat_conv_parse(r->conv.s, r->conv.len, &conv) != 0) {
        return -1;
    }

    if (conv.kind == CHAT_CONV_GROUP) {
        return chat_json_put(row, "group", chat_json_str(conv.group))
               || chat_json_put(row, "name", chat_json_str(r->name));
    }

    return chat_json_put(row, "with",
                         chat_json_str(conv.a.len == user.len
                                       && memcmp(conv.a.s, user.s,
                                                 user.len) == 0
                                       ? conv.b : conv.a));
}


static json_t *
chat_api_convs_row(chat_api_req_t *req, const chat_store_conv_row_t *r)
{
    json_t  *row, *last;

    row = json_object();
    last = r->has_last ? chat_api_msg(req, &r->last) : json_null();

    if (row == NULL || last == NULL
        || chat_json_put(row, "conv", chat_json_str(r->conv))
        || chat_api_convs_who(row, r, req->user)
        || chat_json_put(row, "last", json_incref(last))
        || chat_json_put(row, "unread", json_integer(r->unread))
        || chat_json_put(row, "delivered_seq",
                         json_integer(r->delivered_seq))
        || chat_json_put(row, "read_seq", json_integer(r->read_seq))
        || chat_json_put(row, "ttl", json_integer(r->ttl)))
    {
        json_decref(row);
        json_decref(last);
        return NULL;
    }

    json_decref(last);

    return row;
}


/* The store is asked one row more than the limit: that one only tells
 * that more remain. */

static int
chat_api_convs_one(const chat_store_conv_row_t *r, void *data)
{
    json_t                 *row;
    chat_api_convs_walk_t  *walk = data;

    if (walk->n == walk->limit) {
        walk->more = 1;
        return CHAT_STORE_STOP;
    }

    row = chat_api_convs_row(walk->req, r);

    if (row == NULL || json_array_append_new(walk->rows, row) != 0) {
        walk->failed = 1;
        return -1;
    }

    walk->n++;

    return 0;
}


enum MHD_Result
chat_api_conversations(chat_api_req_t *req)
{
    int                     rc;
    json_t                 *body;
    int64_t                 before_ts;
    chat_api_convs_walk_t   walk;

    memset(&walk, 0, sizeof(walk));
    walk.req = req;

    if (chat_api_query_limit(chat_api_http_arg(req, "limit"),
                             CHAT_API_CONVS_DEFAULT, CHAT_API_CONVS_MAX,
                             &walk.limit) != 0)
    {
        return chat_api_reply_error(req->conn, MHD_HTTP_BAD_REQUEST,
                                    "limit must be an integer of at "
                                    "least 1");
    }

    if (chat_api_query_cursor(chat_api_http_arg(req, "before_ts"), 1,
                              &before_ts) != 0)
    {
        return chat_api_reply_error(req->conn, MHD_HTTP_BAD_REQUEST,
                                    "before_ts must be a time in ms");
    }

    walk.rows = json_array();
    if (walk.rows == NULL) {
        return chat_api_reply_json(req->conn, MHD_HTTP_OK, NULL);
    }

    rc = chat_store_conversations(req->slot->store, req->user, before_ts,
                                  walk.limit + 1, req->now_ms,
                                  chat_api_convs_one, &walk);

    if (rc != CHAT_STORE_OK) {
        json_decref(walk.rows);

        if (walk.failed) {
            return chat_api_reply_json(req->conn, MHD_HTTP_OK, NULL);
        }

        return chat_api_store_failed(req, "the conversation list");
    }

    body = json_pack("{s:o, s:b}", "conversations", walk.rows, "more",
                     walk.more);

    return chat_api_reply_json(req->conn, MHD_HTTP_OK, body);
}
