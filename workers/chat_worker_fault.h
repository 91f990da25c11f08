/*
 * The one place where what became of a record is sorted into what the
 * batch does with it (docs/INTERNALS.md, "What the worker does with each
 * record"): a record that cannot be applied because of what it holds is
 * skipped (logged, counted, dead-lettered), so that no content can stop a
 * partition; only a failure of the store itself makes the batch retry.
 */

#ifndef CHAT_WORKER_FAULT_H
#define CHAT_WORKER_FAULT_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

#include "chat_store.h"


typedef enum {
    CHAT_WORKER_DONE = 0,     /* applied (an answered refusal included) */
    CHAT_WORKER_SKIP,         /* its content: unparseable, breaks a rule,
                                 conflicts with stored data */
    CHAT_WORKER_RETRY         /* the store failed (locked, I/O, full, out
                                 of memory): the batch is tried again */
} chat_worker_fault_e;


/*
 * Sorts rc, the code of chat_record_decode() mapped to
 * CHAT_WORKER_SKIPPED on a failure, or of chat_worker_apply() and what
 * follows it: a CHAT_WORKER_FAILED is a retry unless the store's last
 * error (since the chat_store_clear_error() made before the record) was
 * about the data it was given. The worker running out of memory is
 * retried like a store failure: it says nothing of the record.
 */
chat_worker_fault_e chat_worker_fault_sort(chat_store_t *store, int rc);


/* A record of the batch in hand that could not be applied for its
 * content, and why (a store error at most). */
typedef struct {
    rd_kafka_message_t        *msg;
    char                       reason[CHAT_STORE_ERRSTR_LEN];
} chat_worker_fault_t;

/* The records of a batch held with their reasons: by the batch (those
 * that failed half-way, left out when it runs again) and by the
 * dead-letter producer (those skipped). Zeroed, it is empty. */
typedef struct {
    chat_worker_fault_t       *elts;
    size_t                     n;
    size_t                     cap;
} chat_worker_fault_list_t;


/* Holds msg (valid until the batch lets its records go) with a copy of
 * reason; 0, or -1 when out of memory. */
int chat_worker_fault_add(chat_worker_fault_list_t *list,
    rd_kafka_message_t *msg, const char *reason);

/* The reason held with msg, or NULL. */
const char *chat_worker_fault_find(const chat_worker_fault_list_t *list,
    const rd_kafka_message_t *msg);

void chat_worker_fault_free(chat_worker_fault_list_t *list);

#endif /* CHAT_WORKER_FAULT_H */
