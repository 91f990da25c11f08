/*
 * The write of a new row of a conversation, shared by a send (DM or group)
 * and a group change: the record's dedupe (chat_worker_dedupe.h), the
 * conversation's last seq, the row at the next seq, its insert, and its
 * publish, once stored or again on a replay. What differs between them
 * comes as handlers, called with the caller's data.
 */

#ifndef CHAT_WORKER_SEND_H
#define CHAT_WORKER_SEND_H

#include <stdint.h>

#include "chat_worker_apply.h"


/* row: the row is made, to be stored (not a code of chat_worker_apply) */
#define CHAT_WORKER_SEND_ROW  2

typedef struct chat_worker_send_s  chat_worker_send_t;

struct chat_worker_send_s {
    chat_store_t                *store;
    const chat_record_t         *rec;
    const chat_worker_limits_t  *limits;
    chat_worker_out_t           *out;
    chat_worker_result_t        *res;
    void                        *data;    /* the handlers' */

    /*
     * Makes in *msg the row at seq last + 1 (what it points to is the
     * caller's to free) and returns CHAT_WORKER_SEND_ROW; or stores
     * nothing and returns the record's code (a refusal or an answer
     * appended, res set). NULL: the row is the record's message, with
     * its media, whose type and size the store has from the upload
     * (chat_store_media_use(), which keeps it from the sweep), and with
     * expires when the conversation's ttl is not 0; media that the store
     * does not know (never uploaded here, or swept), or any media when the
     * worker has no media key, is refused (bad_request).
     */
    int   (*row)(chat_worker_send_t *s, int64_t last, chat_store_msg_t *msg);

    /* The row's other writes, once it is inserted, in the same transaction
     * (a group's members rows): a store code. NULL: none. */
    int   (*also)(chat_worker_send_t *s);

    /* Publishes the stored row: the new one, or the first attempt's on a
     * replay (res->duplicate set). res->seq is its seq. */
    int   (*publish)(chat_worker_send_t *s, const chat_store_msg_t *msg);
};


/* 1 when the stored row msg has expired at the record's clock: a retry
 * of its send is answered, but the message is gone and not published. */
int chat_worker_send_gone(const chat_worker_send_t *s,
    const chat_store_msg_t *msg);

/*
 * Publishes frame (NULL: out of memory), the answer to the record, to its
 * sender's connection (every device when it names none), and frees it:
 * CHAT_WORKER_APPLIED, or CHAT_WORKER_FAILED when out of memory.
 */
int chat_worker_send_answer(chat_worker_send_t *s, json_t *frame);

/*
 * Refuses s->rec: the error code with message to its sender, to its
 * connection when the record names one, else to every device; nothing
 * stored, res->refused set. CHAT_WORKER_APPLIED, or CHAT_WORKER_FAILED when
 * out of memory.
 */
int chat_worker_send_refuse(chat_worker_send_t *s, const char *code,
    const char *message);

/*
 * Dedupes s->rec: a retry of a stored request is published again, an id
 * that names another request refused (chat_worker_dedupe_refuse()).
 * Else makes the row at the next seq, inserts it, makes its other writes
 * and publishes it. A mid that another row has (only a broken producer
 * reuses one) is SKIPPED. Returns a code of chat_worker_apply().
 */
int chat_worker_send(chat_worker_send_t *s);

#endif /* CHAT_WORKER_SEND_H */
