/*
 * Content failures against store failures, and the records held for
 * them (chat_worker_fault.h).
 */

#include <stdio.h>
#include <stdlib.h>

#include "chat_worker_apply.h"
#include "chat_worker_fault.h"


chat_worker_fault_e
chat_worker_fault_sort(chat_store_t *store, int rc)
{
    switch (rc) {

    case CHAT_WORKER_APPLIED:
        return CHAT_WORKER_DONE;

    case CHAT_WORKER_FAILED:
        return chat_store_fault(store) == CHAT_STORE_FAULT_DATA
               ? CHAT_WORKER_SKIP : CHAT_WORKER_RETRY;

    default:
        return CHAT_WORKER_SKIP;
    }
}


int
chat_worker_fault_add(chat_worker_fault_list_t *list, rd_kafka_message_t *msg,
    const char *reason)
{
    size_t                cap;
    chat_worker_fault_t  *f;

    if (list->n == list->cap) {
        cap = list->cap ? list->cap * 2 : 8;

        f = realloc(list->elts, cap * sizeof(*f));
        if (f == NULL) {
            return -1;
        }

        list->elts = f;
        list->cap = cap;
    }

    f = &list->elts[list->n++];
    f->msg = msg;
    snprintf(f->reason, sizeof(f->reason), "%s", reason);

    return 0;
}


const char *
chat_worker_fault_find(const chat_worker_fault_list_t *list,
    const rd_kafka_message_t *msg)
{
    size_t  i;

    for (i = 0; i < list->n; i++) {
        if (list->elts[i].msg == msg) {
            return list->elts[i].reason;
        }
    }

    return NULL;
}


void
chat_worker_fault_free(chat_worker_fault_list_t *list)
{
    free(list->elts);

    list->elts = NULL;
    list->n = 0;
    list->cap = 0;
}
