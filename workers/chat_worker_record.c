/*
 * Decoder of the records of the topic of writes (docs/INTERNALS.md).
 *
 * The module is the only producer, but a record is still checked field by
 * field: a bad one must be skipped with a reason, never stored half-right.
 * Members the contract does not name are ignored, so that a later version
 * can add some.
 */

#include <string.h>

#include "chat_json.h"
#include "chat_worker_record.h"


const char  *const chat_worker_group_event[] = {
    "created", "added", "removed", "left"
};

static const char  *const chat_worker_group_action[] = {
    "create", "add", "remove", "leave"
};


static int chat_worker_record_request_id(chat_worker_record_t *rec,
    const char **reason);
static int chat_worker_record_group(chat_worker_record_t *rec,
    const char **reason);


static int
chat_worker_record_bad(const char **reason, const char *why)
{
    *reason = why;
    return -1;
}


/* 0 with the integer member key (at least min) in out, -1 otherwise. */

static int
chat_worker_record_integer(json_t *obj, const char *key, int64_t min,
    int64_t *out)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < min) {
        return -1;
    }

    *out = json_integer_value(v);

    return 0;
}


/* Like chat_worker_record_integer(), but an absent member gives dflt. */

static int
chat_worker_record_optional(json_t *obj, const char *key, int64_t min,
    int64_t dflt, int64_t *out)
{
    if (json_object_get(obj, key) == NULL) {
        *out = dflt;
        return 0;
    }

    return chat_worker_record_integer(obj, key, min, out);
}


/* A user id member: present and valid. */

static int
chat_worker_record_user(json_t *obj, const char *key, chat_str_t *out)
{
    if (chat_json_string(obj, key, out) != 1) {
        return -1;
    }

    return chat_id_valid(out->s, out->len) ? 0 : -1;
}


/* A mid: 1-32 bytes of letters and digits (Crockford base32 is a subset). */

static int
chat_worker_record_mid_valid(chat_str_t mid)
{
    size_t         i;
    unsigned char  c;

    if (mid.len == 0 || mid.len > CHAT_WORKER_MID_MAX) {
        return 0;
    }

    for (i = 0; i < mid.len; i++) {
        c = (unsigned char) mid.s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
              || (c >= 'a' && c <= 'z')))
        {
            return 0;
        }
    }

    return 1;
}


/* media, when present: an object with a string url and mime and an integer
 * size; it is stored and forwarded as it is. */

static int
chat_worker_record_media(chat_worker_record_t *rec)
{
    int64_t     size;
    chat_str_t  s;

    rec->media = json_object_get(rec->root, "media");

    if (rec->media == NULL) {
        return 0;
    }

    if (!json_is_object(rec->media)
        || chat_json_string(rec->media, "url", &s) != 1
        || chat_json_string(rec->media, "mime", &s) != 1
        || chat_worker_record_integer(rec->media, "size", 0, &size) != 0)
    {
        return -1;
    }

    return 0;
}


static int
chat_worker_record_conv(chat_worker_record_t *rec, const char **reason)
{
    if (chat_json_string(rec->root, "conv", &rec->conv) != 1
        || chat_conv_parse(rec->conv.s, rec->conv.len, &rec->conv_parsed)
           != 0)
    {
        return chat_worker_record_bad(reason, "\"conv\" is not a valid "
                                      "conversation id");
    }

    return 0;
}


/* The conversation of a DM send must be the one of its two users. */

static int
chat_worker_record_dm(chat_worker_record_t *rec, const char **reason)
{
    char    conv[CHAT_CONV_MAX];
    size_t  n;

    if (chat_worker_record_user(rec->root, "to", &rec->to) != 0) {
        return chat_worker_record_bad(reason, "\"to\" is not a valid "
                                      "user id");
    }

    if (rec->to.len == rec->from.len
        && memcmp(rec->to.s, rec->from.s, rec->to.len) == 0)
    {
        return chat_worker_record_bad(reason, "\"to\" is the sender");
    }

    n = chat_conv_dm(conv, rec->from, rec->to);

    if (rec->conv_parsed.kind != CHAT_CONV_DM
        || n != rec->conv.len || memcmp(conv, rec->conv.s, n) != 0)
    {
        return chat_worker_record_bad(reason, "\"conv\" is not the "
                                      "conversation of \"from\" and \"to\"");
    }

    return 0;
}


/* The conversation of a group send must be the group's. */

static int
chat_worker_record_group_conv(chat_worker_record_t *rec, const char **reason)
{
    if (chat_worker_record_user(rec->root, "group", &rec->group) != 0) {
        return chat_worker_record_bad(reason, "\"group\" is not a valid "
                                      "group id");
    }

    if (json_object_get(rec->root, "to") != NULL) {
        return chat_worker_record_bad(reason, "both \"to\" and \"group\"");
    }

    if (rec->conv_parsed.kind != CHAT_CONV_GROUP
        || rec->conv_parsed.group.len != rec->group.len
        || memcmp(rec->conv_parsed.group.s, rec->group.s, rec->group.len)
           != 0)
    {
        return chat_worker_record_bad(reason, "\"conv\" is not the "
                                      "conversation of \"group\"");
    }

    return 0;
}


/* conn, the connection an answer goes to: a target of a payload, so no
 * newline, and never "*" (every device). */

static int
chat_worker_record_conn(chat_worker_record_t *rec, const char **reason)
{
    if (chat_json_string(rec->root, "conn", &rec->conn) != 1
        || !chat_client_id_valid(rec->conn.s, rec->conn.len)
        || (rec->conn.len == 1 && rec->conn.s[0] == '*'))
    {
        return chat_worker_record_bad(reason, "\"conn\" is not a valid "
                                      "connection id");
    }

    return 0;
}


static int
chat_worker_record_send(chat_worker_record_t *rec, const char **reason)
{
    if (chat_json_string(rec->root, "mid", &rec->mid) != 1
        || !chat_worker_record_mid_valid(rec->mid))
    {
        return chat_worker_record_bad(reason, "\"mid\" is not a valid "
                                      "message id");
    }

    if (chat_worker_record_conv(rec, reason) != 0) {
        return -1;
    }

    if (chat_worker_record_user(rec->root, "from", &rec->from) != 0) {
        return chat_worker_record_bad(reason, "\"from\" is not a valid "
                                      "user id");
    }

    if (json_object_get(rec->root, "group") != NULL) {
        if (chat_worker_record_group_conv(rec, reason) != 0
            || chat_worker_record_conn(rec, reason) != 0)
        {
            return -1;
        }

    } else if (chat_worker_record_dm(rec, reason) != 0) {
        return -1;
    }

    if (chat_json_string(rec->root, "body", &rec->body) != 1) {
        return chat_worker_record_bad(reason, "\"body\" is not a string");
    }

    if (chat_json_string(rec->root, "id", &rec->id) != 1
        || !chat_client_id_valid(rec->id.s, rec->id.len))
    {
        return chat_worker_record_bad(reason, "\"id\" is not a valid "
                                      "client id");
    }

    if (chat_worker_record_media(rec) != 0) {
        return chat_worker_record_bad(reason, "\"media\" is not an object "
                                      "with url, mime and size");
    }

    return 0;
}


static int
chat_worker_record_receipt(chat_worker_record_t *rec, const char **reason)
{
    chat_str_t  status;

    if (chat_worker_record_conv(rec, reason) != 0) {
        return -1;
    }

    if (chat_worker_record_user(rec->root, "by", &rec->by) != 0) {
        return chat_worker_record_bad(reason, "\"by\" is not a valid "
                                      "user id");
    }

    if (chat_json_string(rec->root, "status", &status) == 1) {
        if (status.len == 9 && memcmp(status.s, "delivered", 9) == 0) {
            rec->status = CHAT_RECEIPT_DELIVERED;

        } else if (status.len == 4 && memcmp(status.s, "read", 4) == 0) {
            rec->status = CHAT_RECEIPT_READ;
        }
    }

    if (rec->status == 0) {
        return chat_worker_record_bad(reason, "\"status\" is not "
                                      "\"delivered\" or \"read\"");
    }

    if (chat_worker_record_integer(rec->root, "seq", 1, &rec->seq) != 0) {
        return chat_worker_record_bad(reason, "\"seq\" is not an integer "
                                      ">= 1");
    }

    /* where a refusal goes (a receipt in a group one is not in): optional */
    if (json_object_get(rec->root, "conn") != NULL
        && chat_worker_record_conn(rec, reason) != 0)
    {
        return -1;
    }

    return chat_worker_record_request_id(rec, reason);
}


/*
 * Where the answer of a sync or history goes, and its size: the user, and
 * conn, a target of a payload (so no newline, and never "*", every device).
 */

static int
chat_worker_record_reply_to(chat_worker_record_t *rec, const char **reason)
{
    if (chat_worker_record_user(rec->root, "user", &rec->user) != 0) {
        return chat_worker_record_bad(reason, "\"user\" is not a valid "
                                      "user id");
    }

    if (chat_worker_record_conn(rec, reason) != 0) {
        return -1;
    }

    /* the module's send budget is what bounds an answer; below the
     * minimum, a page would hardly hold a message */

    if (chat_worker_record_optional(rec->root, "max_bytes", 1,
                                    CHAT_WORKER_MAX_BYTES, &rec->max_bytes)
        != 0)
    {
        return chat_worker_record_bad(reason, "\"max_bytes\" is not an "
                                      "integer >= 1");
    }

    if (rec->max_bytes < CHAT_WORKER_MAX_BYTES_MIN) {
        rec->max_bytes = CHAT_WORKER_MAX_BYTES_MIN;
    }

    return 0;
}


/* after, when present: the last message of the previous page. */

static int
chat_worker_record_after(chat_worker_record_t *rec, const char **reason)
{
    json_t       *after;
    chat_conv_t   conv;

    after = json_object_get(rec->root, "after");

    if (after == NULL) {
        return 0;
    }

    if (!json_is_object(after)
        || chat_json_string(after, "conv", &rec->after_conv) != 1
        || chat_conv_parse(rec->after_conv.s, rec->after_conv.len, &conv) != 0
        || chat_worker_record_integer(after, "seq", 0, &rec->after_seq) != 0)
    {
        return chat_worker_record_bad(reason, "\"after\" is not an object "
                                      "with a conv and a seq >= 0");
    }

    return 0;
}


static int
chat_worker_record_sync(chat_worker_record_t *rec, const char **reason)
{
    if (chat_worker_record_reply_to(rec, reason) != 0) {
        return -1;
    }

    return chat_worker_record_after(rec, reason);
}


static int
chat_worker_record_history(chat_worker_record_t *rec, const char **reason)
{
    if (chat_worker_record_conv(rec, reason) != 0
        || chat_worker_record_reply_to(rec, reason) != 0)
    {
        return -1;
    }

    if (chat_worker_record_request_id(rec, reason) != 0) {
        return -1;
    }

    if (chat_worker_record_optional(rec->root, "before_seq", 0, 0,
                                    &rec->before_seq) != 0)
    {
        return chat_worker_record_bad(reason, "\"before_seq\" is not an "
                                      "integer >= 0");
    }

    if (chat_worker_record_optional(rec->root, "limit", INT64_MIN,
                                    CHAT_WORKER_HISTORY_LIMIT, &rec->limit)
        != 0)
    {
        return chat_worker_record_bad(reason, "\"limit\" is not an "
                                      "integer");
    }

    if (rec->limit < 1) {
        rec->limit = 1;

    } else if (rec->limit > CHAT_WORKER_HISTORY_LIMIT_MAX) {
        rec->limit = CHAT_WORKER_HISTORY_LIMIT_MAX;
    }

    return 0;
}


/* The request id, echoed to the client: absent, or a client id. */

static int
chat_worker_record_request_id(chat_worker_record_t *rec, const char **reason)
{
    int  rc;

    rc = chat_json_string(rec->root, "id", &rec->id);

    if (rc == -1 || (rc == 1 && !chat_client_id_valid(rec->id.s, rec->id.len)))
    {
        return chat_worker_record_bad(reason, "\"id\" is not a valid "
                                      "client id");
    }

    return 0;
}


/* members: an array of user ids for create, add and remove (possibly
 * empty: the change may be none); absent for leave. */

static int
chat_worker_record_members(chat_worker_record_t *rec, const char **reason)
{
    size_t       i;
    json_t      *v;
    chat_str_t   user;

    rec->members = json_object_get(rec->root, "members");

    if (rec->action == CHAT_WORKER_GROUP_LEAVE) {
        return rec->members == NULL
               ? 0 : chat_worker_record_bad(reason, "\"members\" in a "
                                            "leave");
    }

    if (!json_is_array(rec->members)) {
        return chat_worker_record_bad(reason, "\"members\" is not an "
                                      "array of user ids");
    }

    json_array_foreach(rec->members, i, v) {
        user.s = json_string_value(v);
        user.len = json_string_length(v);

        if (user.s == NULL || !chat_id_valid(user.s, user.len)) {
            return chat_worker_record_bad(reason, "\"members\" is not an "
                                          "array of user ids");
        }
    }

    return 0;
}


static int
chat_worker_record_action(chat_worker_record_t *rec, const char **reason)
{
    size_t      i;
    chat_str_t  action;

    if (chat_json_string(rec->root, "action", &action) == 1) {
        for (i = 0; i <= CHAT_WORKER_GROUP_LEAVE; i++) {
            if (action.len == strlen(chat_worker_group_action[i])
                && memcmp(action.s, chat_worker_group_action[i], action.len)
                   == 0)
            {
                rec->action = (chat_worker_group_e) i;
                return 0;
            }
        }
    }

    return chat_worker_record_bad(reason, "\"action\" is not create, add, "
                                  "remove or leave");
}


/*
 * group: a membership change, written in the conversation grp:<group>.
 * Its dedupe key is (by, id), or (by, "~" mid) without an id: no client
 * id starts with "~" and the same record replayed has the same mid.
 */

static int
chat_worker_record_group(chat_worker_record_t *rec, const char **reason)
{
    int  rc;

    if (chat_worker_record_action(rec, reason) != 0) {
        return -1;
    }

    if (chat_worker_record_user(rec->root, "group", &rec->group) != 0) {
        return chat_worker_record_bad(reason, "\"group\" is not a valid "
                                      "group id");
    }

    rec->conv.s = rec->conv_buf;
    rec->conv.len = chat_conv_group(rec->conv_buf, rec->group);
    chat_conv_parse(rec->conv.s, rec->conv.len, &rec->conv_parsed);

    if (chat_worker_record_user(rec->root, "by", &rec->by) != 0) {
        return chat_worker_record_bad(reason, "\"by\" is not a valid "
                                      "user id");
    }

    if (chat_json_string(rec->root, "mid", &rec->mid) != 1
        || !chat_worker_record_mid_valid(rec->mid))
    {
        return chat_worker_record_bad(reason, "\"mid\" is not a valid "
                                      "message id");
    }

    if (chat_worker_record_conn(rec, reason) != 0
        || chat_worker_record_request_id(rec, reason) != 0
        || chat_worker_record_members(rec, reason) != 0)
    {
        return -1;
    }

    rc = chat_json_string(rec->root, "name", &rec->name);

    if (rc == -1 || rec->name.len > CHAT_WORKER_GROUP_NAME_MAX) {
        return chat_worker_record_bad(reason, "\"name\" is not a string "
                                      "of at most 128 bytes");
    }

    if (rec->id.len) {
        rec->client_id = rec->id;

    } else {
        rec->client_id_buf[0] = '~';
        memcpy(rec->client_id_buf + 1, rec->mid.s, rec->mid.len);
        rec->client_id.s = rec->client_id_buf;
        rec->client_id.len = 1 + rec->mid.len;
    }

    return 0;
}


int
chat_worker_record_parse(const char *data, size_t len,
    chat_worker_record_t *rec, const char **reason)
{
    int64_t       v;
    chat_str_t    op;
    json_error_t  jerr;

    memset(rec, 0, sizeof(*rec));

    if (data == NULL || len == 0) {
        return chat_worker_record_bad(reason, "empty record");
    }

    /* a body may hold "\u0000" (the module accepts it); strings are
     * handled by their length */

    rec->root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                           &jerr);

    if (rec->root == NULL) {
        return chat_worker_record_bad(reason, "malformed JSON");
    }

    if (!json_is_object(rec->root)) {
        return chat_worker_record_bad(reason, "not a JSON object");
    }

    if (chat_worker_record_integer(rec->root, "v", 0, &v) != 0
        || v != CHAT_WORKER_RECORD_VERSION)
    {
        return chat_worker_record_bad(reason, "\"v\" is not 1");
    }

    if (chat_worker_record_integer(rec->root, "ts", 0, &rec->ts) != 0) {
        return chat_worker_record_bad(reason, "\"ts\" is not an integer "
                                      ">= 0");
    }

    if (chat_json_string(rec->root, "op", &op) != 1) {
        return chat_worker_record_bad(reason, "\"op\" is missing");
    }

    if (op.len == 4 && memcmp(op.s, "send", 4) == 0) {
        rec->op = CHAT_WORKER_OP_SEND;
        return chat_worker_record_send(rec, reason);
    }

    if (op.len == 7 && memcmp(op.s, "receipt", 7) == 0) {
        rec->op = CHAT_WORKER_OP_RECEIPT;
        return chat_worker_record_receipt(rec, reason);
    }

    if (op.len == 5 && memcmp(op.s, "group", 5) == 0) {
        rec->op = CHAT_WORKER_OP_GROUP;
        return chat_worker_record_group(rec, reason);
    }

    if (op.len == 4 && memcmp(op.s, "sync", 4) == 0) {
        rec->op = CHAT_WORKER_OP_SYNC;
        return chat_worker_record_sync(rec, reason);
    }

    if (op.len == 7 && memcmp(op.s, "history", 7) == 0) {
        rec->op = CHAT_WORKER_OP_HISTORY;
        return chat_worker_record_history(rec, reason);
    }

    return chat_worker_record_bad(reason, "unknown \"op\"");
}


void
chat_worker_record_free(chat_worker_record_t *rec)
{
    if (rec->root != NULL) {
        json_decref(rec->root);
        rec->root = NULL;
    }
}
