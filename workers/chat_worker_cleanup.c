/*
 * The cleanup job (chat_worker_cleanup.h).
 */

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat_worker_cleanup.h"
#include "chat_worker_log.h"


static int64_t
chat_worker_cleanup_clock(clockid_t id)
{
    struct timespec  ts;

    clock_gettime(id, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void
chat_worker_cleanup_init(chat_worker_cleanup_t *c,
    const chat_worker_conf_t *conf, chat_store_t *store)
{
    memset(c, 0, sizeof(*c));

    c->store = store;
    c->media_dir = conf->media_dir;
    c->interval = conf->cleanup_interval;
    c->grace_ms = conf->media_grace * 1000;

    /* the first run one interval after the start, not in its rush */
    c->next = chat_worker_cleanup_clock(CLOCK_MONOTONIC) + c->interval;
}


/* Rolls a failed step back; what the store said is logged. */

static int
chat_worker_cleanup_failed(chat_worker_cleanup_t *c, const char *step)
{
    chat_worker_log(CHAT_LOG_ERROR, "cleanup: %s: %s", step,
                    chat_store_errstr(c->store));

    if (chat_store_rollback(c->store) != CHAT_STORE_OK) {
        chat_worker_log(CHAT_LOG_ERROR, "cleanup: %s: rollback: %s", step,
                        chat_store_errstr(c->store));
    }

    return -1;
}


static int
chat_worker_cleanup_expire(chat_worker_cleanup_t *c, int64_t now_ms,
    int64_t *deleted)
{
    *deleted = 0;

    if (chat_store_begin(c->store) != CHAT_STORE_OK
        || chat_store_expire(c->store, now_ms, CHAT_WORKER_CLEANUP_EXPIRE_MAX,
                             deleted) != CHAT_STORE_OK
        || chat_store_commit(c->store) != CHAT_STORE_OK)
    {
        *deleted = 0;
        return chat_worker_cleanup_failed(c, "expired messages");
    }

    return 0;
}


/* Keeps the id of a media row the sweep deleted. */

static int
chat_worker_cleanup_keep(chat_str_t id, void *data)
{
    chat_worker_cleanup_t  *c = data;

    if (id.len != CHAT_MEDIA_ID_LEN
        || c->nswept == CHAT_WORKER_CLEANUP_SWEEP_MAX)
    {
        /* an id the store should never hold: its row goes, with no
         * file to unlink (chat_media_path() would refuse it) */
        return 0;
    }

    memcpy(c->swept[c->nswept++], id.s, CHAT_MEDIA_ID_LEN);

    return 0;
}


/* Unlinks the files of the media swept, now that their rows are gone. */

static void
chat_worker_cleanup_unlink(chat_worker_cleanup_t *c)
{
    char        path[PATH_MAX];
    size_t      i;
    chat_str_t  id;

    for (i = 0; i < c->nswept; i++) {
        id.s = c->swept[i];
        id.len = CHAT_MEDIA_ID_LEN;

        if (chat_media_path(path, sizeof(path), c->media_dir, id) < 0) {
            chat_worker_log(CHAT_LOG_WARN, "cleanup: no path for media "
                            "%.*s under %s", (int) id.len, id.s,
                            c->media_dir);
            continue;
        }

        /* ENOENT: chat-api never wrote it, or a run that died after the
         * commit unlinked it already */
        if (unlink(path) != 0 && errno != ENOENT) {
            chat_worker_log(CHAT_LOG_WARN, "cleanup: unlink %s: %s", path,
                            strerror(errno));
            continue;
        }

        chat_worker_log(CHAT_LOG_DEBUG, "cleanup: media %.*s deleted",
                        (int) id.len, id.s);
    }

    c->nswept = 0;
}


static int
chat_worker_cleanup_sweep(chat_worker_cleanup_t *c, int64_t now_ms,
    int64_t *swept)
{
    c->nswept = 0;
    *swept = 0;

    if (c->media_dir == NULL) {
        return 0;
    }

    if (chat_store_begin(c->store) != CHAT_STORE_OK
        || chat_store_media_sweep(c->store, now_ms, c->grace_ms,
                                  CHAT_WORKER_CLEANUP_SWEEP_MAX,
                                  chat_worker_cleanup_keep, c)
           != CHAT_STORE_OK
        || chat_store_commit(c->store) != CHAT_STORE_OK)
    {
        /* rolled back: the rows stay, and so must their files */
        c->nswept = 0;
        return chat_worker_cleanup_failed(c, "media sweep");
    }

    *swept = (int64_t) c->nswept;
    chat_worker_cleanup_unlink(c);

    return 0;
}


int
chat_worker_cleanup_once(chat_worker_cleanup_t *c, int64_t now_ms,
    int64_t *expired, int64_t *swept)
{
    int      rc;
    int64_t  e, s;

    /* the messages first: the media they held are swept in the same run */
    rc = chat_worker_cleanup_expire(c, now_ms, &e);

    if (chat_worker_cleanup_sweep(c, now_ms, &s) != 0) {
        rc = -1;
    }

    if (expired != NULL) {
        *expired = e;
    }

    if (swept != NULL) {
        *swept = s;
    }

    return rc;
}


void
chat_worker_cleanup_run(chat_worker_cleanup_t *c)
{
    int64_t  mono, expired, swept;

    if (c->interval == 0) {
        return;
    }

    mono = chat_worker_cleanup_clock(CLOCK_MONOTONIC);

    if (mono < c->next) {
        return;
    }

    (void) chat_worker_cleanup_once(c,
                                    chat_worker_cleanup_clock(CLOCK_REALTIME),
                                    &expired, &swept);

    if (expired || swept) {
        chat_worker_log(CHAT_LOG_INFO, "cleanup: %lld expired messages "
                        "deleted, %lld media deleted",
                        (long long) expired, (long long) swept);
    }

    /* a backlog drains run after run, one batch between two */
    c->next = expired == CHAT_WORKER_CLEANUP_EXPIRE_MAX
              || swept == CHAT_WORKER_CLEANUP_SWEEP_MAX
              ? mono : mono + c->interval;
}
