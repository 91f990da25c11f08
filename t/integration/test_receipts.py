"""Receipts as watermarks (docs/PROTOCOL.md 3 receipt, 4): per (conversation,
user), monotonic, read implies delivered, forwarded to the other side's
devices; pending messages are those above the delivered watermark, for
every device of the user.

One stack (2 chat-workers) for the file; each test has users of its own.
"""

import asyncio

import pytest

from stack import dm, running_stack

QUIET = 0.7        # seconds in which a frame that should not come would have


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("receipts"), workers=2) as s:
        yield s


def send(id, to, body="hi"):
    return {"type": "send", "id": id, "to": to, "body": body}


def receipt(conv, status, seq, **kw):
    return dict({"type": "receipt", "conv": conv, "status": status, "seq": seq}, **kw)


def receipts(client):
    return [f for f in client.frames if f["type"] == "receipt"]


async def send_and_store(a, to, n, prefix="m"):
    """n messages from a to `to`, waiting until a's own device has them all
    (so the worker stored them)."""
    conv = dm(a.user, to)
    for i in range(1, n + 1):
        reply = await a.request(send("%s-%d" % (prefix, i), to, "%s %d" % (prefix, i)))
        assert reply["type"] == "sent", reply
    await a.wait_until(lambda: len(a.msgs(conv)) >= n, 15, "%d stored messages" % n)


def test_receipt_reaches_every_device_of_the_sender_and_none_of_the_readers(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)

    async def main():
        devices = [(alice, "laptop"), (alice, "phone"), (bob, "phone"), (bob, "tablet")]
        async with stack.connected(*devices) as (a1, a2, b1, b2):
            await stack.settle()
            await send_and_store(a1, bob, 3)
            await b1.wait_until(lambda: len(b1.msgs(conv)) == 3, 10, "bob's 3 msgs")
            await b1.send(receipt(conv, "delivered", 3))
            got = [await a.recv("receipt") for a in (a1, a2)]
            await asyncio.sleep(QUIET)
            return got, receipts(b1), receipts(b2)
    got, b1_receipts, b2_receipts = asyncio.run(main())

    for r in got:
        assert r == {"type": "receipt", "conv": conv, "status": "delivered", "seq": 3,
                     "by": bob, "ts": r["ts"]}
    assert b1_receipts == [] and b2_receipts == [], "the reader's own devices got it"


def test_read_implies_delivered_for_every_device_of_the_reader(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            await send_and_store(a, bob, 3)
            async with stack.connected((bob, "phone")) as (b,):
                await b.wait_until(lambda: len(b.msgs(conv)) == 3, 15, "3 pending")
                await b.send(receipt(conv, "read", 2))       # no "delivered" sent
                read = await a.recv("receipt")
            # a device that connects later gets only what is above seq 2
            async with stack.connected((bob, "tablet")) as (t,):
                await t.wait_until(lambda: t.msgs(conv), 15, "a pending msg")
                await asyncio.sleep(QUIET)
                return read, [m["seq"] for m in t.msgs(conv)]
    read, tablet_seqs = asyncio.run(main())

    assert (read["status"], read["seq"], read["by"]) == ("read", 2, bob), read
    assert tablet_seqs == [3], tablet_seqs


def test_watermarks_never_go_down_and_are_clamped_to_the_last_seq(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            await stack.settle()
            await send_and_store(a, bob, 3)
            await b.send(receipt(conv, "delivered", 999))     # clamped to 3
            first = await a.recv("receipt")
            await b.send(receipt(conv, "delivered", 1))       # lower: ignored
            await b.send(receipt(conv, "delivered", 3))       # equal: ignored
            await b.send(receipt(conv, "read", 1))            # read rises to 1
            second = await a.recv("receipt")
            await b.send(receipt(conv, "read", 1))            # again: ignored
            await asyncio.sleep(QUIET)
            errors = [f for f in b.frames if f["type"] == "error"]
            return first, second, receipts(a), errors
    first, second, all_receipts, errors = asyncio.run(main())

    assert errors == []
    assert (first["status"], first["seq"]) == ("delivered", 3), first
    assert (second["status"], second["seq"]) == ("read", 1), second
    assert len(all_receipts) == 2, "a receipt that raised nothing was forwarded: %s" \
        % all_receipts


def test_delivered_by_one_device_clears_pending_for_the_others(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            await send_and_store(a, bob, 4)
            async with stack.connected((bob, "phone")) as (b,):
                await b.wait_until(lambda: len(b.msgs(conv)) == 4, 15, "4 pending")
                await b.send(receipt(conv, "delivered", 4))
                await a.recv("receipt")
            reply = await a.request(send("m-5", bob, "after the receipt"))
            # stored and published before the tablet comes: one copy only
            await a.wait_until(lambda: len(a.msgs(conv)) == 5, 15, "stored m-5")
            async with stack.connected((bob, "tablet")) as (t,):
                await t.wait_until(lambda: t.msgs(conv), 15, "the pending msg")
                await asyncio.sleep(QUIET)
                return reply, t.msgs(conv)
    reply, msgs = asyncio.run(main())

    assert [(m["seq"], m["mid"]) for m in msgs] == [(5, reply["mid"])], msgs


@pytest.mark.parametrize("make,code", [
    pytest.param(lambda me: receipt("dm:carol:dave", "delivered", 1), "forbidden",
                 id="not-a-party"),
    pytest.param(lambda me: receipt(dm(me, "zed"), "seen", 1), "bad_request",
                 id="bad-status"),
    pytest.param(lambda me: receipt(dm(me, "zed"), "read", 0), "bad_request",
                 id="seq-0"),
    pytest.param(lambda me: receipt("chat:" + me, "read", 1), "bad_request",
                 id="bad-conv"),
])
def test_bad_receipts_get_an_error_and_the_connection_stays(stack, make, code):
    (carol,) = stack.names("carol")

    async def main():
        async with stack.connected((carol, "phone")) as (c,):
            error = await c.request(dict(make(carol), id="r1"))
            await c.send({"type": "ping"})
            await c.recv("pong")
            return error
    error = asyncio.run(main())

    assert error["type"] == "error" and error["code"] == code, error
    assert error["id"] == "r1", error
