/*
 * How fast the store answers the read side's two heavy reads: the
 * conversation list of a heavy user (1,000 conversations, 100,000
 * messages in the store) and a page of history. Seeded through the store
 * itself: 900 DMs and 100 groups of alice, 100 rows each (a group's first
 * the event that created it), senders in turn, a tenth of the DMs
 * disappearing with half of their messages expired. Measured on a second
 * handle beside the writer's, as chat-api reads, outside any transaction,
 * twice: alice having read nothing (every unread count the largest), then
 * having read all of a third of them and half of another third.
 *
 *     make bench-store    (prints p50 and p99 of each, in ms)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"


#define BENCH_DMS      900
#define BENCH_GROUPS   100
#define BENCH_ROWS     100          /* rows of each conversation */
#define BENCH_CALLS    300
#define BENCH_NOW      2000000000000LL
#define BENCH_TTL_MS   86400000LL


typedef struct {
    int64_t  rows;
    int64_t  unread;
    size_t   bytes;
} bench_sink_t;


static void
bench_conv_name(int i, char *conv, size_t size)
{
    if (i < BENCH_DMS) {
        snprintf(conv, size, "dm:alice:u%04d", i);

    } else {
        snprintf(conv, size, "grp:g%03d", i - BENCH_DMS);
    }
}


/* Row seq of conversation i: a message, or a group's creation event. */

static int
bench_insert(chat_store_t *store, int i, int seq)
{
    char              conv[32], mid[32], cid[32], peer[16];
    chat_store_msg_t  m;

    bench_conv_name(i, conv, sizeof(conv));
    snprintf(mid, sizeof(mid), "M%d-%d", i, seq);
    snprintf(cid, sizeof(cid), "c%d-%d", i, seq);
    snprintf(peer, sizeof(peer), "u%04d", i % BENCH_DMS);

    memset(&m, 0, sizeof(m));
    m.conv = (chat_str_t) { conv, strlen(conv) };
    m.seq = seq;
    m.mid = (chat_str_t) { mid, strlen(mid) };
    m.client_id = (chat_str_t) { cid, strlen(cid) };
    m.sender = seq % 2 ? (chat_str_t) { "alice", 5 }
                       : (chat_str_t) { peer, strlen(peer) };
    m.body = (chat_str_t) { "a message of a usual length, some forty bytes",
                            45 };
    /* conversations end at different times: the list has an order */
    m.ts = BENCH_NOW - BENCH_TTL_MS + (int64_t) seq * 60000
           + (int64_t) (i * 7919 % 1000) * 1000;

    if (i < BENCH_DMS && i % 10 == 0) {
        /* disappearing: the first half expired already */
        m.expires = seq <= BENCH_ROWS / 2 ? BENCH_NOW - 1
                                          : BENCH_NOW + BENCH_TTL_MS;
    }

    if (i >= BENCH_DMS && seq == 1) {
        m.kind = CHAT_STORE_KIND_GROUP;
        m.body = (chat_str_t) { "{\"event\":\"created\"}", 19 };
    }

    return chat_store_insert_message(store, &m);
}


static int
bench_seed(chat_store_t *store)
{
    int   i, seq;
    char  conv[32];

    if (chat_store_begin(store) != 0) {
        return -1;
    }

    for (i = 0; i < BENCH_DMS + BENCH_GROUPS; i++) {
        if (i >= BENCH_DMS) {
            bench_conv_name(i, conv, sizeof(conv));

            if (chat_store_group_create(store,
                                        (chat_str_t) { conv, strlen(conv) },
                                        (chat_str_t) { "A group", 7 },
                                        BENCH_NOW - BENCH_TTL_MS) != 0
                || chat_store_member_join(store,
                                          (chat_str_t) { conv, strlen(conv) },
                                          (chat_str_t) { "alice", 5 }, 1, 0)
                   != 0)
            {
                return -1;
            }
        }

        for (seq = 1; seq <= BENCH_ROWS; seq++) {
            if (bench_insert(store, i, seq) != 0) {
                return -1;
            }
        }
    }

    return chat_store_commit(store);
}


/* Alice reads all of a third of her conversations, half of another. */

static int
bench_read_some(chat_store_t *store)
{
    int                  i;
    char                 conv[32];
    chat_store_marks_t   marks;

    if (chat_store_begin(store) != 0) {
        return -1;
    }

    for (i = 0; i < BENCH_DMS + BENCH_GROUPS; i++) {
        if (i % 3 == 2) {
            continue;
        }

        bench_conv_name(i, conv, sizeof(conv));

        if (chat_store_raise_watermark(store,
                                       (chat_str_t) { conv, strlen(conv) },
                                       (chat_str_t) { "alice", 5 },
                                       CHAT_RECEIPT_READ,
                                       i % 3 ? BENCH_ROWS / 2 : BENCH_ROWS,
                                       &marks)
            != 0)
        {
            return -1;
        }
    }

    return chat_store_commit(store);
}


static int
bench_conv_row(const chat_store_conv_row_t *row, void *data)
{
    bench_sink_t  *sink = data;

    sink->rows++;
    sink->unread += row->unread;
    sink->bytes += row->has_last ? row->last.body.len : 0;

    return 0;
}


static int
bench_msg(const chat_store_msg_t *msg, void *data)
{
    bench_sink_t  *sink = data;

    sink->rows++;
    sink->bytes += msg->body.len;

    return 0;
}


static int
bench_cmp(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}


static void
bench_report(const char *what, int64_t *ns, const bench_sink_t *sink)
{
    qsort(ns, BENCH_CALLS, sizeof(int64_t), bench_cmp);

    printf("%-44s p50 %7.3f ms  p99 %7.3f ms  (%lld rows/call, "
           "%lld unread/call)\n", what,
           (double) ns[BENCH_CALLS / 2] / 1e6,
           (double) ns[BENCH_CALLS * 99 / 100] / 1e6,
           (long long) (sink->rows / BENCH_CALLS),
           (long long) (sink->unread / BENCH_CALLS));
}


/* The list, walked page by page of limit as a client does (one page per
 * call), its first page mostly. */

static int
bench_list(chat_store_t *store, int64_t limit, const char *what)
{
    int            i;
    int64_t        ns[BENCH_CALLS], t;
    bench_sink_t   sink;

    memset(&sink, 0, sizeof(sink));

    for (i = 0; i < BENCH_CALLS; i++) {
        t = bench_ns();

        if (chat_store_conversations(store, (chat_str_t) { "alice", 5 }, 0,
                                     limit + 1, BENCH_NOW, bench_conv_row,
                                     &sink)
            != CHAT_STORE_OK)
        {
            fprintf(stderr, "conversations: %s\n", chat_store_errstr(store));
            return -1;
        }

        ns[i] = bench_ns() - t;
    }

    bench_report(what, ns, &sink);

    return 0;
}


static int
bench_history(chat_store_t *store, int64_t before, int64_t after,
    const char *what)
{
    int            i;
    char           conv[32];
    int64_t        ns[BENCH_CALLS], t;
    bench_sink_t   sink;

    memset(&sink, 0, sizeof(sink));

    for (i = 0; i < BENCH_CALLS; i++) {
        bench_conv_name(i * 7 % (BENCH_DMS + BENCH_GROUPS), conv,
                        sizeof(conv));
        t = bench_ns();

        if (chat_store_history(store, (chat_str_t) { conv, strlen(conv) },
                               (chat_str_t) { "alice", 5 }, before, after,
                               51, BENCH_NOW, bench_msg, &sink)
            != CHAT_STORE_OK)
        {
            fprintf(stderr, "history: %s\n", chat_store_errstr(store));
            return -1;
        }

        ns[i] = bench_ns() - t;
    }

    bench_report(what, ns, &sink);

    return 0;
}


static int
bench_measure(chat_store_t *reader, const char *state)
{
    char  what[96];

    printf("%s:\n", state);

    snprintf(what, sizeof(what), "  conversations, limit 50");
    if (bench_list(reader, 50, what) != 0) {
        return -1;
    }

    snprintf(what, sizeof(what), "  conversations, limit 200");
    if (bench_list(reader, 200, what) != 0) {
        return -1;
    }

    return bench_history(reader, 0, CHAT_STORE_NEWEST, "  history, newest 50")
           || bench_history(reader, 60, CHAT_STORE_NEWEST,
                            "  history, 50 before seq 60")
           || bench_history(reader, 0, 20, "  history, 50 after seq 20");
}


int
main(void)
{
    int            rc;
    char           path[128], err[256], cmd[160];
    chat_store_t  *store, *reader;

    snprintf(path, sizeof(path), "sqlite:/dev/shm/chat-bench-read-%d.db",
             (int) getpid());

    store = chat_store_open(path, err, sizeof(err));
    reader = store ? chat_store_open(path, err, sizeof(err)) : NULL;

    if (reader == NULL) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }

    rc = 1;

    if (bench_seed(store) != 0) {
        fprintf(stderr, "seed: %s\n", chat_store_errstr(store));
        goto done;
    }

    printf("%d conversations of alice, %d rows each\n",
           BENCH_DMS + BENCH_GROUPS, BENCH_ROWS);

    if (bench_measure(reader, "nothing read") != 0) {
        goto done;
    }

    if (bench_read_some(store) != 0) {
        fprintf(stderr, "read: %s\n", chat_store_errstr(store));
        goto done;
    }

    if (bench_measure(reader, "a third read, a third half read") != 0) {
        goto done;
    }

    rc = 0;

done:

    chat_store_close(reader);
    chat_store_close(store);

    snprintf(cmd, sizeof(cmd), "rm -f /dev/shm/chat-bench-read-%d.db*",
             (int) getpid());

    return system(cmd) == 0 ? rc : 1;
}
