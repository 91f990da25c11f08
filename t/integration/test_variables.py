"""$chat_user and $chat_device in the access log of a WebSocket connection."""

import asyncio
import time

from wsclient import chat


def wait_log_line(server, needle, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        text = server.access_log.read_text() if server.access_log.exists() else ""
        lines = [l for l in text.splitlines() if needle in l]
        if lines or time.monotonic() > deadline:
            return lines, text
        time.sleep(0.1)


def connect_and_close(port, sub, device=None):
    async def main():
        async with chat(port, sub, device=device) as (_, hello):
            return hello
    return asyncio.run(main())


def test_access_log_has_user_and_device_of_closed_connection(server):
    connect_and_close(server.port, "loguser1", device="tab")
    lines, text = wait_log_line(server, "loguser1")
    assert "127.0.0.1 loguser1 tab 101 /chat" in lines, text


def test_access_log_has_generated_device(server):
    hello = connect_and_close(server.port, "loguser2")
    lines, text = wait_log_line(server, "loguser2")
    assert "127.0.0.1 loguser2 %s 101 /chat" % hello["device"] in lines, text
