"""chat_send_budget: a client that never reads is dropped, and others on the
same server are not slowed down meanwhile."""

import asyncio
import socket
import time

from wsclient import TIMEOUT, RawWS, assert_alive, chat, text_frame

PINGS = 60000  # ~100-byte pongs: ~6 MB, well past kernel buffers and the budget
BATCH = 1000


def flood_until_dropped(port):
    """Sends PINGS pings without reading anything, then drains; returns
    (pings sent, seconds until the server's EOF/reset) or raises."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    with RawWS.connect(port, sock=sock, read_hello=False) as ws:
        batch = text_frame({"type": "ping", "id": "x" * 64}) * BATCH
        start, sent = time.monotonic(), 0
        sock.settimeout(3)
        try:
            while sent < PINGS:
                sock.sendall(batch)
                sent += BATCH
        except (socket.timeout, BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading, or dropped us
        try:
            ws.expect_eof(timeout=10)
        except AssertionError:
            raise AssertionError("client that never reads was not dropped "
                                 "(%d pings sent)" % sent)
        return sent, time.monotonic() - start


def test_client_over_send_budget_is_dropped_others_unaffected(nginx_factory):
    srv = nginx_factory(location="chat_max_message 4k; chat_send_budget 16k;")

    async def main():
        async with chat(srv.port, "bystander") as (ws, _):
            flood = asyncio.ensure_future(asyncio.to_thread(flood_until_dropped, srv.port))
            worst = 0.0
            while not flood.done():
                t0 = time.monotonic()
                await assert_alive(ws, "b")
                worst = max(worst, time.monotonic() - t0)
                await asyncio.sleep(0.1)
            await flood  # raises when the flooder was not dropped
            await assert_alive(ws, "after")
            return worst
    worst = asyncio.run(main())
    assert worst < 1.0, "bystander's pong took %.2fs" % worst
