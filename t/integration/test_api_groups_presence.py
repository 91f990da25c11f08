"""GET /api/groups/{group} and GET /api/presence (docs/PROTOCOL.md 6)
against the whole stack: a group's roster for members and former members,
403 for anyone else, 404 for an unknown group; presence online, offline with
last_seen, never seen (offline without last_seen), and the users rules (1
to 500, else 400).

nginx runs with chat_presence_grace 1s, so that "offline" comes soon after a
close. One stack for the file; each test has users of its own (stack.names).
"""

import asyncio
import re
import time

import pytest

from stack import api_error, eventually, now_ms, running_stack

GRACE = 1.0
LAST_SEEN_MS = 1500     # last_seen is this close to when the device went


def short_grace(text):
    text, n = re.subn(r"chat_presence_grace \S+;",
                      "chat_presence_grace %dms;" % (GRACE * 1000), text)
    assert n == 1, "nginx.conf.example changed: adapt short_grace"
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("api-groups-presence"),
                       conf=short_grace) as s:
        yield s


def group(stack, user, name):
    return stack.get("/api/groups/%s" % name, user)


# ---------------------------------------------------------------- groups

def test_members_and_former_members_read_the_group_others_403_unknown_404(stack):
    alice, bob, carol, dave = stack.names("alice", "bob", "carol", "dave")
    team = "team-%s" % alice

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            before = now_ms()
            ok = await a.request({"type": "group_create", "id": "g1", "group": team,
                                  "name": "The Team", "members": [bob, carol]})
            assert ok["type"] == "group_ok", ok
            first = await eventually(lambda: (lambda r: r if r.status == 200 else None)(
                group(stack, bob, team)), 1.0, "the new group over HTTP")
            left = await b.request({"type": "group_leave", "id": "g2", "group": team})
            assert left["type"] == "group_ok", left
            await eventually(lambda: bob not in group(stack, alice, team).json()["members"],
                             1.0, "bob gone from the roster")
            return before, first.json()
    before, first = asyncio.run(main())

    assert first == {"group": team, "conv": "grp:" + team, "name": "The Team",
                     "admins": [alice], "members": sorted([alice, bob, carol]),
                     "created_ts": first["created_ts"], "ttl": 0}, first
    assert before - 10_000 <= first["created_ts"] <= now_ms() + 10_000, first
    for member in (alice, carol):
        r = group(stack, member, team)
        assert r.status == 200 and r.json()["members"] == sorted([alice, carol]), r
    # bob left: a former member still reads it
    r = group(stack, bob, team)
    assert r.status == 200 and r.json()["members"] == sorted([alice, carol]), r
    api_error(group(stack, dave, team), 403, "forbidden")
    api_error(group(stack, dave, "nosuch-%s" % dave), 404, "not_found")


def test_a_removed_member_still_reads_it(stack):
    alice, bob = stack.names("alice", "bob")
    team = "team-%s" % alice

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            for i, (kind, extra) in enumerate([
                    ("group_create", {"name": "T", "members": [bob]}),
                    ("group_remove", {"members": [bob]})]):
                ok = await a.request(dict({"type": kind, "id": "g%d" % i,
                                           "group": team}, **extra))
                assert ok["type"] == "group_ok", ok
    asyncio.run(main())

    r = group(stack, bob, team)
    assert r.status == 200 and r.json()["members"] == [alice], r


@pytest.mark.parametrize("name", ["bad name", "a" * 300])
def test_a_malformed_group_id_is_400(stack, name):
    api_error(group(stack, stack.names("alice")[0], name.replace(" ", "%20")), 400,
              "bad_request")


def test_another_method_on_a_group_is_405(stack):
    (alice,) = stack.names("alice")
    api_error(stack.post("/api/groups/team", alice, b"{}"), 405, "method_not_allowed")


# ---------------------------------------------------------------- presence

def presence(stack, user, users):
    r = stack.get("/api/presence?users=" + ",".join(users), user)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"presence"}, body
    return body["presence"]


def test_online_offline_with_last_seen_and_never_seen(stack):
    alice, bob, carol, zed = stack.names("alice", "bob", "carol", "zed")

    async def main():
        async with stack.connected((bob, "phone"), (carol, "phone")) as (b, c):
            await b.close()
            closed = now_ms()
            online = await eventually(
                lambda: (lambda p: p if p[1]["status"] == "online" else None)(
                    presence(stack, alice, [bob, carol, zed])), 1.0, "carol online")
            # offline only after the grace, then with last_seen
            await asyncio.sleep(GRACE * 0.5)
            early = presence(stack, alice, [bob])
            later = await eventually(
                lambda: (lambda p: p if p[0]["status"] == "offline" else None)(
                    presence(stack, alice, [bob])), GRACE + 3.0, "bob offline")
            return closed, online, early, later
    closed, online, early, later = asyncio.run(main())

    assert online[1:] == [{"user": carol, "status": "online"},
                          {"user": zed, "status": "offline"}], online
    assert early == [{"user": bob, "status": "online"}], "offline within the grace"
    assert later == [{"user": bob, "status": "offline",
                      "last_seen": later[0]["last_seen"]}], later
    assert abs(later[0]["last_seen"] - closed) <= LAST_SEEN_MS, (later, closed)


def test_500_users_are_answered_501_are_400(stack):
    (alice,) = stack.names("alice")
    users = ["u%d-%d" % (i, time.monotonic_ns() % 1000) for i in range(500)]
    got = presence(stack, alice, users)
    assert [p["user"] for p in got] == users, got[:3]
    assert all(p == {"user": p["user"], "status": "offline"} for p in got), got[:3]
    api_error(stack.get("/api/presence?users=" + ",".join(users + ["one-more"]), alice),
              400, "bad_request")


@pytest.mark.parametrize("query", ["", "?users=", "?users=,", "?other=bob"])
def test_no_users_is_400(stack, query):
    api_error(stack.get("/api/presence" + query, stack.names("alice")[0]), 400,
              "bad_request")
