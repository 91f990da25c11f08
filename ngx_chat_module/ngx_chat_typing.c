/*
 * Typing (docs/PROTOCOL.md 3 and 4): ephemeral, so it never touches the log or
 * the store. It is published straight to the recipients' channels, and
 * dropped, silently, whenever keeping it would cost more than it is worth:
 * past the user's rate (chat_limit_typing, across the node's workers), or
 * when the Redis connection is behind.
 *
 * In a group, the recipients are the current members: the set
 * chat:gm:<group> that the chat-workers keep in Redis as membership
 * changes are applied. One script checks that the sender is in it and
 * publishes to every other member, so a typing frame costs one round trip
 * whatever the group's size, and nothing in this worker.
 */

#include "ngx_chat_module.h"
#include "ngx_chat_limit.h"
#include "ngx_chat_stats.h"

#include <openssl/sha.h>


#define NGX_CHAT_TYPING_FRAME_LEN                                            \
    (sizeof("*\n{\"type\":\"typing\",\"conv\":\"\",\"from\":\"\","           \
            "\"state\":\"start\"}") + CHAT_CONV_MAX + CHAT_ID_MAX)

/* KEYS[1] the group's members; ARGV[1] the sender, ARGV[2] the payload */
#define NGX_CHAT_TYPING_LUA                                                   \
"if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return -1 end\n"      \
"local n = 0\n"                                                               \
"for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"                    \
"  if m ~= ARGV[1] then\n"                                                    \
"    redis.call('PUBLISH', '" CHAT_KEY_USER_CHANNEL "' .. m, ARGV[2])\n"         \
"    n = n + 1\n"                                                             \
"  end\n"                                                                     \
"end\n"                                                                       \
"return n\n"


/* A group typing frame in flight: what to answer, and to resend the
 * script itself if Redis does not have it. */
typedef struct {
    uint64_t               conn;
    ngx_uint_t             retried;
    size_t                 id_len;
    u_char                 id[CHAT_CLIENT_ID_MAX];
    size_t                 key_len;
    u_char                 key[sizeof(CHAT_KEY_GROUP_MEMBERS) + CHAT_ID_MAX];
    size_t                 from_len;
    u_char                 from[CHAT_ID_MAX];
    size_t                 payload_len;
    u_char                 payload[NGX_CHAT_TYPING_FRAME_LEN];
} ngx_chat_typing_group_t;


static void ngx_chat_typing_group(ngx_chat_conn_t *cc, chat_req_t *req,
    ngx_chat_redis_t *redis, u_char *frame, size_t len);
static ngx_int_t ngx_chat_typing_group_eval(ngx_chat_redis_t *redis,
    ngx_chat_typing_group_t *t);
static void ngx_chat_typing_group_reply(redisReply *reply, void *data);


static u_char  ngx_chat_typing_sha[SHA_DIGEST_LENGTH * 2];


void
ngx_chat_typing(ngx_chat_conn_t *cc, chat_req_t *req)
{
    size_t             len;
    u_char            *p;
    ngx_str_t          argv[3];
    chat_str_t         self;
    ngx_chat_redis_t  *redis;
    u_char             conv[CHAT_CONV_MAX];
    u_char             frame[NGX_CHAT_TYPING_FRAME_LEN];
    u_char             channel[sizeof(CHAT_KEY_USER_CHANNEL) + CHAT_ID_MAX];

    redis = ngx_chat_pubsub_redis();

    if (redis == NULL || cc->user == NULL) {
        return;
    }

    /* the first thing shed (ngx_chat_shed.c) */
    if (ngx_chat_shed_level() >= NGX_CHAT_SHED_TYPING) {
        ngx_chat_stat_inc(NGX_CHAT_STAT_SHED_TYPING);
        return;
    }

    if (ngx_chat_limit_typing(&cc->limit, &cc->id.user) != NGX_OK) {
        return;
    }

    self.s = (char *) cc->id.user.data;
    self.len = cc->id.user.len;

    len = req->group.len ? chat_conv_group((char *) conv, req->group)
                         : chat_conv_dm((char *) conv, self, req->to);

    /* ids are of a charset that needs no JSON escaping */
    p = ngx_sprintf(frame, CHAT_KEY_TARGET_ALL CHAT_KEY_PAYLOAD_SEP
                    "{\"type\":\"typing\",\"conv\":\"%*s\","
                    "\"from\":\"%V\",\"state\":\"%s\"}",
                    len, conv, &cc->id.user,
                    req->typing == CHAT_TYPING_START ? "start" : "stop");

    if (req->group.len) {
        ngx_chat_typing_group(cc, req, redis, frame, p - frame);
        return;
    }

    ngx_str_set(&argv[0], "PUBLISH");
    argv[1].data = channel;
    argv[1].len = ngx_sprintf(channel, CHAT_KEY_USER_CHANNEL "%*s",
                              req->to.len, req->to.s)
                  - channel;
    argv[2].data = frame;
    argv[2].len = p - frame;

    (void) ngx_chat_redis_command(redis, NULL, NULL, 3, argv);
}


static void
ngx_chat_typing_group(ngx_chat_conn_t *cc, chat_req_t *req,
    ngx_chat_redis_t *redis, u_char *frame, size_t len)
{
    u_char                    digest[SHA_DIGEST_LENGTH];
    ngx_chat_typing_group_t  *t;

    if (ngx_chat_typing_sha[0] == '\0') {
        SHA1((u_char *) NGX_CHAT_TYPING_LUA, sizeof(NGX_CHAT_TYPING_LUA) - 1,
             digest);
        ngx_hex_dump(ngx_chat_typing_sha, digest, SHA_DIGEST_LENGTH);
    }

    t = ngx_alloc(sizeof(ngx_chat_typing_group_t), cc->connection->log);
    if (t == NULL) {
        return;
    }

    t->conn = cc->node.key;
    t->retried = 0;
    t->id_len = req->id.len;

    if (req->id.len) {                 /* no id: s is NULL */
        ngx_memcpy(t->id, req->id.s, req->id.len);
    }
    t->key_len = ngx_sprintf(t->key, CHAT_KEY_GROUP_MEMBERS "%*s",
                             req->group.len, req->group.s)
                 - t->key;
    t->from_len = cc->id.user.len;
    ngx_memcpy(t->from, cc->id.user.data, cc->id.user.len);
    t->payload_len = len;
    ngx_memcpy(t->payload, frame, len);

    if (ngx_chat_typing_group_eval(redis, t) != NGX_OK) {
        ngx_free(t);
    }
}


static ngx_int_t
ngx_chat_typing_group_eval(ngx_chat_redis_t *redis,
    ngx_chat_typing_group_t *t)
{
    ngx_str_t  argv[6];

    if (t->retried) {
        ngx_str_set(&argv[0], "EVAL");
        ngx_str_set(&argv[1], NGX_CHAT_TYPING_LUA);

    } else {
        ngx_str_set(&argv[0], "EVALSHA");
        argv[1].data = ngx_chat_typing_sha;
        argv[1].len = sizeof(ngx_chat_typing_sha);
    }

    ngx_str_set(&argv[2], "1");
    argv[3].data = t->key;
    argv[3].len = t->key_len;
    argv[4].data = t->from;
    argv[4].len = t->from_len;
    argv[5].data = t->payload;
    argv[5].len = t->payload_len;

    return ngx_chat_redis_command(redis, ngx_chat_typing_group_reply, t, 6,
                                  argv);
}


/* -1: not a member; NOSCRIPT: Redis does not have it yet, sent whole. */
static void
ngx_chat_typing_group_reply(redisReply *reply, void *data)
{
    chat_str_t                id;
    ngx_chat_conn_t          *cc;
    ngx_chat_redis_t         *redis;
    ngx_chat_typing_group_t  *t = data;

    if (reply && reply->type == REDIS_REPLY_ERROR && !t->retried
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        t->retried = 1;
        redis = ngx_chat_pubsub_redis();

        if (redis && ngx_chat_typing_group_eval(redis, t) == NGX_OK) {
            return;
        }
    }

    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer < 0) {
        cc = ngx_chat_conn_find(t->conn);

        if (cc) {
            id.s = (char *) t->id;
            id.len = t->id_len;
            ngx_chat_reply_error(cc, &id, "forbidden",
                                   "not a member of this group");
        }
    }

    ngx_free(t);
}

