/*
 * chat-api's pure parts: the query parameters' rules (limits, cursors,
 * presence users), the routing of paths and methods, the error codes of
 * the statuses, the flags (the loopback rule, the media key) and the
 * presence hash's decoding it shares with the module.
 */

#include <stdlib.h>

#include "test.h"
#include "chat_api_conf.h"
#include "chat_api_query.h"
#include "chat_api_reply.h"
#include "chat_api_route.h"
#include "chat_conf.h"
#include "chat_presence.h"


#define KEY  "0123456789abcdef0123456789abcdef"


TEST(limit_default_max_and_refusals)
{
    int64_t  n;

    CHECK_EQ(chat_api_query_limit(NULL, 50, 200, &n), 0);
    CHECK_EQ(n, 50);
    CHECK_EQ(chat_api_query_limit("7", 50, 200, &n), 0);
    CHECK_EQ(n, 7);
    CHECK_EQ(chat_api_query_limit("200", 50, 200, &n), 0);
    CHECK_EQ(n, 200);

    /* above the maximum counts as the maximum, however large */
    CHECK_EQ(chat_api_query_limit("201", 50, 200, &n), 0);
    CHECK_EQ(n, 200);
    CHECK_EQ(chat_api_query_limit("99999999999999999999999", 50, 100, &n),
             0);
    CHECK_EQ(n, 100);

    /* below 1, or not an integer */
    CHECK_EQ(chat_api_query_limit("0", 50, 200, &n), -1);
    CHECK_EQ(chat_api_query_limit("-3", 50, 200, &n), -1);
    CHECK_EQ(chat_api_query_limit("", 50, 200, &n), -1);
    CHECK_EQ(chat_api_query_limit("1.5", 50, 200, &n), -1);
    CHECK_EQ(chat_api_query_limit("+5", 50, 200, &n), -1);
    CHECK_EQ(chat_api_query_limit(" 5", 50, 200, &n), -1);
    CHECK_EQ(chat_api_query_limit("5x", 50, 200, &n), -1);
    CHECK_EQ(chat_api_query_limit("ten", 50, 200, &n), -1);
}


TEST(cursors)
{
    int64_t  n;

    CHECK_EQ(chat_api_query_cursor(NULL, 1, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(chat_api_query_cursor("1795318602103", 1, &n), 0);
    CHECK_EQ(n, 1795318602103LL);
    CHECK_EQ(chat_api_query_cursor("9223372036854775807", 1, &n), 0);
    CHECK_EQ(n, INT64_MAX);

    CHECK_EQ(chat_api_query_cursor("0", 1, &n), -1);
    CHECK_EQ(chat_api_query_cursor("-1", 0, &n), -1);
    CHECK_EQ(chat_api_query_cursor("9223372036854775808", 1, &n), -1);
    CHECK_EQ(chat_api_query_cursor("", 1, &n), -1);
    CHECK_EQ(chat_api_query_cursor("12a", 1, &n), -1);
}


TEST(users)
{
    char        *many;
    size_t       n, i;
    chat_str_t   users[CHAT_API_PRESENCE_MAX];

    CHECK_EQ(chat_api_query_users("bob,carol", users, 500, &n), 0);
    CHECK_EQ(n, 2);
    CHECK_STR(users[0].s, users[0].len, "bob");
    CHECK_STR(users[1].s, users[1].len, "carol");

    CHECK_EQ(chat_api_query_users("a.b@c-d_e", users, 500, &n), 0);
    CHECK_EQ(n, 1);

    CHECK_EQ(chat_api_query_users(NULL, users, 500, &n), -1);
    CHECK_EQ(chat_api_query_users("", users, 500, &n), -1);
    CHECK_EQ(chat_api_query_users("bob,", users, 500, &n), -1);
    CHECK_EQ(chat_api_query_users(",bob", users, 500, &n), -1);
    CHECK_EQ(chat_api_query_users("bob,,carol", users, 500, &n), -1);
    CHECK_EQ(chat_api_query_users("bob carol", users, 500, &n), -1);
    CHECK_EQ(chat_api_query_users("b/b", users, 500, &n), -1);

    /* 500 ids pass, 501 do not */
    many = malloc(501 * 2);
    for (i = 0; i < 501; i++) {
        many[2 * i] = 'u';
        many[2 * i + 1] = ',';
    }

    many[2 * 500 - 1] = '\0';
    CHECK_EQ(chat_api_query_users(many, users, 500, &n), 0);
    CHECK_EQ(n, 500);

    many[2 * 500 - 1] = ',';
    many[2 * 501 - 1] = '\0';
    CHECK_EQ(chat_api_query_users(many, users, 500, &n), -1);
    free(many);

    /* an id of 65 bytes */
    CHECK_EQ(chat_api_query_users("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                  "aaaaaaaaaaaaaaaaaaaaaaaaa", users, 500,
                                  &n), -1);
}


TEST(routes)
{
    chat_api_route_t  r;

    chat_api_route("GET", "/api/conversations", &r);
    CHECK_EQ(r.route, CHAT_API_CONVERSATIONS);
    CHECK(r.allowed);

    chat_api_route("GET", "/api/conversations/dm:alice:bob/messages", &r);
    CHECK_EQ(r.route, CHAT_API_MESSAGES);
    CHECK_STR(r.arg.s, r.arg.len, "dm:alice:bob");

    /* a malformed id is the endpoint's 400, not a 404 */
    chat_api_route("GET", "/api/conversations/nope/messages", &r);
    CHECK_EQ(r.route, CHAT_API_MESSAGES);
    CHECK_STR(r.arg.s, r.arg.len, "nope");

    chat_api_route("GET", "/api/groups/team", &r);
    CHECK_EQ(r.route, CHAT_API_GROUP);
    CHECK_STR(r.arg.s, r.arg.len, "team");

    chat_api_route("HEAD", "/api/presence", &r);
    CHECK_EQ(r.route, CHAT_API_PRESENCE);
    CHECK(r.allowed);

    chat_api_route("POST", "/api/media", &r);
    CHECK_EQ(r.route, CHAT_API_MEDIA);
    CHECK(r.allowed);

    /* unknown paths */
    chat_api_route("GET", "/api/conversations/", &r);
    CHECK_EQ(r.route, CHAT_API_NONE);
    chat_api_route("GET", "/api/conversations//messages", &r);
    CHECK_EQ(r.route, CHAT_API_NONE);
    chat_api_route("GET", "/api/conversations/dm:a:b/messages/x", &r);
    CHECK_EQ(r.route, CHAT_API_NONE);
    chat_api_route("GET", "/api/groups/", &r);
    CHECK_EQ(r.route, CHAT_API_NONE);
    chat_api_route("GET", "/api/groups/team/members", &r);
    CHECK_EQ(r.route, CHAT_API_NONE);
    chat_api_route("GET", "/api/conversationsx", &r);
    CHECK_EQ(r.route, CHAT_API_NONE);
    chat_api_route("GET", "/", &r);
    CHECK_EQ(r.route, CHAT_API_NONE);
}


TEST(methods)
{
    chat_api_route_t  r;

    chat_api_route("POST", "/api/conversations", &r);
    CHECK_EQ(r.route, CHAT_API_CONVERSATIONS);
    CHECK(!r.allowed);
    CHECK(strcmp(r.allow, "GET, HEAD") == 0);

    chat_api_route("DELETE", "/api/groups/team", &r);
    CHECK(!r.allowed);

    chat_api_route("GET", "/api/media", &r);
    CHECK_EQ(r.route, CHAT_API_MEDIA);
    CHECK(!r.allowed);
    CHECK(strcmp(r.allow, "POST") == 0);

    chat_api_route("PUT", "/api/media", &r);
    CHECK(!r.allowed);
}


TEST(error_codes)
{
    json_t  *body;

    CHECK(strcmp(chat_api_reply_code(400), "bad_request") == 0);
    CHECK(strcmp(chat_api_reply_code(401), "unauthorized") == 0);
    CHECK(strcmp(chat_api_reply_code(403), "forbidden") == 0);
    CHECK(strcmp(chat_api_reply_code(404), "not_found") == 0);
    CHECK(strcmp(chat_api_reply_code(405), "method_not_allowed") == 0);
    CHECK(strcmp(chat_api_reply_code(413), "too_large") == 0);
    CHECK(strcmp(chat_api_reply_code(415), "unsupported_media_type") == 0);
    CHECK(strcmp(chat_api_reply_code(429), "rate_limited") == 0);
    CHECK(strcmp(chat_api_reply_code(503), "unavailable") == 0);
    CHECK(strcmp(chat_api_reply_code(500), "internal") == 0);

    body = chat_api_reply_error_body(404, "no such group");
    CHECK(body != NULL);
    CHECK(strcmp(json_string_value(json_object_get(body, "error")),
                 "not_found") == 0);
    CHECK(strcmp(json_string_value(json_object_get(body, "message")),
                 "no such group") == 0);
    CHECK_EQ(json_object_size(body), 2);
    json_decref(body);
}


static int
parse(chat_api_conf_t *conf, char **argv, char *err, size_t errlen)
{
    int  argc;

    for (argc = 0; argv[argc] != NULL; argc++) { /* void */ }

    return chat_api_conf_parse(conf, argc, argv, err, errlen);
}


TEST(conf_flags)
{
    char              err[512];
    chat_api_conf_t   conf;
    char             *ok[] = { "chat-api", "--listen", "127.0.0.1:0",
                               "--media-key", KEY, "--media-max=2m",
                               "--media-url-ttl", "2h", "--threads", "3",
                               "--redis", "[::1]:7000", NULL };

    CHECK_EQ(parse(&conf, ok, err, sizeof(err)), 0);
    CHECK_EQ(conf.media_max, 2 * 1024 * 1024);
    CHECK_EQ(conf.media_url_ttl, 7200);
    CHECK_EQ(conf.threads, 3);
    CHECK_EQ(conf.key.len, 32);
    CHECK(strcmp(conf.redis_host, "::1") == 0);
    CHECK_EQ(conf.redis_port, 7000);
    CHECK(strcmp(conf.media_types, CHAT_MEDIA_DEFAULT_TYPES) == 0);
    chat_api_conf_free(&conf);
}


TEST(conf_refusals)
{
    char              err[512];
    chat_api_conf_t   conf;
    char             *public[] = { "chat-api", "--listen", "0.0.0.0:8090",
                                   "--media-key", KEY, NULL };
    char             *nokey[] = { "chat-api", NULL };
    char             *shortkey[] = { "chat-api", "--media-key", "short",
                                     NULL };
    char             *badsize[] = { "chat-api", "--media-key", KEY,
                                    "--media-max", "16g", NULL };
    char             *unknown[] = { "chat-api", "--nope", "1", NULL };
    char             *threads[] = { "chat-api", "--media-key", KEY,
                                    "--threads", "0", NULL };
    char             *noport[] = { "chat-api", "--listen", "127.0.0.1",
                                   "--media-key", KEY, NULL };

    CHECK_EQ(parse(&conf, public, err, sizeof(err)), -1);
    CHECK(strstr(err, "127.") != NULL);
    chat_api_conf_free(&conf);

    CHECK_EQ(parse(&conf, nokey, err, sizeof(err)), -1);
    CHECK(strstr(err, "--media-key") != NULL);
    chat_api_conf_free(&conf);

    CHECK_EQ(parse(&conf, shortkey, err, sizeof(err)), -1);
    CHECK(strstr(err, "at least 32") != NULL);
    chat_api_conf_free(&conf);

    CHECK_EQ(parse(&conf, badsize, err, sizeof(err)), -1);
    chat_api_conf_free(&conf);

    CHECK_EQ(parse(&conf, unknown, err, sizeof(err)), -1);
    CHECK(strstr(err, "--nope") != NULL);
    chat_api_conf_free(&conf);

    CHECK_EQ(parse(&conf, threads, err, sizeof(err)), -1);
    chat_api_conf_free(&conf);

    CHECK_EQ(parse(&conf, noport, err, sizeof(err)), -1);
    CHECK(strstr(err, "ADDR:PORT") != NULL);
    chat_api_conf_free(&conf);
}


TEST(conf_file_and_env)
{
    FILE             *f;
    char              err[512], path[] = "/tmp/test_api_confXXXXXX";
    int               fd;
    chat_api_conf_t   conf;
    char             *argv[] = { "chat-api", "--config", path,
                                 "--threads", "2", NULL };

    fd = mkstemp(path);
    CHECK(fd >= 0);
    f = fdopen(fd, "w");
    fprintf(f, "# chat-api\nchat_api_listen 127.0.0.2:9000;\n"
            "chat_media_key env:TEST_API_KEY\nchat_api_threads 9\n"
            "chat_media_types image/png\n");
    fclose(f);

    setenv("TEST_API_KEY", KEY KEY, 1);

    /* the flags win over the file */
    CHECK_EQ(parse(&conf, argv, err, sizeof(err)), 0);
    CHECK_EQ(conf.threads, 2);
    CHECK_EQ(ntohs(conf.listen_addr.sin_port), 9000);
    CHECK_EQ(conf.key.len, 64);
    CHECK(strcmp(conf.media_types, "image/png") == 0);
    chat_api_conf_free(&conf);

    f = fopen(path, "a");
    fprintf(f, "chat_nonsense 1\n");
    fclose(f);

    CHECK_EQ(parse(&conf, argv, err, sizeof(err)), -1);
    CHECK(strstr(err, ":6") != NULL && strstr(err, "chat_nonsense") != NULL);
    chat_api_conf_free(&conf);

    unlink(path);
}


TEST(conf_hostport)
{
    int    port;
    char  *host;

    CHECK_EQ(chat_conf_hostport("redis.internal", 6379, &host, &port), 0);
    CHECK(strcmp(host, "redis.internal") == 0);
    CHECK_EQ(port, 6379);
    free(host);

    CHECK_EQ(chat_conf_hostport("127.0.0.1:0", -1, &host, &port), 0);
    CHECK_EQ(port, 0);
    free(host);

    CHECK_EQ(chat_conf_hostport("[::1]", 1, &host, &port), 0);
    CHECK(strcmp(host, "::1") == 0);
    CHECK_EQ(port, 1);
    free(host);

    CHECK_EQ(chat_conf_hostport(":80", 1, &host, &port), -1);
    CHECK(host == NULL);
    CHECK_EQ(chat_conf_hostport("h:65536", 1, &host, &port), -1);
    CHECK_EQ(chat_conf_hostport("h:", 1, &host, &port), -1);
    CHECK_EQ(chat_conf_hostport("h:8x", 1, &host, &port), -1);
    CHECK_EQ(chat_conf_hostport("[::1", 1, &host, &port), -1);
    CHECK_EQ(chat_conf_hostport("[::1]x", 1, &host, &port), -1);
}


TEST(conf_units)
{
    char              err[512];
    chat_api_conf_t   conf;
    char             *ok[] = { "chat-api", "--media-key", KEY,
                               "--media-max", "512k", "--media-url-ttl",
                               "30m", NULL };
    char             *days[] = { "chat-api", "--media-key", KEY,
                                 "--media-url-ttl", "366d", NULL };
    char             *suffix[] = { "chat-api", "--media-key", KEY,
                                   "--media-max", "5kb", NULL };

    CHECK_EQ(parse(&conf, ok, err, sizeof(err)), 0);
    CHECK_EQ(conf.media_max, 512 * 1024);
    CHECK_EQ(conf.media_url_ttl, 1800);
    chat_api_conf_free(&conf);

    /* above the range, an unknown suffix */
    CHECK_EQ(parse(&conf, days, err, sizeof(err)), -1);
    CHECK(strstr(err, "--media-url-ttl") != NULL);
    chat_api_conf_free(&conf);
    CHECK_EQ(parse(&conf, suffix, err, sizeof(err)), -1);
    chat_api_conf_free(&conf);
}


TEST(presence_decode)
{
    chat_presence_t  p;

    /* never seen: no hash */
    chat_presence_decode(NULL, 0, NULL, 0, &p);
    CHECK(!p.online);
    CHECK_EQ(p.last_seen, -1);

    chat_presence_decode("online", 6, "1795318602103", 13, &p);
    CHECK(p.online);
    CHECK_EQ(p.last_seen, -1);

    chat_presence_decode("offline", 7, "1795318602103", 13, &p);
    CHECK(!p.online);
    CHECK_EQ(p.last_seen, 1795318602103LL);

    /* a status but no last seen, and one that is not a time */
    chat_presence_decode("offline", 7, NULL, 0, &p);
    CHECK_EQ(p.last_seen, -1);
    chat_presence_decode("offline", 7, "-5", 2, &p);
    CHECK_EQ(p.last_seen, -1);
    chat_presence_decode("offline", 7, "99999999999999999999", 20, &p);
    CHECK_EQ(p.last_seen, -1);
    chat_presence_decode("onlinex", 7, "12", 2, &p);
    CHECK(!p.online);
    CHECK_EQ(p.last_seen, 12);
}


int
main(void)
{
    RUN(limit_default_max_and_refusals);
    RUN(cursors);
    RUN(users);
    RUN(routes);
    RUN(methods);
    RUN(error_codes);
    RUN(conf_flags);
    RUN(conf_refusals);
    RUN(conf_file_and_env);
    RUN(conf_hostport);
    RUN(conf_units);
    RUN(presence_decode);

    return test_summary("api");
}
