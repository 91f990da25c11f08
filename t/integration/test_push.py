"""The push hook (docs/PROTOCOL.md section 5): a message that no device of a
recipient acknowledges `delivered` within chat_push_delay makes the
chat-workers POST one notification for that recipient to chat_push_url.

The hook is a local HTTP sink that records every POST; it can be told to
answer a user's next POSTs with an error status. The workers run with a
short delay (DELAY), passed with CHAT_WORKER_ARGS.
"""

import asyncio
import json
import re
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import free_port
from stack import SLOW, dm, running_stack

DELAY = 1.0 * SLOW         # chat_push_delay of the workers, in seconds
QUIET = 3.0                # how long a second POST gets to show up
WAIT = DELAY + 10.0 * SLOW  # the longest a due push may take to arrive


def worker_args(url, *more):
    return " ".join(("--push-url", url, "--push-delay",
                     "%dms" % (DELAY * 1000)) + more)


class Sink:
    """An HTTP server on 127.0.0.1 recording each POST as a dict: time,
    status (what it answered), content_type, body (the parsed JSON)."""

    def __init__(self):
        self.posts = []
        self.failing = {}           # user -> statuses to answer next
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(data)
                with sink.lock:
                    todo = sink.failing.get(body.get("user"), [])
                    status = todo.pop(0) if todo else 200
                    sink.posts.append({"time": time.time(), "status": status,
                                       "content_type": self.headers.get("Content-Type"),
                                       "body": body})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/push" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail(self, user, *statuses):
        with self.lock:
            self.failing[user] = list(statuses)

    def to(self, user, ok_only=True):
        """The POSTs for user, in arrival order (the answered 2xx only)."""
        with self.lock:
            return [p for p in self.posts if p["body"].get("user") == user
                    and (not ok_only or p["status"] == 200)]

    def wait(self, user, n, timeout=WAIT, ok_only=True):
        deadline = time.monotonic() + timeout
        while len(self.to(user, ok_only)) < n:
            assert time.monotonic() < deadline, "%d push(es) for %s within %.0fs, " \
                "got %s" % (n, user, timeout, self.to(user, ok_only=False))
            time.sleep(0.05)
        return self.to(user, ok_only)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def sink():
    s = Sink()
    yield s
    s.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, sink):
    # two workers on one store: only the owner of a partition may push
    with running_stack(tmp_path_factory.mktemp("push"), workers=2,
                       env={"CHAT_WORKER_ARGS": worker_args(sink.url)}) as s:
        yield s


def send(id, to, body="hi"):
    return {"type": "send", "id": id, "to": to, "body": body}


def worker_log(stack):
    return "".join(p.read_text(errors="replace") for p in stack._worker_logs())


def sends_while_offline(stack, sender, to, n):
    """sender sends n messages to `to`, who has no connection; returns
    their "sent" answers."""
    async def main():
        async with stack.connected((sender, "laptop")) as (a,):
            return [await a.request(send("c-%d" % i, to, "push %d" % i))
                    for i in range(1, n + 1)]
    return asyncio.run(main())


def test_offline_recipient_gets_exactly_one_push_after_the_delay(stack, sink):
    alice, bob = stack.names("alice", "bob")

    sent, = sends_while_offline(stack, alice, bob, 1)
    posts = sink.wait(bob, 1)
    time.sleep(QUIET)

    assert sent["type"] == "sent", sent
    assert len(sink.to(bob, ok_only=False)) == 1, sink.to(bob, ok_only=False)
    post = posts[0]
    assert post["content_type"] == "application/json"
    assert post["body"] == {"push_id": "%s:%s" % (sent["mid"], bob), "user": bob,
                            "mid": sent["mid"], "conv": dm(alice, bob), "seq": 1,
                            "from": alice, "ts": sent["ts"], "body": "push 1"}
    # not before the delay (same clock: the sink and the module share a host)
    waited = post["time"] * 1000 - sent["ts"]
    assert waited >= DELAY * 1000 - 50, waited
    assert sink.to(alice, ok_only=False) == [], "a push for the sender's own message"


def test_no_push_when_a_device_acknowledges_in_time(stack, sink):
    alice, bob, carol = stack.names("alice", "bob", "carol")

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            await stack.settle()
            await a.request(send("c-1", bob, "acked"))
            msg = await b.recv("msg")
            await b.send({"type": "receipt", "conv": msg["conv"],
                          "status": "delivered", "seq": msg["seq"]})
            # carol, offline, is pushed meanwhile: the pusher is working
            await a.request(send("c-2", carol, "not acked"))
            await asyncio.sleep(DELAY + QUIET)
            return msg
    msg = asyncio.run(main())

    assert msg["body"] == "acked"
    assert sink.to(bob, ok_only=False) == []
    assert [p["body"]["body"] for p in sink.wait(carol, 1, timeout=1)] == ["not acked"]


def test_connected_device_that_does_not_acknowledge_still_gets_one_push(stack, sink):
    alice, bob = stack.names("alice", "bob")

    async def main():
        async with stack.connected((alice, "laptop"), (bob, "phone")) as (a, b):
            await stack.settle()
            sent = await a.request(send("c-1", bob, "seen, not acked"))
            msg = await b.recv("msg")
            await asyncio.sleep(DELAY + QUIET)
            return sent, msg
    sent, msg = asyncio.run(main())

    assert msg["mid"] == sent["mid"]
    assert [p["body"]["mid"] for p in sink.to(bob, ok_only=False)] == [sent["mid"]]


def test_failed_posts_are_retried_until_one_is_accepted(stack, sink):
    alice, bob = stack.names("alice", "bob")
    sink.fail(bob, 500, 500)

    sent, = sends_while_offline(stack, alice, bob, 1)
    sink.wait(bob, 1)             # retries after about 1 s, then 2 s
    time.sleep(QUIET)

    posts = sink.to(bob, ok_only=False)
    assert [p["status"] for p in posts] == [500, 500, 200], posts
    assert {p["body"]["push_id"] for p in posts} == {"%s:%s" % (sent["mid"], bob)}
    gap = posts[2]["time"] - posts[1]["time"]
    assert 2 * 0.75 - 0.1 <= gap <= 2 * 1.25 + 1.0 * SLOW, "second backoff %.2fs" % gap
    log = worker_log(stack)
    for n in (1, 2):
        assert re.search(r"push to %s of %s: HTTP 500; retry %d of 5 in \d+ ms"
                         % (bob, sent["mid"], n), log), log[-2000:]


def test_each_message_gets_its_own_push(stack, sink):
    alice, bob = stack.names("alice", "bob")

    sent = sends_while_offline(stack, alice, bob, 3)
    sink.wait(bob, 3)
    time.sleep(QUIET)

    posts = sink.to(bob, ok_only=False)
    assert sorted((p["body"]["seq"], p["body"]["mid"]) for p in posts) == \
        [(i, s["mid"]) for i, s in enumerate(sent, 1)], posts


def test_a_due_push_outlives_the_workers(stack, sink):
    """The due state is in the store: workers killed before the delay ran
    out push after their restart, once."""
    alice, bob = stack.names("alice", "bob")

    sent, = sends_while_offline(stack, alice, bob, 1)
    time.sleep(0.2)                 # most likely applied, not yet pushed
    for name in ("worker-1", "worker-2"):
        stack.kill(name)
    assert sink.to(bob, ok_only=False) == [], "pushed before the delay"
    offsets = stack.log_offsets()
    stack.restart()                 # both, then both ready
    stack.wait_ready(["worker-1", "worker-2"], offsets)

    sink.wait(bob, 1, timeout=WAIT + 30)
    time.sleep(QUIET)
    assert [p["body"]["mid"] for p in sink.to(bob, ok_only=False)] == [sent["mid"]]


def test_unreachable_hook_loses_nothing_and_gives_up(tmp_path):
    closed = "http://127.0.0.1:%d/push" % free_port()
    env = {"CHAT_WORKER_ARGS": worker_args(closed, "--push-retries", "1")}

    with running_stack(tmp_path / "stack", workers=1, env=env) as stack:
        alice, bob = stack.names("alice", "bob")
        sent, = sends_while_offline(stack, alice, bob, 1)

        gave_up = re.compile(r"\[warn\].*push to %s of %s: gave up after 2 POST\(s\): "
                             r"Couldn't connect to server \(HTTP status 0\)"
                             % (bob, sent["mid"]))
        deadline = time.monotonic() + WAIT + 3
        while not gave_up.search(worker_log(stack)):
            assert time.monotonic() < deadline, worker_log(stack)[-3000:]
            time.sleep(0.1)

        async def connect_bob():
            async with stack.connected((bob, "phone")) as (b,):
                return await b.recv("msg")
        msg = asyncio.run(connect_bob())
        assert (msg["mid"], msg["body"]) == (sent["mid"], "push 1")

        # the totals at exit count the retries and the give-ups
        pid = stack.kill("worker-1", signal.SIGTERM)
        deadline = time.monotonic() + 15
        while "chat-worker: stopped" not in worker_log(stack):
            assert time.monotonic() < deadline, "worker %d did not stop" % pid
            time.sleep(0.1)
        totals = re.search(r"push stopping: 0 sent, (\d+) retried, (\d+) failed, "
                           r"\d+ in flight", worker_log(stack))
        assert totals, worker_log(stack)[-2000:]
        assert int(totals.group(1)) >= 1 and int(totals.group(2)) >= 1, totals.group(0)
