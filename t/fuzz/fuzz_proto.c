/*
 * libFuzzer target: every input is decoded both as a client frame
 * (chat_proto_decode, as user "alice") and as a JWT (chat_jwt_decode and
 * chat_jwt_check_claims), and the results are checked against invariants;
 * a broken one aborts.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat_proto.h"
#include "chat_jwt.h"
#include "chat_media.h"
#include "fuzz.h"


#define SELF  "alice"
#define NOW   1795318602


static int
str_eq(chat_str_t a, const char *b)
{
    return a.len == strlen(b) && memcmp(a.s, b, a.len) == 0;
}


/* s, when not empty, is exactly the string member key of obj */

static void
in_doc(chat_str_t s, json_t *obj, const char *key)
{
    json_t  *v;

    if (s.len == 0) {
        return;
    }

    v = json_object_get(obj, key);

    must(json_is_string(v));
    must(s.s == json_string_value(v));
    must(s.len == json_string_length(v));
}


static void
check_users(const chat_req_t *req, size_t min, size_t max)
{
    size_t   i;
    json_t  *v;

    must(json_is_array(req->users));
    must(json_array_size(req->users) == req->nusers);
    must(req->nusers >= min && req->nusers <= max);

    for (i = 0; i < req->nusers; i++) {
        v = json_array_get(req->users, i);
        must(json_is_string(v));
        must(chat_id_valid(json_string_value(v), json_string_length(v)));
    }
}


static void
check_target(const chat_req_t *req)
{
    must((req->to.len > 0) != (req->group.len > 0));

    if (req->to.len > 0) {
        must(chat_id_valid(req->to.s, req->to.len));
        must(!str_eq(req->to, SELF));

    } else {
        must(chat_id_valid(req->group.s, req->group.len));
    }
}


static void
check_conv(const chat_req_t *req)
{
    chat_conv_t  c;
    chat_str_t   self = { SELF, sizeof(SELF) - 1 };

    must(chat_conv_parse(req->conv.s, req->conv.len, &c) == 0);
    must(c.kind == req->conv_parsed.kind);
    must(c.kind == CHAT_CONV_GROUP || chat_conv_dm_has(&c, self));
}


static void
check_send(const chat_req_t *req)
{
    json_t      *media;
    int64_t      expiry;
    chat_str_t   id, sig;

    must(req->id.len > 0);
    check_target(req);
    must(req->body.s != NULL);
    must(req->body.len > 0 || req->has_media);

    if (req->has_media) {
        media = json_object_get(req->root, "media");
        must(json_is_object(media));
        in_doc(req->media.url, media, "url");
        must(chat_media_url_parse(req->media.url.s, req->media.url.len, &id,
                                  &expiry, &sig) == 0);
        must(req->media.url.len < CHAT_MEDIA_URL_MAX);
        /* the client's claims of type and size are never read */
        must(req->media.mime.len == 0 && req->media.size == 0);
    }
}


static void
check_req(const chat_req_t *req)
{
    json_t  *root;

    root = req->root;

    must(json_is_object(root));
    must(strcmp(chat_req_type_name(req->type), "unknown") != 0);

    in_doc(req->id, root, "id");
    in_doc(req->to, root, "to");
    in_doc(req->group, root, "group");
    in_doc(req->body, root, "body");
    in_doc(req->conv, root, "conv");
    in_doc(req->token, root, "token");
    in_doc(req->name, root, "name");

    switch (req->type) {

    case CHAT_REQ_AUTH:
        must(req->token.len >= 1 && req->token.len <= CHAT_PROTO_MAX_TOKEN);
        break;

    case CHAT_REQ_SEND:
        check_send(req);
        break;

    case CHAT_REQ_RECEIPT:
        check_conv(req);
        must(req->status == CHAT_RECEIPT_DELIVERED
             || req->status == CHAT_RECEIPT_READ);
        must(req->seq >= 1);
        break;

    case CHAT_REQ_TYPING:
        check_target(req);
        must(req->typing == CHAT_TYPING_START
             || req->typing == CHAT_TYPING_STOP);
        break;

    case CHAT_REQ_PRESENCE_SUB:
    case CHAT_REQ_PRESENCE_UNSUB:
        check_users(req, 1, CHAT_PROTO_MAX_USERS);
        break;

    case CHAT_REQ_GROUP_CREATE:
        must(req->name.len <= CHAT_PROTO_MAX_GROUP_NAME);
        check_users(req, 0, CHAT_PROTO_MAX_MEMBERS);
        must(chat_id_valid(req->group.s, req->group.len));
        break;

    case CHAT_REQ_GROUP_ADD:
    case CHAT_REQ_GROUP_REMOVE:
        check_users(req, 1, CHAT_PROTO_MAX_MEMBERS);
        must(chat_id_valid(req->group.s, req->group.len));
        break;

    case CHAT_REQ_GROUP_LEAVE:
        must(chat_id_valid(req->group.s, req->group.len));
        break;

    case CHAT_REQ_HISTORY:
        check_conv(req);
        must(req->before_seq >= 0);
        must(req->limit >= 1 && req->limit <= CHAT_PROTO_MAX_HISTORY);
        break;

    case CHAT_REQ_CONV_SET:
        check_conv(req);
        must(req->ttl == CHAT_PROTO_TTL_BAD
             || (req->ttl >= 0 && req->ttl <= CHAT_PROTO_MAX_TTL));
        break;

    case CHAT_REQ_PING:
        break;

    default:
        abort();
    }
}


static void
fuzz_proto(const char *text, size_t len)
{
    int                  rc;
    chat_req_t           req;
    chat_str_t           self = { SELF, sizeof(SELF) - 1 };
    chat_proto_error_t   err;

    rc = chat_proto_decode(text, len, self, &req, &err);

    if (req.id.len > 0) {
        must(chat_client_id_valid(req.id.s, req.id.len));
    }

    if (rc == 0) {
        check_req(&req);

    } else {
        must(rc == -1);
        must(err.code != NULL && err.message != NULL);
        must(strcmp(err.code, "bad_request") == 0
             || strcmp(err.code, "forbidden") == 0);
    }

    chat_req_free(&req);
    chat_req_free(&req);
}


static void
fuzz_jwt(const char *token, size_t len, const chat_jwt_policy_t *policy)
{
    int                 rc;
    json_t             *sub;
    const char         *why;
    chat_jwt_claims_t   claims;

    why = NULL;
    rc = chat_jwt_decode(token, len, policy, &claims, &why);

    if (rc != 0) {
        must(rc == -1 && why != NULL);
        must(claims.header == NULL && claims.payload == NULL);
        return;
    }

    must(json_is_object(claims.header) && json_is_object(claims.payload));
    must(strcmp(json_string_value(json_object_get(claims.header, "alg")),
                policy->alg) == 0);

    why = NULL;
    rc = chat_jwt_check_claims(&claims, policy, NOW, &why);

    if (rc == 0) {
        sub = json_object_get(claims.payload, "sub");
        must(claims.sub.s == json_string_value(sub));
        must(chat_id_valid(claims.sub.s, claims.sub.len));
        must(claims.exp > NOW - policy->leeway);

    } else {
        must(rc == -1 && why != NULL);
    }

    chat_jwt_claims_free(&claims);
    chat_jwt_claims_free(&claims);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chat_jwt_policy_t  plain = { "HS256", { "", 0 }, { "", 0 }, 30, 8192 };
    chat_jwt_policy_t  strict = { "HS256", { "iss", 3 }, { "chat", 4 }, 30,
                                  8192 };

    fuzz_proto((const char *) data, size);
    fuzz_jwt((const char *) data, size, &plain);
    fuzz_jwt((const char *) data, size, &strict);

    return 0;
}
