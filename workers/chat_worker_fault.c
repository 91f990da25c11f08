/*
 * Content failures against store failures (chat_worker_fault.h).
 */

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
