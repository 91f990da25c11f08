"""chat_heartbeat: server pings at the period, silent clients are closed
after two periods with 1001 "heartbeat timeout" (README.md), clients
answering pongs stay."""

import asyncio
import socket
import time

import pytest

from wsclient import OP_CLOSE, OP_PING, Closed, RawWS, assert_alive, chat


@pytest.fixture
def heartbeat_server(nginx_factory):
    return nginx_factory(location="chat_heartbeat 1s;")


def test_silent_client_gets_pings_then_is_closed_after_two_periods(heartbeat_server):
    ws = RawWS.connect(heartbeat_server.port)
    start = time.monotonic()
    pings = []
    with ws:
        assert ws.hello["heartbeat"] == 1
        try:
            while True:  # answer nothing
                f = ws.recv_frame(timeout=max(0.0, start + 6 - time.monotonic()))
                if f.opcode == OP_PING:
                    pings.append(time.monotonic() - start)
                elif f.opcode == OP_CLOSE:
                    closed_at = time.monotonic() - start
                    close = f.close_code()
                    ws.send_close(close[0])
                    ws.expect_eof()
                    break
        except Closed:
            pytest.fail("silent client dropped without a close frame after %.1fs; "
                        "pings at %s" % (time.monotonic() - start, pings))
        except socket.timeout:
            pytest.fail("silent client still connected after 6 s; pings at %s" % pings)
    assert close == (1001, "heartbeat timeout"), close
    assert pings, "no ping frame before the close"
    assert 0.5 <= pings[0] <= 1.6, pings
    assert all(0.5 <= b - a <= 1.6 for a, b in zip(pings, pings[1:])), pings
    assert 1.5 <= closed_at <= 4.0, closed_at


def test_client_answering_pongs_stays_connected(heartbeat_server):
    async def main():
        # the websockets library answers each ping frame with a pong
        async with chat(heartbeat_server.port) as (ws, _):
            await asyncio.sleep(4)
            await assert_alive(ws)
    asyncio.run(main())
