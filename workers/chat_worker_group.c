/*
 * Groups (docs/INTERNALS.md, "Groups"): a send in a group and the
 * membership changes, both writes of the conversation grp:<group>, so that
 * the single writer of its partition orders them. A message takes the
 * members of its seq: one stored after a removal reaches no removed member,
 * live or later (their window ends at the removal's seq).
 *
 * The worker answers these itself (sent, group_ok, or an error), to the
 * connection named in the record: only it knows the members at the seq.
 * A change (create, add, remove, leave) is decided against the members at
 * the group's last seq (admins, the cap), stored as an event row that
 * takes the next seq, and told to the members before and after it. Both
 * are written by chat_worker_send(), with the handlers below.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "chat_worker_frame.h"
#include "chat_worker_group.h"
#include "chat_worker_send.h"


/* A current member, copied out of the store's row. */
typedef struct {
    char     user[CHAT_ID_MAX];
    size_t   len;
    int      admin;
    int64_t  joined_seq;
} chat_worker_member_t;

/* The current members of a group, the oldest first. */
typedef struct {
    chat_worker_member_t  *m;
    size_t                 n;
    size_t                 cap;
} chat_worker_roster_t;

/* The state of a change being decided: who it concerns. */
typedef struct {
    chat_worker_roster_t         r;          /* the members before */
    ssize_t                      by;         /* by among them, or -1 */
    json_t                      *changed;    /* the event's members */
    int64_t                      seq;        /* the event's */
    int64_t                      group_max;  /* most members */
    char                        *body;       /* the event row's */
    const chat_record_t         *rec;
} chat_worker_change_t;


static int
chat_worker_group_fail(chat_worker_result_t *res, const char *reason)
{
    res->reason = reason;
    return CHAT_WORKER_FAILED;
}


static chat_str_t
chat_worker_group_user(const chat_worker_member_t *m)
{
    chat_str_t  s;

    s.s = m->user;
    s.len = m->len;

    return s;
}


static int
chat_worker_group_roster_add(const chat_store_member_t *member, void *data)
{
    chat_worker_member_t  *m;
    chat_worker_roster_t  *r = data;

    if (member->user.len > CHAT_ID_MAX) {
        return -1;
    }

    if (r->n == r->cap) {
        m = realloc(r->m, (r->cap ? r->cap * 2 : 16) * sizeof(*m));
        if (m == NULL) {
            return -1;
        }

        r->m = m;
        r->cap = r->cap ? r->cap * 2 : 16;
    }

    m = &r->m[r->n++];
    memcpy(m->user, member->user.s, member->user.len);
    m->len = member->user.len;
    m->admin = member->admin;
    m->joined_seq = member->joined_seq;

    return 0;
}


/* The index of user among the members, or -1. */

static ssize_t
chat_worker_group_find(const chat_worker_roster_t *r, chat_str_t user)
{
    size_t  i;

    for (i = 0; i < r->n; i++) {
        if (r->m[i].len == user.len
            && memcmp(r->m[i].user, user.s, user.len) == 0)
        {
            return (ssize_t) i;
        }
    }

    return -1;
}


/* Publishes an answer (sent, group_ok, error) to the record's connection. */

static int
chat_worker_group_answer(chat_worker_out_t *out, chat_str_t user,
    const chat_record_t *rec, json_t *frame,
    chat_worker_result_t *res)
{
    int  rc;

    if (frame == NULL) {
        return chat_worker_group_fail(res, "out of memory");
    }

    rc = chat_worker_out_publish(out, user, rec->conn, frame);

    json_decref(frame);

    return rc == 0 ? CHAT_WORKER_APPLIED
                   : chat_worker_group_fail(res, "out of memory");
}


/* Refuses a group record: the error frame to its connection, nothing
 * stored. */

static int
chat_worker_group_refuse(chat_worker_out_t *out, chat_str_t user,
    const chat_record_t *rec, const char *code, const char *message,
    chat_worker_result_t *res)
{
    res->refused = 1;
    res->reason = message;

    return chat_worker_group_answer(out, user, rec,
                                    chat_frame_error(rec->id, code, message),
                                    res);
}


/* Publishes frame to every device of user; the first publish of a fan-out
 * (index first) serializes it, the others share its bytes. */

static int
chat_worker_group_publish(chat_worker_out_t *out, size_t first,
    json_t *frame, chat_str_t user)
{
    if (out->npubs == first) {
        return chat_worker_out_publish(out, user, CHAT_WORKER_TARGET_ALL,
                                       frame);
    }

    return chat_worker_out_publish_same(out, user, first);
}


/*
 * Publishes the frame of a stored row to every device of the members who
 * were members at its seq, and of the users of extra (a JSON array, or
 * NULL) who are not among them: those an event removed. A retry of an old
 * row so never reaches one who joined after it.
 */

static int
chat_worker_group_fan_out(chat_worker_out_t *out,
    const chat_worker_sign_t *sign, const chat_worker_roster_t *r,
    json_t *extra, const chat_store_msg_t *msg, chat_worker_result_t *res)
{
    int          rc;
    size_t       i, first;
    json_t      *frame, *v;
    chat_str_t   user;

    frame = chat_worker_frame_msg(msg, sign);
    if (frame == NULL) {
        return chat_worker_group_fail(res, "cannot build the frame of a "
                                      "stored row");
    }

    rc = 0;
    first = out->npubs;

    for (i = 0; rc == 0 && i < r->n; i++) {
        if (r->m[i].joined_seq < msg->seq) {
            rc = chat_worker_group_publish(out, first, frame,
                                           chat_worker_group_user(&r->m[i]));
        }
    }

    json_array_foreach(extra, i, v) {
        user.s = json_string_value(v);
        user.len = json_string_length(v);

        if (rc == 0 && chat_worker_group_find(r, user) == -1) {
            rc = chat_worker_group_publish(out, first, frame, user);
        }
    }

    json_decref(frame);

    return rc == 0 ? CHAT_WORKER_APPLIED
                   : chat_worker_group_fail(res, "out of memory");
}


/* A group send's publish: the sent answer to its connection, then the row
 * to the members at its seq (data: the roster); a retry is answered like
 * the first, and published again to the members of now (a first attempt
 * may have died before its publish) unless it has expired. */

static int
chat_worker_group_sent(chat_worker_send_t *s, const chat_store_msg_t *msg)
{
    int  rc;

    rc = chat_worker_group_answer(s->out, s->rec->from, s->rec,
                                  chat_frame_sent(s->rec->id, msg->mid,
                                                  msg->conv, msg->ts),
                                  s->res);

    /* a retry of a message expired since is answered, not shown */
    if (rc == CHAT_WORKER_APPLIED && !chat_worker_send_gone(s, msg)) {
        rc = chat_worker_group_fan_out(s->out, &s->limits->sign, s->data,
                                       NULL, msg, s->res);
    }

    return rc;
}


int
chat_worker_group_send(chat_store_t *store, const chat_record_t *rec,
    const chat_worker_limits_t *limits, chat_worker_out_t *out,
    chat_worker_result_t *res)
{
    int                   rc;
    chat_worker_roster_t  r;
    chat_worker_send_t    s = {
        .store = store, .rec = rec, .limits = limits, .out = out, .res = res,
        .data = &r,
        .publish = chat_worker_group_sent
    };

    memset(&r, 0, sizeof(r));

    if (chat_store_roster(store, rec->conv, chat_worker_group_roster_add, &r)
        != CHAT_STORE_OK)
    {
        rc = chat_worker_group_fail(res, chat_store_errstr(store));

    } else if (chat_worker_group_find(&r, rec->from) == -1) {
        /* membership first: whatever the id, only a member is answered
         * more than "forbidden", so no one learns of or republishes a row
         * through an id */
        rc = chat_worker_group_refuse(out, rec->from, rec, "forbidden",
                                      "not a member of this group", res);

    } else {
        rc = chat_worker_send(&s);
    }

    free(r.m);

    return rc;
}


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


/* The row of the event at c->seq, its body {"event":..,"members":[..]} in
 * c->body. -1 when out of memory. */

static int
chat_worker_group_event_msg(chat_worker_change_t *c, chat_store_msg_t *msg)
{
    json_t                      *event;
    const chat_record_t         *rec = c->rec;

    event = json_pack("{s:s, s:O}",
                      "event", chat_record_group_event[rec->action],
                      "members", c->changed);

    c->body = event ? json_dumps(event, JSON_COMPACT) : NULL;
    json_decref(event);

    if (c->body == NULL) {
        return -1;
    }

    memset(msg, 0, sizeof(*msg));
    msg->kind = CHAT_STORE_KIND_GROUP;
    msg->conv = rec->conv;
    msg->seq = c->seq;
    msg->mid = rec->mid;
    msg->sender = rec->by;
    msg->client_id = rec->client_id;
    msg->body.s = c->body;
    msg->body.len = strlen(c->body);
    msg->ts = rec->ts;

    return 0;
}


/*
 * A change's row (chat_worker_send()): decides the change against the
 * members at last (data: the change); a refused one, or one that changes
 * nothing (answered with the last seq), stores nothing.
 */

static int
chat_worker_group_event_row(chat_worker_send_t *s, int64_t last,
    chat_store_msg_t *msg)
{
    const char            *code, *why;
    chat_worker_change_t  *c = s->data;

    code = chat_worker_group_decide(c, last, c->group_max, &why);

    if (code != NULL) {
        return why ? chat_worker_group_refuse(s->out, c->rec->by, c->rec,
                                              code, why, s->res)
                   : chat_worker_group_fail(s->res, "out of memory");
    }

    /* nothing changes: answered with the last seq, nothing stored */

    if (json_array_size(c->changed) == 0) {
        s->res->seq = last;
        return chat_worker_group_answer(s->out, c->rec->by, c->rec,
                                        chat_frame_group_ok(
                                            c->rec->id, c->rec->group, last),
                                        s->res);
    }

    c->seq = last + 1;

    if (chat_worker_group_event_msg(c, msg) != 0) {
        return chat_worker_group_fail(s->res, "out of memory");
    }

    return CHAT_WORKER_SEND_ROW;
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
 * The members rows of the change, beside its event row (the also of
 * chat_worker_send()): the added see from the event on (their window
 * starts just below its seq), the removed see up to it, their own removal
 * included.
 */

static int
chat_worker_group_apply_members(chat_worker_send_t *s)
{
    int                          rc;
    size_t                       i;
    json_t                      *v;
    chat_str_t                   user;
    chat_store_t                *store = s->store;
    chat_worker_change_t        *c = s->data;
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


/*
 * A change's publish (chat_worker_send()): the group_ok answer with its
 * seq, then the event to the members before (c->r) and to those it
 * concerns, and the group's member set in Redis; a replay's event is
 * published again to the members it concerns, read back from its row.
 */

static int
chat_worker_group_changed(chat_worker_send_t *s, const chat_store_msg_t *msg)
{
    int                    rc;
    json_t                *event;
    json_error_t           jerr;
    chat_worker_change_t  *c = s->data;

    rc = chat_worker_group_answer(s->out, c->rec->by, c->rec,
                                  chat_frame_group_ok(c->rec->id,
                                                             c->rec->group,
                                                             msg->seq),
                                  s->res);
    if (rc != CHAT_WORKER_APPLIED) {
        return rc;
    }

    if (s->res->duplicate) {
        event = json_loadb(msg->body.s, msg->body.len, 0, &jerr);

        rc = chat_worker_group_fan_out(s->out, &s->limits->sign, &c->r,
                                       json_object_get(event, "members"),
                                       msg, s->res);

        json_decref(event);

        return rc;
    }

    rc = chat_worker_group_fan_out(s->out, &s->limits->sign, &c->r,
                                   c->changed, msg, s->res);

    if (rc == CHAT_WORKER_APPLIED && chat_worker_group_member_set(s->out, c))
    {
        rc = chat_worker_group_fail(s->res, "out of memory");
    }

    return rc;
}


int
chat_worker_group_change(chat_store_t *store, const chat_record_t *rec,
    const chat_worker_limits_t *limits, chat_worker_out_t *out,
    chat_worker_result_t *res)
{
    int                   rc;
    chat_worker_change_t  c;
    chat_worker_send_t    s = {
        .store = store, .rec = rec, .limits = limits, .out = out, .res = res,
        .data = &c,
        .row = chat_worker_group_event_row,
        .also = chat_worker_group_apply_members,
        .publish = chat_worker_group_changed
    };

    memset(&c, 0, sizeof(c));
    c.rec = rec;
    c.group_max = limits->group_max;

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
        /* a replay is answered like the first whoever is a member now (the
         * change itself may have removed its author); the id of another
         * request is refused before any member is told anything */
        c.by = chat_worker_group_find(&c.r, rec->by);
        rc = chat_worker_send(&s);
    }

    json_decref(c.changed);
    free(c.r.m);
    free(c.body);

    return rc;
}
