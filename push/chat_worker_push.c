/*
 * The push hook (chat_worker_push.h): what is due, from the store to the
 * rows in flight, at most every CHAT_PUSH_TICK_MS; their POSTs on
 * libcurl's multi handle, with non-blocking calls only, and their
 * outcomes: sent, retried after a backoff, or given up, recorded in the
 * store once done; the pusher's life and its counters.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "chat_worker_log.h"
#include "chat_worker_push.h"
#include "chat_worker_push_msg.h"
#include "chat_record.h"


#define CHAT_PUSH_START_RETRY_MS  1000   /* when libcurl cannot start one */


/*
 * In memory: the rows in flight, a (conv, recipient) each, with one job
 * per due message in seq order. A row is not queued again while it is in
 * flight. The store's pushed_seq of a row only moves over the jobs done
 * from its first one on, so a job still retrying is never skipped by a
 * later one that finished first.
 */

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

static int64_t
chat_worker_push_ms(clockid_t clock)
{
    struct timespec  ts;

    clock_gettime(clock, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* xorshift64*, in [0, 1): the jitter needs spread, not secrecy, and
 * random() is librdkafka's to reseed. */

static double
chat_worker_push_random(chat_worker_push_t *p)
{
    p->rand ^= p->rand >> 12;
    p->rand ^= p->rand << 25;
    p->rand ^= p->rand >> 27;

    return (double) ((p->rand * 2685821657736338717ULL) >> 11)
           / (double) (1ULL << 53);
}


static size_t
chat_worker_push_discard(char *data, size_t size, size_t n, void *user)
{
    (void) data;
    (void) user;

    return size * n;
}


/* Puts the POST of job on the wire. */

static int
chat_worker_push_start(chat_worker_push_t *p, chat_worker_push_job_t *job)
{
    CURL  *e;

    e = curl_easy_init();
    if (e == NULL) {
        return -1;
    }

    /* no signals (timeouts in a threaded resolver), no other protocol,
     * no redirect: a webhook answers or fails */

    if (curl_easy_setopt(e, CURLOPT_URL, p->conf->push_url) != CURLE_OK
        || curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                            (long) p->conf->push_timeout) != CURLE_OK
        || curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers) != CURLE_OK
        || curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                            (curl_off_t) job->len) != CURLE_OK
        || curl_easy_setopt(e, CURLOPT_POSTFIELDS, job->body) != CURLE_OK
        || curl_easy_setopt(e, CURLOPT_USERAGENT, "chat-worker") != CURLE_OK
        || curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
                            chat_worker_push_discard) != CURLE_OK
        || curl_easy_setopt(e, CURLOPT_PRIVATE, job) != CURLE_OK
        || curl_multi_add_handle(p->multi, e) != CURLM_OK)
    {
        curl_easy_cleanup(e);
        return -1;
    }

    job->easy = e;
    job->tries++;
    p->active++;

    return 0;
}


/* Takes job off the wire, if it is on it. */

static void
chat_worker_push_stop(chat_worker_push_t *p, chat_worker_push_job_t *job)
{
    if (job->easy != NULL) {
        curl_multi_remove_handle(p->multi, job->easy);
        curl_easy_cleanup(job->easy);
        job->easy = NULL;
        p->active--;
    }
}


/* Drops a row from memory, its POSTs included, whatever their state. */

static void
chat_worker_push_forget(chat_worker_push_t *p, chat_worker_push_row_t *row)
{
    size_t                   i;
    chat_worker_push_row_t **r;

    for (r = &p->rows; *r != NULL; r = &(*r)->next) {
        if (*r == row) {
            *r = row->next;
            break;
        }
    }

    for (i = 0; i < row->njobs; i++) {
        chat_worker_push_stop(p, &row->jobs[i]);

        if (!row->jobs[i].done) {
            p->njobs--;
        }

        free(row->jobs[i].body);
    }

    free(row->jobs);
    free(row);
}


static int
chat_worker_push_on_wire(const chat_worker_push_row_t *row)
{
    size_t  i;

    for (i = 0; i < row->njobs; i++) {
        if (row->jobs[i].easy != NULL) {
            return 1;
        }
    }

    return 0;
}


/*
 * Records in the store the jobs of row done from its first on, which also
 * makes the next push of the row due, or none; forgets the row once every
 * job is done, or once a lost row has none on the wire any more (what it
 * has not sent is its partition's new owner's to send). A failure to
 * record is logged: the row stays due, so its pushes are sent again later
 * (at least once).
 */

static void
chat_worker_push_settle(chat_worker_push_t *p, chat_worker_push_row_t *row)
{
    size_t      n;
    chat_str_t  conv, user;

    for (n = row->ndone; n < row->njobs && row->jobs[n].done; n++) {
        /* void */
    }

    if (n > row->ndone) {
        row->ndone = n;

        conv = (chat_str_t) { row->key.conv, strlen(row->key.conv) };
        user = (chat_str_t) { row->key.user, strlen(row->key.user) };

        if (chat_store_push_advance(p->store, conv, user,
                                    row->jobs[n - 1].seq,
                                    p->conf->push_delay) != CHAT_STORE_OK)
        {
            chat_worker_log(CHAT_LOG_ERROR, "push: recording the pushes "
                            "of %s in %s: %s", row->key.user, row->key.conv,
                            chat_store_errstr(p->store));
        }
    }

    if (row->ndone == row->njobs
        || (row->lost && !chat_worker_push_on_wire(row)))
    {
        chat_worker_push_forget(p, row);
    }
}


/* What a finished POST of job means: done, or tried again later. */

static void
chat_worker_push_result(chat_worker_push_t *p, chat_worker_push_job_t *job,
    CURLcode rc, long status, curl_off_t retry_after)
{
    char                        reason[64];
    int64_t                     ms;
    chat_worker_push_outcome_e  outcome;

    outcome = chat_worker_push_outcome(rc != CURLE_OK, status);

    if (rc != CURLE_OK) {
        snprintf(reason, sizeof(reason), "%s", curl_easy_strerror(rc));

    } else {
        snprintf(reason, sizeof(reason), "HTTP %ld", status);
    }

    if (outcome == CHAT_PUSH_RETRY && job->row->lost) {
        chat_worker_push_settle(p, job->row);
        return;
    }

    if (outcome == CHAT_PUSH_RETRY && job->tries <= p->conf->push_retries) {
        ms = chat_worker_push_backoff(job->tries, status,
                                      (int64_t) retry_after,
                                      chat_worker_push_random(p));
        job->start_ms = chat_worker_push_ms(CLOCK_MONOTONIC) + ms;
        p->retried++;

        chat_worker_log(CHAT_LOG_INFO, "push to %s of %s: %s; retry %d of "
                        "%lld in %lld ms", job->row->key.user, job->mid,
                        reason, job->tries,
                        (long long) p->conf->push_retries, (long long) ms);
        return;
    }

    if (outcome == CHAT_PUSH_SENT) {
        p->sent++;

    } else {
        p->failed++;
        chat_worker_log(CHAT_LOG_WARN, "push to %s of %s: gave up after %d "
                        "POST(s): %s (HTTP status %ld)", job->row->key.user,
                        job->mid, job->tries, reason, status);
    }

    job->done = 1;
    p->njobs--;

    chat_worker_push_settle(p, job->row);
}


/* Reads the POSTs that finished. */

static void
chat_worker_push_collect(chat_worker_push_t *p)
{
    int                      left, running;
    CURL                    *e;
    char                    *priv;
    long                     status;
    CURLMsg                 *m;
    CURLcode                 rc;
    curl_off_t               retry_after;
    chat_worker_push_job_t  *job;

    if (curl_multi_perform(p->multi, &running) != CURLM_OK) {
        chat_worker_log(CHAT_LOG_ERROR, "push: curl_multi_perform failed");
    }

    while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {

        if (m->msg != CURLMSG_DONE) {
            continue;
        }

        /* m goes with the handle: read it first */
        e = m->easy_handle;
        rc = m->data.result;

        priv = NULL;
        status = 0;
        retry_after = 0;

        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after);

        job = (chat_worker_push_job_t *) priv;
        chat_worker_push_stop(p, job);

        chat_worker_push_result(p, job, rc, status, retry_after);
    }
}


/* Starts the POSTs whose time came: new ones, and retries. */

static void
chat_worker_push_start_due(chat_worker_push_t *p, int64_t now)
{
    size_t                   i;
    chat_worker_push_job_t  *job;
    chat_worker_push_row_t  *row;

    for (row = p->rows; row != NULL; row = row->next) {
        for (i = 0; i < row->njobs && !row->lost; i++) {
            job = &row->jobs[i];

            if (job->done || job->easy != NULL || job->start_ms > now) {
                continue;
            }

            if (chat_worker_push_start(p, job) != 0) {
                chat_worker_log(CHAT_LOG_ERROR, "push: cannot start a POST "
                                "(out of memory?); trying again later");
                job->start_ms = now + CHAT_PUSH_START_RETRY_MS;
            }
        }
    }
}


static int
chat_worker_push_key_eq(const chat_worker_push_key_t *a,
    const chat_worker_push_key_t *b)
{
    return strcmp(a->conv, b->conv) == 0 && strcmp(a->user, b->user) == 0;
}


/* Copies s into a key's field of size bytes; -1 when it does not fit. */

static int
chat_worker_push_key_set(char *field, size_t size, chat_str_t s)
{
    if (s.len >= size) {
        return -1;
    }

    memcpy(field, s.s, s.len);
    field[s.len] = '\0';

    return 0;
}


/* chat_store_due_pt: keeps a row found due. */

static int
chat_worker_push_found(chat_str_t conv, chat_str_t user, void *data)
{
    chat_worker_push_t      *p = data;
    chat_worker_push_key_t  *key;

    if (p->nfound == p->found_cap) {
        return 0;
    }

    key = &p->found[p->nfound];

    if (chat_worker_push_key_set(key->conv, sizeof(key->conv), conv) == 0
        && chat_worker_push_key_set(key->user, sizeof(key->user), user) == 0)
    {
        p->nfound++;
    }

    return 0;
}


/*
 * chat_store_msg_pt: makes a job of a pushable message, up to the first
 * one sent after the cutoff: the ones after it wait with it, so that a
 * row's jobs stay a run of seqs whatever the clocks that stamped them.
 */

static int
chat_worker_push_take(const chat_store_msg_t *msg, void *data)
{
    chat_worker_push_t      *p = data;
    chat_worker_push_job_t  *job;

    if (p->too_new || msg->ts > p->cutoff) {
        p->too_new = 1;
        return 0;
    }

    if (p->ntaken == p->taken_cap) {
        return 0;
    }

    job = &p->taken[p->ntaken++];
    memset(job, 0, sizeof(*job));

    job->seq = msg->seq;
    job->start_ms = 0;

    if (chat_worker_push_key_set(job->mid, sizeof(job->mid), msg->mid) != 0) {
        job->mid[0] = '\0';
    }

    job->body = chat_worker_push_body(msg, p->user, &job->len);

    if (job->body == NULL) {
        /* a message that makes no body will not make one later */
        chat_worker_log(CHAT_LOG_WARN, "push to %.*s of %s: no body (out "
                        "of memory, or a bad stored message); skipped",
                        (int) p->user.len, p->user.s, job->mid);
        job->done = 1;
        p->failed++;
    }

    return 0;
}


static void
chat_worker_push_drop_taken(chat_worker_push_t *p)
{
    size_t  i;

    for (i = 0; i < p->ntaken; i++) {
        free(p->taken[i].body);
    }

    p->ntaken = 0;
}


/* A row in flight from the jobs taken; NULL when out of memory. */

static chat_worker_push_row_t *
chat_worker_push_row(chat_worker_push_t *p,
    const chat_worker_push_key_t *key, int32_t part)
{
    size_t                   i;
    chat_worker_push_row_t  *row;

    row = calloc(1, sizeof(chat_worker_push_row_t));
    if (row == NULL) {
        return NULL;
    }

    row->jobs = malloc(p->ntaken * sizeof(chat_worker_push_job_t));
    if (row->jobs == NULL) {
        free(row);
        return NULL;
    }

    memcpy(row->jobs, p->taken, p->ntaken * sizeof(chat_worker_push_job_t));
    row->njobs = p->ntaken;
    row->key = *key;
    row->part = part;

    for (i = 0; i < row->njobs; i++) {
        row->jobs[i].row = row;

        if (!row->jobs[i].done) {
            p->njobs++;
        }
    }

    p->ntaken = 0;

    row->next = p->rows;
    p->rows = row;

    return row;
}


/*
 * Queues the due messages of a row found due: checked against its
 * delivered watermark now (a receipt that came in time means no push).
 * With none due now, the row's next due time is recomputed.
 */

static void
chat_worker_push_queue(chat_worker_push_t *p,
    const chat_worker_push_key_t *key, int32_t part, int64_t now)
{
    int                      rc;
    chat_str_t               conv;
    chat_worker_push_row_t  *row;

    conv = (chat_str_t) { key->conv, strlen(key->conv) };
    p->user = (chat_str_t) { key->user, strlen(key->user) };
    p->cutoff = now - p->conf->push_delay;
    p->too_new = 0;
    p->ntaken = 0;

    rc = chat_store_push_messages(p->store, conv, p->user,
                                  (int64_t) (p->taken_cap - p->njobs),
                                  chat_worker_push_take, p);

    if (rc != CHAT_STORE_OK) {
        chat_worker_log(CHAT_LOG_ERROR, "push: %s",
                        chat_store_errstr(p->store));
        chat_worker_push_drop_taken(p);
        return;
    }

    if (p->ntaken == 0) {
        if (chat_store_push_advance(p->store, conv, p->user, 0,
                                    p->conf->push_delay) != CHAT_STORE_OK)
        {
            chat_worker_log(CHAT_LOG_ERROR, "push: %s",
                            chat_store_errstr(p->store));
        }

        return;
    }

    row = chat_worker_push_row(p, key, part);

    if (row == NULL) {
        chat_worker_log(CHAT_LOG_ERROR, "push: out of memory");
        chat_worker_push_drop_taken(p);
        return;
    }

    /* every body failed: recorded as given up at once */
    chat_worker_push_settle(p, row);
}


static int
chat_worker_push_held(chat_worker_push_t *p,
    const chat_worker_push_key_t *key)
{
    chat_worker_push_row_t  *row;

    for (row = p->rows; row != NULL; row = row->next) {
        if (chat_worker_push_key_eq(&row->key, key)) {
            return 1;
        }
    }

    return 0;
}


/* Queues what is due in one partition, as far as the concurrency allows;
 * -1 when the store failed. */

static int
chat_worker_push_part(chat_worker_push_t *p, int32_t part, int64_t now)
{
    size_t                   i, limit, nrows;
    chat_worker_push_row_t  *row;

    /* rows in flight are found again: room for them on top */
    nrows = 0;
    for (row = p->rows; row != NULL; row = row->next) {
        nrows++;
    }

    limit = p->taken_cap - p->njobs + nrows;
    p->nfound = 0;

    if (chat_store_push_due(p->store, part, now,
                            (int64_t) (limit < p->found_cap ? limit
                                                            : p->found_cap),
                            chat_worker_push_found, p) != CHAT_STORE_OK)
    {
        chat_worker_log(CHAT_LOG_ERROR, "push: %s",
                        chat_store_errstr(p->store));
        return -1;
    }

    for (i = 0; i < p->nfound && p->njobs < p->taken_cap; i++) {
        if (!chat_worker_push_held(p, &p->found[i])) {
            chat_worker_push_queue(p, &p->found[i], part, now);
        }
    }

    return 0;
}


static int
chat_worker_push_owned(int32_t part, const int32_t *parts, size_t nparts)
{
    size_t  i;

    for (i = 0; i < nparts; i++) {
        if (parts[i] == part) {
            return 1;
        }
    }

    return 0;
}


/*
 * Pushes of a partition taken away are its new owner's to send; the POSTs
 * already on the wire finish and are recorded, so that a partition given
 * back at once (the eager protocol revokes everything at each rebalance)
 * sends them once more only if they fail.
 */

static void
chat_worker_push_drop_unowned(chat_worker_push_t *p, const int32_t *parts,
    size_t nparts)
{
    chat_worker_push_row_t  *row, *next;

    for (row = p->rows; row != NULL; row = next) {
        next = row->next;

        if (!row->lost && !chat_worker_push_owned(row->part, parts, nparts)) {
            chat_worker_log(CHAT_LOG_INFO, "push: partition %d is no longer "
                            "ours: the pushes to %s in %s not on the wire "
                            "are left to its owner", (int) row->part,
                            row->key.user, row->key.conv);
            row->lost = 1;
            chat_worker_push_settle(p, row);
        }
    }
}


/* Queues what became due; -1 when the store failed. */

static int
chat_worker_push_tick(chat_worker_push_t *p, const int32_t *parts,
    size_t nparts)
{
    size_t   i;
    int64_t  now;

    chat_worker_push_drop_unowned(p, parts, nparts);

    now = chat_worker_push_ms(CLOCK_REALTIME);

    for (i = 0; i < nparts && p->njobs < p->taken_cap; i++) {
        if (chat_worker_push_part(p, parts[i], now) != 0) {
            return -1;
        }
    }

    return 0;
}


static void
chat_worker_push_log_totals(chat_worker_push_t *p, const char *when)
{
    chat_worker_log(CHAT_LOG_INFO, "push%s: %llu sent, %llu retried, %llu "
                    "failed, %zu in flight", when,
                    (unsigned long long) p->sent,
                    (unsigned long long) p->retried,
                    (unsigned long long) p->failed, p->njobs);

    p->logged = p->sent + p->retried + p->failed;
}


void
chat_worker_push_run(chat_worker_push_t *p, const int32_t *parts,
    size_t nparts)
{
    int64_t  now;

    if (p == NULL) {
        return;
    }

    now = chat_worker_push_ms(CLOCK_MONOTONIC);

    if (now >= p->next_tick) {
        /* a failing store is not asked 5 times a second: its errors are
         * logged by the batches too, and what is due stays due */
        p->next_tick = now + (chat_worker_push_tick(p, parts, nparts) == 0
                              ? CHAT_PUSH_TICK_MS : CHAT_PUSH_STORE_RETRY_MS);
    }

    chat_worker_push_start_due(p, now);

    if (p->active > 0) {
        chat_worker_push_collect(p);
    }

    if (now >= p->next_stats) {
        p->next_stats = now + CHAT_PUSH_STATS_MS;

        if (p->njobs > 0 || p->sent + p->retried + p->failed != p->logged) {
            chat_worker_push_log_totals(p, "");
        }
    }
}


int
chat_worker_push_busy(const chat_worker_push_t *p)
{
    return p != NULL && p->active > 0;
}


int
chat_worker_push_open(const chat_worker_conf_t *conf, chat_store_t *store,
    chat_worker_push_t **push, char *err, size_t errlen)
{
    size_t               cap;
    chat_worker_push_t  *p;

    *push = NULL;

    if (conf->push_url == NULL) {
        return 0;
    }

    p = calloc(1, sizeof(chat_worker_push_t));
    if (p == NULL) {
        snprintf(err, errlen, "push: out of memory");
        return -1;
    }

    /* paired with the cleanup in chat_worker_push_close() */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "push: curl_global_init failed");
        free(p);
        return -1;
    }

    cap = (size_t) conf->push_concurrency;

    if ((p->multi = curl_multi_init()) == NULL
        || (p->found = calloc(2 * cap, sizeof(*p->found))) == NULL
        || (p->taken = calloc(cap, sizeof(*p->taken))) == NULL
        || (p->headers = curl_slist_append(NULL, "Content-Type: "
                                           "application/json")) == NULL
        /* no "Expect: 100-continue" round trip before a large body */
        || curl_slist_append(p->headers, "Expect:") == NULL)
    {
        snprintf(err, errlen, "push: out of memory");
        chat_worker_push_close(p);
        return -1;
    }

    p->conf = conf;
    p->store = store;
    p->found_cap = 2 * cap;
    p->taken_cap = cap;
    p->rand = (uint64_t) chat_worker_push_ms(CLOCK_REALTIME) * 2654435761ULL
              ^ (uint64_t) getpid() << 32 ^ 1;
    p->next_stats = chat_worker_push_ms(CLOCK_MONOTONIC)
                    + CHAT_PUSH_STATS_MS;

    chat_worker_log(CHAT_LOG_INFO, "push: on, after %lld ms without a "
                    "delivered receipt; POST timeout %lld ms, %lld retries, "
                    "%lld at once", (long long) conf->push_delay,
                    (long long) conf->push_timeout,
                    (long long) conf->push_retries,
                    (long long) conf->push_concurrency);

    *push = p;

    return 0;
}


void
chat_worker_push_close(chat_worker_push_t *p)
{
    int64_t  end;

    if (p == NULL) {
        return;
    }

    /* POSTs already sent may be answered: recorded, not sent again */

    end = chat_worker_push_ms(CLOCK_MONOTONIC) + CHAT_PUSH_DRAIN_MS;

    while (p->active > 0 && chat_worker_push_ms(CLOCK_MONOTONIC) < end) {
        curl_multi_poll(p->multi, NULL, 0, 50, NULL);
        chat_worker_push_collect(p);
    }

    if (p->conf != NULL) {
        chat_worker_push_log_totals(p, " stopping");
    }

    while (p->rows != NULL) {
        chat_worker_push_forget(p, p->rows);
    }

    if (p->multi != NULL) {
        curl_multi_cleanup(p->multi);
    }

    curl_slist_free_all(p->headers);
    free(p->found);
    free(p->taken);
    free(p);

    curl_global_cleanup();
}
