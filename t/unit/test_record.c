/*
 * The contract between the module and the chat-workers (common/): every
 * record kind encoded to the bytes the module has always produced, then
 * decoded back to the same fields; bad records refused with their reason;
 * the shared frames built and parsed back; the sync markers built and
 * recognized by their type, not their bytes; the keys and the payload of
 * a user's channel.
 */

#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "chat_cid.h"
#include "chat_frame.h"
#include "chat_keys.h"
#include "chat_record.h"


#define S(lit)   ((chat_str_t) { (lit), sizeof(lit) - 1 })
#define SEQ(a, lit)  ((a).len == sizeof(lit) - 1                             \
                      && memcmp((a).s, (lit), (a).len) == 0)

#define MID1  "01J00000000000000000000001"
#define MID2  "01J00000000000000000000002"
#define MID3  "01J00000000000000000000003"
#define MEDIA_ID  "0123456789abcdef0123456789abcdef"


/* The bytes of an encoded record (its mid set), then decoded into out
 * (the caller frees it); 0 when both went through and the bytes are
 * expect. */

static int
round_trip(const chat_record_t *in, const char *mid, const char *expect,
    chat_record_t *out)
{
    int          rc;
    char        *bytes;
    size_t       len;
    json_t      *rec;
    const char  *reason;

    rc = -1;
    memset(out, 0, sizeof(*out));

    rec = chat_record_encode(in);
    if (rec == NULL) {
        return -1;
    }

    if (mid != NULL
        && chat_record_set_mid(rec, (chat_str_t) { mid, strlen(mid) }) != 0)
    {
        json_decref(rec);
        return -1;
    }

    bytes = chat_record_dump(rec, &len);
    json_decref(rec);

    if (bytes == NULL) {
        return -1;
    }

    if (len != strlen(expect) || memcmp(bytes, expect, len) != 0) {
        fprintf(stderr, "  got    %.*s\n  wanted %s\n", (int) len, bytes,
                expect);

    } else if (chat_record_decode(bytes, len, out, &reason) != 0) {
        fprintf(stderr, "  refused: %s\n", reason);

    } else {
        rc = 0;
    }

    /* the decoded strings point into out->root, not into bytes */
    free(bytes);

    return rc;
}


static void
record_init(chat_record_t *rec, chat_record_op_e op, int64_t ts)
{
    memset(rec, 0, sizeof(*rec));
    rec->op = op;
    rec->ts = ts;
}


TEST(dm_send_with_media_round_trips)
{
    chat_record_t  in, out;

    record_init(&in, CHAT_RECORD_OP_SEND, 1700000000123);
    in.conv = S("dm:alice:bob");
    in.from = S("alice");
    in.to = S("bob");
    in.body = S("hi \"x\"");
    in.id = S("c-1");
    in.has_media = 1;
    in.media_id = S(MEDIA_ID);
    in.conn = S("k-1");            /* its worker answers it */

    CHECK_EQ(round_trip(&in, MID1,
        "{\"to\":\"bob\",\"conn\":\"k-1\",\"v\":1,\"op\":\"send\",\"conv\":\"dm:alice:bob\","
        "\"from\":\"alice\",\"body\":\"hi \\\"x\\\"\",\"id\":\"c-1\","
        "\"ts\":1700000000123,\"media\":{\"id\":\"" MEDIA_ID "\"},"
        "\"mid\":\"" MID1 "\"}",
        &out), 0);

    CHECK_EQ(out.op, CHAT_RECORD_OP_SEND);
    CHECK_EQ(out.ts, 1700000000123);
    CHECK(SEQ(out.conv, "dm:alice:bob"));
    CHECK_EQ(out.conv_parsed.kind, CHAT_CONV_DM);
    CHECK(SEQ(out.mid, MID1));
    CHECK(SEQ(out.from, "alice"));
    CHECK(SEQ(out.to, "bob"));
    CHECK(SEQ(out.conn, "k-1"));
    CHECK_EQ(out.group.len, 0);
    CHECK(SEQ(out.body, "hi \"x\""));
    CHECK(SEQ(out.id, "c-1"));
    CHECK_EQ(out.has_media, 1);
    CHECK(SEQ(out.media_id, MEDIA_ID));
    chat_record_free(&out);
}


/* the mid may also be in the struct: the same bytes */

TEST(group_send_round_trips)
{
    chat_record_t  in, out;

    record_init(&in, CHAT_RECORD_OP_SEND, 5);
    in.conv = S("grp:team");
    in.from = S("alice");
    in.group = S("team");
    in.conn = S("k-1");
    in.body = S("yo");
    in.id = S("g-1");
    in.mid = S(MID2);

    CHECK_EQ(round_trip(&in, NULL,
        "{\"group\":\"team\",\"conn\":\"k-1\",\"v\":1,\"op\":\"send\","
        "\"conv\":\"grp:team\",\"from\":\"alice\",\"body\":\"yo\","
        "\"id\":\"g-1\",\"ts\":5,\"mid\":\"" MID2 "\"}", &out), 0);

    CHECK_EQ(out.conv_parsed.kind, CHAT_CONV_GROUP);
    CHECK(SEQ(out.group, "team"));
    CHECK(SEQ(out.conn, "k-1"));
    CHECK(SEQ(out.mid, MID2));
    CHECK_EQ(out.to.len, 0);
    CHECK_EQ(out.has_media, 0);
    CHECK_EQ(out.media_id.len, 0);
    chat_record_free(&out);
}


TEST(group_changes_round_trip)
{
    json_t         *members;
    chat_record_t   in, out;

    members = json_pack("[s,s]", "bob", "carol");

    record_init(&in, CHAT_RECORD_OP_GROUP, 6);
    in.action = CHAT_RECORD_GROUP_CREATE;
    in.group = S("team");
    in.by = S("alice");
    in.conn = S("k-1");
    in.id = S("gc-1");
    in.name = S("The team");
    in.members = members;

    CHECK_EQ(round_trip(&in, MID3,
        "{\"v\":1,\"op\":\"group\",\"action\":\"create\",\"group\":\"team\","
        "\"by\":\"alice\",\"conn\":\"k-1\",\"ts\":6,\"id\":\"gc-1\","
        "\"name\":\"The team\",\"members\":[\"bob\",\"carol\"],"
        "\"mid\":\"" MID3 "\"}", &out), 0);

    CHECK_EQ(out.action, CHAT_RECORD_GROUP_CREATE);
    CHECK(SEQ(out.conv, "grp:team"));
    CHECK(SEQ(out.by, "alice"));
    CHECK(SEQ(out.name, "The team"));
    CHECK(json_equal(out.members, members));
    CHECK(SEQ(out.client_id, "gc-1"));
    chat_record_free(&out);
    json_decref(members);

    /* leave: no members; without an id, the dedupe key is "~" and the mid */
    record_init(&in, CHAT_RECORD_OP_GROUP, 7);
    in.action = CHAT_RECORD_GROUP_LEAVE;
    in.group = S("team");
    in.by = S("bob");
    in.conn = S("k-2");

    CHECK_EQ(round_trip(&in, MID1,
        "{\"v\":1,\"op\":\"group\",\"action\":\"leave\",\"group\":\"team\","
        "\"by\":\"bob\",\"conn\":\"k-2\",\"ts\":7,\"mid\":\"" MID1 "\"}",
        &out), 0);

    CHECK_EQ(out.action, CHAT_RECORD_GROUP_LEAVE);
    CHECK(out.members == NULL);
    CHECK_EQ(out.id.len, 0);
    CHECK(SEQ(out.client_id, "~" MID1));
    CHECK(strcmp(chat_record_group_event[out.action], "left") == 0);
    chat_record_free(&out);
}


/* a conv_set: keyed by its conv, answered on conn, deduped like a group
 * change; its ttl may be CHAT_PROTO_TTL_BAD (answered once the setter's
 * right is checked) */

TEST(conv_set_round_trips)
{
    chat_record_t  in, out;

    record_init(&in, CHAT_RECORD_OP_CONV_SET, 12);
    in.conv = S("dm:alice:bob");
    in.from = S("bob");
    in.ttl = 86400;
    in.id = S("s1");
    in.conn = S("k-2");

    CHECK_EQ(round_trip(&in, MID2,
        "{\"v\":1,\"op\":\"conv_set\",\"conv\":\"dm:alice:bob\","
        "\"from\":\"bob\",\"ttl\":86400,\"id\":\"s1\",\"conn\":\"k-2\","
        "\"ts\":12,\"mid\":\"" MID2 "\"}", &out), 0);

    CHECK_EQ(out.op, CHAT_RECORD_OP_CONV_SET);
    CHECK(SEQ(out.conv, "dm:alice:bob"));
    CHECK_EQ(out.conv_parsed.kind, CHAT_CONV_DM);
    CHECK(SEQ(out.from, "bob"));
    CHECK_EQ(out.ttl, 86400);
    CHECK(SEQ(out.id, "s1"));
    CHECK(SEQ(out.conn, "k-2"));
    CHECK(SEQ(out.mid, MID2));
    CHECK(SEQ(out.client_id, "s1"));
    chat_record_free(&out);

    /* a group's, without an id, its ttl bad, the mid in the struct */
    record_init(&in, CHAT_RECORD_OP_CONV_SET, 13);
    in.conv = S("grp:team");
    in.from = S("carol");
    in.ttl = CHAT_PROTO_TTL_BAD;
    in.conn = S("k-3");
    in.mid = S(MID3);

    CHECK_EQ(round_trip(&in, NULL,
        "{\"v\":1,\"op\":\"conv_set\",\"conv\":\"grp:team\","
        "\"from\":\"carol\",\"ttl\":-1,\"conn\":\"k-3\",\"ts\":13,"
        "\"mid\":\"" MID3 "\"}", &out), 0);

    CHECK_EQ(out.conv_parsed.kind, CHAT_CONV_GROUP);
    CHECK_EQ(out.ttl, CHAT_PROTO_TTL_BAD);
    CHECK_EQ(out.id.len, 0);
    CHECK(SEQ(out.client_id, "~" MID3));
    chat_record_free(&out);

    /* 0 (forever) and the longest */
    in.ttl = 0;
    CHECK_EQ(round_trip(&in, NULL,
        "{\"v\":1,\"op\":\"conv_set\",\"conv\":\"grp:team\","
        "\"from\":\"carol\",\"ttl\":0,\"conn\":\"k-3\",\"ts\":13,"
        "\"mid\":\"" MID3 "\"}", &out), 0);
    CHECK_EQ(out.ttl, 0);
    chat_record_free(&out);

    in.ttl = CHAT_PROTO_MAX_TTL;
    CHECK_EQ(round_trip(&in, NULL,
        "{\"v\":1,\"op\":\"conv_set\",\"conv\":\"grp:team\","
        "\"from\":\"carol\",\"ttl\":7776000,\"conn\":\"k-3\",\"ts\":13,"
        "\"mid\":\"" MID3 "\"}", &out), 0);
    CHECK_EQ(out.ttl, CHAT_PROTO_MAX_TTL);
    chat_record_free(&out);
}


/* a receipt, a sync and a history carry no mid: setting one adds none */

TEST(receipt_round_trips)
{
    chat_record_t  in, out;

    record_init(&in, CHAT_RECORD_OP_RECEIPT, 8);
    in.conv = S("dm:alice:bob");
    in.by = S("bob");
    in.conn = S("k-2");
    in.status = CHAT_RECEIPT_READ;
    in.seq = 42;
    in.id = S("r-1");

    CHECK_EQ(round_trip(&in, MID1,
        "{\"v\":1,\"op\":\"receipt\",\"conv\":\"dm:alice:bob\",\"by\":\"bob\","
        "\"conn\":\"k-2\",\"status\":\"read\",\"seq\":42,\"ts\":8,"
        "\"id\":\"r-1\"}", &out), 0);

    CHECK_EQ(out.status, CHAT_RECEIPT_READ);
    CHECK_EQ(out.seq, 42);
    CHECK(SEQ(out.by, "bob"));
    CHECK(SEQ(out.conn, "k-2"));
    CHECK(SEQ(out.id, "r-1"));
    CHECK_EQ(out.mid.len, 0);
    chat_record_free(&out);

    in.status = CHAT_RECEIPT_DELIVERED;
    in.id = S("");

    CHECK_EQ(round_trip(&in, NULL,
        "{\"v\":1,\"op\":\"receipt\",\"conv\":\"dm:alice:bob\",\"by\":\"bob\","
        "\"conn\":\"k-2\",\"status\":\"delivered\",\"seq\":42,\"ts\":8}",
        &out), 0);
    CHECK_EQ(out.status, CHAT_RECEIPT_DELIVERED);
    CHECK_EQ(out.id.len, 0);
    chat_record_free(&out);
}


TEST(sync_round_trips)
{
    char           key[CHAT_RECORD_KEY_MAX];
    size_t         n;
    chat_record_t  in, out;

    record_init(&in, CHAT_RECORD_OP_SYNC, 9);
    in.user = S("bob");
    in.conn = S("k-2");
    in.max_bytes = 131072;

    CHECK_EQ(round_trip(&in, NULL,
        "{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":\"k-2\","
        "\"max_bytes\":131072,\"ts\":9}", &out), 0);
    CHECK(SEQ(out.user, "bob"));
    CHECK_EQ(out.max_bytes, 131072);
    CHECK_EQ(out.after_conv.len, 0);
    CHECK_EQ(out.after_seq, 0);
    chat_record_free(&out);

    in.after_conv = S("grp:team");
    in.after_seq = 17;

    CHECK_EQ(round_trip(&in, MID1,
        "{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":\"k-2\","
        "\"max_bytes\":131072,\"ts\":9,"
        "\"after\":{\"conv\":\"grp:team\",\"seq\":17}}", &out), 0);
    CHECK(SEQ(out.after_conv, "grp:team"));
    CHECK_EQ(out.after_seq, 17);
    chat_record_free(&out);

    /* the user's worker answers it: the key names the user */
    n = chat_record_user_key(key, S("bob"));
    CHECK_STR(key, n, "user:bob");
}


TEST(history_round_trips)
{
    chat_record_t  in, out;

    record_init(&in, CHAT_RECORD_OP_HISTORY, 10);
    in.conv = S("dm:alice:bob");
    in.user = S("alice");
    in.conn = S("k-1");
    in.before_seq = 30;
    in.limit = 20;
    in.max_bytes = 131072;
    in.id = S("~gap:3");
    in.events = 1;                 /* a gap's read: the log */

    CHECK_EQ(round_trip(&in, NULL,
        "{\"v\":1,\"op\":\"history\",\"conv\":\"dm:alice:bob\","
        "\"user\":\"alice\",\"conn\":\"k-1\",\"before_seq\":30,\"limit\":20,"
        "\"events\":true,\"max_bytes\":131072,\"ts\":10,\"id\":\"~gap:3\"}",
        &out), 0);

    CHECK(SEQ(out.conv, "dm:alice:bob"));
    CHECK(SEQ(out.user, "alice"));
    CHECK_EQ(out.before_seq, 30);
    CHECK_EQ(out.limit, 20);
    CHECK_EQ(out.events, 1);
    CHECK(SEQ(out.id, "~gap:3"));
    chat_record_free(&out);

    /* a client's: messages only, and no "events" on the wire */
    in.events = 0;
    in.id = S("h1");
    CHECK_EQ(round_trip(&in, NULL,
        "{\"v\":1,\"op\":\"history\",\"conv\":\"dm:alice:bob\","
        "\"user\":\"alice\",\"conn\":\"k-1\",\"before_seq\":30,\"limit\":20,"
        "\"max_bytes\":131072,\"ts\":10,\"id\":\"h1\"}", &out), 0);
    CHECK_EQ(out.events, 0);
    chat_record_free(&out);
}


/* what a client id's reservation says the request was */

TEST(what_a_record_is)
{
    json_t         *rec;
    chat_str_t      op, action;
    chat_record_t   in;

    record_init(&in, CHAT_RECORD_OP_GROUP, 1);
    in.action = CHAT_RECORD_GROUP_ADD;
    in.group = S("team");
    in.by = S("alice");
    in.conn = S("k");

    rec = chat_record_encode(&in);
    CHECK(rec != NULL);
    chat_record_what(rec, &op, &action);
    CHECK(SEQ(op, "group"));
    CHECK(SEQ(action, "add"));
    json_decref(rec);

    record_init(&in, CHAT_RECORD_OP_SEND, 1);
    in.conv = S("dm:alice:bob");
    in.from = S("alice");
    in.to = S("bob");
    in.id = S("c");

    rec = chat_record_encode(&in);
    CHECK(rec != NULL);
    chat_record_what(rec, &op, &action);
    CHECK(SEQ(op, "send"));
    CHECK_EQ(action.len, 0);
    json_decref(rec);

    record_init(&in, CHAT_RECORD_OP_CONV_SET, 1);
    in.conv = S("dm:alice:bob");
    in.from = S("alice");
    in.conn = S("k");

    rec = chat_record_encode(&in);
    CHECK(rec != NULL);
    chat_record_what(rec, &op, &action);
    CHECK(SEQ(op, "conv_set"));
    CHECK_EQ(action.len, 0);
    CHECK_EQ(chat_record_set_mid(rec, S(MID1)), 0);
    CHECK(SEQ(((chat_str_t) { json_string_value(json_object_get(rec, "mid")),
                              json_string_length(json_object_get(rec, "mid"))
                            }), MID1));
    json_decref(rec);

    in.op = (chat_record_op_e) 0;
    CHECK(chat_record_encode(&in) == NULL);
}


/* Refused, and for exactly this reason. */

static void
check_reason(const char *record, const char *why)
{
    const char     *reason;
    chat_record_t   rec;

    reason = NULL;

    if (chat_record_decode(record, strlen(record), &rec, &reason) != -1
        || reason == NULL || strcmp(reason, why) != 0)
    {
        fprintf(stderr, "  %s\n  gave %s, expected %s\n", record,
                reason ? reason : "(accepted)", why);
        test_case_failed = 1;
    }

    chat_record_free(&rec);
}


#define HEAD     "{\"v\":1,\"ts\":1,"
#define DM       "\"mid\":\"M1\",\"conv\":\"dm:alice:bob\",\"from\":\"alice\","
#define REST     "\"body\":\"x\",\"id\":\"c-1\"}"
#define REPLY    "\"user\":\"bob\",\"conn\":\"k\""
#define CONV_SET "\"op\":\"conv_set\",\"conv\":\"dm:alice:bob\","
#define GROUP    "\"op\":\"group\",\"group\":\"team\",\"by\":\"alice\","     \
                 "\"mid\":\"M1\",\"conn\":\"k\","

TEST(bad_records_are_refused_with_their_reason)
{
    check_reason("", "empty record");
    check_reason("{\"v\":1", "malformed JSON");
    check_reason("{\"v\":1,\"v\":1}", "malformed JSON");
    check_reason("[1]", "not a JSON object");
    check_reason("{\"v\":2,\"ts\":1,\"op\":\"sync\"}", "\"v\" is not 1");
    check_reason("{\"v\":1,\"op\":\"sync\"}", "\"ts\" is not an integer >= 0");
    check_reason("{\"v\":1,\"ts\":-1}", "\"ts\" is not an integer >= 0");
    check_reason(HEAD "\"op\":7}", "\"op\" is missing");
    check_reason(HEAD "\"op\":\"drop\"}", "unknown \"op\"");

    /* send */
    check_reason(HEAD "\"op\":\"send\",\"mid\":\"M-1\"}",
                 "\"mid\" is not a valid message id");
    check_reason(HEAD "\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"x\"}",
                 "\"conv\" is not a valid conversation id");
    check_reason(HEAD "\"op\":\"send\",\"mid\":\"M1\","
                 "\"conv\":\"dm:alice:bob\",\"from\":\"a b\"}",
                 "\"from\" is not a valid user id");
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":1," REST,
                 "\"to\" is not a valid user id");
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":\"alice\"," REST,
                 "\"to\" is the sender");
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":\"carol\"," REST,
                 "\"conv\" is not the conversation of \"from\" and \"to\"");
    check_reason(HEAD "\"op\":\"send\"," DM "\"group\":\"a b\"," REST,
                 "\"group\" is not a valid group id");
    check_reason(HEAD "\"op\":\"send\"," DM "\"group\":\"t\",\"to\":\"bob\","
                 REST, "both \"to\" and \"group\"");
    check_reason(HEAD "\"op\":\"send\"," DM "\"group\":\"t\"," REST,
                 "\"conv\" is not the conversation of \"group\"");
    check_reason(HEAD "\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"grp:t\","
                 "\"from\":\"alice\",\"group\":\"t\",\"conn\":\"*\"," REST,
                 "\"conn\" is not a valid connection id");
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":\"bob\",\"body\":1}",
                 "\"body\" is not a string");
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":\"bob\",\"body\":\"x\","
                 "\"id\":\"\"}", "\"id\" is not a valid client id");
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":\"bob\",\"body\":\"x\","
                 "\"id\":\"c\",\"media\":{\"url\":\"u\",\"mime\":\"m\"}}",
                 "\"media\" is not an object with a media id");
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":\"bob\",\"body\":\"x\","
                 "\"id\":\"c\",\"media\":{\"id\":\"0123456789ABCDEF"
                 "0123456789abcdef\"}}",
                 "\"media\" is not an object with a media id");
    /* a DM names its conn only with media: its worker answers it then */
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":\"bob\",\"conn\":\"k1\","
                 "\"body\":\"x\",\"id\":\"c\"}",
                 "\"conn\" on a DM send without media");
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":\"bob\",\"conn\":\"*\","
                 "\"body\":\"x\",\"id\":\"c\",\"media\":{\"id\":\""
                 "0123456789abcdef0123456789abcdef\"}}",
                 "\"conn\" is not a valid connection id");
    check_reason(HEAD "\"op\":\"send\"," DM "\"to\":\"bob\",\"body\":\"x\","
                 "\"id\":\"c\",\"media\":\"" MEDIA_ID "\"}",
                 "\"media\" is not an object with a media id");

    /* receipt */
    check_reason(HEAD "\"op\":\"receipt\",\"conv\":\"dm:alice:bob\","
                 "\"by\":\"\"}", "\"by\" is not a valid user id");
    check_reason(HEAD "\"op\":\"receipt\",\"conv\":\"dm:alice:bob\","
                 "\"by\":\"bob\",\"status\":\"seen\"}",
                 "\"status\" is not \"delivered\" or \"read\"");
    check_reason(HEAD "\"op\":\"receipt\",\"conv\":\"dm:alice:bob\","
                 "\"by\":\"bob\",\"status\":\"read\",\"seq\":0}",
                 "\"seq\" is not an integer >= 1");
    check_reason(HEAD "\"op\":\"receipt\",\"conv\":\"dm:alice:bob\","
                 "\"by\":\"bob\",\"status\":\"read\",\"seq\":1,\"id\":7}",
                 "\"id\" is not a valid client id");

    /* sync, history */
    check_reason(HEAD "\"op\":\"sync\",\"user\":\"\"}",
                 "\"user\" is not a valid user id");
    check_reason(HEAD "\"op\":\"sync\",\"user\":\"bob\",\"conn\":\"a\\nb\"}",
                 "\"conn\" is not a valid connection id");
    check_reason(HEAD "\"op\":\"sync\"," REPLY ",\"max_bytes\":0}",
                 "\"max_bytes\" is not an integer >= 1");
    check_reason(HEAD "\"op\":\"sync\"," REPLY ",\"after\":{\"seq\":1}}",
                 "\"after\" is not an object with a conv and a seq >= 0");
    check_reason(HEAD "\"op\":\"history\",\"conv\":\"dm:alice:bob\"," REPLY
                 ",\"before_seq\":-1}",
                 "\"before_seq\" is not an integer >= 0");
    check_reason(HEAD "\"op\":\"history\",\"conv\":\"dm:alice:bob\"," REPLY
                 ",\"limit\":\"9\"}", "\"limit\" is not an integer");

    /* group */
    check_reason(HEAD "\"op\":\"group\",\"action\":\"rename\"}",
                 "\"action\" is not create, add, remove or leave");
    check_reason(HEAD "\"op\":\"group\",\"action\":\"add\",\"group\":\"\"}",
                 "\"group\" is not a valid group id");
    check_reason(HEAD GROUP "\"action\":\"leave\",\"members\":[]}",
                 "\"members\" in a leave");
    check_reason(HEAD GROUP "\"action\":\"add\",\"members\":[\"a b\"]}",
                 "\"members\" is not an array of user ids");
    check_reason(HEAD GROUP "\"action\":\"add\",\"members\":[],"
                 "\"name\":false}",
                 "\"name\" is not a string of at most 128 bytes");

    /* conv_set */
    check_reason(HEAD "\"op\":\"conv_set\",\"conv\":\"dm:bob:alice\"}",
                 "\"conv\" is not a valid conversation id");
    check_reason(HEAD CONV_SET "\"from\":\"\",\"ttl\":1}",
                 "\"from\" is not a valid user id");
    check_reason(HEAD CONV_SET "\"from\":\"carol\",\"ttl\":1}",
                 "\"from\" is not a member of the DM \"conv\"");
    check_reason(HEAD CONV_SET "\"from\":\"bob\"}",
                 "\"ttl\" is not an integer -1..7776000");
    check_reason(HEAD CONV_SET "\"from\":\"bob\",\"ttl\":-2}",
                 "\"ttl\" is not an integer -1..7776000");
    check_reason(HEAD CONV_SET "\"from\":\"bob\",\"ttl\":7776001}",
                 "\"ttl\" is not an integer -1..7776000");
    check_reason(HEAD CONV_SET "\"from\":\"bob\",\"ttl\":1.5}",
                 "\"ttl\" is not an integer -1..7776000");
    check_reason(HEAD CONV_SET "\"from\":\"bob\",\"ttl\":1}",
                 "\"mid\" is not a valid message id");
    check_reason(HEAD CONV_SET "\"from\":\"bob\",\"ttl\":1,\"mid\":\"M1\"}",
                 "\"conn\" is not a valid connection id");
    check_reason(HEAD CONV_SET "\"from\":\"bob\",\"ttl\":1,\"mid\":\"M1\","
                 "\"conn\":\"k\",\"id\":\"\"}",
                 "\"id\" is not a valid client id");
}


/* sizes are clamped to what the worker honours */

TEST(decoded_limits_are_clamped)
{
    const char     *reason;
    const char     *r;
    chat_record_t   rec;

    r = HEAD "\"op\":\"history\",\"conv\":\"dm:alice:bob\"," REPLY
        ",\"limit\":1000,\"max_bytes\":10}";
    CHECK_EQ(chat_record_decode(r, strlen(r), &rec, &reason), 0);
    CHECK_EQ(rec.limit, CHAT_RECORD_HISTORY_LIMIT_MAX);
    CHECK_EQ(rec.max_bytes, CHAT_RECORD_MAX_BYTES_MIN);
    chat_record_free(&rec);

    r = HEAD "\"op\":\"history\",\"conv\":\"dm:alice:bob\"," REPLY "}";
    CHECK_EQ(chat_record_decode(r, strlen(r), &rec, &reason), 0);
    CHECK_EQ(rec.limit, CHAT_RECORD_HISTORY_LIMIT);
    CHECK_EQ(rec.max_bytes, CHAT_RECORD_MAX_BYTES);
    chat_record_free(&rec);
}


/* The compact bytes of frame, which is released; compared to expect. */

static int
frame_is(json_t *frame, const char *expect)
{
    int    ok;
    char  *s;

    if (frame == NULL) {
        return 0;
    }

    s = json_dumps(frame, JSON_COMPACT);
    json_decref(frame);

    ok = s != NULL && strcmp(s, expect) == 0;

    if (!ok) {
        fprintf(stderr, "  got    %s\n  wanted %s\n", s ? s : "(null)",
                expect);
    }

    free(s);

    return ok;
}


TEST(frames_have_one_shape)
{
    json_t            *a, *b, *media;
    chat_frame_msg_t   m;

    CHECK(frame_is(chat_frame_sent(S("c-1"), S(MID1), S("dm:alice:bob"), 11),
                   "{\"type\":\"sent\",\"id\":\"c-1\",\"mid\":\"" MID1 "\","
                   "\"conv\":\"dm:alice:bob\",\"ts\":11}"));
    CHECK(frame_is(chat_frame_sent(S(""), S(MID1), S("grp:t"), 1),
                   "{\"type\":\"sent\",\"mid\":\"" MID1 "\","
                   "\"conv\":\"grp:t\",\"ts\":1}"));
    CHECK(frame_is(chat_frame_error(S("x1"), "bad_request", "nope"),
                   "{\"type\":\"error\",\"id\":\"x1\",\"code\":\"bad_request\","
                   "\"message\":\"nope\"}"));
    CHECK(frame_is(chat_frame_error(S(""), "forbidden", "no"),
                   "{\"type\":\"error\",\"code\":\"forbidden\","
                   "\"message\":\"no\"}"));
    CHECK(frame_is(chat_frame_error_retry(S("x1"), "rate_limited", "later",
                                          1.5),
                   "{\"type\":\"error\",\"id\":\"x1\","
                   "\"code\":\"rate_limited\",\"message\":\"later\","
                   "\"retry_after\":1.5}"));
    CHECK(frame_is(chat_frame_group_ok(S("g1"), S("team"), 4),
                   "{\"type\":\"group_ok\",\"id\":\"g1\",\"group\":\"team\","
                   "\"seq\":4}"));
    CHECK(frame_is(chat_frame_receipt(S("dm:alice:bob"), CHAT_RECEIPT_READ, 3,
                                      S("bob"), 9),
                   "{\"type\":\"receipt\",\"conv\":\"dm:alice:bob\","
                   "\"status\":\"read\",\"seq\":3,\"by\":\"bob\",\"ts\":9}"));

    a = json_array();
    CHECK(frame_is(chat_frame_history(S("h1"), S("grp:t"), a),
                   "{\"type\":\"history\",\"id\":\"h1\",\"conv\":\"grp:t\","
                   "\"messages\":[],\"more\":false}"));
    json_decref(a);

    memset(&m, 0, sizeof(m));
    m.mid = S(MID1);
    m.conv = S("dm:alice:bob");
    m.seq = 2;
    m.from = S("alice");
    m.to = S("bob");
    m.body = S("hi");
    m.ts = 5;
    m.id = S("c-1");
    media = json_pack("{s:s, s:s, s:i}", "url", "u", "mime", "m", "size", 1);
    m.media = media;

    CHECK(frame_is(chat_frame_msg(&m),
                   "{\"type\":\"msg\",\"mid\":\"" MID1 "\","
                   "\"conv\":\"dm:alice:bob\",\"seq\":2,\"from\":\"alice\","
                   "\"body\":\"hi\",\"ts\":5,\"id\":\"c-1\",\"to\":\"bob\","
                   "\"media\":{\"url\":\"u\",\"mime\":\"m\",\"size\":1}}"));
    json_decref(media);

    m.media = NULL;
    m.to = S("");
    m.group = S("t");
    m.conv = S("grp:t");
    CHECK(frame_is(chat_frame_msg(&m),
                   "{\"type\":\"msg\",\"mid\":\"" MID1 "\",\"conv\":\"grp:t\","
                   "\"seq\":2,\"from\":\"alice\",\"body\":\"hi\",\"ts\":5,"
                   "\"id\":\"c-1\",\"group\":\"t\"}"));

    /* a message accepted under a ttl says when it goes, after its media */
    m.expires = 86400005;
    CHECK(frame_is(chat_frame_msg(&m),
                   "{\"type\":\"msg\",\"mid\":\"" MID1 "\",\"conv\":\"grp:t\","
                   "\"seq\":2,\"from\":\"alice\",\"body\":\"hi\",\"ts\":5,"
                   "\"id\":\"c-1\",\"group\":\"t\",\"expires\":86400005}"));
    media = json_pack("{s:s}", "url", "u");
    m.media = media;
    CHECK(frame_is(chat_frame_msg(&m),
                   "{\"type\":\"msg\",\"mid\":\"" MID1 "\",\"conv\":\"grp:t\","
                   "\"seq\":2,\"from\":\"alice\",\"body\":\"hi\",\"ts\":5,"
                   "\"id\":\"c-1\",\"group\":\"t\",\"media\":{\"url\":\"u\"},"
                   "\"expires\":86400005}"));
    json_decref(media);

    CHECK(frame_is(chat_frame_conv_ok(S("s1"), S("dm:alice:bob"), 9),
                   "{\"type\":\"conv_ok\",\"id\":\"s1\","
                   "\"conv\":\"dm:alice:bob\",\"seq\":9}"));
    CHECK(frame_is(chat_frame_conv_ok(S(""), S("grp:t"), 1),
                   "{\"type\":\"conv_ok\",\"conv\":\"grp:t\",\"seq\":1}"));
    CHECK(frame_is(chat_frame_conv_event(S("dm:alice:bob"), 9, 86400,
                                         S("alice"), 1795318602103),
                   "{\"type\":\"conv\",\"conv\":\"dm:alice:bob\",\"seq\":9,"
                   "\"event\":\"ttl\",\"ttl\":86400,\"by\":\"alice\","
                   "\"ts\":1795318602103}"));
    CHECK(frame_is(chat_frame_conv_event(S("grp:t"), 2, 0, S("bob"), 3),
                   "{\"type\":\"conv\",\"conv\":\"grp:t\",\"seq\":2,"
                   "\"event\":\"ttl\",\"ttl\":0,\"by\":\"bob\",\"ts\":3}"));

    a = json_string("added");
    b = json_pack("[s]", "bob");
    CHECK(frame_is(chat_frame_group_event(S("grp:t"), 3, a, S("alice"), b, 4),
                   "{\"type\":\"group\",\"conv\":\"grp:t\",\"seq\":3,"
                   "\"event\":\"added\",\"by\":\"alice\",\"members\":[\"bob\"],"
                   "\"ts\":4}"));
    json_decref(a);
    json_decref(b);
}


/* The marker of frame as published (compact JSON), recognized. */

static chat_frame_marker_e
marker_of(json_t *frame, char *conv, size_t *conv_len, int64_t *seq)
{
    char                *s;
    chat_frame_marker_e  rc;

    s = json_dumps(frame, JSON_COMPACT);
    json_decref(frame);

    if (s == NULL) {
        return CHAT_FRAME_MARKER_BAD;
    }

    rc = chat_frame_sync_marker(s, strlen(s), conv, conv_len, seq);
    free(s);

    return rc;
}


#define MARKER(lit, c, n, q)  chat_frame_sync_marker(lit, sizeof(lit) - 1,   \
                                                     c, n, q)

TEST(sync_markers_are_recognized_by_their_type)
{
    char     conv[CHAT_CONV_MAX];
    size_t   n;
    int64_t  seq;

    CHECK_EQ(marker_of(chat_frame_sync_done(), conv, &n, &seq),
             CHAT_FRAME_MARKER_DONE);

    n = 0;
    seq = 0;
    CHECK_EQ(marker_of(chat_frame_sync_more(S("grp:team"), 17), conv, &n,
                       &seq),
             CHAT_FRAME_MARKER_MORE);
    CHECK_STR(conv, n, "grp:team");
    CHECK_EQ(seq, 17);

    /* not their bytes: another order or spacing is the same marker */
    CHECK_EQ(MARKER("{ \"seq\": 3, \"conv\": \"dm:a:b\", \"type\": "
                    "\"sync_more\" }", conv, &n, &seq),
             CHAT_FRAME_MARKER_MORE);
    CHECK_STR(conv, n, "dm:a:b");
    CHECK_EQ(seq, 3);
    CHECK_EQ(MARKER("{\"x\":1,\"type\":\"sync_done\"}", conv, &n, &seq),
             CHAT_FRAME_MARKER_DONE);

    /* a sync_more without its cursor is a bad one; other frames none */
    CHECK_EQ(MARKER("{\"type\":\"sync_more\",\"conv\":\"x\"}", conv, &n,
                    &seq),
             CHAT_FRAME_MARKER_BAD);
    CHECK_EQ(MARKER("{\"type\":\"sync_more\",\"conv\":1,\"seq\":1}", conv,
                    &n, &seq),
             CHAT_FRAME_MARKER_BAD);
    CHECK_EQ(MARKER("{\"type\":\"msg\",\"body\":\"sync_done\"}", conv, &n,
                    &seq),
             CHAT_FRAME_MARKER_NONE);
    CHECK_EQ(MARKER("{\"type\":\"sync_do", conv, &n, &seq),
             CHAT_FRAME_MARKER_NONE);
    CHECK_EQ(MARKER("", conv, &n, &seq), CHAT_FRAME_MARKER_NONE);
}


TEST(keys_and_payloads)
{
    char        k[CHAT_CID_KEY_MAX];
    size_t      n;
    chat_str_t  target, frame;

    n = chat_cid_key(k, S("alice"), S("x1"));
    CHECK_STR(k, n, CHAT_KEY_CID "{alice}:x1");
    CHECK_STR(k, n, "chat:cid:{alice}:x1");

    CHECK(strcmp(CHAT_KEY_USER_CHANNEL, "chat:u:") == 0);
    CHECK(strcmp(CHAT_KEY_GROUP_MEMBERS, "chat:gm:") == 0);

    CHECK_EQ(chat_keys_payload_split("*\n{}", 4, &target, &frame), 0);
    CHECK(SEQ(target, CHAT_KEY_TARGET_ALL));
    CHECK(SEQ(frame, "{}"));

    CHECK_EQ(chat_keys_payload_split("k-1\n{\"a\":\"\\n\"}\n", 15, &target,
                                     &frame), 0);
    CHECK(SEQ(target, "k-1"));
    CHECK(SEQ(frame, "{\"a\":\"\\n\"}\n"));

    CHECK_EQ(chat_keys_payload_split("k-1", 3, &target, &frame), -1);
    CHECK_EQ(chat_keys_payload_split("", 0, &target, &frame), -1);
}


int
main(void)
{
    RUN(dm_send_with_media_round_trips);
    RUN(group_send_round_trips);
    RUN(group_changes_round_trip);
    RUN(conv_set_round_trips);
    RUN(receipt_round_trips);
    RUN(sync_round_trips);
    RUN(history_round_trips);
    RUN(what_a_record_is);
    RUN(bad_records_are_refused_with_their_reason);
    RUN(decoded_limits_are_clamped);
    RUN(frames_have_one_shape);
    RUN(sync_markers_are_recognized_by_their_type);
    RUN(keys_and_payloads);

    return test_summary("record");
}
