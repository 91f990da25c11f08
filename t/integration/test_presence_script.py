"""The presence script (ngx_chat_module/lua/presence.lua) against a
real redis-server: the state machine every presence change goes through,
one operation at a time, without nginx.

Each call touches one user's hash; what it announces is read from the
user's presence channel.
"""

import re
import shutil
import socket
import subprocess
import time

import pytest

from harness import REPO, Resp, free_port, rkey

HEADER = REPO / "ngx_chat_module" / "ngx_chat_presence_lua.h"
# the script's C literal, as scripts/build-module generates it for the module
SCRIPT = REPO / "build" / "nginx" / "gen" / "ngx_chat_presence_script.h"
GRACE = 10_000


def script_text():
    """The C string literal of NGX_CHAT_PRESENCE_LUA, as Redis gets it."""
    if not SCRIPT.exists():
        pytest.fail("%s not found: build the module with `make`" % SCRIPT,
                    pytrace=False)
    text = HEADER.read_text()
    body = re.split(r"#define NGX_CHAT_PRESENCE_LUA\s+\\\n",
                    SCRIPT.read_text())[1].split("\n\n", 1)[0]
    # the string macros the script is pasted together with
    macros = text + (REPO / "common" / "chat_keys.h").read_text()
    for name, value in re.findall(r'#define ((?:NGX_CHAT_PRESENCE|CHAT_KEY)_\w+)\s+("[^"]*")', macros):
        body = re.sub(r"\b%s\b" % name, value, body)
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
    return "".join(parts).encode().decode("unicode_escape")


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no redis-server")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"],
                            cwd=tmp_path_factory.mktemp("redis"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                r = Resp(port)
                r.call("PING")
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        sha = r.call("SCRIPT", "LOAD", script_text())
        yield r, sha, port
    finally:
        proc.terminate()
        proc.wait(10)


class Presence:
    """One user's presence, driven like the module drives it."""

    names = 0

    def __init__(self, redis):
        self.r, self.sha, port = redis
        Presence.names += 1
        self.user = "u%d" % Presence.names
        self.sub = Resp(port)
        self.sub.call("SUBSCRIBE", rkey("chat:pr:", self.user))

    def op(self, *args):
        return self.r.call("EVALSHA", self.sha, 1, rkey("chat:p:", self.user),
                           args[0], self.user, *args[1:])

    def up(self, inst, now):
        return self.op("up", inst, now)

    def down(self, inst, ls, now, grace=GRACE):
        return self.op("down", inst, ls, now, grace)

    def settle(self, ls):
        return self.op("settle", ls)

    def announced(self, wait=0.2):
        """Every announcement published since the last call: (v, frame)."""
        out = []
        self.sub.sock.settimeout(wait)
        try:
            while True:
                kind, _, payload = self.sub.reply()
                assert kind == "message"
                v, frame = payload.split("\n", 1)
                out.append((int(v), frame))
        except (socket.timeout, BlockingIOError):
            pass
        finally:
            self.sub.sock.settimeout(5)
        return out

    def field(self, name):
        return self.r.call("HGET", rkey("chat:p:", self.user), name)


def online(u):
    return '{"type":"presence","user":"%s","status":"online"}' % u


def offline(u, ls):
    return '{"type":"presence","user":"%s","status":"offline","last_seen":%d}' % (u, ls)


def test_first_device_anywhere_announces_online_once(redis):
    p = Presence(redis)
    assert p.up("w1", 1000) == 0
    assert p.up("w2", 1001) == 0          # a second worker: no news
    assert p.announced() == [(1, online(p.user))]


def test_last_device_gone_settles_offline_with_its_last_seen(redis):
    p = Presence(redis)
    p.up("w1", 1000)
    p.up("w2", 1000)
    assert p.down("w1", 2000, 2000) == 0  # w2 still holds a device
    assert p.down("w2", 3000, 3000) == 3000
    assert p.announced() == [(1, online(p.user))]    # nothing before settling
    assert p.settle(3000) == 1
    assert p.settle(3000) == 0            # twice (two settlers): announced once
    assert p.announced() == [(2, offline(p.user, 3000))]
    assert p.field("st") == "offline"
    assert p.r.call("PTTL", rkey("chat:p:", p.user)) > 0      # kept 30 days, not forever


def test_a_device_back_within_the_grace_period_announces_nothing(redis):
    p = Presence(redis)
    p.up("w1", 1000)
    p.announced()
    ls = p.down("w1", 2000, 2000)
    assert p.up("w2", 2500) == 0          # back on another worker
    assert p.settle(ls) == 0              # the first settler: a device is back
    ls2 = p.down("w2", 4000, 4000)
    assert ls2 == 4000
    assert p.settle(ls) == 0              # a stale settler: someone else owns it
    assert p.announced() == []
    assert p.settle(ls2) == 1
    assert p.announced() == [(2, offline(p.user, 4000))]
    assert p.r.call("PTTL", rkey("chat:p:", p.user)) > 0
    p.up("w1", 5000)                      # online again: kept for good
    assert p.r.call("PTTL", rkey("chat:p:", p.user)) == -1
    assert p.announced() == [(3, online(p.user))]


def test_a_dead_instance_taken_down_late_goes_offline_at_once(redis):
    p = Presence(redis)
    p.up("dead", 1000)
    p.announced()
    # claimed long after its last beat (1000): the grace is over already
    assert p.down("dead", 1000, 1000 + GRACE + 5000) == 0
    assert p.announced() == [(2, offline(p.user, 1000))]


def test_taking_the_same_device_down_twice_keeps_the_first_last_seen(redis):
    p = Presence(redis)
    p.up("w1", 1000)
    assert p.down("w1", 2000, 2000) == 2000
    # a claimer of w1 after its exit runs down for w1 again
    assert p.down("w1", 9000, 3000) == 2000
    assert p.settle(2000) == 1
    assert p.announced()[-1] == (2, offline(p.user, 2000))


def test_down_of_a_user_never_online_announces_nothing(redis):
    p = Presence(redis)
    assert p.down("w1", 2000, 2000) == 0
    assert p.settle(2000) == 0
    assert p.announced() == []


def test_unknown_operation_is_an_error(redis):
    p = Presence(redis)
    with pytest.raises(RuntimeError, match="unknown presence operation"):
        p.op("sideways", "w1")


@pytest.mark.parametrize("ls", ["soon", "1e3", "0x10", " 12", "-5", "9" * 16, "9" * 100000],
                         ids=["word", "exponent", "hex", "space", "negative",
                              "16-digits", "100k-digits"])
def test_a_last_seen_that_is_not_ms_is_replaced_not_announced(redis, ls):
    """A hash written by something else: its last seen is not a number of
    ms that a Lua number holds exactly. A claimer's down (this instance
    holds no device: the stored last seen would be kept) takes its own
    instead, and what it announces is valid JSON."""
    p = Presence(redis)
    p.up("w1", 1000)
    p.announced()
    p.r.call("HDEL", rkey("chat:p:", p.user), "i:w1")      # its device is gone
    p.r.call("HSET", rkey("chat:p:", p.user), "ls", ls)
    assert p.down("w1", 2000, 2000) == 2000
    assert p.field("ls") == "2000"
    assert p.settle(2000) == 1
    assert p.announced() == [(2, offline(p.user, 2000))]


def test_a_last_seen_of_15_digits_is_kept(redis):
    p = Presence(redis)
    p.up("w1", 1000)
    p.announced()
    p.r.call("HDEL", rkey("chat:p:", p.user), "i:w1")
    p.r.call("HSET", rkey("chat:p:", p.user), "ls", "1795318602103")
    assert p.down("w1", 2000, 2000 + GRACE + 1795318602103) == 0   # due already
    assert p.announced() == [(2, offline(p.user, 1795318602103))]
