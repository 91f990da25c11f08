/*
 * Unit tests of groups in chat-worker (workers/chat_worker_group.c): the
 * membership changes and their rules, sends in a group, what a removed or
 * a late member sees, receipts per member, replays, and the group records
 * refused (t/unit/test_worker.h has the store and the helpers).
 */

#include "test_worker.h"


#define TEAM  "grp:team"


/* A group record of "team" by by, from the connection "k-<by>"; id and
 * members (JSON text) left out when NULL. */

static int
grp(const char *action, const char *by, const char *mid, const char *id,
    const char *members)
{
    char  idm[96], mem[1024];

    idm[0] = '\0';
    mem[0] = '\0';

    if (id != NULL) {
        snprintf(idm, sizeof(idm), ",\"id\":\"%s\"", id);
    }

    if (members != NULL) {
        snprintf(mem, sizeof(mem), ",\"members\":%s", members);
    }

    return apply("{\"v\":1,\"op\":\"group\",\"action\":\"%s\",\"group\":"
                 "\"team\",\"by\":\"%s\",\"mid\":\"%s\",\"conn\":\"k-%s\","
                 "\"ts\":50%s%s}", action, by, mid, by, idm, mem);
}


/* A send in "team" from the connection "k-<from>". */

static int
gsend(const char *mid, const char *from, const char *id)
{
    return apply("{\"v\":1,\"op\":\"send\",\"mid\":\"%s\",\"conv\":\"" TEAM
                 "\",\"group\":\"team\",\"from\":\"%s\",\"conn\":\"k-%s\","
                 "\"body\":\"hello %s\",\"id\":\"%s\",\"ts\":60}",
                 mid, from, from, id, id);
}


/*
 * What out holds, one line per publish: "<user> <target> <type>" and, for
 * a group frame, its event and members, for an answer its code or seq.
 */

static const char *
outs(void)
{
    size_t       i, j, n;
    json_t      *f, *v;
    chat_str_t   ch, pl, user;
    const char  *nl;
    static char  buf[16384];

    n = 0;
    buf[0] = '\0';

    for (i = 0; i < out.npubs && n < sizeof(buf) - 256; i++) {
        if (out.pubs[i].cmd != CHAT_WORKER_CMD_PUBLISH) {
            continue;    /* see member_set() */
        }

        ch = chat_worker_out_channel(&out, i);
        CHECK_EQ(chat_key_id(ch.s, ch.len, CHAT_KEY_USER_CHANNEL, &user), 0);
        pl = chat_worker_out_payload(&out, i);
        nl = memchr(pl.s, '\n', pl.len);
        f = json_loadb(nl + 1, pl.len - (size_t) (nl + 1 - pl.s), 0, NULL);

        n += snprintf(buf + n, sizeof(buf) - n, "%.*s %.*s %s",
                      (int) user.len, user.s, (int) (nl - pl.s), pl.s,
                      str(f, "type"));

        if (json_object_get(f, "event") != NULL) {
            n += snprintf(buf + n, sizeof(buf) - n, " %lld %s",
                          num(f, "seq"), str(f, "event"));

            json_array_foreach(json_object_get(f, "members"), j, v) {
                n += snprintf(buf + n, sizeof(buf) - n, "%s%s",
                              j ? "," : " ", json_string_value(v));
            }

        } else if (json_object_get(f, "code") != NULL) {
            n += snprintf(buf + n, sizeof(buf) - n, " %s", str(f, "code"));

        } else if (json_object_get(f, "seq") != NULL) {
            n += snprintf(buf + n, sizeof(buf) - n, " %lld", num(f, "seq"));
        }

        n += snprintf(buf + n, sizeof(buf) - n, "\n");
        json_decref(f);
    }

    return buf;
}


#define CHECK_OUT(lit)                                                        \
    do {                                                                      \
        const char  *got_ = outs();                                           \
        if (strcmp(got_, lit) != 0) {                                         \
            fprintf(stderr, "  out:\n%s  expected:\n%s", got_, lit);          \
        }                                                                     \
        CHECK(strcmp(got_, lit) == 0);                                        \
    } while (0)


/* The seqs that user's sync (one page) or history of the group gives,
 * comma-separated. */

static const char *
seqs_of(json_t *frames)
{
    size_t       i, n;
    json_t      *f;
    static char  buf[1024];

    n = 0;
    buf[0] = '\0';

    json_array_foreach(frames, i, f) {
        n += snprintf(buf + n, sizeof(buf) - n, "%s%lld", n ? "," : "",
                      num(f, "seq"));
    }

    return buf;
}


static const char *
pending_of(const char *user)
{
    char         ch[80];
    size_t       i;
    json_t      *frames;
    const char  *s;

    CHECK_EQ(apply("{\"v\":1,\"op\":\"sync\",\"user\":\"%s\",\"conn\":\"k\","
                   "\"ts\":1}", user), 0);

    snprintf(ch, sizeof(ch), "chat:u:{%s}", user);
    frames = json_array();

    /* the last publish is the sync_done marker */

    for (i = 0; i + 1 < out.npubs; i++) {
        json_array_append_new(frames, pub(i, ch, "k"));
    }

    s = seqs_of(frames);
    json_decref(frames);

    return s;
}


static const char *
history_of(const char *user)
{
    char         ch[80];
    json_t      *f;
    const char  *s;

    CHECK_EQ(apply("{\"v\":1,\"op\":\"history\",\"conv\":\"" TEAM "\","
                   "\"user\":\"%s\",\"conn\":\"k\",\"ts\":1}", user), 0);

    snprintf(ch, sizeof(ch), "chat:u:{%s}", user);
    f = pub(0, ch, "k");

    if (json_object_get(f, "code") != NULL) {
        json_decref(f);
        return "forbidden";
    }

    s = seqs_of(json_object_get(f, "messages"));
    json_decref(f);

    return s;
}


/* The current members as "user[*]" (admin starred), the oldest first. */

static int
roster_one(const chat_store_member_t *m, void *data)
{
    char  *buf = data;
    size_t n = strlen(buf);

    snprintf(buf + n, 512 - n, "%s%.*s%s", n ? "," : "", (int) m->user.len,
             m->user.s, m->admin ? "*" : "");

    return 0;
}


/* The member set changes of the last apply: "+user" (SADD), "-user". */

static const char *
member_set(void)
{
    size_t       i, n;
    chat_str_t   ch, pl;
    static char  buf[1024];

    n = 0;
    buf[0] = '\0';

    for (i = 0; i < out.npubs && n < sizeof(buf) - 80; i++) {
        if (out.pubs[i].cmd == CHAT_WORKER_CMD_PUBLISH) {
            continue;
        }

        ch = chat_worker_out_channel(&out, i);
        pl = chat_worker_out_payload(&out, i);

        CHECK_STR(ch.s, ch.len, "chat:gm:{team}");
        n += snprintf(buf + n, sizeof(buf) - n, "%s%c%.*s", n ? " " : "",
                      out.pubs[i].cmd == CHAT_WORKER_CMD_SADD ? '+' : '-',
                      (int) pl.len, pl.s);
    }

    return buf;
}


static const char *
roster(void)
{
    static char  buf[512];

    buf[0] = '\0';
    CHECK_EQ(chat_store_roster(store, S(TEAM), roster_one, buf), 0);

    return buf;
}


static int64_t
last_seq(void)
{
    int64_t  last;

    CHECK_EQ(chat_store_conv_last_seq(store, S(TEAM), &last), 0);

    return last;
}


TEST(create_makes_the_creator_admin_and_tells_every_member)
{
    CHECK_EQ(grp("create", "alice", "G1", "r1",
                 "[\"bob\",\"carol\",\"bob\",\"alice\"]"), 0);
    CHECK_EQ(res.seq, 1);
    CHECK_OUT("alice k-alice group_ok 1\n"
              "alice * group 1 created alice,bob,carol\n"
              "bob * group 1 created alice,bob,carol\n"
              "carol * group 1 created alice,bob,carol\n");
    CHECK(strcmp(roster(), "alice*,bob,carol") == 0);

    /* the answer and the event, byte for byte */
    CHECK_STR(chat_worker_out_payload(&out, 0).s,
              chat_worker_out_payload(&out, 0).len,
              "k-alice\n{\"type\":\"group_ok\",\"id\":\"r1\",\"group\":"
              "\"team\",\"seq\":1}");
    CHECK_STR(chat_worker_out_payload(&out, 1).s,
              chat_worker_out_payload(&out, 1).len,
              "*\n{\"type\":\"group\",\"conv\":\"grp:team\",\"seq\":1,"
              "\"event\":\"created\",\"by\":\"alice\",\"members\":[\"alice\","
              "\"bob\",\"carol\"],\"ts\":50}");

    /* again, by anyone: refused, nothing stored */
    CHECK_EQ(grp("create", "dave", "G2", "r1", "[]"), 0);
    CHECK(res.refused);
    CHECK_OUT("dave k-dave error forbidden\n");
    CHECK(strstr(chat_worker_out_payload(&out, 0).s, "the group exists")
          != NULL);
    CHECK_EQ(last_seq(), 1);
}


/* The set the module reads for group typing follows every change, and
 * each change writes the whole of it again (a Redis that lost it heals). */
TEST(member_set_in_redis_follows_changes)
{
    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\",\"carol\"]"), 0);
    CHECK(strcmp(member_set(), "+alice +bob +carol") == 0);

    CHECK_EQ(grp("add", "alice", "G2", "r2", "[\"dave\"]"), 0);
    CHECK(strcmp(member_set(), "+dave +alice +bob +carol") == 0);

    CHECK_EQ(grp("remove", "alice", "G3", "r3", "[\"carol\"]"), 0);
    CHECK(strcmp(member_set(), "-carol +alice +bob +dave") == 0);

    CHECK_EQ(grp("leave", "bob", "G4", "r4", NULL), 0);
    CHECK(strcmp(member_set(), "-bob +alice +dave") == 0);

    /* refused or no change: the set is not touched */
    CHECK_EQ(grp("add", "bob", "G5", "r5", "[\"erin\"]"), 0);
    CHECK(strcmp(member_set(), "") == 0);
    CHECK_EQ(grp("add", "alice", "G6", "r6", "[\"dave\"]"), 0);
    CHECK(strcmp(member_set(), "") == 0);
}


TEST(only_admins_add_and_remove_and_no_change_stores_nothing)
{
    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\",\"carol\"]"), 0);

    CHECK_EQ(grp("add", "bob", "G2", "r2", "[\"dave\"]"), 0);
    CHECK_OUT("bob k-bob error forbidden\n");
    CHECK_EQ(grp("add", "zed", "G3", "r2", "[\"dave\"]"), 0);
    CHECK_OUT("zed k-zed error forbidden\n");

    CHECK_EQ(grp("add", "alice", "G4", "r2", "[\"dave\",\"bob\"]"), 0);
    CHECK_EQ(res.seq, 2);
    CHECK_OUT("alice k-alice group_ok 2\n"
              "alice * group 2 added dave\n"
              "bob * group 2 added dave\n"
              "carol * group 2 added dave\n"
              "dave * group 2 added dave\n");

    /* nothing changes: the last seq, nothing stored nor told */
    CHECK_EQ(grp("add", "alice", "G5", "r3", "[\"dave\"]"), 0);
    CHECK_OUT("alice k-alice group_ok 2\n");
    CHECK_EQ(grp("remove", "alice", "G6", "r4", "[\"zed\"]"), 0);
    CHECK_OUT("alice k-alice group_ok 2\n");
    CHECK_EQ(last_seq(), 2);

    /* the removed are told too */
    CHECK_EQ(grp("remove", "alice", "G7", "r5", "[\"carol\",\"zed\"]"), 0);
    CHECK_OUT("alice k-alice group_ok 3\n"
              "alice * group 3 removed carol\n"
              "bob * group 3 removed carol\n"
              "carol * group 3 removed carol\n"
              "dave * group 3 removed carol\n");
    CHECK(strcmp(roster(), "alice*,bob,dave") == 0);

    /* an admin leaves with leave; a removed member manages nothing */
    CHECK_EQ(grp("remove", "alice", "G8", "r6", "[\"alice\"]"), 0);
    CHECK_OUT("alice k-alice error forbidden\n");
    CHECK_EQ(grp("remove", "carol", "G9", "r7", "[\"bob\"]"), 0);
    CHECK_OUT("carol k-carol error forbidden\n");
    CHECK_EQ(last_seq(), 3);
}


TEST(the_member_cap_is_too_large)
{
    group_max = 3;

    CHECK_EQ(grp("create", "alice", "G1", "r1",
                 "[\"bob\",\"carol\",\"dave\"]"), 0);
    CHECK_OUT("alice k-alice error too_large\n");
    CHECK_EQ(last_seq(), 0);

    CHECK_EQ(grp("create", "alice", "G2", "r2", "[\"bob\",\"carol\"]"), 0);
    CHECK_EQ(res.seq, 1);
    CHECK_EQ(grp("add", "alice", "G3", "r3", "[\"dave\"]"), 0);
    CHECK_OUT("alice k-alice error too_large\n");

    CHECK_EQ(grp("remove", "alice", "G4", "r4", "[\"carol\"]"), 0);
    CHECK_EQ(grp("add", "alice", "G5", "r5", "[\"dave\"]"), 0);
    CHECK_EQ(res.seq, 3);
    CHECK(strcmp(roster(), "alice*,bob,dave") == 0);
}


TEST(the_last_admin_leaving_promotes_the_oldest_member)
{
    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"carol\",\"bob\"]"), 0);
    CHECK_EQ(grp("add", "alice", "G2", "r2", "[\"aaron\"]"), 0);

    CHECK_EQ(grp("leave", "alice", "G3", "r3", NULL), 0);
    CHECK_EQ(res.seq, 3);
    CHECK_OUT("alice k-alice group_ok 3\n"
              "alice * group 3 left alice\n"
              "bob * group 3 left alice\n"
              "carol * group 3 left alice\n"
              "aaron * group 3 left alice\n");

    /* bob and carol joined together, before aaron: bob by user id */
    CHECK(strcmp(roster(), "bob*,carol,aaron") == 0);
    CHECK_EQ(grp("remove", "bob", "G4", "r4", "[\"aaron\"]"), 0);
    CHECK_EQ(res.seq, 4);

    /* a non-member cannot leave; the group outlives its members */
    CHECK_EQ(grp("leave", "alice", "G5", "r5", NULL), 0);
    CHECK_OUT("alice k-alice error forbidden\n");
    CHECK_EQ(grp("leave", "bob", "G6", "r6", NULL), 0);
    CHECK(strcmp(roster(), "carol*") == 0);
    CHECK_EQ(grp("leave", "carol", "G7", "r7", NULL), 0);
    CHECK(strcmp(roster(), "") == 0);
    CHECK_EQ(gsend("M1", "carol", "c-1"), 0);
    CHECK_OUT("carol k-carol error forbidden\n");
    CHECK_EQ(grp("create", "carol", "G8", "r8", "[]"), 0);
    CHECK_OUT("carol k-carol error forbidden\n");
}


TEST(a_send_reaches_the_members_of_its_seq)
{
    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\",\"carol\"]"), 0);

    /* before the removal: carol has it */
    CHECK_EQ(gsend("M1", "bob", "c-1"), 0);
    CHECK_EQ(res.seq, 2);
    CHECK_OUT("bob k-bob sent\n"
              "alice * msg 2\n"
              "bob * msg 2\n"
              "carol * msg 2\n");

    CHECK_EQ(grp("remove", "alice", "G2", "r2", "[\"carol\"]"), 0);

    /* after it: not live, not pending, not in her history */
    CHECK_EQ(gsend("M2", "bob", "c-2"), 0);
    CHECK_EQ(res.seq, 4);
    CHECK_OUT("bob k-bob sent\n"
              "alice * msg 4\n"
              "bob * msg 4\n");

    /* history holds messages only; pending the events too (1, 3) */
    CHECK(strcmp(pending_of("carol"), "1,2,3") == 0);
    CHECK(strcmp(history_of("carol"), "2") == 0);
    CHECK(strcmp(pending_of("alice"), "2,4") == 0);
    CHECK(strcmp(history_of("alice"), "2,4") == 0);

    /* she cannot send; one never in it cannot read it */
    CHECK_EQ(gsend("M3", "carol", "c-3"), 0);
    CHECK(res.refused);
    CHECK_OUT("carol k-carol error forbidden\n");
    CHECK_EQ(last_seq(), 4);
    CHECK(strcmp(history_of("zed"), "forbidden") == 0);
}


TEST(a_member_added_later_sees_from_the_add_on)
{
    json_t  *f;

    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\"]"), 0);
    CHECK_EQ(gsend("M1", "alice", "c-1"), 0);
    CHECK_EQ(grp("add", "alice", "G2", "r2", "[\"dave\"]"), 0);
    CHECK_EQ(gsend("M2", "bob", "c-2"), 0);
    CHECK_OUT("bob k-bob sent\n"
              "alice * msg 4\n"
              "bob * msg 4\n"
              "dave * msg 4\n");

    f = pub(3, "chat:u:{dave}", "*");
    CHECK(f != NULL && strcmp(str(f, "group"), "team") == 0);
    CHECK(f != NULL && json_object_get(f, "to") == NULL);
    CHECK(f != NULL && strcmp(str(f, "from"), "bob") == 0);
    json_decref(f);

    CHECK(strcmp(pending_of("dave"), "3,4") == 0);
    CHECK(strcmp(history_of("dave"), "4") == 0);

    /* re-added after a removal: the window starts again at the add */
    CHECK_EQ(grp("remove", "alice", "G3", "r3", "[\"dave\"]"), 0);
    CHECK_EQ(gsend("M3", "bob", "c-3"), 0);
    CHECK_EQ(grp("add", "alice", "G4", "r4", "[\"dave\"]"), 0);
    CHECK_EQ(res.seq, 7);
    CHECK(strcmp(history_of("dave"), "") == 0);
}


TEST(receipts_reach_the_senders_they_cover)
{
    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\",\"carol\"]"), 0);
    CHECK_EQ(gsend("M1", "alice", "c-1"), 0);
    CHECK_EQ(gsend("M2", "bob", "c-2"), 0);

    CHECK_EQ(receipt(TEAM, "carol", "read", 3), 0);
    CHECK_OUT("alice * receipt 3\n"
              "bob * receipt 3\n");

    /* (3, 4]: alice's only */
    CHECK_EQ(gsend("M3", "alice", "c-3"), 0);
    CHECK_EQ(receipt(TEAM, "carol", "read", 4), 0);
    CHECK_OUT("alice * receipt 4\n");

    /* bob's watermark over an event, then over alice's and his own */
    CHECK_EQ(receipt(TEAM, "bob", "delivered", 1), 0);
    CHECK(res.rose);
    CHECK_OUT("");
    CHECK_EQ(receipt(TEAM, "bob", "delivered", 3), 0);
    CHECK_OUT("alice * receipt 3\n");

    /* a former member's receipt is refused */
    CHECK_EQ(grp("remove", "alice", "G2", "r2", "[\"carol\"]"), 0);
    CHECK_EQ(receipt(TEAM, "carol", "read", 5), CHAT_WORKER_SKIPPED);

    /* in a DM too: a watermark over one's own messages tells no one */
    CHECK_EQ(send_msg("D1", "bob", "alice", "d-1", 70), 0);
    check_msg(pub(0, "chat:u:{alice}", "*"), "D1", 1, "bob", "alice", "d-1",
              70);
    CHECK_EQ(receipt(AB, "bob", "read", 1), 0);
    CHECK(res.rose);
    CHECK_OUT("");
    CHECK_EQ(receipt(AB, "alice", "read", 1), 0);
    CHECK_OUT("bob * receipt 1\n");
}


TEST(replayed_group_records_change_nothing)
{
    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\"]"), 0);
    CHECK_EQ(grp("add", "alice", "G2", NULL, "[\"carol\"]"), 0);
    CHECK_EQ(gsend("M1", "bob", "c-1"), 0);

    /* the same records again (fresh mids for those with an id) */
    CHECK_EQ(grp("create", "alice", "G9", "r1", "[\"bob\"]"), 0);
    CHECK(res.duplicate);
    CHECK_EQ(res.seq, 1);
    CHECK_EQ(grp("add", "alice", "G2", NULL, "[\"carol\"]"), 0);
    CHECK(res.duplicate);
    CHECK_OUT("alice k-alice group_ok 2\n"
              "alice * group 2 added carol\n"
              "bob * group 2 added carol\n"
              "carol * group 2 added carol\n");
    CHECK_EQ(gsend("M8", "bob", "c-1"), 0);
    CHECK(res.duplicate);
    CHECK_EQ(res.seq, 3);
    CHECK(strstr(chat_worker_out_payload(&out, 0).s, "\"mid\":\"M1\"")
          != NULL);
    CHECK_EQ(last_seq(), 3);
    CHECK(strcmp(roster(), "alice*,bob,carol") == 0);

    /* an id of a message is not one of a group request */
    CHECK_EQ(grp("leave", "bob", "G3", "c-1", NULL), CHAT_WORKER_SKIPPED);
    CHECK_OUT("bob k-bob error bad_request\n");
}


/*
 * A client id names one request: the issue-13 reproduction. A DM sent
 * with the id of a group change found the change's row, whose conv is no
 * DM: the worker failed the batch ("stored message with a bad conv") and
 * retried it forever, stopping the partition.
 */

TEST(a_dm_reusing_a_group_change_id_is_bad_request_not_a_retry)
{
    int64_t  last;

    CHECK_EQ(grp("create", "alice", "G1", "x1", "[\"bob\"]"), 0);

    CHECK_EQ(send_msg("D1", "alice", "bob", "x1", 70), CHAT_WORKER_SKIPPED);
    CHECK(res.refused);
    CHECK(strstr(res.reason, "another request") != NULL);
    CHECK_OUT("alice * error bad_request\n");
    check_error(pub(0, "chat:u:{alice}", "*"), "bad_request", "x1");
    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, 0);

    /* the conversation works, and the group's change is still answered
     * as a retry */
    CHECK_EQ(send_msg("D2", "alice", "bob", "x2", 71), 0);
    CHECK_EQ(res.seq, 1);
    CHECK_EQ(grp("create", "alice", "G9", "x1", "[\"bob\"]"), 0);
    CHECK(res.duplicate);
    CHECK_EQ(res.seq, 1);
}


TEST(a_group_send_reusing_a_dm_id_is_bad_request)
{
    CHECK_EQ(send_msg("D1", "alice", "bob", "x1", 70), 0);
    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\"]"), 0);

    CHECK_EQ(gsend("M1", "alice", "x1"), CHAT_WORKER_SKIPPED);
    CHECK_OUT("alice k-alice error bad_request\n");
    CHECK_EQ(last_seq(), 1);

    /* and a group change reusing it */
    CHECK_EQ(grp("add", "alice", "G2", "x1", "[\"carol\"]"), CHAT_WORKER_SKIPPED);
    CHECK_OUT("alice k-alice error bad_request\n");
    CHECK(strcmp(roster(), "alice*,bob") == 0);
}


TEST(a_non_member_cannot_push_a_dm_into_a_group_by_its_id)
{
    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\"]"), 0);
    CHECK_EQ(send_msg("D1", "carol", "bob", "z1", 70), 0);

    /* carol is no member: "forbidden", whatever her id names; her DM
     * reaches no member of the group */
    CHECK_EQ(gsend("M1", "carol", "z1"), 0);
    CHECK(res.refused);
    CHECK(!res.duplicate);
    CHECK_OUT("carol k-carol error forbidden\n");
    CHECK_EQ(last_seq(), 1);

    /* nor with an id that names nothing */
    CHECK_EQ(gsend("M2", "carol", "z2"), 0);
    CHECK_OUT("carol k-carol error forbidden\n");
}


TEST(another_change_with_the_same_id_is_bad_request)
{
    CHECK_EQ(grp("create", "alice", "G1", "x1", "[\"bob\"]"), 0);

    CHECK_EQ(grp("add", "alice", "G2", "x1", "[\"carol\"]"),
             CHAT_WORKER_SKIPPED);
    CHECK_OUT("alice k-alice error bad_request\n");
    CHECK(strcmp(roster(), "alice*,bob") == 0);

    /* a true retry of a send in the group is answered as before */
    CHECK_EQ(gsend("M1", "bob", "s1"), 0);
    CHECK_EQ(gsend("M7", "bob", "s1"), 0);
    CHECK(res.duplicate);
    CHECK_EQ(res.seq, 2);
    CHECK_OUT("bob k-bob sent\n"
              "alice * msg 2\n"
              "bob * msg 2\n");
}


/*
 * A row whose mid another row has (only a broken producer reuses one): a
 * send or a change with a free id but a taken mid is skipped, nothing
 * stored, nothing published, no members row changed.
 */

TEST(a_group_row_reusing_a_stored_mid_is_skipped)
{
    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\"]"), 0);
    CHECK_EQ(gsend("M1", "bob", "s1"), 0);

    CHECK_EQ(gsend("M1", "bob", "s2"), CHAT_WORKER_SKIPPED);
    CHECK(!res.duplicate);
    CHECK(strstr(res.reason, "\"mid\" belongs to another") != NULL);
    CHECK_OUT("");
    CHECK_EQ(last_seq(), 2);

    CHECK_EQ(grp("add", "alice", "G1", "r2", "[\"carol\"]"),
             CHAT_WORKER_SKIPPED);
    CHECK(strstr(res.reason, "\"mid\" belongs to another") != NULL);
    CHECK_OUT("");
    CHECK(strcmp(roster(), "alice*,bob") == 0);
    CHECK_EQ(last_seq(), 2);
}


static int
count_one(const chat_store_msg_t *msg, void *data)
{
    int  *n = data;

    *n += msg->kind == CHAT_STORE_KIND_MSG ? 1 : 1000;

    return 0;
}


TEST(events_are_never_pushed)
{
    int  n;

    CHECK_EQ(grp("create", "alice", "G1", "r1", "[\"bob\"]"), 0);
    CHECK_EQ(grp("add", "alice", "G2", "r2", "[\"carol\"]"), 0);
    CHECK_EQ(gsend("M1", "alice", "c-1"), 0);

    /* the worker schedules a push on each send (chat_worker_push_due.c) */
    CHECK_EQ(chat_store_push_schedule(store, S(TEAM), S("bob"), 100, 0), 0);

    n = 0;
    CHECK_EQ(chat_store_push_messages(store, S(TEAM), S("bob"), 10,
                                      count_one, &n), 0);
    CHECK_EQ(n, 1);
}


#define GRP  "{\"v\":1,\"op\":\"group\",\"group\":\"team\",\"by\":\"alice\"," \
             "\"mid\":\"G1\",\"conn\":\"k\",\"ts\":1,"
#define GSEND "{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"from\":\"alice\","   \
              "\"body\":\"x\",\"id\":\"c-1\",\"ts\":1,"

TEST(malformed_group_records_are_refused)
{
    char  name[130], rec[512];

    check_refused(GRP "\"members\":[]}", "\"action\"");
    check_refused(GRP "\"action\":\"join\",\"members\":[]}", "\"action\"");
    check_refused(GRP "\"action\":\"add\"}", "\"members\"");
    check_refused(GRP "\"action\":\"add\",\"members\":\"bob\"}",
                  "\"members\"");
    check_refused(GRP "\"action\":\"add\",\"members\":[\"b b\"]}",
                  "\"members\"");
    check_refused(GRP "\"action\":\"leave\",\"members\":[]}", "\"members\"");
    check_refused(GRP "\"action\":\"add\",\"members\":[],\"id\":7}",
                  "\"id\"");
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(rec, sizeof(rec), GRP "\"action\":\"create\",\"members\":[],"
             "\"name\":\"%s\"}", name);
    check_refused(rec, "\"name\"");
    check_refused("{\"v\":1,\"op\":\"group\",\"action\":\"leave\",\"group\":"
                  "\"te:am\",\"by\":\"alice\",\"mid\":\"G1\",\"conn\":\"k\","
                  "\"ts\":1}", "\"group\"");
    check_refused("{\"v\":1,\"op\":\"group\",\"action\":\"leave\",\"group\":"
                  "\"team\",\"by\":\"alice\",\"conn\":\"k\",\"ts\":1}",
                  "\"mid\"");
    check_refused("{\"v\":1,\"op\":\"group\",\"action\":\"leave\",\"group\":"
                  "\"team\",\"by\":\"alice\",\"mid\":\"G1\",\"conn\":\"*\","
                  "\"ts\":1}", "\"conn\"");

    check_refused(GSEND "\"conv\":\"grp:other\",\"group\":\"team\","
                  "\"conn\":\"k\"}", "not the conversation of \"group\"");
    check_refused(GSEND "\"conv\":\"" AB "\",\"group\":\"team\","
                  "\"conn\":\"k\"}", "not the conversation of \"group\"");
    check_refused(GSEND "\"conv\":\"" TEAM "\",\"group\":\"team\","
                  "\"to\":\"bob\",\"conn\":\"k\"}", "both");
    check_refused(GSEND "\"conv\":\"" TEAM "\",\"group\":\"team\"}",
                  "\"conn\"");

    /* 128 bytes of name is fine */
    name[128] = '\0';
    CHECK_EQ(apply(GRP "\"action\":\"create\",\"members\":[],"
                   "\"name\":\"%s\"}", name), 0);
    CHECK_EQ(res.seq, 1);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "group") != 0) {
        return 1;
    }

    RUN_WITH_STORE(create_makes_the_creator_admin_and_tells_every_member);
    RUN_WITH_STORE(member_set_in_redis_follows_changes);
    RUN_WITH_STORE(only_admins_add_and_remove_and_no_change_stores_nothing);
    RUN_WITH_STORE(the_member_cap_is_too_large);
    RUN_WITH_STORE(the_last_admin_leaving_promotes_the_oldest_member);
    RUN_WITH_STORE(a_send_reaches_the_members_of_its_seq);
    RUN_WITH_STORE(a_member_added_later_sees_from_the_add_on);
    RUN_WITH_STORE(receipts_reach_the_senders_they_cover);
    RUN_WITH_STORE(replayed_group_records_change_nothing);
    RUN_WITH_STORE(events_are_never_pushed);
    RUN_WITH_STORE(malformed_group_records_are_refused);
    RUN_WITH_STORE(a_dm_reusing_a_group_change_id_is_bad_request_not_a_retry);
    RUN_WITH_STORE(a_group_send_reusing_a_dm_id_is_bad_request);
    RUN_WITH_STORE(a_non_member_cannot_push_a_dm_into_a_group_by_its_id);
    RUN_WITH_STORE(another_change_with_the_same_id_is_bad_request);
    RUN_WITH_STORE(a_group_row_reusing_a_stored_mid_is_skipped);

    test_tmpdir_remove(test_dir);

    return test_summary("worker_group");
}
