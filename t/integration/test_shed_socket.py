"""The per-socket rule of priority shedding (README chat_shed_levels): a
typing or presence frame is not queued to a socket whose queue in nginx is
already over half its send budget, whatever the worker's shed level; what
was queued before it, and messages after it, still arrive.

To hold nginx's own queue at a known size, the kernel must not take the
bytes: nginx's socket has sndbuf=4096 (the listen parameter) and bob's a
4 KiB receive buffer, and bob stops reading. alice's messages to him then
pile up in his connection's queue, which chat_status shows
(chat_send_queue_bytes), until it is past half of chat_send_budget and
below all of it (past it, the connection would be closed).
"""

import re
import socket
import time

import pytest

from stack import SLOW, running_stack
from wsclient import RawWS

BUDGET = 256 * 1024             # chat_send_budget of nginx.conf.example
BODY = 16000                    # bytes of each message body
FILL = 12                       # messages: ~190 KiB, between half and all


def small_buffers_conf(text):
    subs = [
        (r"worker_processes \S+;", "worker_processes 1;"),
        (r"listen 127\.0\.0\.1:8080;", "listen 127.0.0.1:8080 sndbuf=4096;"),
        (r"chat_send_budget \S+;", "chat_send_budget %d;" % BUDGET),
    ]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text)
        assert n == 1, "nginx.conf.example changed: adapt small_buffers_conf (%s)" % pattern
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("shed-socket"), workers=1,
                       conf=small_buffers_conf) as s:
        yield s


def connect(stack, user, rcvbuf=None):
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10 * SLOW)
    sock.connect(("127.0.0.1", stack.port))
    return RawWS.connect(stack.port, token=stack.token(user), sock=sock)


def send(ws, to, id, body):
    ws.send_json({"type": "send", "id": id, "to": to, "body": body})


def read_until(ws, pred, what, timeout=10 * SLOW):
    """Frames up to and including the first one pred accepts."""
    frames, deadline = [], time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no %s within %.0fs; got %r" % (what, timeout, frames[-5:])
        f = ws.recv_json(timeout=left)
        frames.append(f)
        if pred(f):
            return frames


def queued(stack):
    return stack.metrics().get("chat_send_queue_bytes", 0)


def shed_typing(stack):
    return stack.metrics().get('chat_shed_total{level="typing"}', 0)


def test_typing_and_presence_skip_a_socket_over_half_its_budget(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")
    a = connect(stack, alice)
    b = connect(stack, bob, rcvbuf=4096)

    # bob is synced and live, watches carol (offline), and sees typing
    send(a, bob, "warm", "warm")
    read_until(b, lambda f: f.get("type") == "msg" and f.get("id") == "warm", "warm-up msg")
    b.send_json({"type": "presence_sub", "users": [carol]})
    read_until(b, lambda f: f.get("type") == "presence" and f.get("user") == carol,
               "carol's state")
    a.send_json({"type": "typing", "to": bob, "state": "start"})
    read_until(b, lambda f: f.get("type") == "typing", "typing below half the budget")

    # bob stops reading; alice's messages pile up in his queue in nginx
    for i in range(FILL):
        send(a, bob, "fill-%d" % i, "%02d" % i + "x" * (BODY - 2))
    # alice reads her own copies too, so that the queued bytes are bob's
    last = "fill-%d" % (FILL - 1)
    got = set()
    read_until(a, lambda f: got.add(f.get("type")) or got >= {"sent", "msg"}
               if f.get("id") == last else False, "alice's sent and copy of her last")
    deadline = time.monotonic() + 10 * SLOW
    while queued(stack) <= BUDGET / 2:
        assert time.monotonic() < deadline, "bob's queue stayed at %d bytes" % queued(stack)
        time.sleep(0.05)
    assert queued(stack) < BUDGET

    # over half the budget: typing and carol's arrival are not queued to bob
    dropped = shed_typing(stack)
    a.send_json({"type": "typing", "to": bob, "state": "start"})
    c = connect(stack, carol)
    send(a, bob, "after", "after")
    read_until(a, lambda f: f.get("type") == "sent" and f.get("id") == "after", "sent")
    time.sleep(0.5 * SLOW)
    assert shed_typing(stack) == dropped + 1

    # bob reads again: every message, in order, and nothing that was shed
    frames = read_until(b, lambda f: f.get("type") == "msg" and f.get("id") == "after",
                        "the message after the fill")
    msgs = [f["id"] for f in frames if f.get("type") == "msg"]
    assert msgs == ["fill-%d" % i for i in range(FILL)] + ["after"], msgs
    assert not [f for f in frames if f.get("type") == "typing"], frames
    assert not [f for f in frames if f.get("type") == "presence"], frames
    b.assert_alive()

    # a socket back under half its budget gets them again
    a.send_json({"type": "typing", "to": bob, "state": "stop"})
    read_until(b, lambda f: f.get("type") == "typing" and f.get("state") == "stop",
               "typing once drained")
    for ws in (a, b, c):
        ws.close()
