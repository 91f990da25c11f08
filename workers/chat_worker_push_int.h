/*
 * The push hook's state, shared by its two files: chat_worker_push.c (what
 * is due, from the store to the rows in flight) and chat_worker_push_wire.c
 * (their POSTs on libcurl's multi handle, and their outcomes back to the
 * store). Not for users of the pusher (chat_worker_push.h).
 *
 * In memory: the rows in flight, a (conv, recipient) each, with one job
 * per due message in seq order. A row is not queued again while it is in
 * flight. The store's pushed_seq of a row only moves over the jobs done
 * from its first one on, so a job still retrying is never skipped by a
 * later one that finished first.
 */

#ifndef CHAT_WORKER_PUSH_INT_H
#define CHAT_WORKER_PUSH_INT_H

#include <time.h>
#include <curl/curl.h>

#include "chat_worker_push.h"
#include "chat_record.h"


typedef struct chat_worker_push_row_s  chat_worker_push_row_t;

typedef struct {
    chat_worker_push_row_t  *row;
    CURL                    *easy;       /* on the wire; NULL between */
    char                    *body;
    size_t                   len;
    int64_t                  seq;
    char                     mid[CHAT_RECORD_MID_MAX + 1];
    int                      tries;      /* POSTs started */
    int64_t                  start_ms;   /* monotonic: not before */
    int                      done;       /* sent or given up */
} chat_worker_push_job_t;

/* A (conv, recipient), as found due and while in flight. */
typedef struct {
    char                     conv[CHAT_CONV_MAX + 1];
    char                     user[CHAT_ID_MAX + 1];
} chat_worker_push_key_t;

struct chat_worker_push_row_s {
    chat_worker_push_row_t  *next;
    chat_worker_push_key_t   key;
    int32_t                  part;
    size_t                   njobs;
    size_t                   ndone;      /* jobs[0 .. ndone) recorded */
    chat_worker_push_job_t  *jobs;
    int                      lost;       /* its partition was taken away */
};

struct chat_worker_push_s {
    const chat_worker_conf_t  *conf;
    chat_store_t              *store;
    CURLM                     *multi;
    struct curl_slist         *headers;

    chat_worker_push_row_t    *rows;      /* in flight */
    size_t                     njobs;     /* not done: the concurrency */
    size_t                     active;    /* on the wire */

    /* a tick's scratch: the rows found due, the jobs of one row */
    chat_worker_push_key_t    *found;
    size_t                     nfound;
    size_t                     found_cap;
    chat_worker_push_job_t    *taken;
    size_t                     ntaken;
    size_t                     taken_cap;
    chat_str_t                 user;      /* of the row being taken */
    int64_t                    cutoff;    /* sent at or before: due */
    int                        too_new;   /* a message after cutoff met */

    int64_t                    next_tick; /* monotonic ms */
    int64_t                    next_stats;
    uint64_t                   sent;
    uint64_t                   retried;
    uint64_t                   failed;
    uint64_t                   logged;    /* sent + retried + failed */
    uint64_t                   rand;      /* for the jitter */
};


/* Milliseconds of clock (CLOCK_MONOTONIC or CLOCK_REALTIME). */
int64_t chat_worker_push_ms(clockid_t clock);

/* Starts the POSTs whose time came: new ones, and retries. */
void chat_worker_push_start_due(chat_worker_push_t *p, int64_t now);

/* Moves the POSTs on the wire on and handles those that finished: sent,
 * given up, or retried later. Never waits. */
void chat_worker_push_collect(chat_worker_push_t *p);

/*
 * Records in the store the jobs of row done from its first on, which also
 * makes the next push of the row due, or none; forgets the row once every
 * job is done, or once a lost row has none on the wire any more.
 */
void chat_worker_push_settle(chat_worker_push_t *p,
    chat_worker_push_row_t *row);

/* Drops a row from memory, its POSTs included, whatever their state. */
void chat_worker_push_forget(chat_worker_push_t *p,
    chat_worker_push_row_t *row);

#endif /* CHAT_WORKER_PUSH_INT_H */
