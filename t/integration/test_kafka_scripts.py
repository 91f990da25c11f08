"""scripts/kafka, scripts/kafka-admin and the CHAT_KAFKA settings of the
development scripts: a real 1-node cluster formatted, started, given a
topic, killed and restarted on its log dir, stopped; every bad setting or
argument refused with a message that names it, and nothing started."""

import os
import subprocess

from harness import REPO, free_port
from stack import KAFKA_UP_TIMEOUT, _port_free

KAFKA = str(REPO / "scripts" / "kafka")
ADMIN = str(REPO / "scripts" / "kafka-admin")


def run(*argv, env=None, timeout=KAFKA_UP_TIMEOUT):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stdout + r.stderr


def two_free_ports():
    """A node's ports: clients, then its controller."""
    while True:
        base = free_port()
        if base < 65535 and _port_free(base + 1):
            return base


def metadata(port, *topics):
    return run(ADMIN, "metadata", "127.0.0.1:%d" % port, *topics, timeout=10)


def test_a_one_node_cluster_starts_takes_a_topic_survives_a_kill_and_stops(tmp_path):
    port = two_free_ports()
    d = tmp_path / "k"
    rc, out = run(KAFKA, "start", d, 1, port)
    assert rc == 0, out
    try:
        rc, out = run(KAFKA, "address", d)
        assert (rc, out.strip()) == (0, "127.0.0.1:%d" % port)

        rc, out = run(KAFKA, "topic", d, "t.one", 4)
        assert rc == 0, out
        rc, out = run(KAFKA, "topic", d, "t.one", 4)     # exists: fine
        assert rc == 0, out
        rc, out = metadata(port, "t.one")
        assert rc == 0 and "brokers 1" in out and "topic t.one 4 0 1" in out, out

        # a topic's partition count never changes under the scripts' feet
        rc, out = run(KAFKA, "topic", d, "t.one", 8)
        assert rc != 0 and "has 4 partitions, not 8" in out, out

        rc, out = run(KAFKA, "kill", d, 1)
        assert rc == 0, out
        assert metadata(port)[0] == 1, "the killed node still answers"
        rc, out = run(KAFKA, "restart", d, "kafka-1")
        assert rc == 0, out
        rc, out = metadata(port, "t.one")
        assert rc == 0 and "topic t.one 4 0 1" in out, "the topic did not survive: " + out
        rc, out = run(KAFKA, "restart", d, 1)
        assert rc != 0 and "kafka-1 is running" in out, out
    finally:
        rc, out = run(KAFKA, "stop", d)
    assert rc == 0, out
    assert not list((d / "run").glob("kafka-*.pid")), "a pid file is left"
    assert metadata(port)[0] == 1, "the node still answers after stop"


def test_bad_arguments_are_refused_with_a_message(tmp_path):
    d = tmp_path / "k"
    for argv, message in (
            (["start", d, 2, 40000], "CHAT_KAFKA_NODES must be 1 or 3"),
            (["start", d, 1, 65535], "must leave 2 ports per node"),
            (["start", d, 1], "kafka start DIR N BASEPORT"),
            (["topic", d, "t", 1], "no Kafka cluster in"),
            (["stop", d], "no Kafka cluster in"),
            (["bogus"], "kafka fetch"),
    ):
        rc, out = run(KAFKA, *argv, timeout=30)
        assert rc != 0 and message in out, (argv, rc, out)
    assert not list(d.glob("run/*.pid")), "a refused command started something"

    rc, out = run(ADMIN, "metadata", "127.0.0.1:1", timeout=10)
    assert rc == 1 and "no broker answered" in out, out
    rc, out = run(ADMIN, "create", "127.0.0.1:1", "t", "x", "1", timeout=10)
    assert rc == 64 and "kafka-admin" in out, out
    rc, out = run(ADMIN, "nothing", timeout=10)
    assert rc == 64 and "kafka-admin metadata" in out, out


def test_dev_up_refuses_bad_kafka_settings_and_starts_nothing(tmp_path):
    state = tmp_path / "state"
    for env, message in (
            ({"CHAT_KAFKA": "maybe"}, "CHAT_KAFKA must be dev or real, not 'maybe'"),
            ({"CHAT_KAFKA": "real", "CHAT_KAFKA_NODES": "2"},
             "CHAT_KAFKA_NODES must be 1 or 3, not '2'"),
            ({"CHAT_KAFKA": "real", "CHAT_KAFKA_HEAP": "lots"},
             "CHAT_KAFKA_HEAP must be a size like 256m, not 'lots'"),
            ({"CHAT_KAFKA": "real", "CHAT_KAFKA_LIB": str(tmp_path / "none")},
             "run 'make deps'"),
    ):
        env = dict(env, CHAT_STATE_DIR=str(state), CHAT_PORT=str(free_port()),
                   CHAT_WORKERS="0", CHAT_APIS="0")
        rc, out = run(REPO / "scripts" / "dev-up", env=env, timeout=60)
        assert rc != 0 and message in out, (env, rc, out)
        assert not list(state.glob("run/*.pid")), \
            "dev-up left something running: %s" % out
