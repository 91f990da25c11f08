/*
 * The push hook's POSTs: on libcurl's multi handle, with non-blocking
 * calls only, and their outcomes: sent, retried after a backoff, or given
 * up; recorded in the store once done.
 */

#include <stdlib.h>
#include <string.h>

#include "chat_worker_log.h"
#include "chat_worker_push_int.h"
#include "chat_worker_push_msg.h"


#define CHAT_PUSH_START_RETRY_MS  1000   /* when libcurl cannot start one */


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

void
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

void
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

void
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

void
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
