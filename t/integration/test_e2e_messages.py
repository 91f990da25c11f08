"""1:1 messages end to end: module -> Kafka -> chat-worker -> Redis -> module.

One stack (2 chat-workers) for the file; each test has users of its own
(stack.names), so every conversation starts at seq 1.
"""

import asyncio

import pytest

from stack import assert_seq_order, dm, now_ms, running_stack

NEAR_MS = 10_000        # a server ts is this close to the test's clock


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("e2e-messages"), workers=2) as s:
        yield s


def send(id, to, body="hi"):
    return {"type": "send", "id": id, "to": to, "body": body}


def assert_mid(mid):
    assert isinstance(mid, str) and 0 < len(mid.encode()) <= 32, mid


def test_message_reaches_recipient_with_every_field_and_sender_gets_sent(stack):
    alice, bob = stack.names("alice", "bob")

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            before = now_ms()
            sent = await a.request(send("c-1", bob, "hi bob"))
            msg = await b.recv("msg")
            return before, sent, msg, now_ms()
    before, sent, msg, after = asyncio.run(main())

    assert sent == {"type": "sent", "id": "c-1", "mid": sent["mid"],
                    "conv": dm(alice, bob), "ts": sent["ts"]}
    assert_mid(sent["mid"])
    assert before - NEAR_MS <= sent["ts"] <= after + NEAR_MS, (before, sent)
    assert msg == {"type": "msg", "mid": sent["mid"], "conv": dm(alice, bob), "seq": 1,
                   "from": alice, "to": bob, "body": "hi bob", "ts": msg["ts"],
                   "id": "c-1"}
    assert isinstance(msg["ts"], int)
    assert before - NEAR_MS <= msg["ts"] <= after + NEAR_MS, (before, msg)


def test_every_device_of_sender_and_recipient_gets_the_same_message(stack):
    alice, bob = stack.names("alice", "bob")
    devices = [(alice, "laptop"), (alice, "phone"), (bob, "phone"), (bob, "tablet")]

    async def main():
        async with stack.connected(*devices) as clients:
            await stack.settle()
            sent = await clients[0].request(send("c-1", bob, "to all devices"))
            msgs = [await c.recv("msg") for c in clients]
            await asyncio.sleep(0.5)             # a second copy would show
            return sent, msgs, [len(c.msgs()) for c in clients]
    sent, msgs, counts = asyncio.run(main())

    for device, msg in zip(devices, msgs):
        assert msg == {"type": "msg", "mid": sent["mid"], "conv": dm(alice, bob),
                       "seq": 1, "from": alice, "to": bob, "body": "to all devices",
                       "ts": msgs[0]["ts"], "id": "c-1"}, device
    assert counts == [1, 1, 1, 1]


def test_concurrent_senders_get_gapless_seqs_in_the_same_order_on_every_device(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)
    # alice sends 50 from two devices, bob 50; bob's tablet only listens
    plan = [((alice, "laptop"), bob, 25), ((alice, "phone"), bob, 25),
            ((bob, "phone"), alice, 50), ((bob, "tablet"), None, 0)]

    async def main():
        async with stack.connected(*(p[0] for p in plan)) as clients:
            await stack.settle()

            async def burst(c, to, n):
                for i in range(n):
                    await c.send(send("%s-%d" % (c.device, i), to, "m%d" % i))
                await c.wait_until(lambda: sum(f["type"] == "sent" for f in c.frames) == n,
                                   20, "%d sent answers" % n)

            await asyncio.gather(*(burst(c, to, n) for c, (_, to, n) in zip(clients, plan)))
            for c in clients:
                await c.wait_until(lambda c=c: len(c.msgs(conv)) >= 100, 20, "100 msgs")
            await asyncio.sleep(0.5)             # anything extra would show
            sent = {(c.user, f["id"]): f["mid"] for c in clients
                    for f in c.frames if f["type"] == "sent"}
            return sent, [(c, c.msgs(conv)) for c in clients], \
                [f for c in clients for f in c.frames if f["type"] == "error"]
    sent, seen, errors = asyncio.run(main())

    assert errors == []
    assert len(sent) == 100 and len(set(sent.values())) == 100
    for c, msgs in seen:
        assert [m["seq"] for m in msgs] == list(range(1, 101)), c
        assert sorted(m["mid"] for m in msgs) == sorted(sent.values()), c
        assert all(sent[(m["from"], m["id"])] == m["mid"] for m in msgs), c
    first = [m["mid"] for m in seen[0][1]]
    assert all([m["mid"] for m in msgs] == first for _, msgs in seen), \
        "devices saw different orders"


def test_retried_send_id_gives_one_mid_and_one_seq(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)
    dup = send("dup-1", bob, "only once")

    async def main():
        async with stack.connected((bob, "phone"), (alice, "laptop"),
                                   (alice, "phone")) as (b, a1, a2):
            for _ in range(3):                   # three tries back to back
                await a1.send(dup)
            await a1.wait_until(lambda: len(a1.answers("dup-1")) >= 3, 10,
                                "three answers to dup-1")
            answers = a1.answers("dup-1")
            answers.append(await a2.request(dup))             # another device
            await a1.close()
            async with stack.connected((alice, "laptop")) as (a3,):
                answers.append(await a3.request(dup))          # after reconnecting
                after = await a3.request(send("after-dup", bob, "next"))
                await b.wait_until(lambda: any(m["id"] == "after-dup" for m in b.msgs()),
                                   15, "the message after the retries")
                await asyncio.sleep(0.5)         # a late second copy would show
                alice_msgs = a1.msgs() + a2.msgs() + a3.msgs()
            return answers, after, b.msgs(conv), alice_msgs
    answers, after, bob_msgs, alice_msgs = asyncio.run(main())

    mid = answers[0]["mid"]
    assert answers == [{"type": "sent", "id": "dup-1", "mid": mid, "conv": conv,
                        "ts": a["ts"]} for a in answers], answers
    assert {(m["id"], m["mid"], m["seq"]) for m in bob_msgs} == \
        {("dup-1", mid, 1), ("after-dup", after["mid"], 2)}, \
        "the retries made another message (or seq): %s" % bob_msgs
    assert {(m["mid"], m["seq"]) for m in alice_msgs if m["id"] == "dup-1"} == {(mid, 1)}


def test_offline_recipient_gets_pending_on_connect_until_delivered_receipt(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            sent = [await a.request(send("c-%d" % i, bob, "offline %d" % i))
                    for i in range(1, 6)]
            await a.wait_until(lambda: len(a.msgs(conv)) == 5, 15,
                               "alice's copies (the worker stored all 5)")
            async with stack.connected((bob, "phone")) as (b,):
                pending = [await b.recv("msg") for _ in range(5)]   # no request sent
                await b.send({"type": "receipt", "conv": conv, "status": "delivered",
                              "seq": 5})
                receipt = await a.recv("receipt")
                bob_errors = [f for f in b.frames if f["type"] == "error"]
            async with stack.connected((bob, "phone")) as (b2,):
                await stack.settle()
                sixth = await a.request(send("c-6", bob, "online"))
                first = await b2.recv("msg")
                await asyncio.sleep(0.5)
                again = b2.msgs()
            return sent, pending, receipt, bob_errors, sixth, first, again
    sent, pending, receipt, bob_errors, sixth, first, again = asyncio.run(main())

    assert [s["type"] for s in sent] == ["sent"] * 5
    assert pending == [{"type": "msg", "mid": s["mid"], "conv": conv, "seq": i,
                        "from": alice, "to": bob, "body": "offline %d" % i,
                        "ts": m["ts"], "id": "c-%d" % i}
                       for i, (s, m) in enumerate(zip(sent, pending), 1)]
    assert bob_errors == []
    assert receipt == {"type": "receipt", "conv": conv, "status": "delivered", "seq": 5,
                       "by": bob, "ts": receipt["ts"]}
    assert isinstance(receipt["ts"], int)
    # after the receipt nothing is pending: the first msg on reconnect is new
    assert (first["seq"], first["mid"]) == (6, sixth["mid"]), first
    assert [m["seq"] for m in again] == [6], again


def test_live_messages_during_pending_drain_come_after_it_in_seq_order(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            for i in range(1, 21):
                await a.send(send("c-%d" % i, bob, "before %d" % i))
            await a.wait_until(lambda: len(a.msgs(conv)) == 20, 15,
                               "alice's copies (the worker stored all 20)")

            async def more():
                for i in range(21, 41):
                    await a.send(send("c-%d" % i, bob, "during %d" % i))
                    await asyncio.sleep(0.05)
            sending = asyncio.ensure_future(more())
            await asyncio.sleep(0.2)             # live ones are flowing
            async with stack.connected((bob, "phone")) as (b,):
                await sending
                await b.wait_until(lambda: {m["seq"] for m in b.msgs(conv)}
                                   >= set(range(1, 41)), 20, "seqs 1..40")
                await asyncio.sleep(0.3)
                return b.msgs(conv), [f for f in a.frames if f["type"] == "error"]
    msgs, errors = asyncio.run(main())

    assert errors == []
    seqs = [m["seq"] for m in msgs]
    assert seqs == sorted(seqs), "arrival order is not seq order: %s" % seqs
    assert set(seqs) == set(range(1, 41)), seqs
    assert_seq_order(msgs, "bob/phone", gapless_from=1)
    assert len({(m["mid"], m["seq"]) for m in msgs}) == 40, "a seq under two mids"


def test_media_goes_with_the_message_to_every_device_and_into_history(stack):
    alice, bob = stack.names("alice", "bob")
    data = b"\x89PNG\r\n\x1a\n" + b"cat" * 1000
    up = stack.upload(alice, data, "image/png")
    assert up.status == 201, up
    media = {"url": up.json()["url"], "mime": "image/png", "size": len(data)}

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            await stack.settle()
            sent = await a.request({"type": "send", "id": "c-1", "to": bob, "body": "",
                                    "media": media})
            got = await b.recv("msg")
            mine = await a.recv("msg")
            hist = await b.request({"type": "history", "id": "h", "conv": dm(alice, bob)},
                                   timeout=15)
            return sent, got, mine, hist
    sent, got, mine, hist = asyncio.run(main())

    assert sent["type"] == "sent", sent
    copies = [got, mine] + hist["messages"]
    assert [(m["mid"], m["body"]) for m in copies] == [(sent["mid"], "")] * 3, copies
    for m in copies:
        # a URL signed as it is handed out (not necessarily the upload's),
        # and the type and size recorded at upload
        assert m["media"]["url"].startswith("/media/%s?" % up.json()["id"]), m
        assert (m["media"]["mime"], m["media"]["size"]) == ("image/png", len(data)), m
        r = stack.http("GET", m["media"]["url"])
        assert r.status == 200 and r.body == data, r


def test_media_this_server_did_not_issue_is_refused(stack):
    """An unsigned URL (accepted before media were signed) is bad_request,
    and nothing is delivered."""
    alice, bob = stack.names("alice", "bob")
    media = {"url": "/media/ab12/cat.png", "mime": "image/png", "size": 48213}

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            await stack.settle()
            refused = await a.request({"type": "send", "id": "c-1", "to": bob,
                                       "body": "", "media": media})
            after = await a.request(send("c-2", bob, "after"))
            first = await b.recv("msg")
            return refused, after, first
    refused, after, first = asyncio.run(main())

    assert (refused["type"], refused["code"], refused["id"]) == \
        ("error", "bad_request", "c-1"), refused
    assert after["type"] == "sent" and first["id"] == "c-2", (after, first)
