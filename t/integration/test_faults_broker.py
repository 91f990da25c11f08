"""Every Kafka broker down for ~3 s under a stream of sends: sends are
refused with "unavailable" meanwhile, accepted again soon after, and
nothing answered "sent" is lost. The dev broker takes its brokers down and
up again itself (SIGUSR1, then SIGUSR2); a real cluster (CHAT_KAFKA=real)
has every node killed (-9) and restarted by dev-up, on its kept log dirs:
the module's idempotent producer (acks=all) writes on across the restart."""

import asyncio
import signal
import time

from stack import SLOW, traffic_through

RECOVERY = 15.0       # seconds until a send is accepted again
REAL_RECOVERY = 60.0 * SLOW   # a JVM's start, the group's rejoin


def take_brokers_down(stack):
    if stack.kafka_real:
        for name in stack.broker_names():
            stack.kill(name, signal.SIGKILL)
    else:
        stack.kill("broker", signal.SIGUSR1)


async def bring_brokers_back(stack):
    if stack.kafka_real:
        await asyncio.to_thread(stack.restart)
    else:
        stack.kill("broker", signal.SIGUSR2)


def test_broker_outage_refuses_sends_then_recovers_without_loss(stack):
    async def fault(traffic):
        down = time.monotonic()
        take_brokers_down(stack)
        await asyncio.sleep(3)
        await bring_brokers_back(stack)
        up = time.monotonic()
        await traffic.wait(lambda: traffic.first_sent_after(up) is not None,
                           REAL_RECOVERY if stack.kafka_real else RECOVERY,
                           "send accepted after the brokers came back")
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
