/* The keys and channels of an id (common/chat_keys.c): "<prefix>{<id>}",
 * built and read back, and that every key of a user shares its slot. */

#include <string.h>

#include "test.h"
#include "chat_cid.h"
#include "chat_cluster.h"
#include "chat_keys.h"


#define S(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })


TEST(key_tags_the_id)
{
    char    k[CHAT_KEY_LEN(CHAT_KEY_USER_CHANNEL, CHAT_ID_MAX)];
    size_t  n;

    n = chat_key(k, CHAT_KEY_USER_CHANNEL, "alice", 5);
    CHECK_STR(k, n, "chat:u:{alice}");
    CHECK_EQ(n, CHAT_KEY_LEN(CHAT_KEY_USER_CHANNEL, 5));

    n = chat_key(k, CHAT_KEY_GROUP_MEMBERS, "team", 4);
    CHECK_STR(k, n, "chat:gm:{team}");

    n = chat_key(k, CHAT_KEY_PRESENCE, "b", 1);
    CHECK_STR(k, n, "chat:p:{b}");
}


TEST(key_id_reads_it_back)
{
    char        k[CHAT_KEY_LEN(CHAT_KEY_SESSIONS, CHAT_ID_MAX)];
    size_t      n;
    chat_str_t  id;

    n = chat_key(k, CHAT_KEY_SESSIONS, "bob", 3);
    CHECK_EQ(chat_key_id(k, n, CHAT_KEY_SESSIONS, &id), 0);
    CHECK_STR(id.s, id.len, "bob");

    CHECK_EQ(chat_key_id("chat:pr:{x}", 11, CHAT_KEY_PRESENCE_CHANNEL, &id),
             0);
    CHECK_STR(id.s, id.len, "x");
}


TEST(key_id_refuses_what_is_not_a_key_of_the_prefix)
{
    chat_str_t  id;

    /* another prefix, a prefix of the prefix */
    CHECK_EQ(chat_key_id("chat:p:{a}", 10, CHAT_KEY_USER_CHANNEL, &id), -1);
    CHECK_EQ(chat_key_id("chat:pr:{a}", 11, CHAT_KEY_PRESENCE, &id), -1);
    /* the untagged layout of old */
    CHECK_EQ(chat_key_id("chat:u:{alice}", 12, CHAT_KEY_USER_CHANNEL, &id),
             -1);
    /* an empty id, an unclosed tag, no tag at all, braces inside */
    CHECK_EQ(chat_key_id("chat:u:{}", 9, CHAT_KEY_USER_CHANNEL, &id), -1);
    CHECK_EQ(chat_key_id("chat:u:{al", 10, CHAT_KEY_USER_CHANNEL, &id), -1);
    CHECK_EQ(chat_key_id("chat:u:", 7, CHAT_KEY_USER_CHANNEL, &id), -1);
    CHECK_EQ(chat_key_id("chat:u:{a}b}", 12, CHAT_KEY_USER_CHANNEL, &id), -1);
    CHECK_EQ(chat_key_id("chat:u:{a{b}", 12, CHAT_KEY_USER_CHANNEL, &id), -1);
    /* a length shorter than the text */
    CHECK_EQ(chat_key_id("chat:u:{a}", 9, CHAT_KEY_USER_CHANNEL, &id), -1);
    CHECK_EQ(chat_key_id("", 0, CHAT_KEY_USER_CHANNEL, &id), -1);
}


TEST(every_key_of_a_user_has_the_user_slot)
{
    char      k[CHAT_CID_KEY_MAX];
    size_t    n;
    uint16_t  slot;

    slot = chat_cluster_slot("alice", 5);

    n = chat_key(k, CHAT_KEY_USER_CHANNEL, "alice", 5);
    CHECK_EQ(chat_cluster_slot(k, n), slot);
    n = chat_key(k, CHAT_KEY_SESSIONS, "alice", 5);
    CHECK_EQ(chat_cluster_slot(k, n), slot);
    n = chat_key(k, CHAT_KEY_PRESENCE, "alice", 5);
    CHECK_EQ(chat_cluster_slot(k, n), slot);
    n = chat_key(k, CHAT_KEY_PRESENCE_CHANNEL, "alice", 5);
    CHECK_EQ(chat_cluster_slot(k, n), slot);
    n = chat_cid_key(k, S("alice"), S("c-1"));
    CHECK_EQ(chat_cluster_slot(k, n), slot);
}


int
main(void)
{
    RUN(key_tags_the_id);
    RUN(key_id_reads_it_back);
    RUN(key_id_refuses_what_is_not_a_key_of_the_prefix);
    RUN(every_key_of_a_user_has_the_user_slot);

    return test_summary("keys");
}
