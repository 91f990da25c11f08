"""The module against a Redis Cluster (chat_redis_cluster on): the stack's
cluster (CHAT_REDIS=cluster: three masters with a replica each, made with
redis-cli --cluster create on loopback), two chat-workers on it too.

Users are picked so that their keys and channels ("<prefix>{<user>}") live
on different shards; messages (a DM, a group's), presence and typing (a DM
and a group's, fanned out by the module) cross them. Then the cluster
changes under the module: a slot moved to another master (the old owner
drops the channel, the module subscribes on the new one; a command sent
to the old owner is answered MOVED and followed), a slot half-migrated
(ASK: ASKING, then the command on the importing node), and a master killed
with SIGKILL (its replica takes over; the module finds the new master,
subscribes its channels there, re-syncs that shard's user only, and every
message sent meanwhile arrives once; the recovery time is printed).
chat_status shows each master's connections. nginx -t checks the
directives.
"""

import asyncio
import os
import re
import shutil
import subprocess
import time

import pytest

from harness import Nginx
from stack import SLOW, running_stack, status_metrics

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
GRACE = 1                 # chat_presence_grace, s


# ------------------------------------------------------------ the cluster

class Cluster:
    """The stack's cluster (CHAT_REDIS=cluster: redis-1 .. redis-6, three
    masters and their replicas), node by node."""

    def __init__(self, stack):
        self.stack = stack
        self.ports = [stack.redis_node_port("redis-%d" % i) for i in range(1, 7)]

    def cli(self, port, *args):
        env = dict(os.environ, REDISCLI_AUTH=self.stack.redis_password())
        r = subprocess.run([REDIS_CLI, "-p", str(port)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10, env=env)
        return r.stdout.strip()

    def any_port(self):
        return self.stack.redis_cli_port()

    def wait(self, pred, what, timeout=10):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.1)
        pytest.fail("timed out waiting for " + what)

    def slot(self, key):
        return int(self.cli(self.any_port(), "CLUSTER", "KEYSLOT", key))

    def masters(self):
        """{port: (node id, [(first, last) slot ranges])} of the masters."""
        out = {}
        for line in self.cli(self.any_port(), "CLUSTER", "NODES").splitlines():
            f = line.split()
            if "master" in f[2] and "fail" not in f[2]:
                port = int(f[1].split(":")[1].split("@")[0])
                ranges = []
                for r in f[8:]:
                    if r.startswith("["):
                        continue
                    a, _, b = r.partition("-")
                    ranges.append((int(a), int(b or a)))
                out[port] = (f[0], ranges)
        return out

    def owner(self, slot):
        for port, (_, ranges) in self.masters().items():
            if any(a <= slot <= b for a, b in ranges):
                return port
        return None

    def kill(self, port):
        self.stack.kill("redis-%d" % (port - self.stack.redis_port + 1))

    def move_slot(self, slot, to_port, migrate=True):
        """Moves slot to the master on to_port: IMPORTING/MIGRATING, its
        keys MIGRATEd, then (unless migrate is False: half-way, for ASK)
        the slot given to the new owner on every master."""
        src = self.owner(slot)
        masters = self.masters()
        src_id, dst_id = masters[src][0], masters[to_port][0]
        assert self.cli(to_port, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id) == "OK"
        assert self.cli(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id) == "OK"
        keys = self.cli(src, "CLUSTER", "GETKEYSINSLOT", slot, 1000).split()
        if keys:
            r = self.cli(src, "MIGRATE", "127.0.0.1", to_port, "", 0, 5000,
                         "AUTH", self.stack.redis_password(), "KEYS", *keys)
            assert r == "OK", r
        if migrate:
            self.finish_move(slot, to_port)
        return src

    def finish_move(self, slot, to_port):
        dst_id = self.masters()[to_port][0]
        for port in self.masters():
            self.cli(port, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)


def short_grace(text):
    """nginx.conf.example with a presence grace of GRACE seconds."""
    text, n = re.subn(r"chat_presence_grace [^;]*;", "chat_presence_grace %ds;" % GRACE,
                      text, count=1)
    assert n == 1, "nginx.conf.example has no chat_presence_grace line"
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("stack"), workers=2, redis="cluster",
                       conf=short_grace) as s:
        deadline = time.monotonic() + 20 * SLOW
        while time.monotonic() < deadline:
            m = status_metrics(s.port)
            if m.get("chat_redis_cluster_masters", 0) == 3 \
                    and m.get("chat_redis_cluster_connections_down", 1) == 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the module never had the three masters up: %s" % s.log_tails())
        up = {k: v for k, v in m.items() if k.startswith("chat_redis_cluster_node_up")}
        assert len(up) == 6 and set(up.values()) == {1.0}, up
        yield s


@pytest.fixture(scope="module")
def cluster(stack):
    return Cluster(stack)


def users_on_shards(stack, cluster, base, n=3):
    """n fresh users whose keys live on n different masters."""
    found, i = {}, 0
    while len(found) < n:
        user = "%s%d" % (stack.names(base)[0], i)
        i += 1
        owner = cluster.owner(cluster.slot("chat:u:{%s}" % user))
        if owner not in found:
            found[owner] = user
    return list(found.values())


def frames_of(c, type):
    return [f for f in c.frames if f.get("type") == type]


async def presence_of(c, user, status, timeout=5.0):
    await c.wait_until(lambda: any(f.get("user") == user and f.get("status") == status
                                   for f in frames_of(c, "presence")),
                       timeout * SLOW, "presence %s %s" % (user, status))


async def typing_arrives(sender, receiver, state, to=None, group=None, timeout=3.0):
    """sender types; receiver gets the frame (it is sent again while not:
    a subscription on a shard that just changed may still be on its way)."""
    want = len(frames_of(receiver, "typing")) + 1
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        req = {"type": "typing", "state": state}
        req.update({"group": group} if group else {"to": to})
        await sender.send(req)
        try:
            await receiver.wait_until(lambda: len(frames_of(receiver, "typing")) >= want,
                                      0.5, "typing")
            return time.monotonic()
        except AssertionError:
            await asyncio.sleep(0.3)          # the typing rate (2r/s burst 4)
    pytest.fail("%s never got typing from %s" % (receiver.user, sender.user))


# ------------------------------------------------------------ the tests

@pytest.mark.parametrize("http,needle", [
    pytest.param("chat_redis 127.0.0.1:6379 127.0.0.1:6380;",
                 '"chat_redis" takes one address, or the seed nodes of a Redis '
                 'Cluster with "chat_redis_cluster on"', id="two_addresses_single"),
    pytest.param("chat_redis_cluster maybe; chat_redis 127.0.0.1:6379;",
                 'invalid value "maybe"', id="bad_flag"),
])
def test_nginx_t_refuses_bad_redis_directives(tmp_path, http, needle):
    rc, err = Nginx(tmp_path, http=http).test_config()
    assert rc != 0 and "[emerg]" in err and needle in err, err


def test_nginx_t_takes_cluster_seeds(tmp_path):
    rc, err = Nginx(tmp_path, http="chat_redis_cluster on; "
                    "chat_redis 127.0.0.1:7000 127.0.0.1:7001;").test_config()
    assert rc == 0, err


def msgs(c):
    return [f for f in c.frames if f.get("type") == "msg"]


async def wait_msgs(c, n, timeout=10.0, what="messages"):
    await c.wait_until(lambda: len(msgs(c)) >= n, timeout * SLOW, "%d %s" % (n, what))


def test_messages_presence_and_typing_cross_shards(stack, cluster):
    """a, b and c each on another master: DMs and a group's message reach
    every member, presence and typing (DM, and a group's, fanned out by the
    module) too; an outsider's group typing is refused."""
    a, b, c = users_on_shards(stack, cluster, "rcx")
    group = stack.names("rcgroup")[0]

    async def main():
        ca = await stack.connect(a, "d1")
        await ca.send({"type": "presence_sub", "users": [b, c]})
        cb = await stack.connect(b, "d1")
        cc = await stack.connect(c, "d1")
        await presence_of(ca, b, "online")
        await presence_of(ca, c, "online")
        await stack.settle()
        for to, cx in ((b, cb), (c, cc)):
            sent = await ca.request({"type": "send", "id": "dm-" + to, "to": to,
                                     "body": "across shards"})
            assert sent["type"] == "sent", sent
            await wait_msgs(cx, 1, what="DM")
            assert msgs(cx)[0]["mid"] == sent["mid"], msgs(cx)
        made = await ca.request({"type": "group_create", "id": "g1", "group": group,
                                 "members": [b, c]}, timeout=15)
        assert made["type"] == "group_ok", made
        sent = await cb.request({"type": "send", "id": "g-msg", "group": group,
                                 "body": "to the group"}, timeout=15)
        assert sent["type"] == "sent", sent
        for cx in (ca, cc):
            await cx.wait_until(lambda cx=cx: any(f.get("mid") == sent["mid"]
                                                  for f in msgs(cx)),
                                10 * SLOW, "the group's message")
        await typing_arrives(ca, cb, "start", to=b)
        await typing_arrives(cb, cc, "start", to=c)
        n_c = len(frames_of(cc, "typing"))
        await typing_arrives(ca, cb, "stop", group=group)
        await cc.wait_until(lambda: len(frames_of(cc, "typing")) > n_c, 3 * SLOW,
                            "group typing at c")
        got = frames_of(cc, "typing")[-1]
        assert got["from"] == a and got["conv"] == "grp:" + group, got
        assert frames_of(ca, "typing") == [], frames_of(ca, "typing")
        outsider = stack.names("rcout")[0]
        co = await stack.connect(outsider, "d1")
        err = await co.request({"type": "typing", "id": "t1", "group": group,
                                "state": "start"})
        assert err["type"] == "error" and err["code"] == "forbidden", err
        for x in (ca, cb, cc, co):
            await x.close()
    asyncio.run(main())


def moved_count(stack):
    return status_metrics(stack.port).get('chat_redis_cluster_redirects_total{kind="moved"}', 0)


def other_master(cluster, slot):
    old = cluster.owner(slot)
    return old, next(p for p in cluster.masters() if p != old)


def test_moved_slot_of_a_subscribed_user_is_followed(stack, cluster):
    """The old owner drops the channels of a slot it gives away
    (sunsubscribe): the module reads the map and subscribes on the new
    owner, and b gets typing again."""
    a, b, _ = users_on_shards(stack, cluster, "rcm")
    slot = cluster.slot("chat:u:{%s}" % b)

    async def main():
        ca = await stack.connect(a, "d1")
        cb = await stack.connect(b, "d1")
        await ca.send({"type": "presence_sub", "users": [b]})
        await presence_of(ca, b, "online")
        await typing_arrives(ca, cb, "start", to=b)
        old, new = other_master(cluster, slot)
        cluster.move_slot(slot, new)
        cluster.wait(lambda: cluster.owner(slot) == new, "slot %d on %d" % (slot, new))
        t = time.monotonic()
        await typing_arrives(ca, cb, "stop", to=b, timeout=10)
        print("\nslot %d moved %d -> %d; typing reached b again after %.2fs"
              % (slot, old, new, time.monotonic() - t))
        # b's presence channel moved too: its offline reaches a
        await cb.close()
        await presence_of(ca, b, "offline", timeout=GRACE + 5)
        await ca.close()
    asyncio.run(main())


def test_moved_answer_is_followed(stack, cluster):
    """A key whose slot moved while the module had nothing there: the old
    owner answers MOVED, the command is sent again to the new owner."""
    a, x, _ = users_on_shards(stack, cluster, "rcmv")
    slot = cluster.slot("chat:p:{%s}" % x)
    before = moved_count(stack)

    async def main():
        cx = await stack.connect(x, "d1")
        await cx.close()
        await asyncio.sleep(GRACE + 0.5)          # x settled offline
        old, new = other_master(cluster, slot)
        cluster.move_slot(slot, new)
        cluster.wait(lambda: cluster.owner(slot) == new, "slot %d on %d" % (slot, new))
        ca = await stack.connect(a, "d1")
        await ca.send({"type": "presence_sub", "users": [x]})
        await presence_of(ca, x, "offline")       # read on the new owner
        await ca.close()
    asyncio.run(main())
    assert moved_count(stack) > before


def test_ask_during_a_migration(stack, cluster):
    a, b, _ = users_on_shards(stack, cluster, "rca")
    slot = cluster.slot("chat:p:{%s}" % b)
    before = status_metrics(stack.port)

    async def main():
        cb = await stack.connect(b, "d1")
        ca = await stack.connect(a, "d1")
        await ca.send({"type": "presence_sub", "users": [b]})
        await presence_of(ca, b, "online")
        await ca.close()
        old = cluster.owner(slot)
        new = next(p for p in cluster.masters() if p != old)
        # half-way: b's presence hash is on the importing node already,
        # the slot still the old owner's, which answers ASK for it
        cluster.move_slot(slot, new, migrate=False)
        try:
            ca = await stack.connect(a, "d2")
            await ca.send({"type": "presence_sub", "users": [b]})
            await presence_of(ca, b, "online")
            await ca.close()
        finally:
            cluster.finish_move(slot, new)
        await cb.close()
    asyncio.run(main())
    after = status_metrics(stack.port)
    ask = after.get('chat_redis_cluster_redirects_total{kind="ask"}', 0) \
        - before.get('chat_redis_cluster_redirects_total{kind="ask"}', 0)
    assert ask >= 1, after


def test_failover_of_a_master(stack, cluster):
    """The master of b's slot killed: messages sent to b meanwhile are
    answered "sent" (Kafka takes them) and reach b once its shard is back,
    by the re-sync of its subscription on the new master, each once; c, on
    another shard, gets live messages all along; typing and presence work
    on the new master. Prints the recovery times."""
    a, b, c = users_on_shards(stack, cluster, "rcf")
    slot = cluster.slot("chat:u:{%s}" % b)
    victim = cluster.owner(slot)
    before = status_metrics(stack.port)

    async def main():
        ca = await stack.connect(a, "d1")
        cb = await stack.connect(b, "d1")
        cc = await stack.connect(c, "d1")
        await ca.send({"type": "presence_sub", "users": [b, c]})
        await presence_of(ca, b, "online")
        await stack.settle()
        syncs = status_metrics(stack.port).get("chat_sync_requests_total", 0)
        cluster.kill(victim)
        t = time.monotonic()
        mids_b, mids_c = [], []
        i = 0
        # sends during the failover and after it, until b has one live
        while time.monotonic() - t < 30 * SLOW:
            for to, mids in ((b, mids_b), (c, mids_c)):
                sent = await ca.request({"type": "send", "id": "f%d-%s" % (i, to),
                                         "to": to, "body": "during %d" % i}, timeout=15)
                assert sent["type"] == "sent", sent
                mids.append(sent["mid"])
            i += 1
            if cluster.owner(slot) not in (None, victim) \
                    and {f["mid"] for f in msgs(cb)} >= set(mids_b[:-1]) and i > 3:
                break
            await asyncio.sleep(0.25)
        promoted = time.monotonic() - t
        await cb.wait_until(lambda: {f["mid"] for f in msgs(cb)} >= set(mids_b),
                            15 * SLOW, "every message to b")
        recovered = time.monotonic() - t
        await cc.wait_until(lambda: {f["mid"] for f in msgs(cc)} >= set(mids_c),
                            5 * SLOW, "every message to c")
        for cx in (cb, cc):
            got = [f["mid"] for f in msgs(cx)]
            assert len(got) == len(set(got)), "a message twice: %s" % got
            seqs = [f["seq"] for f in msgs(cx)]
            assert seqs == sorted(seqs), seqs
        # the failover re-synced b's connection, not a's or c's (their
        # shards stayed up): one page asked, two if it had to be asked again
        resyncs = status_metrics(stack.port).get("chat_sync_requests_total", 0) - syncs
        assert 1 <= resyncs <= 2, resyncs
        await typing_arrives(ca, cb, "stop", to=b, timeout=10)
        print("\nmaster %d killed: %d messages to b and %d to c sent meanwhile; b "
              "had them all %.2fs after the kill (sends went on for %.2fs)"
              % (victim, len(mids_b), len(mids_c), recovered, promoted))
        # presence of a user on the new master: the script is loaded there
        new = cluster.owner(slot)
        d = next(u for u in (stack.names("rcf2")[0] + str(k) for k in range(200))
                 if cluster.owner(cluster.slot("chat:u:{%s}" % u)) == new)
        await ca.send({"type": "presence_sub", "users": [d]})
        cd = await stack.connect(d, "d1")
        await presence_of(ca, d, "online", timeout=10)
        for x in (ca, cb, cc, cd):
            await x.close()
    asyncio.run(main())
    after = status_metrics(stack.port)
    assert after.get("chat_redis_cluster_map_changes_total", 0) \
        > before.get("chat_redis_cluster_map_changes_total", 0), after
    # the dead master is out of the map: its node lines are gone
    up = {k for k in after if k.startswith("chat_redis_cluster_node_up")}
    assert len(up) == 6 and not any(":%d\"" % victim in k for k in up), up
