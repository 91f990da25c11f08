"""The close handshake started by the client."""

import pytest

from wsclient import OP_CLOSE, RawWS, close_payload


def close_reply(server, payload):
    """Sends a close frame with payload; returns the server's (code, reason)
    after it closed TCP."""
    with RawWS.connect(server.port) as ws:
        ws.send(OP_CLOSE, payload)
        return ws.expect_close()


def test_client_close_1000_is_echoed_then_tcp_closed(server):
    assert close_reply(server, close_payload(1000, "bye"))[0] == 1000


@pytest.mark.parametrize("code", [3000, 4999, 1001, 4401])
def test_valid_close_code_is_echoed(server, code):
    assert close_reply(server, close_payload(code, "ok"))[0] == code


def test_close_without_payload_is_answered(server):
    assert close_reply(server, b"")[0] in (None, 1000)


@pytest.mark.parametrize("code", [1005, 999, 1004, 1006, 1015, 2999, 5000])
def test_close_with_invalid_code_closes_1002(server, code):
    assert close_reply(server, close_payload(code))[0] == 1002


def test_close_with_one_byte_payload_closes_1002(server):
    assert close_reply(server, b"\x03")[0] == 1002


def test_close_with_invalid_utf8_reason_closes_1007(server):
    assert close_reply(server, close_payload(1000, b"bad \xff reason"))[0] == 1007
