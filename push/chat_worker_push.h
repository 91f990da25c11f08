/*
 * The push hook of chat-worker (docs/PROTOCOL.md section 5): a message that no
 * device of a recipient acknowledged `delivered` within chat_push_delay
 * triggers one push notification for that recipient, a JSON POST to
 * chat_push_url (chat_worker_push_msg.h has the body).
 *
 * Driven from the worker's loop, never blocking it: libcurl's multi
 * interface, with only non-blocking calls. Every CHAT_PUSH_TICK_MS the
 * store is asked what is due in the partitions this worker owns (the due
 * state is durable, per (conv, recipient): chat_worker_push_due.h), and
 * each due message gets a POST, retried with a backoff on a transport
 * error, a timeout, 408, 429 or 5xx, up to chat_push_retries times. Once
 * a POST is done (sent or given up), the store records it: a worker that
 * dies before that POSTs again after its restart (at least once; the body
 * carries a push_id to dedupe by). Only the owner of a conversation's
 * partition pushes for it, so workers sharing a store never both push.
 */

#ifndef CHAT_WORKER_PUSH_H
#define CHAT_WORKER_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "chat_store.h"
#include "chat_worker_conf.h"


#define CHAT_PUSH_TICK_MS         200    /* how often the store is asked */
#define CHAT_PUSH_STORE_RETRY_MS  5000   /* how often, while it fails */
#define CHAT_PUSH_STATS_MS        60000  /* the counters' log line */
#define CHAT_PUSH_DRAIN_MS        1000   /* at exit, for POSTs on the wire */

typedef struct chat_worker_push_s  chat_worker_push_t;


/*
 * Sets *push to a new pusher on store, or to NULL when conf has no
 * chat_push_url (push off: every other call then does nothing). Returns 0,
 * or -1 with a reason in err.
 */
int chat_worker_push_open(const chat_worker_conf_t *conf,
    chat_store_t *store, chat_worker_push_t **push, char *err,
    size_t errlen);

/*
 * Moves the POSTs on, never waiting: starts those whose time came, reads
 * those that finished; and, at most every CHAT_PUSH_TICK_MS, queues what
 * became due in parts, the partitions this worker owns now (pushes of
 * partitions it no longer owns are dropped, left to their new owner).
 * Must not run inside a store transaction.
 */
void chat_worker_push_run(chat_worker_push_t *push, const int32_t *parts,
    size_t nparts);

/* 1 while POSTs are on the wire: the loop then waits less for records. */
int chat_worker_push_busy(const chat_worker_push_t *push);

/* Lets the POSTs on the wire finish for up to CHAT_PUSH_DRAIN_MS, logs the
 * totals, and frees push (NULL is fine). */
void chat_worker_push_close(chat_worker_push_t *push);

#endif /* CHAT_WORKER_PUSH_H */
