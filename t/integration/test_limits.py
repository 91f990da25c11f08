"""Rate limits and the device cap (ngx_chat_limit.c, README "Rate limits
and the device cap"): exact counts over a window, across nginx workers.

The stack runs nginx.conf.example with two nginx workers listening with
reuseport (so the kernel spreads connections over both: a test that needs
two workers reconnects until it has them, telling them apart by the pid in
the connection id), /chat limited to sends 2r/s burst=3 flood=2, typing
2r/s burst=3 and 2 devices; /chat-hs with a handshake limit of 1r/s
burst=2 per address; /chat-slow with sends 6r/m burst=2 (for the reload).
The access log has $pid. Tests without a backend (defaults, config
errors) use nginx alone.
"""

import contextlib
import re
import signal
import socket
import time

import pytest

from harness import Nginx, pids_with_parent, token
from stack import SLOW, running_stack
from wsclient import (OP_CLOSE, Closed, RawWS, read_response, text_frame,
                      upgrade_request)

RATE, BURST, FLOOD = 2, 3, 2         # chat_limit_send on /chat
TYPING_RATE, TYPING_BURST = 2, 3     # chat_limit_typing on /chat
MAX_DEVICES = 2                      # chat_max_devices on /chat
HS_RATE, HS_BURST = 1, 2             # chat_limit_handshake on /chat-hs
SLOW_PER_MIN, SLOW_BURST = 6, 2      # chat_limit_send on /chat-slow
ANSWERS = ("sent", "error", "group_ok")


def limits_conf(text):
    subs = [
        (r"listen 127\.0\.0\.1:8080;", "listen 127.0.0.1:8080 reuseport;"),
        (r"worker_processes \S+;", "worker_processes 2;"),
        (r"user=\$chat_user device=\$chat_device';",
         "user=$chat_user device=$chat_device pid=$pid';"),
        (r"chat_limit_send [^;]*;",
         "chat_limit_send rate=%dr/s burst=%d flood=%d;" % (RATE, BURST, FLOOD)),
        (r"chat_limit_typing [^;]*;",
         "chat_limit_typing rate=%dr/s burst=%d;" % (TYPING_RATE, TYPING_BURST)),
        (r"chat_max_devices \d+;", "chat_max_devices %d;" % MAX_DEVICES),
        (r"\n\s*location = /chat/health \{", """
        location = /chat-hs {
            chat on;
            chat_limit_handshake rate=%dr/s burst=%d;
        }

        location = /chat-slow {
            chat on;
            chat_limit_send rate=%dr/m burst=%d;
        }

        location = /chat/health {""" % (HS_RATE, HS_BURST, SLOW_PER_MIN, SLOW_BURST)),
    ]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text, count=1)
        assert n == 1, "nginx.conf.example changed: adapt limits_conf (%s)" % pattern
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("limits"), workers=1,
                       conf=limits_conf, limits=True) as s:
        yield s


# ---------------------------------------------------------------- helpers

def bound_socket(port, source="127.0.0.1"):
    sock = socket.socket()
    sock.settimeout(5)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def connect(stack, user, device, path="/chat", source="127.0.0.1", hello=True):
    return RawWS.connect(stack.port, token=stack.token(user),
                         path="%s?device=%s" % (path, device), read_hello=hello,
                         sock=bound_socket(stack.port, source))


def pid_of(ws):
    """The nginx worker of a connection: its id is <start>-<pid>-<n>, hex."""
    return int(ws.hello["conn"].split("-")[1], 16)


def bye(ws):
    with contextlib.suppress(OSError, AssertionError):
        ws.send_close(1000)
        ws.expect_eof(3)
    ws.close()


def on_two_workers(stack, user, devices, path="/chat"):
    """Connections for devices, the first two on different workers."""
    first = connect(stack, user, devices[0], path)
    for _ in range(40):
        second = connect(stack, user, devices[1], path)
        if pid_of(second) != pid_of(first):
            break
        bye(second)
        time.sleep(0.05)
    else:
        pytest.fail("40 connections all went to worker %d" % pid_of(first))
    return [first, second] + [connect(stack, user, d, path) for d in devices[2:]]


def send(id, to, body=None):
    return {"type": "send", "id": id, "to": to, "body": body or id}


def burst(ws, frames):
    """All frames in one write: the server reads them in one go."""
    ws.send_raw(b"".join(text_frame(f) for f in frames))


def answers(ws, ids, timeout=10.0):
    """{id: answer} for every id; other frames are kept in ws.others."""
    got, deadline = {}, time.monotonic() + timeout * SLOW
    others = ws.__dict__.setdefault("others", [])
    while set(ids) - set(got):
        f = ws.recv_json(max(0.1, deadline - time.monotonic()))
        if f.get("type") in ANSWERS and f.get("id") in ids:
            got[f["id"]] = f
        else:
            others.append(f)
    return got


def frames_for(ws, seconds):
    """Every text frame that arrives within seconds (and ws.others)."""
    out = list(ws.__dict__.pop("others", []))
    deadline = time.monotonic() + seconds
    with contextlib.suppress(socket.timeout):
        while time.monotonic() < deadline:
            out.append(ws.recv_json(max(0.05, deadline - time.monotonic())))
    return out


def limited(got):
    return [f for f in got.values() if f.get("code") == "rate_limited"]


def msgs(frames, body_prefix):
    return [f for f in frames if f.get("type") == "msg"
            and f.get("body", "").startswith(body_prefix)]


# ---------------------------------------------------------------- sends

def test_sends_past_the_burst_are_limited_per_user_across_workers(stack):
    alice, bob = stack.names("alice", "bob")
    a1, a2 = on_two_workers(stack, alice, ["laptop", "phone"])
    b = connect(stack, bob, "phone")
    try:
        time.sleep(1.0 * SLOW)                       # their syncs are done
        before = stack.metrics()
        ids1 = ["l%d" % i for i in range(4)]
        ids2 = ["p%d" % i for i in range(4)]
        t0 = time.monotonic()
        burst(a1, [send(i, bob) for i in ids1])
        burst(a2, [send(i, bob) for i in ids2])
        got = {**answers(a1, ids1), **answers(a2, ids2)}
        waited = time.monotonic() - t0

        sent = [f for f in got.values() if f["type"] == "sent"]
        over = limited(got)
        assert len(sent) == BURST + 1, got
        assert len(over) == 8 - (BURST + 1), got
        for f in over:
            assert f["type"] == "error" and isinstance(f["message"], str), f
            # the bucket is full: the next one drains in 1/RATE s
            assert isinstance(f["retry_after"], float), f
            assert 1.0 / RATE - waited - 0.05 <= f["retry_after"] <= 1.0 / RATE, f

        # nothing was produced for them: bob gets exactly the accepted ones
        got_b = msgs(frames_for(b, 1.5), "")
        assert sorted(m["id"] for m in got_b) == sorted(f["id"] for f in sent)

        # and chat_status counted them, summed over both workers
        after = stack.metrics()
        for key in ('chat_rate_limited_total{limit="send"}',
                    'chat_errors_total{code="rate_limited"}'):
            assert after[key] - before[key] == len(over), key
        assert after['chat_messages_total{stage="produced"}'] - \
            before['chat_messages_total{stage="produced"}'] == len(sent)

        # once the wait is over, the next one is accepted
        time.sleep(max(0.0, max(f["retry_after"] for f in over) - (time.monotonic() - t0)))
        a2.send_json(send("late", bob))
        assert answers(a2, ["late"])["late"]["type"] == "sent"
    finally:
        for ws in (a1, a2, b):
            bye(ws)


def test_group_changes_count_as_sends(stack):
    (alice,) = stack.names("alice")
    a = connect(stack, alice, "laptop")
    try:
        ids = ["g%d" % i for i in range(BURST + 2)]
        burst(a, [{"type": "group_create", "id": i, "group": "t-%s-%s" % (alice, i),
                   "members": ["zed"]} for i in ids])
        got = answers(a, ids)
        assert len(limited(got)) == 1, got
        assert got[ids[-1]].get("code") == "rate_limited", got
    finally:
        bye(a)


def test_flooding_closes_the_connection_after_flood_times_burst(stack):
    alice, bob = stack.names("alice", "bob")
    a = connect(stack, alice, "laptop")
    b = connect(stack, bob, "phone")
    try:
        time.sleep(1.0 * SLOW)
        before = stack.metrics()
        n = (BURST + 1) + FLOOD * BURST + 1 + 2     # two more after the close
        burst(a, [send("f%d" % i, bob) for i in range(n)])
        errors, close = [], None
        with contextlib.suppress(Closed):
            while close is None:
                f = a.recv_frame()
                if f.opcode == OP_CLOSE:
                    close = f.close_code()
                elif f.json().get("type") == "error":
                    errors.append(f.json())
        assert close == (1008, "rate limit exceeded"), close
        assert [e["code"] for e in errors] == ["rate_limited"] * (FLOOD * BURST), errors
        assert [e["id"] for e in errors] == \
            ["f%d" % i for i in range(BURST + 1, BURST + 1 + FLOOD * BURST)]
        # the accepted ones still went out, and nothing else
        got = msgs(frames_for(b, 1.5), "f")
        assert sorted(m["id"] for m in got) == ["f%d" % i for i in range(BURST + 1)]
        after = stack.metrics()
        assert after['chat_policy_closed_total{reason="flood"}'] - \
            before['chat_policy_closed_total{reason="flood"}'] == 1
        assert after['chat_closes_total{code="1008"}'] - \
            before['chat_closes_total{code="1008"}'] == 1
    finally:
        bye(a)
        bye(b)


def test_a_client_that_backs_off_as_told_is_never_closed(stack):
    alice, bob = stack.names("alice", "bob")
    a = connect(stack, alice, "laptop")
    try:
        told = 0
        for i in range(BURST + 1 + 2 * FLOOD * BURST):
            while True:
                a.send_json(send("k%d" % i, bob))
                f = answers(a, ["k%d" % i])["k%d" % i]
                if f["type"] == "sent":
                    break
                assert f.get("code") == "rate_limited", f
                told += 1
                time.sleep(f["retry_after"])
        # more rejections than flood x burst in all, spread out: never closed
        assert told >= FLOOD * BURST, told
        a.assert_alive()
    finally:
        bye(a)


# ---------------------------------------------------------------- typing

def test_typing_is_limited_per_user_across_workers(stack):
    alice, bob = stack.names("alice", "bob")
    a1, a2 = on_two_workers(stack, alice, ["laptop", "phone"])
    b = connect(stack, bob, "phone")
    try:
        time.sleep(1.0 * SLOW)
        typing = {"type": "typing", "to": bob, "state": "start"}
        burst(a1, [typing] * 5)
        burst(a2, [typing] * 5)
        a1.assert_alive()
        a2.assert_alive()
        got = [f for f in frames_for(b, 1.0) if f.get("type") == "typing"]
        assert len(got) == TYPING_BURST + 1, got
        # dropped silently: no error to the sender
        for ws in (a1, a2):
            assert [f for f in frames_for(ws, 0.2) if f.get("type") == "error"] == []
    finally:
        for ws in (a1, a2, b):
            bye(ws)


# ---------------------------------------------------------------- handshakes

def handshake(stack, user, source="127.0.0.1"):
    request, _ = upgrade_request("/chat-hs?device=d", token=stack.token(user),
                                 port=stack.port)
    sock = bound_socket(stack.port, source)
    try:
        sock.sendall(request)
        return read_response(sock)
    finally:
        sock.close()


def test_handshakes_past_the_limit_get_429_per_address(stack):
    users = stack.names(*("hs%d-" % i for i in range(20)))
    statuses, retry = [], []
    for u in users[:16]:
        r = handshake(stack, u)
        statuses.append(r.status)
        if r.status == 429:
            retry.append(r.header("Retry-After"))
            assert r.header("Upgrade") is None, r
    assert statuses.count(101) == HS_BURST + 1, statuses
    assert statuses.count(429) == 16 - (HS_BURST + 1), statuses
    assert set(retry) == {"%d" % (1 // HS_RATE)}, retry

    # another address is not limited by this one's handshakes
    assert handshake(stack, users[16], "127.0.0.2").status == 101
    # and this one gets in again after Retry-After
    time.sleep(int(retry[0]))
    assert handshake(stack, users[17]).status == 101

    # both workers answered them: the count is shared
    time.sleep(0.5)
    log = (stack.logs / "access.log").read_text()
    pids = set(re.findall(r'"GET /chat-hs" \d+ .* pid=(\d+)', log))
    assert len(pids) == 2, "handshakes were all answered by one worker: %s" % pids


# ---------------------------------------------------------------- devices

def test_device_cap_closes_the_newest_across_workers(stack):
    (carol,) = stack.names("carol")
    d1, d2 = on_two_workers(stack, carol, ["one", "two"])
    try:
        d3 = connect(stack, carol, "three", hello=False)
        f = d3.recv_frame()
        assert f.opcode == OP_CLOSE, "expected a close before any frame: %r" % f
        assert f.close_code() == (1008, "too many devices")
        bye(d3)
        d1.assert_alive()
        d2.assert_alive()

        # the count goes with a connection: a new device gets in
        bye(d1)
        time.sleep(0.2)
        d4 = connect(stack, carol, "four")
        d4.assert_alive()
        d5 = connect(stack, carol, "five", hello=False)
        assert d5.recv_frame().close_code() == (1008, "too many devices")
        bye(d5)
        bye(d4)
    finally:
        bye(d1)
        bye(d2)


# ---------------------------------------------------------------- reload

def test_counts_survive_a_reload(stack):
    alice, bob = stack.names("alice", "bob")
    old = set(pids_with_parent(stack.pid("nginx")))
    a = connect(stack, alice, "laptop", "/chat-slow")
    ids = ["r%d" % i for i in range(SLOW_BURST + 2)]
    burst(a, [send(i, bob) for i in ids])
    got = answers(a, ids)
    assert len(limited(got)) == 1, got
    t0 = time.monotonic()
    bye(a)

    stack.kill("nginx", signal.SIGHUP)
    deadline = time.monotonic() + 15 * SLOW
    while True:                          # a connection to a new worker
        a = connect(stack, alice, "laptop", "/chat-slow")
        if pid_of(a) not in old:
            break
        bye(a)
        assert time.monotonic() < deadline, "no new worker after the reload"
        time.sleep(0.2)
    try:
        a.send_json(send("after", bob))
        f = answers(a, ["after"])["after"]
        assert f.get("code") == "rate_limited", \
            "the reload forgot the count: %s" % f
        window = 60.0 / SLOW_PER_MIN
        assert window - (time.monotonic() - t0) - 0.5 <= f["retry_after"] <= window, f
    finally:
        bye(a)


# ---------------------------------------------------------------- defaults

def test_defaults_apply_without_any_limit_directive(nginx_factory):
    server = nginx_factory()
    assert "chat_limit" not in server.conf.read_text()
    port = server.port

    # 20r/s burst=40: 41 of 50 at once, the rest rate_limited
    with RawWS.connect(port, path="/chat?device=a") as ws:
        ids = ["d%d" % i for i in range(50)]
        ws.send_raw(b"".join(text_frame(send(i, "bob")) for i in ids))
        over = []
        with contextlib.suppress(socket.timeout):
            deadline = time.monotonic() + 1.0 * SLOW
            while time.monotonic() < deadline:
                f = ws.recv_json(max(0.05, deadline - time.monotonic()))
                if f.get("code") == "rate_limited":
                    over.append(f["id"])
        assert over == ids[41:], over

    # chat_max_devices 8
    held = [RawWS.connect(port, token("dana"), "/chat?device=p%d" % i)
            for i in range(8)]
    try:
        ninth = RawWS.connect(port, token("dana"), "/chat?device=p8",
                              read_hello=False)
        assert ninth.recv_frame().close_code() == (1008, "too many devices")
        ninth.close()
    finally:
        for ws in held:
            ws.close()


@pytest.mark.parametrize("location, error", [
    ("chat_limit_send rate=fast;", 'invalid parameter "rate=fast"'),
    ("chat_limit_send burst=4;", "needs rate="),
    ("chat_limit_typing rate=2r/s flood=3;", 'invalid parameter "flood=3"'),
    ("chat_limit_send rate=2r/s zone=nowhere;", 'zero size shared memory zone "nowhere"'),
    ("chat_max_devices -1;", 'invalid number "-1"'),
    ("chat_typing_rate 2r/s;", 'unknown directive "chat_typing_rate"'),
])
def test_bad_limit_directives_are_refused(tmp_path, location, error):
    rc, err = Nginx(tmp_path, location=location).test_config()
    assert rc != 0 and error in err, err


def test_limit_zone_directive(tmp_path):
    rc, err = Nginx(tmp_path, http="chat_limit_zone zone=z:16k;",
                    location="chat_limit_send rate=1r/s zone=z;").test_config()
    assert rc != 0 and 'zone "zone=z:16k" is too small' in err, err
    rc, err = Nginx(tmp_path, http="chat_limit_zone zone=z:1m;",
                    location="chat_limit_send rate=1r/s zone=z;").test_config()
    assert rc == 0, err
