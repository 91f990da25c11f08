/*
 * GET /api/groups/{group} (docs/PROTOCOL.md 6): a group's name, roster,
 * creation time and ttl, for its members and former members.
 */

#include <string.h>

#include "chat_api_endpoints.h"
#include "chat_api_reply.h"
#include "chat_json.h"


typedef struct {
    json_t  *admins;
    json_t  *members;
} chat_api_roster_t;


static int
chat_api_group_member(const chat_store_member_t *m, void *data)
{
    chat_api_roster_t  *roster = data;

    if (m->admin
        && json_array_append_new(roster->admins, chat_json_str(m->user))
           != 0)
    {
        return -1;
    }

    return json_array_append_new(roster->members, chat_json_str(m->user));
}


static enum MHD_Result
chat_api_group_answer(chat_api_req_t *req, chat_str_t conv,
    const chat_store_group_t *group)
{
    int                 rc;
    json_t             *body;
    chat_api_roster_t   roster;

    roster.admins = json_array();
    roster.members = json_array();

    /* the arrays are filled in place; the name is copied before the
     * roster's calls reuse the handle */
    body = json_pack("{s:s%, s:s%, s:s%, s:O, s:O, s:I, s:I}",
                     "group", req->route.arg.s, req->route.arg.len,
                     "conv", conv.s, conv.len,
                     "name", group->name.s, group->name.len,
                     "admins", roster.admins, "members", roster.members,
                     "created_ts", (json_int_t) group->created_ms,
                     "ttl", (json_int_t) group->ttl);

    rc = body ? chat_store_roster(req->slot->store, conv,
                                  chat_api_group_member, &roster)
              : CHAT_STORE_OK;

    json_decref(roster.admins);
    json_decref(roster.members);

    if (rc != CHAT_STORE_OK) {
        json_decref(body);
        return chat_api_store_failed(req, "a group's roster");
    }

    return chat_api_reply_json(req->conn, MHD_HTTP_OK, body);
}


enum MHD_Result
chat_api_group(chat_api_req_t *req)
{
    int                 rc;
    char                buf[CHAT_CONV_MAX];
    chat_str_t          conv;
    chat_store_group_t  group;

    if (!chat_id_valid(req->route.arg.s, req->route.arg.len)) {
        return chat_api_reply_error(req->conn, MHD_HTTP_BAD_REQUEST,
                                    "not a group id");
    }

    conv.s = buf;
    conv.len = chat_conv_group(buf, req->route.arg);

    rc = chat_store_group_get(req->slot->store, conv, req->user, &group);

    if (rc == CHAT_STORE_NOT_FOUND) {
        return chat_api_reply_error(req->conn, MHD_HTTP_NOT_FOUND,
                                    "no such group");
    }

    if (rc != CHAT_STORE_OK) {
        return chat_api_store_failed(req, "a group");
    }

    if (!group.member && !group.former) {
        return chat_api_reply_error(req->conn, MHD_HTTP_FORBIDDEN,
                                    "not a member of this group");
    }

    return chat_api_group_answer(req, conv, &group);
}
