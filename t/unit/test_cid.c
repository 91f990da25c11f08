/* Client id reservations in Redis (common/chat_cid.c): the key, the
 * value, and which stored values name the same request. */

#include <string.h>

#include "test.h"
#include "chat_cid.h"


#define S(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })
#define NONE    ((chat_str_t) { "", 0 })

#define MID1    "01J00000000000000000000001"
#define MID2    "01J00000000000000000000002"


TEST(key_tags_the_user_and_names_the_id)
{
    char    k[CHAT_CID_KEY_MAX];
    size_t  n;

    n = chat_cid_key(k, S("alice"), S("x 1"));
    CHECK_STR(k, n, "chat:cid:{alice}:x 1");
}


TEST(value_says_the_mid_what_and_conv)
{
    char    v[CHAT_CID_VALUE_MAX];
    size_t  n;

    n = chat_cid_value(v, MID1, S("send"), NONE, S("dm:alice:bob"));
    CHECK_STR(v, n, MID1 " send dm:alice:bob");

    n = chat_cid_value(v, MID1, S("group"), S("create"), S("grp:team"));
    CHECK_STR(v, n, MID1 " group.create grp:team");

    CHECK_EQ(chat_cid_value(v, MID1, S("a b"), NONE, S("grp:t")), 0);
    CHECK_EQ(chat_cid_value(v, MID1, S("group"),
                            S("a-very-long-action-name-that-is-no-action"),
                            S("grp:t")), 0);
}


TEST(match_tells_a_retry_from_another_request)
{
    char        ours[CHAT_CID_VALUE_MAX], other[CHAT_CID_VALUE_MAX];
    size_t      n, m;
    chat_str_t  mid;

    n = chat_cid_value(ours, MID2, S("send"), NONE, S("dm:alice:bob"));

    /* the first attempt's: the same request, its mid */
    m = chat_cid_value(other, MID1, S("send"), NONE, S("dm:alice:bob"));
    CHECK_EQ(chat_cid_match(other, m, ours, n, &mid), 1);
    CHECK_STR(mid.s, mid.len, MID1);

    /* another conversation, another kind */
    m = chat_cid_value(other, MID1, S("send"), NONE, S("dm:alice:carol"));
    CHECK_EQ(chat_cid_match(other, m, ours, n, &mid), 0);
    m = chat_cid_value(other, MID1, S("group"), S("create"),
                       S("dm:alice:bob"));
    CHECK_EQ(chat_cid_match(other, m, ours, n, &mid), 0);
    m = chat_cid_value(other, MID1, S("send"), NONE, S("dm:alice:bo"));
    CHECK_EQ(chat_cid_match(other, m, ours, n, &mid), 0);

    /* an older value, the mid alone, is taken as the same */
    CHECK_EQ(chat_cid_match(MID1, CHAT_MID_LEN, ours, n, &mid), 1);
    CHECK_STR(mid.s, mid.len, MID1);

    /* no reservation */
    CHECK_EQ(chat_cid_match("short", 5, ours, n, &mid), -1);
    CHECK_EQ(chat_cid_match(MID1 "x", CHAT_MID_LEN + 1, ours, n, &mid), -1);
}


int
main(void)
{
    RUN(key_tags_the_user_and_names_the_id);
    RUN(value_says_the_mid_what_and_conv);
    RUN(match_tells_a_retry_from_another_request);

    return test_summary("cid");
}
