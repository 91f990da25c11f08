"""Groups end to end (docs/PROTOCOL.md 3 groups, 4 group events, issue 5):
membership changes are writes in the group's log, ordered with its
messages by the worker that owns it; fan-out to every member's devices;
consistency of removals; admin rules and the cap; receipts per member;
typing to the current members only.

One stack (2 chat-workers) for the file; each test has users and a group
of its own.
"""

import asyncio
import random

import pytest

from stack import running_stack

QUIET = 0.7


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("groups"), workers=2) as s:
        yield s


def grp(group):
    return "grp:" + group


def events(c, group):
    return [f for f in c.frames if f["type"] == "group" and f["conv"] == grp(group)]


def group_msgs(c, group):
    return [f for f in c.frames if f["type"] == "msg" and f["conv"] == grp(group)]


async def create(c, group, members, id="g-create", name=None):
    req = {"type": "group_create", "id": id, "group": group, "members": members}
    if name:
        req["name"] = name
    return await c.request(req, timeout=15)


async def gsend(c, group, id, body="hi"):
    return await c.request({"type": "send", "id": id, "group": group, "body": body},
                           timeout=15)


def test_create_add_remove_leave_answer_with_seqs_and_tell_old_and_new(stack):
    alice, bob, carol, dave = stack.names("alice", "bob", "carol", "dave")
    (team,) = stack.names("team")

    async def main():
        devices = [(alice, "laptop"), (alice, "phone"), (bob, "phone"), (carol, "phone"),
                   (dave, "phone")]
        async with stack.connected(*devices) as (a1, a2, b, c, d):
            await stack.settle()
            made = await create(a1, team, [bob, carol], name="Team")
            added = await a1.request({"type": "group_add", "id": "g-add", "group": team,
                                      "members": [dave]})
            removed = await a1.request({"type": "group_remove", "id": "g-rm",
                                        "group": team, "members": [carol]})
            left = await b.request({"type": "group_leave", "id": "g-leave", "group": team})
            for cl, n in ((a1, 4), (a2, 4), (b, 4), (c, 3), (d, 3)):
                await cl.wait_until(lambda: len(events(cl, team)) >= n, 15,
                                    "%d group events" % n)
            await asyncio.sleep(QUIET)
            return made, added, removed, left, [events(x, team) for x in (a1, a2, b, c, d)]
    made, added, removed, left, evs = asyncio.run(main())

    assert made == {"type": "group_ok", "id": "g-create", "group": team, "seq": 1}
    assert (added["type"], added["seq"]) == ("group_ok", 2), added
    assert (removed["type"], removed["seq"]) == ("group_ok", 3), removed
    assert (left["type"], left["seq"]) == ("group_ok", 4), left

    a1, a2, b, c, d = evs
    want = [(1, "created", alice, [alice, bob, carol]), (2, "added", alice, [dave]),
            (3, "removed", alice, [carol]), (4, "left", bob, [bob])]
    for got in (a1, a2, b):
        assert [(e["seq"], e["event"], e["by"], e["members"]) for e in got] == want, got
    # carol: until her removal, told of it, nothing after
    assert [(e["seq"], e["event"]) for e in c] == [(1, "created"), (2, "added"),
                                                    (3, "removed")], c
    # dave: from his add on
    assert [(e["seq"], e["event"]) for e in d] == [(2, "added"), (3, "removed"),
                                                    (4, "left")], d
    for e in a1:
        assert isinstance(e["ts"], int) and set(e) == {"type", "conv", "seq", "event",
                                                       "by", "members", "ts"}, e


def test_admin_rules_the_cap_and_a_taken_group_id(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    (team,) = stack.names("team")

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            out = {}
            out["create"] = await create(a, team, [bob])
            out["again"] = await create(b, team, [], id="g-again")
            out["bob-adds"] = await b.request({"type": "group_add", "id": "g1",
                                               "group": team, "members": [carol]})
            out["bob-removes"] = await b.request({"type": "group_remove", "id": "g2",
                                                  "group": team, "members": [alice]})
            out["outsider"] = await stack_request(stack, carol, {
                "type": "group_add", "id": "g3", "group": team, "members": [carol]})
            many = ["m%d-%s" % (i, team) for i in range(255)]     # 2 + 255 > 256
            out["too-many"] = await a.request({"type": "group_add", "id": "g4",
                                               "group": team, "members": many},
                                              timeout=15)
            out["full"] = await a.request({"type": "group_add", "id": "g5",
                                           "group": team, "members": many[:254]},
                                          timeout=15)
            out["one-more"] = await a.request({"type": "group_add", "id": "g6",
                                               "group": team, "members": [carol]})
            return out
    out = asyncio.run(main())

    assert out["create"]["type"] == "group_ok", out["create"]
    for k, code in (("again", "forbidden"), ("bob-adds", "forbidden"),
                    ("bob-removes", "forbidden"), ("outsider", "forbidden"),
                    ("too-many", "too_large"), ("one-more", "too_large")):
        assert (out[k]["type"], out[k]["code"]) == ("error", code), (k, out[k])
    assert out["full"]["type"] == "group_ok", out["full"]


async def stack_request(stack, user, req):
    c = await stack.connect(user, "once")
    try:
        return await c.request(req, timeout=15)
    finally:
        await c.close()


def test_a_group_message_reaches_every_device_of_every_member_and_not_others(stack):
    alice, bob, carol, zed = stack.names("alice", "bob", "carol", "zed")
    (team,) = stack.names("team")

    async def main():
        devices = [(alice, "laptop"), (alice, "phone"), (bob, "phone"), (bob, "tablet"),
                   (carol, "phone"), (zed, "phone")]
        async with stack.connected(*devices) as clients:
            await stack.settle()
            a = clients[0]
            await create(a, team, [bob, carol])
            sent = await gsend(a, team, "m-1", "hello team")
            again = await gsend(a, team, "m-1", "hello team")      # a retry
            outsider = await gsend(clients[-1], team, "z-1", "let me in")
            for c in clients[:-1]:
                await c.wait_until(lambda: group_msgs(c, team), 15, "the group msg")
            await asyncio.sleep(QUIET)
            return sent, again, outsider, [group_msgs(c, team) for c in clients]
    sent, again, outsider, got = asyncio.run(main())

    assert sent["type"] == "sent" and sent["conv"] == grp(team), sent
    assert (again["type"], again["mid"]) == ("sent", sent["mid"]), again
    assert (outsider["type"], outsider["code"]) == ("error", "forbidden"), outsider
    for msgs in got[:-1]:
        assert [(m["mid"], m["seq"]) for m in msgs][:1] == [(sent["mid"], 2)], msgs
        m = msgs[0]
        assert m == {"type": "msg", "mid": sent["mid"], "conv": grp(team), "seq": 2,
                     "from": alice, "group": team, "body": "hello team",
                     "ts": m["ts"], "id": "m-1"}, m
    assert got[-1] == [], "a non-member got a group message"


def test_sends_racing_a_removal_reach_the_removed_member_only_before_it(stack):
    """Many rounds: bob sends a burst while alice removes carol at a random
    moment. Every message accepted (seq) before the removal's seq reached
    carol (live or pending); none after it did: not live, not on
    reconnect, not in her history."""
    rounds = 10

    async def round_(i):
        alice, bob, carol = stack.names("alice", "bob", "carol")
        (team,) = stack.names("race")
        async with stack.connected((alice, "laptop"), (bob, "phone"),
                                   (carol, "phone")) as (a, b, c):
            await stack.settle()
            await create(a, team, [bob, carol])

            async def burst():
                for k in range(20):
                    await b.send({"type": "send", "id": "r%d" % k, "group": team,
                                  "body": "m%d" % k})
                    await asyncio.sleep(0.005)
            sending = asyncio.ensure_future(burst())
            await asyncio.sleep(random.uniform(0, 0.1))
            removed = await a.request({"type": "group_remove", "id": "rm",
                                       "group": team, "members": [carol]}, timeout=15)
            await sending
            await b.wait_until(lambda: len([f for f in b.frames if f["type"] == "sent"])
                               == 20, 20, "20 sent")
            await asyncio.sleep(QUIET)
            sent = {f["mid"]: f for f in b.frames if f["type"] == "sent"}
            seqs = {m["mid"]: m["seq"] for m in group_msgs(b, team)}
            live = {m["mid"] for m in group_msgs(c, team)}
        # carol again: pending and history
        async with stack.connected((carol, "tablet")) as (c2,):
            await asyncio.sleep(QUIET + 0.5)
            pending = {m["mid"] for m in group_msgs(c2, team)}
            hist = await c2.request({"type": "history", "id": "h", "conv": grp(team),
                                     "limit": 100}, timeout=15)
        return removed, sent, seqs, live, pending, hist

    for i in range(rounds):
        removed, sent, seqs, live, pending, hist = asyncio.run(round_(i))
        assert removed["type"] == "group_ok", removed
        cut = removed["seq"]
        assert set(sent) <= set(seqs), "bob's own devices miss some of his messages"
        before = {mid for mid, s in seqs.items() if s < cut}
        after = {mid for mid, s in seqs.items() if s > cut}
        assert not (live & after), "round %d: carol got messages after her removal" % i
        assert not (pending & after), "round %d: pending after the removal" % i
        assert before <= live | pending, "round %d: carol missed %s" % (
            i, before - live - pending)
        assert hist["type"] == "history", hist
        # messages only (the removal is an event): those before the cut
        hist_seqs = [m["seq"] for m in hist["messages"]]
        assert hist_seqs == sorted(seqs[mid] for mid in before), \
            "round %d: carol's history is not what came before her removal: %s" % (
                i, hist_seqs)


def test_receipts_tell_the_sender_member_by_member(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    (team,) = stack.names("team")

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone"),
                                   (carol, "phone")) as (a, b, c):
            await stack.settle()
            await create(a, team, [bob, carol])
            sent = await gsend(a, team, "m-1")
            for x in (b, c):
                await x.wait_until(lambda: group_msgs(x, team), 15, "the msg")
            await b.send({"type": "receipt", "conv": grp(team), "status": "delivered",
                          "seq": sent_seq(a, team, sent)})
            await c.send({"type": "receipt", "conv": grp(team), "status": "read",
                          "seq": sent_seq(a, team, sent)})
            await a.wait_until(lambda: len(receipts(a)) >= 2, 15, "two receipts")
            await asyncio.sleep(QUIET)
            return sent_seq(a, team, sent), receipts(a), receipts(b), receipts(c)
    seq, ra, rb, rc = asyncio.run(main())

    assert sorted((r["by"], r["status"], r["seq"]) for r in ra) == \
        sorted([(bob, "delivered", seq), (carol, "read", seq)]), ra
    # bob and carol sent nothing: no receipt is about their messages
    assert rb == [] and rc == [], (rb, rc)


def sent_seq(c, group, sent):
    return next(m["seq"] for m in group_msgs(c, group) if m["mid"] == sent["mid"])


def receipts(c):
    return [f for f in c.frames if f["type"] == "receipt"]


def test_a_non_member_receipt_and_history_are_forbidden(stack):
    alice, zed = stack.names("alice", "zed")
    (team,) = stack.names("team")

    async def main():
        async with stack.connected((alice, "laptop"), (zed, "phone")) as (a, z):
            await create(a, team, [])
            await gsend(a, team, "m-1")
            hist = await z.request({"type": "history", "id": "h", "conv": grp(team)},
                                   timeout=15)
            rec = await z.request({"type": "receipt", "id": "r", "conv": grp(team),
                                   "status": "read", "seq": 1}, timeout=15)
            return hist, rec
    hist, rec = asyncio.run(main())

    assert (hist["type"], hist["code"]) == ("error", "forbidden"), hist
    assert (rec["type"], rec["code"]) == ("error", "forbidden"), rec


def test_group_typing_reaches_current_members_only(stack):
    alice, bob, carol, zed = stack.names("alice", "bob", "carol", "zed")
    (team,) = stack.names("team")

    def typings(c):
        return [f for f in c.frames if f["type"] == "typing"]

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone"), (carol, "phone"),
                                   (zed, "phone")) as (a, b, c, z):
            await stack.settle()
            await create(a, team, [bob, carol])
            await a.send({"type": "typing", "group": team, "state": "start"})
            await b.wait_until(lambda: typings(b), 10, "typing")
            await c.wait_until(lambda: typings(c), 10, "typing")
            await a.request({"type": "group_remove", "id": "rm", "group": team,
                             "members": [carol]}, timeout=15)
            await asyncio.sleep(1.1)                  # the typing rate refills
            await a.send({"type": "typing", "group": team, "state": "stop"})
            await b.wait_until(lambda: len(typings(b)) == 2, 10, "second typing")
            await asyncio.sleep(QUIET)
            return typings(a), typings(b), typings(c), typings(z)
    ta, tb, tc, tz = asyncio.run(main())

    frame = {"type": "typing", "conv": grp(team), "from": alice}
    assert tb == [dict(frame, state="start"), dict(frame, state="stop")], tb
    assert tc == [dict(frame, state="start")], "typing after the removal: %s" % tc
    assert ta == [] and tz == [], (ta, tz)


def test_a_member_added_mid_stream_sees_only_from_the_add_on(stack):
    alice, bob, dave = stack.names("alice", "bob", "dave")
    (team,) = stack.names("team")

    async def main():
        async with stack.connected((alice, "laptop"), (dave, "phone")) as (a, d):
            await stack.settle()
            await create(a, team, [bob])
            before = [await gsend(a, team, "b%d" % i) for i in range(3)]
            added = await a.request({"type": "group_add", "id": "add", "group": team,
                                     "members": [dave]}, timeout=15)
            after = [await gsend(a, team, "a%d" % i) for i in range(2)]
            await d.wait_until(lambda: len(group_msgs(d, team)) >= 2, 15, "2 msgs")
            await asyncio.sleep(QUIET)
            live = group_msgs(d, team)
            hist = await d.request({"type": "history", "id": "h", "conv": grp(team)},
                                   timeout=15)
        async with stack.connected((dave, "tablet")) as (t,):
            await t.wait_until(lambda: len(group_msgs(t, team)) >= 2, 15, "pending")
            await asyncio.sleep(QUIET)
            pending = group_msgs(t, team)
        return before, added, after, live, hist, pending
    before, added, after, live, hist, pending = asyncio.run(main())

    assert added["type"] == "group_ok", added
    want = [s["mid"] for s in after]
    assert [m["mid"] for m in live] == want, live
    assert [m["mid"] for m in pending] == want, pending
    # messages only: the add event takes a seq, not a place
    assert [m["seq"] for m in hist["messages"]] == \
        [added["seq"] + 1, added["seq"] + 2], hist
    assert all(m["type"] == "msg" for m in hist["messages"]), hist
    assert not {s["mid"] for s in before} & {m.get("mid") for m in hist["messages"]}
