"""Several nginx nodes in front of one set of back ends, on loopback.

running_cluster(directory) starts, through the project's scripts:
  node A (a Stack, stack.py): scripts/dev-up with its nginx on
         NODE_ADDRS[0]; it starts the back ends too (PostgreSQL, Apache
         Kafka, a Redis Cluster, the chat-workers of one group, a chat-api);
  node B (a Node): nginx alone on NODE_ADDRS[1], its own state dir and
         its own config rendered from the same template by scripts/lib.sh's
         chat_start_nginx, with node A's secrets and back ends;
and yields a Cluster. On exit it stops node B, then node A (dev-down), and
fails the test if a log of either shows a sanitizer report or an [alert].

  cluster.nodes                 [node A, node B] (Stack objects)
  cluster.addresses()           their (host, port): what a client dials
  cluster.kill_nginx(node)      kill -9 of that node's master and workers
  cluster.restart_nginx(node)   its nginx again (the rest is left alone)
  cluster.kill_worker(name)     kill -9 of one chat-worker
  cluster.kill_redis_master(u)  kill -9 of the Redis master of user u's slot
  cluster.restart_kafka(node)   a Kafka broker stopped and started again
"""

import asyncio
import contextlib
import os
import signal
import subprocess
import time

import pytest

from harness import REPO, pids_with_parent
from stack import CONNECT_ERRORS, UP_TIMEOUT, DOWN_TIMEOUT, Stack, _alive

NODE_ADDRS = ("127.0.0.2", "127.0.0.3")
KAFKA_NODES = 1        # the 3-node cluster's broker kill is test_faults_kafka's


class CoreNode(Stack):
    """Node A: the whole system of scripts/dev-up, its nginx on addr, on
    the production engines: PostgreSQL (CHAT_STORE=postgres), a real Kafka
    (CHAT_KAFKA=real, KAFKA_NODES nodes) and a Redis Cluster
    (CHAT_REDIS=cluster: 3 masters, 3 replicas)."""

    def __init__(self, state_dir, addr, env=None, **kw):
        self.addr = addr
        env = dict(env or {}, CHAT_ADDR=addr, CHAT_KAFKA="real",
                   CHAT_KAFKA_NODES=str(KAFKA_NODES))
        super().__init__(state_dir, env=env, store="postgres", redis="cluster", **kw)

    def node(self):
        return (self.addr, self.port)

    def kafka(self, *args, timeout=UP_TIMEOUT):
        """scripts/kafka ARGS over this state dir's cluster."""
        r = subprocess.run([str(REPO / "scripts" / "kafka"), *map(str, args)],
                           env=self.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, "scripts/kafka %s failed (%d): %s%s" % (
            " ".join(map(str, args)), r.returncode, r.stdout, r.stderr)


class Node(Stack):
    """An nginx of its own in front of core's back ends: scripts/lib.sh
    renders its config (core's template, secrets, broker list, Redis and
    chat-api ports) into its own state dir and starts it there."""

    def __init__(self, core, state_dir, addr):
        self.core, self.addr = core, addr
        super().__init__(state_dir, workers=0, apis=core.apis, store=core.store,
                         redis=core.redis)
        self.secret = core.secret

    def pick_ports(self):
        # the same port as node A, on another address: as behind a balancer
        core = self.core
        self.port, self.redis_port = core.port, core.redis_port
        self.api_port, self.pg_port = core.api_port, core.pg_port

    def node(self):
        return (self.addr, self.port)

    def env(self):
        env = self.core.env()
        core_run = self.core.state_dir / "run"
        env.update(CHAT_STATE_DIR=str(self.state_dir), CHAT_ADDR=self.addr,
                   CHAT_WORKERS="0",
                   CHAT_REDIS_PASSWORD=self.core.redis_password(),
                   CHAT_MEDIA_KEY=self.core.media_key().decode(),
                   CHAT_KAFKA_ADDRESS=(core_run / "kafka.address").read_text().strip(),
                   CHAT_CONF_TEMPLATE=str(self.core.conf_template))
        return env

    def lib(self, what, commands, timeout):
        """Runs commands (bash) after sourcing scripts/lib.sh, with the
        settings of this node; (exit code or None on timeout, output)."""
        script = ('set -eu; CHAT_SCRIPT=%s; . "%s/scripts/lib.sh"; '
                  'chat_check_settings; chat_init_state; %s' % (what, REPO, commands))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return self._run(["bash", "-c", script], what, timeout)

    def up(self):
        # chat_init_redis_password: the redis.password its config names
        rc, out = self.lib("node-up", "chat_init_redis_password; chat_start_nginx",
                           UP_TIMEOUT)
        if rc != 0:
            pytest.fail("nginx of node %s did not start (%s):\n%s\n%s"
                        % (self.addr, rc, out, self.log_tails()), pytrace=False)
        return self

    def restart(self, name=None):
        self.up()

    def down(self):
        if not self.pids():
            return                  # never started (node A's start failed)
        rc, out = self.lib("node-down", "chat_stop nginx QUIT", DOWN_TIMEOUT)
        if rc != 0:
            self.down_error = "stopping nginx of node %s failed (%s): %s" % (
                self.addr, rc, out)
        for pid in self.pids().values():
            if _alive(pid):
                for p in pids_with_parent(pid) + [pid]:
                    with contextlib.suppress(OSError):
                        os.kill(p, signal.SIGKILL)


class Cluster:
    def __init__(self, core, other):
        self.core = core
        self.nodes = [core, other]

    def addresses(self):
        return [n.node() for n in self.nodes]

    def kill_nginx(self, node):
        """kill -9 of the master first (so that it logs no alert for its
        workers), then of each of its workers: the node is gone at once."""
        master = node.pid("nginx")
        workers = pids_with_parent(master)
        assert workers, "nginx of %s (pid %d) has no workers" % (node.addr, master)
        for pid in [master] + workers:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in [master] + workers):
            assert time.monotonic() < deadline, "nginx of %s survived kill -9" % node.addr
            time.sleep(0.02)

    def restart_nginx(self, node):
        node.restart()

    def kill_worker(self, name):
        self.core.kill(name)

    def kill_redis_master(self, user):
        """kill -9 of the Redis master that holds user's keys (the slot of
        chat:u:{user}): its replica is promoted after cluster-node-timeout.
        Returns the port it listened on."""
        core = self.core
        slot = int(core.redis_cli("CLUSTER", "KEYSLOT", "chat:u:{%s}" % user))
        for line in core.redis_cli("CLUSTER", "NODES").splitlines():
            fields = line.split()
            flags = fields[2].split(",")
            if "master" not in flags or "fail" in flags:
                continue
            for r in fields[8:]:
                low, _, high = r.partition("-")
                if not low.isdigit():
                    continue            # a slot being migrated: [...]
                if int(low) <= slot <= int(high or low):
                    port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
                    core.kill("redis-%d" % (port - core.redis_port + 1))
                    return port
        raise AssertionError("no master serves slot %d" % slot)

    def restart_kafka(self, node=1):
        """Stops Kafka node `node` (TERM: a broker's restart), then starts
        it again on its ports and log dir, waiting until it is back in the
        cluster."""
        self.core.kafka("stop", self.core.state_dir, node)
        self.core.kafka("restart", self.core.state_dir, node)

    def fail_on_log_problems(self):
        for node in self.nodes:
            node.fail_on_log_problems()


async def warm_up(core, node, timeout=60.0):
    """One message from a user on node to one on node A, until "sent" and
    delivered: the whole write path works through both nodes."""
    a, b = core.names("warm-a", "warm-b")
    deadline = time.monotonic() + timeout
    while True:
        try:
            rx = await core.connect(b, "warm", node=core.node())
            tx = await core.connect(a, "warm", node=node.node())
            break
        except CONNECT_ERRORS:
            assert time.monotonic() < deadline, "cannot connect to both nodes"
            await asyncio.sleep(0.3)
    try:
        while True:
            reply = await tx.request({"type": "send", "id": "warm", "to": b,
                                      "body": "warm-up"}, timeout=10)
            if reply["type"] == "sent":
                break
            assert reply.get("code") == "unavailable", reply
            assert time.monotonic() < deadline, "every send is unavailable"
            await asyncio.sleep(0.3)
        await rx.recv("msg", timeout=max(1.0, deadline - time.monotonic()))
    finally:
        await tx.close()
        await rx.close()


@contextlib.contextmanager
def running_cluster(directory, workers=2, env=None):
    core = CoreNode(directory / "node-a", NODE_ADDRS[0], workers=workers, env=env)
    other = Node(core, directory / "node-b", NODE_ADDRS[1])
    cluster = Cluster(core, other)
    try:
        core.up()
        other.up()
        try:
            asyncio.run(warm_up(core, other))
        except (AssertionError, *CONNECT_ERRORS) as e:
            pytest.fail("the first message through both nodes failed: %r\n%s\n%s"
                        % (e, core.log_tails(), other.log_tails()), pytrace=False)
        yield cluster
    finally:
        other.down()
        core.down()
    cluster.fail_on_log_problems()
