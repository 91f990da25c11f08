"""A Redis Cluster master killed (SIGKILL) under a stream of sends, end to
end (CHAT_REDIS=cluster: nginx with chat_redis_cluster on, two chat-workers
and a chat-api with --redis-cluster): its replica is promoted, the workers
wait the failover out and publish what they owe on the new master, the
module subscribes its shard's channels there again; every message answered
"sent", before and after the kill, is delivered exactly once per device,
in seq order (Traffic.verify), and connections that stayed open get live
delivery again. The time to recovery is printed."""

import asyncio
import time

import pytest

from stack import SLOW, running_stack, traffic_through

FAILOVER = 15.0       # s: node timeout 2 s, the election, resubscribing


@pytest.fixture
def stack(tmp_path):
    with running_stack(tmp_path / "stack", workers=2, redis="cluster") as s:
        yield s


def master_of(stack, user):
    """The name (redis-N) and id of the master serving user's slot; (None,
    None) while none does (the dead one failed, no replica promoted yet)."""
    slot = int(stack.redis_cli("CLUSTER", "KEYSLOT", user))
    for line in stack.redis_cli("CLUSTER", "NODES").splitlines():
        f = line.split()
        if "master" not in f[2] or "fail" in f[2]:
            continue
        for r in f[8:]:
            a, _, b = r.partition("-")
            if not r.startswith("[") and int(a) <= slot <= int(b or a):
                port = int(f[1].split(":")[1].split("@")[0])
                return "redis-%d" % (port - stack.redis_port + 1), f[0]
    return None, None


def test_a_master_killed_loses_no_message(stack):
    async def fault(traffic):
        name, _ = master_of(stack, "bob")
        stack.kill(name)
        killed = time.monotonic()

        def promoted():
            new, _ = master_of(stack, "bob")
            return new not in (None, name)
        await traffic.wait(promoted, FAILOVER, "replica promoted for bob's slot")
        promoted_at = time.monotonic()
        # a message first sent now reaches bob's open connection live
        await asyncio.sleep(3.0)
        return killed, promoted_at
    traffic, (killed, promoted_at) = asyncio.run(
        traffic_through(stack, fault, after=4.0))

    print("failover: bob's slot served again %.1f s after the kill"
          % (promoted_at - killed))
    assert traffic.unavailable() == [], "Kafka was up all along"
    missing = traffic.live_missing(since=promoted_at + 3.0 * SLOW)
    assert not missing, "%d messages sent after the failover did not reach the " \
        "open connections live: %s" % (len(missing), missing[:10])
    traffic.verify(allow_new_mid_on_retry=True)
