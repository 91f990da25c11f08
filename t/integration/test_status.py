"""The chat_status location: Prometheus text, summed over nginx workers,
counters that only grow (across a reload and a crashed worker), gauges that
count only live workers."""

import asyncio
import os
import re
import signal
import subprocess
import time
import urllib.error

import pytest
import websockets

from harness import REPO, pids_with_parent
from stack import fetch_status, running_stack, worker_binary, SLOW
from wsclient import ws_uri

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    def two_workers(text):
        # a user's devices are opened until both workers hold some: more
        # than the default cap of 8 may take
        for pattern, repl in ((r"(?m)^worker_processes .*;$", "worker_processes 2;"),
                              (r"chat_max_devices \d+;", "chat_max_devices 64;")):
            text, n = re.subn(pattern, repl, text)
            assert n == 1, "nginx.conf.example changed: adapt two_workers"
        return text
    with running_stack(tmp_path_factory.mktemp("status"), workers=1,
                       conf=two_workers) as s:
        yield s


def delta(before, after, key):
    return after.get(key, 0) - before.get(key, 0)


async def wait_metric(stack, key, predicate, what, timeout=10.0 * SLOW):
    deadline = time.monotonic() + timeout
    while True:
        m = stack.metrics()
        if predicate(m.get(key, 0)):
            return m
        assert time.monotonic() < deadline, "%s: %s = %s" % (what, key, m.get(key))
        await asyncio.sleep(0.1)


def worker_pid(client):
    """The nginx worker that holds a connection: its id is
    <start>-<pid>-<number>, in hex."""
    return int(client.hello["conn"].split("-")[1], 16)


def test_every_family_is_typed_and_only_get_is_allowed(stack):
    m = stack.metrics()
    for key in ("chat_connections", 'chat_handshakes_total{status="101"}',
                'chat_errors_total{code="rate_limited"}',
                'chat_closes_total{code="1008"}', 'chat_shed_total{level="typing"}',
                'chat_kafka_delivery_seconds_bucket{le="+Inf"}',
                "chat_kafka_delivery_seconds_count", "chat_redis_reconnects_total",
                "chat_kafka_queue", "chat_shed_level"):
        assert key in m, key
    with pytest.raises(urllib.error.HTTPError) as e:
        fetch_status(stack.port, "POST")
    assert e.value.code == 405


def project_version():
    """The one definition of the version, common/chat_version.h."""
    text = (REPO / "common" / "chat_version.h").read_text()
    found = re.findall(r'#define CHAT_VERSION\s+"([^"]+)"', text)
    assert len(found) == 1, "common/chat_version.h: one CHAT_VERSION"
    return found[0]


def test_the_version_is_in_build_info_the_error_log_and_the_worker(stack):
    version = project_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    m = stack.metrics()
    assert m.get('chat_build_info{version="%s"}' % version) == 1, \
        sorted(k for k in m if k.startswith("chat_build_info"))
    assert len([k for k in m if k.startswith("chat_build_info")]) == 1
    log = (stack.logs / "error.log").read_text(errors="replace")
    assert re.search(r"\[notice\] \d+#\d+: ngx_chat %s$" % re.escape(version),
                     log, re.M), "no start-up notice with the version"
    out = subprocess.run([str(worker_binary()), "--version"], capture_output=True,
                         text=True, timeout=10)
    assert (out.returncode, out.stdout, out.stderr) == \
        (0, "chat-worker %s\n" % version, "")


def test_connections_and_messages_are_summed_over_workers(stack):
    async def go():
        before = stack.metrics()
        users = stack.names("st-a", "st-b")
        clients = []
        # keep connecting until both nginx workers hold some (the kernel
        # spreads accepts; a few tries are enough)
        for i in range(40):
            clients.append(await stack.connect(users[i % 2], "d%d" % i))
            if i >= 3 and len({worker_pid(c) for c in clients}) == 2:
                break
        assert len({worker_pid(c) for c in clients}) == 2, "one worker took all"
        await stack.settle()
        m = stack.metrics()
        assert m["chat_connections"] - before["chat_connections"] == len(clients)
        assert delta(before, m, 'chat_handshakes_total{status="101"}') == len(clients)

        sender = clients[0]
        for i in range(5):
            answer = await sender.request({"type": "send", "id": "s%d" % i,
                                           "to": users[1], "body": "hi %d" % i})
            assert answer["type"] == "sent", answer
        await sender.request({"type": "send", "id": "bad"})   # no "to"
        m = stack.metrics()
        assert delta(before, m, 'chat_messages_total{stage="produced"}') == 5
        assert delta(before, m, 'chat_messages_total{stage="sent"}') == 5
        assert delta(before, m, 'chat_errors_total{code="bad_request"}') == 1
        assert delta(before, m, 'chat_kafka_writes_total{result="delivered"}') >= 5
        assert delta(before, m, "chat_kafka_delivery_seconds_count") >= 5
        assert delta(before, m, 'chat_frames_total{direction="in"}') == 6

        # every device of both users gets each message: 5 per device
        await wait_metric(stack, 'chat_messages_total{stage="delivered"}',
                          lambda v: v - before.get('chat_messages_total{stage="delivered"}', 0)
                          >= 5 * len(clients), "deliveries")

        for c in clients:
            await c.close()
        await wait_metric(stack, "chat_connections",
                          lambda v: v == before["chat_connections"], "closed")
    asyncio.run(go())


def test_refusals_and_close_codes_are_counted(stack):
    async def go():
        before = stack.metrics()
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await websockets.connect(ws_uri(stack.port), open_timeout=5)
        assert e.value.status_code == 401
        c = await stack.connect(stack.names("st-c")[0])
        await c.ws.send(b"\x00binary")          # binary frames: 1003
        await c.wait_closed()
        m = await wait_metric(stack, 'chat_closes_total{code="1003"}',
                              lambda v: v - before.get('chat_closes_total{code="1003"}', 0) == 1,
                              "the 1003 close")
        assert delta(before, m, 'chat_handshakes_total{status="401"}') == 1
    asyncio.run(go())


def test_counters_survive_a_crashed_worker_and_a_reload(stack):
    async def go():
        user = stack.names("st-d")[0]
        clients = []
        for i in range(40):
            clients.append(await stack.connect(user, "d%d" % i))
            if i >= 3 and len({worker_pid(c) for c in clients}) == 2:
                break
        workers = {worker_pid(c) for c in clients}
        assert len(workers) == 2
        before = stack.metrics()
        victim = worker_pid(clients[0])
        survivors = [c for c in clients if worker_pid(c) != victim]

        stack.killed_nginx_workers.append(victim)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while victim in pids_with_parent(stack.pid("nginx")) \
                or len(pids_with_parent(stack.pid("nginx"))) < 2:
            assert time.monotonic() < deadline, "nginx did not respawn its worker"
            await asyncio.sleep(0.05)

        # the dead worker's connections no longer count; what it counted does
        m = await wait_metric(stack, "chat_connections",
                              lambda v: v == len(survivors), "after the crash")
        for key, value in before.items():
            if "_total" in key or key.endswith(("_count", "_sum")) or "_bucket" in key:
                assert m.get(key, 0) >= value, "%s went down: %s -> %s" % (
                    key, value, m.get(key))
        assert m['chat_handshakes_total{status="101"}'] == \
            before['chat_handshakes_total{status="101"}']

        stack.kill("nginx", signal.SIGHUP)
        for c in survivors:
            await c.wait_closed()
        after = await wait_metric(stack, "chat_connections", lambda v: v == 0,
                                  "after the reload")
        for key, value in m.items():
            if "_total" in key:
                assert after.get(key, 0) >= value, key
        assert delta(m, after, 'chat_closes_total{code="1001"}') == len(survivors)
        for c in clients:
            await c.close()
    asyncio.run(go())
