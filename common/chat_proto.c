/*
 * Decoder of client request frames (docs/PROTOCOL.md section 3).
 *
 * Helpers come first and the request handlers after them, each defined
 * before its use; the dispatch table and the public functions close the file.
 */

#include <string.h>

#include "chat_json.h"
#include "chat_media.h"
#include "chat_proto.h"


#define CHAT_PROTO_STR(x)       #x
#define CHAT_PROTO_XSTR(x)      CHAT_PROTO_STR(x)



typedef int (*chat_proto_handler_pt)(chat_req_t *req,
    chat_proto_error_t *err);

typedef struct {
    const char             *name;
    chat_req_type_e         type;
    chat_proto_handler_pt   handler;
} chat_proto_type_t;

/* An array of user ids: presence "users", group "members". */
typedef struct {
    const char             *key;
    size_t                  min;
    size_t                  max;
    const char             *bad;       /* not an array of valid ids */
    const char             *many;      /* more than max */
} chat_proto_list_t;


static const chat_proto_list_t  chat_proto_users = {
    "users", 1, CHAT_PROTO_MAX_USERS,
    "\"users\" must be a non-empty array of user ids",
    "\"users\" may hold at most " CHAT_PROTO_XSTR(CHAT_PROTO_MAX_USERS)
    " user ids"
};

static const chat_proto_list_t  chat_proto_new_members = {
    "members", 0, CHAT_PROTO_MAX_MEMBERS,
    "\"members\" must be an array of user ids",
    "\"members\" may hold at most " CHAT_PROTO_XSTR(CHAT_PROTO_MAX_MEMBERS)
    " user ids"
};

static const chat_proto_list_t  chat_proto_members = {
    "members", 1, CHAT_PROTO_MAX_MEMBERS,
    "\"members\" must be a non-empty array of user ids",
    "\"members\" may hold at most " CHAT_PROTO_XSTR(CHAT_PROTO_MAX_MEMBERS)
    " user ids"
};

/* the values of receipt "status" and typing "state", by enum value - 1 */
static const char  *chat_proto_statuses[] = { "delivered", "read", NULL };
static const char  *chat_proto_states[] = { "start", "stop", NULL };


/*
 * jansson parses nested values recursively; the frames of the protocol are
 * at most 2 levels deep, so anything deeper than the limit is refused before
 * jansson sees it.  Brackets inside strings do not count: a backslash skips
 * the byte after it, so an escaped quote does not end a string.  Up to the
 * first syntax error this follows jansson exactly, and jansson stops there.
 */

static int
chat_proto_too_deep(const char *text, size_t len)
{
    int     in_string;
    size_t  i, depth;

    in_string = 0;
    depth = 0;

    for (i = 0; i < len; i++) {

        if (in_string) {
            if (text[i] == '\\') {
                i++;

            } else if (text[i] == '"') {
                in_string = 0;
            }

            continue;
        }

        if (text[i] == '"') {
            in_string = 1;

        } else if (text[i] == '{' || text[i] == '[') {
            if (++depth > CHAT_PROTO_MAX_DEPTH) {
                return 1;
            }

        } else if ((text[i] == '}' || text[i] == ']') && depth > 0) {
            depth--;
        }
    }

    return 0;
}


static int
chat_proto_bad(chat_proto_error_t *err, const char *message)
{
    err->code = "bad_request";
    err->message = message;

    return -1;
}


static int
chat_proto_str_eq(chat_str_t s, const char *lit)
{
    size_t  n;

    n = strlen(lit);

    return s.len == n && memcmp(s.s, lit, n) == 0;
}


/* Like chat_json_string(), and -1 as well when it is not a valid user or
 * group id. */

static int
chat_proto_id(json_t *obj, const char *key, chat_str_t *out)
{
    int  rc;

    rc = chat_json_string(obj, key, out);

    if (rc == 1 && !chat_id_valid(out->s, out->len)) {
        return -1;
    }

    return rc;
}


/* Returns 1 with an integer member >= min, 0 when absent, -1 otherwise: a
 * real, even an integral one, is refused like any other type. */

static int
chat_proto_integer(json_t *obj, const char *key, int64_t min, int64_t *out)
{
    json_t      *v;
    json_int_t   n;

    v = json_object_get(obj, key);

    if (v == NULL) {
        return 0;
    }

    if (!json_is_integer(v)) {
        return -1;
    }

    n = json_integer_value(v);

    if (n < min) {
        return -1;
    }

    *out = (int64_t) n;

    return 1;
}


/* Returns the index + 1 of the string member key in names, or 0. */

static int
chat_proto_enum(json_t *obj, const char *key, const char **names)
{
    int         i;
    chat_str_t  s;

    if (chat_json_string(obj, key, &s) != 1) {
        return 0;
    }

    for (i = 0; names[i] != NULL; i++) {
        if (chat_proto_str_eq(s, names[i])) {
            return i + 1;
        }
    }

    return 0;
}


/* send, typing: exactly one of "to" and "group". */

static int
chat_proto_target(chat_req_t *req, chat_proto_error_t *err)
{
    int  has_to, has_group;

    has_to = chat_proto_id(req->root, "to", &req->to);
    if (has_to < 0) {
        return chat_proto_bad(err, "\"to\" must be a user id");
    }

    has_group = chat_proto_id(req->root, "group", &req->group);
    if (has_group < 0) {
        return chat_proto_bad(err, "\"group\" must be a group id");
    }

    if (has_to + has_group != 1) {
        return chat_proto_bad(err, "exactly one of \"to\" and \"group\""
                              " is required");
    }

    return 0;
}


static int
chat_proto_list(chat_req_t *req, const chat_proto_list_t *list,
    chat_proto_error_t *err)
{
    size_t   i, n;
    json_t  *a, *v;

    a = json_object_get(req->root, list->key);

    if (a == NULL || !json_is_array(a)) {
        return chat_proto_bad(err, list->bad);
    }

    n = json_array_size(a);

    if (n < list->min) {
        return chat_proto_bad(err, list->bad);
    }

    if (n > list->max) {
        return chat_proto_bad(err, list->many);
    }

    for (i = 0; i < n; i++) {
        v = json_array_get(a, i);

        if (!json_is_string(v)
            || !chat_id_valid(json_string_value(v), json_string_length(v)))
        {
            return chat_proto_bad(err, list->bad);
        }
    }

    req->users = a;
    req->nusers = n;

    return 0;
}


static int
chat_proto_conv(chat_req_t *req, chat_proto_error_t *err)
{
    if (chat_json_string(req->root, "conv", &req->conv) != 1
        || chat_conv_parse(req->conv.s, req->conv.len, &req->conv_parsed)
           != 0)
    {
        return chat_proto_bad(err, "\"conv\" must be a conversation id");
    }

    return 0;
}


/*
 * The rules that involve the sender, once the frame is well-formed: no
 * message or typing to oneself, and no DM conversation of others.  A group's
 * members are known only to the backend, which checks them.
 */

static int
chat_proto_self(chat_req_t *req, chat_str_t self, chat_proto_error_t *err)
{
    if (req->to.len > 0
        && req->to.len == self.len
        && memcmp(req->to.s, self.s, self.len) == 0)
    {
        return chat_proto_bad(err, "cannot send to yourself");
    }

    if (req->conv_parsed.kind == CHAT_CONV_DM
        && !chat_conv_dm_has(&req->conv_parsed, self))
    {
        err->code = "forbidden";
        err->message = "not a member of this conversation";
        return -1;
    }

    return 0;
}


/* group_leave, and the "group" every group_* request names */

static int
chat_proto_group(chat_req_t *req, chat_proto_error_t *err)
{
    if (chat_proto_id(req->root, "group", &req->group) != 1) {
        return chat_proto_bad(err, "\"group\" must be a group id");
    }

    return 0;
}


/*
 * A send's media names an upload of this server by the URL POST /api/media
 * answered (PROTOCOL.md 6): "url" must be of exactly that form
 * (chat_media_url_parse), so that it names an id and nothing else; whether
 * this server signed it, and it is unexpired, needs the key, and is the
 * module's to check. "mime" and "size", when a client sends them, are not
 * read: every reader gets the type and size recorded at upload.
 */

static int
chat_proto_media(chat_req_t *req, chat_proto_error_t *err)
{
    json_t      *media;
    int64_t      expiry;
    chat_str_t   id, sig;

    media = json_object_get(req->root, "media");

    if (media == NULL) {
        return 0;
    }

    if (!json_is_object(media)) {
        return chat_proto_bad(err, "\"media\" must be an object");
    }

    if (chat_json_string(media, "url", &req->media.url) != 1
        || chat_media_url_parse(req->media.url.s, req->media.url.len, &id,
                                &expiry, &sig)
           != 0)
    {
        return chat_proto_bad(err, "media.url must be a URL that "
                              "POST /api/media returned");
    }

    req->has_media = 1;

    return 0;
}


static int
chat_proto_auth(chat_req_t *req, chat_proto_error_t *err)
{
    if (chat_json_string(req->root, "token", &req->token) != 1
        || req->token.len == 0
        || req->token.len > CHAT_PROTO_MAX_TOKEN)
    {
        return chat_proto_bad(err, "\"token\" must be a string of 1-"
                              CHAT_PROTO_XSTR(CHAT_PROTO_MAX_TOKEN) " bytes");
    }

    return 0;
}


static int
chat_proto_send(chat_req_t *req, chat_proto_error_t *err)
{
    int  rc;

    /* the id is the idempotency key of the write */

    if (req->id.len == 0) {
        return chat_proto_bad(err, "\"id\" is required to send");
    }

    if (chat_proto_target(req, err) != 0 || chat_proto_media(req, err) != 0) {
        return -1;
    }

    rc = chat_json_string(req->root, "body", &req->body);

    if (rc < 0) {
        return chat_proto_bad(err, "\"body\" must be a string");
    }

    if (rc == 0) {
        /* never NULL, so that it can always be handed to a string API */
        req->body.s = "";
        req->body.len = 0;
    }

    if (req->body.len == 0 && !req->has_media) {
        return chat_proto_bad(err,
                              "\"body\" must not be empty without \"media\"");
    }

    return 0;
}


static int
chat_proto_receipt(chat_req_t *req, chat_proto_error_t *err)
{
    if (chat_proto_conv(req, err) != 0) {
        return -1;
    }

    req->status = chat_proto_enum(req->root, "status", chat_proto_statuses);

    if (req->status == 0) {
        return chat_proto_bad(err,
                              "\"status\" must be \"delivered\" or \"read\"");
    }

    if (chat_proto_integer(req->root, "seq", 1, &req->seq) != 1) {
        return chat_proto_bad(err, "\"seq\" must be an integer >= 1");
    }

    return 0;
}


static int
chat_proto_typing(chat_req_t *req, chat_proto_error_t *err)
{
    if (chat_proto_target(req, err) != 0) {
        return -1;
    }

    req->typing = chat_proto_enum(req->root, "state", chat_proto_states);

    if (req->typing == 0) {
        return chat_proto_bad(err, "\"state\" must be \"start\" or \"stop\"");
    }

    return 0;
}


static int
chat_proto_presence(chat_req_t *req, chat_proto_error_t *err)
{
    return chat_proto_list(req, &chat_proto_users, err);
}


static int
chat_proto_group_create(chat_req_t *req, chat_proto_error_t *err)
{
    int  rc;

    if (chat_proto_group(req, err) != 0) {
        return -1;
    }

    rc = chat_json_string(req->root, "name", &req->name);

    if (rc < 0
        || (rc == 1
            && (req->name.len == 0
                || req->name.len > CHAT_PROTO_MAX_GROUP_NAME)))
    {
        return chat_proto_bad(err, "\"name\" must be a string of 1-"
                              CHAT_PROTO_XSTR(CHAT_PROTO_MAX_GROUP_NAME)
                              " bytes");
    }

    return chat_proto_list(req, &chat_proto_new_members, err);
}


/* group_add, group_remove */

static int
chat_proto_group_change(chat_req_t *req, chat_proto_error_t *err)
{
    if (chat_proto_group(req, err) != 0) {
        return -1;
    }

    return chat_proto_list(req, &chat_proto_members, err);
}


static int
chat_proto_history(chat_req_t *req, chat_proto_error_t *err)
{
    int      rc;
    int64_t  limit;

    if (chat_proto_conv(req, err) != 0) {
        return -1;
    }

    if (chat_proto_integer(req->root, "before_seq", 1, &req->before_seq) < 0) {
        return chat_proto_bad(err, "\"before_seq\" must be an integer >= 1");
    }

    rc = chat_proto_integer(req->root, "limit", 1, &limit);

    if (rc < 0) {
        return chat_proto_bad(err, "\"limit\" must be an integer >= 1");
    }

    if (rc == 0) {
        limit = CHAT_PROTO_DEFAULT_HISTORY;

    } else if (limit > CHAT_PROTO_MAX_HISTORY) {
        limit = CHAT_PROTO_MAX_HISTORY;
    }

    req->limit = (int) limit;

    return 0;
}


/*
 * conv_set: a malformed conv is refused here, like any frame's; a bad ttl
 * is not. Who may set a conversation's ttl is checked before its fields
 * (PROTOCOL.md 3): a DM's members are known from its id (chat_proto_self,
 * forbidden), a group's admins only to the worker, so the request goes on
 * with CHAT_PROTO_TTL_BAD and is refused once the setter's right is known.
 */

static int
chat_proto_conv_set(chat_req_t *req, chat_proto_error_t *err)
{
    if (chat_proto_conv(req, err) != 0) {
        return -1;
    }

    if (chat_proto_integer(req->root, "ttl", 0, &req->ttl) != 1
        || req->ttl > CHAT_PROTO_MAX_TTL)
    {
        req->ttl = CHAT_PROTO_TTL_BAD;
    }

    return 0;
}


/* a NULL handler: nothing but the type to check */

static const chat_proto_type_t  chat_proto_types[] = {
    { "ping",           CHAT_REQ_PING,           NULL },
    { "auth",           CHAT_REQ_AUTH,           chat_proto_auth },
    { "send",           CHAT_REQ_SEND,           chat_proto_send },
    { "receipt",        CHAT_REQ_RECEIPT,        chat_proto_receipt },
    { "typing",         CHAT_REQ_TYPING,         chat_proto_typing },
    { "presence_sub",   CHAT_REQ_PRESENCE_SUB,   chat_proto_presence },
    { "presence_unsub", CHAT_REQ_PRESENCE_UNSUB, chat_proto_presence },
    { "group_create",   CHAT_REQ_GROUP_CREATE,   chat_proto_group_create },
    { "group_add",      CHAT_REQ_GROUP_ADD,      chat_proto_group_change },
    { "group_remove",   CHAT_REQ_GROUP_REMOVE,   chat_proto_group_change },
    { "group_leave",    CHAT_REQ_GROUP_LEAVE,    chat_proto_group },
    { "history",        CHAT_REQ_HISTORY,        chat_proto_history },
    { "conv_set",       CHAT_REQ_CONV_SET,       chat_proto_conv_set }
};

#define CHAT_PROTO_NTYPES                                                     \
    (sizeof(chat_proto_types) / sizeof(chat_proto_types[0]))


int
chat_proto_decode(const char *text, size_t len, chat_str_t self,
    chat_req_t *req, chat_proto_error_t *err)
{
    int                       rc;
    size_t                    i;
    chat_str_t                id, type;
    json_error_t              jerr;
    const chat_proto_type_t  *t;

    memset(req, 0, sizeof(*req));
    err->code = NULL;
    err->message = NULL;

    if (chat_proto_too_deep(text, len)) {
        return chat_proto_bad(err, "JSON nested too deeply");
    }

    /*
     * JSON_ALLOW_NUL: "\u0000" is valid JSON and a body may carry it; every
     * string is handled by its length, and ids refuse NUL by their charset.
     */

    req->root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                           &jerr);
    if (req->root == NULL) {
        return chat_proto_bad(err, "malformed JSON");
    }

    if (!json_is_object(req->root)) {
        return chat_proto_bad(err, "a request must be a JSON object");
    }

    /*
     * The id first, so that any later error can echo it. Ids beginning
     * with "~" are the server's own: the module's reads of a gap
     * ("~gap:<n>", ngx_chat_order.c) and the chat-worker's dedupe key of a
     * record without an id ("~<mid>"); a client's must not pass for one.
     */

    rc = chat_json_string(req->root, "id", &id);

    if (rc < 0 || (rc == 1 && !chat_client_id_valid(id.s, id.len))) {
        return chat_proto_bad(err,
                              "\"id\" must be 1-64 printable ASCII characters");
    }

    if (rc == 1 && id.s[0] == CHAT_PROTO_SERVER_ID_MARK) {
        return chat_proto_bad(err, "an \"id\" beginning with \"~\" is the "
                              "server's own");
    }

    if (rc == 1) {
        req->id = id;
    }

    if (chat_json_string(req->root, "type", &type) != 1) {
        return chat_proto_bad(err, "\"type\" must be a string");
    }

    t = NULL;

    for (i = 0; i < CHAT_PROTO_NTYPES; i++) {
        if (chat_proto_str_eq(type, chat_proto_types[i].name)) {
            t = &chat_proto_types[i];
            break;
        }
    }

    if (t == NULL) {
        return chat_proto_bad(err, "unknown \"type\"");
    }

    req->type = t->type;

    if (t->handler != NULL && t->handler(req, err) != 0) {
        return -1;
    }

    return chat_proto_self(req, self, err);
}


void
chat_req_free(chat_req_t *req)
{
    if (req->root != NULL) {
        json_decref(req->root);
    }

    req->root = NULL;
    req->users = NULL;
    req->nusers = 0;
}


const char *
chat_req_type_name(chat_req_type_e type)
{
    size_t  i;

    for (i = 0; i < CHAT_PROTO_NTYPES; i++) {
        if (chat_proto_types[i].type == type) {
            return chat_proto_types[i].name;
        }
    }

    return "unknown";
}
