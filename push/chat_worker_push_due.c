/*
 * The push hook's due state, set on a new send.
 */

#include <stdio.h>
#include <string.h>

#include "chat_worker_push_due.h"


/*
 * The reason of a failed schedule: the members walk that it runs in
 * replaces the store's own with "stopped by the caller". The worker has
 * one thread and logs the reason before the next record.
 */
static char  chat_worker_push_due_error[CHAT_STORE_ERRSTR_LEN];


typedef struct {
    chat_store_t                *store;
    const chat_record_t         *rec;
    int64_t                      due_ms;
    int32_t                      part;
} chat_worker_push_due_t;


static int
chat_worker_push_due_member(chat_str_t user, void *data)
{
    chat_worker_push_due_t  *due = data;

    if (user.len == due->rec->from.len
        && memcmp(user.s, due->rec->from.s, user.len) == 0)
    {
        return 0;
    }

    /* a write beside the members walk: another table, so allowed */

    if (chat_store_push_schedule(due->store, due->rec->conv, user,
                                 due->due_ms, due->part) != CHAT_STORE_OK)
    {
        snprintf(chat_worker_push_due_error,
                 sizeof(chat_worker_push_due_error), "%s",
                 chat_store_errstr(due->store));
        return -1;
    }

    return 0;
}


int
chat_worker_push_due(chat_store_t *store, const chat_worker_conf_t *conf,
    const chat_record_t *rec, int32_t part, chat_worker_result_t *res)
{
    chat_worker_push_due_t  due;

    if (conf->push_url == NULL || rec->op != CHAT_RECORD_OP_SEND
        || res->duplicate || res->refused)
    {
        return CHAT_WORKER_APPLIED;
    }

    due.store = store;
    due.rec = rec;
    due.due_ms = rec->ts + conf->push_delay;
    due.part = part;

    chat_worker_push_due_error[0] = '\0';

    if (chat_store_members(store, rec->conv, chat_worker_push_due_member,
                           &due) != CHAT_STORE_OK)
    {
        res->reason = chat_worker_push_due_error[0]
                      ? chat_worker_push_due_error : chat_store_errstr(store);
        return CHAT_WORKER_FAILED;
    }

    return CHAT_WORKER_APPLIED;
}
