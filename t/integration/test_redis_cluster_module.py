"""The module against a Redis Cluster (chat_redis_cluster on): three masters
with a replica each, made with redis-cli --cluster create on loopback.

Users are picked so that their keys and channels ("<prefix>{<user>}") live
on different shards; presence and typing (a DM and a group) cross them.
Then the cluster changes under the module: a slot moved to another master
(the module follows MOVED, and the subscriber's channel moves with it), a
slot half-migrated (ASK: ASKING, then the command on the importing node),
and a master killed with SIGKILL (its replica takes over; the module finds
the new master, subscribes its channels again and presence and typing
work again; the recovery time is printed). nginx -t checks the directives.
"""

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from harness import Nginx
from stack import SLOW, running_stack, status_metrics

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
NODE_TIMEOUT_MS = 1500
GRACE = 1                 # chat_presence_grace, s


# ------------------------------------------------------------ the cluster

class Cluster:
    """Six redis-server processes, three masters and three replicas."""

    def __init__(self, directory, ports):
        self.dir = directory
        self.ports = ports
        self.procs = {}

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        for port in self.ports:
            d = self.dir / str(port)
            d.mkdir(exist_ok=True)
            log = open(d / "redis.log", "w")
            self.procs[port] = subprocess.Popen(
                [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--dir", str(d),
                 "--save", "", "--appendonly", "no"],
                stdout=log, stderr=subprocess.STDOUT)
        for port in self.ports:
            self.wait(lambda p=port: self.cli(p, "PING") == "PONG", "node %d up" % port)
        r = subprocess.run([REDIS_CLI, "--cluster", "create"]
                           + ["127.0.0.1:%d" % p for p in self.ports]
                           + ["--cluster-replicas", "1", "--cluster-yes"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        self.wait(self.healthy, "the cluster ok on every node", 30)
        return self

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
        for p in self.procs.values():
            p.wait(10)

    def cli(self, port, *args, cluster=False):
        r = subprocess.run([REDIS_CLI, "-p", str(port)] + (["-c"] if cluster else [])
                           + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def any_port(self):
        return next(p for p, proc in self.procs.items() if proc.poll() is None)

    def healthy(self):
        for port, proc in self.procs.items():
            if proc.poll() is None and "cluster_state:ok" not in self.cli(port, "CLUSTER", "INFO"):
                return False
        return True

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
            if "master" in f[2] and "fail" not in f[2] and len(f) > 8:
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

    def sadd(self, key, *members):
        self.cli(self.any_port(), "SADD", key, *members, cluster=True)

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
            r = self.cli(src, "MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
            assert r == "OK", r
        if not migrate:
            return src
        for port in masters:
            self.cli(port, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        return src

    def finish_move(self, slot, to_port):
        dst_id = self.masters()[to_port][0]
        for port in self.masters():
            self.cli(port, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)


def free_ports(n):
    import socket
    ports, socks = [], []
    while len(ports) < n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        p = s.getsockname()[1]
        if p < 55000 and (p + 10000) < 65536:
            ports.append(p)
    for s in socks:
        s.close()
    return ports


def cluster_conf(ports):
    """nginx.conf.example on the cluster: its seeds (all six nodes), without
    the password of the stack's own Redis (the cluster has none). One line
    that does not begin with "chat_redis ": dev-up rewrites such a line to
    its own Redis."""
    def conf(text):
        seeds = " ".join("127.0.0.1:%d" % p for p in ports)
        text, n = re.subn(r"\n(\s*)chat_redis [^;]*;",
                          r"\n\1chat_redis_cluster on; chat_redis %s;" % seeds, text, count=1)
        assert n == 1, "nginx.conf.example has no chat_redis line"
        text, n = re.subn(r"\n\s*chat_redis_password [^;]*;", "", text, count=1)
        assert n == 1, "nginx.conf.example has no chat_redis_password line"
        text, n = re.subn(r"chat_presence_grace [^;]*;", "chat_presence_grace %ds;" % GRACE,
                          text, count=1)
        assert n == 1, "nginx.conf.example has no chat_presence_grace line"
        text = text.replace("chat_sync_timeout 5s;", "chat_sync_timeout 200ms;")  # INTERIM
        return text
    return conf


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"), free_ports(6))
    try:
        yield c.start()
    finally:
        c.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, cluster):
    with running_stack(tmp_path_factory.mktemp("stack"), workers=1, warm_up=False,
                       conf=cluster_conf(cluster.ports)) as s:
        deadline = time.monotonic() + 20 * SLOW
        while time.monotonic() < deadline:
            m = status_metrics(s.port)
            if m.get("chat_redis_cluster_masters", 0) == 3 \
                    and m.get("chat_redis_cluster_connections_down", 1) == 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the module never had the three masters up: %s" % s.log_tails())
        yield s


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


def test_presence_and_typing_cross_shards(stack, cluster):
    a, b, c = users_on_shards(stack, cluster, "rcx")
    group = stack.names("rcgroup")[0]
    cluster.sadd("chat:gm:{%s}" % group, a, b, c)

    async def main():
        ca = await stack.connect(a, "d1")
        await ca.send({"type": "presence_sub", "users": [b, c]})
        cb = await stack.connect(b, "d1")
        cc = await stack.connect(c, "d1")
        await presence_of(ca, b, "online")
        await presence_of(ca, c, "online")
        await asyncio.sleep(0.3)
        await typing_arrives(ca, cb, "start", to=b)
        await typing_arrives(cb, cc, "start", to=c)
        n_b, n_c = len(frames_of(cb, "typing")), len(frames_of(cc, "typing"))
        await typing_arrives(ca, cb, "start", group=group)
        await cc.wait_until(lambda: len(frames_of(cc, "typing")) > n_c, 3 * SLOW,
                            "group typing at c")
        got = frames_of(cc, "typing")[-1]
        assert got["from"] == a and got["conv"] == "grp:" + group, got
        assert len(frames_of(ca, "typing")) == 0, frames_of(ca, "typing")
        # not a member: refused, as with the script
        outsider = stack.names("rcout")[0]
        co = await stack.connect(outsider, "d1")
        err = await co.request({"type": "typing", "id": "t1", "group": group,
                                "state": "start"})
        assert err["type"] == "error" and err["code"] == "forbidden", err
        for x in (ca, cb, cc, co):
            await x.close()
        return n_b
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
        await typing_arrives(ca, cb, "start", to=b)
        cluster.procs[victim].send_signal(signal.SIGKILL)
        t = time.monotonic()
        # the others' shards go on meanwhile
        await typing_arrives(ca, cc, "start", to=c)
        cluster.wait(lambda: cluster.owner(slot) not in (None, victim),
                     "a replica promoted for slot %d" % slot, 30)
        promoted = time.monotonic() - t
        await typing_arrives(ca, cb, "stop", to=b, timeout=20)
        took = time.monotonic() - t
        print("\nmaster %d killed: replica promoted after %.2fs, typing reached "
              "its user again after %.2fs" % (victim, promoted, took))
        # presence of a user on the new master: the script is loaded there
        d = users_on_shards(stack, cluster, "rcf2")
        d = next(u for u in d if cluster.owner(cluster.slot("chat:u:{%s}" % u))
                 == cluster.owner(slot))
        await ca.send({"type": "presence_sub", "users": [d]})
        cd = await stack.connect(d, "d1")
        await presence_of(ca, d, "online", timeout=10)
        for x in (ca, cb, cc, cd):
            await x.close()
    asyncio.run(main())
    after = status_metrics(stack.port)
    assert after.get("chat_redis_cluster_map_changes_total", 0) \
        > before.get("chat_redis_cluster_map_changes_total", 0), after
