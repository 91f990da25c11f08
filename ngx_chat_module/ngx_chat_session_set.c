/*
 * The session registry: where each connection is, for operators and for
 * other nodes (README, "Session registry").
 *
 * One sorted set per user, "chat:sess:<user>": a member per connection,
 * the compact JSON {"conn","node","worker","device","since"} (the same
 * bytes for the connection's whole life), scored by the entry's expiry in
 * ms. Live entries are those scored at or after now; a connection keeps
 * its own alive from its heartbeat, so one that can no longer refresh it
 * (a crashed or stopped worker, a lost node) drops out by itself after
 * three heartbeats. Every write is one command on one key (Redis Cluster
 * runs it on that key's shard): the script below on registration and on
 * each heartbeat, ZREM on close. So the registry costs one command per
 * connection per heartbeat, and nothing is ever waited for: when Redis is
 * not there, the write is dropped and the next heartbeat redoes it.
 */

#include "ngx_chat_module.h"

#include <openssl/sha.h>


/* An entry lives this many heartbeats unless refreshed. */
#define NGX_CHAT_SESS_BEATS         3

#define NGX_CHAT_SESS_NODE_MAX      255

/* the member's fixed text, its numbers, the conn id, the device, the node */
#define NGX_CHAT_SESS_MEMBER_MAX                                             \
    (64 + 5 * NGX_INT64_LEN + CHAT_ID_MAX + NGX_CHAT_SESS_NODE_MAX)

/*
 * KEYS[1] the user's set; ARGV[1] now (ms), ARGV[2] the entry's expiry
 * (ms), ARGV[3] the member. Drops expired entries, (re)scores this one,
 * and lets the key live as long as its latest entry.
 */
#define NGX_CHAT_SESS_LUA                                                    \
"local k, now = KEYS[1], tonumber(ARGV[1])\n"                                \
"redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[1])\n"                \
"redis.call('ZADD', k, ARGV[2], ARGV[3])\n"                                  \
"local last = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')\n"               \
"redis.call('PEXPIRE', k, math.max(1, tonumber(last[2]) - now))\n"           \
"return 1\n"


typedef struct {
    ngx_uint_t            enabled;
    ngx_uint_t            dropping;         /* logged, until Redis is back */
    ngx_str_t             node;
    u_char                sha[SHA_DIGEST_LENGTH * 2];
} ngx_chat_session_set_t;


static void ngx_chat_session_set_on_ready(void);
static void ngx_chat_session_set_write(ngx_chat_conn_t *cc);
static size_t ngx_chat_session_set_key(ngx_chat_conn_t *cc, u_char *buf);
static size_t ngx_chat_session_set_member(ngx_chat_conn_t *cc, u_char *buf);
static ngx_int_t ngx_chat_session_set_command(ngx_uint_t key,
    ngx_chat_redis_reply_pt handler,
    ngx_uint_t argc, ngx_str_t *argv);
static void ngx_chat_session_set_reply(redisReply *reply, void *data);
static void ngx_chat_session_set_load_script(void);


static ngx_chat_session_set_t  ngx_chat_session_set;


/*
 * chat_node_name defaults to the host name (nginx read it before the
 * configuration). It goes into the member as it is, so it is limited to
 * characters that need no escaping in JSON (checked only when used).
 */
char *
ngx_chat_session_set_init_conf(ngx_conf_t *cf, ngx_chat_main_conf_t *cmcf)
{
    u_char     c;
    ngx_str_t  *node;
    ngx_uint_t  i;

    node = &cmcf->node_name;

    if (node->len == 0) {
        *node = cf->cycle->hostname;
    }

    if (cmcf->redis == NULL || !cmcf->registry) {
        return NGX_CONF_OK;
    }

    for (i = 0; i < node->len; i++) {
        c = node->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || (c != '\0' && ngx_strchr(".-_:@", c))))
        {
            break;
        }
    }

    if (node->len == 0 || node->len > NGX_CHAT_SESS_NODE_MAX
        || i < node->len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid node name \"%V\": set \"chat_node_name\" "
                           "to at most %d letters, digits and \".-_:@\"",
                           node, NGX_CHAT_SESS_NODE_MAX);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_chat_session_set_init(ngx_chat_main_conf_t *cmcf)
{
    u_char  digest[SHA_DIGEST_LENGTH];

    ngx_chat_session_set.enabled = cmcf->redis && cmcf->registry;
    ngx_chat_session_set.node = cmcf->node_name;
    ngx_chat_session_set.dropping = 0;

    SHA1((u_char *) NGX_CHAT_SESS_LUA,
         sizeof(NGX_CHAT_SESS_LUA) - 1, digest);
    ngx_hex_dump(ngx_chat_session_set.sha, digest, SHA_DIGEST_LENGTH);

    if (!ngx_chat_session_set.enabled) {
        return NGX_OK;
    }

    return ngx_chat_pubsub_on_ready(NGX_CHAT_PUBSUB_COMMAND,
                                    ngx_chat_session_set_on_ready);
}


/* The command connection is (back): the script is loaded first. */
static void
ngx_chat_session_set_on_ready(void)
{
    if (!ngx_chat_session_set.enabled) {
        return;
    }

    ngx_chat_session_set.dropping = 0;
    ngx_chat_session_set_load_script();
}


/* A connection joined its user: its entry, from now on. */
void
ngx_chat_session_set_add(ngx_chat_conn_t *cc)
{
    if (!ngx_chat_session_set.enabled) {
        return;
    }

    cc->since = ngx_chat_now_ms();
    ngx_chat_session_set_write(cc);
}


/* The connection's heartbeat: its entry lives three more. */
void
ngx_chat_session_set_refresh(ngx_chat_conn_t *cc)
{
    if (ngx_chat_session_set.enabled && cc->since) {
        ngx_chat_session_set_write(cc);
    }
}


/* The connection is gone. When this cannot be sent, the entry expires. */
void
ngx_chat_session_set_remove(ngx_chat_conn_t *cc)
{
    u_char     key[CHAT_KEY_LEN(CHAT_KEY_SESSIONS, CHAT_ID_MAX)];
    u_char     member[NGX_CHAT_SESS_MEMBER_MAX];
    ngx_str_t  argv[3];

    if (!ngx_chat_session_set.enabled || cc->since == 0) {
        return;
    }

    ngx_str_set(&argv[0], "ZREM");
    argv[1].data = key;
    argv[1].len = ngx_chat_session_set_key(cc, key);
    argv[2].data = member;
    argv[2].len = ngx_chat_session_set_member(cc, member);

    (void) ngx_chat_session_set_command(1, ngx_chat_session_set_reply, 3,
                                        argv);

    cc->since = 0;
}


/* EVALSHA of the script: the entry, scored now + three heartbeats. */
static void
ngx_chat_session_set_write(ngx_chat_conn_t *cc)
{
    u_char     key[CHAT_KEY_LEN(CHAT_KEY_SESSIONS, CHAT_ID_MAX)];
    u_char     member[NGX_CHAT_SESS_MEMBER_MAX];
    u_char     now[NGX_INT64_LEN], exp[NGX_INT64_LEN];
    int64_t    ms;
    ngx_str_t  argv[7];

    ms = ngx_chat_now_ms();

    ngx_str_set(&argv[0], "EVALSHA");
    argv[1].data = ngx_chat_session_set.sha;
    argv[1].len = sizeof(ngx_chat_session_set.sha);
    ngx_str_set(&argv[2], "1");
    argv[3].data = key;
    argv[3].len = ngx_chat_session_set_key(cc, key);
    argv[4].data = now;
    argv[4].len = ngx_sprintf(now, "%L", ms) - now;
    argv[5].data = exp;
    argv[5].len = ngx_sprintf(exp, "%L", ms + (int64_t) NGX_CHAT_SESS_BEATS
                                             * cc->conf->heartbeat)
                  - exp;
    argv[6].data = member;
    argv[6].len = ngx_chat_session_set_member(cc, member);

    (void) ngx_chat_session_set_command(3, ngx_chat_session_set_reply, 7,
                                        argv);
}


static size_t
ngx_chat_session_set_key(ngx_chat_conn_t *cc, u_char *buf)
{
    return chat_key((char *) buf, CHAT_KEY_SESSIONS,
                    (char *) cc->id.user.data, cc->id.user.len);
}


/* Every part is an id, a node name or a number: nothing to escape. */
static size_t
ngx_chat_session_set_member(ngx_chat_conn_t *cc, u_char *buf)
{
    return ngx_snprintf(buf, NGX_CHAT_SESS_MEMBER_MAX,
                        "{\"conn\":\"%V\",\"node\":\"%V\",\"worker\":%P,"
                        "\"device\":\"%V\",\"since\":%L}",
                        &cc->conn_id, &ngx_chat_session_set.node, ngx_pid,
                        &cc->id.device, cc->since)
           - buf;
}


/* A write that cannot be queued is dropped, said once per outage. */
static ngx_int_t
ngx_chat_session_set_command(ngx_uint_t key, ngx_chat_redis_reply_pt handler,
    ngx_uint_t argc, ngx_str_t *argv)
{
    ngx_int_t  rc;

    if (!ngx_chat_pubsub_enabled()) {
        return NGX_DECLINED;
    }

    rc = ngx_chat_pubsub_command(key, handler, NULL, argc, argv);

    if (rc != NGX_OK && !ngx_chat_session_set.dropping) {
        ngx_chat_session_set.dropping = 1;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chat: Redis unavailable, session registry writes are "
                      "dropped until it is back");
    }

    return rc;
}


/* Only errors matter; a lost script is loaded again, and the next
 * heartbeat writes the entry. */
static void
ngx_chat_session_set_reply(redisReply *reply, void *data)
{
    if (ngx_chat_redis_script_failed(reply, "session registry write")) {
        ngx_chat_session_set_load_script();
    }
}


static void
ngx_chat_session_set_load_script(void)
{
    ngx_str_t  argv[3];

    ngx_str_set(&argv[0], "SCRIPT");
    ngx_str_set(&argv[1], "LOAD");
    ngx_str_set(&argv[2], NGX_CHAT_SESS_LUA);

    /* on every master: the one that answered NOSCRIPT among them */
    ngx_chat_cluster_command_all(ngx_chat_session_set_reply, 3, argv);
}
