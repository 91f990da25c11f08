"""Two nginx nodes, two chat-workers of one group, one chat-api, and their
back ends on loopback (multinode.py), under a steady load of 1:1 and group
messages from users spread over both nodes. One after the other, each
under load: kill -9 of a whole nginx node (its clients reconnect to the
other one and get their pending messages there), kill -9 of a chat-worker
(the group moves its partitions to the other one), kill -9 of the Redis
master of a recipient's slot (its replica takes over), the restart of the
Kafka broker. Back ends: PostgreSQL, Apache Kafka (one node: the 3-node
cluster's broker kill is test_faults_kafka_cluster.py's), a Redis Cluster of
3 masters and 3 replicas. After each, everything answered "sent" was
delivered to every recipient's device once per mid, in seq order, without
gaps (Traffic.verify), and the recovery times are measured: until every
sender's new messages to each of its conversations are answered "sent"
again, and then until every message made before that moment (those made
during the outage and in flight included) was answered "sent" and reached
every recipient (the reconnected ones by their pending push). They are
printed as a table at the end."""

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from multinode import running_cluster
from stack import SLOW, STALL, Traffic

RATE = 30.0            # messages/s over all senders
BEFORE = 2.0           # seconds of traffic before each fault
AFTER = 2.0            # and after its recovery
RECOVERY_TIMEOUT = 60.0
# A group message is answered by the chat-worker that applies it: while a
# dead worker's partitions wait for its session to time out and the group
# to rebalance, their answers wait too (a 1:1 message is answered from the
# log, and stays within STALL).
WORKER_GONE_STALL = 30.0 * SLOW
# The answer to a group message crosses Redis (the worker publishes it to
# the sender's node): one published as its master dies is lost, and the
# client sends again after its timeout, this one.
ANSWER_LOST_RETRY = 3.0
# While the only broker restarts, a send waits chat_kafka_timeout (5 s) and
# is answered "unavailable" (retried); a group message waits for the
# worker, which waits for the broker.
KAFKA_GONE_STALL = 40.0 * SLOW


@pytest.fixture
def cluster():
    # not below pytest's temporary directory: PostgreSQL runs as its own
    # user (under root), which must reach its data dir, and every pytest
    # that starts (make test runs several) makes that directory's top
    # private again
    base = Path(tempfile.mkdtemp(prefix="chat-multinode-"))
    try:
        with running_cluster(base, workers=2) as c:
            yield c
    finally:
        shutil.rmtree(base, ignore_errors=True)


def phase_traffic(cluster, stall, retry_stalled):
    """Fresh users (no conversation is shared with another phase): three
    senders, three readers and a group of all six, spread over the nodes."""
    names = cluster.core.names("alice", "carol", "erin", "bob", "dave", "fred", "team")
    senders, readers, group = names[:3], names[3:6], names[6]
    return Traffic(cluster.core, senders=senders, recipients=readers, rate=RATE,
                   groups={group: senders + readers}, nodes=cluster.addresses(),
                   stall=stall, retry_stalled=retry_stalled)


async def run_phase(cluster, name, fault, allow_new_mid_on_retry=False, stall=STALL,
                    retry_stalled=False, check=None):
    """Traffic, the fault under it, the recovery measured; then the check
    (Traffic.verify, and check(traffic) when given). Returns a row of the
    table."""
    traffic = phase_traffic(cluster, stall, retry_stalled)
    try:
        await traffic.start()
        await asyncio.sleep(BEFORE)
        traffic.raise_device_errors()
        t0 = time.monotonic()
        await asyncio.to_thread(fault, traffic)
        flowing = caught_up = before = None
        deadline = t0 + RECOVERY_TIMEOUT * SLOW
        while flowing is None or caught_up is None:
            traffic.raise_device_errors()
            now = time.monotonic()
            assert now < deadline, "%s: no recovery within %.0fs (flowing: %s, " \
                "caught up: %s): %s" % (name, RECOVERY_TIMEOUT * SLOW, flowing,
                                        caught_up, traffic.summary())
            if flowing is None and traffic.flowing_since(t0):
                flowing = now - t0
                before = traffic.made_before(now)
            elif flowing is not None and traffic.caught_up(before):
                caught_up = now - t0
            await asyncio.sleep(0.05)
        await asyncio.sleep(AFTER)
        traffic.raise_device_errors()
        await traffic.finish()
        await traffic.final_check()
    finally:
        await traffic.abort()
    traffic.verify(allow_new_mid_on_retry=allow_new_mid_on_retry)
    if check:
        check(traffic)
    reconnects = sum(len(d.connections) - 1 for d in traffic._devices())
    return (name, flowing, caught_up, len(traffic.accepted()), reconnects)


def print_table(rows):
    head = ("fault", "sends flow again", "all delivered", "accepted", "reconnects")
    lines = ["%-28s %17s %14s %9s %11s" % head]
    for name, flowing, caught_up, accepted, reconnects in rows:
        lines.append("%-28s %16.2fs %13.2fs %9d %11d"
                     % (name, flowing, caught_up, accepted, reconnects))
    print("\nrecovery times (from the fault):\n" + "\n".join(lines))


def test_nodes_killed_under_load_lose_nothing(cluster, capsys):
    node_a, node_b = cluster.nodes
    rows = []

    async def main():
        def moved_to_b(traffic):
            """The devices of node A went on on node B."""
            moved = [d for d in traffic._devices()
                     if d.connections[0].node == node_a.node()]
            assert moved, "no device was on node A"
            for d in moved:
                assert any(c.node == node_b.node() for c in d.connections[1:]), \
                    "%s/%s did not reconnect to node B" % (d.user, d.device)
        rows.append(await run_phase(cluster, "kill -9 nginx node %s" % node_a.addr,
                                    lambda traffic: cluster.kill_nginx(node_a),
                                    check=moved_to_b))
        await asyncio.to_thread(cluster.restart_nginx, node_a)
        rows.append(await run_phase(cluster, "kill -9 chat-worker worker-1",
                                    lambda traffic: cluster.kill_worker("worker-1"),
                                    stall=WORKER_GONE_STALL))

        def kill_master(traffic):
            # the master of a recipient's channel: its live copies are lost
            # until the failover, and come by the log after
            port = cluster.kill_redis_master(next(iter(traffic.recipients)))
            killed.append(port)
        killed = []
        # a retry while its shard is down may get a fresh mid (INTERNALS.md)
        rows.append(await run_phase(cluster, "kill -9 Redis master",
                                    kill_master, allow_new_mid_on_retry=True,
                                    stall=ANSWER_LOST_RETRY, retry_stalled=True))
        rows[-1] = ("%s :%d" % (rows[-1][0], killed[0]),) + rows[-1][1:]
        rows.append(await run_phase(cluster, "restart of Kafka broker 1",
                                    lambda traffic: cluster.restart_kafka(1),
                                    stall=KAFKA_GONE_STALL))

    asyncio.run(main())
    with capsys.disabled():
        print_table(rows)
