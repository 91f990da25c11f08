/*
 * Unit tests of chat-worker's consumer (workers/chat_worker_kafka.c) and of
 * its batches (workers/chat_worker_batch.c) on librdkafka's mock cluster:
 * real consumer groups, rebalances and commits in one process, with errors
 * injected into the broker's answers. What each test checks is what the
 * mock broker has committed for the group and what the SQLite store holds.
 *
 * The mock's group coordinator elects a leader 3 s after the first member
 * of a group joins and session.timeout.ms - 1 s after a later one does;
 * each test has its own group, and each wait is bounded (TEST_WAIT_MS).
 */

#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "test.h"
#include "test_tmpdir.h"
#include "test_backend.h"
#include "chat_worker_batch.h"
#include "chat_worker_kafka.h"
#include "chat_worker_log.h"


#define TEST_NPARTS   4
#define TEST_WAIT_MS  20000
#define TEST_STEP_MS  20
#define TEST_CHILD_S  90     /* the longest a test may take */

/* the ApiKey of OffsetCommit in the Kafka protocol (librdkafka installs
 * no header of them) */
#define TEST_OFFSET_COMMIT  8


typedef struct {
    chat_worker_conf_t      conf;
    chat_worker_kv_t        opts[5];
    char                    store_uri[640];
    char                    redis_path[128];

    chat_store_t           *store;
    chat_worker_redis_t    *redis;
    chat_worker_batch_t     b;
    chat_worker_kafka_t    *k;
    volatile sig_atomic_t   stop;

    int                     fail_sync;  /* the store's sync fails */
    int                     syncs;      /* that succeeded */
    int                     flushes;    /* before revocations */
    size_t                  flushed;    /* records in hand at them */
} test_worker_t;


static char                      test_dir[64];
static rd_kafka_t               *test_producer;  /* owns the cluster */
static rd_kafka_mock_cluster_t  *test_cluster;
static char                      test_group[32];   /* the test's */
static char                      test_topic[32];
static int                       test_groups;
static char                      test_group_store[640];  /* its store */


static int64_t
test_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* chat_worker_kafka_flush_pt: counts the revocations and the records in
 * hand at each, then runs the batch as chat-worker does. */

static void
test_flush(void *data)
{
    size_t          n;
    test_worker_t  *w = data;

    w->flushes++;
    (void) chat_worker_kafka_records(w->k, &n);
    w->flushed += n;

    chat_worker_batch_flush(&w->b);
}


/* chat_worker_kafka_sync_pt: the store's own sync, or a failed one. */

static int
test_sync(void *data)
{
    test_worker_t  *w = data;

    if (w->fail_sync) {
        return -1;
    }

    if (chat_worker_batch_sync(&w->b) != 0) {
        return -1;
    }

    w->syncs++;

    return 0;
}


/* A new group and topic for the test: the mock keeps every group's
 * offsets and every topic's records. */

static int
test_new_group(void)
{
    test_groups++;
    snprintf(test_group, sizeof(test_group), "g%d", test_groups);
    snprintf(test_topic, sizeof(test_topic), "chat.writes.%d", test_groups);

    /* the store its workers share, new and empty */
    if (test_backend_uri(test_group_store, sizeof(test_group_store),
                         test_dir, test_group) != 0)
    {
        return -1;
    }

    return rd_kafka_mock_topic_create(test_cluster, test_topic, TEST_NPARTS,
                                      1) == RD_KAFKA_RESP_ERR_NO_ERROR
           ? 0 : -1;
}


/*
 * A chat-worker of test_group (its consumer, a store in the group's file,
 * a Redis that is not there) with partition.assignment.strategy strategy;
 * subscribed, not yet polled. 0, or -1.
 */

static int
test_worker_open(test_worker_t *w, const char *strategy)
{
    char  err[512];

    memset(w, 0, sizeof(*w));

    snprintf(w->store_uri, sizeof(w->store_uri), "%s", test_group_store);
    snprintf(w->redis_path, sizeof(w->redis_path), "%s/no-redis.sock",
             test_dir);

    w->opts[0] = (chat_worker_kv_t) { "partition.assignment.strategy",
                                      (char *) strategy };
    w->opts[1] = (chat_worker_kv_t) { "session.timeout.ms", "3500" };
    w->opts[2] = (chat_worker_kv_t) { "heartbeat.interval.ms", "100" };
    w->opts[3] = (chat_worker_kv_t) { "auto.commit.interval.ms", "100" };

    w->conf.brokers = (char *) rd_kafka_mock_cluster_bootstraps(test_cluster);
    w->conf.topic = test_topic;
    w->conf.group = test_group;
    w->conf.store = w->store_uri;
    w->conf.redis = w->redis_path;
    w->conf.redis_path = w->redis_path;
    w->conf.redis_timeout = 100;
    w->conf.sync_limit = 100;
    w->conf.group_max_members = 256;
    w->conf.batch = 500;
    w->conf.kafka_options = w->opts;
    w->conf.nkafka_options = 4;

    if (getenv("TEST_DEBUG") != NULL) {
        w->opts[w->conf.nkafka_options++] = (chat_worker_kv_t) {
            "debug", getenv("TEST_DEBUG") };
    }

    w->store = chat_store_open(w->store_uri, err, sizeof(err));
    if (w->store == NULL) {
        fprintf(stderr, "  store: %s\n", err);
        return -1;
    }

    w->redis = chat_worker_redis_new(&w->conf);
    chat_worker_batch_init(&w->b, &w->conf, w->store, w->redis, &w->stop);

    w->k = chat_worker_kafka_open(&w->conf, test_flush, test_sync, w, err,
                                  sizeof(err));
    if (w->redis == NULL || w->k == NULL) {
        fprintf(stderr, "  consumer: %s\n", w->k ? "no memory" : err);
        return -1;
    }

    w->b.kafka = w->k;

    if (chat_worker_kafka_subscribe(w->k, test_topic, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "  %s\n", err);
        return -1;
    }

    return 0;
}


/* Leaves the group as chat-worker does at a SIGTERM; the close's code. */

static int
test_worker_close(test_worker_t *w)
{
    int  rc;

    rc = 0;

    if (w->k != NULL) {
        chat_worker_batch_run(&w->b);
        rc = chat_worker_kafka_close(w->k);
        w->k = NULL;
    }

    chat_worker_batch_free(&w->b);
    chat_worker_redis_free(w->redis);
    chat_store_close(w->store);
    w->store = NULL;

    return rc;
}


/* One turn of chat-worker's loop (chat_worker_main.c). */

static void
test_step(test_worker_t *w)
{
    if (chat_worker_kafka_fill(w->k, TEST_STEP_MS) > 0) {
        CHECK_EQ(chat_worker_batch_run(&w->b), 0);
    }

    chat_worker_kafka_commit_due(w->k);
}


/* Gathers and applies until w has consumed records in all, committing
 * nothing: the next OffsetCommit is the one a test injects an error in. */

static int
test_apply_until(test_worker_t *w, uint64_t records)
{
    int64_t  deadline;

    deadline = test_now() + TEST_WAIT_MS;

    while (w->b.records < records && test_now() < deadline) {
        if (chat_worker_kafka_fill(w->k, TEST_STEP_MS) > 0
            && chat_worker_batch_run(&w->b) != 0)
        {
            return -1;
        }
    }

    return w->b.records == records ? 0 : -1;
}


static size_t
test_assigned(test_worker_t *w)
{
    size_t  n;

    (void) chat_worker_kafka_assigned(w->k, &n);

    return n;
}


/* The record of message i of partition p: alice<p> to zed. */

static int
test_produce(int32_t p, int i)
{
    char  rec[512];

    snprintf(rec, sizeof(rec), "{\"v\":1,\"op\":\"send\",\"mid\":\"M%dx%d\","
             "\"conv\":\"dm:alice%d:zed\",\"from\":\"alice%d\",\"to\":"
             "\"zed\",\"body\":\"hello %d\",\"id\":\"c%d\",\"ts\":%d}",
             (int) p, i, (int) p, (int) p, i, i, 1000 + i);

    if (rd_kafka_producev(test_producer, RD_KAFKA_V_TOPIC(test_topic),
                          RD_KAFKA_V_PARTITION(p),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(rec, strlen(rec)),
                          RD_KAFKA_V_END)
        != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
        return -1;
    }

    return 0;
}


/* Messages [from, to) in every partition, acknowledged by the broker. */

static int
test_produce_all(int from, int to)
{
    int      i;
    int32_t  p;

    for (p = 0; p < TEST_NPARTS; p++) {
        for (i = from; i < to; i++) {
            if (test_produce(p, i) != 0) {
                return -1;
            }
        }
    }

    return rd_kafka_flush(test_producer, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR
           ? 0 : -1;
}


/* What the mock has committed for test_group, by partition (-1: none). */

static int
test_committed(int64_t *offsets)
{
    int                               i;
    char                              err[512];
    rd_kafka_t                       *rk;
    rd_kafka_conf_t                  *conf;
    rd_kafka_resp_err_t               rc;
    rd_kafka_topic_partition_list_t  *parts;

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "bootstrap.servers",
                          rd_kafka_mock_cluster_bootstraps(test_cluster),
                          err, sizeof(err)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "group.id", test_group, err, sizeof(err))
           != RD_KAFKA_CONF_OK)
    {
        rd_kafka_conf_destroy(conf);
        return -1;
    }

    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }

    parts = rd_kafka_topic_partition_list_new(TEST_NPARTS);

    for (i = 0; i < TEST_NPARTS; i++) {
        rd_kafka_topic_partition_list_add(parts, test_topic, i);
    }

    rc = rd_kafka_committed(rk, parts, 5000);

    for (i = 0; i < TEST_NPARTS; i++) {
        offsets[i] = parts->elems[i].offset;
    }

    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);

    return rc == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}


/* 1 when every partition's committed offset is n. */

static int
test_all_committed(int64_t n)
{
    int      i;
    int64_t  offsets[TEST_NPARTS];

    if (test_committed(offsets) != 0) {
        return 0;
    }

    for (i = 0; i < TEST_NPARTS; i++) {
        if (offsets[i] != n) {
            return 0;
        }
    }

    return 1;
}


/* How many messages the store holds of partition p's conversation. */

static int64_t
test_stored(chat_store_t *store, int32_t p)
{
    char        conv[32];
    int64_t     last;
    chat_str_t  c;

    snprintf(conv, sizeof(conv), "dm:alice%d:zed", (int) p);
    c.s = conv;
    c.len = strlen(conv);

    if (chat_store_conv_last_seq(store, c, &last) != CHAT_STORE_OK) {
        return -1;
    }

    return last;
}


/* 1 when the store holds exactly n messages of every partition. */

static int
test_all_stored(chat_store_t *store, int64_t n)
{
    int32_t  p;

    for (p = 0; p < TEST_NPARTS; p++) {
        if (test_stored(store, p) != n) {
            fprintf(stderr, "  partition %d: %lld stored, expected %lld\n",
                    (int) p, (long long) test_stored(store, p),
                    (long long) n);
            return 0;
        }
    }

    return 1;
}


/* Steps w (and w2, when not NULL) until records have been consumed by
 * them and all is committed at n; 0, or -1 at TEST_WAIT_MS. */

static int
test_run_until_committed(test_worker_t *w, test_worker_t *w2,
    uint64_t records, int64_t n)
{
    int64_t  deadline, next_check;

    deadline = test_now() + TEST_WAIT_MS;
    next_check = 0;

    while (test_now() < deadline) {
        test_step(w);

        if (w2 != NULL) {
            test_step(w2);
        }

        if (w->b.records + (w2 ? w2->b.records : 0) >= records
            && test_now() >= next_check)
        {
            if (test_all_committed(n)) {
                return 0;
            }

            next_check = test_now() + 100;
        }
    }

    fprintf(stderr, "  not all committed at %lld after %d ms\n",
            (long long) n, TEST_WAIT_MS);

    return -1;
}


/* Messages [from, to) of every partition produced and in w's hand: a
 * batch filled, not run. */

static int
test_fill_until(test_worker_t *w, int from, int to)
{
    size_t   n, want;
    int64_t  deadline;

    if (test_produce_all(from, to) != 0) {
        return -1;
    }

    want = (size_t) (to - from) * TEST_NPARTS;
    deadline = test_now() + TEST_WAIT_MS;
    n = 0;

    while (n < want && test_now() < deadline) {
        n = chat_worker_kafka_fill(w->k, TEST_STEP_MS);
    }

    return n == want ? 0 : -1;
}


/* Polls a (its batch in hand, as between two records of a batch being
 * gathered) and steps b until a revocation has come to a. */

static int
test_wait_revocation(test_worker_t *a, test_worker_t *b)
{
    int64_t  deadline;

    deadline = test_now() + TEST_WAIT_MS;

    while (a->flushes == 0 && test_now() < deadline) {
        (void) chat_worker_kafka_fill(a->k, 0);
        test_step(b);
    }

    return a->flushes > 0 ? 0 : -1;
}


/* Steps a and b until both hold partitions; how many they hold, 0 when
 * one holds none at TEST_WAIT_MS. */

static size_t
test_until_both_assigned(test_worker_t *a, test_worker_t *b)
{
    int64_t  deadline;

    deadline = test_now() + TEST_WAIT_MS;

    while ((test_assigned(a) == 0 || test_assigned(b) == 0)
           && test_now() < deadline)
    {
        test_step(a);
        test_step(b);
    }

    if (test_assigned(a) == 0 || test_assigned(b) == 0) {
        return 0;
    }

    return test_assigned(a) + test_assigned(b);
}


/* A worker alone in a new group, assigned every partition, having applied
 * and committed n messages of each. */

static int
test_worker_start(test_worker_t *w, const char *strategy, int n)
{
    if (test_new_group() != 0 || test_produce_all(0, n) != 0 || test_worker_open(w, strategy) != 0) {
        return -1;
    }

    return test_run_until_committed(w, NULL, (uint64_t) n * TEST_NPARTS, n);
}


TEST(batches_are_committed_once_synced)
{
    test_worker_t  w;

    CHECK_EQ(test_worker_start(&w, "range", 3), 0);

    CHECK_EQ(test_assigned(&w), TEST_NPARTS);
    CHECK(test_all_stored(w.store, 3));
    CHECK(w.syncs >= 1);
    CHECK_EQ(w.b.records, 3 * TEST_NPARTS);
    CHECK_EQ(w.flushes, 0);

    CHECK_EQ(test_worker_close(&w), 0);
}


/*
 * Once a sync has failed, the consumer takes no more records and nothing
 * is committed again, by the interval, the close or a later sync that
 * succeeds: what the store had not made durable is consumed again after
 * the restart, and applied once.
 */

TEST(a_failed_sync_stops_all_commits)
{
    int64_t        deadline;
    test_worker_t  w;

    CHECK_EQ(test_worker_start(&w, "range", 2), 0);

    w.fail_sync = 1;
    CHECK_EQ(test_produce_all(2, 4), 0);

    deadline = test_now() + TEST_WAIT_MS;

    while (!chat_worker_kafka_failed(w.k) && test_now() < deadline) {
        test_step(&w);
    }

    CHECK(chat_worker_kafka_failed(w.k));
    CHECK_EQ(w.b.records, 4 * TEST_NPARTS);
    CHECK(test_all_stored(w.store, 4));

    /* a sync that works now proves nothing of the one that failed */
    w.fail_sync = 0;
    CHECK_EQ(test_produce_all(4, 5), 0);

    deadline = test_now() + 500;

    while (test_now() < deadline) {
        test_step(&w);
    }

    CHECK_EQ(w.b.records, 4 * TEST_NPARTS);
    CHECK_EQ(test_worker_close(&w), -1);
    CHECK(test_all_committed(2));

    /* the restart: from offset 2, applied again without a duplicate */
    CHECK_EQ(test_worker_open(&w, "range"), 0);
    CHECK_EQ(test_run_until_committed(&w, NULL, 3 * TEST_NPARTS, 5), 0);
    CHECK(test_all_stored(w.store, 5));
    CHECK_EQ(w.b.records, 3 * TEST_NPARTS);
    CHECK_EQ(test_worker_close(&w), 0);
}


/*
 * A second worker joins while the first has a batch in hand (offsets 3
 * and 4 of every partition): the revocation runs that batch before the
 * partitions go, the two end up with disjoint assignments covering the
 * topic, every record is stored exactly once and everything is committed.
 *
 * Eager (range, roundrobin): the revocation comes while the group is
 * joining, when the mock's coordinator answers a commit
 * REBALANCE_IN_PROGRESS; the batch's offsets stay uncommitted (at 3), and
 * the partitions' next owners apply its records again, which changes
 * nothing. Cooperative: the revocation comes once the group is up again,
 * and its commit usually takes; whether it does depends on the mock's
 * timers, so only what holds either way is checked.
 */

static void
test_revocation_mid_batch(const char *strategy, int cooperative)
{
    test_worker_t  a, b;

    CHECK_EQ(test_worker_start(&a, strategy, 3), 0);

    CHECK_EQ(test_fill_until(&a, 3, 5), 0);
    CHECK(test_all_stored(a.store, 3));

    /* b joins: a's next polls give partitions up, with the batch */
    CHECK_EQ(test_worker_open(&b, strategy), 0);
    CHECK_EQ(test_wait_revocation(&a, &b), 0);

    CHECK_EQ(a.flushes, 1);
    CHECK_EQ(a.flushed, 2 * TEST_NPARTS);
    CHECK(test_all_stored(a.store, 5));

    if (!cooperative) {
        CHECK(test_all_committed(3));
    }

    CHECK_EQ(test_until_both_assigned(&a, &b), TEST_NPARTS);

    /* more records, consumed by whichever owns their partition */
    CHECK_EQ(test_produce_all(5, 6), 0);
    CHECK_EQ(test_run_until_committed(&a, &b, 6 * TEST_NPARTS, 6), 0);
    CHECK(test_all_stored(a.store, 6));

    if (!cooperative) {
        CHECK(a.b.records + b.b.records >= 8 * TEST_NPARTS);
    }

    CHECK_EQ(test_worker_close(&b), 0);
    CHECK_EQ(test_worker_close(&a), 0);
}


TEST(revocation_mid_batch_range)
{
    test_revocation_mid_batch("range", 0);
}


TEST(revocation_mid_batch_roundrobin)
{
    test_revocation_mid_batch("roundrobin", 0);
}


TEST(revocation_mid_batch_cooperative_sticky)
{
    test_revocation_mid_batch("cooperative-sticky", 1);
}


/* A worker that applied messages 1 and 2 of every partition after 0 was
 * committed, its next commit answered err; stepped until consumed records
 * were consumed in all and all is committed at 3. */

static void
test_commit_answered(test_worker_t *w, rd_kafka_resp_err_t err,
    uint64_t consumed)
{
    CHECK_EQ(test_worker_start(w, "range", 1), 0);

    CHECK_EQ(test_produce_all(1, 3), 0);
    CHECK_EQ(test_apply_until(w, 3 * TEST_NPARTS), 0);

    rd_kafka_mock_push_request_errors(test_cluster, TEST_OFFSET_COMMIT, 1,
                                      err);

    CHECK_EQ(test_run_until_committed(w, NULL, consumed, 3), 0);
    CHECK(test_all_stored(w->store, 3));
}


/* A commit answered REBALANCE_IN_PROGRESS is made again at the next
 * interval, with no new record to prompt it; nothing is applied twice. */

TEST(rebalance_in_progress_on_commit_is_retried)
{
    test_worker_t  w;

    test_commit_answered(&w, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
                         3 * TEST_NPARTS);

    CHECK_EQ(w.b.records, 3 * TEST_NPARTS);
    CHECK_EQ(w.flushes, 0);
    CHECK_EQ(test_worker_close(&w), 0);
}


/* ILLEGAL_GENERATION on a commit: the assignment is lost (revoked without
 * a commit), the worker joins again and consumes from the last commit,
 * applying what it had applied already without a duplicate. */

TEST(illegal_generation_on_commit_rejoins)
{
    test_worker_t  w;

    test_commit_answered(&w, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
                         5 * TEST_NPARTS);

    CHECK(w.flushes >= 1);
    CHECK_EQ(w.b.records, 5 * TEST_NPARTS);
    CHECK_EQ(test_worker_close(&w), 0);
}


/*
 * Cooperative: the commit before a revocation fails. The partitions the
 * worker keeps had their offsets stored in the same batch; they are
 * committed at the next interval, not left to be consumed again.
 */

TEST(a_failed_commit_before_a_revocation_is_made_again)
{
    size_t          i, n;
    int64_t         offsets[TEST_NPARTS];
    const int32_t  *parts;
    test_worker_t   a, b;

    CHECK_EQ(test_worker_start(&a, "cooperative-sticky", 3), 0);
    CHECK_EQ(test_fill_until(&a, 3, 5), 0);

    /* the next commit: the revocation's */
    rd_kafka_mock_push_request_errors(test_cluster, TEST_OFFSET_COMMIT, 1,
                                      RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);

    CHECK_EQ(test_worker_open(&b, "cooperative-sticky"), 0);
    CHECK_EQ(test_wait_revocation(&a, &b), 0);

    CHECK_EQ(test_until_both_assigned(&a, &b), TEST_NPARTS);

    CHECK(a.flushes >= 1);
    CHECK_EQ(test_assigned(&a) + test_assigned(&b), TEST_NPARTS);

    /* what a kept is committed by a, though nothing new came */
    CHECK_EQ(test_run_until_committed(&a, &b, 5 * TEST_NPARTS, 5), 0);
    CHECK_EQ(test_committed(offsets), 0);
    parts = chat_worker_kafka_assigned(a.k, &n);

    for (i = 0; i < n; i++) {
        CHECK_EQ(offsets[parts[i]], 5);
    }

    CHECK(n > 0);
    CHECK(test_all_stored(a.store, 5));

    CHECK_EQ(test_worker_close(&b), 0);
    CHECK_EQ(test_worker_close(&a), 0);
}


static int
test_cluster_new(void)
{
    char              err[512];
    rd_kafka_conf_t  *conf;

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err,
                          sizeof(err)) != RD_KAFKA_CONF_OK)
    {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }

    rd_kafka_conf_set_log_cb(conf, chat_worker_kafka_logger);

    test_producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (test_producer == NULL) {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }

    test_cluster = rd_kafka_handle_mock_cluster(test_producer);

    if (test_cluster == NULL) {
        fprintf(stderr, "no mock cluster\n");
        return -1;
    }

    return 0;
}


/*
 * Each test in a process of its own, with its own mock cluster, all at
 * once: a test spends its seconds waiting on the mock's group timers, not
 * working. TEST_ONLY=name runs that test alone.
 */

typedef struct {
    const char  *name;
    void       (*run)(void);
} test_case_t;

#define TEST_CASE(name)  { #name, name }

static const test_case_t  test_cases[] = {
    TEST_CASE(batches_are_committed_once_synced),
    TEST_CASE(a_failed_sync_stops_all_commits),
    TEST_CASE(revocation_mid_batch_range),
    TEST_CASE(revocation_mid_batch_roundrobin),
    TEST_CASE(revocation_mid_batch_cooperative_sticky),
    TEST_CASE(rebalance_in_progress_on_commit_is_retried),
    TEST_CASE(illegal_generation_on_commit_rejoins),
    TEST_CASE(a_failed_commit_before_a_revocation_is_made_again),
};

#define TEST_NCASES  (sizeof(test_cases) / sizeof(test_cases[0]))


/* The child of test i: 0 when it passed. */

static int
test_child(size_t i)
{
    int  rc;

    /* its files apart from the other tests'; a test that hangs (a close
     * that never returns) is killed and fails */
    test_groups = (int) i * 100;
    alarm(TEST_CHILD_S);

    if (test_cluster_new() != 0) {
        return 1;
    }

    test_case_failed = 0;
    test_cases[i].run();
    rc = test_case_failed;

    rd_kafka_destroy(test_producer);

    return rc;
}


int
main(void)
{
    int          status;
    pid_t        pids[TEST_NCASES];
    size_t       i;
    const char  *only;

    chat_worker_log_set_level(getenv("TEST_LOG") ? CHAT_LOG_DEBUG
                                                 : CHAT_LOG_ERROR);
    only = getenv("TEST_ONLY");

    if (test_tmpdir(test_dir, sizeof(test_dir), "kafka") != 0) {
        return 1;
    }

    /* before any thread: librdkafka's do not survive a fork */
    fflush(NULL);

    for (i = 0; i < TEST_NCASES; i++) {
        pids[i] = -1;

        if (only != NULL && strcmp(only, test_cases[i].name) != 0) {
            continue;
        }

        pids[i] = fork();

        if (pids[i] == 0) {
            exit(test_child(i));
        }

        if (pids[i] < 0) {
            perror("fork");
            test_failed++;
        }
    }

    for (i = 0; i < TEST_NCASES; i++) {
        if (pids[i] <= 0) {
            continue;
        }

        if (waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status)
            && WEXITSTATUS(status) == 0)
        {
            test_passed++;

        } else {
            fprintf(stderr, "FAIL %s%s\n", test_cases[i].name,
                    WIFSIGNALED(status) ? " (killed: a hang, or a crash)"
                                        : "");
            test_failed++;
        }
    }

    test_tmpdir_remove(test_dir);

    return test_summary("worker_kafka");
}
