"""A reload (SIGHUP) closes connections with 1001; new ones then work."""

import asyncio
import time

import websockets

from wsclient import assert_alive, chat, expect_closed


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
