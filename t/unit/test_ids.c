/*
 * Unit tests of common/chat_ids.c.
 */

#include "test.h"
#include "chat_ids.h"


#define S(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })


TEST(id_charset)
{
    CHECK(chat_id_valid("alice", 5));
    CHECK(chat_id_valid("A-Z_a.z@0-9", 11));
    CHECK(!chat_id_valid("al ice", 6));
    CHECK(!chat_id_valid("al:ice", 6));
    CHECK(!chat_id_valid("al/ice", 6));
    CHECK(!chat_id_valid("al\0ce", 5));
    CHECK(!chat_id_valid("\xc3\xa9t\xc3\xa9", 6));
    CHECK(!chat_id_valid("a+b", 3));
}


TEST(id_length)
{
    char  buf[CHAT_ID_MAX + 1];

    memset(buf, 'x', sizeof(buf));

    CHECK(!chat_id_valid("", 0));
    CHECK(!chat_id_valid(NULL, 0));
    CHECK(chat_id_valid(buf, 1));
    CHECK(chat_id_valid(buf, CHAT_ID_MAX));
    CHECK(!chat_id_valid(buf, CHAT_ID_MAX + 1));
}


TEST(client_id)
{
    char  buf[CHAT_CLIENT_ID_MAX + 1];

    memset(buf, '~', sizeof(buf));

    CHECK(chat_client_id_valid("c-17", 4));
    CHECK(chat_client_id_valid("a b:{}\"\\", 8));
    CHECK(chat_client_id_valid(buf, CHAT_CLIENT_ID_MAX));
    CHECK(!chat_client_id_valid(buf, CHAT_CLIENT_ID_MAX + 1));
    CHECK(!chat_client_id_valid("", 0));
    CHECK(!chat_client_id_valid("a\tb", 3));
    CHECK(!chat_client_id_valid("a\0b", 3));
    CHECK(!chat_client_id_valid("a\x7f", 2));
    CHECK(!chat_client_id_valid("\xc3\xa9", 2));
}


TEST(conv_dm_orders)
{
    char    out[CHAT_CONV_MAX];
    size_t  n;

    n = chat_conv_dm(out, S("bob"), S("alice"));
    CHECK_STR(out, n, "dm:alice:bob");

    n = chat_conv_dm(out, S("alice"), S("bob"));
    CHECK_STR(out, n, "dm:alice:bob");

    /* a shorter prefix sorts first */
    n = chat_conv_dm(out, S("bobby"), S("bob"));
    CHECK_STR(out, n, "dm:bob:bobby");

    /* bytewise: uppercase sorts before lowercase */
    n = chat_conv_dm(out, S("alice"), S("Zed"));
    CHECK_STR(out, n, "dm:Zed:alice");
}


TEST(conv_dm_longest)
{
    char    a[CHAT_ID_MAX], b[CHAT_ID_MAX], out[CHAT_CONV_MAX];
    size_t  n;

    memset(a, 'a', sizeof(a));
    memset(b, 'b', sizeof(b));

    n = chat_conv_dm(out, (chat_str_t) { b, sizeof(b) },
                     (chat_str_t) { a, sizeof(a) });
    CHECK_EQ(n, CHAT_CONV_MAX);
    CHECK(memcmp(out, "dm:aaaa", 7) == 0);
    CHECK(out[3 + CHAT_ID_MAX] == ':');
    CHECK(out[CHAT_CONV_MAX - 1] == 'b');
}


TEST(conv_group)
{
    char    out[CHAT_CONV_MAX];
    size_t  n;

    n = chat_conv_group(out, S("team"));
    CHECK_STR(out, n, "grp:team");
}


TEST(conv_parse_dm)
{
    chat_conv_t  c;
    const char  *s = "dm:alice:bob";

    CHECK_EQ(chat_conv_parse(s, strlen(s), &c), 0);
    CHECK_EQ(c.kind, CHAT_CONV_DM);
    CHECK_STR(c.a.s, c.a.len, "alice");
    CHECK_STR(c.b.s, c.b.len, "bob");
    CHECK(c.a.s == s + 3);

    CHECK_EQ(chat_conv_parse("dm:bob:bobby", 12, &c), 0);
}


TEST(conv_parse_dm_bad)
{
    chat_conv_t  c;

    CHECK_EQ(chat_conv_parse("dm:bob:alice", 12, &c), -1);   /* order */
    CHECK_EQ(chat_conv_parse("dm:bobby:bob", 12, &c), -1);   /* prefix */
    CHECK_EQ(chat_conv_parse("dm:bob:bob", 10, &c), -1);     /* same */
    CHECK_EQ(chat_conv_parse("dm:alice", 8, &c), -1);
    CHECK_EQ(chat_conv_parse("dm::bob", 7, &c), -1);
    CHECK_EQ(chat_conv_parse("dm:alice:", 9, &c), -1);
    CHECK_EQ(chat_conv_parse("dm:a:b:c", 8, &c), -1);
    CHECK_EQ(chat_conv_parse("dm:a b:c", 8, &c), -1);
    CHECK_EQ(chat_conv_parse("dm:", 3, &c), -1);
    CHECK_EQ(chat_conv_parse("DM:a:b", 6, &c), -1);
    CHECK_EQ(chat_conv_parse("dm:a:b\0", 7, &c), -1);
    CHECK_EQ(chat_conv_parse("", 0, &c), -1);
}


TEST(conv_parse_group)
{
    chat_conv_t  c;

    CHECK_EQ(chat_conv_parse("grp:team", 8, &c), 0);
    CHECK_EQ(c.kind, CHAT_CONV_GROUP);
    CHECK_STR(c.group.s, c.group.len, "team");

    CHECK_EQ(chat_conv_parse("grp:", 4, &c), -1);
    CHECK_EQ(chat_conv_parse("grp:a:b", 7, &c), -1);
    CHECK_EQ(chat_conv_parse("grp:te am", 9, &c), -1);
    CHECK_EQ(chat_conv_parse("grp", 3, &c), -1);
    CHECK_EQ(chat_conv_parse("group:team", 10, &c), -1);
}


TEST(conv_parse_lengths)
{
    char         buf[CHAT_CONV_MAX + 2];
    chat_conv_t  c;

    /* "dm:" + 64 'a' + ":" + 64 'b': the longest id */
    memcpy(buf, "dm:", 3);
    memset(buf + 3, 'a', CHAT_ID_MAX);
    buf[3 + CHAT_ID_MAX] = ':';
    memset(buf + 4 + CHAT_ID_MAX, 'b', CHAT_ID_MAX);
    CHECK_EQ(chat_conv_parse(buf, CHAT_CONV_MAX, &c), 0);

    /* one more byte in b */
    buf[CHAT_CONV_MAX] = 'b';
    CHECK_EQ(chat_conv_parse(buf, CHAT_CONV_MAX + 1, &c), -1);

    /* a group id of 65 bytes */
    memcpy(buf, "grp:", 4);
    memset(buf + 4, 'g', CHAT_ID_MAX + 1);
    CHECK_EQ(chat_conv_parse(buf, 4 + CHAT_ID_MAX, &c), 0);
    CHECK_EQ(chat_conv_parse(buf, 4 + CHAT_ID_MAX + 1, &c), -1);
}


TEST(conv_roundtrip)
{
    char         out[CHAT_CONV_MAX];
    size_t       n;
    chat_conv_t  c;

    n = chat_conv_dm(out, S("zoe"), S("Al.ex@x-y_z"));
    CHECK_EQ(chat_conv_parse(out, n, &c), 0);
    CHECK_STR(c.a.s, c.a.len, "Al.ex@x-y_z");
    CHECK_STR(c.b.s, c.b.len, "zoe");

    n = chat_conv_group(out, S("g-1"));
    CHECK_EQ(chat_conv_parse(out, n, &c), 0);
    CHECK_STR(c.group.s, c.group.len, "g-1");
}


TEST(conv_dm_has)
{
    chat_conv_t  c;

    CHECK_EQ(chat_conv_parse("dm:alice:bob", 12, &c), 0);
    CHECK(chat_conv_dm_has(&c, S("alice")));
    CHECK(chat_conv_dm_has(&c, S("bob")));
    CHECK(!chat_conv_dm_has(&c, S("carol")));
    CHECK(!chat_conv_dm_has(&c, S("ali")));
    CHECK(!chat_conv_dm_has(&c, S("bobby")));

    CHECK_EQ(chat_conv_parse("grp:alice", 9, &c), 0);
    CHECK(!chat_conv_dm_has(&c, S("alice")));
}


int
main(void)
{
    RUN(id_charset);
    RUN(id_length);
    RUN(client_id);
    RUN(conv_dm_orders);
    RUN(conv_dm_longest);
    RUN(conv_group);
    RUN(conv_parse_dm);
    RUN(conv_parse_dm_bad);
    RUN(conv_parse_group);
    RUN(conv_parse_lengths);
    RUN(conv_roundtrip);
    RUN(conv_dm_has);

    return test_summary("ids");
}
