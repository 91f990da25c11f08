/*
 * Presence (docs/PROTOCOL.md 4): online while any device of the user is
 * connected anywhere; "offline", with last_seen, only after a grace period
 * without any; changes delivered to the connections that asked for them.
 *
 * State lives in Redis, one hash per user, changed only by the script of
 * ngx_chat_presence_lua.h. Liveness is kept per nginx worker, not per
 * user: each worker is an "instance" that beats (ZADD chat:insts <now>)
 * every chat_presence_ttl / 3, and lists the users it answers for in the
 * set chat:iu:<instance>. An instance that stops beating for
 * chat_presence_ttl (a crashed worker, a lost node) is claimed by another
 * worker (ZREM is the claim: one wins), which takes its users' devices off
 * and settles them. So a heartbeat costs one command per worker, not one
 * per user, and a crashed worker's users still go offline by themselves.
 *
 * The grace period runs on the worker that took a user's last device off:
 * a cancelable timer per user in grace, which then settles the user. If
 * that worker dies first, its instance is claimed as above, and the
 * claimer settles.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_presence_lua.h"

#include <openssl/rand.h>
#include <openssl/sha.h>


#define NGX_CHAT_PRESENCE_CLAIMS    "8"       /* dead instances per sweep */
#define NGX_CHAT_PRESENCE_INST_LEN  (NGX_MAXHOSTNAMELEN + NGX_INT64_LEN + 18)


/* A user this worker takes down: downs in flight, then the grace period.
 * One per user, so the user stays in our set until the last is settled. */
typedef struct {
    ngx_str_node_t          sn;
    ngx_event_t             timer;
    int64_t                 last_seen;
    ngx_uint_t              replies;         /* downs in flight */
    u_char                  name[CHAT_ID_MAX];
} ngx_chat_grace_t;


/* A dead instance being claimed. */
typedef struct {
    int64_t                 beat;
    size_t                  len;
    u_char                  name[1];
} ngx_chat_dead_t;


typedef struct {
    ngx_flag_t              enabled;
    ngx_msec_t              ttl;
    ngx_msec_t              grace;

    ngx_str_t               inst;
    u_char                  inst_data[NGX_CHAT_PRESENCE_INST_LEN];
    ngx_str_t               users_of;        /* chat:iu:<inst> */
    u_char                  users_of_data[CHAT_KEY_LEN(CHAT_KEY_INSTANCE_USERS,
                                              NGX_CHAT_PRESENCE_INST_LEN)];
    u_char                  sha[SHA_DIGEST_LENGTH * 2];

    ngx_event_t             beat;
    ngx_uint_t              registered;      /* our first beat was sent */

    ngx_rbtree_t            graces;
    ngx_rbtree_node_t       graces_sentinel;
} ngx_chat_presence_t;


static void ngx_chat_presence_on_ready(void);
static void ngx_chat_presence_beat(ngx_event_t *ev);
static void ngx_chat_presence_beat_reply(redisReply *reply, void *data);
static void ngx_chat_presence_sweep_reply(redisReply *reply, void *data);
static void ngx_chat_presence_claim_reply(redisReply *reply, void *data);
static void ngx_chat_presence_adopt_reply(redisReply *reply, void *data);
static void ngx_chat_presence_reconcile_reply(redisReply *reply,
    void *data);
static ngx_int_t ngx_chat_presence_take_down(ngx_str_t *user,
    ngx_str_t *inst, int64_t last_seen);
static void ngx_chat_presence_down_reply(redisReply *reply, void *data);
static void ngx_chat_presence_settle(ngx_event_t *ev);
static void ngx_chat_presence_forget(ngx_str_t *user);
static ngx_int_t ngx_chat_presence_eval(ngx_str_t *user, const char *op,
    ngx_str_t *args, ngx_uint_t nargs, ngx_chat_redis_reply_pt handler,
    void *data);
static void ngx_chat_presence_eval_reply(redisReply *reply, void *data);
static void ngx_chat_presence_load_script(void);
static ngx_chat_grace_t *ngx_chat_presence_grace(ngx_str_t *user);
static void ngx_chat_presence_grace_done(ngx_chat_grace_t *g);
static ngx_str_t *ngx_chat_presence_arg_ms(ngx_str_t *arg, u_char *buf,
    int64_t ms);


static ngx_chat_presence_t  ngx_chat_presence;


ngx_uint_t
ngx_chat_presence_enabled(void)
{
    return ngx_chat_presence.enabled;
}


ngx_int_t
ngx_chat_presence_init(ngx_cycle_t *cycle, ngx_chat_main_conf_t *cmcf)
{
    u_char               rnd[4], digest[SHA_DIGEST_LENGTH];
    ngx_chat_presence_t  *p = &ngx_chat_presence;

    ngx_rbtree_init(&p->graces, &p->graces_sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_chat_delivery_on_user(ngx_chat_presence_up, ngx_chat_presence_down);

    if (cmcf->redis == NULL) {
        return NGX_OK;
    }

    p->enabled = 1;
    p->ttl = cmcf->presence_ttl;
    p->grace = cmcf->presence_grace;

    /* a pid is reused across restarts; random bytes tell them apart */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NGX_ERROR;
    }

    p->inst.data = p->inst_data;
    p->inst.len = ngx_snprintf(p->inst_data, NGX_CHAT_PRESENCE_INST_LEN,
                               "%V:%P:%02xd%02xd%02xd%02xd",
                               &cycle->hostname, ngx_pid,
                               rnd[0], rnd[1], rnd[2], rnd[3])
                  - p->inst_data;

    p->users_of.data = p->users_of_data;
    p->users_of.len = chat_key((char *) p->users_of_data,
                               CHAT_KEY_INSTANCE_USERS,
                               (char *) p->inst.data, p->inst.len);

    SHA1((u_char *) NGX_CHAT_PRESENCE_LUA,
         sizeof(NGX_CHAT_PRESENCE_LUA) - 1, digest);
    ngx_hex_dump(p->sha, digest, SHA_DIGEST_LENGTH);

    ngx_chat_timer_init(&p->beat, ngx_chat_presence_beat, cycle->log);

    return ngx_chat_pubsub_on_ready(NGX_CHAT_PUBSUB_COMMAND,
                                    ngx_chat_presence_on_ready);
}


/*
 * The worker is going: its users' devices here are taken off (their grace
 * timers would die with it), and this instance is marked dead at once, so
 * that another worker settles them after the grace period rather than
 * after the TTL. Best effort: what does not make it out now is what a
 * crash would have lost, and the TTL covers that.
 */
void
ngx_chat_presence_exit(void)
{
    u_char             ls[NGX_INT64_LEN], grace[NGX_INT64_LEN];
    ngx_str_t          argv[4], args[4];
    ngx_chat_user_t   *u;

    if (!ngx_chat_presence.enabled) {
        return;
    }

    if (ngx_chat_presence.beat.timer_set) {
        ngx_del_timer(&ngx_chat_presence.beat);
    }

    args[0] = ngx_chat_presence.inst;
    ngx_chat_presence_arg_ms(&args[1], ls, ngx_chat_now_ms());
    args[2] = args[1];
    ngx_chat_presence_arg_ms(&args[3], grace, ngx_chat_presence.grace);

    for (u = ngx_chat_delivery_first(); u; u = ngx_chat_delivery_next(u)) {
        (void) ngx_chat_presence_eval(&u->sn.str, "down", args, 4, NULL,
                                      NULL);
    }

    ngx_str_set(&argv[0], "ZADD");
    ngx_str_set(&argv[1], CHAT_KEY_INSTANCES);
    ngx_str_set(&argv[2], "0");
    argv[3] = ngx_chat_presence.inst;

    if (ngx_chat_presence_command(1, NULL, NULL, 4, argv) == NGX_OK) {
        ngx_chat_cluster_flush_now();
    }

    ngx_chat_presence.enabled = 0;
}


/* ------------------------------------------------------------ devices */


/* The first device of u on this worker connected. */
void
ngx_chat_presence_up(ngx_chat_user_t *u)
{
    u_char     now[NGX_INT64_LEN];
    ngx_str_t  argv[3], args[2];

    if (!ngx_chat_presence.enabled) {
        return;
    }

    ngx_str_set(&argv[0], "SADD");
    argv[1] = ngx_chat_presence.users_of;
    argv[2] = u->sn.str;

    if (ngx_chat_presence_command(1, NULL, NULL, 3, argv) != NGX_OK) {
        return;    /* done again when Redis is back */
    }

    args[0] = ngx_chat_presence.inst;
    ngx_chat_presence_arg_ms(&args[1], now, ngx_chat_now_ms());

    (void) ngx_chat_presence_eval(&u->sn.str, "up", args, 2,
                                  ngx_chat_presence_eval_reply, NULL);
}


/* The last device of u on this worker went away. */
void
ngx_chat_presence_down(ngx_chat_user_t *u)
{
    if (ngx_chat_presence.enabled) {
        (void) ngx_chat_presence_take_down(&u->sn.str,
                                           &ngx_chat_presence.inst,
                                           ngx_chat_now_ms());
    }
}


/*
 * Takes the devices of instance inst off user; when none is left, the
 * reply says when the grace period ends, and this worker settles the user
 * then. The user is in our chat:iu set until settled, so that if we die
 * in the meantime, whoever claims us settles them.
 */
static ngx_int_t
ngx_chat_presence_take_down(ngx_str_t *user, ngx_str_t *inst,
    int64_t last_seen)
{
    u_char             ls[NGX_INT64_LEN], now[NGX_INT64_LEN],
                       grace[NGX_INT64_LEN];
    ngx_int_t          rc;
    ngx_str_t          args[4];
    ngx_chat_grace_t  *g;

    g = ngx_chat_presence_grace(user);
    if (g == NULL) {
        return NGX_ERROR;
    }

    args[0] = *inst;
    ngx_chat_presence_arg_ms(&args[1], ls, last_seen);
    ngx_chat_presence_arg_ms(&args[2], now, ngx_chat_now_ms());
    ngx_chat_presence_arg_ms(&args[3], grace, ngx_chat_presence.grace);

    rc = ngx_chat_presence_eval(user, "down", args, 4,
                                ngx_chat_presence_down_reply, g);
    if (rc == NGX_OK) {
        g->replies++;
    }

    ngx_chat_presence_grace_done(g);

    return rc;
}


static void
ngx_chat_presence_down_reply(redisReply *reply, void *data)
{
    int64_t            due;
    ngx_chat_grace_t  *g = data;

    g->replies--;

    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0) {
        g->last_seen = reply->integer;
        due = g->last_seen + (int64_t) ngx_chat_presence.grace
              - ngx_chat_now_ms();

        /* not a lazy re-arm: ngx_add_timer() keeps an expiry that is
         * within 300 ms of the new one, and the grace would end early */
        if (g->timer.timer_set) {
            ngx_del_timer(&g->timer);
        }

        ngx_add_timer(&g->timer, due > 0 ? (ngx_msec_t) due : 0);

    } else {
        ngx_chat_presence_eval_reply(reply, NULL);
    }

    ngx_chat_presence_grace_done(g);
}


/* The grace period of a user is over: offline, unless they came back. */
static void
ngx_chat_presence_settle(ngx_event_t *ev)
{
    u_char             ls[NGX_INT64_LEN];
    ngx_str_t          args[1];
    ngx_chat_grace_t  *g;

    g = ngx_chat_event_owner(ev, ngx_chat_grace_t, timer);

    /* a newer down is in flight: its reply decides */
    if (g->replies == 0 && ngx_chat_delivery_lookup(&g->sn.str) == NULL) {
        ngx_chat_presence_arg_ms(&args[0], ls, g->last_seen);

        (void) ngx_chat_presence_eval(&g->sn.str, "settle", args, 1,
                                      ngx_chat_presence_eval_reply, NULL);
    }

    ngx_chat_presence_grace_done(g);
}


/* This worker no longer answers for user (unless they are back here). */
static void
ngx_chat_presence_forget(ngx_str_t *user)
{
    ngx_str_t  argv[3];

    if (ngx_chat_delivery_lookup(user)) {
        return;
    }

    ngx_str_set(&argv[0], "SREM");
    argv[1] = ngx_chat_presence.users_of;
    argv[2] = *user;

    (void) ngx_chat_presence_command(1, NULL, NULL, 3, argv);
}


static ngx_chat_grace_t *
ngx_chat_presence_grace(ngx_str_t *user)
{
    uint32_t           hash;
    ngx_chat_grace_t  *g;

    hash = ngx_crc32_short(user->data, user->len);
    g = (ngx_chat_grace_t *) ngx_str_rbtree_lookup(&ngx_chat_presence.graces,
                                                  user, hash);
    if (g) {
        return g;
    }

    g = ngx_calloc(sizeof(ngx_chat_grace_t), ngx_cycle->log);
    if (g == NULL) {
        return NULL;
    }

    ngx_memcpy(g->name, user->data, user->len);
    g->sn.str.data = g->name;
    g->sn.str.len = user->len;
    g->sn.node.key = hash;
    ngx_rbtree_insert(&ngx_chat_presence.graces, &g->sn.node);

    ngx_chat_timer_init(&g->timer, ngx_chat_presence_settle, ngx_cycle->log);

    return g;
}


/*
 * Once no down is in flight and no grace period runs for the user here,
 * this worker no longer answers for them (unless they are back here).
 */
static void
ngx_chat_presence_grace_done(ngx_chat_grace_t *g)
{
    if (g->replies || g->timer.timer_set) {
        return;
    }

    ngx_chat_presence_forget(&g->sn.str);
    ngx_rbtree_delete(&ngx_chat_presence.graces, &g->sn.node);
    ngx_free(g);
}


/* ------------------------------------------------- instances, liveness */


/*
 * The command connection is (back): the script is loaded, this instance
 * beats, every local user is up again, and users we answered for but no
 * longer hold (their down was lost with the connection) are taken down.
 */
static void
ngx_chat_presence_on_ready(void)
{
    ngx_str_t         argv[2];
    ngx_chat_user_t  *u;

    if (!ngx_chat_presence.enabled) {
        return;
    }

    ngx_chat_presence_load_script();

    ngx_chat_presence.registered = 0;
    ngx_chat_presence_beat(&ngx_chat_presence.beat);

    for (u = ngx_chat_delivery_first(); u; u = ngx_chat_delivery_next(u)) {
        ngx_chat_presence_up(u);
    }

    ngx_str_set(&argv[0], "SMEMBERS");
    argv[1] = ngx_chat_presence.users_of;

    (void) ngx_chat_presence_command(1, ngx_chat_presence_reconcile_reply, NULL, 2,
                                 argv);
}


static void
ngx_chat_presence_reconcile_reply(redisReply *reply, void *data)
{
    size_t      i;
    ngx_str_t   user;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return;
    }

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }

        user.data = (u_char *) reply->element[i]->str;
        user.len = reply->element[i]->len;

        if (user.len <= CHAT_ID_MAX
            && ngx_chat_delivery_lookup(&user) == NULL)
        {
            (void) ngx_chat_presence_take_down(&user,
                                               &ngx_chat_presence.inst,
                                               ngx_chat_now_ms());
        }
    }
}


/*
 * Every ttl / 3: this instance beats, and looks for instances that have
 * not beaten for a ttl.
 */
static void
ngx_chat_presence_beat(ngx_event_t *ev)
{
    u_char     now[NGX_INT64_LEN], dead[NGX_INT64_LEN];
    ngx_str_t  argv[8];
    int64_t    ms;

    ngx_add_timer(&ngx_chat_presence.beat, ngx_chat_presence.ttl / 3);

    ms = ngx_chat_now_ms();

    ngx_str_set(&argv[0], "ZADD");
    ngx_str_set(&argv[1], CHAT_KEY_INSTANCES);
    ngx_chat_presence_arg_ms(&argv[2], now, ms);
    argv[3] = ngx_chat_presence.inst;

    if (ngx_chat_presence_command(1, ngx_chat_presence_beat_reply, NULL, 4, argv)
        != NGX_OK)
    {
        return;
    }

    ngx_str_set(&argv[0], "ZRANGEBYSCORE");
    ngx_str_set(&argv[2], "-inf");
    ngx_chat_presence_arg_ms(&argv[3], dead,
                             ms - (int64_t) ngx_chat_presence.ttl);
    ngx_str_set(&argv[4], "WITHSCORES");
    ngx_str_set(&argv[5], "LIMIT");
    ngx_str_set(&argv[6], "0");
    ngx_str_set(&argv[7], NGX_CHAT_PRESENCE_CLAIMS);

    (void) ngx_chat_presence_command(1, ngx_chat_presence_sweep_reply, NULL, 8,
                                 argv);
}


/*
 * ZADD answers 1 when it added us: on a beat after the first, that means
 * another worker took us for dead and took our users' devices off. They
 * are put back.
 */
static void
ngx_chat_presence_beat_reply(redisReply *reply, void *data)
{
    ngx_chat_user_t  *u;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        return;
    }

    if (ngx_chat_presence.registered && reply->integer == 1) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chat: presence instance \"%V\" was taken for dead, "
                      "announcing its users again", &ngx_chat_presence.inst);

        for (u = ngx_chat_delivery_first(); u; u = ngx_chat_delivery_next(u)) {
            ngx_chat_presence_up(u);
        }
    }

    ngx_chat_presence.registered = 1;
}


/* Instances that stopped beating: each is claimed (ZREM; one worker wins). */
static void
ngx_chat_presence_sweep_reply(redisReply *reply, void *data)
{
    size_t            i;
    ngx_str_t         argv[3];
    redisReply       *name, *score;
    ngx_chat_dead_t  *dead;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return;
    }

    for (i = 0; i + 1 < reply->elements; i += 2) {
        name = reply->element[i];
        score = reply->element[i + 1];

        if (name->type != REDIS_REPLY_STRING
            || score->type != REDIS_REPLY_STRING
            || (name->len == ngx_chat_presence.inst.len
                && ngx_strncmp(name->str, ngx_chat_presence.inst.data,
                               name->len) == 0))
        {
            continue;
        }

        dead = ngx_alloc(sizeof(ngx_chat_dead_t) + name->len, ngx_cycle->log);
        if (dead == NULL) {
            return;
        }

        /* 0: it exited and took its devices off itself (see exit) */
        dead->beat = ngx_atoof((u_char *) score->str, score->len);
        if (dead->beat <= 0) {
            dead->beat = ngx_chat_now_ms();
        }
        dead->len = name->len;
        ngx_memcpy(dead->name, name->str, name->len);

        ngx_str_set(&argv[0], "ZREM");
        ngx_str_set(&argv[1], CHAT_KEY_INSTANCES);
        argv[2].data = dead->name;
        argv[2].len = dead->len;

        if (ngx_chat_presence_command(1, ngx_chat_presence_claim_reply, dead, 3,
                                  argv)
            != NGX_OK)
        {
            ngx_free(dead);
        }
    }
}


/* Ours to clean up when our ZREM removed it: read the users it held. */
static void
ngx_chat_presence_claim_reply(redisReply *reply, void *data)
{
    u_char           *key;
    ngx_str_t         argv[2];
    ngx_chat_dead_t  *dead = data;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || reply->integer != 1)
    {
        ngx_free(dead);
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "chat: presence instance \"%*s\" stopped, taking its "
                  "users offline", dead->len, dead->name);

    key = ngx_alloc(CHAT_KEY_LEN(CHAT_KEY_INSTANCE_USERS, dead->len),
                    ngx_cycle->log);
    if (key == NULL) {
        ngx_free(dead);
        return;
    }

    ngx_str_set(&argv[0], "SMEMBERS");
    argv[1].data = key;
    argv[1].len = chat_key((char *) key, CHAT_KEY_INSTANCE_USERS,
                           (char *) dead->name, dead->len);

    if (ngx_chat_presence_command(1, ngx_chat_presence_adopt_reply, dead, 2, argv)
        != NGX_OK)
    {
        ngx_free(dead);
    }

    ngx_free(key);
}


/*
 * The users of a dead instance become ours (so that they are settled even
 * if we die too), and its devices are taken off them, last seen at its
 * last beat; each is then removed from its set. When our connection
 * cannot take more commands (a dead instance with very many users), the
 * instance is put back as dead, and a later sweep goes on from there.
 */
static void
ngx_chat_presence_adopt_reply(redisReply *reply, void *data)
{
    size_t            i;
    u_char           *key, score[NGX_INT64_LEN];
    ngx_str_t         argv[4], user, inst, set;
    ngx_chat_dead_t  *dead = data;

    key = ngx_alloc(CHAT_KEY_LEN(CHAT_KEY_INSTANCE_USERS, dead->len),
                    ngx_cycle->log);

    if (key == NULL || reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        goto done;
    }

    inst.data = dead->name;
    inst.len = dead->len;
    set.data = key;
    set.len = chat_key((char *) key, CHAT_KEY_INSTANCE_USERS,
                       (char *) inst.data, inst.len);

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING
            || reply->element[i]->len > CHAT_ID_MAX)
        {
            continue;
        }

        user.data = (u_char *) reply->element[i]->str;
        user.len = reply->element[i]->len;

        ngx_str_set(&argv[0], "SADD");
        argv[1] = ngx_chat_presence.users_of;
        argv[2] = user;

        if (ngx_chat_presence_command(1, NULL, NULL, 3, argv) != NGX_OK
            || ngx_chat_presence_take_down(&user, &inst, dead->beat)
               != NGX_OK)
        {
            break;
        }

        ngx_str_set(&argv[0], "SREM");
        argv[1] = set;
        (void) ngx_chat_presence_command(1, NULL, NULL, 3, argv);
    }

    if (i < reply->elements) {
        ngx_str_set(&argv[0], "ZADD");
        ngx_str_set(&argv[1], CHAT_KEY_INSTANCES);
        ngx_chat_presence_arg_ms(&argv[2], score, dead->beat);
        argv[3] = inst;

        (void) ngx_chat_presence_command(1, NULL, NULL, 4, argv);
    }

done:

    if (key) {
        ngx_free(key);
    }

    ngx_free(dead);
}


/* -------------------------------------------------------------- Redis */


/* EVALSHA of the presence script on chat:p:<user>. */
static ngx_int_t
ngx_chat_presence_eval(ngx_str_t *user, const char *op, ngx_str_t *args,
    ngx_uint_t nargs, ngx_chat_redis_reply_pt handler, void *data)
{
    u_char      key[CHAT_KEY_LEN(CHAT_KEY_PRESENCE, CHAT_ID_MAX)];
    ngx_str_t   argv[11];
    ngx_uint_t  i;

    ngx_str_set(&argv[0], "EVALSHA");
    argv[1].data = ngx_chat_presence.sha;
    argv[1].len = sizeof(ngx_chat_presence.sha);
    ngx_str_set(&argv[2], "1");
    argv[3].data = key;
    argv[3].len = chat_key((char *) key, CHAT_KEY_PRESENCE,
                           (char *) user->data, user->len);
    argv[4].data = (u_char *) op;
    argv[4].len = ngx_strlen(op);
    argv[5] = *user;

    for (i = 0; i < nargs && i < 4; i++) {
        argv[6 + i] = args[i];
    }

    /* the script publishes on the user's presence channel, which has the
     * slot of its key: SPUBLISH, on that shard, in a cluster */
    if (ngx_chat_cluster_on()) {
        ngx_str_set(&argv[6 + i], "SPUBLISH");
        i++;
    }

    return ngx_chat_presence_command(3, handler, data, 6 + i, argv);
}


/*
 * Replies that only matter when they are errors. A lost script is loaded
 * again; the change that failed is redone by the next reconnect's
 * reconciliation at worst.
 */
static void
ngx_chat_presence_eval_reply(redisReply *reply, void *data)
{
    if (ngx_chat_redis_script_failed(reply, "presence script")) {
        ngx_chat_presence_load_script();
    }
}


static void
ngx_chat_presence_load_script(void)
{
    ngx_str_t  argv[3];

    if (!ngx_chat_presence.enabled) {
        return;
    }

    ngx_str_set(&argv[0], "SCRIPT");
    ngx_str_set(&argv[1], "LOAD");
    ngx_str_set(&argv[2], NGX_CHAT_PRESENCE_LUA);

    /* on every master: a NOSCRIPT on one of them (failed over, flushed)
     * loads it there, and again where it is already */
    ngx_chat_cluster_command_all(ngx_chat_presence_eval_reply, 3, argv);
}


/* A command on this worker's Redis, routed by argv[key]. */
ngx_int_t
ngx_chat_presence_command(ngx_uint_t key, ngx_chat_redis_reply_pt handler,
    void *data, ngx_uint_t argc, ngx_str_t *argv)
{
    if (!ngx_chat_presence.enabled) {
        return NGX_DECLINED;
    }

    return ngx_chat_pubsub_command(key, handler, data, argc, argv);
}


static ngx_str_t *
ngx_chat_presence_arg_ms(ngx_str_t *arg, u_char *buf, int64_t ms)
{
    arg->data = buf;
    arg->len = ngx_sprintf(buf, "%L", ms) - buf;

    return arg;
}
