"""nginx runner, JWT builders and key generation for the integration tests.

Fixtures that use these live in conftest.py; test files import the helpers
directly (pytest puts this directory on sys.path).
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import jwt
import pytest

REPO = Path(__file__).resolve().parents[2]
NGINX = "/usr/sbin/nginx"
SECRET = secrets.token_urlsafe(32)      # this run's, no fixed secret ships
DEFAULT_AUTH = "chat_jwt_secret %s;" % SECRET
LOG_PROBLEMS = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
                "[alert]", "[emerg]")
SANITIZED = bool(os.environ.get("CHAT_PRELOAD", "").strip())
# the level of every error_log, when set: scripts/test's integration-debug
# step runs a few files at "debug" against the --with-debug build
ERROR_LOG_LEVEL = os.environ.get("CHAT_ERROR_LOG_LEVEL", "").strip()
START_TIMEOUT = 15.0 if SANITIZED else 5.0
STOP_TIMEOUT = 10.0 if SANITIZED else 5.0


# ---------------------------------------------------------------- nginx

def module_path():
    path = os.environ.get("CHAT_MODULE") or str(REPO / "build" / "ngx_chat_module.so")
    if not os.path.isfile(path):
        pytest.fail("ngx_chat_module not found at %s: build it with `make` "
                    "(or point CHAT_MODULE at it)" % path, pytrace=False)
    return os.path.abspath(path)  # nginx resolves relative paths from -p


def nginx_env():
    env = dict(os.environ)
    preload = os.environ.get("CHAT_PRELOAD", "").strip()
    if preload:
        env["LD_PRELOAD"] = preload
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1"
    return env


def with_log_level(text):
    """An nginx config with each error_log at ERROR_LOG_LEVEL, when set."""
    if not ERROR_LOG_LEVEL:
        return text
    return re.sub(r"^(\s*error_log\s+\S+)(\s+[a-z]+)?;",
                  r"\1 %s;" % ERROR_LOG_LEVEL, text, flags=re.M)


class Resp:
    """A minimal RESP client: enough for commands and pub/sub reads."""

    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exactly(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError(line)

    def close(self):
        self.sock.close()


def rkey(prefix, ident):
    """A Redis key or channel of an id, "<prefix>{<id>}" (common/chat_keys.h):
    the braces are Redis Cluster's hash tag."""
    return "%s{%s}" % (prefix, ident)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONF = """\
user root;
daemon off;
master_process on;
worker_processes 2;
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
load_module {module};

events {{ worker_connections 1024; }}

http {{
    log_format chatlog '$remote_addr $chat_user $chat_device $status $uri';
    access_log {dir}/access.log chatlog;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    {http}

    server {{
        listen 127.0.0.1:{port};

        location /chat {{
            chat on;
            {auth}
            {location}
        }}

        location / {{ return 404; }}
    }}
}}
"""


def pids_with_parent(ppid):
    """Pids of the live processes whose parent is ppid (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == ppid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


class Nginx:
    """One nginx (master + 2 workers) in its own directory on a free port."""

    def __init__(self, directory, location="", http="", auth=None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        self.location, self.http = location, http
        self.auth = DEFAULT_AUTH if auth is None else auth
        self.port = None
        self.proc = None
        self.conf = self.dir / "nginx.conf"
        self.error_log = self.dir / "error.log"
        self.access_log = self.dir / "access.log"
        self.stderr_path = self.dir / "nginx.stderr"

    def write_conf(self, port):
        self.conf.write_text(with_log_level(CONF.format(
            dir=self.dir, module=module_path(), port=port, http=self.http,
            auth=self.auth, location=self.location)))

    def command(self, *extra):
        return [NGINX, "-p", str(self.dir), "-c", str(self.conf),
                "-e", str(self.error_log), *extra]

    def test_config(self):
        """Runs `nginx -t`; returns (exit code, stderr)."""
        self.write_conf(self.port or free_port())
        r = subprocess.run(self.command("-t"), env=nginx_env(),
                           capture_output=True, text=True, timeout=30)
        return r.returncode, r.stderr

    def start(self):
        for _ in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self.write_conf(self.port)
            with open(self.stderr_path, "ab") as err:
                self.proc = subprocess.Popen(self.command(), env=nginx_env(),
                                             stdin=subprocess.DEVNULL,
                                             stdout=err, stderr=err)
            if self._wait_listening():
                return self
            if "Address already in use" not in self.log_text():
                break
        self.stop()
        pytest.fail("nginx did not start:\n" + self.log_text()[-3000:],
                    pytrace=False)

    def _wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    @property
    def master_pid(self):
        return self.proc.pid

    def worker_pids(self):
        return pids_with_parent(self.proc.pid)

    def wait_workers(self, n=2, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) >= n:
                return pids
            time.sleep(0.05)
        raise AssertionError("nginx has %d worker(s), expected %d"
                             % (len(self.worker_pids()), n))

    def reload(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self):
        """Graceful stop (SIGQUIT), then SIGKILL of master and workers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        children = self.worker_pids()
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            children = sorted(set(children) | set(self.worker_pids()))
            self.proc.kill()
            self.proc.wait(5)
        for pid in children:  # workers orphaned by a killed master
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log_text(self):
        text = ""
        for path in (self.error_log, self.stderr_path):
            try:
                text += path.read_text(errors="replace")
            except FileNotFoundError:
                pass
        return text

    def log_size(self):
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def log_problems(self, since=0):
        """Lines of error.log (from byte offset since) and nginx's stderr
        that show a sanitizer report, an alert or an emerg."""
        lines = []
        if self.error_log.exists():
            with open(self.error_log, "rb") as f:
                f.seek(since)
                lines += f.read().decode(errors="replace").splitlines()
        if self.stderr_path.exists():
            lines += self.stderr_path.read_text(errors="replace").splitlines()
        return [l for l in lines if any(p in l for p in LOG_PROBLEMS)]


def fail_on_log_problems(problems, what):
    if problems:
        pytest.fail("%s logged problems:\n%s" % (what, "\n".join(problems[:50])),
                    pytrace=False)


# ---------------------------------------------------------------- tokens

def now():
    return int(time.time())


def token(sub="alice", *, exp_in=300, key=SECRET, alg="HS256", drop=(),
          headers=None, **claims):
    """A JWT signed with key: sub, iat now, exp now+exp_in, then claims
    (None values removed), then the names in drop removed."""
    t = now()
    payload = {"sub": sub, "iat": t, "exp": t + exp_in}
    payload.update(claims)
    payload = {k: v for k, v in payload.items()
               if v is not None and k not in drop}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header, payload, hmac_key=None, digest=hashlib.sha256,
              signature=b""):
    """A JWT built by hand: header and payload as given, signed with HMAC
    (digest) over hmac_key when given, else carrying signature as is."""
    signing_input = b64url(json.dumps(header)) + "." + b64url(json.dumps(payload))
    if hmac_key is not None:
        if isinstance(hmac_key, str):
            hmac_key = hmac_key.encode()
        signature = hmac.new(hmac_key, signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(signature)


def claims(sub="alice", exp_in=300, **extra):
    t = now()
    payload = {"sub": sub, "iat": t, "exp": t + exp_in}
    payload.update(extra)
    return payload


# ---------------------------------------------------------------- keys

def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True,
                   timeout=60)


def make_keypair(directory, kind):
    """kind 'rsa' (2048 bits) or 'ec' (P-256). Returns (private PEM bytes,
    path of the public PEM)."""
    directory = Path(directory)
    priv, pub = directory / ("%s-private.pem" % kind), directory / ("%s-public.pem" % kind)
    if kind == "rsa":
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                 "rsa_keygen_bits:2048", "-out", str(priv))
    else:
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", str(priv))
    _openssl("pkey", "-in", str(priv), "-pubout", "-out", str(pub))
    return priv.read_bytes(), pub
