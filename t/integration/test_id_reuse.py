"""A client id names one request (issue 13). A group_create then a DM send
with the same id used to stop delivery for the whole service: the DM's
dedupe found the group change's row, the worker failed the batch ("stored
message with a bad conv") and retried it every 5 s forever. Now the module
refuses the reuse with bad_request when its Redis reservation tells what
the id was for, and the worker refuses it otherwise (to the sender's
devices, the record skipped and dead-lettered); either way every
conversation, on that record's partition and on the others, still delivers
within a second.

One stack with one chat-worker: it owns every partition, so a batch retried
forever would stop them all.
"""

import asyncio
import re
import time
import zlib

import pytest

from stack import SLOW, dm, running_stack

PARTITIONS = 8              # scripts/lib.sh's CHAT_PARTITIONS
DELIVER_S = 1.0 * SLOW      # the longest a message may take after the reuse


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("id-reuse"), workers=1) as s:
        yield s


def partition(conv):
    """The module's producer keys a record by its conversation and
    librdkafka's default partitioner takes the CRC32 of the key."""
    return zlib.crc32(conv.encode()) % PARTITIONS


def pairs_on_every_partition(stack):
    """(sender, recipient) pairs whose conversations cover every partition."""
    (base,) = stack.names("p")
    pairs, i = {}, 0
    while len(pairs) < PARTITIONS:
        a, b = "%sa%d" % (base, i), "%sb%d" % (base, i)
        pairs.setdefault(partition(dm(a, b)), (a, b))
        i += 1
    return [pairs[p] for p in range(PARTITIONS)]


async def assert_every_partition_delivers(stack, pairs):
    """Each pair sends one message at once; each arrives within DELIVER_S."""
    devices = [(u, "phone") for pair in pairs for u in pair]
    async with stack.connected(*devices) as clients:
        await stack.settle()
        senders, recipients = clients[0::2], clients[1::2]

        async def one(a, b, n):
            t0 = time.monotonic()
            await a.send({"type": "send", "id": "after-%d" % n, "to": b.user,
                          "body": "still here"})
            await b.wait_until(lambda: any(m["id"] == "after-%d" % n for m in b.msgs()),
                               5, "the message of partition %d" % n)
            return time.monotonic() - t0

        took = await asyncio.gather(*(one(a, b, n) for n, (a, b)
                                      in enumerate(zip(senders, recipients))))
    slow = {partition(dm(*pairs[n])): round(t, 3) for n, t in enumerate(took)
            if t > DELIVER_S}
    assert not slow, "partitions slower than %.1fs after the reuse: %s" % (DELIVER_S, slow)


def worker_log(stack):
    return "".join(p.read_text(errors="replace") for p in stack._worker_logs())


def test_module_refuses_an_id_reused_for_another_request(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    (team,) = stack.names("team")

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone"),
                                   (carol, "phone")) as (a, b, c):
            await stack.settle()
            made = await a.request({"type": "group_create", "id": "x1", "group": team,
                                    "members": [bob]}, timeout=15)
            reused = await a.request({"type": "send", "id": "x1", "to": bob, "body": "."})
            # a DM in one conversation, then the same id in another
            first = await a.request({"type": "send", "id": "x2", "to": bob, "body": "1"})
            other = await a.request({"type": "send", "id": "x2", "to": carol, "body": "2"})
            # and a true retry, answered as the first
            again = await a.request({"type": "send", "id": "x2", "to": bob, "body": "1"})
            await b.wait_until(lambda: b.msgs(dm(alice, bob)), 5, "bob's message")
            await asyncio.sleep(DELIVER_S)    # anything late would show
            return made, reused, first, other, again, b.msgs(), c.msgs()
    made, reused, first, other, again, to_bob, to_carol = asyncio.run(main())

    assert made["type"] == "group_ok", made
    assert reused == {"type": "error", "id": "x1", "code": "bad_request",
                      "message": reused["message"]}, reused
    assert "another request" in reused["message"]
    assert first["type"] == "sent", first
    assert (other["type"], other["id"], other["code"]) == ("error", "x2", "bad_request"), other
    # as before: the same mid (the "sent" of a retry has its own ts)
    assert (again["type"], again["mid"], again["conv"]) == ("sent", first["mid"],
                                                            first["conv"]), again
    # one message (a retry publishes the first again, same mid)
    assert {(m["id"], m["mid"], m["seq"]) for m in to_bob} == {("x2", first["mid"], 1)}, to_bob
    assert to_carol == [], to_carol

    asyncio.run(assert_every_partition_delivers(stack, pairs_on_every_partition(stack)))


def test_worker_refuses_it_when_the_reservation_is_gone_and_nothing_stops(stack):
    alice, bob = stack.names("alice", "bob")
    (team,) = stack.names("team")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop"), (alice, "phone"),
                                   (bob, "phone")) as (a1, a2, b):
            await stack.settle()
            made = await a1.request({"type": "group_create", "id": "x1", "group": team,
                                     "members": [bob]}, timeout=15)
            # as if Redis had lost it (or was down): only the worker can tell
            assert stack.redis_cli("DEL", "chat:cid:{%s}:x1" % alice) == "1"
            await a1.send({"type": "send", "id": "x1", "to": bob, "body": "."})
            errors = []
            for c in (a1, a2):
                errors.append(await c.wait_until(
                    lambda c=c: next((f for f in c.frames if f["type"] == "error"
                                      and f.get("id") == "x1"), None),
                    5, "the worker's bad_request"))
            await asyncio.sleep(DELIVER_S)    # anything late would show
            return made, errors, b.msgs(conv)
    made, errors, to_bob = asyncio.run(main())

    assert made["type"] == "group_ok", made
    for e in errors:
        assert (e["code"], e["id"]) == ("bad_request", "x1"), e
    assert to_bob == [], to_bob

    skipped = re.findall(r"skipped chat\.writes\[(\d+)\]@(\d+): \"id\" names another "
                         r"request", worker_log(stack))
    assert skipped, worker_log(stack)[-2000:]
    part, offset = skipped[-1]
    assert int(part) == partition(conv)

    asyncio.run(assert_every_partition_delivers(stack, pairs_on_every_partition(stack)))

    # the record went to the dead-letter topic (its report comes with a
    # later batch)
    want = "dead letter of [%s]@%s in chat.writes.dead" % (part, offset)
    deadline = time.monotonic() + 10 * SLOW
    while want not in worker_log(stack):
        assert time.monotonic() < deadline, worker_log(stack)[-2000:]
        asyncio.run(stack.send_until_accepted(alice, bob))
    assert "lost" not in worker_log(stack)
