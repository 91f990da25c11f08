"""The PostgreSQL store killed (SIGKILL of its postmaster) under a stream of
sends, down for a few seconds, then restarted by dev-up: sends are still
accepted meanwhile (they are in Kafka), the chat-workers reconnect and
apply what waited, and every message answered "sent" is delivered exactly
once, in seq order, with no gap; chat-api answers again too.

The stack runs on PostgreSQL whatever CHAT_STORE says: SQLite is a file of
the workers' own machine, nothing that can go down beside them."""

import asyncio
import time

import pytest

from stack import SLOW, eventually, running_stack, traffic_through

DOWN = 3.0      # seconds the store stays down


@pytest.fixture
def stack(tmp_path):
    with running_stack(tmp_path / "stack", workers=2, store="postgres") as s:
        yield s


def test_the_store_killed_and_restarted_loses_nothing_sent(stack):
    async def fault(traffic):
        stack.kill("postgres")
        down = time.monotonic()
        await asyncio.sleep(DOWN)
        up = time.monotonic()
        await asyncio.to_thread(stack.restart, "postgres")
        return traffic.accepted_between(down, up)
    traffic, accepted_while_down = asyncio.run(
        traffic_through(stack, fault, after=5.0 * SLOW))

    assert accepted_while_down, "no send accepted while the store was down: " \
        + traffic.summary()
    assert traffic.unavailable() == [], "Kafka was up all along"
    traffic.verify()

    user = next(iter(traffic.recipients))
    asyncio.run(eventually(lambda: stack.get("/api/conversations", user).status == 200,
                           timeout=10, what="a 200 of chat-api after the store's restart"))
