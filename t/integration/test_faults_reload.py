"""nginx reloaded (SIGHUP to the master) under a steady stream of sends:
each client gets its 1001 at its own moment within chat_shutdown_spread
(3 s here), keeps sending on its old connection until then, reconnects and
resends what was not answered with the same id; nothing accepted is lost
or stored under two seqs."""

import asyncio
import re
import signal
import time

import pytest

from stack import SLOW, running_stack, traffic_through
from wsclient import chat, expect_closed

SPREAD = 3.0
WATCHERS = 20


def spread_conf(text):
    text, n = re.subn(r"chat_shutdown_spread \S+;",
                      "chat_shutdown_spread %ds;" % SPREAD, text)
    assert n == 1, "nginx.conf.example changed: adapt spread_conf"
    return text


@pytest.fixture
def stack(tmp_path):
    with running_stack(tmp_path / "stack", workers=2, conf=spread_conf) as s:
        yield s


def test_reload_spreads_1001s_and_loses_no_accepted_message(stack):
    reload_at, first_close, watcher_close, connected = [], {}, [], []

    async def watch(user):
        # an idle device that only notes when its 1001 came: the spread is
        # judged on these as well, WATCHERS of them, so that one stalled
        # moment of a loaded machine cannot bunch every close together
        async with chat(stack.port, user, token=stack.token(user)) as (ws, _):
            connected.append(user)
            closed = await expect_closed(ws, 15 * SLOW + SPREAD)
            watcher_close.append((time.monotonic(), closed.code))

    async def fault(traffic):
        devices = list(traffic.senders.values()) + list(traffic.recipients.values())
        watchers = [asyncio.create_task(watch("watch%d" % i)) for i in range(WATCHERS)]
        await traffic.wait(lambda: len(connected) == WATCHERS, 10, "the watchers connected")
        reload_at.append(time.monotonic())
        stack.kill("nginx", signal.SIGHUP)
        deadline = time.monotonic() + 15 * SLOW
        while len(first_close) < len(devices):
            traffic.raise_device_errors()
            assert time.monotonic() < deadline, "not every device was closed"
            for d in devices:
                if d.user not in first_close and d.connections[0].closed:
                    first_close[d.user] = time.monotonic()
            await asyncio.sleep(0.02)
        await traffic.wait(lambda: all(len(d.connections) >= 2 for d in devices),
                           15, "every device reconnected after the reload")
        await asyncio.gather(*watchers)
        return devices
    traffic, devices = asyncio.run(traffic_through(stack, fault, rate=60.0))

    first_codes = {d.user: d.close_codes[:1] for d in devices}
    assert first_codes == {d.user: [1001] for d in devices}, first_codes
    t0 = reload_at[0]
    assert [code for _, code in watcher_close] == [1001] * WATCHERS, watcher_close
    after = sorted([t - t0 for t in first_close.values()]
                   + [t - t0 for t, _ in watcher_close])
    # 25 devices, each at a random moment in [0, 3 s): not all at once
    assert after[-1] - after[0] >= 0.5, "closes at %s s: not spread" % after
    assert after[-1] <= SPREAD + 1.0 * SLOW, "closes at %s s" % after
    # old connections kept working while their 1001 was due
    answered_late = [id for s in traffic.senders.values()
                     for id, t in s.sent_at.items()
                     if t > t0 + 0.1 and s.connections[0].answer_of(id)]
    assert answered_late, "no send answered on an old connection after the reload"
    traffic.verify()
