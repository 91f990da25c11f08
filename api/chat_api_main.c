/*
 * chat-api: the HTTP API of ngx_chat (docs/PROTOCOL.md 6), the read side
 * and media uploads, behind nginx (README.md, "chat-api").
 *
 * nginx checks each request's token and names its user in X-Chat-User;
 * chat-api listens on loopback only, so that nothing else can name one.
 * It reads the store (one handle per serving thread, chat_api_pool.h),
 * presence from Redis, and writes uploads to the media directory.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

#include "chat_api_conf.h"
#include "chat_api_http.h"
#include "chat_api_pool.h"
#include "chat_version.h"
#include "chat_worker_log.h"


/* <media dir> and <media dir>/tmp, where uploads are written first: on
 * the same file system, so that a finished one is renamed into place. */

static int
chat_api_main_dirs(const chat_api_conf_t *conf)
{
    char  tmp[4096];

    snprintf(tmp, sizeof(tmp), "%s/tmp", conf->media_dir);

    if ((mkdir(conf->media_dir, 0755) != 0 && errno != EEXIST)
        || (mkdir(tmp, 0700) != 0 && errno != EEXIST))
    {
        chat_worker_log(CHAT_LOG_ERROR, "media dir \"%s\": %s",
                        conf->media_dir, strerror(errno));
        return -1;
    }

    return 0;
}


/* Blocks the stop signals in this thread and in every thread started
 * after it; the main thread then waits for one with sigwait(). */

static int
chat_api_main_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);

    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        return -1;
    }

    return pthread_sigmask(SIG_BLOCK, set, NULL) == 0 ? 0 : -1;
}


static int
chat_api_main_serve(const chat_api_conf_t *conf)
{
    int               signo, rc;
    char              err[512];
    sigset_t          set;
    chat_api_pool_t   pool;
    chat_api_http_t   http;

    if (chat_api_main_signals(&set) != 0 || chat_api_main_dirs(conf) != 0) {
        return 1;
    }

    if (chat_api_pool_open(&pool, conf, (size_t) conf->threads, err,
                           sizeof(err)) != 0)
    {
        chat_worker_log(CHAT_LOG_ERROR, "store: %s", err);
        return 1;
    }

    memset(&http, 0, sizeof(http));

    if (chat_api_http_start(&http, conf, &pool, err, sizeof(err)) != 0) {
        chat_worker_log(CHAT_LOG_ERROR, "%s", err);
        chat_api_pool_close(&pool);
        return 1;
    }

    chat_worker_log(CHAT_LOG_INFO, "listening on %s (port %d), %d threads",
                    conf->listen, chat_api_http_port(&http),
                    (int) conf->threads);
    chat_worker_log(CHAT_LOG_INFO, "ready");

    rc = sigwait(&set, &signo);

    chat_worker_log(CHAT_LOG_INFO, "stopping (%s)",
                    rc == 0 ? strsignal(signo) : "sigwait failed");

    chat_api_http_stop(&http);
    chat_api_pool_close(&pool);

    chat_worker_log(CHAT_LOG_INFO, "stopped");

    return 0;
}


int
main(int argc, char **argv)
{
    int              rc;
    char             err[512];
    chat_api_conf_t  conf;

    chat_worker_log_set_program("chat-api");

    rc = chat_api_conf_parse(&conf, argc, argv, err, sizeof(err));

    if (rc == 1) {
        chat_api_conf_usage(stdout, argv[0]);
        chat_api_conf_free(&conf);
        return 0;
    }

    if (rc == 2) {
        printf("chat-api %s\n", CHAT_VERSION);
        chat_api_conf_free(&conf);
        return 0;
    }

    if (rc != 0) {
        fprintf(stderr, "chat-api: %s\n", err);
        chat_api_conf_free(&conf);
        return 2;
    }

    chat_worker_log_set_level((chat_log_level_e) conf.log_level);

    /* jansson's hash seed, made here once rather than raced for by the
     * first objects of the serving threads */
    json_object_seed(0);

    rc = chat_api_main_serve(&conf);

    chat_api_conf_free(&conf);

    return rc;
}
