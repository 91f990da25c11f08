"""A reload (SIGHUP) closes connections with 1001, spread over
chat_shutdown_spread (at once with 0); new ones then work; the old worker
exits once the last is closed, or at worker_shutdown_timeout."""

import asyncio
import contextlib
import json
import socket
import time

import websockets

from harness import SANITIZED, Nginx, fail_on_log_problems, token
from wsclient import (TIMEOUT, RawWS, assert_alive, chat, expect_closed,
                      read_response, upgrade_request)

SLACK = 1.5 if SANITIZED else 0.75     # scheduling, close handshakes, polling


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
            # the default chat_shutdown_spread is 5s
            closed = await expect_closed(ws, timeout=5 + SLACK)
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
        statuses = []
        for sock in socks:
            resp = read_response(sock)
            statuses.append(resp.status)
            if resp.status == 503:
                continue
            assert resp.status == 101, resp
            ws = RawWS(sock, resp.rest, resp)
            assert ws.recv_json()["type"] == "hello"
            assert ws.expect_close()[0] == 1001
    finally:
        for sock in socks:
            sock.close()
    # a 503 is allowed, but all of them would test nothing of the 1001 path
    assert 101 in statuses, "every handshake was refused: %s" % statuses


# ------------------------------------------------------- spread of the 1001s

def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def open_clients(port, n):
    stack = contextlib.AsyncExitStack()
    clients = []
    for i in range(n):
        ws, _ = await stack.enter_async_context(chat(port, "spread%d" % i))
        clients.append(ws)
    return stack, clients


async def watch_closes(clients, frames, timeout):
    """(monotonic time, code) of each client's close by the server; every
    message each got meanwhile goes into frames[i]."""
    async def one(i, ws):
        async def read():
            with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                async for msg in ws:
                    frames[i].append(json.loads(msg))
        await asyncio.wait_for(read(), timeout)
        return time.monotonic(), ws.close_code
    return await asyncio.gather(*(one(i, ws) for i, ws in enumerate(clients)))


async def wait_exited(pids, timeout):
    """The monotonic time at which the last of pids was gone (polled)."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, "old workers %s still running" % pids
        await asyncio.sleep(0.02)
    return time.monotonic()


def reload_and_watch(srv, n, timeout, during=None):
    """Opens n connections, reloads; returns (reload time, [(time, code)],
    the time the old workers were gone). during(clients) runs right after
    the reload, while the 1001s are due."""
    async def main():
        stack, clients = await open_clients(srv.port, n)
        async with stack:
            old = srv.wait_workers(2)
            t0 = time.monotonic()
            srv.reload()
            frames = [[] for _ in clients]
            watch = asyncio.ensure_future(watch_closes(clients, frames, timeout))
            exited = asyncio.ensure_future(wait_exited(old, timeout + 5))
            if during:
                await during(clients, frames)
            return t0, await watch, await exited
    return asyncio.run(main())


def test_spread_sends_the_1001s_over_the_spread_and_the_worker_waits(nginx_factory):
    """chat_shutdown_spread 2s, 40 connections: the 1001s come over about
    2 s, not at one instant; connections work until their own 1001; the old
    workers exit only after the last one."""
    spread = 2.0
    srv = nginx_factory(http="chat_shutdown_spread %ds;" % spread)

    async def still_working(clients, frames):
        await asyncio.sleep(0.2)
        # most connections are not due yet: they still answer
        for ws in clients[:10]:
            with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                await ws.send(json.dumps({"type": "ping", "id": "during"}))
        await asyncio.sleep(0.3)
        answered = sum(any(f.get("id") == "during" for f in got)
                       for got in frames[:10])
        assert answered >= 3, "only %d of 10 answered during the spread" % answered

    t0, closes, exited = reload_and_watch(srv, 40, spread + 5, still_working)
    codes = sorted({code for _, code in closes})
    assert codes == [1001], codes
    times = sorted(t for t, _ in closes)
    assert times[-1] - times[0] >= spread / 2, \
        "1001s within %.2fs: not spread" % (times[-1] - times[0])
    assert times[-1] - t0 <= spread + SLACK, "last 1001 %.2fs after the reload" % (
        times[-1] - t0)
    # nginx does not exit a worker with a non-cancelable timer pending
    assert exited >= times[-1] - 0.05, (exited - t0, times[-1] - t0)
    assert exited - times[-1] <= SLACK, exited - times[-1]


def test_spread_0_closes_every_connection_at_once(nginx_factory):
    srv = nginx_factory(http="chat_shutdown_spread 0;")
    t0, closes, exited = reload_and_watch(srv, 20, 5)
    assert sorted({code for _, code in closes}) == [1001]
    times = sorted(t for t, _ in closes)
    assert times[-1] - t0 <= SLACK / 2, "last 1001 %.2fs after the reload" % (
        times[-1] - t0)
    assert exited - t0 <= SLACK, exited - t0


def test_worker_shutdown_timeout_cuts_the_spread_short(tmp_path):
    """worker_shutdown_timeout 1s under a 20s spread: at 1 s every
    connection still open is closed at once (no close frame) and the old
    workers exit."""
    srv = Nginx(tmp_path / "nginx", http="chat_shutdown_spread 20s;")
    write_conf = srv.write_conf

    def with_shutdown_timeout(port):
        write_conf(port)
        srv.conf.write_text(srv.conf.read_text().replace(
            "daemon off;", "daemon off;\nworker_shutdown_timeout 1s;"))
    srv.write_conf = with_shutdown_timeout
    srv.start()
    try:
        t0, closes, exited = reload_and_watch(srv, 20, 10)
    finally:
        srv.stop()
    fail_on_log_problems(srv.log_problems(), "nginx")
    codes = [code for _, code in closes]
    assert 1006 in codes and set(codes) <= {1001, 1006}, codes
    assert exited - t0 <= 1 + SLACK, exited - t0
