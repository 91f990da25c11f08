"""The whole ngx_chat stack for end-to-end and fault-injection tests.

running_stack(directory, workers=N, env=None, conf=None, apis=M, store=S)
starts Redis, Kafka (the dev broker, or with CHAT_KAFKA=real in the
environment or in env a real cluster of CHAT_KAFKA_NODES nodes, 1 by
default), N chat-workers, M chat-apis (default 1) and nginx with the module
through scripts/dev-up, in a fresh state directory on free ports, and
yields a Stack. store: "sqlite" or "postgres" (a cluster of the stack's own
on a port of its own), by default CHAT_STORE from the environment, else
sqlite (the integration-real step of scripts/test sets CHAT_STORE=postgres).
env: more variables for the scripts (e.g. CHAT_WORKER_ARGS). conf=f
(a function str -> str) runs nginx with f(nginx.conf.example): the result
is written to the state dir and passed to dev-up as CHAT_CONF_TEMPLATE,
which it renders as usual (port, secret, pid file, brokers, Redis).
Unless limits=True, the example's per-user send limit is raised first (see
ROOMY_SEND): tests of other features send bursts a client should not;
test_limits.py tests the limits themselves.


  stack.port, stack.secret, stack.state_dir, stack.redis_port
  stack.api_port                    the first chat-api's (api-N: + N-1)
  stack.media_dir                   where uploads are stored
  stack.token(user)                 a valid token for this stack's secret
  stack.http(method, path, ...)     an HTTP request to nginx: a Response
                                    (status, headers, body, .json())
  stack.get(path, user) / stack.post(path, user, body, mime)
                                    the same with user's token
  stack.upload(user, data, mime)    POST /api/media: its Response
  stack.media_url(id, expiry)       a URL signed with this stack's media key
  await stack.connect(user, device[, node=(host, port)])
                                    a Client (below), hello already read
  stack.pid(name)                   from $CHAT_STATE_DIR/run/<name>.pid
  stack.kill(name, sig)             signal one component (redis, broker,
                                    kafka-1, worker-1, nginx, ...)
  stack.kafka_real, .kafka_nodes    which Kafka runs (real: Apache Kafka)
  stack.broker_names()              its processes: ["broker"] (the dev
                                    broker) or ["kafka-1", ...]
  stack.restart(name)               scripts/dev-up again: restarts what is
                                    not running, waits for worker readiness
  stack.redis_cli(*args)            redis-cli -p <port> ..., with the password
                                    dev-up made (Redis runs with requirepass);
                                    on a cluster redis-cli -c on a live node
  stack.redis                       "single" or "cluster": the Redis it runs
                                    (CHAT_REDIS, or running_stack(redis=...));
                                    a cluster's nodes are redis-1 .. redis-6 on
                                    redis_port .. redis_port+5
  stack.redis_node_port(name)       the port of redis-N
  stack.store, stack.pg_port        the store's backend (pg_port: None on sqlite)
  stack.store_dump()                every row of the store as text (SQLite's
                                    dump, or pg_dump's), for what no read shows

On exit it runs scripts/dev-down (bounded), then fails the test if any log
in $CHAT_STATE_DIR/logs shows a sanitizer report or an [alert].

The ASan run passes CHAT_MODULE, CHAT_PRELOAD (and CHAT_WORKER_BIN) through
the environment; dev-up applies them. The debug run passes CHAT_MODULE (the
--with-debug build) and CHAT_ERROR_LOG_LEVEL=debug (harness.with_log_level).

Client: one WebSocket connection whose reader task keeps every frame.
  recv(type)        the next frame of that type (a cursor per type), bounded
  request(obj)      sends a request, returns its answer ("sent", "error",
                    "group_ok", "conv_ok", "history"), bounded
  wait_until(pred)  bounded wait for a predicate over the frames

Traffic: a continuous stream of sends from a few senders to a few
recipients (and groups of them), each a device that reconnects (to the next
of its nginx nodes when its own refuses it) and resends unanswered requests
with the same id; verify() checks the delivery guarantees of docs/PROTOCOL.md
section 5 over everything that was accepted.
"""

import asyncio
import atexit
import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, WebSocketException

from harness import (REPO, SANITIZED, free_port, pids_with_parent,
                     token as make_token, with_log_level)
from wsclient import TIMEOUT, chat

SLOW = 2.0 if SANITIZED else 1.0          # timeouts scale under ASan
UP_TIMEOUT = 60.0 * SLOW
KAFKA_UP_TIMEOUT = 150.0 * SLOW   # a real Kafka node is a JVM: seconds to start
DOWN_TIMEOUT = 60.0 * SLOW   # dev-down gives each component 10 s
READY_TIMEOUT = 45.0 * SLOW
LOG_PROBLEMS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "[alert]")
WORKER_READY = "chat-worker: ready"
HTTP_TIMEOUT = 10.0 * SLOW
SYNC_SETTLE = 1.0 * SLOW
ROOMY_SEND = "chat_limit_send rate=100000r/s burst=100000;"
PORT_TAKEN = ("is taken by another process", "Address already in use")

STORES = ("sqlite", "postgres")
REDIS_CLUSTER_NODES = 6          # scripts/lib-redis-cluster.sh's

CONNECT_ERRORS = (OSError, asyncio.TimeoutError, AssertionError,
                  WebSocketException)


def dm(a, b):
    """The conversation id of a 1:1 conversation (docs/PROTOCOL.md section 1)."""
    return "dm:%s:%s" % tuple(sorted((a, b)))


def now_ms():
    return int(time.time() * 1000)


def roomy_limits(text):
    """nginx.conf.example with a send limit no test burst reaches."""
    text, n = re.subn(r"chat_limit_send [^;]*;", ROOMY_SEND, text)
    assert n == 1, "nginx.conf.example has no chat_limit_send line"
    return text


def as_test_user(text):
    """Under root, nginx's workers run as the test user too (as harness.py's
    nginx does), not as nobody: they open media files in the state dir,
    which is under pytest's private (mode 700) directory."""
    if os.geteuid() != 0 or re.search(r"^user\s", text, re.M):
        return text
    return "user root;\n" + text


def worker_binary():
    return Path(os.environ.get("CHAT_WORKER_BIN") or REPO / "build" / "chat-worker")


def api_binary():
    return Path(os.environ.get("CHAT_API_BIN") or REPO / "build" / "chat-api")


def require_programs(apis=1, kafka_real=False):
    programs = [worker_binary()]
    if not kafka_real:
        programs.append(REPO / "build" / "chat-devbroker")
    if apis:
        programs.append(api_binary())
    missing = [str(p) for p in programs if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("the end-to-end stack needs %s: build it with `make programs` "
                    "(or point CHAT_WORKER_BIN, CHAT_API_BIN at them)" % " and ".join(missing),
                    pytrace=False)


# ---------------------------------------------------------------- the stack

class Stack:
    def __init__(self, state_dir, workers=1, conf=None, env=None, limits=False,
                 apis=1, store=None, redis=None):
        self.state_dir = Path(state_dir)
        self.store = store or os.environ.get("CHAT_STORE") or "sqlite"
        assert self.store in STORES, "store must be one of %s, not %r" % (STORES, self.store)
        self.redis = redis or os.environ.get("CHAT_REDIS", "").strip() or "single"
        assert self.redis in ("single", "cluster"), self.redis
        self.media_dir = self.state_dir / "media"
        self.apis = apis
        self.extra_env = dict(env or {})
        self.logs = self.state_dir / "logs"
        self.workers = workers
        self.conf = conf            # str -> str over nginx.conf.example, or None
        self.limits = limits        # False: roomy_limits() first
        self.conf_template = self.state_dir / "nginx.conf.template"
        self.secret = secrets.token_urlsafe(32)     # dev-up writes it
        self.kafka_real = self.extra_env.get(
            "CHAT_KAFKA", os.environ.get("CHAT_KAFKA", "dev")) == "real"
        self.kafka_nodes = int(self.extra_env.get(
            "CHAT_KAFKA_NODES", os.environ.get("CHAT_KAFKA_NODES", "1")))
        self.pick_ports()
        self.down_error = None
        self._names = 0
        self.killed_nginx_workers = []  # SIGKILLed on purpose: their alert is expected

    def pick_ports(self):
        self.port = free_port()
        if self.redis == "cluster":
            # six nodes, each with its cluster bus on its port + 10000
            while True:
                self.redis_port = self._free_ports(REDIS_CLUSTER_NODES, {self.port})
                if self.redis_port + REDIS_CLUSTER_NODES + 10000 <= 65536 and all(
                        _port_free(p + 10000) and p + 10000 != self.port
                        for p in range(self.redis_port,
                                       self.redis_port + REDIS_CLUSTER_NODES)):
                    break
            taken = set(range(self.redis_port, self.redis_port + REDIS_CLUSTER_NODES))
            taken |= {p + 10000 for p in taken} | {self.port}
        else:
            self.redis_port = free_port()
            while self.redis_port == self.port:
                self.redis_port = free_port()
            taken = {self.port, self.redis_port}
        self.api_port = self._free_ports(max(self.apis, 1), taken)
        taken |= set(range(self.api_port, self.api_port + max(self.apis, 1)))
        self.pg_port = None
        if self.store == "postgres":
            self.pg_port = self._free_ports(1, taken)
            taken.add(self.pg_port)
        # a real Kafka node takes two ports: clients, then its controller
        self.kafka_port = self._free_ports(2 * self.kafka_nodes, taken)

    @staticmethod
    def _free_ports(n, taken):
        """The first of n consecutive ports that are free now (api-1 ...
        api-n listen on them) and not in taken."""
        while True:
            base = free_port()
            wanted = set(range(base, base + n))
            if base + n <= 65536 and not wanted & taken \
                    and all(_port_free(p) for p in range(base + 1, base + n)):
                return base

    # -- processes

    def env(self):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)          # dev-up preloads nginx only
        env.update(CHAT_PORT=str(self.port), CHAT_REDIS_PORT=str(self.redis_port),
                   CHAT_REDIS=self.redis,
                   CHAT_JWT_SECRET=self.secret, CHAT_STATE_DIR=str(self.state_dir),
                   CHAT_WORKERS=str(self.workers), CHAT_APIS=str(self.apis),
                   CHAT_API_PORT=str(self.api_port), CHAT_STORE=self.store,
                   CHAT_KAFKA=("real" if self.kafka_real else "dev"),
                   CHAT_KAFKA_NODES=str(self.kafka_nodes),
                   CHAT_KAFKA_PORT=str(self.kafka_port))
        env.pop("CHAT_STORE_URI", None)      # the stack's own store, always
        if self.pg_port:
            env["CHAT_PG_PORT"] = str(self.pg_port)
        # the stack is on loopback: a proxy of the machine is not in the way
        for name in ("no_proxy", "NO_PROXY"):
            env[name] = ",".join(filter(None, ["127.0.0.1,localhost", env.get(name)]))
        env["CHAT_CONF_TEMPLATE"] = str(self.conf_template)
        env.update(self.extra_env)
        if SANITIZED:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
            # the chat-workers' leaks are checked as they exit (nginx's
            # are not: a worker's pools go with the process)
            env.setdefault("CHAT_WORKER_ASAN_OPTIONS",
                           "detect_leaks=1:abort_on_error=0")
            env.setdefault("CHAT_API_ASAN_OPTIONS",
                           "detect_leaks=1:abort_on_error=0")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        return env

    def _script(self, name, timeout):
        """Runs scripts/<name>; returns (exit code or None on timeout, its
        output)."""
        return self._run([str(REPO / "scripts" / name)], name, timeout)

    def _run(self, argv, name, timeout):
        """Runs argv with this stack's environment, its output kept in
        <state dir>/<name>.out; returns (exit code or None on timeout, its
        output). The output goes through a file, not a pipe: the daemons it
        starts may keep inherited descriptors open."""
        out_path = self.state_dir / ("%s.out" % name)
        with open(out_path, "ab") as out:
            start = out.tell()
            try:
                rc = subprocess.run(argv, env=self.env(),
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = None
        with open(out_path, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        if rc is None:
            text = "%s did not return within %.0fs; its output:\n%s" % (name, timeout, text)
        return rc, text

    def up(self):
        require_programs(self.apis, self.kafka_real)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.store == "postgres":
            self.pg_dir_outside_pytest()
        text = (REPO / "nginx.conf.example").read_text()
        if not self.limits:
            text = roomy_limits(text)
        self.conf_template.write_text(
            as_test_user(with_log_level(self.conf(text) if self.conf else text)))
        offsets = self.log_offsets()
        for _ in range(3):
            rc, out = self._script("dev-up", self.up_timeout())
            # a free port can be taken between probe and bind (by another
            # test run beside this one): what started goes, new ports
            if rc == 0 or not any(m in out + self.log_tails() for m in PORT_TAKEN):
                break
            self._script("dev-down", DOWN_TIMEOUT)
            self.forget_cluster_ports()
            self.pick_ports()
        if rc != 0:
            pytest.fail("scripts/dev-up failed (%s):\n%s\n%s"
                        % (rc, out, self.log_tails()), pytrace=False)
        self.wait_ready(["worker-%d" % i for i in range(1, self.workers + 1)], offsets)
        self.came_up = True
        return self

    def forget_cluster_ports(self):
        """A real Kafka and a Redis Cluster keep the ports of their first
        start in the state dir (kafka/cluster, nodes.conf), so that a
        restart finds its peers: before new ports are tried, a first start
        that failed leaves nothing of theirs behind."""
        if not getattr(self, "came_up", False):
            for name in ("kafka", "redis-cluster"):
                shutil.rmtree(self.state_dir / name, ignore_errors=True)

    def restart(self, name=None):
        """Runs dev-up again (it restarts what is not running); when name is
        a worker, waits until that worker says it is ready again."""
        offsets = self.log_offsets()
        rc, out = self._script("dev-up", self.up_timeout())
        assert rc == 0, "dev-up (restart of %s) failed (%s):\n%s\n%s" % (
            name, rc, out, self.log_tails())
        if name and name.startswith("worker"):
            self.wait_ready([name], offsets)

    def pg_dir_outside_pytest(self):
        if "CHAT_PG_DIR" not in self.extra_env:
            self.extra_env["CHAT_PG_DIR"] = str(pg_data_dir(self.state_dir / "postgres"))

    def down(self):
        """dev-down, bounded; then kills whatever of ours is still alive
        (by the pids in run/). Never raises: a problem is kept in
        down_error for fail_on_log_problems()."""
        rc, out = self._script("dev-down", DOWN_TIMEOUT)
        if rc != 0:
            self.down_error = "scripts/dev-down failed (%s): %s" % (rc, out)
        time.sleep(0.2)
        left = []
        for name, pid in self.pids().items():
            if _alive(pid):
                left.append("%s (%d)" % (name, pid))
                for p in pids_with_parent(pid) + [pid]:    # nginx's workers too
                    with contextlib.suppress(OSError):
                        os.kill(p, signal.SIGKILL)
        if left and not self.down_error:
            self.down_error = "still running after dev-down: " + ", ".join(left)

    def pids(self):
        """{name: pid} from run/<name>.pid (and nginx's logs/nginx.pid)."""
        found = {}
        files = sorted((self.state_dir / "run").glob("*.pid"))
        for path in files + [self.logs / "nginx.pid"]:
            with contextlib.suppress(OSError, ValueError, IndexError):
                found.setdefault(path.stem, int(path.read_text().split()[0]))
        return found

    def pid(self, name):
        """The pid of a component; fails when it is not running."""
        pid = self.pids().get(name)
        assert pid is not None, "no pid file for %s in %s (have: %s)" % (
            name, self.state_dir / "run", sorted(self.pids()))
        assert _alive(pid), "%s (pid %d) is not running" % (name, pid)
        return pid

    def kill(self, name, sig=signal.SIGKILL):
        pid = self.pid(name)
        os.kill(pid, sig)
        if sig == signal.SIGKILL:
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not _alive(pid), "%s (pid %d) survived SIGKILL" % (name, pid)
        return pid

    def up_timeout(self):
        return KAFKA_UP_TIMEOUT if self.kafka_real else UP_TIMEOUT

    def broker_names(self):
        """The Kafka processes: the dev broker, or each node of the real one."""
        if self.kafka_real:
            return ["kafka-%d" % k for k in range(1, self.kafka_nodes + 1)]
        return ["broker"]

    def redis_password(self):
        """The password dev-up generated for this stack's redis-server."""
        return (self.state_dir / "redis.password").read_text().strip()

    def redis_node_port(self, name):
        """The port of a cluster node, redis-N (from 1)."""
        return self.redis_port + int(name.rsplit("-", 1)[1]) - 1

    def redis_cli_port(self):
        """Where redis_cli() asks: Redis, or a live node of the cluster
        (redis-cli -c follows its redirections)."""
        if self.redis != "cluster":
            return self.redis_port
        for i in range(1, REDIS_CLUSTER_NODES + 1):
            pid = self.pids().get("redis-%d" % i)
            if pid and _alive(pid):
                return self.redis_node_port("redis-%d" % i)
        return self.redis_port

    def redis_cli(self, *args):
        # REDISCLI_AUTH, not -a: the password stays off the command line
        env = dict(os.environ, REDISCLI_AUTH=self.redis_password())
        cluster = ["-c"] if self.redis == "cluster" else []
        r = subprocess.run(["redis-cli", "-p", str(self.redis_cli_port()), *cluster,
                            *map(str, args)],
                           capture_output=True, text=True, timeout=10, env=env)
        return r.stdout.strip()

    def pg_conninfo(self):
        """libpq's conninfo of the stack's cluster (scripts/pg's superuser)
        and its database, as dev-up gives it to the workers."""
        return "host=127.0.0.1 port=%d dbname=chat user=postgres" % self.pg_port

    def store_dump(self):
        """Every row of the store, as text: SQLite's dump of chat.db (the
        WAL included), or pg_dump's of the cluster's database."""
        if self.store == "sqlite":
            db = sqlite3.connect("file:%s?mode=ro" % (self.state_dir / "chat.db"),
                                 uri=True, timeout=5)
            try:
                return "\n".join(db.iterdump())
            finally:
                db.close()
        # bodies are bytea: escaped, their text shows as text (hex would not)
        r = subprocess.run(["pg_dump", "--data-only", "--inserts", "--no-owner",
                            "-d", self.pg_conninfo()],
                           env=dict(os.environ, PGOPTIONS="-c bytea_output=escape"),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, "pg_dump failed (%d): %s" % (r.returncode, r.stderr)
        return r.stdout

    # -- worker readiness, from their logs

    def _worker_logs(self, name=None):
        """The worker log files (of worker `name` when they can be told
        apart by file name; else all of them)."""
        logs = sorted(p for p in self.logs.rglob("*worker*") if p.is_file()) \
            if self.logs.is_dir() else []
        if name:
            own = re.compile(r"(?<![0-9A-Za-z])%s(?![0-9])" % re.escape(name))
            return [p for p in logs if own.search(p.name)] or logs
        return logs

    def log_offsets(self):
        return {p: p.stat().st_size for p in self._worker_logs()}

    def _ready_lines(self, path, offsets):
        """WORKER_READY lines written to path since offsets were taken (all
        of them when the file is new or was truncated)."""
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            start = offsets.get(path, 0)
            return data[start if start <= len(data) else 0:].decode(
                errors="replace").count(WORKER_READY)
        return 0

    def wait_ready(self, names, offsets, timeout=READY_TIMEOUT):
        """Waits until each named worker logged WORKER_READY since offsets
        (a log shared by several workers must show one line per worker)."""
        deadline = time.monotonic() + timeout
        while True:
            waiting, wanted = [], {}
            for name in names:
                files = tuple(self._worker_logs(name))
                wanted[files] = wanted.get(files, 0) + 1
                if sum(self._ready_lines(p, offsets) for p in files) < wanted[files]:
                    waiting.append(name)
            if not waiting:
                return
            if time.monotonic() > deadline:
                pytest.fail("%s did not log %r within %.0fs:\n%s" % (
                    ", ".join(waiting), WORKER_READY, timeout, self.log_tails()),
                    pytrace=False)
            time.sleep(0.1)

    # -- logs

    def log_problems(self):
        found = []
        if self.logs.is_dir():
            for path in sorted(self.logs.rglob("*")):
                if not path.is_file():
                    continue
                for line in path.read_text(errors="replace").splitlines():
                    if any(p in line for p in LOG_PROBLEMS) \
                            and not self._killed_on_purpose(line):
                        found.append("%s: %s" % (path.name, line))
        return found

    def _killed_on_purpose(self, line):
        return any(re.search(r"\[alert\].* %d exited on signal 9\b" % pid, line)
                   for pid in self.killed_nginx_workers)

    def log_tails(self, lines=25):
        out = []
        if self.logs.is_dir():
            for path in sorted(self.logs.rglob("*")):
                if path.is_file() and not path.name.startswith("access"):
                    text = path.read_text(errors="replace").splitlines()
                    out.append("--- %s (last %d lines)\n%s" % (
                        path.name, lines, "\n".join(text[-lines:])))
        return "\n".join(out)

    def fail_on_log_problems(self):
        problems = self.log_problems()
        if problems or self.down_error:
            pytest.fail("the stack in %s %s%s" % (
                self.state_dir,
                "logged problems:\n" + "\n".join(problems[:50]) if problems else "",
                ("\n" if problems else "") + (self.down_error or "")),
                pytrace=False)

    # -- clients

    def metrics(self):
        """nginx's chat_status, {'name{labels}': value}."""
        return status_metrics(self.port)

    def token(self, user, **kw):
        return make_token(user, key=self.secret, **kw)

    # -- HTTP: the API and media, through nginx

    def http(self, method, path, body=None, headers=None, token=None, port=None):
        """One request to nginx (or to port); token: sent as a Bearer
        header. A Response, whatever its status."""
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port,
                                          timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path, user, headers=None):
        return self.http("GET", path, headers=headers, token=self.token(user))

    def post(self, path, user, body=b"", mime="application/json", headers=None):
        return self.http("POST", path, body=body, token=self.token(user),
                         headers=dict({"Content-Type": mime}, **(headers or {})))

    def upload(self, user, data, mime="image/png"):
        """POST /api/media with data as the file; its Response (201 and
        {"id","url","mime","size"} when accepted)."""
        return self.post("/api/media", user, data, mime)

    def media_key(self):
        """The key dev-up generated into chat-media.secret (as nginx, the
        workers and chat-api read it: the file's line, without its end)."""
        return (self.state_dir / "chat-media.secret").read_text().rstrip("\n").encode()

    def media_url(self, id, expiry, key=None):
        """/media/<id>?e=<expiry>&s=<sig>, signed as common/chat_media.h
        says: base64url(HMAC-SHA256(key, "<id>.<expiry>")), unpadded."""
        mac = hmac.new(key or self.media_key(), ("%s.%d" % (id, expiry)).encode(),
                       hashlib.sha256).digest()
        sig = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        return "/media/%s?e=%d&s=%s" % (id, expiry, sig)

    def media_files(self):
        """The ids of the files under media/ (<2 chars>/<id>)."""
        if not self.media_dir.is_dir():
            return set()
        return {p.name for p in self.media_dir.glob("*/*") if p.is_file()}

    def names(self, *bases):
        """Fresh user names (alice -> alice7), so that tests sharing a stack
        do not share conversations."""
        self._names += 1
        return tuple("%s%d" % (b, self._names) for b in bases)

    def node(self):
        """(host, port) of this stack's nginx."""
        return ("127.0.0.1", self.port)

    async def connect(self, user, device=None, on_frame=None, node=None):
        """A Client of the nginx at node, (host, port) (this stack's own by
        default)."""
        host, port = node or self.node()
        stack = contextlib.AsyncExitStack()
        ws, hello = await stack.enter_async_context(
            chat(port, user, token=self.token(user), device=device, host=host))
        client = Client(user, device, ws, hello, stack, on_frame)
        client.node = (host, port)
        return client

    @contextlib.asynccontextmanager
    async def connected(self, *devices):
        """Clients for (user, device) pairs, all closed on the way out."""
        clients = []
        try:
            for user, device in devices:
                clients.append(await self.connect(user, device))
            yield clients
        finally:
            for c in clients:
                await c.close()

    async def settle(self):
        """Lets the pending sync of just-opened connections finish: a message
        stored before a connection's sync is answered may reach it twice
        (pending push, then live), which docs/PROTOCOL.md allows; after this, a
        second copy is a bug."""
        await asyncio.sleep(SYNC_SETTLE)

    async def send_until_accepted(self, user, to, timeout=30.0 * SLOW):
        """Sends one message, retrying (same id) while the answer is
        "unavailable", and waits until the sender's own device gets the msg:
        the write path (module, broker, worker, Redis) works end to end."""
        c = await self.connect(user, "warmup")
        try:
            deadline = time.monotonic() + timeout
            while True:
                reply = await c.request({"type": "send", "id": "warmup", "to": to,
                                         "body": "warm-up"})
                if reply["type"] == "sent":
                    break
                assert reply.get("code") == "unavailable", reply
                assert time.monotonic() < deadline, \
                    "the stack answers every send with unavailable:\n" + self.log_tails()
                await asyncio.sleep(0.3)
            await c.recv("msg", timeout=max(1.0, deadline - time.monotonic()))
        finally:
            await c.close()


class Response:
    """An HTTP answer: status, headers (case-insensitive), body (bytes)."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def __repr__(self):
        return "<HTTP %d %s %r>" % (self.status, self.headers.get("Content-Type"),
                                    self.body[:300])

    def json(self):
        """The body as JSON; fails, naming the answer, when it is not JSON."""
        ctype = self.headers.get("Content-Type", "")
        assert ctype.split(";")[0].strip() == "application/json", \
            "not a JSON answer: %r" % self
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError("not a JSON body: %r" % self) from None


def api_error(r, status, code):
    """r is the JSON error of PROTOCOL.md 6: that status, {"error": code,
    "message": text}. Returns the body."""
    assert r.status == status, "expected %d %s, got %r" % (status, code, r)
    body = r.json()
    assert body.get("error") == code and isinstance(body.get("message"), str), r
    return body


async def eventually(fn, timeout=1.0, what="a condition", every=0.05):
    """fn()'s value once it is true (fn: a quick blocking read, such as an
    HTTP request), polled; fails with its last value after timeout seconds
    (scaled under ASan)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("no %s within %.1fs (last: %r)"
                                 % (what, timeout * SLOW, value))
        await asyncio.sleep(every)


def without_type(frame):
    """A msg frame as the HTTP API shows it (PROTOCOL.md 6: without "type")."""
    return {k: v for k, v in frame.items() if k != "type"}


def pg_data_dir(default):
    """A data dir for scripts/pg. Under root it runs the server as user
    postgres, which must reach the dir: not one below pytest's
    directories, which every pytest that starts (another test file beside
    this one) makes mode 700 again. There, a directory under /var/tmp,
    removed when the test process exits; else default."""
    if os.geteuid() != 0:
        return Path(default)
    top = tempfile.mkdtemp(prefix="chat-pg-", dir="/var/tmp")
    os.chmod(top, 0o711)
    atexit.register(shutil.rmtree, top, True)
    return Path(top) / "data"


def _port_free(port):
    with contextlib.closing(socket.socket()) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


STATUS_LINE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def fetch_status(port, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d/chat/status" % port,
                                 method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=5) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def status_metrics(port):
    """{'name{labels}': value} of one scrape; checks the format on the way."""
    status, ctype, text = fetch_status(port)
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), ctype
    found, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in typed, "TYPE twice for " + name
            typed.add(name)
            continue
        if line.startswith("# HELP "):
            continue
        m = STATUS_LINE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        family = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        assert m.group(1) in typed or family in typed, "no TYPE before " + line
        found[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@contextlib.contextmanager
def running_stack(directory, workers=1, warm_up=True, conf=None, env=None,
                  limits=False, apis=1, store=None, redis=None):
    """A started stack (see Stack); dev-down and the log check afterwards.
    warm_up sends one message end to end first, so tests start on a
    pipeline that is known to flow. conf, env, limits: see the top of this
    file. store: "sqlite" or "postgres" (default: CHAT_STORE, else
    sqlite); redis: "single" or "cluster" over CHAT_REDIS."""
    stack = Stack(directory, workers, conf, env, limits, apis, store, redis)
    try:
        stack.up()
        if warm_up:
            try:
                asyncio.run(stack.send_until_accepted("warmup-a", "warmup-b"))
            except (AssertionError, *CONNECT_ERRORS) as e:
                pytest.fail("the first message through the new stack failed: %r\n%s\n%s"
                            % (e, "\n".join(stack.log_problems()[:20]),
                               stack.log_tails()), pytrace=False)
        yield stack
    finally:
        stack.down()
    stack.fail_on_log_problems()


# ---------------------------------------------------------------- clients

class Client:
    """One connection. A reader task appends every JSON frame to frames."""

    def __init__(self, user, device, ws, hello, exit_stack, on_frame=None):
        self.user, self.device = user, device
        self.ws, self.hello = ws, hello
        self.frames = []
        self.close_code = None
        self._exit_stack = exit_stack
        self._on_frame = on_frame
        self._cursors = {}
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    def __repr__(self):
        return "<%s/%s conn=%s>" % (self.user, self.device, self.hello.get("conn"))

    async def _read(self):
        try:
            async for text in self.ws:
                frame = json.loads(text)
                self.frames.append(frame)
                if self._on_frame:
                    self._on_frame(self, frame)
                self._wake()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self._wake()
        # anything else (a bad frame, a bug in on_frame) ends the reader
        # with that exception: wait_closed() raises it

    def _wake(self):
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def closed(self):
        return self._reader.done()

    async def wait_closed(self):
        """Returns once the connection is closed; raises what ended the
        reader if that was not a close."""
        await asyncio.shield(self._reader)

    async def close(self):
        await self._exit_stack.aclose()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), 5)

    async def send(self, obj):
        await self.ws.send(json.dumps(obj))

    async def wait_until(self, predicate, timeout=TIMEOUT, what="a condition"):
        """predicate() once it is true; fails after timeout seconds or when
        the connection closed first."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            result = predicate()
            if result:
                return result
            if self.closed and self._reader.exception():
                raise self._reader.exception()
            if self.closed:
                raise AssertionError("%r closed (code %s) while waiting for %s; "
                                     "last frames: %s" % (self, self.close_code, what,
                                                          self.frames[-5:]))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%r: no %s within %.1fs; last frames: %s"
                                     % (self, what, timeout * SLOW, self.frames[-5:]))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def recv(self, type, timeout=TIMEOUT):
        """The next frame of this type (each type has its own cursor, so
        frames of other types are skipped, not lost)."""
        start = self._cursors.get(type, 0)

        def find():
            for i in range(start, len(self.frames)):
                if self.frames[i].get("type") == type:
                    return i + 1
            return None
        end = await self.wait_until(find, timeout, 'a "%s" frame' % type)
        self._cursors[type] = end
        return self.frames[end - 1]

    ANSWERS = ("sent", "error", "group_ok", "conv_ok", "history")

    def answer_of(self, id, start=0):
        for f in self.frames[start:]:
            if f.get("id") == id and f.get("type") in self.ANSWERS:
                return f
        return None

    def answers(self, id):
        """Every "sent" or "error" that answered request id, in order."""
        return [f for f in self.frames
                if f.get("id") == id and f.get("type") in ("sent", "error")]

    async def request(self, obj, timeout=TIMEOUT):
        """Sends a request with an id; returns its "sent" or "error"."""
        start = len(self.frames)
        await self.send(obj)
        return await self.wait_until(lambda: self.answer_of(obj["id"], start),
                                     timeout, "answer to %s" % obj["id"])

    def msgs(self, conv=None):
        return [f for f in self.frames
                if f.get("type") == "msg" and conv in (None, f.get("conv"))]


def assert_seq_order(frames, what, gapless_from=None):
    """frames (msg frames of one conversation, in arrival order): the first
    arrival of each mid has a higher seq than every earlier one; with
    gapless_from, those seqs are exactly gapless_from, gapless_from+1, ..."""
    seen, firsts = set(), []
    for f in frames:
        if f["mid"] not in seen:
            seen.add(f["mid"])
            firsts.append(f["seq"])
    assert all(a < b for a, b in zip(firsts, firsts[1:])), \
        "%s: messages out of seq order: %s" % (what, firsts)
    if gapless_from is not None:
        expected = list(range(gapless_from, gapless_from + len(firsts)))
        assert firsts == expected, "%s: seqs %s, expected %s" % (what, firsts, expected)
    return firsts


SEQ_FRAMES = ("msg", "group", "conv")   # the frames that take a conversation's seq


def _order_key(f):
    """What a frame's seq is ordered within: its conversation for the
    frames of the conversation's log, (conv, status, by) for a receipt (a
    watermark of its own); None for frames without an order."""
    if f.get("type") in SEQ_FRAMES and "seq" in f:
        return (f["conv"],)
    if f.get("type") == "receipt":
        return (f["conv"], f["status"], f.get("by"))
    return None


def seq_runs(seqs):
    """[1, 2, 3, 2, 3] -> '1..3 2..3': a sequence as its ascending runs."""
    runs = []
    for s in seqs:
        if runs and s == runs[-1][1] + 1:
            runs[-1][1] = s
        else:
            runs.append([s, s])
    return " ".join("%d..%d" % (a, b) if a != b else "%d" % a for a, b in runs)


def connection_order_problems(frames, what):
    """PROTOCOL.md section 5 over one connection's frames, strictly: in each
    conversation, msgs and group/conv events arrive once each and in seq
    order (a repeat is allowed only after a reconnect, so never on one
    connection); each (conv, status, by) receipt watermark strictly rises
    (one is sent when it rises). Returns the problems found, as text."""
    seqs = {}
    for f in frames:
        key = _order_key(f)
        if key is not None:
            seqs.setdefault(key, []).append(f["seq"])
    return ["%s %s: seqs %s on one connection (each once, ascending)"
            % (what, "/".join(map(str, key)), seq_runs(s)[:300])
            for key, s in seqs.items() if any(a >= b for a, b in zip(s, s[1:]))]


def device_order_problems(connections, what):
    """The same over a device's connections, oldest first: each conversation's
    first arrivals come in seq order (an earlier seq arriving for the
    first time after a later one is out of order, even on a new
    connection), and a receipt watermark never goes down."""
    problems, seen, top = [], set(), {}
    for c in connections:
        for f in c.frames:
            key = _order_key(f)
            if key is None or (key, f["seq"]) in seen:
                continue
            seen.add((key, f["seq"]))
            if f["seq"] < top.get(key, 0):
                problems.append("%s %s: seq %d first arrived on %r after seq %d"
                                % (what, "/".join(map(str, key)), f["seq"], c, top[key]))
            top[key] = max(top.get(key, 0), f["seq"])
    return problems


# ---------------------------------------------------------------- traffic

RECONNECT_DELAY = 0.2
RETRY_AFTER = 0.5          # an "unavailable" send is retried after this
STALL = 10.0 * SLOW        # a send unanswered this long on an open connection
LIVE_SETTLE = 20.0         # at most this long for live delivery to catch up


class Device:
    """A device that stays connected: it reconnects, with the same device
    id, whenever its connection closes, until stop(). nodes: the (host,
    port) of each nginx it may use, the one it prefers first (the stack's
    own when None); as behind a load balancer, a node that refuses it
    sends it to the next one."""

    def __init__(self, stack, user, device, nodes=None):
        self.stack, self.user, self.device = stack, user, device
        self.nodes = list(nodes or [stack.node()])
        self.node_index = 0            # the node it tries next
        self.connections = []          # every Client, oldest first
        self.close_codes = []
        self.client = None
        self.stopping = False
        self.task = None

    def start(self):
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        while not self.stopping:
            try:
                c = await self.stack.connect(self.user, self.device, self.on_frame,
                                             self.nodes[self.node_index])
            except CONNECT_ERRORS:
                self.node_index = (self.node_index + 1) % len(self.nodes)
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            self.connections.append(c)
            if self.stopping:
                await c.close()
                break
            self.client = c
            await self.on_connect(c)
            await c.wait_closed()
            self.client = None
            if not self.stopping:
                self.close_codes.append(c.close_code)
                await asyncio.sleep(RECONNECT_DELAY)

    async def wait_connected(self, timeout=15.0):
        deadline = time.monotonic() + timeout * SLOW
        while self.client is None:
            assert time.monotonic() < deadline, "%s/%s cannot connect" % (
                self.user, self.device)
            await asyncio.sleep(0.05)

    async def stop(self):
        self.stopping = True
        if self.client:
            await self.client.close()
        await asyncio.wait_for(self.task, 15)

    def on_frame(self, client, frame):
        pass

    async def on_connect(self, client):
        pass

    def msgs(self):
        return [f for c in self.connections for f in c.msgs()]


class Sender(Device):
    """Sends ~rate messages per second, to its recipients in turn, ids
    "<user>-<n>"; a recipient "grp:<g>" is group g. A request counts as accepted once its "sent" arrived;
    an "unavailable" one is retried (same id) after RETRY_AFTER; on
    reconnect, every unanswered request is sent again with its id."""

    def __init__(self, stack, user, recipients, rate, nodes=None, stall=STALL,
                 retry_stalled=False):
        super().__init__(stack, user, "sender", nodes)
        self.recipients, self.interval = recipients, 1.0 / rate
        self.stall = stall        # an answer later than this is a stall: sent again
        self.retry_stalled = retry_stalled   # True: as a client's timeout, no problem
        self.requests = {}        # id -> the send frame, every one made
        self.outbox = {}          # id -> time it is due (again); unanswered ids
        self.transmitted = {}     # id -> (time, client) of the last transmission
        self.first_tx = {}        # id -> time of the first transmission
        self.first_client = {}    # id -> the connection of the first one
        self.answered = set()     # ids that got any answer
        self.slowest = (0.0, "")  # (seconds, id): the slowest first answer
        self.sent = {}            # id -> mids of its "sent" answers
        self.sent_at = {}         # id -> time of its first "sent"
        self.made_at = {}         # id -> time it was made
        self.unavailable = []     # (time, id)
        self.errors = []          # any other error frame
        self.stalls = []          # ids unanswered for STALL on an open connection
        self.generating = False
        self.n = 0

    def on_frame(self, client, f):
        t, id = time.monotonic(), f.get("id")
        at, c = self.first_tx.get(id, t), self.first_client.get(id)
        if c is client and f.get("type") in ("sent", "error") \
                and id not in self.answered:
            self.answered.add(id)
            self.slowest = max(self.slowest, (round(t - at, 1), id))
        if f.get("type") == "sent" and id in self.requests:
            self.sent.setdefault(id, []).append(f["mid"])
            self.sent_at.setdefault(id, t)
            self.outbox.pop(id, None)
        elif f.get("type") == "error":
            if f.get("code") == "unavailable" and id in self.requests:
                self.unavailable.append((t, id))
                if id in self.outbox:
                    self.outbox[id] = t + RETRY_AFTER
            else:
                self.errors.append(f)

    async def on_connect(self, client):
        for id in sorted(self.outbox):
            self.outbox[id] = 0.0

    async def _transmit(self, id):
        c = self.client
        if c is None:
            return
        self.transmitted[id] = (time.monotonic(), c)
        self.first_tx.setdefault(id, time.monotonic())
        self.first_client.setdefault(id, c)
        with contextlib.suppress(ConnectionClosed):
            await c.send(self.requests[id])

    def new_request(self):
        self.n += 1
        id = "%s-%05d" % (self.user, self.n)
        to = self.recipients[self.n % len(self.recipients)]
        self.requests[id] = {"type": "send", "id": id, "body": "body of %s" % id}
        if to.startswith("grp:"):
            self.requests[id]["group"] = to[4:]
        else:
            self.requests[id]["to"] = to
        self.outbox[id] = 0.0
        self.made_at[id] = time.monotonic()

    async def loop(self):
        next_new = time.monotonic()
        while not self.stopping:
            t = time.monotonic()
            if self.generating and t >= next_new:
                self.new_request()
                next_new += self.interval
            if self.client is not None:
                for id, due in sorted(self.outbox.items()):
                    if due > t or id not in self.outbox:    # answered meanwhile
                        continue
                    self.outbox[id] = float("inf")      # until an answer
                    await self._transmit(id)
                for id in [i for i, d in self.outbox.items() if d == float("inf")]:
                    at, c = self.transmitted.get(id, (t, None))
                    if c is self.client and t - at > self.stall:
                        self.stalls.append(id)
                        self.outbox[id] = 0.0
            await asyncio.sleep(min(0.01, self.interval / 2))

    def start(self):
        super().start()
        self.loop_task = asyncio.ensure_future(self.loop())

    async def stop(self):
        await super().stop()
        await asyncio.wait_for(self.loop_task, 5)


class Reader(Device):
    """A recipient that acknowledges what it received, as a client should: a
    `delivered` receipt for the top of each conversation's gapless run of
    seqs from 1 (over all its connections), so that no message it did not
    see is covered by its watermark."""

    def __init__(self, stack, user, device, nodes=None):
        super().__init__(stack, user, device, nodes)
        self.seen = {}            # conv -> seqs received (msgs, group events)
        self.acked = {}           # conv -> [seqs of the receipts sent], rising
        self.errors = []          # error frames other than "unavailable"
        self.n = 0
        self.sending = set()      # the acks' tasks: the loop keeps only weak refs

    def prefix(self, conv):
        """The top of conv's gapless run of received seqs from 1."""
        top, seen = 0, self.seen.get(conv, ())
        while top + 1 in seen:
            top += 1
        return top

    def on_frame(self, client, f):
        if f.get("type") == "error" and f.get("code") != "unavailable":
            self.errors.append(f)
        # a group's events take seqs of its log too: without them the run
        # from 1 would stop at the group's creation
        if f.get("type") not in SEQ_FRAMES or "seq" not in f:
            return
        self.seen.setdefault(f["conv"], set()).add(f["seq"])
        top = self.prefix(f["conv"])
        if top > (self.acked.get(f["conv"]) or [0])[-1]:
            self.acked.setdefault(f["conv"], []).append(top)
            self.n += 1
            task = asyncio.ensure_future(self._ack(client, {
                "type": "receipt", "id": "ack-%d" % self.n, "conv": f["conv"],
                "status": "delivered", "seq": top}))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)

    @staticmethod
    async def _ack(client, receipt):
        with contextlib.suppress(ConnectionClosed):
            await client.send(receipt)


class Traffic:
    """senders each send to every recipient in turn, rate msgs/s in all;
    the recipients acknowledge what they receive (Reader).
    groups: {group: members}, groups the first sender creates (with every
    sender and recipient named in members) before the traffic starts;
    each sender then sends to each group too, in turn with the recipients.
    nodes: [(host, port), ...], the nginx nodes the devices spread over,
    one after the other; each device falls back to the next when its own
    refuses it (the stack's one nginx when None). stall: how long a send
    may stay unanswered on an open connection (STALL by default; a group
    message is answered by the chat-worker that applies it, so a worker's
    death holds its answer until the group moved the worker's partitions);
    with retry_stalled, a stalled send is sent again as a client whose
    answer timed out would, and that is no problem (an answer published
    through a Redis that dies on the way is lost)."""

    def __init__(self, stack, senders=("alice", "carol", "erin"),
                 recipients=("bob", "dave"), rate=50.0, groups=None, nodes=None,
                 stall=STALL, retry_stalled=False):
        self.stack = stack
        self.groups = {g: list(m) for g, m in (groups or {}).items()}
        nodes = list(nodes or [stack.node()])
        spread = (nodes[i % len(nodes):] + nodes[:i % len(nodes)]
                  for i in range(len(senders) + len(recipients)))
        self.recipients = {u: Reader(stack, u, "phone", next(spread))
                           for u in recipients}
        targets = list(recipients) + ["grp:" + g for g in self.groups]
        self.senders = {u: Sender(stack, u, targets, rate / len(senders), next(spread),
                                  stall, retry_stalled) for u in senders}
        self.final = {}           # recipient -> the Client of the final check
        self.final_incomplete = {}  # recipient -> why its final check ended early

    async def start(self):
        for d in self.recipients.values():
            d.start()
        for d in self.recipients.values():
            await d.wait_connected()
        for s in self.senders.values():
            s.start()
        for s in self.senders.values():
            await s.wait_connected()
        for group, members in self.groups.items():
            await self._create_group(group, members)
        for s in self.senders.values():
            s.generating = True

    async def _create_group(self, group, members, timeout=30.0):
        """group_create by the first sender, retried (same id) while the
        answer is "unavailable" or none comes; a retry of one that was
        applied meanwhile is answered group_ok too (PROTOCOL.md 4.7)."""
        creator = next(iter(self.senders.values()))
        deadline = time.monotonic() + timeout * SLOW
        request = {"type": "group_create", "id": "create-" + group, "group": group,
                   "members": [m for m in members if m != creator.user]}
        while True:
            assert time.monotonic() < deadline, "group %s never created" % group
            c = creator.client
            if c is None:
                await asyncio.sleep(0.1)
                continue
            try:
                answer = await c.request(request, timeout=5)
            except (AssertionError, ConnectionClosed):     # closed, or no answer
                answer = None
            if answer is not None and answer["type"] == "group_ok":
                return
            assert answer is None or answer.get("code") == "unavailable", answer
            await asyncio.sleep(RETRY_AFTER)

    def targets(self, sender, req):
        """The recipients (Readers) an accepted request must reach."""
        if "group" in req:
            return [m for m in self.groups[req["group"]]
                    if m in self.recipients and m != sender]
        return [req["to"]]

    @staticmethod
    def conv_of(sender, req):
        return "grp:" + req["group"] if "group" in req else dm(sender, req["to"])

    def stop_generating(self):
        for s in self.senders.values():
            s.generating = False

    def accepted(self):
        """{(sender, id): request} of every request answered "sent"."""
        return {(s.user, id): s.requests[id]
                for s in self.senders.values() for id in s.sent}

    def first_sent_after(self, t):
        """The earliest time a request first transmitted at or after t was
        answered "sent" (None: none was)."""
        times = [s.sent_at[id] for s in self.senders.values()
                 for id in s.sent_at if s.first_tx.get(id, 0) >= t]
        return min(times) if times else None

    def accepted_between(self, t0, t1):
        """Requests first transmitted at or after t0 and answered "sent"
        before t1."""
        return [id for s in self.senders.values() for id, t in s.sent_at.items()
                if s.first_tx.get(id, -1) >= t0 and t < t1]

    def live_missing(self, since):
        """Accepted requests first transmitted at or after since that did not
        reach their recipient's first (still open) connection live."""
        missing = []
        for (sender, id), req in self.accepted().items():
            if self.senders[sender].first_tx[id] < since:
                continue
            for to in self.targets(sender, req):
                first = self.recipients[to].connections[0]
                if not any(f["id"] == id and f["from"] == sender for f in first.msgs()):
                    missing.append(id)
        return missing

    def unavailable(self):
        return [u for s in self.senders.values() for u in s.unavailable]

    def flowing_since(self, t):
        """True once each sender got "sent" for a request to each of its
        recipients (a user or a group) that it first transmitted at or
        after t: every conversation's write path works again (each may be
        on another partition, worker or shard)."""
        for s in self.senders.values():
            flowing = {self.conv_of(s.user, s.requests[id]) for id in s.sent_at
                       if s.first_tx.get(id, -1) >= t}
            if len(flowing) < len(s.recipients):
                return False
        return True

    def made_before(self, t):
        """{(sender, id): request} of every request made before t, answered
        or not."""
        return {(s.user, id): s.requests[id] for s in self.senders.values()
                for id, at in s.made_at.items() if at < t}

    def caught_up(self, requests):
        """True once every one of requests ({(sender, id): request}) was
        answered "sent" and reached every recipient's device live (its
        pending push on a reconnect included)."""
        accepted = self.accepted()
        live = {u: self._received(u, final=False) for u in self.recipients}
        return all(key in accepted for key in requests) and \
            all(key in live[to] for key, req in requests.items()
                for to in self.targets(key[0], req))

    def _devices(self):
        return list(self.senders.values()) + list(self.recipients.values())

    def raise_device_errors(self):
        """Re-raises what broke a device's task (a bug here, not a server
        failure: those are recorded, not raised)."""
        for d in self._devices():
            for task in (d.task, getattr(d, "loop_task", None)):
                if task is not None and task.done() and not task.cancelled() \
                        and task.exception():
                    raise task.exception()

    async def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout * SLOW
        while not predicate():
            self.raise_device_errors()
            if time.monotonic() > deadline:
                raise AssertionError("no %s within %.0fs" % (what, timeout * SLOW))
            await asyncio.sleep(0.05)

    def _all_answered(self):
        return all(not s.outbox for s in self.senders.values())

    def _whereabouts(self, id, by_key):
        """What is known of a lost message: its seq (from its sender's own
        copy) and the seqs its recipient's connections saw in its conv."""
        sender = id.rsplit("-", 1)[0]
        req = self.senders[sender].requests[id]
        conv = self.conv_of(sender, req)
        seqs = {f["seq"] for f in by_key.get((sender, id), [])}
        seen = []
        conns = [c for to in self.targets(sender, req)
                 for c in self.recipients[to].connections
                 + ([self.final[to]] if to in self.final else [])]
        for c in conns:
            got = sorted({f["seq"] for f in c.msgs(conv)})
            seen.append("%r (closed %s): %d seqs %s..%s" % (
                c, c.close_code, len(got), got[:1], got[-1:]))
        return "%s (%s seq %s): %s" % (id, conv, sorted(seqs) or "unknown", "; ".join(seen))

    def _received(self, user, final=True):
        """{(from, id)} of the msgs that reached user's devices."""
        frames = self.recipients[user].msgs()
        if final and user in self.final:
            frames = frames + self.final[user].msgs()
        return {(f["from"], f["id"]) for f in frames}

    def _live_complete(self):
        received = {u: self._received(u, final=False) for u in self.recipients}
        return all(key in received[to] for key, req in self.accepted().items()
                   for to in self.targets(key[0], req))

    async def finish(self, timeout=20.0):
        """Stops making new requests; waits until every one is accepted
        (retried as needed) and, bounded and without failing, until the live
        connections got everything (the workers have recovered: a final
        check during a consumer group rebalance would only measure that);
        then stops every device."""
        self.stop_generating()
        try:
            await self.wait(self._all_answered, timeout,
                            "answer \"sent\" to every request after recovery")
        except AssertionError:
            unanswered = {s.user: sorted(s.outbox)[:5]
                          for s in self.senders.values() if s.outbox}
            raise AssertionError("requests never answered \"sent\" after recovery: "
                                 "%s; %s" % (unanswered, self.summary())) from None
        with contextlib.suppress(AssertionError):      # verify() tells
            await self.wait(self._live_complete, LIVE_SETTLE, "live delivery")
        for d in self._devices():
            await d.stop()

    async def final_check(self, timeout=30.0):
        """Connects every recipient once more (a new device) and collects
        the pending push until every accepted message to it arrived that
        its Reader did not acknowledge."""
        accepted = self.accepted()
        for user, reader in self.recipients.items():
            acked = {(f["from"], f["id"]) for f in reader.msgs()
                     if f["seq"] <= reader.prefix(f["conv"])}
            want = {(s, id) for (s, id), req in accepted.items()
                    if user in self.targets(s, req) and (s, id) not in acked}
            # through the node its Reader used last (another may be gone)
            c = await self.stack.connect(user, "final-check", node=(
                reader.connections[-1].node if reader.connections else None))
            try:
                await c.wait_until(
                    lambda: want <= {(f["from"], f["id"]) for f in c.msgs()},
                    timeout, "pending push of %d messages" % len(want))
                await asyncio.sleep(0.5)           # anything more would show
            except AssertionError as e:
                self.final_incomplete[user] = str(e)[:300]   # verify() tells
            finally:
                await c.close()
            self.final[user] = c

    def verify(self, allow_new_mid_on_retry=False):
        """The guarantees of docs/PROTOCOL.md section 5 over every accepted send:
        delivered to its recipient (live or by the final pending push) with
        its fields, under one mid and one seq everywhere; no two messages
        under one seq; every connection saw each message of a conversation
        once, in seq order, and every device in seq order over its
        reconnects (a repeat on a new connection is allowed); the final
        push of each conversation is gapless from above what its recipient
        acknowledged; receipts rise on each connection and say only what
        was acknowledged.
        allow_new_mid_on_retry: a retry may be answered with a fresh mid
        while Redis is down (INTERNALS.md); the kept one is the delivered."""
        print("traffic:", self.summary())
        problems = []
        for s in self.senders.values():
            if s.errors:
                problems.append("%s got errors: %s" % (s.user, s.errors[:3]))
            if s.stalls and not s.retry_stalled:
                problems.append("%s: %d sends unanswered for %.0fs on an open "
                                "connection (chat_kafka_timeout, 5s by default, "
                                "bounds the answer): %s" % (s.user, len(s.stalls),
                                                            s.stall, s.stalls[:5]))

        observers = [c for d in self._devices() for c in d.connections] \
            + list(self.final.values())
        all_msgs = [f for c in observers for f in c.msgs()]
        by_key, seq_of_mid, mid_of_seq = {}, {}, {}
        for f in all_msgs:
            by_key.setdefault((f["from"], f["id"]), []).append(f)
            seq_of_mid.setdefault(f["mid"], set()).add(f["seq"])
            mid_of_seq.setdefault((f["conv"], f["seq"]), set()).add(f["mid"])
        for mid, seqs in seq_of_mid.items():
            if len(seqs) > 1:
                problems.append("mid %s under seqs %s" % (mid, sorted(seqs)))
        for (conv, seq), mids in mid_of_seq.items():
            if len(mids) > 1:
                problems.append("%s seq %d carries mids %s" % (conv, seq, sorted(mids)))

        lost = []
        received = {u: self._received(u) for u in self.recipients}
        for (sender, id), req in self.accepted().items():
            mids = self.senders[sender].sent[id]
            if any((sender, id) not in received[to] for to in self.targets(sender, req)):
                lost.append(id)
                continue
            copies = by_key[(sender, id)]
            delivered = {f["mid"] for f in copies}
            if len(delivered) > 1:
                problems.append("%s delivered under mids %s" % (id, sorted(delivered)))
            if not allow_new_mid_on_retry and set(mids) != delivered:
                problems.append("%s: \"sent\" said mid %s, delivered as %s"
                                % (id, sorted(set(mids)), sorted(delivered)))
            expect = {"conv": self.conv_of(sender, req), "from": sender,
                      "body": req["body"]}
            expect.update({k: req[k] for k in ("to", "group") if k in req})
            wrong = [f for f in copies
                     if {k: f.get(k) for k in expect} != expect]
            if wrong:
                problems.append("%s delivered as %s, expected %s" % (id, wrong[0], expect))
        if lost:
            problems.append("%d accepted messages never delivered: %s"
                            % (len(lost), lost[:10]))
            for id in lost[:3]:
                problems.append("  " + self._whereabouts(id, by_key))
            for user, why in self.final_incomplete.items():
                problems.append("  final check of %s ended early: %s" % (user, why))

        problems += self._order_problems() + self._receipt_problems()
        assert not problems, "\n".join(problems[:30])

    def _order_problems(self):
        """Every connection strictly in order, every device in order over
        its reconnects; each final push gapless from at most one above
        what its Reader acknowledged."""
        problems = []
        for d in self._devices():
            for c in d.connections:
                problems += connection_order_problems(c.frames, repr(c))
            problems += device_order_problems(d.connections, "%s/%s" % (d.user, d.device))
        for user, c in self.final.items():
            problems += connection_order_problems(c.frames, repr(c))
            by_conv = {}
            for f in c.frames:
                if f.get("type") in SEQ_FRAMES and "seq" in f:
                    by_conv.setdefault(f["conv"], []).append(f["seq"])
            for conv, seqs in by_conv.items():
                start = self.recipients[user].prefix(conv) + 1
                if seqs[0] > start or seqs != list(range(seqs[0], seqs[0] + len(seqs))):
                    problems.append("%r %s: final push %s, expected gapless from "
                                    "at most %d" % (c, conv, seq_runs(seqs)[:300], start))
        return problems

    def _receipt_problems(self):
        """Receipts reach the senders, and each says what a Reader
        acknowledged: no watermark above what was acked."""
        problems, got = [], 0
        for r in self.recipients.values():
            if r.errors:
                problems.append("%s got errors: %s" % (r.user, r.errors[:3]))
        for s in self.senders.values():
            for f in (f for c in s.connections for f in c.frames):
                if f.get("type") != "receipt":
                    continue
                got += 1
                reader = self.recipients.get(f.get("by"))
                if reader is None or f["seq"] not in reader.acked.get(f["conv"], ()):
                    problems.append("%s got receipt %s, not one its reader sent "
                                    "(%s)" % (s.user, f, reader and
                                              seq_runs(reader.acked.get(f["conv"], []))))
        if not got and any(r.acked for r in self.recipients.values()):
            problems.append("no receipt reached a sender: %s" % self.summary())
        return problems[:10]

    async def abort(self):
        for d in self._devices():
            if d.task and not d.task.done():
                with contextlib.suppress(Exception):
                    await d.stop()

    def summary(self):
        live = {u: self._received(u, final=False) for u in self.recipients}
        accepted = self.accepted()
        return ("%d accepted, %d reached a recipient only by the final "
                "pending push, %d receipts sent, %d unavailable answers, slowest "
                "answer %s, reconnects %s" % (
                    len(accepted),
                    sum(key not in live[to] for key, req in accepted.items()
                        for to in self.targets(key[0], req)),
                    sum(r.n for r in self.recipients.values()),
                    len(self.unavailable()),
                    max(s.slowest for s in self.senders.values()),
                    {d.user: len(d.connections) - 1 for d in self._devices()}))


async def traffic_through(stack, fault, before=3.0, after=3.0, **traffic_kw):
    """Runs a Traffic for `before` seconds, then `await fault(traffic)`, then
    `after` more seconds; then finish() and final_check(). Returns (traffic,
    what fault returned); the caller asserts, then calls traffic.verify()."""
    traffic = Traffic(stack, **traffic_kw)
    try:
        await traffic.start()
        await asyncio.sleep(before)
        traffic.raise_device_errors()
        result = await fault(traffic)
        await asyncio.sleep(after)
        traffic.raise_device_errors()
        await traffic.finish()
        await traffic.final_check()
    finally:
        await traffic.abort()
    return traffic, result
