/* Redis Cluster's routing rules (common/chat_cluster.c): the slot of a
 * key, MOVED and ASK, and the slot map read from CLUSTER SLOTS replies
 * built here by hand. */

#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "chat_cluster.h"


#define SLOT(lit)  chat_cluster_slot((lit), sizeof(lit) - 1)
#define REDIRECT(lit, r)  chat_cluster_redirect((lit), sizeof(lit) - 1, (r))


TEST(slot_of_known_keys)
{
    /* the values Redis's CLUSTER KEYSLOT gives */
    CHECK_EQ(SLOT("foo"), 12182);
    CHECK_EQ(SLOT("bar"), 5061);
    CHECK_EQ(SLOT("hello"), 866);
    /* CRC16-XMODEM's check value 0x31c3, modulo 16384 */
    CHECK_EQ(SLOT("123456789"), 0x31c3);
    CHECK_EQ(SLOT(""), 0);
}


TEST(slot_of_a_hash_tag)
{
    CHECK_EQ(SLOT("{user1000}.following"), SLOT("{user1000}.followers"));
    CHECK_EQ(SLOT("{user1000}.following"), SLOT("user1000"));
    CHECK_EQ(SLOT("chat:u:{alice}"), SLOT("alice"));
    /* the first tag only */
    CHECK_EQ(SLOT("foo{bar}{zap}"), SLOT("bar"));
    /* an empty tag: the whole key (CLUSTER KEYSLOT's values) */
    CHECK_EQ(SLOT("foo{}{bar}"), 8363);
    /* from the first "{" to the first "}" after it */
    CHECK_EQ(SLOT("foo{{bar}}zap"), 4015);
    CHECK_EQ(SLOT("{bar"), 4015);
    /* no "}": the whole key */
    CHECK_EQ(SLOT("foo{bar"), 15278);
    CHECK_EQ(SLOT("chat:u:{alice}"), 749);
    /* the length decides, not a NUL */
    CHECK_EQ(chat_cluster_slot("{ab}cd", 3), SLOT("{ab"));
}


TEST(redirect_moved_and_ask)
{
    chat_cluster_redirect_t  r;

    CHECK_EQ(REDIRECT("MOVED 3999 127.0.0.1:6381", &r), CHAT_CLUSTER_MOVED);
    CHECK_EQ(r.kind, CHAT_CLUSTER_MOVED);
    CHECK_EQ(r.slot, 3999);
    CHECK(strcmp(r.addr.host, "127.0.0.1") == 0);
    CHECK_EQ(r.addr.port, 6381);

    CHECK_EQ(REDIRECT("ASK 16383 10.0.0.2:7000", &r), CHAT_CLUSTER_ASK);
    CHECK_EQ(r.kind, CHAT_CLUSTER_ASK);
    CHECK_EQ(r.slot, 16383);
    CHECK(strcmp(r.addr.host, "10.0.0.2") == 0);
    CHECK_EQ(r.addr.port, 7000);

    /* IPv6: the port after the last colon */
    CHECK_EQ(REDIRECT("MOVED 0 ::1:7001", &r), CHAT_CLUSTER_MOVED);
    CHECK(strcmp(r.addr.host, "::1") == 0);
    CHECK_EQ(r.addr.port, 7001);

    /* a node that knows no endpoint: an empty host, ask the one that
     * answered */
    CHECK_EQ(REDIRECT("MOVED 12 :7002", &r), CHAT_CLUSTER_MOVED);
    CHECK(strcmp(r.addr.host, "") == 0);
    CHECK_EQ(r.addr.port, 7002);

    /* the length decides: the rest is not read */
    CHECK_EQ(chat_cluster_redirect("MOVED 1 h:80trailing", 12, &r),
             CHAT_CLUSTER_MOVED);
    CHECK_EQ(r.addr.port, 80);
}


TEST(changing_cluster_errors_are_told_from_others)
{
    size_t  i;

    static const char  *changing[] = {
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "CLUSTERDOWN Hash slot not served", "CLUSTERDOWN",
        "MASTERDOWN Link with MASTER is down", "LOADING Redis is loading"
    };
    static const char  *other[] = {
        "ERR unknown command", "MOVED 1 h:1", "ASK 1 h:1", "",
        "TRYAGAINX", "LOAD", "loading Redis is loading", "NOAUTH"
    };

    for (i = 0; i < sizeof(changing) / sizeof(changing[0]); i++) {
        CHECK(chat_cluster_changing(changing[i], strlen(changing[i])) == 1);
    }

    for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        CHECK(chat_cluster_changing(other[i], strlen(other[i])) == 0);
    }
}


TEST(redirect_refuses_other_errors_and_malformed_ones)
{
    size_t                   i;
    chat_cluster_redirect_t  r;

    static const char  *bad[] = {
        /* other errors */
        "ERR unknown command", "CLUSTERDOWN Hash slot not served",
        "TRYAGAIN Multiple keys", "", "moved 1 h:1",
        /* cut short */
        "MOVED", "MOVED ", "MOVED 1", "MOVED 1 ",
        /* the slot: out of range, not a number, signed, absent */
        "MOVED 16384 h:1", "MOVED 99999999999999999999 h:1", "MOVED x h:1",
        "MOVED -1 h:1", "MOVED  h:1", "ASK 1x h:1",
        /* the port: absent, empty, zero, too large, not a number,
         * followed by more */
        "MOVED 1 host", "MOVED 1 host:", "MOVED 1 host:0",
        "MOVED 1 host:65536", "MOVED 1 host:http", "MOVED 1 host:80 ",
        "MOVED 1 host:80 extra",
        /* a host too long for an address */
        "MOVED 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaa:80"
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (chat_cluster_redirect(bad[i], strlen(bad[i]), &r)
            != CHAT_CLUSTER_NO_REDIRECT)
        {
            fprintf(stderr, "  taken as a redirection: \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }

    CHECK_EQ(chat_cluster_redirect(NULL, 0, &r), CHAT_CLUSTER_NO_REDIRECT);
    /* a NUL inside */
    CHECK_EQ(chat_cluster_redirect("MOVED 1 h\0st:80", 15, &r),
             CHAT_CLUSTER_NO_REDIRECT);
}


/* ------------------------------------------------ CLUSTER SLOTS replies */

typedef struct {
    redisReply   r[64];
    redisReply  *p[128];
    size_t       nr, np;
} tree_t;

static redisReply *
tree_int(tree_t *t, long long v)
{
    redisReply  *r = &t->r[t->nr++];

    memset(r, 0, sizeof(*r));
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static redisReply *
tree_str(tree_t *t, const char *s)
{
    redisReply  *r = &t->r[t->nr++];

    memset(r, 0, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = (char *) s;
    r->len = strlen(s);
    return r;
}

static redisReply *
tree_array(tree_t *t, size_t n, redisReply **elements)
{
    redisReply  *r = &t->r[t->nr++];

    memset(r, 0, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = &t->p[t->np];
    memcpy(&t->p[t->np], elements, n * sizeof(*elements));
    t->np += n;
    return r;
}

static redisReply *
tree_node(tree_t *t, const char *host, long long port)
{
    redisReply  *e[3];

    e[0] = tree_str(t, host);
    e[1] = tree_int(t, port);
    e[2] = tree_str(t, "0123456789abcdef");
    return tree_array(t, 3, e);
}

/* [start, end, master, one replica] */
static redisReply *
tree_range(tree_t *t, long long start, long long end, const char *host,
    long long port)
{
    redisReply  *e[4];

    e[0] = tree_int(t, start);
    e[1] = tree_int(t, end);
    e[2] = tree_node(t, host, port);
    e[3] = tree_node(t, host, port + 100);
    return tree_array(t, 4, e);
}


TEST(map_of_three_masters)
{
    tree_t               t = { .nr = 0 };
    redisReply          *ranges[4], *reply;
    char                 err[128];
    chat_cluster_map_t   map;
    chat_cluster_addr_t  a;

    ranges[0] = tree_range(&t, 0, 5460, "127.0.0.1", 7000);
    ranges[1] = tree_range(&t, 5461, 10922, "127.0.0.1", 7001);
    ranges[2] = tree_range(&t, 10923, 16000, "127.0.0.1", 7002);
    /* a master with two ranges is one node */
    ranges[3] = tree_range(&t, 16001, 16383, "127.0.0.1", 7000);
    reply = tree_array(&t, 4, ranges);

    CHECK_EQ(chat_cluster_map_parse(reply, "10.9.9.9", &map, err,
                                    sizeof(err)), 0);
    CHECK_EQ(map.nnodes, 3);
    CHECK_EQ(chat_cluster_map_owner(&map, 0), 0);
    CHECK_EQ(chat_cluster_map_owner(&map, 5460), 0);
    CHECK_EQ(chat_cluster_map_owner(&map, 5461), 1);
    CHECK_EQ(chat_cluster_map_owner(&map, 12182), 2);
    CHECK_EQ(chat_cluster_map_owner(&map, 16383), 0);
    CHECK_EQ(chat_cluster_map_owner(&map, 16384), -1);
    CHECK(strcmp(map.nodes[1].host, "127.0.0.1") == 0);
    CHECK_EQ(map.nodes[1].port, 7001);

    strcpy(a.host, "127.0.0.1");
    a.port = 7002;
    CHECK_EQ(chat_cluster_map_find(&map, &a), 2);
    /* a replica is no master */
    a.port = 7100;
    CHECK_EQ(chat_cluster_map_find(&map, &a), -1);

    chat_cluster_map_free(&map);
    CHECK_EQ(map.nnodes, 0);
    CHECK(map.nodes == NULL);
}


TEST(map_leaves_unserved_slots_without_owner)
{
    tree_t               t = { .nr = 0 };
    redisReply          *ranges[1], *reply;
    char                 err[128];
    chat_cluster_map_t   map;

    ranges[0] = tree_range(&t, 100, 200, "h", 1);
    reply = tree_array(&t, 1, ranges);

    CHECK_EQ(chat_cluster_map_parse(reply, "d", &map, err, sizeof(err)), 0);
    CHECK_EQ(chat_cluster_map_owner(&map, 99), -1);
    CHECK_EQ(chat_cluster_map_owner(&map, 100), 0);
    CHECK_EQ(chat_cluster_map_owner(&map, 201), -1);
    chat_cluster_map_free(&map);

    /* no range at all: a cluster with no slot served */
    t.nr = t.np = 0;
    reply = tree_array(&t, 0, ranges);
    CHECK_EQ(chat_cluster_map_parse(reply, "d", &map, err, sizeof(err)), 0);
    CHECK_EQ(map.nnodes, 0);
    CHECK_EQ(chat_cluster_map_owner(&map, 0), -1);
    chat_cluster_map_free(&map);
}


TEST(map_gives_an_empty_host_the_default)
{
    tree_t               t = { .nr = 0 };
    redisReply          *ranges[2], *reply;
    char                 err[128];
    chat_cluster_map_t   map;

    ranges[0] = tree_range(&t, 0, 8191, "", 7000);
    ranges[1] = tree_range(&t, 8192, 16383, "127.0.0.2", 7001);
    reply = tree_array(&t, 2, ranges);

    CHECK_EQ(chat_cluster_map_parse(reply, "127.0.0.9", &map, err,
                                    sizeof(err)), 0);
    CHECK_EQ(map.nnodes, 2);
    CHECK(strcmp(map.nodes[0].host, "127.0.0.9") == 0);
    CHECK(strcmp(map.nodes[1].host, "127.0.0.2") == 0);
    chat_cluster_map_free(&map);
}


/* A bad reply: -1, a reason, an empty map. */
static void
check_refused(const redisReply *reply, const char *reason)
{
    char                 err[128];
    chat_cluster_map_t   map;

    err[0] = '\0';
    CHECK_EQ(chat_cluster_map_parse(reply, "d", &map, err, sizeof(err)), -1);
    CHECK(strstr(err, reason) != NULL);
    CHECK_EQ(map.nnodes, 0);
    CHECK(map.nodes == NULL);
    CHECK_EQ(chat_cluster_map_owner(&map, 0), -1);
    CHECK_EQ(chat_cluster_map_owner(&map, 16383), -1);
}


TEST(map_refuses_overlapping_and_out_of_range)
{
    tree_t       t = { .nr = 0 };
    redisReply  *ranges[2];

    ranges[0] = tree_range(&t, 0, 100, "h", 1);
    ranges[1] = tree_range(&t, 100, 16383, "h", 2);
    check_refused(tree_array(&t, 2, ranges), "two ranges");

    t.nr = t.np = 0;
    ranges[0] = tree_range(&t, 0, 16384, "h", 1);
    check_refused(tree_array(&t, 1, ranges), "out of bounds");

    t.nr = t.np = 0;
    ranges[0] = tree_range(&t, -1, 5, "h", 1);
    check_refused(tree_array(&t, 1, ranges), "out of bounds");

    t.nr = t.np = 0;
    ranges[0] = tree_range(&t, 10, 5, "h", 1);
    check_refused(tree_array(&t, 1, ranges), "out of bounds");
}


TEST(map_refuses_replies_of_another_shape)
{
    tree_t       t = { .nr = 0 };
    redisReply  *e[4], *ranges[1], *node;
    char         host[CHAT_CLUSTER_HOST_MAX + 1];

    /* not an array: an error reply, an integer; no reply */
    check_refused(tree_str(&t, "ERR This instance has cluster support "
                               "disabled"), "no array");
    check_refused(tree_int(&t, 3), "no array");
    check_refused(NULL, "no array");

    /* a range that is no array, too short, with string bounds */
    t.nr = t.np = 0;
    ranges[0] = tree_int(&t, 1);
    check_refused(tree_array(&t, 1, ranges), "a range");

    t.nr = t.np = 0;
    e[0] = tree_int(&t, 0);
    e[1] = tree_int(&t, 5);
    ranges[0] = tree_array(&t, 2, e);
    check_refused(tree_array(&t, 1, ranges), "a range");

    t.nr = t.np = 0;
    e[0] = tree_str(&t, "0");
    e[1] = tree_int(&t, 5);
    e[2] = tree_node(&t, "h", 1);
    ranges[0] = tree_array(&t, 3, e);
    check_refused(tree_array(&t, 1, ranges), "a range");

    /* a master that is no array, a port of the wrong type or range, a
     * host of the wrong type */
    t.nr = t.np = 0;
    e[0] = tree_int(&t, 0);
    e[1] = tree_int(&t, 5);
    e[2] = tree_str(&t, "h:1");
    ranges[0] = tree_array(&t, 3, e);
    check_refused(tree_array(&t, 1, ranges), "a node");

    t.nr = t.np = 0;
    node = tree_node(&t, "h", 1);
    node->element[1] = tree_str(&t, "7000");
    e[0] = tree_int(&t, 0);
    e[1] = tree_int(&t, 5);
    e[2] = node;
    ranges[0] = tree_array(&t, 3, e);
    check_refused(tree_array(&t, 1, ranges), "another type");

    t.nr = t.np = 0;
    ranges[0] = tree_range(&t, 0, 5, "h", 70000);
    check_refused(tree_array(&t, 1, ranges), "another type");

    t.nr = t.np = 0;
    node = tree_node(&t, "h", 1);
    node->element[0] = tree_int(&t, 127);
    e[0] = tree_int(&t, 0);
    e[1] = tree_int(&t, 5);
    e[2] = node;
    ranges[0] = tree_array(&t, 3, e);
    check_refused(tree_array(&t, 1, ranges), "another type");

    /* a host longer than an address holds */
    t.nr = t.np = 0;
    memset(host, 'a', CHAT_CLUSTER_HOST_MAX);
    host[CHAT_CLUSTER_HOST_MAX] = '\0';
    ranges[0] = tree_range(&t, 0, 5, host, 1);
    check_refused(tree_array(&t, 1, ranges), "longer");

    /* a bad second range empties the map the first one filled */
    t.nr = t.np = 0;
    e[0] = tree_range(&t, 0, 5, "h", 1);
    e[1] = tree_int(&t, 9);
    check_refused(tree_array(&t, 2, e), "a range");
}


int
main(void)
{
    RUN(slot_of_known_keys);
    RUN(slot_of_a_hash_tag);
    RUN(redirect_moved_and_ask);
    RUN(changing_cluster_errors_are_told_from_others);
    RUN(redirect_refuses_other_errors_and_malformed_ones);
    RUN(map_of_three_masters);
    RUN(map_leaves_unserved_slots_without_owner);
    RUN(map_gives_an_empty_host_the_default);
    RUN(map_refuses_overlapping_and_out_of_range);
    RUN(map_refuses_replies_of_another_shape);

    return test_summary("cluster");
}
