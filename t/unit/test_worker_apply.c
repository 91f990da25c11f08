/*
 * Unit tests of what chat-worker does with the records that write
 * (workers/chat_worker_apply.c): send and receipt, and the records refused
 * (t/unit/test_worker.h has the store and the helpers). sync and history
 * are in test_worker_read.c.
 */

#include "test_worker.h"


TEST(first_send_gets_seq_1_and_reaches_both_users)
{
    CHECK_EQ(send_msg("MID1", "alice", "bob", "c-1", 1000),
             CHAT_WORKER_APPLIED);
    CHECK_EQ(res.seq, 1);
    CHECK(!res.duplicate);
    CHECK_EQ(out.npubs, 2);

    check_msg(pub(0, "chat:u:{alice}", "*"), "MID1", 1, "alice", "bob", "c-1", 1000);
    check_msg(pub(1, "chat:u:{bob}", "*"), "MID1", 1, "alice", "bob", "c-1",
              1000);

    CHECK_EQ(send_msg("MID2", "bob", "alice", "c-1", 1001),
             CHAT_WORKER_APPLIED);
    CHECK_EQ(res.seq, 2);
    check_msg(pub(0, "chat:u:{alice}", "*"), "MID2", 2, "bob", "alice", "c-1",
              1001);
    check_msg(pub(1, "chat:u:{bob}", "*"), "MID2", 2, "bob", "alice", "c-1",
              1001);
}


TEST(retried_send_stores_nothing_and_republishes_the_first)
{
    int64_t  last;

    CHECK_EQ(send_msg("MID1", "alice", "bob", "c-1", 1000), 0);
    CHECK_EQ(send_msg("MID2", "alice", "bob", "c-2", 1001), 0);

    /* the retry comes with a fresh mid and a later ts (Redis was down) */
    CHECK_EQ(send_msg("MID9", "alice", "bob", "c-1", 5000),
             CHAT_WORKER_APPLIED);
    CHECK(res.duplicate);
    CHECK_EQ(res.seq, 1);
    CHECK_EQ(out.npubs, 2);
    check_msg(pub(0, "chat:u:{alice}", "*"), "MID1", 1, "alice", "bob", "c-1",
              1000);
    check_msg(pub(1, "chat:u:{bob}", "*"), "MID1", 1, "alice", "bob", "c-1",
              1000);

    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, 2);

    /* after a commit too (a replayed batch) */
    CHECK_EQ(chat_store_commit(store), 0);
    CHECK_EQ(chat_store_begin(store), 0);
    CHECK_EQ(send_msg("MID2", "alice", "bob", "c-2", 1001), 0);
    CHECK(res.duplicate);
    CHECK_EQ(res.seq, 2);
    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, 2);
}


TEST(an_id_reused_in_another_conversation_is_bad_request)
{
    int64_t  last;

    CHECK_EQ(send_msg("MID1", "alice", "bob", "x1", 1000), 0);

    /* the same id to carol: told to alice's devices, nothing stored, carol
     * gets nothing (before, alice's retry was "answered" with the message
     * to bob) */
    CHECK_EQ(send_msg("MID2", "alice", "carol", "x1", 1001),
             CHAT_WORKER_SKIPPED);
    CHECK(res.refused);
    CHECK(!res.duplicate);
    CHECK_EQ(out.npubs, 1);

    check_error(pub(0, "chat:u:{alice}", "*"), "bad_request", "x1");

    CHECK_EQ(chat_store_conv_last_seq(store, S(AC), &last), 0);
    CHECK_EQ(last, 0);

    /* the id of bob's message is bob's: alice's own is free */
    CHECK_EQ(send_msg("MID3", "bob", "carol", "x1", 1002), 0);
    CHECK_EQ(res.seq, 1);

    /* and the first is still answered as a retry */
    CHECK_EQ(send_msg("MID9", "alice", "bob", "x1", 1003), 0);
    CHECK(res.duplicate);
    check_msg(pub(1, "chat:u:{bob}", "*"), "MID1", 1, "alice", "bob", "x1",
              1000);
}


TEST(seq_is_gapless_per_conversation_when_interleaved)
{
    int      i, ab, ac;
    char     mid[16], id[16];
    int64_t  last;

    ab = 0;
    ac = 0;

    for (i = 0; i < 20; i++) {
        snprintf(mid, sizeof(mid), "M%d", i);
        snprintf(id, sizeof(id), "c-%d", i);

        if (i % 3 == 0) {
            CHECK_EQ(send_msg(mid, "carol", "alice", id, i), 0);
            CHECK_EQ(res.seq, ++ac);

        } else {
            CHECK_EQ(send_msg(mid, i % 2 ? "alice" : "bob",
                              i % 2 ? "bob" : "alice", id, i), 0);
            CHECK_EQ(res.seq, ++ab);
        }
    }

    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, ab);
    CHECK_EQ(chat_store_conv_last_seq(store, S(AC), &last), 0);
    CHECK_EQ(last, ac);
    CHECK_EQ(ab + ac, 20);
}


TEST(send_keeps_media_and_nul_bytes)
{
    json_t  *f, *media;

    /* the upload's type and size, not any the sender would claim */
    CHECK_EQ(chat_store_media_insert(store,
                                     S("0123456789abcdef0123456789abcdef"),
                                     S("bob"), S("image/png"), 48213, 4), 0);
    CHECK_EQ(apply("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"" AB
                   "\",\"from\":\"bob\",\"to\":\"alice\",\"body\":\"a\\u0000b"
                   "\",\"id\":\"c 1\",\"ts\":5,\"media\":{\"id\":"
                   "\"0123456789abcdef0123456789abcdef\"}}"),
             CHAT_WORKER_APPLIED);

    f = pub(1, "chat:u:{bob}", "*");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }

    CHECK_EQ(json_string_length(json_object_get(f, "body")), 3);
    CHECK(memcmp(str(f, "body"), "a\0b", 3) == 0);
    CHECK(strcmp(str(f, "id"), "c 1") == 0);

    media = json_object_get(f, "media");
    CHECK(json_is_object(media));
    CHECK(strncmp(str(media, "url"),
                  "/media/0123456789abcdef0123456789abcdef?", 40) == 0);
    CHECK(strcmp(str(media, "mime"), "image/png") == 0);
    CHECK_EQ(num(media, "size"), 48213);
    CHECK_EQ(json_object_size(f), 10);

    json_decref(f);
}


TEST(mid_of_another_message_is_skipped)
{
    int64_t  last;

    CHECK_EQ(send_msg("MID1", "alice", "bob", "c-1", 1), 0);
    CHECK_EQ(send_msg("MID1", "alice", "bob", "c-2", 2), CHAT_WORKER_SKIPPED);
    CHECK(strstr(res.reason, "mid") != NULL);
    CHECK_EQ(out.npubs, 0);
    CHECK_EQ(chat_store_conv_last_seq(store, S(AB), &last), 0);
    CHECK_EQ(last, 1);
}


TEST(receipt_raises_monotonic_and_tells_the_other_member)
{
    json_t  *f;

    CHECK_EQ(send_msg("M1", "alice", "bob", "c-1", 1), 0);
    CHECK_EQ(send_msg("M2", "alice", "bob", "c-2", 2), 0);
    CHECK_EQ(send_msg("M3", "alice", "bob", "c-3", 3), 0);

    CHECK_EQ(receipt(AB, "bob", "delivered", 2), CHAT_WORKER_APPLIED);
    CHECK(res.rose);
    CHECK_EQ(out.npubs, 1);

    f = pub(0, "chat:u:{alice}", "*");
    CHECK(f != NULL);
    CHECK(strcmp(str(f, "type"), "receipt") == 0);
    CHECK(strcmp(str(f, "conv"), AB) == 0);
    CHECK(strcmp(str(f, "status"), "delivered") == 0);
    CHECK_EQ(num(f, "seq"), 2);
    CHECK(strcmp(str(f, "by"), "bob") == 0);
    CHECK_EQ(num(f, "ts"), 777);
    CHECK_EQ(json_object_size(f), 6);
    json_decref(f);

    /* the payload, byte for byte: target, newline, compact JSON */
    CHECK_STR(chat_worker_out_payload(&out, 0).s,
              chat_worker_out_payload(&out, 0).len,
              "*\n{\"type\":\"receipt\",\"conv\":\"dm:alice:bob\","
              "\"status\":\"delivered\",\"seq\":2,\"by\":\"bob\","
              "\"ts\":777}");

    /* lower and equal: applied, nothing published */
    CHECK_EQ(receipt(AB, "bob", "delivered", 1), CHAT_WORKER_APPLIED);
    CHECK(!res.rose);
    CHECK_EQ(out.npubs, 0);
    CHECK_EQ(receipt(AB, "bob", "delivered", 2), CHAT_WORKER_APPLIED);
    CHECK_EQ(out.npubs, 0);

    /* read implies delivered: a delivered receipt at the read seq is old */
    CHECK_EQ(receipt(AB, "bob", "read", 3), CHAT_WORKER_APPLIED);
    CHECK(res.rose);
    f = pub(0, "chat:u:{alice}", "*");
    CHECK(f != NULL && strcmp(str(f, "status"), "read") == 0);
    CHECK(f != NULL && num(f, "seq") == 3);
    json_decref(f);

    CHECK_EQ(receipt(AB, "bob", "delivered", 3), CHAT_WORKER_APPLIED);
    CHECK(!res.rose);
    CHECK_EQ(out.npubs, 0);
}


TEST(receipt_is_clamped_to_the_last_seq)
{
    json_t  *f;

    CHECK_EQ(send_msg("M1", "bob", "alice", "c-1", 1), 0);
    CHECK_EQ(send_msg("M2", "bob", "alice", "c-2", 2), 0);

    CHECK_EQ(receipt(AB, "alice", "read", 1000), CHAT_WORKER_APPLIED);
    CHECK_EQ(res.seq, 2);
    f = pub(0, "chat:u:{bob}", "*");
    CHECK(f != NULL && num(f, "seq") == 2);
    json_decref(f);

    /* later messages are not covered by it */
    CHECK_EQ(send_msg("M3", "bob", "alice", "c-3", 3), 0);
    CHECK_EQ(receipt(AB, "alice", "read", 1000), CHAT_WORKER_APPLIED);
    CHECK(res.rose);
    CHECK_EQ(res.seq, 3);
}


TEST(receipt_of_a_non_member_is_skipped)
{
    CHECK_EQ(send_msg("M1", "alice", "bob", "c-1", 1), 0);

    CHECK_EQ(receipt(AB, "carol", "read", 1), CHAT_WORKER_SKIPPED);
    CHECK(strstr(res.reason, "not a member") != NULL);
    CHECK_EQ(out.npubs, 0);

    /* a conversation that has no message yet has no member */
    CHECK_EQ(receipt(BC, "bob", "delivered", 1), CHAT_WORKER_SKIPPED);
    CHECK_EQ(receipt("grp:team", "bob", "delivered", 1),
             CHAT_WORKER_SKIPPED);
}




#define SEND_REST  "\"body\":\"x\",\"id\":\"c-1\",\"ts\":1}"

TEST(malformed_records_are_refused_with_a_reason)
{
    const char            *reason;
    chat_record_t          rec;

    CHECK_EQ(chat_record_decode(NULL, 0, &rec, &reason), -1);
    CHECK(strcmp(reason, "empty record") == 0);
    chat_record_free(&rec);

    check_refused("{\"v\":1,\"op\":\"send\"", "malformed JSON");
    check_refused("[1,2]", "not a JSON object");
    check_refused("{\"v\":1,\"v\":1,\"op\":\"sync\"}", "malformed JSON");
    check_refused("{\"v\":2,\"op\":\"sync\",\"user\":\"a\",\"conn\":\"k\","
                  "\"ts\":1}", "\"v\" is not 1");
    check_refused("{\"v\":1,\"op\":\"sync\",\"user\":\"a\",\"conn\":\"k\"}",
                  "\"ts\"");
    check_refused("{\"v\":1,\"op\":\"delete\",\"ts\":1}", "unknown \"op\"");
    check_refused("{\"v\":1,\"ts\":1}", "\"op\" is missing");

    /* send */
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":"
                  "\"dm:alice:carol\",\"from\":\"alice\",\"to\":\"bob\","
                  SEND_REST, "not the conversation of");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":"
                  "\"dm:bob:alice\",\"from\":\"alice\",\"to\":\"bob\","
                  SEND_REST, "\"conv\" is not a valid");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"" AB
                  "\",\"from\":\"al ice\",\"to\":\"bob\"," SEND_REST,
                  "\"from\"");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"" AB
                  "\",\"from\":\"alice\",\"to\":7," SEND_REST, "\"to\"");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":"
                  "\"dm:alice:alice\",\"from\":\"alice\",\"to\":\"alice\","
                  SEND_REST, "\"conv\"");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M-1\",\"conv\":\"" AB
                  "\",\"from\":\"alice\",\"to\":\"bob\"," SEND_REST,
                  "\"mid\"");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":"
                  "\"0123456789ABCDEF0123456789ABCDEFG\",\"conv\":\"" AB
                  "\",\"from\":\"alice\",\"to\":\"bob\"," SEND_REST,
                  "\"mid\"");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"" AB
                  "\",\"from\":\"alice\",\"to\":\"bob\",\"body\":null,"
                  "\"id\":\"c-1\",\"ts\":1}", "\"body\"");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"" AB
                  "\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"x\","
                  "\"id\":\"\",\"ts\":1}", "\"id\"");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"" AB
                  "\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"x\","
                  "\"id\":\"a\\nb\",\"ts\":1}", "\"id\"");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"" AB
                  "\",\"from\":\"alice\",\"to\":\"bob\",\"media\":\"x\","
                  SEND_REST, "\"media\"");
    check_refused("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":"
                  "\"grp:team\",\"from\":\"alice\",\"group\":\"team\","
                  SEND_REST, "\"conn\"");

    /* receipt */
    check_refused("{\"v\":1,\"op\":\"receipt\",\"conv\":\"" AB "\",\"by\":"
                  "\"bob\",\"status\":\"seen\",\"seq\":1,\"ts\":1}",
                  "\"status\"");
    check_refused("{\"v\":1,\"op\":\"receipt\",\"conv\":\"" AB "\",\"by\":"
                  "\"bob\",\"status\":\"read\",\"seq\":0,\"ts\":1}",
                  "\"seq\"");
    check_refused("{\"v\":1,\"op\":\"receipt\",\"conv\":\"" AB "\",\"by\":"
                  "\"bob\",\"status\":\"read\",\"seq\":1.5,\"ts\":1}",
                  "\"seq\"");
    check_refused("{\"v\":1,\"op\":\"receipt\",\"conv\":\"dm:x\",\"by\":"
                  "\"bob\",\"status\":\"read\",\"seq\":1,\"ts\":1}",
                  "\"conv\"");
    check_refused("{\"v\":1,\"op\":\"receipt\",\"conv\":\"" AB "\",\"by\":"
                  "\"\",\"status\":\"read\",\"seq\":1,\"ts\":1}", "\"by\"");

    /* sync */
    check_refused("{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":\"*\","
                  "\"ts\":1}", "\"conn\"");
    check_refused("{\"v\":1,\"op\":\"sync\",\"user\":\"bob\",\"conn\":"
                  "\"k\\n*\",\"ts\":1}", "\"conn\"");
    check_refused("{\"v\":1,\"op\":\"sync\",\"user\":\"b:b\",\"conn\":\"k\","
                  "\"ts\":1}", "\"user\"");
}


TEST(unknown_members_are_ignored)
{
    CHECK_EQ(apply("{\"v\":1,\"op\":\"send\",\"mid\":\"M1\",\"conv\":\"" AB
                   "\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"hello\","
                   "\"id\":\"c-1\",\"ts\":1,\"later\":{\"x\":[1]}}"),
             CHAT_WORKER_APPLIED);
    CHECK_EQ(res.seq, 1);
}


int
main(void)
{
    if (test_tmpdir(test_dir, sizeof(test_dir), "apply") != 0) {
        return 1;
    }

    RUN_WITH_STORE(first_send_gets_seq_1_and_reaches_both_users);
    RUN_WITH_STORE(retried_send_stores_nothing_and_republishes_the_first);
    RUN_WITH_STORE(an_id_reused_in_another_conversation_is_bad_request);
    RUN_WITH_STORE(seq_is_gapless_per_conversation_when_interleaved);
    RUN_WITH_STORE(send_keeps_media_and_nul_bytes);
    RUN_WITH_STORE(mid_of_another_message_is_skipped);
    RUN_WITH_STORE(receipt_raises_monotonic_and_tells_the_other_member);
    RUN_WITH_STORE(receipt_is_clamped_to_the_last_seq);
    RUN_WITH_STORE(receipt_of_a_non_member_is_skipped);
    RUN_WITH_STORE(malformed_records_are_refused_with_a_reason);
    RUN_WITH_STORE(unknown_members_are_ignored);

    test_tmpdir_remove(test_dir);

    return test_summary("worker_apply");
}
