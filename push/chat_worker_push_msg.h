/*
 * One push notification: the JSON body POSTed to chat_push_url, and what
 * a POST's result means (sent, retry later, give up). Pure: no I/O, no
 * libcurl.
 *
 * The body, one per message and recipient:
 *
 *     {"push_id":"<mid>:<user>","user":U,"mid":M,"conv":C,"seq":N,
 *      "from":F,"ts":T,"body":B}
 *
 * plus "group" for a group message and "media" {"mime","size"} when it
 * has some (no URL: a push is no client frame). Pushes
 * are at least once: a worker that dies between a POST and recording it
 * POSTs again after its restart, so receivers dedupe by push_id.
 */

#ifndef CHAT_WORKER_PUSH_MSG_H
#define CHAT_WORKER_PUSH_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "chat_store.h"


#define CHAT_PUSH_BACKOFF_MIN     1000      /* ms, the first retry */
#define CHAT_PUSH_BACKOFF_MAX     60000
#define CHAT_PUSH_RETRY_AFTER_MAX 600       /* s: a Retry-After beyond is
                                               cut to this */

typedef enum {
    CHAT_PUSH_SENT = 0,
    CHAT_PUSH_RETRY,
    CHAT_PUSH_GIVE_UP
} chat_worker_push_outcome_e;


/* The body of the push of msg to user, compact JSON, NUL-terminated, to be
 * freed with free(); *len its length. NULL when out of memory or when the
 * stored message does not make one (a bad conv or media). */
char *chat_worker_push_body(const chat_store_msg_t *msg, chat_str_t user,
    size_t *len);

/* What a finished POST means: failed is 1 when no HTTP answer came (a
 * connection error, a timeout), else status is the answer's. Transport
 * errors, 408, 429 and 5xx are worth a retry; 2xx is sent; anything else
 * (a 4xx, a redirect) is given up at once. */
chat_worker_push_outcome_e chat_worker_push_outcome(int failed, long status);

/*
 * How long to wait before retry number retry (1 for the first): 1 s, 2 s,
 * 4 s ... up to 60 s, each spread by +-25% with r (in [0, 1)) so that the
 * retries of a burst do not come back together. A 429 or 503 answer that
 * gave Retry-After (retry_after_s > 0) is waited for instead.
 */
int64_t chat_worker_push_backoff(int retry, long status,
    int64_t retry_after_s, double r);

#endif /* CHAT_WORKER_PUSH_MSG_H */
