"""In-band token refresh ({"type":"auth"}) and the close at exp (4401)."""

import asyncio
import time

import pytest

from harness import SECRET, now, token
from wsclient import assert_alive, chat, expect_closed, request


def test_refresh_with_same_sub_answers_new_exp(server):
    async def main():
        async with chat(server.port, "alice") as (ws, _):
            exp = now() + 7200
            reply = await request(ws, {"type": "auth", "id": "a1",
                                       "token": token("alice", exp=exp)})
            assert (reply["type"], reply.get("id"), reply.get("exp")) == ("auth", "a1", exp), reply
            await assert_alive(ws)
    asyncio.run(main())


@pytest.mark.parametrize("new_token", [
    pytest.param(lambda: token("mallory", exp_in=7200), id="other_sub"),
    pytest.param(lambda: token("alice", exp_in=7200, key=SECRET + "x"), id="bad_signature"),
    pytest.param(lambda: token("alice", exp_in=-3600), id="expired"),
    pytest.param(lambda: "not.a.jwt", id="garbage"),
])
def test_refresh_with_bad_token_is_forbidden_and_keeps_connection(server, new_token):
    async def main():
        async with chat(server.port, "alice") as (ws, _):
            reply = await request(ws, {"type": "auth", "id": "a2", "token": new_token()})
            assert reply["type"] == "error" and reply["code"] == "forbidden", reply
            assert reply.get("id") == "a2"
            await assert_alive(ws)
    asyncio.run(main())


@pytest.fixture
def strict_server(nginx_factory):
    return nginx_factory(location="chat_jwt_leeway 0s;")


def short_lived_token():
    """A token for alice expiring 2 to 3 s from now, and its exp."""
    exp = now() + 3
    return token("alice", exp=exp), exp


def test_connection_is_closed_4401_at_token_exp(strict_server):
    async def main():
        tok, exp = short_lived_token()
        async with chat(strict_server.port, token=tok) as (ws, _):
            closed = await expect_closed(ws, timeout=exp - time.time() + 3)
            return closed, time.time(), exp
    closed, closed_at, exp = asyncio.run(main())
    assert closed.code == 4401, closed
    assert closed.reason == "token expired"
    assert exp - 0.5 <= closed_at <= exp + 1.5, (closed_at, exp)


def test_refreshed_connection_is_not_closed_at_first_exp(strict_server):
    async def main():
        tok, exp = short_lived_token()
        async with chat(strict_server.port, token=tok) as (ws, _):
            reply = await request(ws, {"type": "auth", "id": "a3",
                                       "token": token("alice", exp=exp + 60)})
            assert (reply["type"], reply.get("exp")) == ("auth", exp + 60), reply
            await asyncio.sleep(exp - time.time() + 1.5)
            await assert_alive(ws)
    asyncio.run(main())


INT64_MAX = 2 ** 63 - 1
LATEST = 253402300799          # 9999-12-31T23:59:59Z, chat_jwt's latest time


def test_absurd_exp_is_the_latest_time_not_an_overflow(server):
    """exp * 1000 for an exp near INT64_MAX would wrap to a past instant:
    the connection would be closed 4401 at once. It is taken as the year
    9999, at the handshake and in a refresh."""
    async def main():
        async with chat(server.port, token=token("alice", exp=INT64_MAX)) as (ws, _):
            await asyncio.sleep(0.6)        # past a tick of the 250 ms grid
            await assert_alive(ws)
            reply = await request(ws, {"type": "auth", "id": "a4",
                                       "token": token("alice", exp=INT64_MAX // 1000 + 1)})
            assert (reply["type"], reply.get("exp")) == ("auth", LATEST), reply
            await asyncio.sleep(0.6)
            await assert_alive(ws)
    asyncio.run(main())
