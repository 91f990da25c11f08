"""History and paged sync, end to end, in terms of the client protocol.

The module turns a `history` request into a history record, and a
`sync_more` marker into the next sync record (docs/INTERNALS.md); the
worker reads the store and answers the connection.

One stack (2 chat-workers) for the file; each test has users of its own
(stack.names), so every conversation starts at seq 1.
"""

import asyncio

import pytest

from stack import SLOW, assert_seq_order, dm, running_stack

PENDING = 1200          # more than one sync page (sync_limit 500)
LIVE = 20               # sent while the pending ones drain


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("worker-history"), workers=2) as s:
        yield s


def send(id, to, body="hi"):
    return {"type": "send", "id": id, "to": to, "body": body}


async def send_all(c, to, n, prefix="c", first=1):
    """Sends n messages without waiting in between; returns once every one
    is answered "sent"."""
    ids = ["%s-%d" % (prefix, i) for i in range(first, first + n)]
    for id in ids:
        await c.send(send(id, to, "body of %s" % id))
    await c.wait_until(lambda: all(c.answer_of(id) for id in ids), 60,
                       "%d sent answers" % n)
    assert [c.answer_of(id)["type"] for id in ids] == ["sent"] * n


async def ask(c, request, timeout=10.0):
    """Sends a request; returns its "history" or "error" answer."""
    start = len(c.frames)
    await c.send(request)

    def answer():
        return next((f for f in c.frames[start:]
                     if f.get("id") == request["id"]
                     and f.get("type") in ("history", "error")), None)
    return await c.wait_until(answer, timeout, "answer to %s" % request["id"])


def test_history_pages_back_through_every_message_once(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone"),
                                   (carol, "phone")) as (a, b, c):
            await stack.settle()
            await send_all(a, bob, 120)
            await b.wait_until(lambda: len(b.msgs(conv)) == 120, 30,
                               "bob's 120 live messages")
            pages, before = [], None
            for n in range(1, 10):
                request = {"type": "history", "id": "h%d" % n, "conv": conv,
                           "limit": 50}
                if before is not None:
                    request["before_seq"] = before
                page = await ask(b, request)
                pages.append(page)
                if page.get("type") != "history" or not page["more"]:
                    break
                before = page["messages"][0]["seq"]
            refused = await ask(c, {"type": "history", "id": "h-carol",
                                    "conv": conv, "limit": 50})
            return pages, b.msgs(conv), refused
    pages, live, refused = asyncio.run(main())

    assert [p["type"] for p in pages] == ["history"] * 3, pages[-1]
    assert [p["id"] for p in pages] == ["h1", "h2", "h3"]
    assert all(p["conv"] == conv for p in pages)
    assert [p["more"] for p in pages] == [True, True, False]
    seqs = [[m["seq"] for m in p["messages"]] for p in pages]
    assert seqs == [list(range(71, 121)), list(range(21, 71)), list(range(1, 21))]
    # each message is the very frame bob got live
    by_seq = {m["seq"]: m for m in live}
    assert [m for p in pages for m in p["messages"]] == \
        [by_seq[s] for page in seqs for s in page]

    assert refused["type"] == "error", refused
    assert refused["id"] == "h-carol"
    assert refused["code"] == "forbidden"


def test_offline_recipient_gets_more_than_a_page_of_pending_in_order(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)
    total = PENDING + LIVE

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            await send_all(a, bob, PENDING)
            await a.wait_until(lambda: len(a.msgs(conv)) == PENDING, 60,
                               "alice's copies (the worker stored them all)")
            async with stack.connected((bob, "phone")) as (b,):
                # live ones while the pending ones drain
                await send_all(a, bob, LIVE, prefix="live", first=1)
                await b.wait_until(lambda: {m["seq"] for m in b.msgs(conv)}
                                   >= set(range(1, total + 1)), 60 * SLOW,
                                   "seqs 1..%d" % total)
                await asyncio.sleep(0.5)         # a late extra would show
                return b.msgs(conv), [f for f in b.frames
                                      if f["type"] not in ("msg", "hello")]
    msgs, others = asyncio.run(main())

    assert others == [], "frames other than msg reached bob: %s" % others[:5]
    seqs = assert_seq_order(msgs, "bob/phone", gapless_from=1)
    assert seqs == list(range(1, total + 1))
    assert len({(m["mid"], m["seq"]) for m in msgs}) == total, "a seq under two mids"
    mids, firsts = set(), []
    for m in msgs:                          # a duplicate (same mid) may come
        if m["mid"] not in mids:
            mids.add(m["mid"])
            firsts.append(m)
    assert [m["id"] for m in firsts if m["seq"] > PENDING] == \
        ["live-%d" % i for i in range(1, LIVE + 1)]
