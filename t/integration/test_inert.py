"""The module merely loaded: in an nginx with no `chat on` location it arms
no timer, opens no connection and creates no producer, even with its
backend configured, and nginx's own locations work, at `error_log debug`
too (a timer of the module without a connection as its data killed every
worker there)."""

import select
import socket
import subprocess
import time
import urllib.request

import pytest

from harness import (CONF, NGINX, Nginx, SECRET, fail_on_log_problems,
                     module_path)

# the server of the harness's configuration, with no chat location
INERT_CONF = CONF.replace("error_log {dir}/error.log info;",
                          "error_log {dir}/error.log debug;")
INERT_CONF = INERT_CONF[:INERT_CONF.index("        location /chat {{")] + """\
        {location}
        location / {{ return 200 "plain\\n"; }}
    }}
}}
"""

WATCH = 1.5   # seconds: 15 rounds of the shed tick that crashed
WORKERS_CRASH = ("signal 11", "exited on signal")


class InertNginx(Nginx):
    def write_conf(self, port):
        self.conf.write_text(INERT_CONF.format(
            dir=self.dir, module=module_path(), port=port, http=self.http,
            location=self.location))


def debug_build():
    r = subprocess.run([NGINX, "-V"], capture_output=True, text=True)
    return "--with-debug" in r.stderr


class Listener:
    """A listening socket that records whether anybody connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def connected(self, timeout=0.0):
        ready, _, _ = select.select([self.sock], [], [], timeout)
        return bool(ready)

    def close(self):
        self.sock.close()


@pytest.fixture
def backend():
    """A Redis and a Kafka address where nothing answers but a listener
    that sees every connection attempt."""
    redis, kafka = Listener(), Listener()
    yield redis, kafka
    redis.close()
    kafka.close()


def backend_conf(redis, kafka):
    return ("chat_redis 127.0.0.1:%d; chat_kafka_brokers 127.0.0.1:%d;"
            % (redis.port, kafka.port))


def start(tmp_path, http, location=""):
    return InertNginx(tmp_path / "nginx", location, http).start()


def get(n, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (n.port, path),
                                timeout=5) as r:
        return r.status, r.read()


def module_timers_expired(n):
    # nginx's expiry of a timer prints the fd of its data; -1: a timer of
    # the module (its own inlined ngx_add_timer() is built without debug)
    return [l for l in n.log_text().splitlines()
            if "event timer del: -1:" in l]


def stop_checked(n):
    n.stop()
    fail_on_log_problems(n.log_problems(), "nginx")


@pytest.mark.parametrize("location", ["", "location /status { chat_status; }"],
                         ids=["plain", "chat_status"])
def test_loaded_without_chat_location_is_inert(tmp_path, backend, location):
    redis, kafka = backend
    n = start(tmp_path, backend_conf(redis, kafka), location)
    try:
        pids = n.wait_workers(2)
        time.sleep(WATCH)
        assert n.worker_pids() == pids, "workers were replaced"
        assert get(n, "/") == (200, b"plain\n")
        if location:
            status, body = get(n, "/status")
            assert status == 200 and b"chat_connections" in body
        assert not redis.connected(), "a worker connected to chat_redis"
        assert not kafka.connected(), "a worker connected to the brokers"
        if debug_build():
            assert "[debug]" in n.log_text(), "error_log debug logs nothing"
            assert module_timers_expired(n) == []
        log = n.log_text()
        assert not [w for w in WORKERS_CRASH if w in log], log[-2000:]
    finally:
        stop_checked(n)


def test_a_chat_location_starts_the_backend_and_survives_debug(tmp_path,
                                                               backend):
    """The control: the same nginx with a chat location connects to both
    addresses, and its timers (named by a placeholder connection) do not
    crash a worker at error_log debug."""
    redis, kafka = backend
    location = "location /chat { chat on; chat_jwt_secret %s; }" % SECRET
    n = start(tmp_path, backend_conf(redis, kafka), location)
    try:
        pids = n.wait_workers(2)
        assert redis.connected(timeout=5), "no worker connected to Redis"
        assert kafka.connected(timeout=5), "no worker connected to Kafka"
        time.sleep(WATCH)
        assert n.worker_pids() == pids, "workers were replaced"
        assert get(n, "/") == (200, b"plain\n")
        if debug_build():
            assert module_timers_expired(n) != []
        log = n.log_text()
        assert not [w for w in WORKERS_CRASH if w in log], log[-2000:]
    finally:
        # the listeners never answer: the workers log their failures, as
        # errors, not alerts
        stop_checked(n)
