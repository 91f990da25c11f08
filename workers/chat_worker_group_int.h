/*
 * What the two halves of the group code share (chat_worker_group.c: the
 * members of a group, answers and fan-out, sends; chat_worker_group_change.c:
 * membership changes). Not an interface: see chat_worker_apply.h.
 */

#ifndef CHAT_WORKER_GROUP_INT_H
#define CHAT_WORKER_GROUP_INT_H

#include <sys/types.h>

#include "chat_worker_apply.h"


/* Not a code of the store: the worker ran out of memory. */
#define CHAT_WORKER_GROUP_NOMEM  -100


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


int chat_worker_group_fail(chat_worker_result_t *res, const char *reason);
chat_str_t chat_worker_group_user(const chat_worker_member_t *m);

/* chat_store_roster()'s callback: appends a member to a roster (data). */
int chat_worker_group_roster_add(const chat_store_member_t *member,
    void *data);

/* The index of user in the roster, or -1. */
ssize_t chat_worker_group_find(const chat_worker_roster_t *r,
    chat_str_t user);

/* Publishes an answer (frame, owned) to the record's connection of user. */
int chat_worker_group_answer(chat_worker_out_t *out, chat_str_t user,
    const chat_record_t *rec, json_t *frame,
    chat_worker_result_t *res);

/* Refuses a record: the error frame to its connection, nothing stored. */
int chat_worker_group_refuse(chat_worker_out_t *out, chat_str_t user,
    const chat_record_t *rec, const char *code, const char *message,
    chat_worker_result_t *res);

/* Publishes a stored row to the members at its seq and to extra (users
 * an event removed; a JSON array or NULL). */
int chat_worker_group_fan_out(chat_worker_out_t *out,
    const chat_worker_roster_t *r, json_t *extra, const chat_store_msg_t *msg,
    chat_worker_result_t *res);

#endif /* CHAT_WORKER_GROUP_INT_H */
