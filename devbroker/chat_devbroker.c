/*
 * chat-devbroker: the Kafka broker of development machines and CI.
 *
 * No Kafka broker can be installed from Debian 12, so this program stands in
 * for one: it runs librdkafka's own mock cluster (rdkafka_mock.h), which
 * speaks the real Kafka protocol on loopback TCP ports, so the nginx module
 * and the chat-workers use their production code paths against it (produce
 * with acks=all and idempotence, consumer groups, offset commits).
 *
 *   chat-devbroker [--brokers N] [--topic NAME[:PARTITIONS]]...
 *                  [--address-file PATH] [--pid-file PATH] [--rtt MS]
 *                  [--debug CONTEXTS]
 *
 * The bootstrap list ("127.0.0.1:port,...") goes to stderr and, once the
 * cluster is up, to --address-file. It runs until SIGTERM or SIGINT.
 * SIGUSR1 sets every broker down (connections closed, new ones refused) and
 * SIGUSR2 sets them up again, so that tests can take Kafka away; --rtt
 * delays every response, so that they can make it slow.
 *
 * What the mock does NOT do, unlike a real cluster:
 *
 *   - persist: the log, the committed offsets and the group state live in
 *     this process' memory. A restart loses all of them, and the ports
 *     change (librdkafka 2.0 picks them; there is no way to choose them), so
 *     every client must be restarted with the new address too;
 *   - retain: each partition keeps at most 100000 produce batches or 5 MiB,
 *     older batches are dropped, as if by a small retention;
 *   - replicate: the replicas are only metadata. acks=all is answered by the
 *     leader alone, and a broker set down does not move its partitions to
 *     another leader, so with --brokers 3 a down broker's partitions are
 *     simply unavailable until it is set up again;
 *   - administer: topics come from --topic, each T with its dead-letter
 *     topic T.dead (any other topic is created, with 4 partitions, by its
 *     first use); CreateTopics, DeleteTopics,
 *     ACLs, quotas and configuration changes are not supported;
 *   - answer a waiting fetch early: a Fetch is answered after the
 *     consumer's fetch.wait.max.ms even when records arrive meanwhile (a
 *     real broker answers as soon as there are any), so against the mock
 *     produce-to-consume latency is about fetch.wait.max.ms (default 500);
 *   - secure: plaintext on 127.0.0.1 only, no TLS, no SASL;
 *   - scale: one thread serves every broker of the cluster, and a fetch
 *     looks its offset up by walking the partition's batches from the
 *     oldest, so its cost grows with the log (up to the retention above):
 *     benchmarks start each phase on a fresh broker (scripts/bench).
 *
 * librdkafka calls are not async-signal-safe, so signals are never handled
 * in a handler: they are blocked in every thread (before librdkafka starts
 * any) and taken synchronously by sigwaitinfo() in the main thread.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>


#define DEVBROKER_MAX_BROKERS      16
#define DEVBROKER_MAX_TOPICS       32
#define DEVBROKER_MAX_PARTITIONS   1024
#define DEVBROKER_MAX_REPLICATION  3
#define DEVBROKER_TOPIC_LEN        249


typedef struct {
    char  name[DEVBROKER_TOPIC_LEN + 1];
    int   partitions;
} devbroker_topic_t;


typedef struct {
    int                 brokers;
    int                 ntopics;
    devbroker_topic_t   topics[DEVBROKER_MAX_TOPICS];
    const char         *address_file;
    const char         *pid_file;
    const char         *debug;
    int                 rtt;
} devbroker_conf_t;


static void devbroker_usage(FILE *out);
static int devbroker_parse_int(const char *s, int min, int max, int *out);
static int devbroker_parse_topic(const char *arg, devbroker_topic_t *topic);
static int devbroker_parse_args(int argc, char **argv, devbroker_conf_t *conf);
static int devbroker_dead_letters(devbroker_conf_t *conf);
static int devbroker_write_file(const char *path, const char *text);
static int devbroker_set_all(rd_kafka_mock_cluster_t *mc, int brokers,
    int up);


static void
devbroker_usage(FILE *out)
{
    fprintf(out,
        "usage: chat-devbroker [--brokers N] [--topic NAME[:PARTITIONS]]...\n"
        "                      [--address-file PATH] [--pid-file PATH]\n"
        "                      [--rtt MS] [--debug CONTEXTS]\n"
        "\n"
        "A development Kafka cluster (librdkafka's mock cluster) on 127.0.0.1.\n"
        "  --brokers N        brokers in the cluster (default 1, at most %d)\n"
        "  --topic T[:P]      create topic T with P partitions (default\n"
        "                     chat.writes:8), and T.dead with 1 (its\n"
        "                     dead-letter topic); may be repeated\n"
        "  --address-file F   write the bootstrap list to F once it is up\n"
        "  --pid-file F       write the process id to F\n"
        "  --rtt MS           delay every response by MS milliseconds\n"
        "  --debug CONTEXTS   librdkafka debug contexts (e.g. mock,protocol)\n"
        "Signals: TERM/INT stop it; USR1 sets every broker down, USR2 up.\n",
        DEVBROKER_MAX_BROKERS);
}


static int
devbroker_parse_int(const char *s, int min, int max, int *out)
{
    char  *end;
    long   v;

    errno = 0;
    v = strtol(s, &end, 10);

    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return -1;
    }

    *out = (int) v;

    return 0;
}


static int
devbroker_parse_topic(const char *arg, devbroker_topic_t *topic)
{
    size_t       len, i;
    const char  *colon;

    colon = strchr(arg, ':');
    len = colon ? (size_t) (colon - arg) : strlen(arg);

    /* the names Kafka itself accepts */
    if (len == 0 || len > DEVBROKER_TOPIC_LEN) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!((arg[i] >= 'a' && arg[i] <= 'z')
              || (arg[i] >= 'A' && arg[i] <= 'Z')
              || (arg[i] >= '0' && arg[i] <= '9')
              || arg[i] == '.' || arg[i] == '_' || arg[i] == '-'))
        {
            return -1;
        }
    }

    memcpy(topic->name, arg, len);
    topic->name[len] = '\0';
    topic->partitions = 8;

    if (colon != NULL
        && devbroker_parse_int(colon + 1, 1, DEVBROKER_MAX_PARTITIONS,
                               &topic->partitions) != 0)
    {
        return -1;
    }

    return 0;
}


static int
devbroker_parse_args(int argc, char **argv, devbroker_conf_t *conf)
{
    int          i;
    const char  *opt, *val;

    memset(conf, 0, sizeof(*conf));
    conf->brokers = 1;

    for (i = 1; i < argc; i++) {
        opt = argv[i];

        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            devbroker_usage(stdout);
            exit(0);
        }

        if (i + 1 >= argc) {
            fprintf(stderr, "chat-devbroker: %s: unknown option or no value\n",
                    opt);
            return -1;
        }

        val = argv[++i];

        if (strcmp(opt, "--brokers") == 0) {
            if (devbroker_parse_int(val, 1, DEVBROKER_MAX_BROKERS,
                                    &conf->brokers) != 0)
            {
                fprintf(stderr, "chat-devbroker: --brokers: \"%s\" is not "
                        "a number from 1 to %d\n", val, DEVBROKER_MAX_BROKERS);
                return -1;
            }

        } else if (strcmp(opt, "--topic") == 0) {
            if (conf->ntopics == DEVBROKER_MAX_TOPICS) {
                fprintf(stderr, "chat-devbroker: at most %d topics\n",
                        DEVBROKER_MAX_TOPICS);
                return -1;
            }

            if (devbroker_parse_topic(val, &conf->topics[conf->ntopics])
                != 0)
            {
                fprintf(stderr, "chat-devbroker: --topic: \"%s\" is not "
                        "NAME[:PARTITIONS] (NAME of a-z A-Z 0-9 . _ -, "
                        "1 to %d partitions)\n", val,
                        DEVBROKER_MAX_PARTITIONS);
                return -1;
            }

            conf->ntopics++;

        } else if (strcmp(opt, "--address-file") == 0) {
            conf->address_file = val;

        } else if (strcmp(opt, "--pid-file") == 0) {
            conf->pid_file = val;

        } else if (strcmp(opt, "--debug") == 0) {
            conf->debug = val;

        } else if (strcmp(opt, "--rtt") == 0) {
            if (devbroker_parse_int(val, 0, 60000, &conf->rtt) != 0) {
                fprintf(stderr, "chat-devbroker: --rtt: \"%s\" is not "
                        "a number of milliseconds\n", val);
                return -1;
            }

        } else {
            fprintf(stderr, "chat-devbroker: unknown option %s\n", opt);
            return -1;
        }
    }

    if (conf->ntopics == 0) {
        (void) devbroker_parse_topic("chat.writes:8", &conf->topics[0]);
        conf->ntopics = 1;
    }

    return devbroker_dead_letters(conf);
}


/* 1 when the topic name is given already. */

static int
devbroker_has_topic(const devbroker_conf_t *conf, const char *name)
{
    int  i;

    for (i = 0; i < conf->ntopics; i++) {
        if (strcmp(conf->topics[i].name, name) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * Each topic T (but a T.dead) gets its dead-letter topic T.dead, one
 * partition, unless given: chat-worker's default chat_kafka_dead_letter
 * is chat.writes.dead, and a produce to a topic the mock lacks would only
 * create one at its first use.
 */

static int
devbroker_dead_letters(devbroker_conf_t *conf)
{
    int                 i, n;
    size_t              len;
    devbroker_topic_t  *t;

    n = conf->ntopics;

    for (i = 0; i < n; i++) {
        len = strlen(conf->topics[i].name);

        if ((len > 5 && strcmp(conf->topics[i].name + len - 5, ".dead") == 0)
            || len + 5 > DEVBROKER_TOPIC_LEN)
        {
            continue;
        }

        if (conf->ntopics == DEVBROKER_MAX_TOPICS) {
            fprintf(stderr, "chat-devbroker: at most %d topics, dead-letter "
                    "topics included\n", DEVBROKER_MAX_TOPICS);
            return -1;
        }

        t = &conf->topics[conf->ntopics];
        snprintf(t->name, sizeof(t->name), "%s.dead", conf->topics[i].name);
        t->partitions = 1;

        if (!devbroker_has_topic(conf, t->name)) {
            conf->ntopics++;
        }
    }

    return 0;
}


/*
 * Writes a temporary file next to path and renames it over path, so that a
 * reader (scripts/dev-up waiting for the address) sees either nothing or
 * the whole text, never a part of it.
 */
static int
devbroker_write_file(const char *path, const char *text)
{
    int       fd, n;
    char      tmp[PATH_MAX];
    size_t    len, off;
    ssize_t   w;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long) getpid());
    if (n < 0 || (size_t) n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        return -1;
    }

    len = strlen(text);

    for (off = 0; off < len; off += (size_t) w) {
        w = write(fd, text + off, len - off);
        if (w == -1) {
            if (errno == EINTR) {
                w = 0;
                continue;
            }

            goto failed;
        }
    }

    if (close(fd) == -1) {
        fd = -1;
        goto failed;
    }

    if (rename(tmp, path) == -1) {
        fd = -1;
        goto failed;
    }

    return 0;

failed:

    n = errno;

    if (fd != -1) {
        (void) close(fd);
    }

    (void) unlink(tmp);
    errno = n;

    return -1;
}


/*
 * Broker ids are 1 .. brokers. Each one is set separately: the id -1 ("all
 * brokers") is not understood by every librdkafka version.
 */
static int
devbroker_set_all(rd_kafka_mock_cluster_t *mc, int brokers, int up)
{
    int                  id, rc;
    rd_kafka_resp_err_t  err;

    rc = 0;

    for (id = 1; id <= brokers; id++) {
        err = up ? rd_kafka_mock_broker_set_up(mc, id)
                 : rd_kafka_mock_broker_set_down(mc, id);

        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "chat-devbroker: broker %d: set %s: %s\n", id,
                    up ? "up" : "down", rd_kafka_err2str(err));
            rc = -1;
        }
    }

    return rc;
}


int
main(int argc, char **argv)
{
    int                       i, sig, replication, status;
    char                      pid[32], errstr[512];
    char                     *address;
    sigset_t                  set;
    const char               *bootstraps;
    rd_kafka_t               *rk;
    rd_kafka_conf_t          *kconf;
    devbroker_conf_t          conf;
    rd_kafka_resp_err_t       err;
    rd_kafka_mock_cluster_t  *mc;

    if (devbroker_parse_args(argc, argv, &conf) != 0) {
        devbroker_usage(stderr);
        return 2;
    }

    /*
     * Blocked before librdkafka starts its threads, which inherit the mask:
     * the signals can then only be taken by sigwaitinfo() below.
     */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);

    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        perror("chat-devbroker: sigprocmask");
        return 1;
    }

    /* a client that goes away mid-response must not kill the cluster */
    (void) signal(SIGPIPE, SIG_IGN);

    if (conf.pid_file != NULL) {
        (void) snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());

        if (devbroker_write_file(conf.pid_file, pid) != 0) {
            fprintf(stderr, "chat-devbroker: %s: %s\n", conf.pid_file,
                    strerror(errno));
            return 1;
        }
    }

    status = 1;
    rk = NULL;
    mc = NULL;
    address = NULL;

    /*
     * The handle only hosts the mock cluster (the mock needs one for its
     * bookkeeping); it is never used to produce. It has no bootstrap
     * servers, and says so at level 5: only warnings and worse are logged.
     *
     * The mock's sockets take their options from this configuration. With
     * Nagle's algorithm on (librdkafka 2.0's default), a response written
     * while the previous one is not yet acknowledged waits for the client's
     * next request or its delayed ACK (up to 40 ms): a producer's delivery
     * reports then lag one message behind. Real brokers set TCP_NODELAY.
     */
    kconf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(kconf, "client.id", "chat-devbroker", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(kconf, "socket.nagle.disable", "true", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(kconf, "log_level", conf.debug ? "7" : "4",
                             errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK
        || (conf.debug != NULL
            && rd_kafka_conf_set(kconf, "debug", conf.debug, errstr,
                                 sizeof(errstr)) != RD_KAFKA_CONF_OK))
    {
        fprintf(stderr, "chat-devbroker: %s\n", errstr);
        rd_kafka_conf_destroy(kconf);
        goto done;
    }

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "chat-devbroker: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(kconf);
        goto done;
    }

    mc = rd_kafka_mock_cluster_new(rk, conf.brokers);
    if (mc == NULL) {
        fprintf(stderr, "chat-devbroker: could not create the mock cluster\n");
        goto done;
    }

    replication = conf.brokers < DEVBROKER_MAX_REPLICATION
                  ? conf.brokers : DEVBROKER_MAX_REPLICATION;

    for (i = 0; i < conf.ntopics; i++) {
        err = rd_kafka_mock_topic_create(mc, conf.topics[i].name,
                                         conf.topics[i].partitions,
                                         replication);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "chat-devbroker: topic %s: %s\n",
                    conf.topics[i].name, rd_kafka_err2str(err));
            goto done;
        }
    }

    for (i = 1; conf.rtt > 0 && i <= conf.brokers; i++) {
        err = rd_kafka_mock_broker_set_rtt(mc, i, conf.rtt);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "chat-devbroker: broker %d: rtt: %s\n", i,
                    rd_kafka_err2str(err));
            goto done;
        }
    }

    bootstraps = rd_kafka_mock_cluster_bootstraps(mc);

    if (conf.address_file != NULL) {
        if (asprintf(&address, "%s\n", bootstraps) == -1) {
            address = NULL;
            fprintf(stderr, "chat-devbroker: out of memory\n");
            goto done;
        }

        if (devbroker_write_file(conf.address_file, address) != 0) {
            fprintf(stderr, "chat-devbroker: %s: %s\n", conf.address_file,
                    strerror(errno));
            goto done;
        }
    }

    for (i = 0; i < conf.ntopics; i++) {
        fprintf(stderr, "chat-devbroker: topic %s, %d partitions, "
                "replication factor %d\n", conf.topics[i].name,
                conf.topics[i].partitions, replication);
    }

    if (conf.rtt > 0) {
        fprintf(stderr, "chat-devbroker: every response delayed %d ms\n",
                conf.rtt);
    }

    fprintf(stderr, "chat-devbroker: ready: %d broker(s) at %s (pid %ld)\n",
            conf.brokers, bootstraps, (long) getpid());

    for ( ;; ) {
        sig = sigwaitinfo(&set, NULL);

        if (sig == -1) {
            if (errno == EINTR) {
                continue;
            }

            perror("chat-devbroker: sigwaitinfo");
            goto done;
        }

        if (sig == SIGUSR1) {
            fprintf(stderr, "chat-devbroker: SIGUSR1: setting every broker "
                    "down\n");
            (void) devbroker_set_all(mc, conf.brokers, 0);
            fprintf(stderr, "chat-devbroker: brokers are down\n");
            continue;
        }

        if (sig == SIGUSR2) {
            fprintf(stderr, "chat-devbroker: SIGUSR2: setting every broker "
                    "up\n");
            (void) devbroker_set_all(mc, conf.brokers, 1);
            fprintf(stderr, "chat-devbroker: brokers are up\n");
            continue;
        }

        fprintf(stderr, "chat-devbroker: %s: stopping; the log is lost\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }

    status = 0;

done:

    /* a stale address would point the next clients at a dead port */
    if (conf.address_file != NULL && address != NULL) {
        (void) unlink(conf.address_file);
    }

    if (mc != NULL) {
        rd_kafka_mock_cluster_destroy(mc);
    }

    if (rk != NULL) {
        rd_kafka_destroy(rk);
    }

    if (conf.pid_file != NULL) {
        (void) unlink(conf.pid_file);
    }

    free(address);

    if (status == 0) {
        fprintf(stderr, "chat-devbroker: stopped\n");
    }

    return status;
}
