"""The WebSocket upgrade: what is refused as plain HTTP before it, where the
token is taken from, the subprotocol answer, the Origin allow-list."""

import base64

import pytest

from harness import token
from wsclient import (OP_PING, OP_PONG, RawWS, accept_for, chat_path,
                      handshake_status, http_exchange, upgrade_request)


def status(server, **kw):
    kw.setdefault("token", token())
    return handshake_status(server.port, **kw)


def test_valid_upgrade_returns_101_with_accept_and_frames_flow(server):
    request, key = upgrade_request(token=token(), port=server.port)
    sock, resp = http_exchange(server.port, request)
    ws = RawWS(sock, resp.rest, resp)
    with ws:
        assert resp.status == 101
        assert resp.header("Sec-WebSocket-Accept") == accept_for(key)
        assert resp.header("Upgrade").lower() == "websocket"
        assert "upgrade" in resp.header("Connection").lower()
        assert ws.recv_json()["type"] == "hello"
        ws.send(OP_PING, b"tcp")
        f = ws.recv_frame()
        assert (f.opcode, f.payload) == (OP_PONG, b"tcp")


def test_post_is_refused_405(server):
    assert status(server, method="POST").status == 405


def test_http10_request_is_refused_400(server):
    assert status(server, version="HTTP/1.0").status == 400


def test_missing_upgrade_header_is_refused_400(server):
    assert status(server, headers={"Upgrade": None}).status == 400


def test_upgrade_other_than_websocket_is_refused_400(server):
    assert status(server, headers={"Upgrade": "h2c"}).status == 400


def test_upgrade_websocket_is_case_insensitive(server):
    assert status(server, headers={"Upgrade": "WebSocket"}).status == 101


def test_connection_without_upgrade_token_is_refused_400(server):
    assert status(server, headers={"Connection": "keep-alive"}).status == 400


def test_connection_token_list_with_upgrade_is_accepted(server):
    assert status(server, headers={"Connection": "keep-alive, Upgrade"}).status == 101


def test_missing_websocket_key_is_refused_400(server):
    assert status(server, headers={"Sec-WebSocket-Key": None}).status == 400


@pytest.mark.parametrize("key", [
    base64.b64encode(b"x" * 15).decode(),   # 15 bytes
    base64.b64encode(b"x" * 17).decode(),   # 17 bytes
    "!!not*base64!!not*base64",              # 24 chars, not base64
])
def test_websocket_key_not_base64_of_16_bytes_is_refused_400(server, key):
    assert status(server, headers={"Sec-WebSocket-Key": key}).status == 400


def test_missing_websocket_version_is_refused_400(server):
    assert status(server, headers={"Sec-WebSocket-Version": None}).status == 400


def test_websocket_version_8_is_refused_426_naming_13(server):
    resp = status(server, headers={"Sec-WebSocket-Version": "8"})
    assert resp.status == 426
    assert resp.header("Sec-WebSocket-Version") == "13"


@pytest.mark.parametrize("device", ["bad$id", "d" * 65])
def test_bad_device_id_is_refused_400(server, device):
    assert status(server, path=chat_path(device=device)).status == 400


def test_device_id_of_64_bytes_is_accepted(server):
    device = "d" * 64
    with RawWS.connect(server.port, path=chat_path(device=device)) as ws:
        assert ws.hello["device"] == device


# ---------------------------------------------------------------- token sources

def test_token_from_query_access_token(server):
    path = chat_path(access_token=token("qbob"))
    with RawWS.connect(server.port, token=None, path=path,
                       headers={"Authorization": None}) as ws:
        assert ws.hello["user"] == "qbob"


def bearer_protocol_request(server, protocols):
    request, _ = upgrade_request(port=server.port, headers={
        "Sec-WebSocket-Protocol": protocols})
    return request


def test_token_from_bearer_subprotocol_is_not_echoed(server):
    request = bearer_protocol_request(server, "bearer." + token("pcarol"))
    sock, resp = http_exchange(server.port, request)
    with RawWS(sock, resp.rest, resp) as ws:
        assert resp.status == 101
        assert resp.header("Sec-WebSocket-Protocol") is None
        assert ws.recv_json()["user"] == "pcarol"


def test_chat_v1_subprotocol_is_selected_next_to_bearer(server):
    request = bearer_protocol_request(server, "chat.v1, bearer." + token("pdave"))
    sock, resp = http_exchange(server.port, request)
    with RawWS(sock, resp.rest, resp) as ws:
        assert resp.status == 101
        assert resp.header("Sec-WebSocket-Protocol") == "chat.v1"
        assert ws.recv_json()["user"] == "pdave"


def test_authorization_header_wins_over_query_token(server):
    path = chat_path(access_token=token("second"))
    with RawWS.connect(server.port, token=token("first"), path=path) as ws:
        assert ws.hello["user"] == "first"


def test_query_token_wins_over_bearer_subprotocol(server):
    path = chat_path(access_token=token("second"))
    with RawWS.connect(server.port, path=path, headers={
            "Authorization": None,
            "Sec-WebSocket-Protocol": "bearer." + token("third")}) as ws:
        assert ws.hello["user"] == "second"


# ---------------------------------------------------------------- Origin

ORIGINS = "chat_allowed_origins https://app.example.com https://web.example.com;"


@pytest.fixture
def origin_server(nginx_factory):
    return nginx_factory(location=ORIGINS)


def test_origin_not_in_allow_list_is_refused_403(origin_server):
    resp = status(origin_server, headers={"Origin": "https://evil.example.com"})
    assert resp.status == 403


@pytest.mark.parametrize("origin", ["https://app.example.com",
                                    "https://web.example.com"])
def test_origin_in_allow_list_is_accepted(origin_server, origin):
    assert status(origin_server, headers={"Origin": origin}).status == 101


def test_no_origin_is_accepted_with_allow_list(origin_server):
    assert status(origin_server).status == 101


def test_any_origin_is_accepted_without_allow_list(server):
    resp = status(server, headers={"Origin": "https://evil.example.com"})
    assert resp.status == 101
