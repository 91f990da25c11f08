/*
 * How fast chat-worker applies sends in a 256-member group: each one is
 * stored, answered to the sender's connection and fanned out to every
 * member (257 publishes into the batch's out list, built but not sent:
 * Redis is not in the measure). The store is on
 * tmpfs so that the fsync of each commit costs nothing; batches of 500
 * records, one transaction each, as the worker does.
 *
 *     make bench-group    (prints records/s and publishes/s)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"


#define BENCH_MEMBERS  256
#define BENCH_SENDS    5000
#define BENCH_BATCH    500


/* The group: u0 creates it with u1..u255. */

static int
bench_group(chat_store_t *store, chat_worker_out_t *out,
    const chat_worker_limits_t *limits)
{
    int     i, n, rc;
    char   *text;
    size_t  size;

    size = 128 + BENCH_MEMBERS * 16;
    text = malloc(size);
    if (text == NULL) {
        return -1;
    }

    n = snprintf(text, size, "{\"v\":1,\"op\":\"group\",\"action\":\"create\","
                 "\"group\":\"bench\",\"by\":\"u0\",\"mid\":\"G0\","
                 "\"conn\":\"k\",\"ts\":1,\"members\":[");

    for (i = 1; i < BENCH_MEMBERS; i++) {
        n += snprintf(text + n, size - n, "%s\"u%d\"", i > 1 ? "," : "", i);
    }

    snprintf(text + n, size - n, "]}");

    rc = bench_apply(store, out, text, limits);
    free(text);

    return rc;
}


int
main(void)
{
    int                    i;
    char                   path[128], err[256], text[512];
    double                 secs;
    size_t                 pubs;
    chat_store_t          *store;
    struct timespec        t0, t1;
    chat_worker_out_t      out;
    chat_worker_limits_t   limits;

    snprintf(path, sizeof(path), "sqlite:/dev/shm/chat-bench-%d.db",
             (int) getpid());

    store = chat_store_open(path, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }

    chat_worker_out_init(&out);
    memset(&limits, 0, sizeof(limits));
    limits.sync_limit = 500;
    limits.group_max = BENCH_MEMBERS;

    if (chat_store_begin(store) != 0 || bench_group(store, &out, &limits) != 0
        || chat_store_commit(store) != 0)
    {
        fprintf(stderr, "group: %s\n", chat_store_errstr(store));
        return 1;
    }

    chat_worker_out_reset(&out);
    pubs = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    for (i = 0; i < BENCH_SENDS; i++) {
        if (i % BENCH_BATCH == 0) {
            pubs += out.npubs;
            chat_worker_out_reset(&out);

            if ((i > 0 && chat_store_commit(store) != 0)
                || chat_store_begin(store) != 0)
            {
                return 1;
            }
        }

        snprintf(text, sizeof(text), "{\"v\":1,\"op\":\"send\",\"mid\":\"M%d\","
                 "\"conv\":\"grp:bench\",\"group\":\"bench\",\"from\":\"u%d\","
                 "\"conn\":\"k\",\"body\":\"a message of a usual length, "
                 "some forty bytes\",\"id\":\"c-%d\",\"ts\":%d}",
                 i, i % BENCH_MEMBERS, i, i);

        if (bench_apply(store, &out, text, &limits) != 0) {
            fprintf(stderr, "send %d failed\n", i);
            return 1;
        }
    }

    pubs += out.npubs;

    if (chat_store_commit(store) != 0) {
        return 1;
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double) (t1.tv_sec - t0.tv_sec)
           + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;

    printf("group of %d: %d sends in %.3f s: %.0f records/s, %.0f "
           "publishes/s (%zu publishes)\n", BENCH_MEMBERS, BENCH_SENDS, secs,
           BENCH_SENDS / secs, (double) pubs / secs, pubs);

    chat_worker_out_free(&out);
    chat_store_close(store);

    snprintf(text, sizeof(text), "rm -f /dev/shm/chat-bench-%d.db*",
             (int) getpid());

    return system(text) == 0 ? 0 : 1;
}
