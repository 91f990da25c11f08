"""A reload (SIGHUP) closes connections with 1001; new ones then work."""

import asyncio
import socket
import time

import websockets

from harness import token
from wsclient import (TIMEOUT, RawWS, assert_alive, chat, expect_closed,
                      read_response, upgrade_request)


async def connect_after_reload(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with chat(port, "late") as (ws, _):
                await assert_alive(ws)
                return
        except (OSError, websockets.exceptions.WebSocketException):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def test_reload_closes_with_1001_and_new_connections_work(nginx_factory):
    srv = nginx_factory()

    async def main():
        async with chat(srv.port, "early") as (ws, _):
            await assert_alive(ws)
            srv.reload()
            closed = await expect_closed(ws, timeout=5)
            assert closed.code == 1001, closed
        await connect_after_reload(srv.port)
    asyncio.run(main())


def test_handshake_finished_during_reload_gets_1001_not_abandoned(nginx_factory):
    """TCP connections accepted by the old workers before the reload send
    their upgrade request after it: each gets a close 1001 after hello (or
    a 503), never a socket dropped when the old worker exits."""
    srv = nginx_factory()
    socks = [socket.create_connection(("127.0.0.1", srv.port), TIMEOUT)
             for _ in range(8)]
    try:
        time.sleep(0.3)  # accepted by the old workers
        srv.reload()
        time.sleep(0.5)  # old workers are shutting down
        for sock in socks:
            request, _ = upgrade_request(token=token(), port=srv.port)
            sock.sendall(request)
        for sock in socks:
            resp = read_response(sock)
            if resp.status == 503:
                continue
            assert resp.status == 101, resp
            ws = RawWS(sock, resp.rest, resp)
            assert ws.recv_json()["type"] == "hello"
            assert ws.expect_close()[0] == 1001
    finally:
        for sock in socks:
            sock.close()
