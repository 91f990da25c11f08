"""A 3-node Apache Kafka cluster (replication factor 3, min.insync.replicas
2) loses one node to kill -9 under a stream of sends: the other two keep
taking writes (acks=all needs two replicas in sync), the node restarted
catches up, and every message answered "sent" is delivered once per device,
in seq order. The test always runs its own real cluster, whatever
CHAT_KAFKA says, so it runs in every integration step."""

import asyncio
import time

import pytest

from stack import SLOW, running_stack, traffic_through

DOWN = 5.0                    # seconds the node stays dead under load
RESUMED = 30.0 * SLOW         # until a send is accepted after the kill


@pytest.fixture
def stack(tmp_path):
    env = {"CHAT_KAFKA": "real", "CHAT_KAFKA_NODES": "3"}
    with running_stack(tmp_path / "stack", workers=2, env=env) as s:
        yield s


def test_one_broker_of_three_killed_under_load_loses_nothing_sent(stack):
    assert stack.broker_names() == ["kafka-1", "kafka-2", "kafka-3"]

    async def fault(traffic):
        stack.kill("kafka-1")
        killed = time.monotonic()
        # the leaders it had move to the other two once it is fenced
        await traffic.wait(lambda: traffic.first_sent_after(killed + 1.0) is not None,
                           RESUMED, "a send accepted with kafka-1 dead")
        await asyncio.sleep(DOWN)
        restarting = time.monotonic()
        await asyncio.to_thread(stack.restart)
        back = time.monotonic()
        return killed, restarting, back, traffic.first_sent_after(killed + 1.0)
    traffic, (killed, restarting, back, resumed) = asyncio.run(
        traffic_through(stack, fault, before=3.0, after=3.0))

    print("with kafka-1 dead a send was accepted %.1fs after the kill; it was "
          "back in %.1fs; %d sends accepted while it was down"
          % (resumed - killed, back - restarting,
             len(traffic.accepted_between(killed, back))))
    assert traffic.accepted_between(killed + 1.0, restarting), \
        "no send accepted while one node of three was dead: " + traffic.summary()
    traffic.verify()
