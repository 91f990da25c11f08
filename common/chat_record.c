/*
 * Encoder and decoder of the records of the topic of writes
 * (docs/INTERNALS.md, "Kafka").
 *
 * The module is the only producer, but a record is still checked field by
 * field: a bad one must be skipped with a reason, never stored half-right.
 * Members the contract does not name are ignored, so that a later version
 * can add some.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_json.h"
#include "chat_media.h"
#include "chat_record.h"


const char  *const chat_record_group_event[] = {
    "created", "added", "removed", "left"
};

static const char  *const chat_record_group_action[] = {
    "create", "add", "remove", "leave"
};

static const char  *const chat_record_op_name[] = {
    NULL, "send", "receipt", "sync", "history", "group", "conv_set"
};


static int chat_record_request_id(chat_record_t *rec,
    const char **reason);
static int chat_record_group(chat_record_t *rec,
    const char **reason);
static void chat_record_client_id(chat_record_t *rec);


static int
chat_record_bad(const char **reason, const char *why)
{
    *reason = why;
    return -1;
}


/* 0 with the integer member key (at least min) in out, -1 otherwise. */

static int
chat_record_integer(json_t *obj, const char *key, int64_t min,
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


/* Like chat_record_integer(), but an absent member gives dflt. */

static int
chat_record_optional(json_t *obj, const char *key, int64_t min,
    int64_t dflt, int64_t *out)
{
    if (json_object_get(obj, key) == NULL) {
        *out = dflt;
        return 0;
    }

    return chat_record_integer(obj, key, min, out);
}


/* A user id member: present and valid. */

static int
chat_record_user(json_t *obj, const char *key, chat_str_t *out)
{
    if (chat_json_string(obj, key, out) != 1) {
        return -1;
    }

    return chat_id_valid(out->s, out->len) ? 0 : -1;
}


/* A mid: 1-32 bytes of letters and digits (Crockford base32 is a subset). */

static int
chat_record_mid_valid(chat_str_t mid)
{
    size_t         i;
    unsigned char  c;

    if (mid.len == 0 || mid.len > CHAT_RECORD_MID_MAX) {
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


/* media, when present: {"id":<media id>}, the id the module took from a
 * URL it checked; the type and size are the store's, recorded at upload,
 * so the record carries neither. */

static int
chat_record_media(chat_record_t *rec)
{
    json_t  *media;

    media = json_object_get(rec->root, "media");

    if (media == NULL) {
        return 0;
    }

    if (!json_is_object(media)
        || chat_json_string(media, "id", &rec->media_id) != 1
        || !chat_media_id_valid(rec->media_id))
    {
        return -1;
    }

    rec->has_media = 1;

    return 0;
}


/* The mid of a write (send, group, conv_set): present and valid. */

static int
chat_record_mid(chat_record_t *rec, const char **reason)
{
    if (chat_json_string(rec->root, "mid", &rec->mid) != 1
        || !chat_record_mid_valid(rec->mid))
    {
        return chat_record_bad(reason, "\"mid\" is not a valid "
                                      "message id");
    }

    return 0;
}


static int
chat_record_conv(chat_record_t *rec, const char **reason)
{
    if (chat_json_string(rec->root, "conv", &rec->conv) != 1
        || chat_conv_parse(rec->conv.s, rec->conv.len, &rec->conv_parsed)
           != 0)
    {
        return chat_record_bad(reason, "\"conv\" is not a valid "
                                      "conversation id");
    }

    return 0;
}


/* The conversation of a DM send must be the one of its two users. */

static int
chat_record_dm(chat_record_t *rec, const char **reason)
{
    char    conv[CHAT_CONV_MAX];
    size_t  n;

    if (chat_record_user(rec->root, "to", &rec->to) != 0) {
        return chat_record_bad(reason, "\"to\" is not a valid "
                                      "user id");
    }

    if (rec->to.len == rec->from.len
        && memcmp(rec->to.s, rec->from.s, rec->to.len) == 0)
    {
        return chat_record_bad(reason, "\"to\" is the sender");
    }

    n = chat_conv_dm(conv, rec->from, rec->to);

    if (rec->conv_parsed.kind != CHAT_CONV_DM
        || n != rec->conv.len || memcmp(conv, rec->conv.s, n) != 0)
    {
        return chat_record_bad(reason, "\"conv\" is not the "
                                      "conversation of \"from\" and \"to\"");
    }

    return 0;
}


/* The conversation of a group send must be the group's. */

static int
chat_record_group_conv(chat_record_t *rec, const char **reason)
{
    if (chat_record_user(rec->root, "group", &rec->group) != 0) {
        return chat_record_bad(reason, "\"group\" is not a valid "
                                      "group id");
    }

    if (json_object_get(rec->root, "to") != NULL) {
        return chat_record_bad(reason, "both \"to\" and \"group\"");
    }

    if (rec->conv_parsed.kind != CHAT_CONV_GROUP
        || rec->conv_parsed.group.len != rec->group.len
        || memcmp(rec->conv_parsed.group.s, rec->group.s, rec->group.len)
           != 0)
    {
        return chat_record_bad(reason, "\"conv\" is not the "
                                      "conversation of \"group\"");
    }

    return 0;
}


/* conn, the connection an answer goes to: a target of a payload, so no
 * newline, and never "*" (every device). */

static int
chat_record_conn(chat_record_t *rec, const char **reason)
{
    if (chat_json_string(rec->root, "conn", &rec->conn) != 1
        || !chat_client_id_valid(rec->conn.s, rec->conn.len)
        || (rec->conn.len == 1 && rec->conn.s[0] == '*'))
    {
        return chat_record_bad(reason, "\"conn\" is not a valid "
                                      "connection id");
    }

    return 0;
}


static int
chat_record_send(chat_record_t *rec, const char **reason)
{
    if (chat_record_mid(rec, reason) != 0) {
        return -1;
    }

    if (chat_record_conv(rec, reason) != 0) {
        return -1;
    }

    if (chat_record_user(rec->root, "from", &rec->from) != 0) {
        return chat_record_bad(reason, "\"from\" is not a valid "
                                      "user id");
    }

    if (json_object_get(rec->root, "group") != NULL) {
        if (chat_record_group_conv(rec, reason) != 0
            || chat_record_conn(rec, reason) != 0)
        {
            return -1;
        }

    } else if (chat_record_dm(rec, reason) != 0) {
        return -1;
    }

    if (chat_json_string(rec->root, "body", &rec->body) != 1) {
        return chat_record_bad(reason, "\"body\" is not a string");
    }

    if (chat_json_string(rec->root, "id", &rec->id) != 1
        || !chat_client_id_valid(rec->id.s, rec->id.len))
    {
        return chat_record_bad(reason, "\"id\" is not a valid "
                                      "client id");
    }

    if (chat_record_media(rec) != 0) {
        return chat_record_bad(reason, "\"media\" is not an object "
                                      "with a media id");
    }

    /* a DM with media is answered by its worker, on conn; one without is
     * answered by the module, so it names no conn the worker would answer
     * too */
    if (rec->group.len == 0 && json_object_get(rec->root, "conn") != NULL) {
        if (!rec->has_media) {
            return chat_record_bad(reason, "\"conn\" on a DM send "
                                          "without media");
        }

        if (chat_record_conn(rec, reason) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
chat_record_receipt(chat_record_t *rec, const char **reason)
{
    chat_str_t  status;

    if (chat_record_conv(rec, reason) != 0) {
        return -1;
    }

    if (chat_record_user(rec->root, "by", &rec->by) != 0) {
        return chat_record_bad(reason, "\"by\" is not a valid "
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
        return chat_record_bad(reason, "\"status\" is not "
                                      "\"delivered\" or \"read\"");
    }

    if (chat_record_integer(rec->root, "seq", 1, &rec->seq) != 0) {
        return chat_record_bad(reason, "\"seq\" is not an integer "
                                      ">= 1");
    }

    /* where a refusal goes (a receipt in a group one is not in): optional */
    if (json_object_get(rec->root, "conn") != NULL
        && chat_record_conn(rec, reason) != 0)
    {
        return -1;
    }

    return chat_record_request_id(rec, reason);
}


/*
 * Where the answer of a sync or history goes, and its size: the user, and
 * conn, a target of a payload (so no newline, and never "*", every device).
 */

static int
chat_record_reply_to(chat_record_t *rec, const char **reason)
{
    if (chat_record_user(rec->root, "user", &rec->user) != 0) {
        return chat_record_bad(reason, "\"user\" is not a valid "
                                      "user id");
    }

    if (chat_record_conn(rec, reason) != 0) {
        return -1;
    }

    /* the module's send budget is what bounds an answer; below the
     * minimum, a page would hardly hold a message */

    if (chat_record_optional(rec->root, "max_bytes", 1,
                                    CHAT_RECORD_MAX_BYTES, &rec->max_bytes)
        != 0)
    {
        return chat_record_bad(reason, "\"max_bytes\" is not an "
                                      "integer >= 1");
    }

    if (rec->max_bytes < CHAT_RECORD_MAX_BYTES_MIN) {
        rec->max_bytes = CHAT_RECORD_MAX_BYTES_MIN;
    }

    return 0;
}


/* after, when present: the last message of the previous page. */

static int
chat_record_after(chat_record_t *rec, const char **reason)
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
        || chat_record_integer(after, "seq", 0, &rec->after_seq) != 0)
    {
        return chat_record_bad(reason, "\"after\" is not an object "
                                      "with a conv and a seq >= 0");
    }

    return 0;
}


static int
chat_record_sync(chat_record_t *rec, const char **reason)
{
    if (chat_record_reply_to(rec, reason) != 0) {
        return -1;
    }

    return chat_record_after(rec, reason);
}


static int
chat_record_history(chat_record_t *rec, const char **reason)
{
    json_t  *events;

    if (chat_record_conv(rec, reason) != 0
        || chat_record_reply_to(rec, reason) != 0)
    {
        return -1;
    }

    if (chat_record_request_id(rec, reason) != 0) {
        return -1;
    }

    if (chat_record_optional(rec->root, "before_seq", 0, 0,
                                    &rec->before_seq) != 0)
    {
        return chat_record_bad(reason, "\"before_seq\" is not an "
                                      "integer >= 0");
    }

    if (chat_record_optional(rec->root, "limit", INT64_MIN,
                                    CHAT_RECORD_HISTORY_LIMIT, &rec->limit)
        != 0)
    {
        return chat_record_bad(reason, "\"limit\" is not an "
                                      "integer");
    }

    if (rec->limit < 1) {
        rec->limit = 1;

    } else if (rec->limit > CHAT_RECORD_HISTORY_LIMIT_MAX) {
        rec->limit = CHAT_RECORD_HISTORY_LIMIT_MAX;
    }

    events = json_object_get(rec->root, "events");

    if (events != NULL && !json_is_boolean(events)) {
        return chat_record_bad(reason, "\"events\" is not a boolean");
    }

    rec->events = json_is_true(events);

    return 0;
}


/* The request id, echoed to the client: absent, or a client id. */

static int
chat_record_request_id(chat_record_t *rec, const char **reason)
{
    int  rc;

    rc = chat_json_string(rec->root, "id", &rec->id);

    if (rc == -1 || (rc == 1 && !chat_client_id_valid(rec->id.s, rec->id.len)))
    {
        return chat_record_bad(reason, "\"id\" is not a valid "
                                      "client id");
    }

    return 0;
}


/*
 * The dedupe key of a group change or a conv_set: (by or from, id), or
 * "~" and the mid without an id: no client id starts with "~" and the
 * same record replayed has the same mid.
 */

static void
chat_record_client_id(chat_record_t *rec)
{
    if (rec->id.len) {
        rec->client_id = rec->id;
        return;
    }

    rec->client_id_buf[0] = '~';
    memcpy(rec->client_id_buf + 1, rec->mid.s, rec->mid.len);
    rec->client_id.s = rec->client_id_buf;
    rec->client_id.len = 1 + rec->mid.len;
}


/* members: an array of user ids for create, add and remove (possibly
 * empty: the change may be none); absent for leave. */

static int
chat_record_members(chat_record_t *rec, const char **reason)
{
    size_t       i;
    json_t      *v;
    chat_str_t   user;

    rec->members = json_object_get(rec->root, "members");

    if (rec->action == CHAT_RECORD_GROUP_LEAVE) {
        return rec->members == NULL
               ? 0 : chat_record_bad(reason, "\"members\" in a "
                                            "leave");
    }

    if (!json_is_array(rec->members)) {
        return chat_record_bad(reason, "\"members\" is not an "
                                      "array of user ids");
    }

    json_array_foreach(rec->members, i, v) {
        user.s = json_string_value(v);
        user.len = json_string_length(v);

        if (user.s == NULL || !chat_id_valid(user.s, user.len)) {
            return chat_record_bad(reason, "\"members\" is not an "
                                          "array of user ids");
        }
    }

    return 0;
}


static int
chat_record_action(chat_record_t *rec, const char **reason)
{
    size_t      i;
    chat_str_t  action;

    if (chat_json_string(rec->root, "action", &action) == 1) {
        for (i = 0; i <= CHAT_RECORD_GROUP_LEAVE; i++) {
            if (action.len == strlen(chat_record_group_action[i])
                && memcmp(action.s, chat_record_group_action[i], action.len)
                   == 0)
            {
                rec->action = (chat_record_group_e) i;
                return 0;
            }
        }
    }

    return chat_record_bad(reason, "\"action\" is not create, add, "
                                  "remove or leave");
}


/* group: a membership change, written in the conversation grp:<group>;
 * its dedupe key is chat_record_client_id()'s. */

static int
chat_record_group(chat_record_t *rec, const char **reason)
{
    int  rc;

    if (chat_record_action(rec, reason) != 0) {
        return -1;
    }

    if (chat_record_user(rec->root, "group", &rec->group) != 0) {
        return chat_record_bad(reason, "\"group\" is not a valid "
                                      "group id");
    }

    rec->conv.s = rec->conv_buf;
    rec->conv.len = chat_conv_group(rec->conv_buf, rec->group);
    chat_conv_parse(rec->conv.s, rec->conv.len, &rec->conv_parsed);

    if (chat_record_user(rec->root, "by", &rec->by) != 0) {
        return chat_record_bad(reason, "\"by\" is not a valid "
                                      "user id");
    }

    if (chat_record_mid(rec, reason) != 0) {
        return -1;
    }

    if (chat_record_conn(rec, reason) != 0
        || chat_record_request_id(rec, reason) != 0
        || chat_record_members(rec, reason) != 0)
    {
        return -1;
    }

    rc = chat_json_string(rec->root, "name", &rec->name);

    if (rc == -1 || rec->name.len > CHAT_RECORD_GROUP_NAME_MAX) {
        return chat_record_bad(reason, "\"name\" is not a string "
                                      "of at most 128 bytes");
    }

    chat_record_client_id(rec);

    return 0;
}


/* conv_set: the ttl of messages accepted from now on, written in the
 * conversation's log like a membership change; "from" set it. The ttl
 * may be CHAT_PROTO_TTL_BAD: the setter's right is checked before the
 * field (a group's admins are the worker's to know), so the record of a
 * bad ttl is still produced, and answered bad_request once the right is
 * checked. */

static int
chat_record_conv_set(chat_record_t *rec, const char **reason)
{
    if (chat_record_conv(rec, reason) != 0) {
        return -1;
    }

    if (chat_record_user(rec->root, "from", &rec->from) != 0) {
        return chat_record_bad(reason, "\"from\" is not a valid "
                                      "user id");
    }

    if (rec->conv_parsed.kind == CHAT_CONV_DM
        && !chat_conv_dm_has(&rec->conv_parsed, rec->from))
    {
        return chat_record_bad(reason, "\"from\" is not a member of "
                                      "the DM \"conv\"");
    }

    if (chat_record_integer(rec->root, "ttl", CHAT_PROTO_TTL_BAD, &rec->ttl)
        != 0
        || rec->ttl > CHAT_PROTO_MAX_TTL)
    {
        return chat_record_bad(reason, "\"ttl\" is not an integer "
                                      "-1..7776000");
    }

    if (chat_record_mid(rec, reason) != 0) {
        return -1;
    }

    if (chat_record_conn(rec, reason) != 0
        || chat_record_request_id(rec, reason) != 0)
    {
        return -1;
    }

    chat_record_client_id(rec);

    return 0;
}


int
chat_record_decode(const char *data, size_t len,
    chat_record_t *rec, const char **reason)
{
    int64_t       v;
    chat_str_t    op;
    json_error_t  jerr;

    memset(rec, 0, sizeof(*rec));

    if (data == NULL || len == 0) {
        return chat_record_bad(reason, "empty record");
    }

    /* a body may hold "\u0000" (the module accepts it); strings are
     * handled by their length */

    rec->root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                           &jerr);

    if (rec->root == NULL) {
        return chat_record_bad(reason, "malformed JSON");
    }

    if (!json_is_object(rec->root)) {
        return chat_record_bad(reason, "not a JSON object");
    }

    if (chat_record_integer(rec->root, "v", 0, &v) != 0
        || v != CHAT_RECORD_VERSION)
    {
        return chat_record_bad(reason, "\"v\" is not 1");
    }

    if (chat_record_integer(rec->root, "ts", 0, &rec->ts) != 0) {
        return chat_record_bad(reason, "\"ts\" is not an integer "
                                      ">= 0");
    }

    if (chat_json_string(rec->root, "op", &op) != 1) {
        return chat_record_bad(reason, "\"op\" is missing");
    }

    if (op.len == 4 && memcmp(op.s, "send", 4) == 0) {
        rec->op = CHAT_RECORD_OP_SEND;
        return chat_record_send(rec, reason);
    }

    if (op.len == 7 && memcmp(op.s, "receipt", 7) == 0) {
        rec->op = CHAT_RECORD_OP_RECEIPT;
        return chat_record_receipt(rec, reason);
    }

    if (op.len == 5 && memcmp(op.s, "group", 5) == 0) {
        rec->op = CHAT_RECORD_OP_GROUP;
        return chat_record_group(rec, reason);
    }

    if (op.len == 8 && memcmp(op.s, "conv_set", 8) == 0) {
        rec->op = CHAT_RECORD_OP_CONV_SET;
        return chat_record_conv_set(rec, reason);
    }

    if (op.len == 4 && memcmp(op.s, "sync", 4) == 0) {
        rec->op = CHAT_RECORD_OP_SYNC;
        return chat_record_sync(rec, reason);
    }

    if (op.len == 7 && memcmp(op.s, "history", 7) == 0) {
        rec->op = CHAT_RECORD_OP_HISTORY;
        return chat_record_history(rec, reason);
    }

    return chat_record_bad(reason, "unknown \"op\"");
}


void
chat_record_free(chat_record_t *rec)
{
    if (rec->root != NULL) {
        json_decref(rec->root);
        rec->root = NULL;
    }
}



/* The encoders: the member order is the one the module produced with
 * json_pack() before they existed, so the bytes on the log stay the same. */

/* The head every record starts with: the version and the op. */

static int
chat_record_put_head(json_t *rec, const chat_record_t *r)
{
    if (chat_json_put(rec, "v", json_integer(CHAT_RECORD_VERSION)) != 0
        || chat_json_put(rec, "op", json_string(chat_record_op_name[r->op]))
           != 0)
    {
        return -1;
    }

    return 0;
}


/* "id" when the request has one. */

static int
chat_record_put_id(json_t *rec, chat_str_t id)
{
    return id.len ? chat_json_put(rec, "id", chat_json_str(id)) : 0;
}


/* A send names its addressee first ("to", or "group" and "conn"), then
 * the head: so it was built. */

static json_t *
chat_record_encode_send(const chat_record_t *r)
{
    json_t  *rec;

    rec = json_object();
    if (rec == NULL) {
        return NULL;
    }

    if (r->group.len) {
        if (chat_json_put(rec, "group", chat_json_str(r->group)) != 0
            || chat_json_put(rec, "conn", chat_json_str(r->conn)) != 0)
        {
            goto failed;
        }

    } else if (chat_json_put(rec, "to", chat_json_str(r->to)) != 0
               || (r->has_media && r->conn.len
                   && chat_json_put(rec, "conn", chat_json_str(r->conn))
                      != 0))
    {
        goto failed;
    }

    if (chat_record_put_head(rec, r) != 0
        || chat_json_put(rec, "conv", chat_json_str(r->conv)) != 0
        || chat_json_put(rec, "from", chat_json_str(r->from)) != 0
        || chat_json_put(rec, "body", chat_json_str(r->body)) != 0
        || chat_json_put(rec, "id", chat_json_str(r->id)) != 0
        || chat_json_put(rec, "ts", json_integer(r->ts)) != 0)
    {
        goto failed;
    }

    if (r->has_media
        && chat_json_put(rec, "media",
                           json_pack("{s:s%}", "id", r->media_id.s,
                                     r->media_id.len))
           != 0)
    {
        goto failed;
    }

    return rec;

failed:

    json_decref(rec);

    return NULL;
}


static json_t *
chat_record_encode_group(const chat_record_t *r)
{
    json_t  *rec;

    rec = json_object();

    if (rec == NULL
        || chat_record_put_head(rec, r) != 0
        || chat_json_put(rec, "action",
                           json_string(chat_record_group_action[r->action]))
           != 0
        || chat_json_put(rec, "group", chat_json_str(r->group)) != 0
        || chat_json_put(rec, "by", chat_json_str(r->by)) != 0
        || chat_json_put(rec, "conn", chat_json_str(r->conn)) != 0
        || chat_json_put(rec, "ts", json_integer(r->ts)) != 0
        || chat_record_put_id(rec, r->id) != 0
        || (r->name.len
            && chat_json_put(rec, "name", chat_json_str(r->name)) != 0)
        || (r->members
            && json_object_set(rec, "members", r->members) != 0))
    {
        json_decref(rec);
        return NULL;
    }

    return rec;
}


/* conn is where the answer (conv_ok or an error) goes */

static json_t *
chat_record_encode_conv_set(const chat_record_t *r)
{
    json_t  *rec;

    rec = json_object();

    if (rec == NULL
        || chat_record_put_head(rec, r) != 0
        || chat_json_put(rec, "conv", chat_json_str(r->conv)) != 0
        || chat_json_put(rec, "from", chat_json_str(r->from)) != 0
        || chat_json_put(rec, "ttl", json_integer(r->ttl)) != 0
        || chat_record_put_id(rec, r->id) != 0
        || chat_json_put(rec, "conn", chat_json_str(r->conn)) != 0
        || chat_json_put(rec, "ts", json_integer(r->ts)) != 0)
    {
        json_decref(rec);
        return NULL;
    }

    return rec;
}


/* conn is where a refusal goes (a receipt in a group one is not in): the
 * module always names it, the contract does not require it */

static json_t *
chat_record_encode_receipt(const chat_record_t *r)
{
    json_t  *rec;

    rec = json_object();

    if (rec == NULL
        || chat_record_put_head(rec, r) != 0
        || chat_json_put(rec, "conv", chat_json_str(r->conv)) != 0
        || chat_json_put(rec, "by", chat_json_str(r->by)) != 0
        || (r->conn.len
            && chat_json_put(rec, "conn", chat_json_str(r->conn)) != 0)
        || chat_json_put(rec, "status",
                           json_string(r->status == CHAT_RECEIPT_READ
                                       ? "read" : "delivered")) != 0
        || chat_json_put(rec, "seq", json_integer(r->seq)) != 0
        || chat_json_put(rec, "ts", json_integer(r->ts)) != 0
        || chat_record_put_id(rec, r->id) != 0)
    {
        json_decref(rec);
        return NULL;
    }

    return rec;
}


/* after, the cursor, when after_conv.len: the first page has none */

static json_t *
chat_record_encode_sync(const chat_record_t *r)
{
    json_t  *rec;

    rec = json_object();

    if (rec == NULL
        || chat_record_put_head(rec, r) != 0
        || chat_json_put(rec, "user", chat_json_str(r->user)) != 0
        || chat_json_put(rec, "conn", chat_json_str(r->conn)) != 0
        || chat_json_put(rec, "max_bytes", json_integer(r->max_bytes)) != 0
        || chat_json_put(rec, "ts", json_integer(r->ts)) != 0
        || (r->after_conv.len
            && chat_json_put(rec, "after",
                               json_pack("{s:s%, s:I}",
                                         "conv", r->after_conv.s,
                                         r->after_conv.len,
                                         "seq", (json_int_t) r->after_seq))
               != 0))
    {
        json_decref(rec);
        return NULL;
    }

    return rec;
}


static json_t *
chat_record_encode_history(const chat_record_t *r)
{
    json_t  *rec;

    rec = json_object();

    if (rec == NULL
        || chat_record_put_head(rec, r) != 0
        || chat_json_put(rec, "conv", chat_json_str(r->conv)) != 0
        || chat_json_put(rec, "user", chat_json_str(r->user)) != 0
        || chat_json_put(rec, "conn", chat_json_str(r->conn)) != 0
        || chat_json_put(rec, "before_seq", json_integer(r->before_seq))
           != 0
        || chat_json_put(rec, "limit", json_integer(r->limit)) != 0
        || (r->events && chat_json_put(rec, "events", json_true()) != 0)
        || chat_json_put(rec, "max_bytes", json_integer(r->max_bytes)) != 0
        || chat_json_put(rec, "ts", json_integer(r->ts)) != 0
        || chat_record_put_id(rec, r->id) != 0)
    {
        json_decref(rec);
        return NULL;
    }

    return rec;
}


json_t *
chat_record_encode(const chat_record_t *rec)
{
    json_t  *record;

    switch (rec->op) {

    case CHAT_RECORD_OP_SEND:
        record = chat_record_encode_send(rec);
        break;

    case CHAT_RECORD_OP_GROUP:
        record = chat_record_encode_group(rec);
        break;

    case CHAT_RECORD_OP_CONV_SET:
        record = chat_record_encode_conv_set(rec);
        break;

    case CHAT_RECORD_OP_RECEIPT:
        return chat_record_encode_receipt(rec);

    case CHAT_RECORD_OP_SYNC:
        return chat_record_encode_sync(rec);

    case CHAT_RECORD_OP_HISTORY:
        return chat_record_encode_history(rec);

    default:
        return NULL;
    }

    if (record != NULL && rec->mid.len
        && chat_record_set_mid(record, rec->mid) != 0)
    {
        json_decref(record);
        return NULL;
    }

    return record;
}


int
chat_record_set_mid(json_t *record, chat_str_t mid)
{
    chat_str_t  op, action;

    chat_record_what(record, &op, &action);

    if (!(op.len == 4 && memcmp(op.s, "send", 4) == 0)
        && !(op.len == 5 && memcmp(op.s, "group", 5) == 0)
        && !(op.len == 8 && memcmp(op.s, "conv_set", 8) == 0))
    {
        return 0;
    }

    return chat_json_put(record, "mid", chat_json_str(mid));
}


void
chat_record_what(const json_t *record, chat_str_t *op, chat_str_t *action)
{
    const char  *s;

    s = json_string_value(json_object_get(record, "op"));
    op->s = s ? s : "";
    op->len = s ? strlen(s) : 0;

    s = json_string_value(json_object_get(record, "action"));
    action->s = s ? s : "";
    action->len = s ? strlen(s) : 0;
}


char *
chat_record_dump(const json_t *record, size_t *len)
{
    char  *value;

    value = json_dumps(record, JSON_COMPACT);

    if (value != NULL) {
        *len = strlen(value);
    }

    return value;
}


size_t
chat_record_user_key(char *buf, chat_str_t user)
{
    size_t  n;

    n = sizeof(CHAT_RECORD_USER_KEY) - 1;
    memcpy(buf, CHAT_RECORD_USER_KEY, n);
    memcpy(buf + n, user.s, user.len);

    return n + user.len;
}
