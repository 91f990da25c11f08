"""JSON frames after the upgrade: hello, ping/pong, errors that keep the
connection open, writes refused while no backend exists."""

import asyncio
import re
import time

import pytest

from wsclient import (OP_PING, OP_PONG, RawWS, assert_alive, chat, request,
                      text_frame)

ID_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def test_hello_has_user_generated_device_conn_defaults_and_ts(server):
    async def main():
        async with chat(server.port, "alice") as (_, hello1), \
                chat(server.port, "alice") as (_, hello2):
            return hello1, hello2
    before = time.time() * 1000
    hello, other = asyncio.run(main())
    after = time.time() * 1000
    assert hello["type"] == "hello"
    assert hello["user"] == "alice"
    assert isinstance(hello["device"], str) and ID_RE.match(hello["device"]), hello
    assert isinstance(hello["conn"], str) and hello["conn"], hello
    assert hello["conn"] != other["conn"]
    assert hello["heartbeat"] == 30
    assert hello["max_message"] == 65536
    assert before - 2000 <= hello["ts"] <= after + 2000


def test_hello_device_comes_from_query(server):
    async def main():
        async with chat(server.port, "alice", device="phone") as (_, hello):
            return hello
    assert asyncio.run(main())["device"] == "phone"


def test_hello_reports_configured_heartbeat_and_max_message(nginx_factory):
    srv = nginx_factory(location="chat_heartbeat 7s; chat_max_message 2k;")

    async def main():
        async with chat(srv.port) as (_, hello):
            return hello
    hello = asyncio.run(main())
    assert (hello["heartbeat"], hello["max_message"]) == (7, 2048)


def test_json_ping_is_answered_with_pong_echoing_id(server):
    async def main():
        async with chat(server.port) as (ws, _):
            before = time.time() * 1000
            reply = await request(ws, {"type": "ping", "id": "p1"})
            assert reply["type"] == "pong" and reply["id"] == "p1"
            assert abs(reply["ts"] - before) < 2000
            reply = await request(ws, {"type": "ping"})
            assert reply["type"] == "pong" and "id" not in reply
    asyncio.run(main())


def test_ws_ping_frame_is_answered_with_same_payload(server):
    with RawWS.connect(server.port) as ws:
        ws.send(OP_PING, b"payload-123")
        f = ws.recv_frame()
        assert (f.opcode, f.payload) == (OP_PONG, b"payload-123")


def test_unsolicited_pong_is_ignored(server):
    with RawWS.connect(server.port) as ws:
        ws.send(OP_PONG, b"unasked")
        ws.send(OP_PING, b"next")
        f = ws.recv_frame()
        assert (f.opcode, f.payload) == (OP_PONG, b"next")
        ws.assert_alive()


def test_frame_sent_with_handshake_in_same_segment_is_processed(server):
    early = text_frame({"type": "ping", "id": "early"})
    with RawWS.connect(server.port, extra=early) as ws:
        reply = ws.recv_json()
        assert (reply["type"], reply["id"]) == ("pong", "early")


NESTED = '{"type":"ping","id":"n1","x":{"a":{"b":{"c":{"d":{}}}}}}'


@pytest.mark.parametrize("text,echo", [
    pytest.param('{"type":"ping",', None, id="malformed_json"),
    pytest.param('[{"type":"ping"}]', None, id="json_array"),
    pytest.param('"ping"', None, id="json_string"),
    pytest.param('{"id":"m1"}', "m1", id="missing_type"),
    pytest.param('{"type":"dance","id":"d1"}', "d1", id="unknown_type"),
    pytest.param('{"type":"send","id":"s1","body":"hi"}', "s1", id="send_without_to_or_group"),
    pytest.param('{"type":"send","id":"s2","to":"bob","group":"team","body":"hi"}', "s2",
                 id="send_with_to_and_group"),
    pytest.param('{"type":"send","id":"s3","to":"bad user!","body":"hi"}', "s3",
                 id="send_to_invalid_user"),
    pytest.param('{"type":"send","id":"s4","to":"alice","body":"hi"}', "s4",
                 id="send_to_self"),
    pytest.param(NESTED, None, id="nested_6_levels"),
    pytest.param('{"type":"history","id":"~gap:1","conv":"dm:alice:bob"}', None,
                 id="id_of_the_servers_own"),
])
def test_bad_request_error_keeps_connection_open(server, text, echo):
    async def main():
        async with chat(server.port, "alice") as (ws, _):
            reply = await request(ws, text)
            assert reply["type"] == "error" and reply["code"] == "bad_request", reply
            assert isinstance(reply.get("message"), str)
            if echo:
                assert reply.get("id") == echo, reply
            await assert_alive(ws)
    asyncio.run(main())


@pytest.mark.parametrize("frame_obj", [
    pytest.param({"type": "send", "id": "c1", "to": "bob", "body": "hi"}, id="send"),
    pytest.param({"type": "receipt", "id": "r1", "conv": "dm:alice:bob",
                  "status": "read", "seq": 3}, id="receipt"),
    pytest.param({"type": "group_create", "id": "g1", "group": "team", "name": "Team",
                  "members": ["bob", "carol"]}, id="group_create"),
    pytest.param({"type": "history", "id": "h1", "conv": "dm:alice:bob",
                  "limit": 10}, id="history"),
])
def test_write_without_backend_is_unavailable(server, frame_obj):
    async def main():
        async with chat(server.port, "alice") as (ws, _):
            reply = await request(ws, frame_obj)
            assert reply["type"] == "error" and reply["code"] == "unavailable", reply
            assert reply.get("id") == frame_obj["id"]
            await assert_alive(ws)
    asyncio.run(main())


def test_receipt_in_dm_without_the_user_is_forbidden(server):
    async def main():
        async with chat(server.port, "alice") as (ws, _):
            reply = await request(ws, {"type": "receipt", "id": "r2", "conv": "dm:bob:carol",
                                       "status": "read", "seq": 3})
            assert reply["type"] == "error" and reply["code"] == "forbidden", reply
            assert reply.get("id") == "r2"
            await assert_alive(ws)
    asyncio.run(main())

