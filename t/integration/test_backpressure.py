"""chat_send_budget: a client that never reads is dropped, and others on the
same server are not slowed down meanwhile."""

import asyncio
import socket
import time

from wsclient import TIMEOUT, RawWS, assert_alive, chat, text_frame

PINGS = 60000  # ~100-byte pongs: ~6 MB, well past kernel buffers and the budget
BATCH = 1000
FLOOD_SECONDS = 2.0  # one flooding client after another meanwhile


def flood_until_dropped(port):
    """Sends PINGS pings without reading anything, then drains; returns
    (pings sent, seconds until it is closed, close code, reason) or
    raises."""
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
            code, reason = ws.expect_close(timeout=10)
        except AssertionError as e:
            raise AssertionError("client that never reads was not closed "
                                 "(%d pings sent): %s" % (sent, e)) from None
        return sent, time.monotonic() - start, code, reason


def flood_for(port, seconds):
    """One client that never reads after another, for `seconds` at least
    (one alone is closed in a few ms); the list of what each returned."""
    rounds, end = [], time.monotonic() + seconds
    while not rounds or time.monotonic() < end:
        rounds.append(flood_until_dropped(port))
    return rounds


def test_client_over_send_budget_is_dropped_others_unaffected(nginx_factory):
    # the request budget is off: the flooders ping far past it, and this is
    # about what the send budget does to a client that never reads
    srv = nginx_factory(location="chat_max_message 4k; chat_send_budget 16k; "
                                 "chat_limit_requests off;")

    async def main():
        async with chat(srv.port, "bystander") as (ws, _):
            flood = asyncio.ensure_future(asyncio.to_thread(flood_for, srv.port,
                                                            FLOOD_SECONDS))
            pongs = []      # the bystander's round trips while the flood ran
            while not flood.done():
                t0 = time.monotonic()
                await assert_alive(ws, "b")
                pongs.append(time.monotonic() - t0)
                await asyncio.sleep(0.1)
            flooded = await flood  # raises when the flooder was not closed
            await assert_alive(ws, "after")
            return pongs, flooded
    pongs, rounds = asyncio.run(main())
    print("flood: %d clients, %d pings; bystander: %d pongs, worst %.3fs"
          % (len(rounds), sum(r[0] for r in rounds), len(pongs), max(pongs)))
    closes = {(code, reason) for _, _, code, reason in rounds}
    assert closes == {(1008, "send queue over budget")}, closes
    # the bystander was measured all along the flood, not once before it
    assert len(pongs) >= FLOOD_SECONDS / 0.2, "the bystander was measured only " \
        "%d times in %.0fs of flood" % (len(pongs), FLOOD_SECONDS)
    assert max(pongs) < 1.0, "bystander's pong took %.2fs" % max(pongs)
