/*
 * Unit tests of chat-worker's configuration (workers/chat_worker_conf.c):
 * defaults, flags, the file of --config, and what is refused.
 */

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "chat_worker_conf.h"
#include "chat_worker_log.h"


static char  test_file[64];


static int
parse(chat_worker_conf_t *conf, char *err, int argc, ...)
{
    int       i;
    char     *argv[32];
    va_list   args;

    argv[0] = "chat-worker";

    va_start(args, argc);
    for (i = 1; i <= argc && i < 31; i++) {
        argv[i] = va_arg(args, char *);
    }
    va_end(args);

    argv[i] = NULL;
    err[0] = '\0';

    return chat_worker_conf_parse(conf, i, argv, err, 256);
}


static void
write_file(const char *text)
{
    FILE  *f;

    f = fopen(test_file, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}


TEST(defaults)
{
    char                err[256];
    chat_worker_conf_t  c;

    CHECK_EQ(parse(&c, err, 0), 0);
    CHECK(strcmp(c.brokers, "127.0.0.1:9092") == 0);
    CHECK(strcmp(c.topic, "chat.writes") == 0);
    CHECK(c.dead_letter != NULL
          && strcmp(c.dead_letter, "chat.writes.dead") == 0);
    CHECK(strcmp(c.group, "chat-workers") == 0);
    CHECK(strcmp(c.store, "sqlite:chat.db") == 0);
    CHECK(strcmp(c.redis_host, "127.0.0.1") == 0);
    CHECK_EQ(c.redis_port, 6379);
    CHECK(c.redis_path == NULL);
    CHECK_EQ(c.redis_timeout, 1000);
    CHECK_EQ(c.sync_limit, 500);
    CHECK_EQ(c.batch, 500);
    CHECK_EQ(c.log_level, CHAT_LOG_INFO);
    CHECK_EQ(c.nkafka_options, 0);
    CHECK(c.push_url == NULL);
    CHECK_EQ(c.push_delay, 5000);
    CHECK_EQ(c.push_timeout, 5000);
    CHECK_EQ(c.push_retries, 5);
    CHECK_EQ(c.push_concurrency, 32);
    chat_worker_conf_free(&c);
}


TEST(dead_letter_topic_or_off)
{
    char                err[256];
    chat_worker_conf_t  c;

    CHECK_EQ(parse(&c, err, 2, "--dead-letter", "ops.skipped"), 0);
    CHECK(c.dead_letter != NULL && strcmp(c.dead_letter, "ops.skipped") == 0);
    chat_worker_conf_free(&c);

    /* off: skipped records are only logged */
    CHECK_EQ(parse(&c, err, 1, "--dead-letter=off"), 0);
    CHECK(c.dead_letter == NULL);
    chat_worker_conf_free(&c);

    write_file("chat_kafka_dead_letter off;\n");
    CHECK_EQ(parse(&c, err, 2, "--config", test_file), 0);
    CHECK(c.dead_letter == NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--dead-letter", ""), -1);
    CHECK(strstr(err, "chat_kafka_dead_letter") != NULL);
    chat_worker_conf_free(&c);
}


TEST(push_flags_and_keys)
{
    char                err[256];
    chat_worker_conf_t  c;

    CHECK_EQ(parse(&c, err, 8, "--push-url", "https://hooks.local/p?k=1",
                   "--push-delay=700ms", "--push-timeout", "2s",
                   "--push-retries", "0", "--push-concurrency=4"), 0);
    CHECK(c.push_url != NULL
          && strcmp(c.push_url, "https://hooks.local/p?k=1") == 0);
    CHECK_EQ(c.push_delay, 700);
    CHECK_EQ(c.push_timeout, 2000);
    CHECK_EQ(c.push_retries, 0);
    CHECK_EQ(c.push_concurrency, 4);
    chat_worker_conf_free(&c);

    write_file("chat_push_url http://127.0.0.1:9000/push;\n"
               "chat_push_delay 10s;\n"
               "chat_push_timeout 250ms;\n"
               "chat_push_retries 9;\n"
               "chat_push_concurrency 100;\n");

    CHECK_EQ(parse(&c, err, 4, "--config", test_file, "--push-delay", "0"),
             0);
    CHECK(c.push_url != NULL
          && strcmp(c.push_url, "http://127.0.0.1:9000/push") == 0);
    CHECK_EQ(c.push_delay, 0);
    CHECK_EQ(c.push_timeout, 250);
    CHECK_EQ(c.push_retries, 9);
    CHECK_EQ(c.push_concurrency, 100);
    chat_worker_conf_free(&c);

    /* another protocol, or no host part, is refused at start */
    CHECK_EQ(parse(&c, err, 2, "--push-url", "file:///etc/passwd"), -1);
    CHECK(strstr(err, "http:// or https://") != NULL);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--push-url", "http://"), -1);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--push-url", ""), -1);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--push-timeout", "0"), -1);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--push-retries", "101"), -1);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--push-concurrency", "0"), -1);
    chat_worker_conf_free(&c);
}


TEST(flags_both_forms)
{
    char                err[256];
    chat_worker_conf_t  c;

    CHECK_EQ(parse(&c, err, 16, "--brokers", "k1:9092,k2:9092",
                   "--topic=t", "--group", "g", "--redis", "[::1]:6380",
                   "--store=sqlite:/tmp/x.db", "--sync-limit", "5",
                   "--batch=7", "--log-level", "debug",
                   "--redis-timeout=250ms", "--kafka-option",
                   "fetch.wait.max.ms=5"), 0);
    CHECK(strcmp(c.brokers, "k1:9092,k2:9092") == 0);
    CHECK(strcmp(c.topic, "t") == 0);
    CHECK(strcmp(c.group, "g") == 0);
    CHECK(strcmp(c.redis_host, "::1") == 0);
    CHECK_EQ(c.redis_port, 6380);
    CHECK(strcmp(c.store, "sqlite:/tmp/x.db") == 0);
    CHECK_EQ(c.sync_limit, 5);
    CHECK_EQ(c.batch, 7);
    CHECK_EQ(c.log_level, CHAT_LOG_DEBUG);
    CHECK_EQ(c.redis_timeout, 250);
    CHECK_EQ(c.nkafka_options, 1);
    CHECK(c.nkafka_options == 1
          && strcmp(c.kafka_options[0].name, "fetch.wait.max.ms") == 0
          && strcmp(c.kafka_options[0].value, "5") == 0);
    chat_worker_conf_free(&c);
}


TEST(redis_forms)
{
    char                err[256];
    chat_worker_conf_t  c;

    CHECK_EQ(parse(&c, err, 2, "--redis", "redis.local"), 0);
    CHECK(strcmp(c.redis_host, "redis.local") == 0);
    CHECK_EQ(c.redis_port, 6379);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--redis", "unix:/run/redis.sock"), 0);
    CHECK(c.redis_host == NULL);
    CHECK(c.redis_path != NULL && strcmp(c.redis_path, "/run/redis.sock")
                                  == 0);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--redis", "h:0"), -1);
    CHECK(strstr(err, "bad port") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--redis", ":6379"), -1);
    CHECK(strstr(err, "no host") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--redis", "[::1"), -1);
    chat_worker_conf_free(&c);
}


TEST(redis_cluster_switch_and_seeds)
{
    char                err[256];
    chat_worker_conf_t  c;

    CHECK_EQ(parse(&c, err, 0), 0);
    CHECK_EQ(c.redis_cluster, 0);
    chat_worker_conf_free(&c);

    /* the switch alone is on, and takes no value after it */
    CHECK_EQ(parse(&c, err, 3, "--redis-cluster", "--redis",
                   "127.0.0.1:7000,127.0.0.1:7001"), 0);
    CHECK_EQ(c.redis_cluster, 1);
    CHECK(strcmp(c.redis, "127.0.0.1:7000,127.0.0.1:7001") == 0);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 1, "--redis-cluster=off"), 0);
    CHECK_EQ(c.redis_cluster, 0);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 1, "--redis-cluster=yes"), -1);
    CHECK(strstr(err, "not on or off") != NULL);
    chat_worker_conf_free(&c);

    /* a seed that is no host:port */
    CHECK_EQ(parse(&c, err, 3, "--redis-cluster", "--redis",
                   "127.0.0.1:7000,h:0"), -1);
    CHECK(strstr(err, "bad Redis Cluster seed \"h:0\"") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 3, "--redis-cluster", "--redis", ","), -1);
    CHECK(strstr(err, "no Redis Cluster seed") != NULL);
    chat_worker_conf_free(&c);

    /* from the file */
    write_file("chat_redis 10.0.0.2:7000,10.0.0.3:7000;\n"
               "chat_redis_cluster on;\n");
    CHECK_EQ(parse(&c, err, 2, "--config", test_file), 0);
    CHECK_EQ(c.redis_cluster, 1);
    chat_worker_conf_free(&c);
}


TEST(file_then_flags_win)
{
    char                err[256];
    chat_worker_conf_t  c;

    write_file("# chat-worker\n"
               "\n"
               "chat_kafka_brokers   10.0.0.1:9092;\n"
               "  chat_kafka_topic writes\n"
               "chat_kafka_option security.protocol plaintext;\n"
               "chat_kafka_option client.rack=r1\n"
               "chat_redis 10.0.0.2:6390;\n"
               "chat_redis_timeout 2s;\n"
               "chat_sync_limit 50\n");

    CHECK_EQ(parse(&c, err, 4, "--topic", "flagged", "--config",
                   test_file), 0);
    CHECK(strcmp(c.brokers, "10.0.0.1:9092") == 0);
    CHECK(strcmp(c.topic, "flagged") == 0);
    CHECK(strcmp(c.redis_host, "10.0.0.2") == 0);
    CHECK_EQ(c.redis_port, 6390);
    CHECK_EQ(c.redis_timeout, 2000);
    CHECK_EQ(c.sync_limit, 50);
    CHECK_EQ(c.nkafka_options, 2);
    CHECK(c.nkafka_options == 2
          && strcmp(c.kafka_options[0].name, "security.protocol") == 0
          && strcmp(c.kafka_options[0].value, "plaintext") == 0
          && strcmp(c.kafka_options[1].name, "client.rack") == 0
          && strcmp(c.kafka_options[1].value, "r1") == 0);
    chat_worker_conf_free(&c);
}


TEST(file_errors_name_the_line)
{
    char                err[256];
    chat_worker_conf_t  c;

    write_file("chat_kafka_topic t\nchat_bogus 1\n");
    CHECK_EQ(parse(&c, err, 2, "--config", test_file), -1);
    CHECK(strstr(err, ":2: unknown key \"chat_bogus\"") != NULL);
    chat_worker_conf_free(&c);

    write_file("chat_worker_batch lots\n");
    CHECK_EQ(parse(&c, err, 1, "--config=/nonexistent/chat-worker.conf"),
             -1);
    CHECK(strstr(err, "No such file") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--config", test_file), -1);
    CHECK(strstr(err, ":1: not a number") != NULL);
    chat_worker_conf_free(&c);
}


TEST(bad_flags_are_refused)
{
    char                err[256];
    chat_worker_conf_t  c;

    CHECK_EQ(parse(&c, err, 2, "--bogus", "1"), -1);
    CHECK(strstr(err, "unknown flag \"--bogus\"") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 1, "--topic"), -1);
    CHECK(strstr(err, "no value") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--batch", "0"), -1);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--batch", "12x"), -1);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--sync-limit", "-1"), -1);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--redis-timeout", "5m"), -1);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--log-level", "loud"), -1);
    CHECK(strstr(err, "unknown log level") != NULL);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--kafka-option", "novalue"), -1);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--store", ""), -1);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 3, "--batch", "0", "--help"), 1);
    chat_worker_conf_free(&c);
}


/* --version is answered whatever else the line holds, like --help; of the
 * two, the first given wins */
TEST(version_is_asked_before_anything_is_checked)
{
    char                err[256];
    chat_worker_conf_t  c;

    CHECK_EQ(parse(&c, err, 1, "--version"), 2);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 3, "--batch", "0", "--version"), 2);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--version", "--help"), 2);
    chat_worker_conf_free(&c);
    CHECK_EQ(parse(&c, err, 2, "--help", "--version"), 1);
    chat_worker_conf_free(&c);
}


TEST(usage_shows_the_sync_limit_and_its_default)
{
    FILE    *f;
    char    *text;
    size_t   len;

    text = NULL;
    f = open_memstream(&text, &len);
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }

    chat_worker_conf_usage(f, "chat-worker");
    fclose(f);

    CHECK(strstr(text, "--sync-limit n") != NULL);
    CHECK(strstr(text, "most messages of one sync page (500)") != NULL);
    CHECK(strstr(text, "(key: chat_sync_limit)") != NULL);
    CHECK(strstr(text, "--batch n") != NULL);

    free(text);
}


TEST(redis_password_sources)
{
    char                err[256], spec[96];
    chat_worker_conf_t  c;

    /* none: no AUTH */
    CHECK_EQ(parse(&c, err, 0), 0);
    CHECK(c.redis_secret == NULL && c.redis_user == NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--redis-password", "inline-pw"), 0);
    CHECK_STR(c.redis_secret, c.redis_secret_len, "inline-pw");
    chat_worker_conf_free(&c);

    /* a file: its line without the line end */
    write_file("from-a-file\r\n");
    snprintf(spec, sizeof(spec), "file:%s", test_file);
    CHECK_EQ(parse(&c, err, 4, "--redis-password", spec,
                   "--redis-user", "chat"), 0);
    CHECK_STR(c.redis_secret, c.redis_secret_len, "from-a-file");
    CHECK(strcmp(c.redis_user, "chat") == 0);
    chat_worker_conf_free(&c);

    /* the environment */
    setenv("CHAT_TEST_REDIS_PW", "from-the-env", 1);
    CHECK_EQ(parse(&c, err, 2, "--redis-password", "env:CHAT_TEST_REDIS_PW"),
             0);
    CHECK_STR(c.redis_secret, c.redis_secret_len, "from-the-env");
    chat_worker_conf_free(&c);
    unsetenv("CHAT_TEST_REDIS_PW");
}


TEST(redis_password_refusals)
{
    char                err[256], spec[96];
    chat_worker_conf_t  c;

    CHECK_EQ(parse(&c, err, 2, "--redis-password", "env:CHAT_TEST_UNSET_PW"),
             -1);
    CHECK(strstr(err, "CHAT_TEST_UNSET_PW") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--redis-password", "file:/nonexistent/pw"),
             -1);
    CHECK(strstr(err, "/nonexistent/pw") != NULL);
    chat_worker_conf_free(&c);

    write_file("\n");
    snprintf(spec, sizeof(spec), "file:%s", test_file);
    CHECK_EQ(parse(&c, err, 2, "--redis-password", spec), -1);
    CHECK(strstr(err, "empty") != NULL);
    chat_worker_conf_free(&c);

    write_file("two\nlines\n");
    CHECK_EQ(parse(&c, err, 2, "--redis-password", spec), -1);
    CHECK(strstr(err, "more than one line") != NULL);
    chat_worker_conf_free(&c);

    {
        /* CHAT_SECRET_SRC_MAX + 1 bytes and a line end: too long */
        static char  big[4096 + 3];

        memset(big, 'k', 4097);
        big[4097] = '\n';
        write_file(big);
        CHECK_EQ(parse(&c, err, 2, "--redis-password", spec), -1);
        CHECK(strstr(err, "too long") != NULL);
        chat_worker_conf_free(&c);

        big[4096] = '\n';
        big[4097] = '\0';
        write_file(big);
        CHECK_EQ(parse(&c, err, 2, "--redis-password", spec), 0);
        CHECK_EQ(c.redis_secret_len, 4096);
        chat_worker_conf_free(&c);
    }

    CHECK_EQ(parse(&c, err, 2, "--redis-user", "chat"), -1);
    CHECK(strstr(err, "needs chat_redis_password") != NULL);
    chat_worker_conf_free(&c);
}


TEST(media_flags_and_keys)
{
    char                err[256], spec[96];
    chat_worker_conf_t  c;

    /* the defaults: no key (sends with media refused), no directory (no
     * media swept), the cleanup every 10 s */
    CHECK_EQ(parse(&c, err, 0), 0);
    CHECK(c.media_secret == NULL && c.media_dir == NULL);
    CHECK_EQ(c.media_url_ttl, 7 * 86400);
    CHECK_EQ(c.media_grace, 86400);
    CHECK_EQ(c.cleanup_interval, 10000);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 10, "--media-key",
                   "0123456789abcdef0123456789abcdef", "--media-url-ttl",
                   "3600", "--media-dir", "/var/lib/chat/media",
                   "--media-grace", "60", "--cleanup-interval", "500ms"), 0);
    CHECK_STR((const char *) c.media_secret, c.media_secret_len,
              "0123456789abcdef0123456789abcdef");
    CHECK_EQ(c.media_url_ttl, 3600);
    CHECK(strcmp(c.media_dir, "/var/lib/chat/media") == 0);
    CHECK_EQ(c.media_grace, 60);
    CHECK_EQ(c.cleanup_interval, 500);
    chat_worker_conf_free(&c);

    /* the file's keys, and a key from a file or the environment */
    write_file("chat_media_key env:CHAT_TEST_MEDIA_KEY;\n"
               "chat_media_url_ttl 120;\nchat_media_dir /m;\n"
               "chat_media_grace 30;\nchat_cleanup_interval 0;\n");
    setenv("CHAT_TEST_MEDIA_KEY", "a key from the environment, long enough",
           1);
    CHECK_EQ(parse(&c, err, 2, "--config", test_file), 0);
    CHECK_STR((const char *) c.media_secret, c.media_secret_len,
              "a key from the environment, long enough");
    CHECK_EQ(c.media_url_ttl, 120);
    CHECK(strcmp(c.media_dir, "/m") == 0);
    CHECK_EQ(c.media_grace, 30);
    CHECK_EQ(c.cleanup_interval, 0);
    chat_worker_conf_free(&c);
    unsetenv("CHAT_TEST_MEDIA_KEY");

    write_file("a media key of a file, 32 bytes and more\n");
    snprintf(spec, sizeof(spec), "file:%s", test_file);
    CHECK_EQ(parse(&c, err, 2, "--media-key", spec), 0);
    CHECK_STR((const char *) c.media_secret, c.media_secret_len,
              "a media key of a file, 32 bytes and more");
    chat_worker_conf_free(&c);
}


TEST(media_refusals)
{
    char                err[256];
    chat_worker_conf_t  c;

    /* shorter than CHAT_MEDIA_KEY_MIN, as the module refuses it */
    CHECK_EQ(parse(&c, err, 2, "--media-key", "short"), -1);
    CHECK(strstr(err, "chat_media_key: 5 bytes, at least 32") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--media-key", "env:CHAT_TEST_NO_SUCH_VAR"),
             -1);
    CHECK(strstr(err, "chat_media_key") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--media-url-ttl", "0"), -1);
    CHECK(strstr(err, "not a number in range") != NULL);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--media-grace", "1h"), -1);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--cleanup-interval", "-1"), -1);
    chat_worker_conf_free(&c);

    CHECK_EQ(parse(&c, err, 2, "--media-dir", ""), -1);
    CHECK(strstr(err, "empty") != NULL);
    chat_worker_conf_free(&c);
}


int
main(void)
{
    int  fd;

    strcpy(test_file, "/tmp/chat-test-conf-XXXXXX");

    fd = mkstemp(test_file);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }

    close(fd);

    RUN(defaults);
    RUN(flags_both_forms);
    RUN(dead_letter_topic_or_off);
    RUN(push_flags_and_keys);
    RUN(redis_forms);
    RUN(redis_cluster_switch_and_seeds);
    RUN(file_then_flags_win);
    RUN(file_errors_name_the_line);
    RUN(bad_flags_are_refused);
    RUN(version_is_asked_before_anything_is_checked);
    RUN(redis_password_sources);
    RUN(redis_password_refusals);
    RUN(media_flags_and_keys);
    RUN(media_refusals);
    RUN(usage_shows_the_sync_limit_and_its_default);

    unlink(test_file);

    return test_summary("worker_conf");
}
