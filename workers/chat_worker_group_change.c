/*
 * Membership changes of a group (docs/INTERNALS.md, "Groups"): create,
 * add, remove, leave, decided against the members at the group's last seq
 * (admins, the cap), stored as an event row that takes the next seq, and
 * told to the members before and after it.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_worker_dedupe.h"
#include "chat_worker_frame.h"
#include "chat_worker_group_int.h"


/* The state of a change being decided: who it concerns. */
typedef struct {
    chat_worker_roster_t         r;         /* the members before */
    ssize_t                      by;        /* by among them, or -1 */
    json_t                      *changed;   /* the event's members */
    int64_t                      seq;       /* the event's */
    const chat_record_t         *rec;
} chat_worker_change_t;


/* 1 when user is a string of the array users. */

static int
chat_worker_group_in(json_t *users, chat_str_t user)
{
    size_t   i;
    json_t  *v;

    json_array_foreach(users, i, v) {
        if (json_string_length(v) == user.len
            && memcmp(json_string_value(v), user.s, user.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* Appends user to the event's members unless it is there already. */

static int
chat_worker_group_change_add(chat_worker_change_t *c, chat_str_t user)
{
    if (chat_worker_group_in(c->changed, user)) {
        return 0;
    }

    return json_array_append_new(c->changed, json_stringn(user.s, user.len));
}


/*
 * The users of the record's members that are (want 1) or are not (want 0)
 * current members, each once, appended to the event's members.
 */

static int
chat_worker_group_pick(chat_worker_change_t *c, int want)
{
    size_t       i;
    json_t      *v;
    chat_str_t   user;

    json_array_foreach(c->rec->members, i, v) {
        user.s = json_string_value(v);
        user.len = json_string_length(v);

        if ((chat_worker_group_find(&c->r, user) != -1) == want
            && chat_worker_group_change_add(c, user) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/*
 * Decides the change: NULL when it may be made (the event's members in
 * c->changed, possibly none), else the error code, with the message in
 * *why.
 */

static const char *
chat_worker_group_decide(chat_worker_change_t *c, int64_t last,
    int64_t group_max, const char **why)
{
    const chat_record_t         *rec = c->rec;

    switch (rec->action) {

    case CHAT_RECORD_GROUP_CREATE:
        if (last > 0) {
            *why = "the group exists";
            return "forbidden";
        }

        /* the creator first, then the others, each once */
        if (chat_worker_group_change_add(c, rec->by) != 0
            || chat_worker_group_pick(c, 0) != 0)
        {
            *why = NULL;
            return "internal";
        }

        break;

    case CHAT_RECORD_GROUP_ADD:
    case CHAT_RECORD_GROUP_REMOVE:
        if (c->by == -1 || !c->r.m[c->by].admin) {
            *why = "only an admin of the group may do this";
            return "forbidden";
        }

        if (rec->action == CHAT_RECORD_GROUP_REMOVE
            && chat_worker_group_in(rec->members, rec->by))
        {
            *why = "an admin leaves with group_leave";
            return "forbidden";
        }

        if (chat_worker_group_pick(c, rec->action == CHAT_RECORD_GROUP_REMOVE)
            != 0)
        {
            *why = NULL;
            return "internal";
        }

        break;

    case CHAT_RECORD_GROUP_LEAVE:
        if (c->by == -1) {
            *why = "not a member of this group";
            return "forbidden";
        }

        if (chat_worker_group_change_add(c, rec->by) != 0) {
            *why = NULL;
            return "internal";
        }

        break;
    }

    if (rec->action != CHAT_RECORD_GROUP_REMOVE
        && rec->action != CHAT_RECORD_GROUP_LEAVE
        && (int64_t) (c->r.n + json_array_size(c->changed)) > group_max)
    {
        *why = "the group would have too many members";
        return "too_large";
    }

    return NULL;
}


/* Stores the row of the event, its body {"event":..,"members":[..]}; the
 * store's code, or CHAT_WORKER_GROUP_NOMEM. *body is the caller's to free. */

static int
chat_worker_group_store_event(chat_store_t *store, chat_worker_change_t *c,
    chat_store_msg_t *msg, char **body)
{
    json_t                      *event;
    const chat_record_t         *rec = c->rec;

    event = json_pack("{s:s, s:O}",
                      "event", chat_record_group_event[rec->action],
                      "members", c->changed);

    *body = event ? json_dumps(event, JSON_COMPACT) : NULL;
    json_decref(event);

    if (*body == NULL) {
        return CHAT_WORKER_GROUP_NOMEM;
    }

    memset(msg, 0, sizeof(*msg));
    msg->kind = CHAT_STORE_KIND_GROUP;
    msg->conv = rec->conv;
    msg->seq = c->seq;
    msg->mid = rec->mid;
    msg->sender = rec->by;
    msg->client_id = rec->client_id;
    msg->body.s = *body;
    msg->body.len = strlen(*body);
    msg->ts = rec->ts;

    return chat_store_insert_message(store, msg);
}


/*
 * The last admin who leaves hands the group to the oldest member left (the
 * roster is in joined_seq, then user order); a group left with no member
 * stays, and no one can write to it.
 */

static int
chat_worker_group_promote(chat_store_t *store, chat_worker_change_t *c)
{
    size_t                 i;
    chat_worker_member_t  *m;

    if (!c->r.m[c->by].admin) {
        return CHAT_STORE_OK;
    }

    for (i = 0; i < c->r.n; i++) {
        if ((ssize_t) i != c->by && c->r.m[i].admin) {
            return CHAT_STORE_OK;
        }
    }

    for (i = 0; i < c->r.n; i++) {
        m = &c->r.m[i];

        if ((ssize_t) i != c->by) {
            return chat_store_member_join(store, c->rec->conv,
                                          chat_worker_group_user(m), 1,
                                          m->joined_seq);
        }
    }

    return CHAT_STORE_OK;
}


/*
 * The members rows of the change: the added see from the event on (their
 * window starts just below its seq), the removed see up to it, their own
 * removal included.
 */

static int
chat_worker_group_apply_members(chat_store_t *store, chat_worker_change_t *c)
{
    int                          rc;
    size_t                       i;
    json_t                      *v;
    chat_str_t                   user;
    const chat_record_t         *rec = c->rec;

    rc = CHAT_STORE_OK;

    if (rec->action == CHAT_RECORD_GROUP_CREATE) {
        rc = chat_store_group_create(store, rec->conv, rec->name, rec->ts);
    }

    json_array_foreach(c->changed, i, v) {
        user.s = json_string_value(v);
        user.len = json_string_length(v);

        if (rc != CHAT_STORE_OK) {
            break;
        }

        if (rec->action == CHAT_RECORD_GROUP_CREATE
            || rec->action == CHAT_RECORD_GROUP_ADD)
        {
            /* the creator, first, is the admin */
            rc = chat_store_member_join(store, rec->conv, user,
                                        rec->action == CHAT_RECORD_GROUP_CREATE
                                        && i == 0,
                                        c->seq - 1);

        } else {
            rc = chat_store_member_leave(store, rec->conv, user, c->seq);
        }
    }

    if (rc == CHAT_STORE_OK && rec->action == CHAT_RECORD_GROUP_LEAVE) {
        rc = chat_worker_group_promote(store, c);
    }

    return rc;
}


/* A replayed change: answered with its seq, its event published again to
 * the members it concerns. */

static int
chat_worker_group_replay(chat_worker_change_t *c, const chat_store_msg_t *msg,
    chat_worker_out_t *out, chat_worker_result_t *res)
{
    int           rc;
    json_t       *event;
    json_error_t  jerr;

    res->duplicate = 1;
    res->seq = msg->seq;

    rc = chat_worker_group_answer(out, c->rec->by, c->rec,
                                  chat_frame_group_ok(c->rec->id,
                                                      c->rec->group,
                                                      msg->seq),
                                  res);
    if (rc != CHAT_WORKER_APPLIED) {
        return rc;
    }

    event = json_loadb(msg->body.s, msg->body.len, 0, &jerr);

    rc = chat_worker_group_fan_out(out, &c->r,
                                   json_object_get(event, "members"), msg,
                                   res);

    json_decref(event);

    return rc;
}


/*
 * The group's member set in Redis after a change: the users it added, or
 * without those it removed. Those who stay are added again, so a Redis
 * that lost the set has it whole again after the group's next change.
 */

static int
chat_worker_group_member_set(chat_worker_out_t *out,
    const chat_worker_change_t *c)
{
    int                 gone;
    size_t              i;
    json_t             *v;
    chat_str_t          user;
    chat_worker_cmd_e   cmd;

    gone = c->rec->action == CHAT_RECORD_GROUP_REMOVE
           || c->rec->action == CHAT_RECORD_GROUP_LEAVE;
    cmd = gone ? CHAT_WORKER_CMD_SREM : CHAT_WORKER_CMD_SADD;

    json_array_foreach(c->changed, i, v) {
        user.s = json_string_value(v);
        user.len = json_string_length(v);

        if (chat_worker_out_member(out, cmd, c->rec->group, user) != 0) {
            return -1;
        }
    }

    for (i = 0; i < c->r.n; i++) {
        user = chat_worker_group_user(&c->r.m[i]);

        if (!(gone && chat_worker_group_in(c->changed, user))
            && chat_worker_out_member(out, CHAT_WORKER_CMD_SADD,
                                      c->rec->group, user) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* Makes a decided change: stores its event and its members rows, answers
 * it, and publishes the event to the members before and after. */

static int
chat_worker_group_make(chat_store_t *store, chat_worker_change_t *c,
    chat_worker_out_t *out, chat_worker_result_t *res)
{
    int                rc;
    char              *body;
    chat_store_msg_t   msg;

    rc = chat_worker_group_store_event(store, c, &msg, &body);

    if (rc == CHAT_STORE_OK) {
        rc = chat_worker_group_apply_members(store, c);
    }

    if (rc == CHAT_STORE_EXISTS) {
        free(body);
        res->reason = "\"mid\" belongs to another message";
        return CHAT_WORKER_SKIPPED;
    }

    if (rc != CHAT_STORE_OK) {
        free(body);
        return chat_worker_group_fail(res, rc == CHAT_WORKER_GROUP_NOMEM
                                           ? "out of memory"
                                           : chat_store_errstr(store));
    }

    res->seq = c->seq;

    rc = chat_worker_group_answer(out, c->rec->by, c->rec,
                                  chat_frame_group_ok(c->rec->id,
                                                      c->rec->group,
                                                      c->seq),
                                  res);

    /* the members before are c->r: with the event's, old and new */

    if (rc == CHAT_WORKER_APPLIED) {
        rc = chat_worker_group_fan_out(out, &c->r, c->changed, &msg, res);
    }

    if (rc == CHAT_WORKER_APPLIED && chat_worker_group_member_set(out, c)) {
        rc = chat_worker_group_fail(res, "out of memory");
    }

    free(body);

    return rc;
}


static int
chat_worker_group_decide_and_make(chat_store_t *store,
    chat_worker_change_t *c, int64_t group_max, chat_worker_out_t *out,
    chat_worker_result_t *res)
{
    int64_t            last;
    const char        *code, *why;
    chat_store_msg_t   msg;

    /* a replay is answered like the first whoever is a member now (the
     * change itself may have removed its author); the id of another
     * request is refused before any member is told anything */

    switch (chat_worker_dedupe_find(store, c->rec, &msg)) {

    case CHAT_STORE_OK:
        return chat_worker_group_replay(c, &msg, out, res);

    case CHAT_STORE_EXISTS:
        return chat_worker_dedupe_refuse(c->rec, out, res);

    case CHAT_STORE_NOT_FOUND:
        break;

    default:
        return chat_worker_group_fail(res, chat_store_errstr(store));
    }

    if (chat_store_conv_last_seq(store, c->rec->conv, &last)
        != CHAT_STORE_OK)
    {
        return chat_worker_group_fail(res, chat_store_errstr(store));
    }

    code = chat_worker_group_decide(c, last, group_max, &why);

    if (code != NULL) {
        return why ? chat_worker_group_refuse(out, c->rec->by, c->rec, code,
                                              why, res)
                   : chat_worker_group_fail(res, "out of memory");
    }

    /* nothing changes: answered with the last seq, nothing stored */

    if (json_array_size(c->changed) == 0) {
        res->seq = last;
        return chat_worker_group_answer(out, c->rec->by, c->rec,
                                        chat_frame_group_ok(
                                            c->rec->id, c->rec->group, last),
                                        res);
    }

    c->seq = last + 1;

    return chat_worker_group_make(store, c, out, res);
}


int
chat_worker_group_change(chat_store_t *store, const chat_record_t *rec,
    int64_t group_max, chat_worker_out_t *out, chat_worker_result_t *res)
{
    int                   rc;
    chat_worker_change_t  c;

    memset(&c, 0, sizeof(c));
    c.rec = rec;

    c.changed = json_array();
    if (c.changed == NULL) {
        return chat_worker_group_fail(res, "out of memory");
    }

    if (chat_store_roster(store, rec->conv, chat_worker_group_roster_add,
                          &c.r)
        != CHAT_STORE_OK)
    {
        rc = chat_worker_group_fail(res, chat_store_errstr(store));

    } else {
        c.by = chat_worker_group_find(&c.r, rec->by);
        rc = chat_worker_group_decide_and_make(store, &c, group_max, out,
                                               res);
    }

    json_decref(c.changed);
    free(c.r.m);

    return rc;
}
