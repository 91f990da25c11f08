"""The chat-worker on a Redis Cluster (CHAT_REDIS=cluster: scripts/redis-cluster's
three masters and three replicas, as the stack's redis-1 .. redis-6).

Raw subscribers watch the recipients' channels "chat:u:{<user>}" on the
nodes directly, so what is seen is what the worker published, not what the
module made of it: a message is an SPUBLISH that reaches the SSUBSCRIBE of
the one shard of its channel's slot (a plain SUBSCRIBE elsewhere, which a
PUBLISH would reach, sees nothing); a slot moved to another master (CLUSTER
SETSLOT ... NODE) is followed (MOVED) and the message is on the new
master; a master killed is waited out (its replica is promoted) and every
message sent meanwhile is published, none left to a later sync.
"""

import asyncio
import socket
import time

import pytest

from harness import Resp, rkey
from stack import SLOW, running_stack

FAILOVER = 20.0          # s: node timeout 2 s, the election, the worker's retries


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("rc-workers"), workers=1,
                       redis="cluster") as s:
        yield s


def node(stack, port, timeout=5.0):
    r = Resp(port, timeout)
    assert r.call("AUTH", stack.redis_password()) == "OK"
    return r


def nodes(stack):
    """[{id, port, master (bool), of (its master's id), slots [(a, b)]}]."""
    out = []
    for line in stack.redis_cli("CLUSTER", "NODES").splitlines():
        f = line.split()
        if len(f) < 8 or "fail" in f[2] or "noaddr" in f[2]:
            continue
        slots = []
        for r in f[8:]:
            if r.startswith("["):
                continue                # a slot migrating or importing
            a, _, b = r.partition("-")
            slots.append((int(a), int(b or a)))
        out.append({"id": f[0], "port": int(f[1].split(":")[1].split("@")[0]),
                    "master": "master" in f[2], "of": f[3], "slots": slots})
    return out


def masters(stack):
    return [n for n in nodes(stack) if n["master"] and n["slots"]]


def slot(stack, key):
    return int(stack.redis_cli("CLUSTER", "KEYSLOT", key))


def owner(stack, s):
    return next(n for n in masters(stack) if any(a <= s <= b for a, b in n["slots"]))


def user_on(stack, master, prefix):
    """A new user whose slot the master serves, no key in it yet."""
    for i in range(2000):
        user = "%s%d" % (prefix, i)
        s = slot(stack, user)
        if owner(stack, s)["port"] != master["port"]:
            continue
        r = node(stack, master["port"])
        empty = r.call("CLUSTER", "COUNTKEYSINSLOT", s) == 0
        r.close()
        if empty:
            return user
    raise AssertionError("no user on %s" % master)


def subscribe(stack, port, user, cmd="SSUBSCRIBE", readonly=False, timeout=5):
    r = node(stack, port, timeout)
    if readonly:
        assert r.call("READONLY") == "OK"
    confirm = r.call(cmd, rkey("chat:u:", user))
    assert confirm[0] == cmd.lower(), confirm
    return r


def message(sub):
    """The next message's payload; None when none comes in the timeout."""
    try:
        kind, _, payload = sub.reply()
    except (socket.timeout, TimeoutError):
        return None
    assert kind in ("smessage", "message"), kind
    return payload


def send_all(stack, sender, to_ids):
    """sender sends one message per (recipient, id); every one answered sent."""
    async def main():
        async with stack.connected((sender, "laptop")) as (a,):
            for to, id in to_ids:
                ans = await a.request({"type": "send", "id": id, "to": to, "body": id})
                assert ans["type"] == "sent", ans
    asyncio.run(main())


def unanswered_warnings(stack):
    return [line for p in stack.logs.glob("worker-*.log")
            for line in p.read_text(errors="replace").splitlines()
            if "not answered" in line]


def test_a_publish_reaches_the_one_shard_of_its_channel(stack):
    (alice,) = stack.names("alice")
    ms = masters(stack)
    assert len(ms) == 3, ms
    users = [user_on(stack, m, stack.names("to")[0]) for m in ms]
    shard = [subscribe(stack, m["port"], u) for m, u in zip(ms, users)]
    # a plain subscriber on another master: a PUBLISH would reach it there
    plain = [subscribe(stack, ms[(i + 1) % 3]["port"], u, "SUBSCRIBE", timeout=0.5)
             for i, u in enumerate(users)]

    send_all(stack, alice, [(u, "m-%d" % i) for i, u in enumerate(users)])

    for i, sub in enumerate(shard):
        payload = message(sub)
        assert payload is not None and payload.startswith("*\n"), payload
        assert '"id":"m-%d"' % i in payload, payload
    for sub in plain:
        assert message(sub) is None
    for sub in shard + plain:
        sub.close()


def test_a_moved_slot_is_followed(stack):
    (alice,) = stack.names("alice")
    ms = masters(stack)
    src, dst = ms[0], ms[1]
    bob = user_on(stack, src, stack.names("bob")[0])
    s = slot(stack, bob)

    # the worker learns the map as it is now: "sent" is the module's answer,
    # the worker publishes later, so its publish is waited for
    first = subscribe(stack, src["port"], bob)
    send_all(stack, alice, [(bob, "before")])
    payload = message(first)
    assert payload is not None and '"id":"before"' in payload, payload
    first.close()

    for m in ms:
        assert node(stack, m["port"]).call("CLUSTER", "SETSLOT", s, "NODE",
                                           dst["id"]) == "OK"
    assert owner(stack, s)["port"] == dst["port"]
    sub = subscribe(stack, dst["port"], bob)

    send_all(stack, alice, [(bob, "after")])

    payload = message(sub)
    assert payload is not None and '"id":"after"' in payload, payload
    sub.close()
    assert unanswered_warnings(stack) == []


def test_a_master_killed_loses_no_publish(stack):
    m = masters(stack)[2]
    # the sender's own keys elsewhere: only the recipient's shard fails
    alice = user_on(stack, masters(stack)[0], stack.names("alice")[0])
    carol = user_on(stack, m, stack.names("carol")[0])
    replica = next(n for n in nodes(stack) if n["of"] == m["id"])
    # subscribed on the replica before the kill: its subscription goes on
    # when it is promoted, and sees what the worker publishes there
    sub = subscribe(stack, replica["port"], carol, readonly=True,
                    timeout=FAILOVER * SLOW)
    name = "redis-%d" % (m["port"] - stack.redis_port + 1)

    stack.kill(name)
    killed = time.monotonic()
    ids = ["f-%d" % i for i in range(5)]
    send_all(stack, alice, [(carol, id) for id in ids])

    got = [message(sub) for _ in ids]
    took = time.monotonic() - killed
    print("failover: the worker's publishes reached the promoted replica "
          "%.1f s after the kill" % took)
    assert all(p is not None for p in got), got
    assert ['"id":"%s"' % id in p for id, p in zip(ids, got)] == [True] * len(ids), got
    assert owner(stack, slot(stack, carol))["port"] == replica["port"]
    sub.close()
    assert unanswered_warnings(stack) == []
