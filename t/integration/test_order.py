"""One connection sees each message once, in seq order (PROTOCOL.md section
5): the live frames held while a connection's pending messages are fetched
are released without those the fetch already delivered, and a live frame
that skips a seq waits until the gap is filled.

One stack (2 chat-workers) for the file; each round has users of its own.
"""

import asyncio
import json
import re
import signal
import time

import pytest

from harness import rkey
from stack import dm, running_stack

ROUNDS = 50
REPEATS = 'chat_order_total{event="repeat"}'
GAPS = 'chat_order_total{event="gap"}'
RESYNCS = 'chat_order_total{event="resync"}'
AT_ONCE = 5             # rounds raced side by side
TAIL = 0.3              # a late repeat would arrive within this


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("order"), workers=2) as s:
        yield s


def send(id, to, body):
    return {"type": "send", "id": id, "to": to, "body": body}


def assert_once_in_order(frames, what, expect=None):
    """frames: the seq'd frames of one conversation on one connection that
    never reconnected, in arrival order: strictly increasing seqs (so no
    repeat), each seq under one mid; with expect, exactly those seqs."""
    seqs = [f["seq"] for f in frames]
    assert all(a < b for a, b in zip(seqs, seqs[1:])), \
        "%s: seqs not strictly increasing: %s" % (what, seqs)
    if expect is not None:
        assert seqs == list(expect), "%s: seqs %s, expected %s" % (what, seqs, list(expect))


async def one_round(stack, n):
    alice, carol = stack.names("alice", "carol")
    conv = dm(alice, carol)
    async with stack.connected((alice, "laptop")) as (a,):
        for i in range(1, 21):
            await a.send(send("c-%d" % i, carol, "waiting %d" % i))
        await a.wait_until(lambda: len(a.msgs(conv)) == 20, 20,
                           "alice's copies (the worker stored all 20)")

        async def more():
            for i in range(21, 26):
                await a.send(send("c-%d" % i, carol, "live %d" % i))
                await asyncio.sleep(0.01 * (n % 4))
        sending = asyncio.ensure_future(more())
        async with stack.connected((carol, "phone")) as (c,):
            await sending
            await c.wait_until(lambda: {m["seq"] for m in c.msgs(conv)}
                               >= set(range(1, 26)), 20, "seqs 1..25")
            await asyncio.sleep(TAIL)
            errors = [f for f in a.frames if f["type"] == "error"]
            return c.msgs(conv), errors


def test_connect_racing_live_sends_delivers_each_seq_once_in_order(stack):
    """20 messages wait for carol; she connects while alice sends 5 more:
    her one connection gets 1..25, each once, in order; many times over."""
    before = stack.metrics()

    async def main():
        results = []
        started = time.monotonic()
        for wave in range(0, ROUNDS, AT_ONCE):
            results += await asyncio.gather(*(one_round(stack, n)
                                              for n in range(wave, wave + AT_ONCE)))
            assert time.monotonic() - started < 240, "rounds too slow"
        return results
    results = asyncio.run(main())

    bad = []
    for n, (msgs, errors) in enumerate(results):
        assert errors == [], errors
        try:
            assert_once_in_order(msgs, "round %d" % n, range(1, 26))
        except AssertionError as e:
            bad.append(str(e))
    assert not bad, "%d of %d rounds:\n%s" % (len(bad), ROUNDS, "\n".join(bad[:10]))
    # the race did happen: live copies of what the sync sent were dropped
    repeats = stack.metrics()[REPEATS] - before.get(REPEATS, 0)
    print("repeats dropped: %d" % repeats)
    assert repeats > 0, "no round raced"


def seqd(client, conv):
    """The msg and group frames of conv on client, in arrival order."""
    return [f for f in client.frames
            if f.get("type") in ("msg", "group") and f.get("conv") == conv]


def test_live_frame_after_a_lost_publish_waits_for_the_gap_to_be_read(tmp_path):
    """The worker's Redis connection is killed: the publish of the next
    message is lost (the worker drops what it cannot publish). The one
    after it skips a seq on carol's open connection, which reads the gap
    through the log before it shows the later one: 1..6 in order, each
    once, on both connections, none of which reconnected. One worker of
    its own: a killed worker connection loses its next publish, whichever
    conversation that is for."""
    with running_stack(tmp_path / "stack", workers=1) as stack:
        gap_after_lost_publish(stack)


def gap_after_lost_publish(stack):
    alice, carol = stack.names("alice", "carol")
    conv = dm(alice, carol)

    async def main():
        async with stack.connected((alice, "laptop"), (carol, "phone")) as (a, c):
            await stack.settle()
            for i in range(1, 4):
                await a.request(send("c-%d" % i, carol, "before %d" % i))
            await c.wait_until(lambda: len(c.msgs(conv)) == 3, 10, "seqs 1..3")
            # normal clients: the workers' publishers (and the module's
            # command connections, which reconnect); not the subscribers
            killed = stack.redis_cli("CLIENT", "KILL", "TYPE", "normal")
            assert killed not in ("", "0"), killed
            await a.request(send("c-4", carol, "lost live"))
            await asyncio.sleep(1.0)         # the workers' Redis is back
            for i in range(5, 7):
                await a.request(send("c-%d" % i, carol, "after %d" % i))
            await c.wait_until(lambda: {m["seq"] for m in c.msgs(conv)}
                               >= set(range(1, 7)), 15, "seqs 1..6")
            await a.wait_until(lambda: {m["seq"] for m in a.msgs(conv)}
                               >= set(range(1, 7)), 15, "alice's copies 1..6")
            await asyncio.sleep(TAIL)
            return seqd(a, conv), seqd(c, conv), a.closed or c.closed
    mine, hers, closed = asyncio.run(main())
    gaps = stack.metrics().get(GAPS, 0)

    assert not closed
    assert_once_in_order(hers, "carol/phone", range(1, 7))
    assert_once_in_order(mine, "alice/laptop", range(1, 7))
    assert gaps >= 2, "the gap was not waited for on both connections: %d" % gaps
    assert [m["body"] for m in hers] == ["before 1", "before 2", "before 3",
                                         "lost live", "after 5", "after 6"]


def test_a_seq_not_for_this_user_closes_the_gap_at_once(stack):
    """carol is removed from a group (she gets "removed", seq 2), a message
    takes seq 3 without her, she is added again (seq 4): the gap before 4
    is read, holds nothing for her, and "added" is released at once, not
    after a retry timeout."""
    alice, carol = stack.names("alice", "carol")
    group = "team-" + alice
    conv = "grp:" + group

    async def main():
        async with stack.connected((alice, "laptop"), (carol, "phone")) as (a, c):
            await stack.settle()
            ok = await a.request({"type": "group_create", "id": "g1", "group": group,
                                  "members": [carol]})
            assert ok["type"] == "group_ok", ok
            await c.wait_until(lambda: len(seqd(c, conv)) == 1, 10, '"created"')
            ok = await a.request({"type": "group_remove", "id": "g2", "group": group,
                                  "members": [carol]})
            assert ok["type"] == "group_ok", ok
            await c.wait_until(lambda: len(seqd(c, conv)) == 2, 10, '"removed"')
            sent = await a.request({"type": "send", "id": "m3", "group": group,
                                    "body": "without carol"})
            assert sent["type"] == "sent", sent
            ok = await a.request({"type": "group_add", "id": "g4", "group": group,
                                  "members": [carol]})
            assert ok["type"] == "group_ok" and ok["seq"] == 4, ok
            added = time.monotonic()
            await c.wait_until(lambda: len(seqd(c, conv)) == 3, 10, '"added"')
            waited = time.monotonic() - added
            sent = await a.request({"type": "send", "id": "m5", "group": group,
                                    "body": "with carol"})
            await c.wait_until(lambda: len(seqd(c, conv)) == 4, 10, "seq 5")
            await asyncio.sleep(TAIL)
            return seqd(c, conv), waited
    hers, waited = asyncio.run(main())

    assert_once_in_order(hers, "carol/phone", [1, 2, 4, 5])
    assert [f.get("event") for f in hers[:3]] == ["created", "removed", "added"]
    assert hers[3]["body"] == "with carol"
    assert waited < 3.0, "the gap before seq 4 took %.1fs to close" % waited


SYNC_TIMEOUT = 0.5      # chat_sync_timeout of the deadline test, seconds


def short_sync_conf(text):
    text, n = re.subn(r"chat_sync_timeout \S+;",
                      "chat_sync_timeout %dms;" % (SYNC_TIMEOUT * 1000), text)
    assert n == 1, "nginx.conf.example changed: adapt short_sync_conf"
    return text


def test_a_gap_no_answer_fills_ends_in_a_resync_then_order(tmp_path):
    """Both workers stopped: a frame that skips seqs gets no gap answer.
    It waits 6 gap requests (chat_sync_timeout apart), then the
    connection's re-sync (6 more, unanswered too), and only then goes out,
    after what came before it and before what came after it."""
    with running_stack(tmp_path / "stack", workers=2, conf=short_sync_conf) as stack:
        alice, carol = stack.names("alice", "carol")
        conv = dm(alice, carol)

        def fake(seq):
            return json.dumps({"type": "msg", "mid": "FAKE%022d" % seq, "conv": conv,
                               "seq": seq, "from": alice, "to": carol,
                               "body": "fake %d" % seq, "ts": 1, "id": "f-%d" % seq},
                              separators=(",", ":"))

        async def main():
            async with stack.connected((carol, "phone")) as (c,):
                await stack.settle()
                async with stack.connected((alice, "laptop")) as (a,):
                    for i in (1, 2):
                        await a.request(send("c-%d" % i, carol, "real %d" % i))
                await c.wait_until(lambda: len(c.msgs(conv)) == 2, 10, "seqs 1..2")
                for name in ("worker-1", "worker-2"):
                    stack.kill(name, signal.SIGSTOP)
                try:
                    held = time.monotonic()
                    for seq in (5, 6):
                        stack.redis_cli("PUBLISH", rkey("chat:u:", carol), "*\n" + fake(seq))
                    await c.wait_until(lambda: len(c.msgs(conv)) == 4, 30,
                                       "the held frames after the re-sync")
                    waited = time.monotonic() - held
                    await asyncio.sleep(TAIL)
                finally:
                    for name in ("worker-1", "worker-2"):
                        stack.kill(name, signal.SIGCONT)
                return c.msgs(conv), waited, c.closed
        msgs, waited, closed = asyncio.run(main())

        assert not closed
        assert_once_in_order(msgs, "carol/phone", [1, 2, 5, 6])
        # 6 gap requests, then 6 sync requests, each one timeout apart
        assert waited >= 10 * SYNC_TIMEOUT, "released after %.1fs" % waited
        text = (stack.state_dir / "logs" / "error.log").read_text(errors="replace")
        assert "requests for the gap in \"%s\" after seq 2; syncing again" % conv \
            in text, "no re-sync logged"
        assert stack.metrics().get(RESYNCS) == 1
