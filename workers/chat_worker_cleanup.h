/*
 * The cleanup job (docs/INTERNALS.md, "The cleanup job"): the chat-workers
 * own it, each one running it between two batches. Every interval it
 * deletes the messages (and events) whose expires has passed, then the
 * media that no message references (used by a message now gone, or
 * uploaded more than the grace ago and never used), and unlinks their
 * files under the media directory.
 *
 * Each step is one short store transaction of its own, never inside a
 * batch's, and bounded (CHAT_WORKER_CLEANUP_*_MAX rows), so that it never
 * stalls consumption; a step that hit its bound runs again at the next
 * pass of the loop rather than after the interval. Any number of workers
 * may run it at once on one store: a row is deleted by one of them only,
 * and only the one that deleted a media row unlinks its file, once its
 * transaction has committed.
 */

#ifndef CHAT_WORKER_CLEANUP_H
#define CHAT_WORKER_CLEANUP_H

#include <stdint.h>

#include "chat_media.h"
#include "chat_store.h"
#include "chat_worker_conf.h"


#define CHAT_WORKER_CLEANUP_EXPIRE_MAX  1000   /* messages per run */
#define CHAT_WORKER_CLEANUP_SWEEP_MAX   100    /* media per run */

typedef struct {
    chat_store_t  *store;
    const char    *media_dir;      /* NULL: media are not swept (their
                                      files could not be unlinked) */
    int64_t        interval;       /* ms; 0: the job is off */
    int64_t        grace_ms;
    int64_t        next;           /* monotonic ms of the next run */

    /* the ids the sweep in hand deleted, to unlink after its commit */
    char           swept[CHAT_WORKER_CLEANUP_SWEEP_MAX][CHAT_MEDIA_ID_LEN];
    size_t         nswept;
} chat_worker_cleanup_t;


void chat_worker_cleanup_init(chat_worker_cleanup_t *c,
    const chat_worker_conf_t *conf, chat_store_t *store);

/*
 * One run at now_ms (Unix ms), whether due or not: the expired messages
 * deleted, then the media swept and their files unlinked; how many of
 * each into *expired and *swept (either may be NULL). Returns 0, or -1
 * when a step failed (logged, rolled back; tried again at the next run).
 */
int chat_worker_cleanup_once(chat_worker_cleanup_t *c, int64_t now_ms,
    int64_t *expired, int64_t *swept);

/* Runs chat_worker_cleanup_once() with the wall clock when it is due (by
 * the monotonic clock); logs what it deleted. Called between batches. */
void chat_worker_cleanup_run(chat_worker_cleanup_t *c);

#endif /* CHAT_WORKER_CLEANUP_H */
