/*
 * Unit tests of disappearing messages in chat-worker
 * (workers/chat_worker_conv.c): who may set a conversation's ttl, the
 * conv_set row ordered in the conversation's log, its answer and event,
 * expires on the messages accepted after it and not on those before,
 * replays, and expired messages gone from pending and history at once
 * (t/unit/test_worker.h has the store and the helpers).
 */

#include "test_worker.h"
#include "chat_worker_cleanup.h"


#define TEAM  "grp:team"

/* the records' ts: a second before the clock of the reads */
#define T0    (TEST_NOW - 1000)


/* A conv_set of conv by from, from the connection "k-<from>"; ttl is the
 * JSON text of the field (NULL: none). */

static int
conv_set(const char *conv, const char *from, const char *mid,
    const char *id, const char *ttl, long long ts)
{
    char  t[64];

    t[0] = '\0';

    if (ttl != NULL) {
        snprintf(t, sizeof(t), ",\"ttl\":%s", ttl);
    }

    return apply("{\"v\":1,\"op\":\"conv_set\",\"conv\":\"%s\",\"from\":"
                 "\"%s\",\"mid\":\"%s\",\"id\":\"%s\",\"conn\":\"k-%s\","
                 "\"ts\":%lld%s}", conv, from, mid, id, from, ts, t);
}


static int
group_create(const char *members)
{
    return apply("{\"v\":1,\"op\":\"group\",\"action\":\"create\",\"group\":"
                 "\"team\",\"by\":\"alice\",\"mid\":\"G1\",\"conn\":"
                 "\"k-alice\",\"id\":\"g1\",\"ts\":%lld,\"members\":%s}",
                 (long long) T0, members);
}


static int
gsend(const char *mid, const char *from, const char *id, long long ts)
{
    return apply("{\"v\":1,\"op\":\"send\",\"mid\":\"%s\",\"conv\":\"" TEAM
                 "\",\"group\":\"team\",\"from\":\"%s\",\"conn\":\"k-%s\","
                 "\"body\":\"hello %s\",\"id\":\"%s\",\"ts\":%lld}",
                 mid, from, from, id, id, ts);
}


/* One run of the cleanup job at ms (no media directory); how many
 * messages it deleted. */

static int64_t
cleanup(int64_t ms)
{
    int64_t                expired;
    chat_worker_conf_t     conf;
    chat_worker_cleanup_t  c;

    memset(&conf, 0, sizeof(conf));
    conf.cleanup_interval = 10000;
    conf.media_grace = 3600;

    chat_worker_cleanup_init(&c, &conf, store);

    return chat_worker_cleanup_once(&c, ms, &expired, NULL) == 0 ? expired
                                                                 : -1;
}


/* The one error of a refused conv_set: code, to the setter's connection,
 * nothing stored. */

static void
check_conv_refused(const char *conv, const char *from, const char *code,
    int64_t last_before)
{
    char     who[64], channel[80];
    int64_t  last;

    CHECK_EQ(res.refused, 1);
    CHECK_EQ(out.npubs, 1);

    snprintf(channel, sizeof(channel), "chat:u:{%s}", from);
    snprintf(who, sizeof(who), "k-%s", from);
    check_error(pub(0, channel, who), code, "s1");

    CHECK_EQ(chat_store_conv_last_seq(store, (chat_str_t) { conv,
                                                            strlen(conv) },
                                      &last), 0);
    CHECK_EQ(last, last_before);
}


/* The conv event of publish i: to user, all devices, with seq, ttl, by. */

static void
check_conv_event(size_t i, const char *user, const char *conv, int seq,
    long long ttl, const char *by, long long ts)
{
    char     channel[80];
    json_t  *f;

    snprintf(channel, sizeof(channel), "chat:u:{%s}", user);
    f = pub(i, channel, "*");

    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }

    CHECK(strcmp(str(f, "type"), "conv") == 0);
    CHECK(strcmp(str(f, "conv"), conv) == 0);
    CHECK(strcmp(str(f, "event"), "ttl") == 0);
    CHECK(strcmp(str(f, "by"), by) == 0);
    CHECK_EQ(num(f, "seq"), seq);
    CHECK_EQ(num(f, "ttl"), ttl);
    CHECK_EQ(num(f, "ts"), ts);
    CHECK_EQ(json_object_size(f), 7);

    json_decref(f);
}


/* The "expires" of the msg frame of publish i (-1: none), freed. */

static long long
expires_of(size_t i, const char *channel, const char *target)
{
    json_t     *f;
    long long   e;

    f = pub(i, channel, target);
    e = json_object_get(f, "expires") ? num(f, "expires") : -1;
    json_decref(f);

    return e;
}


TEST(a_dm_member_sets_the_ttl_answered_conv_ok_and_told_to_both)
{
    json_t  *f;
    int64_t  ttl;

    CHECK_EQ(send_body("M1", "alice", "bob", "c-1", "hi", T0), 0);
    CHECK_EQ(conv_set(AB, "bob", "S1", "s1", "86400", T0 + 1),
             CHAT_WORKER_APPLIED);
    CHECK_EQ(res.refused, 0);
    CHECK_EQ(res.seq, 2);

    /* conv_ok to the setter's connection, then the event to every device
     * of both members */
    CHECK_EQ(out.npubs, 3);
    f = pub(0, "chat:u:{bob}", "k-bob");
    CHECK(f != NULL);
    CHECK(strcmp(str(f, "type"), "conv_ok") == 0);
    CHECK(strcmp(str(f, "id"), "s1") == 0);
    CHECK(strcmp(str(f, "conv"), AB) == 0);
    CHECK_EQ(num(f, "seq"), 2);
    CHECK_EQ(json_object_size(f), 4);
    json_decref(f);

    check_conv_event(1, "alice", AB, 2, 86400, "bob", T0 + 1);
    check_conv_event(2, "bob", AB, 2, 86400, "bob", T0 + 1);

    CHECK_EQ(chat_store_conv_ttl(store, S(AB), &ttl), 0);
    CHECK_EQ(ttl, 86400);

    /* an event takes a seq, but a receipt covers messages only */
    CHECK_EQ(receipt(AB, "alice", "read", 2), CHAT_WORKER_APPLIED);
    CHECK_EQ(res.seq, 2);
}


TEST(a_ttl_gives_expires_to_later_messages_only)
{
    /* before any conv_set: the msg frame of old, without expires */
    CHECK_EQ(send_msg("M1", "alice", "bob", "c-1", T0), 0);
    check_msg(pub(0, "chat:u:{alice}", "*"), "M1", 1, "alice", "bob", "c-1",
              T0);

    CHECK_EQ(conv_set(AB, "alice", "S1", "s1", "60", T0 + 1), 0);
    CHECK_EQ(res.seq, 2);

    CHECK_EQ(send_body("M2", "bob", "alice", "c-2", "after", T0 + 2), 0);
    CHECK_EQ(res.seq, 3);
    CHECK_EQ(expires_of(0, "chat:u:{alice}", "*"), T0 + 2 + 60000);
    CHECK_EQ(expires_of(1, "chat:u:{bob}", "*"), T0 + 2 + 60000);

    /* 0: forever again, for what comes after */
    CHECK_EQ(conv_set(AB, "bob", "S2", "s2", "0", T0 + 3), 0);
    CHECK_EQ(res.seq, 4);
    CHECK_EQ(send_body("M3", "alice", "bob", "c-3", "forever", T0 + 4), 0);
    CHECK_EQ(expires_of(0, "chat:u:{alice}", "*"), -1);

    /* each message kept what it was accepted with: history shows it */
    CHECK_EQ(apply("{\"v\":1,\"op\":\"history\",\"conv\":\"" AB "\","
                   "\"user\":\"bob\",\"conn\":\"k\",\"ts\":9}"), 0);
    {
        json_t  *f, *m;

        f = pub(0, "chat:u:{bob}", "k");
        m = json_object_get(f, "messages");
        CHECK_EQ(json_array_size(m), 3);
        CHECK(json_object_get(json_array_get(m, 0), "expires") == NULL);
        CHECK_EQ(num(json_array_get(m, 1), "expires"), T0 + 2 + 60000);
        CHECK(json_object_get(json_array_get(m, 2), "expires") == NULL);
        json_decref(f);
    }
}


TEST(a_group_ttl_is_an_admins_and_reaches_every_member)
{
    CHECK_EQ(group_create("[\"bob\",\"carol\"]"), 0);

    /* a member who is no admin */
    CHECK_EQ(conv_set(TEAM, "bob", "S1", "s1", "3600", T0 + 1), 0);
    check_conv_refused(TEAM, "bob", "forbidden", 1);

    /* one who is not a member, even with a bad ttl (the module's -1):
     * the right first */
    CHECK_EQ(conv_set(TEAM, "dave", "S2", "s1", "-1", T0 + 1), 0);
    check_conv_refused(TEAM, "dave", "forbidden", 1);
    CHECK_EQ(conv_set(TEAM, "bob", "S3", "s1", "-1", T0 + 1), 0);
    check_conv_refused(TEAM, "bob", "forbidden", 1);

    /* the admin: answered, and every member told, in member order */
    CHECK_EQ(conv_set(TEAM, "alice", "S4", "s1", "3600", T0 + 1), 0);
    CHECK_EQ(res.seq, 2);
    CHECK_EQ(out.npubs, 4);
    check_conv_event(1, "alice", TEAM, 2, 3600, "alice", T0 + 1);
    check_conv_event(2, "bob", TEAM, 2, 3600, "alice", T0 + 1);
    check_conv_event(3, "carol", TEAM, 2, 3600, "alice", T0 + 1);

    /* a group message after it expires */
    CHECK_EQ(gsend("M1", "carol", "c-1", T0 + 2), 0);
    CHECK_EQ(res.seq, 3);
    CHECK_EQ(expires_of(1, "chat:u:{alice}", "*"), T0 + 2 + 3600000);
}


TEST(an_unknown_group_is_not_found_and_a_bad_ttl_bad_request)
{
    CHECK_EQ(conv_set("grp:nope", "alice", "S1", "s1", "60", T0), 0);
    check_conv_refused("grp:nope", "alice", "not_found", 0);

    /* one with the right: then the ttl is looked at (the module sends
     * -1 for a ttl absent or not valid) */
    CHECK_EQ(conv_set(AB, "alice", "S2", "s1", "-1", T0), 0);
    check_conv_refused(AB, "alice", "bad_request", 0);

    CHECK_EQ(group_create("[\"bob\"]"), 0);
    CHECK_EQ(conv_set(TEAM, "alice", "S4", "s1", "-1", T0), 0);
    check_conv_refused(TEAM, "alice", "bad_request", 1);

    /* a record no module makes is refused whole */
    check_refused("{\"v\":1,\"op\":\"conv_set\",\"conv\":\"" AB "\","
                  "\"from\":\"alice\",\"mid\":\"S5\",\"conn\":\"k\","
                  "\"ts\":1,\"ttl\":7776001}", "\"ttl\"");
    check_refused("{\"v\":1,\"op\":\"conv_set\",\"conv\":\"" AB "\","
                  "\"from\":\"carol\",\"mid\":\"S5\",\"conn\":\"k\","
                  "\"ts\":1,\"ttl\":60}", "\"from\"");
    CHECK_EQ(conv_set(AB, "alice", "S6", "s1", "7776000", T0), 0);
    CHECK_EQ(res.refused, 0);
    CHECK_EQ(res.seq, 1);
}


TEST(a_retried_conv_set_is_answered_again_and_stores_nothing)
{
    int64_t  last;

    CHECK_EQ(send_body("M1", "alice", "bob", "c-1", "hi", T0), 0);
    CHECK_EQ(conv_set(AB, "alice", "S1", "s1", "60", T0 + 1), 0);
    CHECK_EQ(res.seq, 2);

    /* the same request again, the record produced again (another mid) */
    CHECK_EQ(conv_set(AB, "alice", "S1b", "s1", "60", T0 + 5), 0);
    CHECK_EQ(res.duplicate, 1);
    CHECK_EQ(res.seq, 2);
    CHECK_EQ(out.npubs, 3);
    check_conv_event(1, "alice", AB, 2, 60, "alice", T0 + 1);

    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, 2);

    /* the id of another request: refused, not answered with this one */
    CHECK_EQ(conv_set(AB, "alice", "S2", "s1", "120", T0 + 6),
             CHAT_WORKER_SKIPPED);
    CHECK_EQ(res.refused, 1);
    CHECK_EQ(send_body("M2", "alice", "bob", "s1", "x", T0 + 7),
             CHAT_WORKER_SKIPPED);
    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, 2);

    /* without an id, the mid is the dedupe key */
    CHECK_EQ(apply("{\"v\":1,\"op\":\"conv_set\",\"conv\":\"" AB "\","
                   "\"from\":\"bob\",\"mid\":\"S3\",\"conn\":\"k-bob\","
                   "\"ts\":%lld,\"ttl\":0}", (long long) T0 + 8), 0);
    CHECK_EQ(res.seq, 3);
    CHECK_EQ(apply("{\"v\":1,\"op\":\"conv_set\",\"conv\":\"" AB "\","
                   "\"from\":\"bob\",\"mid\":\"S3\",\"conn\":\"k-bob\","
                   "\"ts\":%lld,\"ttl\":0}", (long long) T0 + 8), 0);
    CHECK_EQ(res.duplicate, 1);
    CHECK_EQ(res.seq, 3);
}


TEST(expired_messages_are_gone_from_pending_and_history_at_once)
{
    json_t  *f;

    CHECK_EQ(conv_set(AB, "alice", "S1", "s1", "10", T0), 0);
    CHECK_EQ(send_body("M1", "alice", "bob", "c-1", "short", T0), 0);
    CHECK_EQ(conv_set(AB, "alice", "S2", "s2", "0", T0 + 1), 0);
    CHECK_EQ(send_body("M2", "alice", "bob", "c-2", "long", T0 + 2), 0);

    /* before M1 expires: both pending (and the two events), both in
     * history */
    now_ms = T0 + 9999;
    CHECK_EQ(apply("{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":"
                   "\"k\",\"ts\":9}"), 0);
    CHECK_EQ(out.npubs, 5);

    /* from its expires on: neither pending nor in history */
    now_ms = T0 + 10000;
    CHECK_EQ(apply("{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":"
                   "\"k\",\"ts\":9}"), 0);
    CHECK_EQ(out.npubs, 4);
    f = pub(2, "chat:u:{bob}", "k");
    CHECK(strcmp(str(f, "mid"), "M2") == 0);
    json_decref(f);

    CHECK_EQ(apply("{\"v\":1,\"op\":\"history\",\"conv\":\"" AB "\","
                   "\"user\":\"alice\",\"conn\":\"k\",\"ts\":9}"), 0);
    f = pub(0, "chat:u:{alice}", "k");
    CHECK_EQ(json_array_size(json_object_get(f, "messages")), 1);
    CHECK(strcmp(str(json_array_get(json_object_get(f, "messages"), 0),
                     "mid"), "M2") == 0);
    json_decref(f);
}


TEST(a_retried_send_of_an_expiring_message_answers_the_same_mid)
{
    json_t  *f;
    int64_t  last;

    CHECK_EQ(group_create("[\"bob\"]"), 0);
    CHECK_EQ(conv_set(TEAM, "alice", "S1", "s1", "1", T0), 0);
    CHECK_EQ(gsend("M1", "bob", "c-1", T0 + 1), 0);
    CHECK_EQ(res.seq, 3);

    /* before it expires, a retry is published again */
    CHECK_EQ(gsend("M1R", "bob", "c-1", T0 + 500), 0);
    CHECK_EQ(res.duplicate, 1);
    CHECK_EQ(out.npubs, 3);

    /* long after it expired, and after the cleanup deleted it: sent with
     * the same mid, nothing stored, nothing shown */
    now_ms = T0 + 60000;
    CHECK_EQ(chat_store_commit(store), 0);
    CHECK_EQ(cleanup(now_ms), 1);
    CHECK_EQ(chat_store_begin(store), 0);

    CHECK_EQ(gsend("M1S", "bob", "c-1", T0 + 59000), 0);
    CHECK_EQ(res.duplicate, 1);
    CHECK_EQ(out.npubs, 1);
    f = pub(0, "chat:u:{bob}", "k-bob");
    CHECK(strcmp(str(f, "type"), "sent") == 0);
    CHECK(strcmp(str(f, "mid"), "M1") == 0);
    json_decref(f);

    CHECK_EQ(chat_store_conv_last_seq(store, S(TEAM), &last), 0);
    CHECK_EQ(last, 3);

    /* a DM alike: its module answered sent, the worker shows nothing */
    now_ms = T0 + 500;
    CHECK_EQ(conv_set(AB, "alice", "S2", "s2", "1", T0), 0);
    CHECK_EQ(send_body("M2", "alice", "bob", "c-2", "brief", T0), 0);
    CHECK_EQ(out.npubs, 2);
    now_ms = T0 + 1000;
    CHECK_EQ(send_body("M2R", "alice", "bob", "c-2", "brief", T0), 0);
    CHECK_EQ(res.duplicate, 1);
    CHECK_EQ(out.npubs, 0);

    /* a record that comes after its message's expires (it waited in the
     * log longer than the ttl): stored, its seq taken, never shown */
    CHECK_EQ(send_body("M3", "bob", "alice", "c-3", "late", T0), 0);
    CHECK_EQ(res.duplicate, 0);
    CHECK_EQ(res.seq, 3);
    CHECK_EQ(out.npubs, 0);
}


TEST(conv_events_are_pending_and_in_the_log_not_in_history)
{
    json_t  *f;

    CHECK_EQ(conv_set(AB, "alice", "S1", "s1", "60", T0), 0);
    CHECK_EQ(apply("{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":"
                   "\"k\",\"ts\":9}"), 0);
    CHECK_EQ(out.npubs, 2);
    f = pub(0, "chat:u:{bob}", "k");
    CHECK(strcmp(str(f, "type"), "conv") == 0 && num(f, "ttl") == 60);
    json_decref(f);
    f = pub(1, "chat:u:{bob}", "k");
    CHECK(strcmp(str(f, "type"), "sync_done") == 0);
    json_decref(f);

    /* a client's history: messages only */
    CHECK_EQ(apply("{\"v\":1,\"op\":\"history\",\"conv\":\"" AB "\","
                   "\"user\":\"bob\",\"conn\":\"k\",\"ts\":9}"), 0);
    f = pub(0, "chat:u:{bob}", "k");
    CHECK_EQ(json_array_size(json_object_get(f, "messages")), 0);
    json_decref(f);

    /* a connection's read of a gap: the event, where its seq is */
    CHECK_EQ(apply("{\"v\":1,\"op\":\"history\",\"conv\":\"" AB "\","
                   "\"user\":\"bob\",\"conn\":\"k\",\"events\":true,"
                   "\"ts\":9}"), 0);
    f = pub(0, "chat:u:{bob}", "k");
    CHECK_EQ(json_array_size(json_object_get(f, "messages")), 1);
    CHECK(strcmp(str(json_array_get(json_object_get(f, "messages"), 0),
                     "type"), "conv") == 0);
    json_decref(f);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "conv") != 0) {
        return 1;
    }

    RUN_WITH_STORE(a_dm_member_sets_the_ttl_answered_conv_ok_and_told_to_both);
    RUN_WITH_STORE(a_ttl_gives_expires_to_later_messages_only);
    RUN_WITH_STORE(a_group_ttl_is_an_admins_and_reaches_every_member);
    RUN_WITH_STORE(an_unknown_group_is_not_found_and_a_bad_ttl_bad_request);
    RUN_WITH_STORE(a_retried_conv_set_is_answered_again_and_stores_nothing);
    RUN_WITH_STORE(expired_messages_are_gone_from_pending_and_history_at_once);
    RUN_WITH_STORE(a_retried_send_of_an_expiring_message_answers_the_same_mid);
    RUN_WITH_STORE(conv_events_are_pending_and_in_the_log_not_in_history);

    test_tmpdir_remove(test_dir);

    return test_summary("worker_conv");
}
