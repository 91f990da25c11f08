"""RFC 6455 framing rules on client frames, with the close code each
violation earns (docs/PROTOCOL.md section 7)."""

import time

import pytest

from wsclient import (OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawWS,
                      frame)

PING = b'{"type":"ping","id":"f"}'


def assert_closes(server, data, code):
    """Sends data after the hello; asserts the server's close code, then EOF."""
    with RawWS.connect(server.port) as ws:
        ws.send_raw(data)
        assert ws.expect_close()[0] == code


def test_unmasked_frame_closes_1002(server):
    assert_closes(server, frame(OP_TEXT, PING, mask=False), 1002)


@pytest.mark.parametrize("rsv", [4, 2, 1], ids=["rsv1", "rsv2", "rsv3"])
def test_rsv_bit_closes_1002(server, rsv):
    assert_closes(server, frame(OP_TEXT, PING, rsv=rsv), 1002)


@pytest.mark.parametrize("opcode", [0x3, 0xB])
def test_reserved_opcode_closes_1002(server, opcode):
    assert_closes(server, frame(opcode, b"x"), 1002)


def test_binary_message_closes_1003(server):
    assert_closes(server, frame(OP_BINARY, PING), 1003)


def test_control_frame_with_126_byte_payload_closes_1002(server):
    assert_closes(server, frame(OP_PING, b"p" * 126), 1002)


def test_fragmented_ping_closes_1002(server):
    assert_closes(server, frame(OP_PING, b"ab", fin=False), 1002)


def test_continuation_without_start_closes_1002(server):
    assert_closes(server, frame(OP_CONT, PING), 1002)


def test_new_text_frame_inside_fragmented_message_closes_1002(server):
    assert_closes(server, frame(OP_TEXT, PING[:5], fin=False)
                  + frame(OP_TEXT, PING), 1002)


@pytest.mark.parametrize("bad", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80",
                                 b"\xf4\x90\x80\x80", b"\xe2\x82"],
                         ids=["ff", "overlong", "surrogate", "above_10ffff",
                              "truncated"])
def test_invalid_utf8_text_closes_1007(server, bad):
    data = b'{"type":"ping","id":"' + bad + b'"}'
    assert_closes(server, frame(OP_TEXT, data), 1007)


def test_invalid_utf8_split_across_fragments_closes_1007(server):
    assert_closes(server, frame(OP_TEXT, b'{"type":"ping","x":"\xf0\x9f', fin=False)
                  + frame(OP_CONT, b'\x28\x80"}'), 1007)


def test_split_four_byte_utf8_character_across_fragments_is_accepted(server):
    # a client id must be printable ASCII (docs/PROTOCOL.md 1): the emoji rides in body
    data = '{"type":"send","id":"emoji","to":"bob","body":"\U0001F600"}'.encode()
    cut = data.index("\U0001F600".encode()) + 2
    with RawWS.connect(server.port) as ws:
        ws.send_raw(frame(OP_TEXT, data[:cut], fin=False) + frame(OP_CONT, data[cut:]))
        reply = ws.recv_json()
        assert reply.get("id") == "emoji", reply
        # whole and valid, it got as far as the write path, which has no
        # message log in this server (a broken character: bad_request or 1007)
        assert (reply["type"], reply.get("code")) == ("error", "unavailable"), reply
        ws.assert_alive()


def test_ping_between_fragments_is_answered_and_message_completes(server):
    data = b'{"type":"ping","id":"frag"}'
    with RawWS.connect(server.port) as ws:
        ws.send_raw(frame(OP_TEXT, data[:10], fin=False) + frame(OP_PING, b"mid")
                    + frame(OP_CONT, data[10:]))
        f = ws.recv_frame()
        assert (f.opcode, f.payload) == (OP_PONG, b"mid")
        reply = ws.recv_json()
        assert (reply["type"], reply["id"]) == ("pong", "frag")


def test_frame_header_claiming_2_pow_40_bytes_closes_1009_at_once(server):
    with RawWS.connect(server.port) as ws:
        ws.send_raw(frame(OP_TEXT, b"", length=2 ** 40)[:14])
        start = time.monotonic()
        assert ws.expect_close(timeout=3)[0] == 1009
        assert time.monotonic() - start < 2.5


# ---------------------------------------------------------------- chat_max_message 1k

def padded_ping(id, size):
    data = ('{"type":"ping","id":"%s"}' % id).encode()
    return data + b" " * (size - len(data))


@pytest.fixture
def small_server(nginx_factory):
    return nginx_factory(location="chat_max_message 1k;")


def test_text_frame_of_max_message_bytes_is_accepted(small_server):
    with RawWS.connect(small_server.port) as ws:
        assert ws.hello["max_message"] == 1024
        ws.send(OP_TEXT, padded_ping("full", 1024))
        reply = ws.recv_json()
        assert (reply["type"], reply["id"]) == ("pong", "full")


def test_text_frame_over_max_message_closes_1009(small_server):
    assert_closes(small_server, frame(OP_TEXT, padded_ping("over", 1025)), 1009)


def test_fragmented_message_over_max_message_closes_1009(small_server):
    data = padded_ping("frags", 1200)
    assert_closes(small_server, frame(OP_TEXT, data[:600], fin=False)
                  + frame(OP_CONT, data[600:]), 1009)


def test_fragmented_message_of_max_message_bytes_is_accepted(small_server):
    data = padded_ping("frags", 1024)
    with RawWS.connect(small_server.port) as ws:
        ws.send_raw(frame(OP_TEXT, data[:600], fin=False) + frame(OP_CONT, data[600:]))
        reply = ws.recv_json()
        assert (reply["type"], reply["id"]) == ("pong", "frags")


# ---------------------------------------------------------------- chat_message_timeout 2s

MESSAGE_TIMEOUT = 2.0
TICK_GRAIN = 0.25          # the connection's wake-ups are on a 250 ms grid
CLOSE_SLACK = 1.0          # scheduling, and a sanitized build


@pytest.fixture
def deadline_server(nginx_factory):
    return nginx_factory(location="chat_message_timeout 2s;")


def assert_closed_at_deadline(ws, start):
    code, reason = ws.expect_close(timeout=MESSAGE_TIMEOUT + 5)
    took = time.monotonic() - start
    assert (code, reason) == (1008, "message timeout"), (code, reason)
    assert MESSAGE_TIMEOUT - 0.05 <= took <= MESSAGE_TIMEOUT + TICK_GRAIN + CLOSE_SLACK, took


def test_fragmented_message_never_completed_closes_1008_at_deadline(deadline_server):
    """Pings between the fragments keep the connection busy, not the
    message open: the deadline runs from the first fragment."""
    with RawWS.connect(deadline_server.port) as ws:
        ws.send_raw(frame(OP_TEXT, PING[:10], fin=False))
        start = time.monotonic()
        for i in range(3):
            time.sleep(0.4)
            ws.send_raw(frame(OP_PING, b"%d" % i))
        assert_closed_at_deadline(ws, start)


@pytest.mark.parametrize("begun", [frame(OP_TEXT, PING)[:1], frame(OP_TEXT, PING)[:10],
                                   frame(OP_PING, b"x" * 100)[:12]],
                         ids=["header-byte", "mid-payload", "control-payload"])
def test_frame_never_completed_closes_1008_at_deadline(deadline_server, begun):
    """One frame trickling in is held to the same deadline."""
    with RawWS.connect(deadline_server.port) as ws:
        ws.send_raw(begun)
        start = time.monotonic()
        assert_closed_at_deadline(ws, start)


def test_slow_fragmented_messages_within_deadline_complete(deadline_server):
    """Each message has its own deadline: two messages of 1.5 s each, back to
    back, both answered, and the connection stays."""
    with RawWS.connect(deadline_server.port) as ws:
        for id in ("slow-1", "slow-2"):
            data = ('{"type":"ping","id":"%s"}' % id).encode()
            parts = [data[:5], data[5:10], data[10:15], data[15:]]
            ws.send_raw(frame(OP_TEXT, parts[0], fin=False))
            for i, part in enumerate(parts[1:], 1):
                time.sleep(0.5)
                ws.send_raw(frame(OP_CONT, part, fin=i == len(parts) - 1))
            reply = ws.recv_json()
            assert (reply["type"], reply["id"]) == ("pong", id)
        time.sleep(MESSAGE_TIMEOUT + TICK_GRAIN)   # no deadline left running
        ws.assert_alive()


def test_message_begun_after_another_in_one_read_gets_its_own_deadline(deadline_server):
    """A complete message and the first fragment of the next in one write:
    the second one's clock starts then, not at the first one's start."""
    with RawWS.connect(deadline_server.port) as ws:
        data = b'{"type":"ping","id":"two"}'
        ws.send_raw(frame(OP_TEXT, PING[:8], fin=False))
        time.sleep(1.5)
        ws.send_raw(frame(OP_CONT, PING[8:]) + frame(OP_TEXT, data[:8], fin=False))
        assert ws.recv_json()["id"] == "f"
        time.sleep(1.5)                  # 3 s after the first message began
        ws.send_raw(frame(OP_CONT, data[8:]))
        assert ws.recv_json()["id"] == "two"
        ws.assert_alive()
