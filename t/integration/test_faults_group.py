"""A chat-worker killed (SIGKILL) in the middle of a stream of group
messages, then restarted: every message answered `sent` reaches every
member (live, or pending when they reconnect) under one mid and one seq,
and no seq is given twice; every connection sees the group's creation and
its messages each once, in seq order."""

import asyncio

import pytest

from stack import connection_order_problems, running_stack

MESSAGES = 150


@pytest.fixture
def stack(tmp_path):
    with running_stack(tmp_path / "stack", workers=2) as s:
        yield s


def group_msgs(c, conv):
    return [f for f in c.frames if f["type"] == "msg" and f["conv"] == conv]


def test_killed_worker_during_fan_out_loses_and_doubles_nothing(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    (team,) = stack.names("team")
    conv = "grp:" + team

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            await stack.settle()
            made = await a.request({"type": "group_create", "id": "g", "group": team,
                                    "members": [bob, carol]}, timeout=30)
            assert made["type"] == "group_ok", made

            async def stream():
                for i in range(MESSAGES):
                    await a.send({"type": "send", "id": "m%d" % i, "group": team,
                                  "body": "m%d" % i})
                    await asyncio.sleep(0.01)
            sending = asyncio.ensure_future(stream())
            await asyncio.sleep(0.4)
            # both: whichever owns the group's partition dies mid-fan-out
            stack.kill("worker-1")
            stack.kill("worker-2")
            await asyncio.sleep(1)
            offsets = stack.log_offsets()
            await asyncio.to_thread(stack.restart)
            await asyncio.to_thread(stack.wait_ready, ["worker-1", "worker-2"],
                                    offsets)
            await sending

            # the answers come from the worker that applied each message
            def answered():
                ids = {f["id"] for f in a.frames if f["type"] in ("sent", "error")}
                return len(ids) == MESSAGES
            await a.wait_until(answered, 90, "an answer to every send")
            await asyncio.sleep(1)
            sent = {f["id"]: f["mid"] for f in a.frames if f["type"] == "sent"}
            errors = [f for f in a.frames if f["type"] == "error"]
            live_a, live_b = group_msgs(a, conv), group_msgs(b, conv)
            order = connection_order_problems(a.frames, repr(a)) \
                + connection_order_problems(b.frames, repr(b))

        # carol was offline all along: everything is pending for her
        async with stack.connected((carol, "phone")) as (c,):
            await c.wait_until(lambda: {m["mid"] for m in group_msgs(c, conv)}
                               >= set(sent.values()), 60, "carol's pending")
            await asyncio.sleep(0.5)
            pending_c = group_msgs(c, conv)
            order += connection_order_problems(c.frames, repr(c))
        return sent, errors, live_a, live_b, pending_c, order
    sent, errors, live_a, live_b, pending_c, order = asyncio.run(main())

    assert errors == [], errors
    assert len(sent) == MESSAGES
    for who, msgs in (("alice", live_a), ("bob", live_b), ("carol", pending_c)):
        by_mid = {}
        for m in msgs:
            by_mid.setdefault(m["mid"], set()).add(m["seq"])
        missing = set(sent.values()) - set(by_mid)
        assert not missing, "%s misses %d accepted messages" % (who, len(missing))
        assert all(len(s) == 1 for s in by_mid.values()), "%s: a mid under two seqs" % who
        seqs = [next(iter(s)) for s in by_mid.values()]
        assert len(seqs) == len(set(seqs)), "%s: a seq under two mids" % who
        # ids map to one mid each: a replayed record kept its first mid
        mids_by_id = {}
        for m in msgs:
            mids_by_id.setdefault(m["id"], set()).add(m["mid"])
        assert all(len(v) == 1 for v in mids_by_id.values()), \
            "%s: a message under two mids" % who
    # the seqs are gapless: 1 is the creation, then one per message
    all_seqs = sorted({m["seq"] for m in pending_c})
    assert all_seqs == list(range(2, 2 + MESSAGES)), all_seqs[:10]
    # the group's creation and every message, each once and in seq order on
    # every connection, the kill notwithstanding
    assert order == [], "\n".join(order)
