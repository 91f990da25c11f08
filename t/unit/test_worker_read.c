/*
 * Unit tests of the records that read (workers/chat_worker_read.c): sync,
 * in pages after a cursor with its sync_more and sync_done markers, and
 * history, in pages before a seq (t/unit/test_worker.h has the store and
 * the helpers).
 */


#include "test_worker.h"


#define BIG  1500          /* a body that makes a frame of ~1.6k */
#define HUGE 5000          /* one that alone passes the least max_bytes */


/* The (conv, seq) of the msg frames published by the sync pages so far. */
static struct {
    char  conv[32];
    int   seq;
}           seen[1300];
static int  nseen;


/* A body of n letters (n < HUGE + 1). */

static const char *
body_of(size_t n)
{
    static char  body[HUGE + 1];

    memset(body, 'x', n);
    body[n] = '\0';

    return body;
}


/* Publish i is exactly payload. */

static int
payload_is(size_t i, const char *payload)
{
    chat_str_t  pl;

    if (i >= out.npubs) {
        return 0;
    }

    pl = chat_worker_out_payload(&out, i);

    return pl.len == strlen(payload) && memcmp(pl.s, payload, pl.len) == 0;
}


/*
 * n messages in dm:alice:bob, mid M<i>, client id c-<i>, ts i (i from 1):
 * alice's, or alice's and bob's in turn; body NULL: send_msg()'s.
 */

static void
send_n(int n, int in_turn, const char *body)
{
    int          i, rc;
    char         mid[16], id[16];
    const char  *from, *to;

    for (i = 1; i <= n; i++) {
        snprintf(mid, sizeof(mid), "M%d", i);
        snprintf(id, sizeof(id), "c-%d", i);
        from = (in_turn && i % 2 == 0) ? "bob" : "alice";
        to = (from[0] == 'b') ? "alice" : "bob";

        rc = body ? send_body(mid, from, to, id, body, i)
                  : send_msg(mid, from, to, id, i);

        CHECK_EQ(rc, CHAT_WORKER_APPLIED);
    }
}


/*
 * One sync page of bob on connection k after (conv, seq) (conv NULL: the
 * first page) with max_bytes (0: absent). Appends the messages published
 * to seen, checks that their frames take at most max_bytes (or are one
 * message), and returns the marker (to be freed); NULL when the answer is
 * not messages then one marker.
 */

static json_t *
sync_page(const char *conv, int seq, long long max_bytes)
{
    char        after[128], bytes[64];
    size_t      i, total;
    json_t     *f;
    chat_str_t  pl;

    after[0] = '\0';
    bytes[0] = '\0';

    if (conv != NULL) {
        snprintf(after, sizeof(after), ",\"after\":{\"conv\":\"%s\","
                 "\"seq\":%d}", conv, seq);
    }

    if (max_bytes) {
        snprintf(bytes, sizeof(bytes), ",\"max_bytes\":%lld", max_bytes);
    }

    if (apply("{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":\"k\","
              "\"ts\":9%s%s}", after, bytes) != CHAT_WORKER_APPLIED
        || out.npubs == 0)
    {
        return NULL;
    }

    total = 0;

    for (i = 0; i + 1 < out.npubs; i++) {
        f = pub(i, "chat:u:{bob}", "k");

        if (f == NULL || strcmp(str(f, "type"), "msg") != 0
            || nseen == (int) (sizeof(seen) / sizeof(seen[0])))
        {
            json_decref(f);
            return NULL;
        }

        snprintf(seen[nseen].conv, sizeof(seen[0].conv), "%s",
                 str(f, "conv"));
        seen[nseen++].seq = (int) num(f, "seq");
        json_decref(f);

        pl = chat_worker_out_payload(&out, i);
        total += pl.len - 2;                      /* "k\n" */
    }

    /* max_bytes as the worker honours it */
    max_bytes = max_bytes == 0 ? 262144 : max_bytes < 4096 ? 4096 : max_bytes;

    CHECK(out.npubs == 2 || (long long) total <= max_bytes);

    return pub(out.npubs - 1, "chat:u:{bob}", "k");
}


/* The marker is sync_more at the last message published, byte for byte. */

static void
check_sync_more(json_t *marker)
{
    char  expect[128];

    CHECK(marker != NULL && nseen > 0);
    if (marker == NULL || nseen == 0) {
        return;
    }

    snprintf(expect, sizeof(expect), "k\n{\"type\":\"sync_more\",\"conv\":"
             "\"%s\",\"seq\":%d}", seen[nseen - 1].conv,
             seen[nseen - 1].seq);

    CHECK(payload_is(out.npubs - 1, expect));
}


static void
check_sync_done(json_t *marker)
{
    CHECK(marker != NULL);
    CHECK(payload_is(out.npubs - 1, "k\n{\"type\":\"sync_done\"}"));
}


/*
 * One sync_page() after (conv, seq) with max_bytes, after which nseen is
 * n, ending with sync_more when more is set, else with sync_done.
 */

static void
check_page(const char *conv, int seq, long long max_bytes, int n, int more)
{
    json_t  *marker;

    marker = sync_page(conv, seq, max_bytes);
    CHECK_EQ(nseen, n);

    if (more) {
        check_sync_more(marker);

    } else {
        check_sync_done(marker);
    }

    json_decref(marker);
}


TEST(sync_publishes_pending_in_order_then_the_marker)
{
    size_t   i;
    json_t  *f;

    CHECK_EQ(send_msg("A1", "alice", "bob", "a1", 1), 0);
    CHECK_EQ(send_msg("C1", "carol", "bob", "c1", 2), 0);
    CHECK_EQ(send_msg("A2", "alice", "bob", "a2", 3), 0);
    CHECK_EQ(send_msg("B1", "bob", "alice", "b1", 4), 0);
    CHECK_EQ(send_msg("A3", "alice", "bob", "a3", 5), 0);
    CHECK_EQ(send_msg("C2", "carol", "bob", "c2", 6), 0);
    CHECK_EQ(receipt(AB, "bob", "delivered", 1), 0);

    CHECK_EQ(apply("{\"v\":1,\"op\":\"sync\",\"user\":\"bob\","
                   "\"conn\":\"k-1\",\"ts\":9}"), CHAT_WORKER_APPLIED);
    CHECK_EQ(out.npubs, 5);

    check_msg(pub(0, "chat:u:{bob}", "k-1"), "A2", 2, "alice", "bob", "a2", 3);
    check_msg(pub(1, "chat:u:{bob}", "k-1"), "A3", 4, "alice", "bob", "a3", 5);
    check_msg(pub(2, "chat:u:{bob}", "k-1"), "C1", 1, "carol", "bob", "c1", 2);
    check_msg(pub(3, "chat:u:{bob}", "k-1"), "C2", 2, "carol", "bob", "c2", 6);

    f = pub(4, "chat:u:{bob}", "k-1");
    CHECK(f != NULL && strcmp(str(f, "type"), "sync_done") == 0);
    CHECK(f != NULL && json_object_size(f) == 1);
    json_decref(f);

    /* alice: bob's one message */
    CHECK_EQ(apply("{\"v\":1,\"op\":\"sync\",\"user\":\"alice\","
                   "\"conn\":\"k-2\",\"ts\":9}"), CHAT_WORKER_APPLIED);
    CHECK_EQ(out.npubs, 2);
    check_msg(pub(0, "chat:u:{alice}", "k-2"), "B1", 3, "bob", "alice", "b1",
              4);

    /* nothing pending: the marker alone */
    CHECK_EQ(receipt(AB, "bob", "read", 10), 0);
    CHECK_EQ(receipt(BC, "bob", "read", 10), 0);
    CHECK_EQ(apply("{\"v\":1,\"op\":\"sync\",\"user\":\"bob\","
                   "\"conn\":\"k-1\",\"ts\":9}"), CHAT_WORKER_APPLIED);
    CHECK_EQ(out.npubs, 1);
    f = pub(0, "chat:u:{bob}", "k-1");
    CHECK(f != NULL && strcmp(str(f, "type"), "sync_done") == 0);
    json_decref(f);

    for (i = 0; i < out.npubs; i++) {
        CHECK(chat_worker_out_payload(&out, i).len > 0);
    }
}


TEST(sync_pages_through_1203_pending_in_three_conversations)
{
    int          i, page, n[3];
    char         mid[16], id[16];
    json_t      *marker;
    const char  *peer[3] = { "alice", "carol", "dave" };
    const char  *conv[3] = { AB, BC, "dm:bob:dave" };
    static int   expect[3][1300];

    n[0] = n[1] = n[2] = 0;

    /* interleaved, with bob's own messages (never pending) among them */

    for (i = 0; i < 1203; i++) {
        snprintf(mid, sizeof(mid), "M%d", i);
        snprintf(id, sizeof(id), "c-%d", i);
        CHECK_EQ(send_msg(mid, peer[i % 3], "bob", id, i), 0);
        expect[i % 3][n[i % 3]++] = (int) res.seq;

        if (i % 97 == 0) {
            snprintf(mid, sizeof(mid), "B%d", i);
            CHECK_EQ(send_msg(mid, "bob", peer[i % 3], id, i), 0);
        }
    }

    sync_limit = 500;
    nseen = 0;

    marker = sync_page(NULL, 0, 0);

    for (page = 1; marker != NULL && page < 10; page++) {
        if (strcmp(str(marker, "type"), "sync_done") == 0) {
            check_sync_done(marker);
            break;
        }

        CHECK(strcmp(str(marker, "type"), "sync_more") == 0);
        check_sync_more(marker);
        CHECK_EQ(nseen, 500 * page);

        json_decref(marker);
        marker = sync_page(seen[nseen - 1].conv, seen[nseen - 1].seq, 0);
    }

    json_decref(marker);
    CHECK_EQ(page, 3);
    CHECK_EQ(nseen, 1203);

    /* each exactly once, by conv then seq */
    for (i = 0; i < nseen && i < 1203; i++) {
        page = i < 401 ? 0 : i < 802 ? 1 : 2;
        CHECK(strcmp(seen[i].conv, conv[page]) == 0);
        CHECK_EQ(seen[i].seq, expect[page][i - 401 * page]);
    }

    /* a cursor at the very end: nothing, and done */
    nseen = 0;
    check_page("dm:bob:dave", 100000, 0, 0, 0);
}


TEST(sync_page_stops_before_max_bytes)
{
    send_n(6, 0, body_of(BIG));

    /* ~1.6k a frame: two fit in 4096, a third would not */
    nseen = 0;
    check_page(NULL, 0, 4096, 2, 1);

    /* below the least honoured, max_bytes is 4096 */
    nseen = 0;
    check_page(AB, 2, 10, 2, 1);
    CHECK(nseen == 2 && seen[0].seq == 3 && seen[1].seq == 4);

    /* the last page, short of the cap: done */
    check_page(AB, 4, 4096, 4, 0);

    /* without max_bytes (256k), all six at once */
    nseen = 0;
    check_page(NULL, 0, 0, 6, 0);
}


TEST(sync_page_holds_one_message_larger_than_max_bytes)
{
    CHECK_EQ(send_body("M1", "alice", "bob", "c-1", body_of(HUGE), 1), 0);
    CHECK_EQ(send_body("M2", "alice", "bob", "c-2", body_of(HUGE), 2), 0);

    nseen = 0;
    check_page(NULL, 0, 4096, 1, 1);
    CHECK(chat_worker_out_payload(&out, 0).len > 4096);

    check_page(AB, 1, 4096, 2, 0);
}


/*
 * A history of user for conv with the members in extra (",\"limit\":5",
 * ...); returns the one frame published to user's connection k (to be
 * freed), or NULL.
 */

static json_t *
history(const char *user, const char *conv, const char *extra)
{
    char  channel[64];

    if (apply("{\"v\":1,\"op\":\"history\",\"conv\":\"%s\",\"user\":\"%s\","
              "\"conn\":\"k\",\"ts\":9%s}", conv, user, extra)
        != CHAT_WORKER_APPLIED
        || out.npubs != 1)
    {
        fprintf(stderr, "  history: %s, %zu publishes\n",
                res.reason ? res.reason : "", out.npubs);
        return NULL;
    }

    snprintf(channel, sizeof(channel), "chat:u:{%s}", user);

    return pub(0, channel, "k");
}


/*
 * The seqs of a history frame's messages into seqs (at most 100); checks
 * that they are msg frames of conv, oldest first. Returns how many, or -1
 * when the frame is not a history of conv.
 */

static int
history_seqs(json_t *f, const char *conv, int *seqs)
{
    size_t   i;
    json_t  *m, *msgs;

    msgs = json_object_get(f, "messages");

    if (f == NULL || strcmp(str(f, "type"), "history") != 0
        || strcmp(str(f, "conv"), conv) != 0 || !json_is_array(msgs)
        || !json_is_boolean(json_object_get(f, "more"))
        || json_array_size(msgs) > 100)
    {
        return -1;
    }

    json_array_foreach(msgs, i, m) {
        seqs[i] = (int) num(m, "seq");

        CHECK(strcmp(str(m, "type"), "msg") == 0);
        CHECK(strcmp(str(m, "conv"), conv) == 0);
        CHECK(i == 0 || seqs[i] == seqs[i - 1] + 1);
    }

    return (int) json_array_size(msgs);
}


static int
more(json_t *f)
{
    return json_is_true(json_object_get(f, "more"));
}


/*
 * A history of user in dm:alice:bob (members in extra) answers n messages,
 * from seq first on, and more as given. Returns the bytes of its frame.
 */

static size_t
check_history(const char *user, const char *extra, int n, int first,
    int more_)
{
    int      seqs[100];
    size_t   size;
    json_t  *f;

    f = history(user, AB, extra);
    size = out.npubs ? chat_worker_out_payload(&out, 0).len - 2 : 0;

    CHECK_EQ(history_seqs(f, AB, seqs), n);
    CHECK(n <= 0 || seqs[0] == first);
    CHECK_EQ(more(f), more_);
    json_decref(f);

    return size;
}


TEST(history_pages_back_through_230_messages)
{
    int          i, n, page, before, seqs[100], times[231];
    char         extra[128];
    json_t      *f;
    chat_str_t   pl;
    static const char  head[] =
        "k\n{\"type\":\"history\",\"id\":\"h1\",\"conv\":\"dm:alice:bob\","
        "\"messages\":[{\"type\":\"msg\",";

    send_n(230, 1, NULL);
    memset(times, 0, sizeof(times));
    before = 0;

    for (page = 0; page < 5; page++) {
        snprintf(extra, sizeof(extra), ",\"id\":\"h1\",\"limit\":100,"
                 "\"before_seq\":%d", before);

        f = history("alice", AB, extra);
        n = history_seqs(f, AB, seqs);
        CHECK(n > 0);
        if (n <= 0) {
            json_decref(f);
            break;
        }

        pl = chat_worker_out_payload(&out, 0);
        CHECK(pl.len > sizeof(head) && memcmp(pl.s, head, sizeof(head) - 1)
                                        == 0);

        for (i = 0; i < n; i++) {
            CHECK(before == 0 || seqs[i] < before);
            times[seqs[i]]++;
        }

        /* the same frame as the live one */
        if (page == 0) {
            CHECK_EQ(seqs[0], 131);
            check_msg(json_incref(json_array_get(json_object_get(f,
                                                                 "messages"),
                                                 0)),
                      "M131", 131, "alice", "bob", "c-131", 131);
        }

        CHECK_EQ(more(f), page < 2);
        CHECK_EQ(n, page < 2 ? 100 : 30);

        before = seqs[0];
        i = more(f);
        json_decref(f);

        if (!i) {
            break;
        }
    }

    CHECK_EQ(page, 2);

    for (i = 1; i <= 230; i++) {
        CHECK_EQ(times[i], 1);
    }

    /* exactly the limit left: no more */
    check_history("bob", ",\"id\":\"h2\",\"before_seq\":101,\"limit\":100",
                  100, 1, 0);
}


TEST(history_limit_defaults_to_50_and_is_clamped)
{
    int      seqs[100];
    json_t  *f;

    send_n(230, 1, NULL);

    f = history("bob", AB, "");
    CHECK_EQ(history_seqs(f, AB, seqs), 50);
    CHECK(seqs[0] == 181 && more(f));
    CHECK(f != NULL && json_object_get(f, "id") == NULL);
    json_decref(f);

    check_history("bob", ",\"limit\":1000", 100, 131, 1);
    check_history("bob", ",\"limit\":0,\"before_seq\":7", 1, 6, 1);
    check_history("bob", ",\"limit\":-5,\"before_seq\":1", 0, 0, 0);
}


/* A history of user for conv (members in extra) answers exactly payload. */

static void
check_answer(const char *user, const char *conv, const char *extra,
    const char *payload)
{
    json_t  *f;

    f = history(user, conv, extra);

    if (f == NULL || !payload_is(0, payload)) {
        fprintf(stderr, "  %s asked %s%s: not %s\n", user, conv, extra,
                payload);
        CHECK(0);
    }

    json_decref(f);
}


#define FORBIDDEN  "\"code\":\"forbidden\",\"message\":\"not a member of " \
                   "this conversation\"}"

TEST(history_of_a_non_member_is_forbidden)
{
    CHECK_EQ(send_msg("M1", "alice", "bob", "c-1", 1), 0);

    check_answer("carol", AB, ",\"id\":\"h 1\"",
                 "k\n{\"type\":\"error\",\"id\":\"h 1\"," FORBIDDEN);

    /* without an id, none echoed */
    check_answer("carol", AB, "", "k\n{\"type\":\"error\"," FORBIDDEN);

    /* a group without a member row; a DM of others without messages */
    check_answer("bob", "grp:team", ",\"id\":\"h2\"",
                 "k\n{\"type\":\"error\",\"id\":\"h2\"," FORBIDDEN);
    check_answer("bob", AC, ",\"id\":\"h3\"",
                 "k\n{\"type\":\"error\",\"id\":\"h3\"," FORBIDDEN);
}


TEST(history_of_a_dm_without_messages_is_empty)
{
    CHECK_EQ(send_msg("M1", "alice", "bob", "c-1", 1), 0);

    check_answer("bob", BC, ",\"id\":\"h2\"",
                 "k\n{\"type\":\"history\",\"id\":\"h2\",\"conv\":"
                 "\"dm:bob:carol\",\"messages\":[],\"more\":false}");

    check_answer("carol", BC, ",\"before_seq\":9",
                 "k\n{\"type\":\"history\",\"conv\":\"dm:bob:carol\","
                 "\"messages\":[],\"more\":false}");
}


TEST(history_drops_the_oldest_to_fit_max_bytes)
{
    send_n(6, 0, body_of(BIG));

    /* ~1.6k a message: two fit in 4096, with the envelope */
    CHECK(check_history("bob", ",\"id\":\"h1\",\"max_bytes\":4096", 2, 5, 1)
          <= 4096);
    check_history("bob", ",\"id\":\"h1\",\"max_bytes\":4096,\"before_seq\":5",
                  2, 3, 1);

    /* the least honoured is 4096 */
    check_history("bob", ",\"max_bytes\":1,\"before_seq\":3", 2, 1, 0);

    /* one message at least, however large */
    CHECK_EQ(send_body("M7", "alice", "bob", "c-7", body_of(HUGE), 7), 0);

    CHECK(check_history("bob", ",\"max_bytes\":4096", 1, 7, 1) > 4096);
}


TEST(history_keeps_to_the_members_window)
{
    send_n(10, 0, NULL);

    /* bob joined after 3 and left at 7: what a group's member row holds
     * once groups come (a DM's members never leave) */
    CHECK_EQ(chat_store_commit(store), 0);

    CHECK_EQ(test_backend_sql(test_dir, "chat", "UPDATE members"
                              " SET joined_seq = 3, left_seq = 7"
                              " WHERE \"user\" = 'bob'"), 0);

    CHECK_EQ(chat_store_begin(store), 0);

    check_history("bob", "", 4, 4, 0);
    check_history("bob", ",\"before_seq\":6,\"limit\":1", 1, 5, 1);
    check_history("bob", ",\"before_seq\":5,\"limit\":1", 1, 4, 0);
    check_history("alice", "", 10, 1, 0);
}


/* The history record of bob in dm:alice:bob with the members in extra,
 * decoded into rec (to be freed); 0, or -1 when refused. */

static int
decode_history(const char *extra, chat_record_t *rec)
{
    char         buf[512];
    const char  *reason;

    snprintf(buf, sizeof(buf), "{\"v\":1,\"op\":\"history\",\"conv\":\""
             AB "\",\"user\":\"bob\",\"conn\":\"k\",\"ts\":1%s}", extra);

    return chat_record_decode(buf, strlen(buf), rec, &reason);
}


TEST(read_records_are_decoded_with_defaults_and_clamps)
{
    const char            *reason;
    chat_record_t          rec;
    static const char      sync[] =
        "{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":\"k\",\"ts\":1,"
        "\"after\":{\"conv\":\"dm:bob:dave\",\"seq\":42},\"max_bytes\":10}";

    CHECK_EQ(chat_record_decode(sync, sizeof(sync) - 1, &rec, &reason),
             0);
    CHECK_EQ(rec.op, CHAT_RECORD_OP_SYNC);
    CHECK_STR(rec.after_conv.s, rec.after_conv.len, "dm:bob:dave");
    CHECK_EQ(rec.after_seq, 42);
    CHECK_EQ(rec.max_bytes, 4096);
    chat_record_free(&rec);

    CHECK_EQ(decode_history(",\"id\":\"h1\",\"before_seq\":120,\"limit\":101,"
                            "\"max_bytes\":300000", &rec), 0);
    CHECK_EQ(rec.op, CHAT_RECORD_OP_HISTORY);
    CHECK_STR(rec.id.s, rec.id.len, "h1");
    CHECK(rec.before_seq == 120 && rec.limit == 100);
    CHECK_EQ(rec.max_bytes, 300000);
    chat_record_free(&rec);

    /* the defaults */
    CHECK_EQ(decode_history("", &rec), 0);
    CHECK(rec.id.len == 0 && rec.before_seq == 0);
    CHECK(rec.limit == 50 && rec.max_bytes == 262144);
    chat_record_free(&rec);
}


#define SYNC_HEAD  "{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":\"k\"," \
                   "\"ts\":1,"
#define HIST_HEAD  "{\"v\":1,\"op\":\"history\",\"user\":\"bob\",\"conn\":" \
                   "\"k\",\"ts\":1,"

TEST(bad_read_records_are_refused_with_a_reason)
{
    check_refused(SYNC_HEAD "\"after\":null}", "\"after\"");
    check_refused(SYNC_HEAD "\"after\":\"dm:alice:bob/3\"}", "\"after\"");
    check_refused(SYNC_HEAD "\"after\":{\"conv\":\"" AB "\"}}", "\"after\"");
    check_refused(SYNC_HEAD "\"after\":{\"conv\":\"" AB "\",\"seq\":-1}}",
                  "\"after\"");
    check_refused(SYNC_HEAD "\"after\":{\"conv\":\"" AB "\",\"seq\":\"3\"}}",
                  "\"after\"");
    check_refused(SYNC_HEAD "\"after\":{\"conv\":\"dm:bob:alice\","
                  "\"seq\":3}}", "\"after\"");
    check_refused(SYNC_HEAD "\"after\":{\"conv\":7,\"seq\":3}}", "\"after\"");
    check_refused(SYNC_HEAD "\"max_bytes\":\"4096\"}", "\"max_bytes\"");
    check_refused(SYNC_HEAD "\"max_bytes\":0}", "\"max_bytes\"");
    check_refused(SYNC_HEAD "\"max_bytes\":4096.5}", "\"max_bytes\"");
    check_refused(SYNC_HEAD "\"max_bytes\":null}", "\"max_bytes\"");

    check_refused(HIST_HEAD "\"conv\":\"dm:bob\"}", "\"conv\"");
    check_refused(HIST_HEAD "\"limit\":5}", "\"conv\"");
    check_refused(HIST_HEAD "\"conv\":\"" AB "\",\"id\":7}", "\"id\"");
    check_refused(HIST_HEAD "\"conv\":\"" AB "\",\"id\":\"\"}", "\"id\"");
    check_refused(HIST_HEAD "\"conv\":\"" AB "\",\"id\":\"a\\tb\"}",
                  "\"id\"");
    check_refused(HIST_HEAD "\"conv\":\"" AB "\",\"before_seq\":-1}",
                  "\"before_seq\"");
    check_refused(HIST_HEAD "\"conv\":\"" AB "\",\"before_seq\":\"9\"}",
                  "\"before_seq\"");
    check_refused(HIST_HEAD "\"conv\":\"" AB "\",\"limit\":1.5}",
                  "\"limit\"");
    check_refused(HIST_HEAD "\"conv\":\"" AB "\",\"limit\":null}",
                  "\"limit\"");
    check_refused(HIST_HEAD "\"conv\":\"" AB "\",\"max_bytes\":[1]}",
                  "\"max_bytes\"");
    check_refused("{\"v\":1,\"op\":\"history\",\"conv\":\"" AB "\",\"user\":"
                  "\"b b\",\"conn\":\"k\",\"ts\":1}", "\"user\"");
    check_refused("{\"v\":1,\"op\":\"history\",\"conv\":\"" AB "\",\"user\":"
                  "\"bob\",\"conn\":\"*\",\"ts\":1}", "\"conn\"");
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "read") != 0) {
        return 1;
    }

    RUN_WITH_STORE(sync_publishes_pending_in_order_then_the_marker);
    RUN_WITH_STORE(sync_pages_through_1203_pending_in_three_conversations);
    RUN_WITH_STORE(sync_page_stops_before_max_bytes);
    RUN_WITH_STORE(sync_page_holds_one_message_larger_than_max_bytes);
    RUN_WITH_STORE(history_pages_back_through_230_messages);
    RUN_WITH_STORE(history_limit_defaults_to_50_and_is_clamped);
    RUN_WITH_STORE(history_of_a_non_member_is_forbidden);
    RUN_WITH_STORE(history_of_a_dm_without_messages_is_empty);
    RUN_WITH_STORE(history_drops_the_oldest_to_fit_max_bytes);
    RUN_WITH_STORE(history_keeps_to_the_members_window);
    RUN_WITH_STORE(read_records_are_decoded_with_defaults_and_clamps);
    RUN_WITH_STORE(bad_read_records_are_refused_with_a_reason);

    test_tmpdir_remove(test_dir);

    return test_summary("worker_read");
}
