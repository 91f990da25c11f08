/*
 * Groups (docs/INTERNALS.md, "Groups"): a send in a group and the
 * membership changes, both writes of the conversation grp:<group>, so that
 * the single writer of its partition orders them. A message takes the
 * members of its seq: one stored after a removal reaches no removed member,
 * live or later (their window ends at the removal's seq).
 *
 * The worker answers these itself (sent, group_ok, or an error), to the
 * connection named in the record: only it knows the members at the seq.
 *
 * This file: a group's members, answers, fan-out, and sends; the changes
 * are in chat_worker_group_change.c.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_worker_dedupe.h"
#include "chat_worker_frame.h"
#include "chat_worker_group_int.h"


int
chat_worker_group_fail(chat_worker_result_t *res, const char *reason)
{
    res->reason = reason;
    return CHAT_WORKER_FAILED;
}


chat_str_t
chat_worker_group_user(const chat_worker_member_t *m)
{
    chat_str_t  s;

    s.s = m->user;
    s.len = m->len;

    return s;
}


int
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

ssize_t
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

int
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

int
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

int
chat_worker_group_fan_out(chat_worker_out_t *out,
    const chat_worker_roster_t *r, json_t *extra, const chat_store_msg_t *msg,
    chat_worker_result_t *res)
{
    int          rc;
    size_t       i, first;
    json_t      *frame, *v;
    chat_str_t   user;

    frame = chat_worker_frame_msg(msg);
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


int
chat_worker_group_send(chat_store_t *store, const chat_record_t *rec,
    chat_worker_out_t *out, chat_worker_result_t *res)
{
    int                    rc;
    char                  *media;
    int64_t                last;
    chat_store_msg_t       msg;
    chat_worker_roster_t   r;

    memset(&r, 0, sizeof(r));
    media = NULL;

    if (chat_store_roster(store, rec->conv, chat_worker_group_roster_add, &r)
        != CHAT_STORE_OK)
    {
        rc = chat_worker_group_fail(res, chat_store_errstr(store));
        goto done;
    }

    /* membership first: whatever the id, only a member is answered more
     * than "forbidden", so no one learns of or republishes a row through
     * an id */

    if (chat_worker_group_find(&r, rec->from) == -1) {
        rc = chat_worker_group_refuse(out, rec->from, rec, "forbidden",
                                      "not a member of this group", res);
        goto done;
    }

    /* a retry is answered like the first, and published again to the
     * members of now (a first attempt may have died before its publish) */

    rc = chat_worker_dedupe_find(store, rec, &msg);

    if (rc == CHAT_STORE_OK) {
        res->duplicate = 1;
        res->seq = msg.seq;
        goto answer;
    }

    if (rc == CHAT_STORE_EXISTS) {
        rc = chat_worker_dedupe_refuse(rec, out, res);
        goto done;
    }

    if (rc != CHAT_STORE_NOT_FOUND
        || chat_store_conv_last_seq(store, rec->conv, &last) != CHAT_STORE_OK)
    {
        rc = chat_worker_group_fail(res, chat_store_errstr(store));
        goto done;
    }

    if (chat_worker_apply_new_msg(rec, last + 1, &msg, &media) != 0) {
        rc = chat_worker_group_fail(res, "out of memory");
        goto done;
    }

    rc = chat_store_insert_message(store, &msg);

    if (rc == CHAT_STORE_EXISTS) {
        /* as for a DM: only a broken producer reuses a mid */
        res->reason = "\"mid\" belongs to another message";
        rc = CHAT_WORKER_SKIPPED;
        goto done;
    }

    if (rc != CHAT_STORE_OK) {
        rc = chat_worker_group_fail(res, chat_store_errstr(store));
        goto done;
    }

    res->seq = msg.seq;

answer:

    rc = chat_worker_group_answer(out, rec->from, rec,
                                  chat_frame_sent(rec->id, msg.mid, msg.conv,
                                                  msg.ts),
                                  res);

    if (rc == CHAT_WORKER_APPLIED) {
        rc = chat_worker_group_fan_out(out, &r, NULL, &msg, res);
    }

done:

    free(media);
    free(r.m);

    return rc;
}
