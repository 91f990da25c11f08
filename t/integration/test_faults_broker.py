"""Every Kafka broker down for ~3 s (the dev broker's SIGUSR1, then SIGUSR2)
under a stream of sends: sends are refused with "unavailable" meanwhile,
accepted again soon after, and nothing answered "sent" is lost."""

import asyncio
import signal
import time

from stack import traffic_through

RECOVERY = 15.0       # seconds until a send is accepted again


def test_broker_outage_refuses_sends_then_recovers_without_loss(stack):
    async def fault(traffic):
        down = time.monotonic()
        stack.kill("broker", signal.SIGUSR1)
        await asyncio.sleep(3)
        stack.kill("broker", signal.SIGUSR2)
        up = time.monotonic()
        await traffic.wait(lambda: traffic.first_sent_after(up) is not None,
                           RECOVERY, "send accepted after the brokers came back")
        return down, up, traffic.first_sent_after(up)
    traffic, (down, up, recovered) = asyncio.run(traffic_through(stack, fault))

    print("a send was accepted again %.1fs after the brokers came back"
          % (recovered - up))
    refused = traffic.unavailable()
    assert refused, "no send was answered unavailable during the outage: " \
        + traffic.summary()
    assert all(t >= down for t, _ in refused), \
        "unavailable before the outage: %s" % [i for t, i in refused if t < down][:5]
    traffic.verify()
