"""Order under faults: three pairs of users write to each other, retrying
what is not answered and acknowledging each message `delivered`, on two
chat-workers, while a worker is killed (SIGKILL) and restarted, Redis is
killed and restarted, and nginx is reloaded. Nothing answered "sent" is
lost, and every connection sees each conversation in strictly increasing
seq order: a repeat is possible only on a new connection (after a
reconnect), never out of order. A device acknowledging a message it got
after a later one would lower nothing but could skip the earlier one for
good (a watermark covers every seq below it): order is what keeps the
acknowledgements honest.

Its own checks, not stack.Traffic's: they are per connection."""

import asyncio
import contextlib
import re
import signal
import time

import pytest

from stack import SLOW, Sender, dm, running_stack

PAIRS = 3
RATE = 8.0              # msgs/s each user sends
SPREAD = 3              # chat_shutdown_spread, seconds
ANSWERED = 30.0         # every request answered "sent" within this after
DELIVERED = 30.0        # every accepted message delivered within this after


def spread_conf(text):
    text, n = re.subn(r"chat_shutdown_spread \S+;",
                      "chat_shutdown_spread %ds;" % SPREAD, text)
    assert n == 1, "nginx.conf.example changed: adapt spread_conf"
    return text


class AckingSender(Sender):
    """A Sender that acknowledges, on the connection it came on, every
    message of its partner with a `delivered` receipt of that seq."""

    def on_frame(self, client, f):
        super().on_frame(client, f)
        if f.get("type") == "msg" and f.get("from") != self.user:
            receipt = {"type": "receipt", "conv": f["conv"],
                       "status": "delivered", "seq": f["seq"]}
            asyncio.ensure_future(self._ack(client, receipt))

    async def _ack(self, client, receipt):
        with contextlib.suppress(Exception):
            await client.send(receipt)


def users():
    return [("a%d" % i, "b%d" % i) for i in range(PAIRS)]


async def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout * SLOW
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


def order_problems(devices):
    """Per connection and conversation: seqs strictly increasing (so no
    repeat and no reordering); everywhere: one seq per mid, one mid per
    (conv, seq)."""
    problems, seq_of_mid, mid_of_seq = [], {}, {}
    for d in devices:
        for n, c in enumerate(d.connections):
            by_conv = {}
            for f in c.msgs():
                by_conv.setdefault(f["conv"], []).append(f)
                seq_of_mid.setdefault(f["mid"], set()).add(f["seq"])
                mid_of_seq.setdefault((f["conv"], f["seq"]), set()).add(f["mid"])
            for conv, frames in by_conv.items():
                seqs = [f["seq"] for f in frames]
                bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if a >= b]
                if bad:
                    problems.append("%r (connection %d of %s/%s) %s: seq %d after %d "
                                    "(%d such)" % (c, n + 1, d.user, d.device, conv,
                                                   bad[0][1], bad[0][0], len(bad)))
    problems += ["mid %s under seqs %s" % (m, sorted(s))
                 for m, s in seq_of_mid.items() if len(s) > 1]
    problems += ["%s seq %d under mids %s" % (k[0], k[1], sorted(m))
                 for k, m in mid_of_seq.items() if len(m) > 1]
    return problems


def lost(devices):
    """Accepted sends that no connection of their recipient received."""
    by_user = {d.user: d for d in devices}
    received = {d.user: {(f["from"], f["id"]) for f in d.msgs()} for d in devices}
    missing = []
    for d in devices:
        for id in d.sent:
            to = d.requests[id]["to"]
            if (d.user, id) not in received[to]:
                missing.append("%s -> %s %s" % (d.user, to, id))
    return missing, by_user


@pytest.fixture
def stack(tmp_path):
    with running_stack(tmp_path / "stack", workers=2, conf=spread_conf) as s:
        yield s


def test_order_and_delivery_hold_through_worker_redis_and_nginx_faults(stack):
    async def main():
        devices = []
        for a, b in users():
            devices += [AckingSender(stack, a, [b], RATE), AckingSender(stack, b, [a], RATE)]
        try:
            for d in devices:
                d.start()
            for d in devices:
                await d.wait_connected()
                d.generating = True
            await asyncio.sleep(3)

            stack.kill("worker-1")
            await asyncio.sleep(2)
            await asyncio.to_thread(stack.restart, "worker-1")
            await asyncio.sleep(2)

            stack.kill("redis")
            await asyncio.sleep(2)
            await asyncio.to_thread(stack.restart, "redis")
            assert stack.redis_cli("ping") == "PONG"
            await asyncio.sleep(3)

            stack.kill("nginx", signal.SIGHUP)
            await asyncio.sleep(SPREAD + 3)

            for d in devices:
                d.generating = False
            answered = await wait_for(lambda: all(not d.outbox for d in devices),
                                      ANSWERED, "answers")
            delivered = await wait_for(lambda: not lost(devices)[0], DELIVERED,
                                       "delivery")
        finally:
            for d in devices:
                with contextlib.suppress(Exception):
                    await d.stop()
        return devices, answered, delivered
    devices, answered, delivered = asyncio.run(main())

    accepted = sum(len(d.sent) for d in devices)
    reconnects = {d.user: len(d.connections) - 1 for d in devices}
    print("order faults: %d accepted, reconnects %s, %s" % (
        accepted, reconnects,
        {k: v for k, v in stack.metrics().items() if k.startswith("chat_order")}))
    assert answered, "requests never answered \"sent\": %s" % {
        d.user: sorted(d.outbox)[:5] for d in devices if d.outbox}
    errors = [f for d in devices for f in d.errors if f.get("code") != "unavailable"]
    assert not errors, errors[:5]
    missing, _ = lost(devices)
    assert delivered and not missing, "%d of %d accepted never delivered: %s" % (
        len(missing), accepted, missing[:10])
    assert accepted > 6 * RATE * 10, "too little traffic to tell: %d" % accepted
    assert all(n >= 1 for n in reconnects.values()), \
        "the reload did not reconnect every device: %s" % reconnects
    problems = order_problems(devices)
    assert not problems, "%d problems:\n%s" % (len(problems), "\n".join(problems[:20]))
    for a, b in users():
        conv = dm(a, b)
        assert any(f["conv"] == conv for d in devices for f in d.msgs()), conv
