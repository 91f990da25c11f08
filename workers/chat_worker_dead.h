/*
 * The dead-letter topic (chat_kafka_dead_letter, default chat.writes.dead):
 * every record that a worker skips for its content goes there as it came,
 * its key and value, with headers that say where it came from and why, so
 * that an operator can look at it, fix what made it fail and produce it
 * again.
 *
 * Best effort, after the fact: the records of a batch are held until its
 * transaction has committed (a batch tried again would skip them again)
 * and then produced without waiting; one that the broker does not take is
 * logged. The worker's log line of each skip is the record that counts.
 */

#ifndef CHAT_WORKER_DEAD_H
#define CHAT_WORKER_DEAD_H

#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "chat_worker_conf.h"


typedef struct chat_worker_dead_s  chat_worker_dead_t;


/* The producer of conf->dead_letter; NULL with nothing in err when it is
 * off, NULL with a reason in err when it cannot be made. */
chat_worker_dead_t *chat_worker_dead_open(const chat_worker_conf_t *conf,
    char *err, size_t errlen);

/* Holds msg (valid until the batch lets its records go) and why it was
 * skipped; 0, or -1 when out of memory (it is then only logged). */
int chat_worker_dead_hold(chat_worker_dead_t *d, rd_kafka_message_t *msg,
    const char *reason);

/* Forgets what is held: the batch was rolled back. */
void chat_worker_dead_reset(chat_worker_dead_t *d);

/* Produces what is held, then forgets it: the batch committed (called
 * after every batch, it also serves the delivery reports). Returns how
 * many were handed to the producer. */
size_t chat_worker_dead_send(chat_worker_dead_t *d);

/* Waits up to timeout_ms for what is in flight, then frees d. */
void chat_worker_dead_close(chat_worker_dead_t *d, int timeout_ms);

#endif /* CHAT_WORKER_DEAD_H */
