/*
 * Unit tests of the store's reads for the read side on its SQLite
 * backend: the conversation list (order, paging, last, unread, what is
 * not listed), a group as GET /api/groups shows it, and a conversation's
 * ttl (t/unit/test_store.h has the helpers).
 */

#include "test_store.h"


#define TEST_NOW  100000


/* Collected rows of the conversation list. */
typedef struct {
    int                    n;
    int                    stop_at;     /* answer CHAT_STORE_STOP there */
    char                   conv[16][32];
    char                   name[16][16];
    char                   last[16][16];    /* "" when none */
    int64_t                unread[16];
    int64_t                activity[16];
    int64_t                ttl[16];
    int64_t                read_seq[16];
} test_list_t;


static int
test_collect_conv(const chat_store_conv_row_t *row, void *data)
{
    int           i;
    test_list_t  *list = data;

    i = list->n++;

    if (i >= 16) {
        return -1;
    }

    snprintf(list->conv[i], 32, "%.*s", (int) row->conv.len, row->conv.s);
    snprintf(list->name[i], 16, "%.*s", (int) row->name.len, row->name.s);
    snprintf(list->last[i], 16, "%.*s",
             row->has_last ? (int) row->last.mid.len : 0,
             row->has_last ? row->last.mid.s : "");
    list->unread[i] = row->unread;
    list->activity[i] = row->activity_ts;
    list->ttl[i] = row->ttl;
    list->read_seq[i] = row->read_seq;

    return list->n == list->stop_at ? CHAT_STORE_STOP : 0;
}


static int
test_list(chat_store_t *store, const char *user, int64_t before_ts,
    int64_t limit, int64_t now, test_list_t *list)
{
    memset(list, 0, sizeof(*list));

    return chat_store_conversations(store,
                                    (chat_str_t) { user, strlen(user) },
                                    before_ts, limit, now, test_collect_conv,
                                    list);
}


/* Inserts a row of conv at seq with ts, of kind, expiring at expires. */

static int
test_put(chat_store_t *store, const char *conv, int64_t seq,
    const char *mid, const char *sender, int64_t ts, int kind,
    int64_t expires)
{
    chat_store_msg_t  m;

    m = test_msg(conv, seq, mid, sender, mid, kind ? "{}" : "hi");
    m.ts = ts;
    m.kind = kind;
    m.expires = expires;

    return chat_store_insert_message(store, &m);
}


/* A group created by creator at seq 1 (ts), creator its admin. */

static int
test_group(chat_store_t *store, const char *conv, const char *creator,
    int64_t ts)
{
    chat_str_t  c;

    c = (chat_str_t) { conv, strlen(conv) };

    if (test_put(store, conv, 1, conv + 4, creator, ts, CHAT_STORE_KIND_GROUP,
                 0) != 0
        || chat_store_group_create(store, c, S("Team"), ts - 1) != 0)
    {
        return -1;
    }

    return chat_store_member_join(store, c,
                                  (chat_str_t) { creator, strlen(creator) },
                                  1, 0);
}


TEST(list_is_most_recent_first_and_pages_by_before_ts)
{
    test_list_t    l;
    chat_store_t  *store;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(test_list(store, "alice", 0, 50, TEST_NOW, &l), CHAT_STORE_OK);
    CHECK_EQ(l.n, 0);

    CHECK_EQ(test_put(store, CONV_AB, 1, "B1", "bob", 100, 0, 0), 0);
    CHECK_EQ(test_put(store, CONV_AB, 2, "B2", "alice", 300, 0, 0), 0);
    CHECK_EQ(test_put(store, CONV_AC, 1, "C1", "carol", 200, 0, 0), 0);
    CHECK_EQ(test_put(store, CONV_AD, 1, "D1", "dave", 300, 0, 0), 0);
    CHECK_EQ(test_insert(store, "dm:bob:carol", 1, "X1", "bob", "x1"), 0);

    /* a group alice created with no message: listed at its creation */
    CHECK_EQ(test_group(store, "grp:team", "alice", 150), 0);

    /* one she left: not listed, though it has newer messages */
    CHECK_EQ(test_group(store, "grp:old", "alice", 500), 0);
    CHECK_EQ(test_put(store, "grp:old", 2, "O2", "alice", 600, 0, 0), 0);
    CHECK_EQ(chat_store_member_leave(store, S("grp:old"), S("alice"), 3), 0);

    /* a DM whose messages all expired: not listed */
    CHECK_EQ(test_put(store, "dm:alice:erin", 1, "E1", "erin", 900, 0,
                      TEST_NOW), 0);

    CHECK_EQ(test_list(store, "alice", 0, 50, TEST_NOW, &l), CHAT_STORE_OK);
    CHECK_EQ(l.n, 4);
    CHECK(strcmp(l.conv[0], CONV_AB) == 0);
    CHECK(strcmp(l.conv[1], CONV_AD) == 0);     /* a tie: conv order */
    CHECK(strcmp(l.conv[2], CONV_AC) == 0);
    CHECK(strcmp(l.conv[3], "grp:team") == 0);
    CHECK(strcmp(l.last[0], "B2") == 0);
    CHECK(strcmp(l.last[3], "") == 0);
    CHECK(strcmp(l.name[0], "") == 0);
    CHECK(strcmp(l.name[3], "Team") == 0);
    CHECK_EQ(l.activity[0], 300);
    CHECK_EQ(l.activity[2], 200);
    CHECK_EQ(l.activity[3], 150);

    /* erin's, one ms earlier, is listed */
    CHECK_EQ(test_list(store, "alice", 0, 50, TEST_NOW - 1, &l),
             CHAT_STORE_OK);
    CHECK_EQ(l.n, 5);
    CHECK(strcmp(l.conv[0], "dm:alice:erin") == 0);

    /* paging: the limit, then before_ts (exclusive) */
    CHECK_EQ(test_list(store, "alice", 0, 2, TEST_NOW, &l), CHAT_STORE_OK);
    CHECK_EQ(l.n, 2);
    CHECK(strcmp(l.conv[1], CONV_AD) == 0);

    CHECK_EQ(test_list(store, "alice", 300, 2, TEST_NOW, &l),
             CHAT_STORE_OK);
    CHECK_EQ(l.n, 2);
    CHECK(strcmp(l.conv[0], CONV_AC) == 0);
    CHECK(strcmp(l.conv[1], "grp:team") == 0);

    CHECK_EQ(test_list(store, "alice", 150, 50, TEST_NOW, &l),
             CHAT_STORE_OK);
    CHECK_EQ(l.n, 0);

    /* CHAT_STORE_STOP ends it without an error, another answer with one */
    memset(&l, 0, sizeof(l));
    l.stop_at = 1;
    CHECK_EQ(chat_store_conversations(store, S("alice"), 0, 50, TEST_NOW,
                                      test_collect_conv, &l), CHAT_STORE_OK);
    CHECK_EQ(l.n, 1);

    memset(&l, 0, sizeof(l));
    l.n = 16;
    CHECK_EQ(chat_store_conversations(store, S("alice"), 0, 50, TEST_NOW,
                                      test_collect_conv, &l),
             CHAT_STORE_ERROR);
    CHECK(strstr(chat_store_errstr(store), "stopped by the caller") != NULL);

    /* bob: his DM with alice and the one with carol */
    CHECK_EQ(test_list(store, "bob", 0, 50, TEST_NOW, &l), CHAT_STORE_OK);
    CHECK_EQ(l.n, 2);
    CHECK(strcmp(l.conv[0], "dm:bob:carol") == 0);  /* ts 1001 */

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


TEST(list_counts_unread_and_shows_the_last_live_message)
{
    test_list_t          l;
    chat_store_t        *store;
    chat_store_marks_t   mk;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    /* bob's 1, 3 (expiring at 5000) and 4; alice's own 2; bob's conv
     * event 5 and his 6, expiring at 4000 */
    CHECK_EQ(test_put(store, CONV_AB, 1, "B1", "bob", 100, 0, 0), 0);
    CHECK_EQ(test_put(store, CONV_AB, 2, "B2", "alice", 200, 0, 0), 0);
    CHECK_EQ(test_put(store, CONV_AB, 3, "B3", "bob", 300, 0, 5000), 0);
    CHECK_EQ(test_put(store, CONV_AB, 4, "B4", "bob", 400, 0, 0), 0);
    CHECK_EQ(test_put(store, CONV_AB, 5, "B5", "bob", 500,
                      CHAT_STORE_KIND_CONV, 0), 0);
    CHECK_EQ(test_put(store, CONV_AB, 6, "B6", "bob", 600, 0, 4000), 0);

    CHECK_EQ(test_list(store, "alice", 0, 50, 3999, &l), CHAT_STORE_OK);
    CHECK_EQ(l.n, 1);
    CHECK_EQ(l.unread[0], 4);
    CHECK(strcmp(l.last[0], "B6") == 0);
    CHECK_EQ(l.activity[0], 600);

    /* 6 gone: the last is 4 (not the event), activity with it */
    CHECK_EQ(test_list(store, "alice", 0, 50, 4000, &l), CHAT_STORE_OK);
    CHECK_EQ(l.unread[0], 3);
    CHECK(strcmp(l.last[0], "B4") == 0);
    CHECK_EQ(l.activity[0], 400);

    CHECK_EQ(test_list(store, "alice", 0, 50, 5000, &l), CHAT_STORE_OK);
    CHECK_EQ(l.unread[0], 2);

    /* above read_seq only; delivered changes nothing */
    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("alice"),
                                        CHAT_RECEIPT_DELIVERED, 4, &mk), 0);
    CHECK_EQ(test_list(store, "alice", 0, 50, 5000, &l), CHAT_STORE_OK);
    CHECK_EQ(l.unread[0], 2);

    CHECK_EQ(chat_store_raise_watermark(store, S(CONV_AB), S("alice"),
                                        CHAT_RECEIPT_READ, 3, &mk), 0);
    CHECK_EQ(test_list(store, "alice", 0, 50, 5000, &l), CHAT_STORE_OK);
    CHECK_EQ(l.unread[0], 1);
    CHECK_EQ(l.read_seq[0], 3);

    /* bob: alice's one message */
    CHECK_EQ(test_list(store, "bob", 0, 50, 5000, &l), CHAT_STORE_OK);
    CHECK_EQ(l.unread[0], 1);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


/* A member added later counts and sees from the event that added them,
 * and the group is listed at that event's time until a message comes. */
TEST(list_keeps_to_the_members_window)
{
    test_list_t    l;
    chat_store_t  *store;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(test_group(store, "grp:team", "bob", 100), 0);
    CHECK_EQ(test_put(store, "grp:team", 2, "T2", "bob", 200, 0, 0), 0);
    CHECK_EQ(test_put(store, "grp:team", 3, "T3", "bob", 300,
                      CHAT_STORE_KIND_GROUP, 0), 0);
    CHECK_EQ(chat_store_member_join(store, S("grp:team"), S("alice"), 0, 2),
             0);

    CHECK_EQ(test_list(store, "alice", 0, 50, TEST_NOW, &l), CHAT_STORE_OK);
    CHECK_EQ(l.n, 1);
    CHECK(strcmp(l.last[0], "") == 0);
    CHECK_EQ(l.unread[0], 0);
    CHECK_EQ(l.activity[0], 300);

    CHECK_EQ(test_put(store, "grp:team", 4, "T4", "bob", 400, 0, 0), 0);

    CHECK_EQ(test_list(store, "alice", 0, 50, TEST_NOW, &l), CHAT_STORE_OK);
    CHECK(strcmp(l.last[0], "T4") == 0);
    CHECK_EQ(l.unread[0], 1);
    CHECK_EQ(l.activity[0], 400);

    /* bob sees his group with his own last message, nothing unread */
    CHECK_EQ(test_list(store, "bob", 0, 50, TEST_NOW, &l), CHAT_STORE_OK);
    CHECK_EQ(l.n, 1);
    CHECK_EQ(l.unread[0], 0);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


TEST(group_get_tells_members_former_members_and_strangers)
{
    int64_t              ttl;
    chat_store_t        *store;
    chat_store_group_t   g;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    CHECK_EQ(test_group(store, "grp:team", "bob", 100), 0);
    CHECK_EQ(chat_store_member_join(store, S("grp:team"), S("carol"), 0, 1),
             0);
    CHECK_EQ(chat_store_member_leave(store, S("grp:team"), S("carol"), 2),
             0);

    memset(&g, 0, sizeof(g));
    CHECK_EQ(chat_store_group_get(store, S("grp:team"), S("bob"), &g),
             CHAT_STORE_OK);
    CHECK_STR(g.name.s, g.name.len, "Team");
    CHECK_EQ(g.created_ms, 99);
    CHECK_EQ(g.ttl, 0);
    CHECK_EQ(g.member, 1);
    CHECK_EQ(g.former, 0);

    CHECK_EQ(chat_store_group_get(store, S("grp:team"), S("carol"), &g),
             CHAT_STORE_OK);
    CHECK_EQ(g.member, 0);
    CHECK_EQ(g.former, 1);

    CHECK_EQ(chat_store_group_get(store, S("grp:team"), S("dave"), &g),
             CHAT_STORE_OK);
    CHECK_EQ(g.member, 0);
    CHECK_EQ(g.former, 0);

    CHECK_EQ(chat_store_group_get(store, S("grp:none"), S("bob"), &g),
             CHAT_STORE_NOT_FOUND);

    /* the name outlives the statement: copied into the handle */
    CHECK_EQ(chat_store_conv_ttl(store, S("grp:team"), &ttl), CHAT_STORE_OK);
    CHECK_EQ(chat_store_group_get(store, S("grp:team"), S("bob"), &g),
             CHAT_STORE_OK);
    CHECK_EQ(chat_store_conv_last_seq(store, S("grp:team"), &ttl),
             CHAT_STORE_OK);
    CHECK_STR(g.name.s, g.name.len, "Team");

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


TEST(conv_ttl_round_trips)
{
    int64_t              ttl;
    test_list_t          l;
    chat_store_t        *store;
    chat_store_group_t   g;

    store = test_open_begun();
    if (store == NULL) {
        CHECK(0);
        return;
    }

    /* none yet: forever; no conversation to set it on */
    ttl = -1;
    CHECK_EQ(chat_store_conv_ttl(store, S(CONV_AB), &ttl), CHAT_STORE_OK);
    CHECK_EQ(ttl, 0);
    CHECK_EQ(chat_store_conv_set_ttl(store, S(CONV_AB), 60),
             CHAT_STORE_NOT_FOUND);

    CHECK_EQ(test_put(store, CONV_AB, 1, "S1", "alice", 100,
                      CHAT_STORE_KIND_CONV, 0), 0);
    CHECK_EQ(chat_store_conv_set_ttl(store, S(CONV_AB), 86400),
             CHAT_STORE_OK);
    CHECK_EQ(chat_store_conv_ttl(store, S(CONV_AB), &ttl), CHAT_STORE_OK);
    CHECK_EQ(ttl, 86400);

    /* listed with it once a message is there */
    CHECK_EQ(test_put(store, CONV_AB, 2, "M2", "bob", 200, 0, 86400200), 0);
    CHECK_EQ(test_list(store, "alice", 0, 50, TEST_NOW, &l), CHAT_STORE_OK);
    CHECK_EQ(l.n, 1);
    CHECK_EQ(l.ttl[0], 86400);

    CHECK_EQ(chat_store_conv_set_ttl(store, S(CONV_AB), 0), CHAT_STORE_OK);
    CHECK_EQ(chat_store_conv_ttl(store, S(CONV_AB), &ttl), CHAT_STORE_OK);
    CHECK_EQ(ttl, 0);

    /* a group's, in group_get */
    CHECK_EQ(test_group(store, "grp:team", "bob", 100), 0);
    CHECK_EQ(chat_store_conv_set_ttl(store, S("grp:team"), 3600),
             CHAT_STORE_OK);
    CHECK_EQ(chat_store_group_get(store, S("grp:team"), S("bob"), &g),
             CHAT_STORE_OK);
    CHECK_EQ(g.ttl, 3600);

    /* below 0: the data's fault, nothing changed */
    chat_store_clear_error(store);
    CHECK_EQ(chat_store_conv_set_ttl(store, S("grp:team"), -1),
             CHAT_STORE_ERROR);
    CHECK_EQ(chat_store_fault(store), CHAT_STORE_FAULT_DATA);
    CHECK_EQ(chat_store_conv_ttl(store, S("grp:team"), &ttl), CHAT_STORE_OK);
    CHECK_EQ(ttl, 3600);

    CHECK_EQ(chat_store_commit(store), CHAT_STORE_OK);
    chat_store_close(store);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "store-conv") != 0) {
        return 1;
    }

    RUN(list_is_most_recent_first_and_pages_by_before_ts);
    RUN(list_counts_unread_and_shows_the_last_live_message);
    RUN(list_keeps_to_the_members_window);
    RUN(group_get_tells_members_former_members_and_strangers);
    RUN(conv_ttl_round_trips);

    test_tmpdir_remove(test_dir);

    return test_summary("store_conv");
}
