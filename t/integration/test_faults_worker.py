"""A chat-worker killed (SIGKILL) under a stream of sends and restarted:
nothing accepted is lost, nothing is stored twice."""

import asyncio
import re
import signal
import time

import pytest

from stack import _alive, running_stack, traffic_through


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


def test_worker_restarted_after_a_quiet_second_applies_nothing_again(tmp_path):
    """Offsets are committed once the store is synced, every
    auto.commit.interval.ms (1 s): a worker killed after a quiet second
    restarts after everything it applied, and consumes nothing again."""
    with running_stack(tmp_path / "stack", workers=1) as stack:
        async def quiet(traffic):
            return None
        traffic, _ = asyncio.run(traffic_through(stack, quiet, before=2.0, after=0.5))
        traffic.verify()
        time.sleep(2.5)     # more than a commit interval with no record

        stack.kill("worker-1")
        stack.restart("worker-1")
        time.sleep(1.5)
        stack.kill("worker-1", signal.SIGTERM)
        pid = stack.pids()["worker-1"]
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), "worker-1 did not stop on SIGTERM"

        text = "".join(p.read_text(errors="replace")
                       for p in stack._worker_logs("worker-1"))
        consumed = [int(n) for n in re.findall(r"stopping: (\d+) records consumed", text)]
        assert consumed == [0], "the restarted worker consumed %s records again " \
            "(%d sent): %s" % (consumed, len(traffic.accepted()), stack.log_tails())
