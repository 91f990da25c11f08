/*
 * GET /api/presence?users=a,b (docs/PROTOCOL.md 6): each user's presence,
 * read from the hash the module's presence script keeps, decoded as the
 * module decodes it for presence_sub (common/chat_presence.h).
 *
 * One HMGET per user, pipelined: one round trip for up to 500 users. The
 * connection is the slot's, synchronous (this thread serves nothing else
 * meanwhile), opened on first use and dropped on any fault. On a Redis
 * Cluster (--redis-cluster) the slot's cluster client sends each HMGET to
 * the master of its user's slot, pipelined per master.
 */

#include <stdlib.h>

#include <string.h>
#include <sys/time.h>

#include "chat_api_endpoints.h"
#include "chat_api_query.h"
#include "chat_api_reply.h"
#include "chat_json.h"
#include "chat_keys.h"
#include "chat_presence.h"
#include "chat_worker_log.h"



static void
chat_api_presence_drop(chat_api_req_t *req, const char *why)
{
    redisContext  *r = req->slot->redis;

    chat_worker_log(CHAT_LOG_WARN, "redis: %s: %s", why,
                    r && r->errstr[0] ? r->errstr : "bad reply");

    if (r != NULL) {
        redisFree(r);
        req->slot->redis = NULL;
    }
}


/* The slot's connection, connected (and authenticated) now if need be;
 * NULL when Redis cannot be reached. */

static redisContext *
chat_api_presence_redis(chat_api_req_t *req)
{
    redisReply             *reply;
    redisContext           *r;
    struct timeval          tv;
    const chat_api_conf_t  *conf = req->conf;

    if (req->slot->redis != NULL) {
        return req->slot->redis;
    }

    tv.tv_sec = CHAT_API_REDIS_TIMEOUT_MS / 1000;
    tv.tv_usec = (CHAT_API_REDIS_TIMEOUT_MS % 1000) * 1000;

    r = conf->redis_path
        ? redisConnectUnixWithTimeout(conf->redis_path, tv)
        : redisConnectWithTimeout(conf->redis_host, conf->redis_port, tv);

    req->slot->redis = r;

    if (r == NULL || r->err || redisSetTimeout(r, tv) != REDIS_OK) {
        chat_api_presence_drop(req, "connect");
        return NULL;
    }

    if (conf->redis_secret != NULL) {
        reply = redisCommand(r, "AUTH %b", conf->redis_secret,
                             conf->redis_secret_len);

        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            if (reply != NULL) {
                freeReplyObject(reply);
            }

            chat_api_presence_drop(req, "AUTH");
            return NULL;
        }

        freeReplyObject(reply);
    }

    return r;
}


/* {"user","status"[,"last_seen"]} of one HMGET reply. */

static json_t *
chat_api_presence_one(chat_str_t user, redisReply *reply)
{
    json_t           *o;
    redisReply       *st, *ls;
    chat_presence_t   p;

    st = reply->element[0];
    ls = reply->element[1];

    chat_presence_decode(st->type == REDIS_REPLY_STRING ? st->str : NULL,
                         st->type == REDIS_REPLY_STRING ? st->len : 0,
                         ls->type == REDIS_REPLY_STRING ? ls->str : NULL,
                         ls->type == REDIS_REPLY_STRING ? ls->len : 0, &p);

    o = json_pack("{s:s%, s:s}", "user", user.s, user.len, "status",
                  p.online ? "online" : "offline");

    if (o != NULL && p.last_seen >= 0
        && chat_json_put(o, "last_seen", json_integer(p.last_seen)) != 0)
    {
        json_decref(o);
        return NULL;
    }

    return o;
}


/* The replies of the n HMGETs sent, in order, into list; -1 on a fault
 * of Redis (the connection is then dropped), -2 when out of memory. */

static int
chat_api_presence_read(chat_api_req_t *req, redisContext *r,
    const chat_str_t *users, size_t n, json_t *list)
{
    int          rc;
    void        *v;
    size_t       i;
    redisReply  *reply;

    rc = 0;

    /* every reply is read, even after a bad one, to keep the pipeline in
     * step; a connection that failed is dropped below */

    for (i = 0; i < n; i++) {
        if (redisGetReply(r, &v) != REDIS_OK) {
            chat_api_presence_drop(req, "HMGET");
            return -1;
        }

        reply = v;

        if (rc == 0
            && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2))
        {
            rc = -1;

        } else if (rc == 0
                   && json_array_append_new(list, chat_api_presence_one(
                                                      users[i], reply))
                      != 0)
        {
            rc = -2;
        }

        freeReplyObject(reply);
    }

    if (rc == -1) {
        chat_api_presence_drop(req, "HMGET");
    }

    return rc;
}


/* The list of the answered HMGETs; NULL when out of memory. */

static json_t *
chat_api_presence_list(const chat_str_t *users,
    const chat_redis_cluster_cmd_t *cmds, size_t n)
{
    size_t   i;
    json_t  *list;

    list = json_array();

    for (i = 0; list != NULL && i < n; i++) {
        if (json_array_append_new(list, chat_api_presence_one(
                                            users[i], cmds[i].reply))
            != 0)
        {
            json_decref(list);
            list = NULL;
        }
    }

    return list;
}


/*
 * The HMGETs on a cluster: 0 and *list; -1 when a master could not
 * answer within the timeout (a failover: try again later), -2 when out
 * of memory.
 */

static int
chat_api_presence_cluster(chat_api_req_t *req, const chat_str_t *users,
    size_t n, json_t **list)
{
    int                        rc;
    char                      *keys, err[256];
    size_t                     i, answered, each;
    chat_redis_cluster_cmd_t  *cmds;

    if (req->slot->cluster == NULL) {
        req->slot->cluster = chat_redis_cluster_new(&req->conf->cluster, err,
                                                    sizeof(err));
        if (req->slot->cluster == NULL) {
            chat_worker_log(CHAT_LOG_ERROR, "redis cluster: %s", err);
            return -2;
        }
    }

    each = CHAT_KEY_LEN(CHAT_KEY_PRESENCE, CHAT_ID_MAX);
    keys = malloc(n * each);
    cmds = calloc(n, sizeof(*cmds));

    if (keys == NULL || cmds == NULL) {
        free(keys);
        free(cmds);
        return -2;
    }

    for (i = 0; i < n; i++) {
        cmds[i].argc = 4;
        cmds[i].argv[0] = "HMGET";
        cmds[i].argvlen[0] = 5;
        cmds[i].argv[1] = keys + i * each;
        cmds[i].argvlen[1] = chat_key(keys + i * each, CHAT_KEY_PRESENCE,
                                      users[i].s, users[i].len);
        cmds[i].argv[2] = CHAT_PRESENCE_STATUS;
        cmds[i].argvlen[2] = sizeof(CHAT_PRESENCE_STATUS) - 1;
        cmds[i].argv[3] = CHAT_PRESENCE_LAST_SEEN;
        cmds[i].argvlen[3] = sizeof(CHAT_PRESENCE_LAST_SEEN) - 1;
    }

    answered = chat_redis_cluster_run(req->slot->cluster, cmds, n,
                                      CHAT_API_REDIS_TIMEOUT_MS);
    rc = 0;

    for (i = 0; i < n && rc == 0; i++) {
        if (cmds[i].reply == NULL || cmds[i].reply->type != REDIS_REPLY_ARRAY
            || cmds[i].reply->elements != 2)
        {
            rc = -1;
        }
    }

    if (rc != 0) {
        chat_worker_log(CHAT_LOG_WARN, "redis cluster: HMGET: %zu of %zu "
                        "answered: %s", answered, n,
                        chat_redis_cluster_error(req->slot->cluster));

    } else {
        *list = chat_api_presence_list(users, cmds, n);
        rc = *list ? 0 : -2;
    }

    chat_redis_cluster_cmds_free(cmds, n);
    free(cmds);
    free(keys);

    return rc;
}


enum MHD_Result
chat_api_presence(chat_api_req_t *req)
{
    int            rc;
    char           key[CHAT_KEY_LEN(CHAT_KEY_PRESENCE, CHAT_ID_MAX)];
    size_t         i, n, len;
    json_t        *list;
    chat_str_t     users[CHAT_API_PRESENCE_MAX];
    redisContext  *r;

    if (chat_api_query_users(chat_api_http_arg(req, "users"), users,
                             CHAT_API_PRESENCE_MAX, &n) != 0)
    {
        return chat_api_reply_error(req->conn, MHD_HTTP_BAD_REQUEST,
                                    "users must be 1 to 500 user ids, "
                                    "separated by commas");
    }

    if (req->conf->redis_cluster) {
        list = NULL;
        rc = chat_api_presence_cluster(req, users, n, &list);
        goto answer;
    }

    r = chat_api_presence_redis(req);

    for (i = 0; r != NULL && i < n; i++) {
        len = chat_key(key, CHAT_KEY_PRESENCE, users[i].s, users[i].len);

        if (redisAppendCommand(r, "HMGET %b %s %s", key, len,
                               CHAT_PRESENCE_STATUS,
                               CHAT_PRESENCE_LAST_SEEN)
            != REDIS_OK)
        {
            chat_api_presence_drop(req, "HMGET");
            r = NULL;
        }
    }

    list = json_array();

    if (r != NULL && list == NULL) {
        /* the replies are not read: the connection is out of step */
        chat_api_presence_drop(req, "out of memory");
        return chat_api_reply_json(req->conn, MHD_HTTP_OK, NULL);
    }

    rc = r ? chat_api_presence_read(req, r, users, n, list) : -1;

answer:

    if (rc == -1) {
        json_decref(list);
        return chat_api_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                    "presence is unavailable, try again "
                                    "later");
    }

    if (rc != 0) {
        json_decref(list);
        list = NULL;
    }

    return chat_api_reply_json(req->conn, MHD_HTTP_OK,
                               list ? json_pack("{s:o}", "presence", list)
                                    : NULL);
}
