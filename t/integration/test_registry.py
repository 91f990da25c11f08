"""The session registry in Redis (README "Session registry"): one entry per
connection in chat:sess:{<user>}, scored by its expiry, written when the
connection joins its user, pushed forward on each heartbeat, removed on
close, and gone by itself when the nginx worker can no longer refresh it.

nginx runs with chat_heartbeat 1s (so entries live 3 s) and two workers;
each test has users of its own (stack.names).
"""

import asyncio
import json
import os
import re
import signal
import socket
import time

import pytest

from harness import Nginx, pids_with_parent, rkey
from stack import SLOW, now_ms, running_stack
from wsclient import chat

HEARTBEAT = 1.0
TTL = 3 * HEARTBEAT


def registry_conf(text):
    text, n1 = re.subn(r"chat_heartbeat \S+;", "chat_heartbeat %ds;" % HEARTBEAT, text)
    text, n2 = re.subn(r"worker_processes \S+;", "worker_processes 2;", text)
    assert (n1, n2) == (1, 1), "nginx.conf.example changed: adapt registry_conf"
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("registry"), workers=1,
                       conf=registry_conf) as s:
        yield s


# ---------------------------------------------------------------- helpers

def live_entries(stack, user):
    """[(member dict, score)] of user's live entries, as an operator reads
    them: ZRANGEBYSCORE chat:sess:{<user>} <now> +inf WITHSCORES."""
    out = stack.redis_cli("ZRANGEBYSCORE", rkey("chat:sess:", user), now_ms(), "+inf",
                          "WITHSCORES")
    lines = out.splitlines() if out else []
    return [(json.loads(m), int(float(s))) for m, s in zip(lines[::2], lines[1::2])]


def raw_members(stack, user):
    out = stack.redis_cli("ZRANGE", rkey("chat:sess:", user), 0, -1)
    return out.splitlines() if out else []


async def wait_for(predicate, timeout, what):
    """Polls predicate() (keeping the event loop, and so the clients'
    pongs, running) until it is true."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        result = predicate()
        if result:
            return result
        assert time.monotonic() < deadline, "no %s within %.1fs" % (what, timeout * SLOW)
        await asyncio.sleep(0.1)


async def assert_works(client):
    await client.send({"type": "ping", "id": "p"})
    assert (await client.recv("pong"))["id"] == "p"


def nginx_workers(stack):
    return pids_with_parent(stack.pid("nginx"))


# ---------------------------------------------------------------- tests

def test_entry_per_device_with_its_fields_and_gone_on_close(stack):
    (user,) = stack.names("reg")

    async def main():
        before = now_ms()
        phone = await stack.connect(user, "phone")
        laptop = await stack.connect(user, "laptop")
        try:
            entries = await wait_for(lambda: len(live_entries(stack, user)) == 2
                                     and live_entries(stack, user), 3,
                                     "two registry entries")
            by_device = {m["device"]: (m, score) for m, score in entries}
            assert sorted(by_device) == ["laptop", "phone"], entries
            workers = nginx_workers(stack)
            for client in (phone, laptop):
                m, score = by_device[client.device]
                assert sorted(m) == ["conn", "device", "node", "since", "worker"], m
                assert m["conn"] == client.hello["conn"], (m, client.hello)
                assert m["node"] == socket.gethostname().lower(), m
                assert m["worker"] in workers, (m, workers)
                assert before - 1000 <= m["since"] <= now_ms() + 1000, m
                # scored by its expiry: three heartbeats after its last write
                assert now_ms() < score <= now_ms() + TTL * 1000 + 1000, (score, now_ms())
            # the member is the compact JSON, exactly
            assert sorted(raw_members(stack, user)) == sorted(
                json.dumps(m, separators=(",", ":")) for m, _ in entries)

            await phone.close()
            await wait_for(lambda: [m["device"] for m, _ in live_entries(stack, user)]
                           == ["laptop"], 3, "the phone's entry removed")
            await laptop.close()
            await wait_for(lambda: stack.redis_cli("EXISTS", rkey("chat:sess:", user)) == "0",
                           3, "the key removed with its last entry")
        finally:
            await phone.close()
            await laptop.close()
    asyncio.run(main())


def test_heartbeat_moves_the_expiry_forward(stack):
    (user,) = stack.names("reg")

    async def main():
        c = await stack.connect(user, "phone")
        try:
            (m0, s0), = await wait_for(lambda: live_entries(stack, user), 3, "an entry")
            ttl0 = int(stack.redis_cli("PTTL", rkey("chat:sess:", user)))
            assert 0 < ttl0 <= TTL * 1000, ttl0
            scores = [s0]
            for _ in range(3):
                await asyncio.sleep(HEARTBEAT)
                (m, s), = live_entries(stack, user)
                assert m == m0, "the member changed: %s, was %s" % (m, m0)
                scores.append(s)
            # each heartbeat pushes it: past the first TTL, and still live
            assert scores == sorted(scores) and scores[-1] >= s0 + 2000, scores
            assert scores[-1] > now_ms(), scores
            assert len(raw_members(stack, user)) == 1
            await assert_works(c)
        finally:
            await c.close()
    asyncio.run(main())


def test_entries_expire_when_the_worker_cannot_refresh_them(stack):
    """SIGSTOP of every nginx worker: nothing refreshes the entries, and
    they (and the key) are gone after the TTL without anyone removing them;
    SIGCONT, and the workers carry on."""
    (user,) = stack.names("reg")

    async def main():
        c = await stack.connect(user, "phone")
        workers = nginx_workers(stack)
        stopped = []
        try:
            await wait_for(lambda: live_entries(stack, user), 3, "an entry")
            for pid in workers:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            await asyncio.sleep(0.5)
            assert live_entries(stack, user), "expired before its TTL"
            await asyncio.sleep(TTL + 1.0)
            assert live_entries(stack, user) == []
            assert stack.redis_cli("EXISTS", rkey("chat:sess:", user)) == "0"
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            await c.close()
        # the workers are back: a new connection is registered again
        c2 = await stack.connect(user, "tablet")
        try:
            await wait_for(lambda: [m["device"] for m, _ in live_entries(stack, user)]
                           == ["tablet"], 3, "the new connection's entry")
        finally:
            await c2.close()
    asyncio.run(main())


def test_a_flushed_script_is_loaded_again(stack):
    """Redis lost its scripts (SCRIPT FLUSH, as after a failover): the next
    registry write fails NOSCRIPT, the worker loads the script again, and
    a heartbeat after it writes the entry again."""
    (user,) = stack.names("reg")
    log = stack.logs / "error.log"

    async def main():
        c = await stack.connect(user, "phone")
        try:
            await wait_for(lambda: live_entries(stack, user), 3, "an entry")
            start = log.stat().st_size
            assert stack.redis_cli("SCRIPT", "FLUSH") == "OK"
            assert stack.redis_cli("DEL", rkey("chat:sess:", user)) == "1"
            (m, _), = await wait_for(lambda: live_entries(stack, user), 4 * HEARTBEAT,
                                     "the entry written again")
            assert m["device"] == "phone", m
            await assert_works(c)
            return log.read_bytes()[start:].decode(errors="replace")
        finally:
            await c.close()
    text = asyncio.run(main())
    assert "session registry write failed: NOSCRIPT" in text, text[-2000:]


def test_second_node_registers_under_its_node_name(stack, nginx_factory):
    """Another nginx (chat_node_name node-b.test) on the same Redis: the
    user's set tells which node holds which of their connections."""
    (user,) = stack.names("reg")
    other = nginx_factory(http="chat_redis 127.0.0.1:%d; chat_node_name node-b.test; "
                          "chat_redis_password file:%s;"
                          % (stack.redis_port, stack.state_dir / "redis.password"),
                          auth="chat_jwt_secret %s;" % stack.secret)

    async def main():
        a = await stack.connect(user, "phone")
        try:
            async with chat(other.port, user, token=stack.token(user),
                            device="laptop") as (ws, hello):
                entries = await wait_for(lambda: len(live_entries(stack, user)) == 2
                                         and live_entries(stack, user), 3,
                                         "entries from both nodes")
                nodes = {m["device"]: m["node"] for m, _ in entries}
                assert nodes == {"phone": socket.gethostname().lower(),
                                 "laptop": "node-b.test"}, entries
                conns = {m["device"]: m["conn"] for m, _ in entries}
                assert conns["laptop"] == hello["conn"]
                assert conns["phone"] == a.hello["conn"]
        finally:
            await a.close()
        await wait_for(lambda: live_entries(stack, user) == [], 3, "both removed")
    asyncio.run(main())


def test_node_name_is_checked(tmp_path):
    n = Nginx(tmp_path / "bad", http='chat_redis 127.0.0.1:6379; chat_node_name "a b";')
    rc, err = n.test_config()
    assert rc != 0 and 'invalid node name "a b"' in err, err
    n = Nginx(tmp_path / "off", http='chat_redis 127.0.0.1:6379; chat_registry off; '
                                     'chat_node_name "a b";')
    rc, err = n.test_config()
    assert rc == 0, err


def test_connection_works_with_redis_down_and_registers_when_back(stack):
    """Runs last: it restarts Redis. A connection made while Redis is down
    works; the write is dropped (said once in the log, not per connection),
    and its next heartbeat after Redis is back registers it."""
    (user,) = stack.names("reg")
    log = stack.logs / "error.log"
    start = log.stat().st_size

    async def main():
        stack.kill("redis")
        clients = []
        try:
            for device in ("phone", "laptop", "tablet"):
                c = await stack.connect(user, device)
                clients.append(c)
                await assert_works(c)
            await asyncio.sleep(2 * HEARTBEAT)       # heartbeats, still down
            for c in clients:
                await assert_works(c)
            await asyncio.to_thread(stack.restart, "redis")
            assert stack.redis_cli("PING") == "PONG"
            await wait_for(lambda: len(live_entries(stack, user)) == 3,
                           3 + 2 * HEARTBEAT, "entries after Redis is back")
        finally:
            for c in clients:
                await c.close()
    asyncio.run(main())
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    dropped = text.count("session registry writes are dropped")
    assert 1 <= dropped <= 2, "logged %d times (once per worker at most)" % dropped
