/*
 * The chat-worker's publisher on a real Redis Cluster (3 masters, 3
 * replicas, started by scripts/redis-cluster on loopback, with a
 * password): each publish is an SPUBLISH that reaches the one shard of
 * its channel's slot; a slot moved (CLUSTER SETSLOT) is followed through
 * ASK and MOVED; a master killed is waited out until its replica takes
 * over, and no publish is lost.
 */

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <hiredis/hiredis.h>

#include "test.h"
#include "test_tmpdir.h"
#include "chat_cluster.h"
#include "chat_keys.h"
#include "chat_redis_cluster.h"
#include "chat_worker_conf.h"
#include "chat_worker_log.h"
#include "chat_worker_out.h"
#include "chat_worker_redis.h"


#define NODES     6
#define PASSWORD  "unit-cluster-pw"

static char                  dir[64], cdir[96];
static int                   base;
static chat_worker_conf_t    conf;
static chat_worker_redis_t  *pub;
static chat_worker_out_t     out;


static int
port_free(int port)
{
    int                 fd, ok;
    struct sockaddr_in  a;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0;

    if (fd >= 0) {
        close(fd);
    }

    return ok;
}


/* NODES consecutive free ports, and their bus ports (+10000). */

static int
pick_base(void)
{
    int  b, i, ok;

    srand((unsigned) (getpid() ^ time(NULL)));

    for ( ;; ) {
        b = 20000 + rand() % 25000;

        for (i = 0, ok = 1; i < NODES && ok; i++) {
            ok = port_free(b + i) && port_free(b + i + 10000);
        }

        if (ok) {
            return b;
        }
    }
}


static int
run(const char *fmt, ...)
{
    char     cmd[512];
    va_list  args;

    va_start(args, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, args);
    va_end(args);

    return system(cmd);
}


/* A connection to a node, authenticated. */

static redisContext *
node(int port)
{
    redisReply    *r;
    redisContext  *c;

    c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err) {
        if (c != NULL) {
            redisFree(c);
        }
        return NULL;
    }

    r = redisCommand(c, "AUTH %s", PASSWORD);
    if (r != NULL) {
        freeReplyObject(r);
    }

    return c;
}


static redisReply *
ask(int port, const char *fmt, ...)
{
    va_list        args;
    redisReply    *r;
    redisContext  *c;

    c = node(port);
    if (c == NULL) {
        return NULL;
    }

    va_start(args, fmt);
    r = redisvCommand(c, fmt, args);
    va_end(args);

    redisFree(c);

    return r;
}


static void
node_id(int port, char *id)
{
    redisReply  *r;

    id[0] = '\0';
    r = ask(port, "CLUSTER MYID");

    if (r != NULL && r->type == REDIS_REPLY_STRING && r->len < 64) {
        memcpy(id, r->str, r->len + 1);
    }

    if (r != NULL) {
        freeReplyObject(r);
    }
}


/* The master of slot, from CLUSTER SLOTS of a live node. */

static int
owner(int slot)
{
    int          port, live;
    size_t       j;
    redisReply  *r, *e;

    port = 0;

    for (live = 0; live < NODES; live++) {
        r = ask(base + live, "CLUSTER SLOTS");

        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            if (r != NULL) {
                freeReplyObject(r);
            }
            continue;
        }

        for (j = 0; j < r->elements; j++) {
            e = r->element[j];

            if (e->element[0]->integer <= slot && slot <= e->element[1]->integer) {
                port = (int) e->element[2]->element[1]->integer;
            }
        }

        freeReplyObject(r);
        return port;
    }

    return 0;
}


/* The port of a replica of the master on port (CLUSTER REPLICAS: its
 * replicas as they are now; CLUSTER SLOTS may be older), or 0. */

static int
replica_of(int port)
{
    int          p;
    char         id[64];
    const char  *at;
    redisReply  *r;

    node_id(port, id);
    r = ask(port, "CLUSTER REPLICAS %s", id);
    p = 0;

    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0
        && r->element[0]->type == REDIS_REPLY_STRING)
    {
        at = strstr(r->element[0]->str, "127.0.0.1:");
        p = at ? (int) strtol(at + 10, NULL, 10) : 0;
    }

    if (r != NULL) {
        freeReplyObject(r);
    }

    return p;
}


/* A user id ("u<n>") whose slot the master on port serves. */

static void
user_on(int port, char *user)
{
    int  n;

    for (n = 0; n < 1000; n++) {
        snprintf(user, 16, "u%d", n);

        if (owner(chat_cluster_slot(user, strlen(user))) == port) {
            return;
        }
    }
}


static int
masters(int *ports)
{
    int  i, n, p, k;

    for (i = 0, n = 0; i < CHAT_CLUSTER_SLOTS && n < 3; i += 1000) {
        p = owner(i);

        for (k = 0; k < n && ports[k] != p; k++) { /* void */ }

        if (k == n) {
            ports[n++] = p;
        }
    }

    return n;
}


/* A subscriber to the channel of user on port: "SSUBSCRIBE" or
 * "SUBSCRIBE"; READONLY first on a replica. */

static redisContext *
subscriber(int port, const char *cmd, const char *user, int readonly)
{
    char           ch[64];
    size_t         n;
    redisReply    *r;
    redisContext  *c;

    c = node(port);
    if (c == NULL) {
        return NULL;
    }

    if (readonly) {
        r = redisCommand(c, "READONLY");
        if (r != NULL) {
            freeReplyObject(r);
        }
    }

    n = chat_key(ch, CHAT_KEY_USER_CHANNEL, user, strlen(user));
    r = redisCommand(c, "%s %b", cmd, ch, n);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "  %s on %d: %s\n", cmd, port,
                r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
        if (r != NULL) {
            freeReplyObject(r);
        }
        redisFree(c);
        return NULL;
    }

    freeReplyObject(r);

    return c;
}


/* The next message's payload on a subscriber, within ms; 0 when none
 * came (the connection is then spent). */

static int
message(redisContext *c, int ms, char *payload, size_t size)
{
    void            *v;
    redisReply      *r;
    struct timeval   tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    if (c == NULL || redisSetTimeout(c, tv) != REDIS_OK
        || redisGetReply(c, &v) != REDIS_OK)
    {
        return 0;
    }

    r = v;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        freeReplyObject(r);
        return 0;
    }

    snprintf(payload, size, "%.*s", (int) r->element[2]->len,
             r->element[2]->str);
    freeReplyObject(r);

    return 1;
}


/* Publishes one frame {"n":i} to each user, in one batch. */

static int
publish(const char **users, size_t n)
{
    size_t      i;
    json_t     *f;
    chat_str_t  u;

    chat_worker_out_reset(&out);

    for (i = 0; i < n; i++) {
        f = json_pack("{s:i}", "n", (int) i);
        u.s = users[i];
        u.len = strlen(users[i]);

        CHECK_EQ(chat_worker_out_publish(&out, u, CHAT_WORKER_TARGET_ALL, f),
                 0);
        json_decref(f);
    }

    return chat_worker_redis_publish(pub, &out);
}


TEST(each_publish_reaches_its_shard_only)
{
    int            m[3], i;
    char           users[3][16], got[256], want[32];
    const char    *list[3];
    redisContext  *shard[3], *plain[3];

    CHECK_EQ(masters(m), 3);

    for (i = 0; i < 3; i++) {
        user_on(m[i], users[i]);
        list[i] = users[i];
        shard[i] = subscriber(m[i], "SSUBSCRIBE", users[i], 0);
        /* a plain subscriber elsewhere: a PUBLISH would reach it */
        plain[i] = subscriber(m[(i + 1) % 3], "SUBSCRIBE", users[i], 0);
        CHECK(shard[i] != NULL && plain[i] != NULL);
    }

    CHECK_EQ(publish(list, 3), 3);

    for (i = 0; i < 3; i++) {
        snprintf(want, sizeof(want), "*\n{\"n\":%d}", i);
        CHECK(message(shard[i], 2000, got, sizeof(got)) == 1);
        CHECK(strcmp(got, want) == 0);
        CHECK(message(plain[i], 300, got, sizeof(got)) == 0);

        redisFree(shard[i]);
        redisFree(plain[i]);
    }
}


/* Moves slot from the master on src to the one on dst: first migrating
 * (a key not on src yet is answered ASK), then for good (MOVED). */

static void
setslot(int port, int slot, const char *state, const char *id)
{
    redisReply  *r;

    r = ask(port, "CLUSTER SETSLOT %d %s %s", slot, state, id);
    CHECK(r != NULL && r->type == REDIS_REPLY_STATUS);

    if (r != NULL) {
        freeReplyObject(r);
    }
}


TEST(a_slot_moved_is_followed_through_ask_and_moved)
{
    int            m[3], src, dst, slot, i;
    char           x[16], src_id[64], dst_id[64], got[256];
    const char    *list[1];
    chat_str_t     group, member;
    redisReply    *r;
    redisContext  *s;

    CHECK_EQ(masters(m), 3);
    src = m[0];
    dst = m[1];
    user_on(src, x);
    slot = chat_cluster_slot(x, strlen(x));
    node_id(src, src_id);
    node_id(dst, dst_id);

    /* the publisher knows the map as it is now */
    list[0] = x;
    CHECK_EQ(publish(list, 1), 1);

    setslot(dst, slot, "IMPORTING", src_id);
    setslot(src, slot, "MIGRATING", dst_id);

    /* a group of the same id: its set is not on src, src answers ASK */
    group.s = x;
    group.len = strlen(x);
    member.s = "alice";
    member.len = 5;
    chat_worker_out_reset(&out);
    CHECK_EQ(chat_worker_out_member(&out, CHAT_WORKER_CMD_SADD, group,
                                    member), 0);
    CHECK_EQ(chat_worker_redis_publish(pub, &out), 1);

    /* for good, on every master */
    for (i = 0; i < 3; i++) {
        setslot(m[i], slot, "NODE", dst_id);
    }

    r = ask(dst, "SMEMBERS chat:gm:{%s}", x);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1
          && strcmp(r->element[0]->str, "alice") == 0);
    if (r != NULL) {
        freeReplyObject(r);
    }

    /* the publisher still has src for it: src answers MOVED */
    s = subscriber(dst, "SSUBSCRIBE", x, 0);
    CHECK(s != NULL);
    CHECK_EQ(publish(list, 1), 1);
    CHECK(message(s, 2000, got, sizeof(got)) == 1);
    CHECK(strcmp(got, "*\n{\"n\":0}") == 0);
    redisFree(s);
}


static int64_t
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


TEST(a_master_killed_is_waited_out_and_nothing_is_lost)
{
    int            m[3], replica, i, slot, rc;
    char           users[3][16], got[256], want[32];
    const char    *list[3];
    int64_t        start;
    redisContext  *s;

    CHECK_EQ(masters(m), 3);

    for (i = 0; i < 3; i++) {
        user_on(m[i], users[i]);
        list[i] = users[i];
    }

    /* the replica of users[0]'s master, subscribed before the kill: its
     * subscription goes on when it is promoted */
    slot = chat_cluster_slot(users[0], strlen(users[0]));
    CHECK_EQ(owner(slot), m[0]);
    replica = replica_of(m[0]);
    CHECK(replica != 0);
    s = subscriber(replica, "SSUBSCRIBE", users[0], 1);
    CHECK(s != NULL);

    CHECK_EQ(publish(list, 3), 3);
    CHECK(message(s, 2000, got, sizeof(got)) == 1);

    CHECK_EQ(run("scripts/redis-cluster kill %s %d", cdir, m[0]), 0);

    start = now_ms();
    rc = publish(list, 3);
    fprintf(stderr, "  failover: the batch published after %lld ms\n",
            (long long) (now_ms() - start));
    CHECK_EQ(rc, 3);

    snprintf(want, sizeof(want), "*\n{\"n\":%d}", 0);
    CHECK(message(s, 2000, got, sizeof(got)) == 1);
    CHECK(strcmp(got, want) == 0);
    CHECK_EQ(owner(slot), replica);

    redisFree(s);
}


TEST(a_cluster_out_of_reach_costs_the_budget_and_no_more)
{
    char                       seeds[64], err[256];
    size_t                     answered;
    int64_t                    start, took;
    chat_redis_cluster_t      *c;
    chat_redis_cluster_conf_t  cc;
    chat_redis_cluster_cmd_t   cmd;

    /* nothing listens there */
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d", pick_base());
    memset(&cc, 0, sizeof(cc));
    cc.seeds = seeds;
    cc.timeout = 200;
    c = chat_redis_cluster_new(&cc, err, sizeof(err));
    CHECK(c != NULL);

    memset(&cmd, 0, sizeof(cmd));
    cmd.argc = 3;
    cmd.argv[0] = "SPUBLISH";
    cmd.argv[1] = "chat:u:{x}";
    cmd.argv[2] = "p";
    cmd.argvlen[0] = 8;
    cmd.argvlen[1] = 10;
    cmd.argvlen[2] = 1;

    start = now_ms();
    answered = c ? chat_redis_cluster_run(c, &cmd, 1, 500) : 1;
    took = now_ms() - start;

    CHECK_EQ(answered, 0);
    CHECK(cmd.reply == NULL);
    CHECK(took >= 500 && took < 1500);
    CHECK(c != NULL && strstr(chat_redis_cluster_error(c), "connect") != NULL);

    /* one round, once it is taken for down */
    start = now_ms();
    answered = c ? chat_redis_cluster_run(c, &cmd, 1, 0) : 1;
    CHECK_EQ(answered, 0);
    CHECK(now_ms() - start < 300);

    chat_redis_cluster_free(c);

    /* bad seeds are refused at once */
    cc.seeds = "127.0.0.1:0";
    CHECK(chat_redis_cluster_new(&cc, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "bad Redis Cluster seed") != NULL);
}


static int
setup(void)
{
    FILE  *f;
    char   path[128], flag_pw[160], seeds[64], err[256];
    char  *argv[8];

    if (test_tmpdir(dir, sizeof(dir), "cluster") != 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "%s/redis.password", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "%s\n", PASSWORD);
    fclose(f);
    chmod(path, 0600);

    snprintf(cdir, sizeof(cdir), "%s/cluster", dir);
    base = pick_base();

    if (run("scripts/redis-cluster start %s %d >/dev/null", cdir, base) != 0) {
        fprintf(stderr, "scripts/redis-cluster start failed\n");
        return -1;
    }

    /* one seed of each master is enough; the rest comes from the map */
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d,127.0.0.1:%d", base,
             base + 1);
    snprintf(flag_pw, sizeof(flag_pw), "file:%s", path);

    argv[0] = "chat-worker";
    argv[1] = "--redis-cluster";
    argv[2] = "--redis";
    argv[3] = seeds;
    argv[4] = "--redis-password";
    argv[5] = flag_pw;
    argv[6] = NULL;

    if (chat_worker_conf_parse(&conf, 6, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "conf: %s\n", err);
        return -1;
    }

    chat_worker_out_init(&out);
    pub = chat_worker_redis_new(&conf);

    return pub ? 0 : -1;
}


int
main(void)
{
    int  ok;

    chat_worker_log_set_level(CHAT_LOG_WARN);
    signal(SIGPIPE, SIG_IGN);

    ok = setup() == 0;
    CHECK(ok);

    if (ok) {
        RUN(each_publish_reaches_its_shard_only);
        RUN(a_slot_moved_is_followed_through_ask_and_moved);
        RUN(a_master_killed_is_waited_out_and_nothing_is_lost);
    }

    RUN(a_cluster_out_of_reach_costs_the_budget_and_no_more);

    chat_worker_redis_free(pub);
    chat_worker_out_free(&out);
    chat_worker_conf_free(&conf);
    run("scripts/redis-cluster stop %s", cdir);
    test_tmpdir_remove(dir);

    if (!ok) {
        test_failed++;
    }

    return test_summary("redis_cluster");
}
