"""Disappearing messages (docs/PROTOCOL.md 3, conv_set) against the whole
stack: who may set a ttl and every bad request; conv_ok and the conv event
on every member's devices; expires on the messages accepted after a change
only; an expired message gone within 1 s from WebSocket and HTTP history,
pending, the conversation list and unread; deleted from the store with its
media within a minute; a retried send after its expiry answered with the
same mid and creating nothing.

The chat-workers run with --cleanup-interval 1. One stack for the file;
users of their own per test (stack.names).
"""

import asyncio
import os
import time

import pytest

from stack import SLOW, dm, eventually, now_ms, running_stack

MAX_TTL = 7_776_000
GONE_MS = 1000              # an expired message is gone from reads within this
DELETED_S = 60              # and from the store within this


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("disappearing"),
                       env={"CHAT_WORKER_ARGS": "--cleanup-interval 1s"}) as s:
        yield s


def conv_set(id, conv, ttl=None, **extra):
    frame = {"type": "conv_set", "id": id, "conv": conv}
    if ttl is not None:
        frame["ttl"] = ttl
    frame.update(extra)
    return frame


def send(id, to, body="hi", **extra):
    return dict({"type": "send", "id": id, "to": to, "body": body}, **extra)


def outcome(answer):
    return answer["type"] if answer["type"] != "error" else answer["code"]


async def make_group(stack, admin, team, members):
    ok = await admin.request({"type": "group_create", "id": "mk-" + team,
                              "group": team, "name": team, "members": members})
    assert ok["type"] == "group_ok", ok


def history(stack, user, conv):
    r = stack.get("/api/conversations/%s/messages" % conv, user)
    assert r.status == 200, r
    return r.json()["messages"]


def listed(stack, user, conv):
    r = stack.get("/api/conversations?limit=200", user)
    assert r.status == 200, r
    return next((c for c in r.json()["conversations"] if c["conv"] == conv), None)


def store_mentions(stack, needle):
    """Whether any row of the store (SQLite's or PostgreSQL's, as a dump
    of it reads it) holds needle."""
    return needle in stack.store_dump()


# ---------------------------------------------------------------- rights

def test_who_may_set_a_ttl_and_every_bad_request(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    team = "team-%s" % alice
    conv, grp = dm(alice, bob), "grp:" + team

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone"),
                                   (carol, "phone")) as (a, b, c):
            await make_group(stack, a, team, [bob])
            cases = [
                ("dm member", a, conv_set("s1", conv, 60)),
                ("other dm member", b, conv_set("s2", conv, 0)),
                ("max ttl", a, conv_set("s3", conv, MAX_TTL)),
                ("dm stranger", c, conv_set("s4", conv, 60)),
                ("stranger, bad ttl", c, conv_set("s5", conv, -1)),
                ("group admin", a, conv_set("s6", grp, 3600)),
                ("group member", b, conv_set("s7", grp, 60)),
                ("group stranger", c, conv_set("s8", grp, 60)),
                ("unknown group", a, conv_set("s9", "grp:nosuch-" + alice, 60)),
                ("ttl -1", a, conv_set("t1", conv, -1)),
                ("ttl above 90 days", a, conv_set("t2", conv, MAX_TTL + 1)),
                ("ttl a string", a, conv_set("t3", conv, "60")),
                ("ttl not an integer", a, conv_set("t4", conv, 1.5)),
                ("ttl true", a, conv_set("t5", conv, True)),
                ("no ttl", a, conv_set("t6", conv)),
                ("ttl null", a, dict(conv_set("t7", conv), ttl=None)),
                ("malformed conv", a, conv_set("m1", "nonsense", 60)),
                ("unsorted dm", a, conv_set("m2", "dm:%s:%s" % (bob, alice), 60)),
                ("no conv", a, {"type": "conv_set", "id": "m3", "ttl": 60}),
            ]
            return {what: await who.request(frame) for what, who, frame in cases}
    got = asyncio.run(main())

    expected = {"dm member": "conv_ok", "other dm member": "conv_ok",
                "max ttl": "conv_ok", "dm stranger": "forbidden",
                "stranger, bad ttl": "forbidden", "group admin": "conv_ok",
                "group member": "forbidden", "group stranger": "forbidden",
                "unknown group": "not_found"}
    assert {w: outcome(a) for w, a in got.items()} == dict(
        {w: "bad_request" for w in got}, **expected), got
    ok = got["dm member"]
    assert ok == {"type": "conv_ok", "id": "s1", "conv": conv, "seq": ok["seq"]}, ok
    assert got["other dm member"]["seq"] > ok["seq"]


def test_conv_ok_and_the_conv_event_reach_every_member_device_and_the_reads(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    team = "team-%s" % alice
    grp = "grp:" + team

    async def main():
        async with stack.connected((alice, "laptop"), (alice, "phone"), (bob, "phone"),
                                   (bob, "tablet"), (carol, "phone")) as devices:
            await stack.settle()
            await make_group(stack, devices[0], team, [bob, carol])
            ok = await devices[0].request(conv_set("s1", grp, 86400))
            events = [await d.recv("conv") for d in devices]
            return ok, events
    ok, events = asyncio.run(main())

    assert ok["type"] == "conv_ok", ok
    for e in events:
        assert e == {"type": "conv", "conv": grp, "seq": ok["seq"], "event": "ttl",
                     "ttl": 86400, "by": alice, "ts": events[0]["ts"]}, e
    assert abs(events[0]["ts"] - now_ms()) < 10_000
    assert stack.get("/api/groups/" + team, bob).json()["ttl"] == 86400
    assert listed(stack, carol, grp)["ttl"] == 86400


# ---------------------------------------------------------------- expires

def test_expires_is_on_messages_accepted_after_a_change_only(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            await stack.settle()
            frames = []
            for step in (send("m1", bob), conv_set("s1", conv, 86400), send("m2", bob),
                         conv_set("s2", conv, 0), send("m3", bob)):
                answer = await a.request(step)
                assert answer["type"] in ("sent", "conv_ok"), answer
            frames = [await b.recv("msg") for _ in range(3)]
            hist = await b.request({"type": "history", "id": "h", "conv": conv},
                                   timeout=15)
            return frames, hist
    (m1, m2, m3), hist = asyncio.run(main())

    assert "expires" not in m1 and "expires" not in m3, (m1, m3)
    assert m2["expires"] == m2["ts"] + 86400 * 1000, m2
    assert [m.get("expires") for m in hist["messages"]] == [None, m2["expires"], None]
    assert [m.get("expires") for m in history(stack, bob, conv)] == \
        [None, m2["expires"], None]
    assert listed(stack, bob, conv)["ttl"] == 0


def test_an_expired_message_is_gone_from_every_read_then_from_the_store(stack):
    alice, bob, dave = stack.names("alice", "bob", "dave")
    conv, lone = dm(alice, bob), dm(alice, dave)
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    media = stack.upload(alice, data).json()
    marker = "vanishing-%s" % alice

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            keep = await a.request(send("keep", bob, "kept"))            # seq 1
            assert (await a.request(conv_set("s1", conv, 2)))["type"] == "conv_ok"
            gone = await a.request(send("gone", bob, marker, media={
                "url": media["url"], "mime": "image/png", "size": len(data)}))
            assert (await a.request(conv_set("s2", lone, 2)))["type"] == "conv_ok"
            only = await a.request(send("only", dave, marker))
            copy = await a.wait_until(lambda: next(
                (m for m in a.msgs(conv) if m["id"] == "gone"), None), 10, "its copy")
            # bob is offline: it waits for him in pending, and in the reads
            seen = await eventually(lambda: (lambda r: r if r and r["unread"] == 2
                                             else None)(listed(stack, bob, conv)),
                                    1.0, "bob's unread 2")
            assert [m["id"] for m in history(stack, bob, conv)] == ["keep", "gone"]
            assert seen["last"]["id"] == "gone" and seen["ttl"] == 2, seen
            # from expires on, within 1 s
            await asyncio.sleep(max(0.0, (copy["expires"] + GONE_MS - now_ms()) / 1000))
            reads = {"http": [m["id"] for m in history(stack, bob, conv)],
                     "list": listed(stack, bob, conv), "lone": listed(stack, dave, lone)}
            async with stack.connected((bob, "phone")) as (b,):
                hist = await b.request({"type": "history", "id": "h", "conv": conv},
                                       timeout=15)
                await asyncio.sleep(1.0)        # pending would have come by now
                reads["ws"] = [m["id"] for m in hist["messages"]]
                reads["pending"] = [m["id"] for m in b.msgs(conv)]
            # a retry of the expired send: sent, the same mid, nothing new
            retry = await a.request(send("gone", bob, marker, media={
                "url": media["url"], "mime": "image/png", "size": len(data)}))
            return keep, gone, only, copy, reads, retry
    keep, gone, only, copy, reads, retry = asyncio.run(main())

    assert (keep["type"], gone["type"], only["type"]) == ("sent",) * 3, (keep, gone, only)
    assert copy["expires"] == copy["ts"] + 2000, copy
    assert reads["http"] == ["keep"] and reads["ws"] == ["keep"], reads
    assert reads["pending"] == ["keep"], reads
    row = reads["list"]
    assert (row["last"]["id"], row["unread"]) == ("keep", 1), row
    assert reads["lone"] is None, "a DM with every message expired is listed"
    assert (retry["type"], retry["mid"]) == ("sent", gone["mid"]), retry
    assert [m["id"] for m in history(stack, bob, conv)] == ["keep"]

    # the cleanup job deletes both messages' content and the media file
    deadline = time.monotonic() + DELETED_S * SLOW
    while store_mentions(stack, marker) or media["id"] in stack.media_files():
        assert time.monotonic() < deadline, \
            "expired messages or their media still stored after %ds" % DELETED_S
        time.sleep(0.5)
    # (their mids may stay, without content, for the retries above)
    assert store_mentions(stack, keep["mid"]) and store_mentions(stack, "kept"), \
        "the cleanup deleted a live message"
    assert stack.http("GET", media["url"]).status == 404
