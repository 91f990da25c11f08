"""redis-server killed (SIGKILL) under a stream of sends and restarted:
sends are still accepted (Kafka is up), connected clients get live
delivery again once the module resubscribed, and what was published while
no one listened arrives through the pending push. Then redis-server
stopped (SIGSTOP: its sockets stay open, nothing is answered) and
continued: sends are still durable, and delivered after it is back."""

import asyncio
import signal
import time

from stack import traffic_through

RESUBSCRIBE = 3.0     # seconds the module may take to resubscribe


def test_redis_restart_keeps_accepting_and_delivery_resumes(stack):
    async def fault(traffic):
        stack.kill("redis")
        down = time.monotonic()
        await asyncio.sleep(3)
        restarting = time.monotonic()
        await asyncio.to_thread(stack.restart, "redis")
        assert stack.redis_cli("ping") == "PONG"
        await asyncio.sleep(RESUBSCRIBE)
        return traffic.accepted_between(down, restarting), time.monotonic()
    traffic, (accepted_while_down, resubscribed) = asyncio.run(
        traffic_through(stack, fault))

    assert accepted_while_down, "no send accepted while Redis was down: " \
        + traffic.summary()
    assert traffic.unavailable() == [], "Kafka was up all along"
    reconnected = {u: len(d.connections) - 1 for u, d in traffic.recipients.items()}
    assert reconnected == {u: 0 for u in traffic.recipients}, \
        "recipients lost their connections: %s" % reconnected
    missing = traffic.live_missing(since=resubscribed)
    assert not missing, "%d messages sent after the resubscription did not reach " \
        "the open connections live: %s" % (len(missing), missing[:10])
    # a retry while Redis is down may be answered with a fresh mid
    traffic.verify(allow_new_mid_on_retry=True)


def test_redis_stopped_sends_stay_durable_and_are_delivered_after(stack):
    async def fault(traffic):
        stack.kill("redis", signal.SIGSTOP)
        down = time.monotonic()
        try:
            await asyncio.sleep(3)
        finally:
            stack.kill("redis", signal.SIGCONT)
        up = time.monotonic()
        await asyncio.sleep(RESUBSCRIBE)
        return traffic.accepted_between(down, up)
    traffic, accepted_while_stopped = asyncio.run(traffic_through(stack, fault))

    assert accepted_while_stopped, "no send accepted while Redis was stopped: " \
        + traffic.summary()
    assert traffic.unavailable() == [], "Kafka was up all along"
    # every "sent" message delivered exactly once, stopped Redis or not
    traffic.verify(allow_new_mid_on_retry=True)
