"""Presence end to end (docs/PROTOCOL.md 3 presence_sub/presence_unsub, 4
presence): the current state at once, then every change, to subscribers
only; "offline" only after the grace period, with last_seen; across nginx
workers; and a crashed nginx worker's users taken offline by another.

nginx runs with chat_presence_ttl 3s (a worker beats every 1 s and is taken
for dead after 3 s without a beat), chat_presence_grace 1500ms and two
nginx workers. Each test has users of its own (stack.names).
"""

import asyncio
import os
import re
import signal
import time

import pytest

from harness import pids_with_parent, rkey
from stack import SLOW, running_stack

TTL = 3.0
GRACE = 1.5
BEAT = TTL / 3
EARLY = 0.3               # nothing may arrive within GRACE - EARLY of a close
LATE = 2.0                # an offline arrives at most this long after its due
LAST_SEEN_MS = 1000       # last_seen is this close to the test's clock


def presence_conf(text):
    text, n1 = re.subn(r"chat_presence_ttl \S+;", "chat_presence_ttl %ds;" % TTL, text)
    text, n2 = re.subn(r"chat_presence_grace \S+;",
                       "chat_presence_grace %dms;" % (GRACE * 1000), text)
    text, n3 = re.subn(r"worker_processes \S+;", "worker_processes 2;", text)
    assert (n1, n2, n3) == (1, 1, 1), "nginx.conf.example changed: adapt presence_conf"
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("presence"), workers=1,
                       conf=presence_conf) as s:
        yield s


# ---------------------------------------------------------------- helpers

def online(user):
    return {"type": "presence", "user": user, "status": "online"}


def offline(user, last_seen=None):
    f = {"type": "presence", "user": user, "status": "offline"}
    if last_seen is not None:
        f["last_seen"] = last_seen
    return f


def now_ms():
    return int(time.time() * 1000)


async def connect(stack, user, device="phone"):
    """A client that also keeps (monotonic arrival time, frame) of every
    presence frame in .arrivals."""
    arrivals = []

    def on_frame(client, frame):
        if frame.get("type") == "presence":
            arrivals.append((time.monotonic(), frame))
    c = await stack.connect(user, device, on_frame)
    c.arrivals = arrivals
    return c


def seen(c, user=None):
    """The presence frames c got (about user), in order."""
    return [f for _, f in c.arrivals if user in (None, f.get("user"))]


def arrived(c, user, status, after=0.0):
    """(time, frame) of the first presence frame of user with status that
    arrived after monotonic time `after`, or None."""
    for t, f in c.arrivals:
        if t >= after and f.get("user") == user and f.get("status") == status:
            return t, f
    return None


async def wait_presence(c, user, status, after=0.0, timeout=5.0):
    return await c.wait_until(lambda: arrived(c, user, status, after), timeout,
                              "presence %s %s" % (user, status))


async def subscribe(c, *users, expect):
    """presence_sub; waits for the current state of every user; returns
    {user: frame}. expect: the frames, as online()/offline() build them
    (offline ones are compared without last_seen when it is None)."""
    start = len(c.arrivals)
    await c.send({"type": "presence_sub", "users": list(users)})
    await c.wait_until(lambda: {f["user"] for _, f in c.arrivals[start:]} >= set(users),
                       3.0, "the state of %s" % (users,))
    got = {f["user"]: f for _, f in c.arrivals[start:]}
    for want in expect:
        assert got[want["user"]] == want, got
    return got


async def alive(c, id="alive"):
    start = len(c.frames)
    await c.send({"type": "ping", "id": id})
    await c.wait_until(lambda: any(f.get("type") == "pong" and f.get("id") == id
                                   for f in c.frames[start:]), 3.0, "pong " + id)


async def closed_at(c):
    """Closes c; returns (monotonic, epoch ms) taken just before."""
    t, ms = time.monotonic(), now_ms()
    await c.close()
    return t, ms


def pid_of(c):
    """The nginx worker of a connection: its conn id is
    <hex start>-<hex pid>-<hex counter>."""
    return int(c.hello["conn"].split("-")[1], 16)


async def connect_on(stack, user, device, want, tries=60):
    """A connection of user/device whose nginx worker pid satisfies want;
    connections that landed elsewhere are closed again."""
    for _ in range(tries):
        c = await connect(stack, user, device)
        if want(pid_of(c)):
            return c
        await c.close()
    pytest.fail("no connection of %s landed on the wanted nginx worker in %d tries"
                % (user, tries))


def assert_offline_after_close(c, user, closed, closed_ms, what=""):
    """The one offline of user after the close: not before the grace, not
    much after it, last_seen when the last device went."""
    t, f = arrived(c, user, "offline", closed)
    assert f == offline(user, f.get("last_seen")), f
    assert isinstance(f.get("last_seen"), int), "offline without last_seen: %s" % f
    assert abs(f["last_seen"] - closed_ms) <= LAST_SEEN_MS, \
        "%slast_seen %d, last device closed at %d" % (what, f["last_seen"], closed_ms)
    assert GRACE - 0.05 <= t - closed <= GRACE + LATE * SLOW, \
        "%soffline %.2fs after the close (grace %.1fs)" % (what, t - closed, GRACE)


# ---------------------------------------------------------------- tests

def test_subscribe_tells_current_state_at_once(stack):
    alice, bob, carol = stack.names("alice", "bob", "carol")

    async def main():
        c = await connect(stack, carol)
        await asyncio.sleep(0.3)            # carol's "up" reached Redis
        a = await connect(stack, alice)
        t0 = time.monotonic()
        await a.send({"type": "presence_sub", "users": [bob, carol]})
        await a.wait_until(lambda: len(a.arrivals) >= 2, 1.0 * SLOW,
                           "both states within 1 s")
        took = max(t for t, _ in a.arrivals) - t0
        await asyncio.sleep(0.5)            # nothing more comes
        frames = seen(a)
        await a.close()
        await c.close()
        return took, frames
    took, frames = asyncio.run(main())

    assert sorted(frames, key=lambda f: f["user"]) == [offline(bob), online(carol)], \
        "bob was never seen (offline, no last_seen), carol is online: %s" % frames
    assert took < 1.0 * SLOW, took


def test_online_then_offline_after_grace_with_last_seen(stack):
    alice, bob = stack.names("alice", "bob")

    async def main():
        a = await connect(stack, alice)
        await subscribe(a, bob, expect=[offline(bob)])
        b = await connect(stack, bob)
        await wait_presence(a, bob, "online")
        closed, closed_ms = await closed_at(b)
        await asyncio.sleep(GRACE - EARLY)
        early = [f for t, f in a.arrivals if t >= closed]
        await wait_presence(a, bob, "offline", closed, GRACE + LATE + 1)
        await asyncio.sleep(0.5)
        await a.close()
        return a, early, closed, closed_ms
    a, early, closed, closed_ms = asyncio.run(main())

    assert early == [], "presence within the grace period after the close: %s" % early
    assert seen(a, bob)[:2] == [offline(bob), online(bob)]
    assert len(seen(a, bob)) == 3, seen(a, bob)
    assert_offline_after_close(a, bob, closed, closed_ms)


def test_flapping_connection_does_not_flap_the_status(stack):
    alice, bob = stack.names("alice", "bob")

    async def main():
        a = await connect(stack, alice)
        await subscribe(a, bob, expect=[offline(bob)])
        b = await connect(stack, bob)
        await wait_presence(a, bob, "online")
        flaps = time.monotonic()
        for _ in range(5):                  # gaps well under the grace
            await b.close()
            await asyncio.sleep(0.3)
            b = await connect(stack, bob)
            await asyncio.sleep(0.2)
        spent = time.monotonic() - flaps
        await asyncio.sleep(GRACE + 0.5)     # every earlier grace timer fired
        during = [f for t, f in a.arrivals if t >= flaps]
        closed, closed_ms = await closed_at(b)
        await wait_presence(a, bob, "offline", closed, GRACE + LATE + 1)
        await asyncio.sleep(1.0)             # a second offline would show
        await a.close()
        return a, during, spent, closed, closed_ms
    a, during, spent, closed, closed_ms = asyncio.run(main())

    assert spent > GRACE, "the flapping should outlast a grace period (%.1fs)" % spent
    assert during == [], "status flapped while bob kept reconnecting: %s" % during
    assert [f["status"] for f in seen(a, bob)] == ["offline", "online", "offline"], \
        seen(a, bob)
    assert_offline_after_close(a, bob, closed, closed_ms)


def test_quick_reconnect_on_one_worker_restarts_the_whole_grace(stack):
    alice, bob = stack.names("alice", "bob")

    async def main():
        a = await connect(stack, alice)
        await subscribe(a, bob, expect=[offline(bob)])
        b = await connect(stack, bob)
        worker = pid_of(b)
        await wait_presence(a, bob, "online")
        await b.close()
        await asyncio.sleep(0.1)
        b = await connect_on(stack, bob, "phone", lambda pid: pid == worker)
        closed, closed_ms = await closed_at(b)   # ~0.15 s after the first close
        await wait_presence(a, bob, "offline", closed, GRACE + LATE + 1)
        await asyncio.sleep(0.3)
        await a.close()
        return a, closed, closed_ms
    a, closed, closed_ms = asyncio.run(main())

    assert [f["status"] for f in seen(a, bob)] == ["offline", "online", "offline"], \
        seen(a, bob)
    assert_offline_after_close(a, bob, closed, closed_ms)


def test_offline_only_when_the_last_device_goes(stack):
    alice, bob = stack.names("alice", "bob")

    async def main():
        a = await connect(stack, alice)
        await subscribe(a, bob, expect=[offline(bob)])
        phone = await connect(stack, bob, "phone")
        await wait_presence(a, bob, "online")
        laptop = await connect(stack, bob, "laptop")
        first = await closed_at(phone)
        await asyncio.sleep(GRACE + 1.0)
        after_one = [f for t, f in a.arrivals if t >= first[0]]
        closed, closed_ms = await closed_at(laptop)
        await wait_presence(a, bob, "offline", closed, GRACE + LATE + 1)
        await asyncio.sleep(0.5)
        await a.close()
        return a, after_one, closed, closed_ms
    a, after_one, closed, closed_ms = asyncio.run(main())

    assert after_one == [], "closing one of two devices changed presence: %s" % after_one
    assert [f["status"] for f in seen(a, bob)] == ["offline", "online", "offline"], \
        seen(a, bob)
    assert_offline_after_close(a, bob, closed, closed_ms)


def test_only_subscribers_get_presence_and_unsub_stops_it(stack):
    alice, bob, carol, dave, erin = stack.names("alice", "bob", "carol", "dave", "erin")

    async def main():
        d = await connect(stack, dave)            # subscribes to nothing
        a = await connect(stack, alice)
        c = await connect(stack, carol)           # keeps watching bob
        e = await connect(stack, erin)
        await asyncio.sleep(0.3)                  # erin's "up" reached Redis
        await subscribe(a, bob, erin, expect=[offline(bob), online(erin)])
        await subscribe(c, bob, expect=[offline(bob)])
        b = await connect(stack, bob)
        for _ in range(2):
            await b.close()
            await asyncio.sleep(0.2)
            b = await connect(stack, bob)
        await wait_presence(a, bob, "online")
        closed = (await closed_at(b))[0]
        await wait_presence(a, bob, "offline", closed, GRACE + LATE + 1)

        # alice stops watching bob (not erin); carol still watches him
        await a.send({"type": "presence_unsub", "users": [bob]})
        await alive(a, "after-unsub")
        unsub = time.monotonic()
        b = await connect(stack, bob)
        await wait_presence(c, bob, "online", unsub)
        closed = (await closed_at(b))[0]
        await wait_presence(c, bob, "offline", closed, GRACE + LATE + 1)
        erin_gone = (await closed_at(e))[0]
        await wait_presence(a, erin, "offline", erin_gone, GRACE + LATE + 1)
        await asyncio.sleep(0.3)
        for x in (a, c, d):
            await x.close()
        return a, d, unsub
    a, d, unsub = asyncio.run(main())

    assert seen(d) == [], "dave subscribed to nothing but got %s" % seen(d)
    assert [f["status"] for f in seen(a, bob)] == ["offline", "online", "offline"], \
        seen(a, bob)
    late = [f for t, f in a.arrivals if t >= unsub and f["user"] == bob]
    assert late == [], "alice got presence of bob after presence_unsub: %s" % late
    assert [f["status"] for f in seen(a, erin)] == ["online", "offline"], \
        "presence_unsub of bob must not stop erin's: %s" % seen(a, erin)


def test_presence_crosses_nginx_workers(stack):
    alice, bob = stack.names("alice", "bob")

    async def main():
        a = await connect(stack, alice)
        await subscribe(a, bob, expect=[offline(bob)])
        b = await connect_on(stack, bob, "phone", lambda pid: pid != pid_of(a))
        pids = (pid_of(a), pid_of(b))
        t, f = await wait_presence(a, bob, "online")
        closed, closed_ms = await closed_at(b)
        await wait_presence(a, bob, "offline", closed, GRACE + LATE + 1)
        await asyncio.sleep(0.5)
        await a.close()
        return a, pids, closed, closed_ms
    a, pids, closed, closed_ms = asyncio.run(main())

    workers = pids_with_parent(stack.pid("nginx"))
    assert pids[0] != pids[1] and set(pids) <= set(workers), (pids, workers)
    assert seen(a, bob)[:2] == [offline(bob), online(bob)]
    assert len(seen(a, bob)) == 3, seen(a, bob)
    assert_offline_after_close(a, bob, closed, closed_ms)


def test_too_many_watched_users_is_too_large_and_connection_stays(stack):
    (alice,) = stack.names("alice")
    many = ["u%d-%s" % (i, alice) for i in range(1001)]

    async def main():
        a = await connect(stack, alice)
        await a.send({"type": "presence_sub", "users": many[:500]})
        await a.send({"type": "presence_sub", "users": many[500:1000]})
        await a.wait_until(lambda: len(a.arrivals) >= 1000, 10,
                           "the state of 1000 users")
        error = await a.request({"type": "presence_sub", "id": "sub-1001",
                                 "users": many[1000:]})
        await alive(a, "after-too-large")
        # still usable: after an unsub there is room again
        await a.send({"type": "presence_unsub", "users": many[:10]})
        before = len(a.arrivals)
        await a.send({"type": "presence_sub", "id": "sub-again", "users": many[1000:]})
        await a.wait_until(lambda: len(a.arrivals) > before, 3, "the 1001st state")
        await asyncio.sleep(0.3)
        errors = [f for f in a.frames if f.get("type") == "error"]
        await a.close()
        return a, error, errors, before
    a, error, errors, before = asyncio.run(main())

    assert sorted(f["user"] for f in seen(a)[:1000]) == sorted(many[:1000])
    assert all(f == offline(f["user"]) for f in seen(a)[:1000])
    assert error == {"type": "error", "id": "sub-1001", "code": "too_large",
                     "message": error.get("message")}, error
    assert isinstance(error.get("message"), str)
    assert errors == [error], errors
    assert seen(a)[before:] == [offline(many[1000])], seen(a)[before:]


@pytest.mark.parametrize("frame", [
    {"users": "bob"},                           # not an array
    {"users": {"bob": 1}},
    {},                                         # missing
    {"users": []},                              # empty
    {"users": ["bob", 7]},                      # not a string
    {"users": ["bob", "bad user"]},             # a bad id (space)
    {"users": ["bob", ""]},
    {"users": ["bob", "x" * 65]},               # too long
    {"users": ["u%d" % i for i in range(501)]},  # over 500 in one frame
], ids=["string", "object", "missing", "empty", "number", "space", "empty-id",
        "65-bytes", "501-users"])
@pytest.mark.parametrize("type", ["presence_sub", "presence_unsub"])
def test_bad_presence_frame_is_bad_request_and_connection_stays(stack, frame, type):
    (alice,) = stack.names("alice")
    frame = dict(frame, type=type, id="bad-1")
    if "users" in frame and isinstance(frame["users"], list):   # a real user too
        frame["users"] = [u.replace("bob", "bob-" + alice) if isinstance(u, str) else u
                          for u in frame["users"]]

    async def main():
        a = await connect(stack, alice)
        error = await a.request(frame)
        await alive(a)
        await asyncio.sleep(0.3)            # a state for bob would show
        await a.close()
        return a, error
    a, error = asyncio.run(main())

    assert error == {"type": "error", "id": "bad-1", "code": "bad_request",
                     "message": error.get("message")}, error
    assert isinstance(error["message"], str) and error["message"]
    assert seen(a) == [], "a refused frame subscribed anyway: %s" % seen(a)


# ------------------------------------------------ what Redis holds

def nginx_log(stack):
    return "".join(p.read_text(errors="replace") for p in sorted(stack.logs.rglob("*"))
                   if p.is_file() and not p.name.startswith("access"))


@pytest.mark.parametrize("ls", ["9" * 100000, "x" * 300, '1,"status":"online"', "12abc",
                                "-5", "99999999999999999999", ""],
                         ids=["100k-digits", "300-letters", "json-injection", "trailing",
                              "negative", "past-int64", "empty"])
def test_a_last_seen_in_redis_that_is_not_ms_is_left_out(stack, ls):
    """The state read for presence_sub prints last seen from the number it
    parses as: a long one overflowed a 192-byte frame on the stack; one that
    is not a time is left out, with a log line, and the worker goes on."""
    alice, bob = stack.names("alice", "bob")
    stack.redis_cli("HSET", rkey("chat:p:", bob), "st", "offline", "ls", ls, "v", "3")
    workers = pids_with_parent(stack.pid("nginx"))

    async def main():
        a = await connect(stack, alice)
        await subscribe(a, bob, expect=[offline(bob)])
        await alive(a)
        await a.close()
    asyncio.run(main())

    assert pids_with_parent(stack.pid("nginx")) == workers, "an nginx worker died"
    assert ('presence of "%s": last seen in Redis is not a time (%d bytes), left out'
            % (bob, len(ls))) in nginx_log(stack)


def test_a_last_seen_in_redis_is_told_as_the_number_it_is(stack):
    alice, bob = stack.names("alice", "bob")
    stack.redis_cli("HSET", rkey("chat:p:", bob), "st", "offline", "ls", "01795318602103",
                    "v", "3")

    async def main():
        a = await connect(stack, alice)
        await subscribe(a, bob, expect=[offline(bob, 1795318602103)])
        await a.close()
    asyncio.run(main())


# ------------------------------------------------ a crashed nginx worker

@pytest.fixture
def crash_stack(tmp_path):
    """A stack of its own: the killed nginx worker makes the master log an
    [alert] ("worker process N exited on signal 9"), which is expected here
    and only here."""
    with running_stack(tmp_path / "stack", workers=1, conf=presence_conf) as s:
        yield s


def test_crashed_nginx_worker_users_go_offline_by_another_worker(crash_stack):
    stack = crash_stack
    alice, bob, carol, erin, frank = stack.names("alice", "bob", "carol", "erin", "frank")

    async def main():
        a = await connect(stack, alice)                       # on W2
        w2 = pid_of(a)
        b = await connect_on(stack, bob, "phone", lambda p: p != w2)   # on W1
        w1 = pid_of(b)
        c = await connect_on(stack, carol, "phone", lambda p: p == w2)
        e1 = await connect_on(stack, erin, "one", lambda p: p == w1)
        e2 = await connect_on(stack, erin, "two", lambda p: p == w2)
        f1 = await connect_on(stack, frank, "phone", lambda p: p == w1)
        await asyncio.sleep(0.3)
        await subscribe(a, bob, carol, erin, frank,
                        expect=[online(bob), online(carol), online(erin), online(frank)])
        assert {w1, w2} == set(pids_with_parent(stack.pid("nginx"))), (w1, w2)

        # frank leaves W1 just before it dies: his grace timer dies with it
        frank_closed_ms = (await closed_at(f1))[1]
        await asyncio.sleep(0.3)
        stack.killed_nginx_workers.append(w1)
        killed, killed_ms = time.monotonic(), now_ms()
        os.kill(w1, signal.SIGKILL)
        bound = TTL + BEAT + GRACE + 2.0
        t, f = await wait_presence(a, bob, "offline", killed, bound * SLOW + 1)
        tf, ff = await wait_presence(a, frank, "offline", 0, bound * SLOW + 1)
        await asyncio.sleep(GRACE + BEAT + 0.5)   # carol's or erin's would show
        await alive(a, "after-crash")
        await alive(e2, "erin-two")
        await alive(c, "carol")
        respawned = pids_with_parent(stack.pid("nginx"))
        gone = [x.closed for x in (b, e1)]
        for x in (a, b, c, e1, e2):
            await x.close()
        return (a, w1, w2, killed, killed_ms, t - killed, f, respawned, gone,
                tf - killed, ff, frank_closed_ms)
    (a, w1, w2, killed, killed_ms, took, f, respawned, gone,
     frank_took, ff, frank_closed_ms) = asyncio.run(main())

    assert gone == [True, True], "connections on the killed worker stayed open"
    assert w1 not in respawned and w2 in respawned and len(respawned) == 2, \
        (w1, w2, respawned)
    assert f == offline(bob, f.get("last_seen")) and isinstance(f.get("last_seen"), int), f
    assert took >= 1.0, "bob offline %.2fs after the kill: before a TTL passed" % took
    assert took <= (TTL + BEAT + GRACE + 2.0) * SLOW, \
        "bob offline only %.2fs after the kill" % took
    # last seen: the dead worker's last beat, at most a beat before the kill
    assert killed_ms - BEAT * 1000 - LAST_SEEN_MS <= f["last_seen"] <= killed_ms + \
        LAST_SEEN_MS, (f["last_seen"], killed_ms)
    assert [x["status"] for x in seen(a, bob)] == ["online", "offline"], seen(a, bob)
    # frank: offline once W1 is claimed (not by his grace timer, which died),
    # last seen when he left
    assert [x["status"] for x in seen(a, frank)] == ["online", "offline"], seen(a, frank)
    assert ff == offline(frank, ff.get("last_seen")), ff
    assert abs(ff.get("last_seen", 0) - frank_closed_ms) <= LAST_SEEN_MS, \
        (ff, frank_closed_ms)
    assert 1.0 <= frank_took <= (TTL + BEAT + GRACE + 2.0) * SLOW, frank_took
    assert seen(a, carol) == [online(carol)], \
        "carol, on the surviving worker, was announced: %s" % seen(a, carol)
    assert seen(a, erin) == [online(erin)], \
        "erin still has a device on the surviving worker: %s" % seen(a, erin)
