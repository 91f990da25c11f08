"""GET /api/conversations/{conv}/messages (docs/PROTOCOL.md 6) against the
whole stack: paging back by before_seq and forward by after_seq, the limit
rules, who may read (a non-member 403, a removed member up to the removal),
an unknown group 404, a DM without messages empty, membership events
skipped; and the WebSocket `history` answers the same messages for the same
query.

One stack for the file; each test has users of its own (stack.names).
"""

import asyncio

import pytest

from stack import api_error, dm, eventually, running_stack, without_type

N = 60          # messages of the paging tests: more than the default limit


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("api-history")) as s:
        yield s


def path(conv, query=""):
    return "/api/conversations/%s/messages%s" % (conv, query)


def page(stack, user, conv, query=""):
    r = stack.get(path(conv, query), user)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"conv", "messages", "more"} and body["conv"] == conv, body
    return body


def seqs(body):
    return [m["seq"] for m in body["messages"]]


async def send_all(c, n, to=None, group=None, prefix="m"):
    """n sends answered "sent", in order; returns their answers."""
    answers = []
    for i in range(1, n + 1):
        frame = {"type": "send", "id": "%s%d" % (prefix, i), "body": "%s %d" % (prefix, i)}
        frame.update({"group": group} if group else {"to": to})
        answers.append(await c.request(frame))
    assert [a["type"] for a in answers] == ["sent"] * n, answers
    return answers


@pytest.fixture(scope="module")
def talk(stack):
    """alice and bob's DM of N messages (seqs 1..N), visible over HTTP."""
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            await send_all(a, N, to=bob)
            # every "sent" shows within 1 s
            await eventually(lambda: seqs(page(stack, bob, conv))[-1:] == [N], 1.0,
                             "the last message over HTTP")
    asyncio.run(main())
    return alice, bob, conv


def test_newest_first_page_then_back_by_before_seq(stack, talk):
    alice, bob, conv = talk
    newest = page(stack, bob, conv, "?limit=20")
    assert seqs(newest) == list(range(N - 19, N + 1)) and newest["more"] is True
    m = newest["messages"][-1]
    assert m == {"mid": m["mid"], "conv": conv, "seq": N, "from": alice, "to": bob,
                 "body": "m %d" % N, "ts": m["ts"], "id": "m%d" % N}, m
    older = page(stack, bob, conv, "?limit=20&before_seq=%d" % (N - 19))
    assert seqs(older) == list(range(N - 39, N - 19)) and older["more"] is True
    oldest = page(stack, bob, conv, "?limit=20&before_seq=21")
    assert seqs(oldest) == list(range(1, 21)) and oldest["more"] is False
    assert page(stack, bob, conv, "?before_seq=1") == {"conv": conv, "messages": [],
                                                       "more": False}


def test_after_seq_catches_up_oldest_first(stack, talk):
    alice, bob, conv = talk
    body = page(stack, alice, conv, "?after_seq=5&limit=10")
    assert seqs(body) == list(range(6, 16)) and body["more"] is True
    tail = page(stack, alice, conv, "?after_seq=%d" % (N - 3))
    assert seqs(tail) == [N - 2, N - 1, N] and tail["more"] is False
    assert page(stack, alice, conv, "?after_seq=%d" % N)["messages"] == []
    # 0: from the very first message
    head = page(stack, alice, conv, "?after_seq=0&limit=3")
    assert seqs(head) == [1, 2, 3] and head["more"] is True


def test_limit_defaults_to_50_and_counts_as_100_above(stack, talk):
    alice, bob, conv = talk
    assert seqs(page(stack, bob, conv)) == list(range(N - 49, N + 1))
    assert seqs(page(stack, bob, conv, "?limit=100000")) == list(range(1, N + 1))


@pytest.mark.parametrize("query", ["?before_seq=10&after_seq=2", "?limit=0",
                                   "?limit=-3", "?limit=ten", "?limit=2.5",
                                   "?before_seq=x", "?after_seq=1e3"])
def test_bad_parameters_are_400(stack, talk, query):
    alice, bob, conv = talk
    api_error(stack.get(path(conv, query), bob), 400, "bad_request")


@pytest.mark.parametrize("conv", ["nonsense", "dm:", "grp:", "dm:a:b:c", "xx:alice",
                                  "dm:zed:amy", "dm:amy:amy"])
def test_a_malformed_conv_is_400(stack, conv):
    api_error(stack.get(path(conv), stack.names("alice")[0]), 400, "bad_request")


def test_a_non_member_is_403_an_unknown_group_404_a_new_dm_empty(stack, talk):
    alice, bob, conv = talk
    (carol,) = stack.names("carol")
    api_error(stack.get(path(conv), carol), 403, "forbidden")
    api_error(stack.get(path("grp:nosuch-%s" % carol), carol), 404, "not_found")
    assert page(stack, carol, dm(carol, alice)) == {"conv": dm(carol, alice),
                                                    "messages": [], "more": False}


def test_a_removed_member_sees_up_to_the_removal_and_events_are_skipped(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    team = "team-%s" % alice
    conv = "grp:" + team

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            ok = await a.request({"type": "group_create", "id": "g1", "group": team,
                                  "name": "Team", "members": [bob, carol]})
            assert ok["type"] == "group_ok", ok                 # seq 1
            before = await send_all(a, 3, group=team, prefix="before")   # 2..4
            ok = await a.request({"type": "group_remove", "id": "g2", "group": team,
                                  "members": [bob]})
            assert ok["type"] == "group_ok", ok                 # seq 5
            after = await send_all(a, 2, group=team, prefix="after")     # 6, 7
            await eventually(lambda: seqs(page(stack, carol, conv))[-1:] == [7], 1.0,
                             "the last message over HTTP")
            return before, after
    before, after = asyncio.run(main())

    # messages only: the seqs of created and removed are skipped
    assert seqs(page(stack, carol, conv)) == [2, 3, 4, 6, 7]
    assert [m["group"] for m in page(stack, carol, conv)["messages"]] == [team] * 5
    removed = page(stack, bob, conv)
    assert [m["mid"] for m in removed["messages"]] == [s["mid"] for s in before], removed
    assert removed["more"] is False
    assert seqs(page(stack, bob, conv, "?after_seq=4")) == []
    api_error(stack.get(path(conv), stack.names("dave")[0]), 403, "forbidden")


@pytest.mark.parametrize("ws_query,http_query", [
    ({}, ""),
    ({"limit": 7}, "?limit=7"),
    ({"before_seq": 30, "limit": 12}, "?before_seq=30&limit=12"),
    ({"before_seq": 5}, "?before_seq=5"),
])
def test_websocket_history_and_http_history_answer_the_same(stack, talk, ws_query,
                                                          http_query):
    alice, bob, conv = talk

    async def main():
        async with stack.connected((bob, "tablet")) as (b,):
            return await b.request(dict({"type": "history", "id": "h", "conv": conv},
                                        **ws_query), timeout=15)
    ws = asyncio.run(main())
    over_http = page(stack, bob, conv, http_query)

    assert ws["type"] == "history", ws
    assert [without_type(m) for m in ws["messages"]] == over_http["messages"]
    assert ws["more"] == over_http["more"]
