"""A chat-worker killed (SIGKILL) under a stream of sends and restarted:
nothing accepted is lost, nothing is stored twice."""

import asyncio
import time

import pytest

from stack import running_stack, traffic_through


@pytest.fixture(params=[1, 2], ids=["one-worker", "two-workers"])
def stack(request, tmp_path):
    with running_stack(tmp_path / "stack", workers=request.param) as s:
        yield s


def test_killed_and_restarted_worker_loses_no_accepted_message(stack):
    async def fault(traffic):
        old = stack.kill("worker-1")
        killed = time.monotonic()
        await asyncio.sleep(2)
        restarting = time.monotonic()
        await asyncio.to_thread(stack.restart, "worker-1")
        assert stack.pid("worker-1") != old
        return traffic.accepted_between(killed, restarting)
    traffic, accepted_while_down = asyncio.run(traffic_through(stack, fault))

    # the module answers "sent" from the log, not from a worker
    assert accepted_while_down, "no send accepted while the worker was down: " \
        + traffic.summary()
    traffic.verify()
