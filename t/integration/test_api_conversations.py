"""GET /api/conversations (docs/PROTOCOL.md 6) against the whole stack: the
user's conversations, most recent first, paged by before_ts; unread exact
(others' messages above the read watermark, membership events not counted);
receipts and sends showing within 1 s; groups left or removed from not
listed; the limit rules; and the token rules of every /api/ location (401
with WWW-Authenticate, in JSON; X-Chat-User cannot be forged).

One stack for the file; each test has users of its own (stack.names).
"""

import asyncio

import pytest

from harness import token as make_token
from stack import (api_error, dm, eventually, running_stack, without_type)

LIST = "/api/conversations"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("api-conversations")) as s:
        yield s


def send(id, to=None, body="hi", group=None):
    frame = {"type": "send", "id": id, "body": body}
    frame.update({"group": group} if group else {"to": to})
    return frame


def rows(stack, user, query=""):
    r = stack.get(LIST + query, user)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"conversations", "more"}, body
    return body


def row_of(stack, user, conv):
    return next((c for c in rows(stack, user, "?limit=200")["conversations"]
                 if c["conv"] == conv), None)


async def sent_msg(sender, frame):
    """Sends frame; returns the msg of it that the sender's device got."""
    reply = await sender.request(frame)
    assert reply["type"] == "sent", reply
    return await sender.wait_until(
        lambda: next((m for m in sender.msgs() if m["mid"] == reply["mid"]), None),
        10, "the sender's copy of %s" % frame["id"])


def test_most_recent_first_with_every_field_and_paging_by_before_ts(stack):
    alice, bob, carol, dave = stack.names("alice", "bob", "carol", "dave")
    team = "team-%s" % alice

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            created = await a.request({"type": "group_create", "id": "g", "group": team,
                                       "name": "Team", "members": [bob]})
            assert created["type"] == "group_ok", created
            last = {}
            for peer in (bob, carol, dave):
                await asyncio.sleep(0.01)           # distinct ts
                last[dm(alice, peer)] = await sent_msg(a, send("to-" + peer, peer))
            # the newest shows within 1 s of its "sent"
            await eventually(lambda: rows(stack, alice)["conversations"][:1]
                             and rows(stack, alice)["conversations"][0]["conv"]
                             == dm(alice, dave), 1.0, "the newest conversation first")
            return last
    last = asyncio.run(main())

    body = rows(stack, alice)
    assert body["more"] is False
    convs = body["conversations"]
    assert [c["conv"] for c in convs] == [dm(alice, dave), dm(alice, carol),
                                          dm(alice, bob), "grp:" + team], convs
    for c in convs[:3]:
        peer = c["conv"].replace("dm:", "").split(":")
        assert c == {"conv": c["conv"], "with": (set(peer) - {alice}).pop(),
                     "last": without_type(last[c["conv"]]), "unread": 0,
                     "delivered_seq": c["delivered_seq"], "read_seq": c["read_seq"],
                     "ttl": 0}, c
    group = convs[3]
    assert group == {"conv": "grp:" + team, "group": team, "name": "Team", "last": None,
                     "unread": 0, "delivered_seq": group["delivered_seq"],
                     "read_seq": group["read_seq"], "ttl": 0}, group

    # pages of 2: the first says more, the next starts below its last ts
    first = rows(stack, alice, "?limit=2")
    assert [c["conv"] for c in first["conversations"]] == [c["conv"] for c in convs[:2]]
    assert first["more"] is True
    before = first["conversations"][-1]["last"]["ts"]
    second = rows(stack, alice, "?limit=2&before_ts=%d" % before)
    assert [c["conv"] for c in second["conversations"]] == [c["conv"] for c in convs[2:]]
    assert second["more"] is False
    # before_ts is exclusive: the oldest message's ts leaves only the group
    # (it joined before it)
    oldest = rows(stack, alice, "?before_ts=%d" % convs[2]["last"]["ts"])
    assert [c["conv"] for c in oldest["conversations"]] == ["grp:" + team], oldest


def test_unread_counts_others_messages_above_the_read_watermark(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            await stack.settle()
            for i in (1, 2):                               # seqs 1, 2
                await sent_msg(b, send("b%d" % i, alice))
            await sent_msg(a, send("a3", bob))            # seq 3: her own
            await sent_msg(b, send("b4", alice))          # seq 4
            counts = [await eventually(lambda: (row_of(stack, alice, conv) or {})
                                       .get("unread") == 3, 1.0, "unread 3")]
            await a.send({"type": "receipt", "conv": conv, "status": "read", "seq": 2})
            # the receipt shows within 1 s: read_seq 2, only seq 4 unread
            row = await eventually(
                lambda: (lambda r: r if r and r["read_seq"] == 2 else None)(
                    row_of(stack, alice, conv)), 1.0, "read_seq 2")
            counts.append(row)
            await a.send({"type": "receipt", "conv": conv, "status": "delivered",
                          "seq": 4})
            counts.append(await eventually(
                lambda: (lambda r: r if r and r["delivered_seq"] == 4 else None)(
                    row_of(stack, alice, conv)), 1.0, "delivered_seq 4"))
            await a.send({"type": "receipt", "conv": conv, "status": "read", "seq": 4})
            counts.append(await eventually(
                lambda: (lambda r: r if r and r["unread"] == 0 else None)(
                    row_of(stack, alice, conv)), 1.0, "unread 0 after reading all"))
            return counts
    _, after_read, after_delivered, after_all = asyncio.run(main())

    assert (after_read["unread"], after_read["read_seq"]) == (1, 2), after_read
    assert after_read["last"]["id"] == "b4", after_read
    assert after_read["delivered_seq"] >= 2, after_read     # read implies delivered
    assert (after_delivered["delivered_seq"], after_delivered["read_seq"],
            after_delivered["unread"]) == (4, 2, 1), after_delivered
    assert (after_all["read_seq"], after_all["unread"]) == (4, 0), after_all
    # bob's side: alice's one message, unread, whatever he sent
    mine = row_of(stack, bob, conv)
    assert (mine["unread"], mine["read_seq"], mine["with"]) == (1, 0, alice), mine


def test_membership_events_are_not_counted_and_left_groups_are_not_listed(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    team = "team-%s" % alice
    conv = "grp:" + team

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone"),
                                   (carol, "phone")) as (a, b, c):
            ok = await a.request({"type": "group_create", "id": "g1", "group": team,
                                  "name": "Team", "members": [bob, carol]})
            assert ok["type"] == "group_ok", ok
            for i in (1, 2):
                await sent_msg(b, send("b%d" % i, group=team))
            ok = await a.request({"type": "group_add", "id": "g2", "group": team,
                                  "members": [stack.names("dave")[0]]})
            assert ok["type"] == "group_ok", ok
            await eventually(lambda: (row_of(stack, alice, conv) or {}).get("unread") == 2,
                             1.0, "alice's unread 2")
            counted = (row_of(stack, alice, conv), row_of(stack, bob, conv))
            left = await b.request({"type": "group_leave", "id": "g3", "group": team})
            removed = await a.request({"type": "group_remove", "id": "g4", "group": team,
                                       "members": [carol]})
            assert (left["type"], removed["type"]) == ("group_ok", "group_ok"), \
                (left, removed)
            await eventually(lambda: row_of(stack, bob, conv) is None
                             and row_of(stack, carol, conv) is None, 1.0,
                             "the group gone from bob's and carol's lists")
            return counted
    alice_row, bob_row = asyncio.run(main())

    # created, added: seqs of their own, not messages; two of bob's are
    assert alice_row["unread"] == 2 and alice_row["last"]["id"] == "b2", alice_row
    assert (bob_row["unread"], bob_row["group"], bob_row["name"]) == (0, team, "Team"), \
        bob_row
    assert row_of(stack, alice, conv) is not None       # still hers


@pytest.mark.parametrize("query", ["?limit=0", "?limit=-1", "?limit=abc", "?limit=1.5",
                                   "?limit=", "?before_ts=abc", "?before_ts=1x"])
def test_a_bad_limit_or_before_ts_is_400(stack, query):
    api_error(stack.get(LIST + query, stack.names("alice")[0]), 400, "bad_request")


def test_a_limit_above_the_maximum_counts_as_the_maximum(stack):
    (alice,) = stack.names("alice")
    r = stack.get(LIST + "?limit=100000", alice)
    assert r.status == 200 and r.json() == {"conversations": [], "more": False}, r


def test_another_method_is_405(stack):
    (alice,) = stack.names("alice")
    api_error(stack.post(LIST, alice, b"{}"), 405, "method_not_allowed")
    api_error(stack.http("DELETE", LIST, token=stack.token(alice)), 405,
              "method_not_allowed")


def test_no_token_is_401_with_www_authenticate_bearer(stack):
    r = stack.http("GET", LIST)
    api_error(r, 401, "unauthorized")
    assert r.headers.get("WWW-Authenticate") == "Bearer", r.headers


@pytest.mark.parametrize("kind", ["garbage", "wrong_key", "expired"])
def test_a_bad_or_expired_token_is_401_invalid_token(stack, kind):
    token = {"garbage": "not.a.token",
             "wrong_key": make_token("alice", key="another-secret-of-32-bytes-or-more!"),
             "expired": stack.token("alice", exp_in=-3600)}[kind]
    r = stack.http("GET", LIST, token=token)
    api_error(r, 401, "unauthorized")
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer") \
        and 'error="invalid_token"' in r.headers["WWW-Authenticate"], r.headers


def test_the_token_may_come_as_access_token_and_x_chat_user_cannot_be_forged(stack):
    alice, bob = stack.names("alice", "bob")

    async def main():
        async with stack.connected((bob, "phone")) as (b,):
            await sent_msg(b, send("b1", stack.names("carol")[0]))
    asyncio.run(main())

    r = stack.http("GET", LIST + "?access_token=" + stack.token(bob))
    assert r.status == 200 and len(r.json()["conversations"]) == 1, r
    # alice's token with bob's name in the header nginx sets: alice's list
    r = stack.get(LIST, alice, headers={"X-Chat-User": bob})
    assert r.status == 200 and r.json()["conversations"] == [], r
    # the header alone is no token
    api_error(stack.http("GET", LIST, headers={"X-Chat-User": bob}), 401,
              "unauthorized")


def test_any_number_of_chat_apis_each_restarted_alone(tmp_path):
    """CHAT_APIS=2: two chat-apis on consecutive ports, one server line
    each in the rendered upstream; with one killed the other serves; dev-up
    restarts just the dead one; with both down nginx answers 503 JSON."""
    with running_stack(tmp_path / "two-apis", apis=2) as s:
        conf = (s.state_dir / "nginx.conf").read_text()
        assert "server 127.0.0.1:%d max_fails=0;" % s.api_port in conf
        assert "server 127.0.0.1:%d max_fails=0;" % (s.api_port + 1) in conf
        first, second = s.pid("api-1"), s.pid("api-2")
        assert "chat-api: ready" in (s.logs / "api-2.log").read_text()

        s.kill("api-1")
        assert [s.get(LIST, "alice").status for _ in range(4)] == [200] * 4
        s.restart("api-1")
        assert s.pid("api-2") == second and s.pid("api-1") != first
        assert (s.logs / "api-1.log").read_text().count("chat-api: ready") == 2

        s.kill("api-1")
        s.kill("api-2")
        api_error(s.get(LIST, "alice"), 503, "unavailable")
        s.restart()
        assert s.get(LIST, "alice").status == 200


def test_with_no_chat_api_the_api_answers_503_json(tmp_path):
    """CHAT_APIS=0: nginx still starts (its upstream keeps one server line,
    where nothing listens) and /api/ answers 503 unavailable in JSON."""
    with running_stack(tmp_path / "no-api", workers=0, warm_up=False, apis=0) as s:
        assert not any(name.startswith("api-") for name in s.pids())
        r = s.get(LIST, "alice")
        api_error(r, 503, "unavailable")
        assert r.headers.get("Retry-After") == "1", r.headers
