/*
 * How many send records a second chat-worker's apply path stores: the
 * same mix of DM sends (2,000 conversations among 400 users, each user in
 * about ten, bodies of 16 to 256 bytes, the sender alternating at random),
 * decoded and applied by chat_worker_apply() in batches of --batch
 * records, one transaction each, and chat_store_sync() once a second and
 * at the end, as the worker does before it commits its offsets. The
 * publishes are built into the batch's out list, not sent (Redis is not in
 * the measure).
 *
 * --procs K runs K processes at once, each with its own store handle and
 * its own conversations (those whose number is its own modulo K: what the
 * partitions a worker owns give it), --records split between them. They
 * open their stores, then start together; the rate is all the records
 * over the time from the start to the last one's end.
 *
 *     bench_store_write [--records N] [--batch N] [--seconds S] [--procs K] STORE-URI
 *
 * Bounded: each process stops after --seconds (default 120) even with
 * records left, and says so. scripts/bench-store-write runs it on SQLite
 * and on PostgreSQL (make bench-store).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"


#define BENCH_USERS       400
#define BENCH_CONVS       2000      /* user i with i+1 .. i+5 */
#define BENCH_SYNC_NS     1000000000LL
#define BENCH_TS          1900000000000LL


typedef struct {
    long     records;
    long     batch;
    long     seconds;
    long     procs;
    char    *uri;
} bench_opts_t;

/* what a process sends back to the parent */
typedef struct {
    long     applied;
    double   secs;
    int      failed;
} bench_result_t;


static const char  bench_text[] =
    "a message of a usual length, some words about the day, a link to "
    "something and a question at the end; then a longer paragraph that "
    "only a few messages reach, with more words than most people type "
    "into a chat at once, which the store keeps all the same, byte by byte";


/* xorshift64: the same mix on every run and every backend */
static uint64_t
bench_rand(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;

    return *state;
}


/* The users of conversation c: u(c mod U) and the one 1 to 5 after it. */
static void
bench_pair(long c, int *a, int *b)
{
    *a = (int) (c % BENCH_USERS);
    *b = (int) ((*a + 1 + c / BENCH_USERS) % BENCH_USERS);
}


/* The i-th record of process k: a DM send in one of its conversations. */
static int
bench_record(char *text, size_t size, long k, long procs, long i,
    uint64_t *rnd)
{
    int       a, b, from, to, lo, hi;
    long      c, mine;
    uint64_t  r;

    r = bench_rand(rnd);
    mine = (BENCH_CONVS - k + procs - 1) / procs;
    c = k + (long) (r % (uint64_t) mine) * procs;
    bench_pair(c, &a, &b);

    from = (r >> 32) & 1 ? a : b;
    to = from == a ? b : a;
    lo = a < b ? a : b;
    hi = a < b ? b : a;

    return snprintf(text, size, "{\"v\":1,\"op\":\"send\",\"mid\":\"M%ldx%ld\","
                    "\"conv\":\"dm:u%04d:u%04d\",\"to\":\"u%04d\","
                    "\"from\":\"u%04d\",\"body\":\"%.*s\","
                    "\"id\":\"c-%ld-%ld\",\"ts\":%lld}",
                    k, i, lo, hi, to, from,
                    (int) (16 + (r >> 40) % 241), bench_text, k, i,
                    (long long) (BENCH_TS + i));
}


/* One batch: its records in one transaction, then the sync when a second
 * has passed since the last one. */
static int
bench_batch(chat_store_t *store, chat_worker_out_t *out,
    const chat_worker_limits_t *limits, const bench_opts_t *o, long k,
    long *i, long n, uint64_t *rnd)
{
    long  end;
    char  text[1024];

    chat_worker_out_reset(out);

    if (chat_store_begin(store) != CHAT_STORE_OK) {
        return -1;
    }

    for (end = *i + o->batch < n ? *i + o->batch : n; *i < end; (*i)++) {
        bench_record(text, sizeof(text), k, o->procs, *i, rnd);

        if (bench_apply(store, out, text, limits) != 0) {
            (void) chat_store_rollback(store);
            return -1;
        }
    }

    return chat_store_commit(store) == CHAT_STORE_OK ? 0 : -1;
}


/* Process k: its share of the records, from the go byte on. */
static bench_result_t
bench_run(chat_store_t *store, const bench_opts_t *o, long k)
{
    long                   i, n;
    int64_t                t0, last_sync, now, limit;
    uint64_t               rnd;
    bench_result_t         r;
    chat_worker_out_t      out;
    chat_worker_limits_t   limits;

    memset(&r, 0, sizeof(r));
    memset(&limits, 0, sizeof(limits));
    limits.sync_limit = 500;
    limits.group_max = 256;
    limits.now_ms = BENCH_TS;
    chat_worker_out_init(&out);

    n = o->records / o->procs + (k < o->records % o->procs);
    rnd = 0x9e3779b97f4a7c15ULL + (uint64_t) k;
    t0 = bench_ns();
    last_sync = t0;
    limit = t0 + (int64_t) o->seconds * 1000000000;

    for (i = 0; i < n; ) {
        if (bench_batch(store, &out, &limits, o, k, &i, n, &rnd) != 0) {
            fprintf(stderr, "bench_store_write: process %ld: a batch failed: %s\n", k,
                    chat_store_errstr(store));
            r.failed = 1;
            break;
        }

        now = bench_ns();

        if (now - last_sync >= BENCH_SYNC_NS) {
            if (chat_store_sync(store) != CHAT_STORE_OK) {
                r.failed = 1;
                break;
            }

            last_sync = now;
        }

        if (now > limit && i < n) {
            fprintf(stderr, "bench_store_write: process %ld stopped after "
                    "%ld s with %ld of %ld records applied\n", k, o->seconds,
                    i, n);
            break;
        }
    }

    if (!r.failed && chat_store_sync(store) != CHAT_STORE_OK) {
        r.failed = 1;
    }

    r.applied = i;
    r.secs = (double) (bench_ns() - t0) / 1e9;
    chat_worker_out_free(&out);

    return r;
}


/* The child k: opens its store, says so (one byte on ready: 'r', or 'f'
 * when it could not), waits for the go byte, runs, writes its result on
 * done. */
static int
bench_child(const bench_opts_t *o, long k, int ready, int go, int done)
{
    char             c, err[256];
    chat_store_t    *store;
    bench_result_t   r;

    store = chat_store_open(o->uri, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "bench_store_write: open %s: %s\n", o->uri, err);
        c = 'f';
        (void) !write(ready, &c, 1);
        return 1;
    }

    c = 'r';
    if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1) {
        chat_store_close(store);
        return 1;
    }

    r = bench_run(store, o, k);
    chat_store_close(store);

    return write(done, &r, sizeof(r)) == (ssize_t) sizeof(r) && !r.failed
           ? 0 : 1;
}


static long
bench_number(const char *name, const char *s, long lo, long hi)
{
    char  *end;
    long   v;

    errno = 0;
    v = strtol(s, &end, 10);

    if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_store_write: %s must be a number from %ld "
                "to %ld, not \"%s\"\n", name, lo, hi, s);
        exit(2);
    }

    return v;
}


static void
bench_options(int argc, char **argv, bench_opts_t *o)
{
    int  i;

    o->records = 50000;
    o->batch = 500;
    o->seconds = 120;
    o->procs = 1;
    o->uri = NULL;

    for (i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--records") == 0) {
            o->records = bench_number("--records", argv[++i], 1, 100000000);

        } else if (i + 1 < argc && strcmp(argv[i], "--batch") == 0) {
            o->batch = bench_number("--batch", argv[++i], 1, 100000);

        } else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0) {
            o->seconds = bench_number("--seconds", argv[++i], 1, 86400);

        } else if (i + 1 < argc && strcmp(argv[i], "--procs") == 0) {
            o->procs = bench_number("--procs", argv[++i], 1, 64);

        } else if (argv[i][0] != '-' && o->uri == NULL) {
            o->uri = argv[i];

        } else {
            o->uri = NULL;
            break;
        }
    }

    if (o->uri == NULL) {
        fprintf(stderr, "usage: bench_store_write [--records N] [--batch N] "
                "[--seconds S] [--procs K] STORE-URI\n");
        exit(2);
    }
}


/* Starts the children, lets them go together once all have their
 * store, sums their results. */
static int
bench_parent(const bench_opts_t *o)
{
    int              ready[2], go[2], done[2], status, failed;
    long             k, applied;
    char             c;
    pid_t            pid;
    int64_t          t0;
    double           secs;
    bench_result_t   r;

    if (pipe(ready) != 0 || pipe(go) != 0 || pipe(done) != 0) {
        perror("bench_store_write: pipe");
        return 1;
    }

    for (k = 0; k < o->procs; k++) {
        pid = fork();

        if (pid < 0) {
            perror("bench_store_write: fork");
            return 1;
        }

        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            close(done[0]);
            _exit(bench_child(o, k, ready[1], go[0], done[1]));
        }
    }

    close(ready[1]);
    close(go[0]);
    close(done[1]);
    failed = 0;

    /* without a go byte (a child could not open its store), the others
     * read the end of go and exit */
    for (k = 0; k < o->procs; k++) {
        if (read(ready[0], &c, 1) != 1 || c != 'r') {
            failed = 1;
        }
    }

    t0 = bench_ns();

    for (k = 0; !failed && k < o->procs; k++) {
        c = 'g';
        failed = write(go[1], &c, 1) != 1;
    }

    close(go[1]);
    applied = 0;

    while (read(done[0], &r, sizeof(r)) == (ssize_t) sizeof(r)) {
        applied += r.applied;
        failed |= r.failed;
    }

    secs = (double) (bench_ns() - t0) / 1e9;

    while (wait(&status) > 0) {
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }

    if (failed) {
        fprintf(stderr, "bench_store_write: failed\n");
        return 1;
    }

    printf("%ld process(es), batches of %ld: %ld send records in %.3f s: "
           "%.0f records/s\n", o->procs, o->batch, applied, secs,
           (double) applied / secs);

    return 0;
}


int
main(int argc, char **argv)
{
    bench_opts_t  o;

    bench_options(argc, argv, &o);

    return bench_parent(&o);
}
