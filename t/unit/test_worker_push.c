/*
 * Unit tests of the push hook's pure parts: the due state in the store
 * (push/chat_worker_push_due.c, chat_store_push_*() on the backend of
 * t/unit/test_backend.h), the
 * body of a notification and the retry policy of its POST
 * (push/chat_worker_push_msg.c). The POSTs themselves are tested end to
 * end, against a local HTTP sink, in t/integration/test_push.py.
 */

#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "test_backend.h"
#include "chat_worker_push_due.h"
#include "chat_worker_push_msg.h"
#include "chat_store_sqlite.h"


#define STR(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })

#define AB      "dm:alice:bob"
#define PART    3
#define DELAY   5000


static char                 dir[64];
static chat_store_t        *db;
static chat_worker_conf_t   conf;


/* A new store, in a transaction, and push on with DELAY. */

static int
push_store(void)
{
    char  uri[640], err[256];

    if (test_backend_uri(uri, sizeof(uri), dir, "push") != 0) {
        return -1;
    }

    db = chat_store_open(uri, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "  open: %s\n", err);
        return -1;
    }

    memset(&conf, 0, sizeof(conf));
    conf.push_url = "http://127.0.0.1:9/push";
    conf.push_delay = DELAY;

    return chat_store_begin(db);
}


/* Stores the message seq of conv from sender at ts, then applies the push
 * rule of a send to it, as the batch does; returns the latter's code. */

static int
sent(const char *from, int64_t seq, int64_t ts, int duplicate)
{
    char                  mid[16], cid[16];
    chat_store_msg_t      m;
    chat_record_t         rec;
    chat_worker_result_t  res;

    snprintf(mid, sizeof(mid), "M%lld", (long long) seq);
    snprintf(cid, sizeof(cid), "c-%lld", (long long) seq);

    memset(&m, 0, sizeof(m));
    m.conv = STR(AB);
    m.seq = seq;
    m.mid = (chat_str_t) { mid, strlen(mid) };
    m.sender = (chat_str_t) { from, strlen(from) };
    m.client_id = (chat_str_t) { cid, strlen(cid) };
    m.body = STR("hi");
    m.ts = ts;

    if (!duplicate && chat_store_insert_message(db, &m) != CHAT_STORE_OK) {
        return -9;
    }

    memset(&rec, 0, sizeof(rec));
    rec.op = CHAT_RECORD_OP_SEND;
    rec.conv = m.conv;
    rec.from = m.sender;
    rec.ts = ts;

    memset(&res, 0, sizeof(res));
    res.duplicate = duplicate;

    return chat_worker_push_due(db, &conf, &rec, PART, &res);
}


/* The users of AB whose push is due in part at now, as "alice,bob,". */

typedef struct {
    char  users[128];
} due_t;


static int
due_one(chat_str_t conv, chat_str_t user, void *data)
{
    due_t  *due = data;

    if (conv.len == sizeof(AB) - 1 && memcmp(conv.s, AB, conv.len) == 0) {
        snprintf(due->users + strlen(due->users),
                 sizeof(due->users) - strlen(due->users), "%.*s,",
                 (int) user.len, user.s);
    }

    return 0;
}


static const char *
due(int32_t part, int64_t now)
{
    static due_t  d;

    d.users[0] = '\0';

    if (chat_store_push_due(db, part, now, 100, due_one, &d)
        != CHAT_STORE_OK)
    {
        fprintf(stderr, "  push_due: %s\n", chat_store_errstr(db));
        return "(error)";
    }

    return d.users;
}


/* The seqs pushable to user in AB, as "1,2,". */

static int
seq_one(const chat_store_msg_t *msg, void *data)
{
    char  *seqs = data;

    snprintf(seqs + strlen(seqs), 64 - strlen(seqs), "%lld,",
             (long long) msg->seq);

    return 0;
}


static const char *
pushable(const char *user)
{
    static char  seqs[64];

    seqs[0] = '\0';

    if (chat_store_push_messages(db, STR(AB),
                                 (chat_str_t) { user, strlen(user) }, 100,
                                 seq_one, seqs) != CHAT_STORE_OK)
    {
        return "(error)";
    }

    return seqs;
}


static int
advance(const char *user, int64_t seq)
{
    return chat_store_push_advance(db, STR(AB),
                                   (chat_str_t) { user, strlen(user) }, seq,
                                   DELAY);
}


TEST(send_makes_a_push_due_for_the_recipient_only)
{
    CHECK_EQ(sent("alice", 1, 1000, 0), CHAT_WORKER_APPLIED);

    CHECK(strcmp(due(PART, 1000 + DELAY - 1), "") == 0);
    CHECK(strcmp(due(PART, 1000 + DELAY), "bob,") == 0);
    CHECK(strcmp(due(PART + 1, 1000 + DELAY), "") == 0);

    /* the sender's own message is nothing to push to her */
    CHECK(strcmp(pushable("bob"), "1,") == 0);
    CHECK(strcmp(pushable("alice"), "") == 0);
}


TEST(nothing_due_for_a_duplicate_or_with_push_off)
{
    CHECK_EQ(sent("alice", 1, 1000, 1), CHAT_WORKER_APPLIED);
    CHECK(strcmp(due(PART, 1000000), "") == 0);

    conf.push_url = NULL;
    CHECK_EQ(sent("alice", 1, 1000, 0), CHAT_WORKER_APPLIED);
    CHECK(strcmp(due(PART, 1000000), "") == 0);
}


TEST(the_earliest_due_time_is_kept)
{
    CHECK_EQ(sent("alice", 1, 2000, 0), CHAT_WORKER_APPLIED);
    CHECK_EQ(sent("alice", 2, 3000, 0), CHAT_WORKER_APPLIED);
    CHECK(strcmp(due(PART, 2000 + DELAY), "bob,") == 0);

    /* a message stamped earlier by another node's clock moves it back */
    CHECK_EQ(sent("alice", 3, 1500, 0), CHAT_WORKER_APPLIED);
    CHECK(strcmp(due(PART, 1500 + DELAY), "bob,") == 0);
    CHECK(strcmp(pushable("bob"), "1,2,3,") == 0);
}


TEST(advancing_moves_pushed_seq_and_the_next_due_time)
{
    CHECK_EQ(sent("alice", 1, 1000, 0), CHAT_WORKER_APPLIED);
    CHECK_EQ(sent("bob", 2, 1500, 0), CHAT_WORKER_APPLIED);
    CHECK_EQ(sent("alice", 3, 2000, 0), CHAT_WORKER_APPLIED);

    CHECK(strcmp(pushable("bob"), "1,3,") == 0);

    /* bob's own seq 2 is not what comes next: seq 3 is (seq 2 made a
     * push due for alice, at 1500 + DELAY) */
    CHECK_EQ(advance("bob", 1), CHAT_STORE_OK);
    CHECK(strcmp(pushable("bob"), "3,") == 0);
    CHECK(strcmp(due(PART, 2000 + DELAY - 1), "alice,") == 0);
    CHECK(strcmp(due(PART, 2000 + DELAY), "alice,bob,") == 0);

    CHECK_EQ(advance("bob", 3), CHAT_STORE_OK);
    CHECK(strcmp(pushable("bob"), "") == 0);
    CHECK(strcmp(due(PART, 1000000), "alice,") == 0);

    /* pushed_seq never goes down */
    CHECK_EQ(advance("bob", 1), CHAT_STORE_OK);
    CHECK(strcmp(pushable("bob"), "") == 0);
}


TEST(a_delivered_receipt_leaves_nothing_to_push)
{
    chat_store_marks_t  mk;

    CHECK_EQ(sent("alice", 1, 1000, 0), CHAT_WORKER_APPLIED);
    CHECK_EQ(sent("alice", 2, 1100, 0), CHAT_WORKER_APPLIED);

    CHECK_EQ(chat_store_raise_watermark(db, STR(AB), STR("bob"),
                                        CHAT_RECEIPT_DELIVERED, 1, &mk),
             CHAT_STORE_OK);
    CHECK(strcmp(pushable("bob"), "2,") == 0);

    CHECK_EQ(chat_store_raise_watermark(db, STR(AB), STR("bob"),
                                        CHAT_RECEIPT_DELIVERED, 2, &mk),
             CHAT_STORE_OK);
    CHECK(strcmp(pushable("bob"), "") == 0);

    /* the row was due: what the pusher does when it finds nothing */
    CHECK(strcmp(due(PART, 1000 + DELAY), "bob,") == 0);
    CHECK_EQ(advance("bob", 0), CHAT_STORE_OK);
    CHECK(strcmp(due(PART, 1000000), "") == 0);

    /* and a later message makes it due again */
    CHECK_EQ(sent("alice", 3, 9000, 0), CHAT_WORKER_APPLIED);
    CHECK(strcmp(due(PART, 9000 + DELAY), "bob,") == 0);
}


/* The plan of one statement: whether it sorts, scans or uses index. */

static void
plan(sqlite3 *raw, const char *stmt, int *sorted, int *scanned,
    const char *index, int *indexed)
{
    char           sql[2048];
    const char    *d;
    sqlite3_stmt  *st;

    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", stmt);
    CHECK(sqlite3_prepare_v2(raw, sql, -1, &st, NULL) == SQLITE_OK);

    while (sqlite3_step(st) == SQLITE_ROW) {
        d = (const char *) sqlite3_column_text(st, 3);
        *sorted |= strstr(d, "TEMP B-TREE") != NULL;
        *scanned |= strncmp(d, "SCAN", 4) == 0;
        *indexed |= strstr(d, index) != NULL;
    }

    sqlite3_finalize(st);
}


TEST(push_queries_need_no_sort_nor_scan)
{
    int       i, sorted, scanned, indexed;
    char      path[128];
    sqlite3  *raw;

    chat_store_commit(db);

    snprintf(path, sizeof(path), "%s/push.db", dir);
    CHECK(sqlite3_open(path, &raw) == SQLITE_OK);

    sorted = 0;
    scanned = 0;
    indexed = 0;

    plan(raw, chat_store_sqlite_push_sql[CHAT_SQL_PUSH_DUE], &sorted,
         &scanned, "INDEX watermarks_push_due", &indexed);
    CHECK(indexed);

    for (i = CHAT_SQL_PUSH_MESSAGES; i < CHAT_SQL_PUSH_N; i++) {
        plan(raw, chat_store_sqlite_push_sql[i], &sorted, &scanned, "-",
             &indexed);
    }

    CHECK(!sorted);
    CHECK(!scanned);

    sqlite3_close(raw);

    chat_store_begin(db);
}


static json_t *
body_of(const chat_store_msg_t *msg, const char *user)
{
    char          *text;
    size_t         len;
    json_t        *j;
    json_error_t   jerr;

    len = 0;
    text = chat_worker_push_body(msg, (chat_str_t) { user, strlen(user) },
                                 &len);
    if (text == NULL) {
        return NULL;
    }

    CHECK_EQ(len, strlen(text));
    j = json_loads(text, JSON_ALLOW_NUL, &jerr);
    free(text);

    return j;
}


TEST(body_has_every_field_and_the_push_id)
{
    json_t            *j, *want;
    chat_store_msg_t   m;
    static const char  nul[] = "a\0b";

    memset(&m, 0, sizeof(m));
    m.conv = STR(AB);
    m.seq = 57;
    m.mid = STR("01JDMID");
    m.sender = STR("alice");
    m.client_id = STR("c-17");
    m.body = (chat_str_t) { nul, 3 };
    m.ts = 1795318602103;

    j = body_of(&m, "bob");
    want = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:s%}",
                     "push_id", "01JDMID:bob", "user", "bob",
                     "mid", "01JDMID", "conv", AB, "seq", 57,
                     "from", "alice", "ts", (json_int_t) 1795318602103,
                     "body", nul, (size_t) 3);
    CHECK(j != NULL && json_equal(j, want));
    json_decref(j);
    json_decref(want);

    m.conv = STR("grp:team");
    /* the media as stored: its type and size, not its id */
    m.media = STR("{\"id\":\"0123456789abcdef0123456789abcdef\","
                  "\"mime\":\"image/png\",\"size\":3}");

    j = body_of(&m, "carol");
    CHECK(j != NULL);
    CHECK(strcmp(json_string_value(json_object_get(j, "group")), "team")
          == 0);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(j, "media"),
                                                "size")), 3);
    CHECK_EQ(json_object_size(json_object_get(j, "media")), 2);
    CHECK(json_object_get(json_object_get(j, "media"), "id") == NULL);
    CHECK(strcmp(json_string_value(json_object_get(j, "push_id")),
                 "01JDMID:carol") == 0);
    CHECK_EQ(json_object_size(j), 10);
    json_decref(j);

    /* a stored message that makes no body */
    m.media = STR("{not json");
    CHECK(body_of(&m, "carol") == NULL);
    m.conv = STR("nonsense");
    CHECK(body_of(&m, "carol") == NULL);
}


TEST(outcome_of_a_post)
{
    size_t  i;

    static const struct {
        int                         failed;
        long                        status;
        chat_worker_push_outcome_e  outcome;
    } cases[] = {
        { 0, 200, CHAT_PUSH_SENT }, { 0, 204, CHAT_PUSH_SENT },
        { 1, 0, CHAT_PUSH_RETRY }, { 1, 200, CHAT_PUSH_RETRY },
        { 0, 408, CHAT_PUSH_RETRY }, { 0, 429, CHAT_PUSH_RETRY },
        { 0, 500, CHAT_PUSH_RETRY }, { 0, 503, CHAT_PUSH_RETRY },
        { 0, 400, CHAT_PUSH_GIVE_UP }, { 0, 404, CHAT_PUSH_GIVE_UP },
        { 0, 410, CHAT_PUSH_GIVE_UP }, { 0, 301, CHAT_PUSH_GIVE_UP },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ(chat_worker_push_outcome(cases[i].failed, cases[i].status),
                 cases[i].outcome);
    }
}


TEST(backoff_doubles_to_a_minute_with_jitter)
{
    /* r = 0.5: no jitter */
    CHECK_EQ(chat_worker_push_backoff(1, 500, 0, 0.5), 1000);
    CHECK_EQ(chat_worker_push_backoff(2, 0, 0, 0.5), 2000);
    CHECK_EQ(chat_worker_push_backoff(3, 0, 0, 0.5), 4000);
    CHECK_EQ(chat_worker_push_backoff(6, 0, 0, 0.5), 32000);
    CHECK_EQ(chat_worker_push_backoff(7, 0, 0, 0.5), 60000);
    CHECK_EQ(chat_worker_push_backoff(100, 0, 0, 0.5), 60000);

    /* +-25% */
    CHECK_EQ(chat_worker_push_backoff(1, 0, 0, 0.0), 750);
    CHECK_EQ(chat_worker_push_backoff(1, 0, 0, 0.999999), 1249);
    CHECK_EQ(chat_worker_push_backoff(7, 0, 0, 0.0), 45000);

    /* Retry-After, on 429 and 503 only, and bounded */
    CHECK_EQ(chat_worker_push_backoff(1, 429, 7, 0.0), 7000);
    CHECK_EQ(chat_worker_push_backoff(4, 503, 3, 0.9), 3000);
    CHECK_EQ(chat_worker_push_backoff(1, 503, 86400, 0.5),
             CHAT_PUSH_RETRY_AFTER_MAX * 1000);
    CHECK_EQ(chat_worker_push_backoff(1, 500, 7, 0.5), 1000);
}


#define RUN_ON_STORE(name)                                                    \
    do {                                                                      \
        if (push_store() != 0) {                                              \
            fprintf(stderr, "FAIL %s: no store\n", #name);                    \
            test_failed++;                                                    \
            break;                                                            \
        }                                                                     \
        RUN(name);                                                            \
        chat_store_rollback(db);                                              \
        chat_store_close(db);                                                 \
    } while (0)


int
main(void)
{
    char  cmd[128];

    strcpy(dir, "/tmp/chat-test-push-XXXXXX");

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    RUN_ON_STORE(send_makes_a_push_due_for_the_recipient_only);
    RUN_ON_STORE(nothing_due_for_a_duplicate_or_with_push_off);
    RUN_ON_STORE(the_earliest_due_time_is_kept);
    RUN_ON_STORE(advancing_moves_pushed_seq_and_the_next_due_time);
    RUN_ON_STORE(a_delivered_receipt_leaves_nothing_to_push);
    if (!test_on_pg()) {
        RUN_ON_STORE(push_queries_need_no_sort_nor_scan);     /* SQLite's */
    }
    RUN(body_has_every_field_and_the_push_id);
    RUN(outcome_of_a_post);
    RUN(backoff_doubles_to_a_minute_with_jitter);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", dir);
    }

    return test_summary("worker_push");
}
