"""nginx reloaded (SIGHUP to the master) under a stream of sends: every
client is closed with 1001 and reconnects, resending what was not answered
with the same id; nothing accepted is lost or stored under two seqs."""

import asyncio
import signal

from stack import traffic_through


def test_reload_closes_with_1001_and_loses_no_accepted_message(stack):
    async def fault(traffic):
        devices = list(traffic.senders.values()) + list(traffic.recipients.values())
        stack.kill("nginx", signal.SIGHUP)
        await traffic.wait(lambda: all(len(d.connections) >= 2 for d in devices),
                           15, "every device reconnected after the reload")
        return devices
    traffic, devices = asyncio.run(traffic_through(stack, fault))

    first_closes = {d.user: d.close_codes[:1] for d in devices}
    assert first_closes == {d.user: [1001] for d in devices}, first_closes
    traffic.verify()
