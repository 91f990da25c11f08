"""chat-api alone (docs/PROTOCOL.md 6): every endpoint and every error,
asked directly with X-Chat-User as nginx names the user.

A store seeded through the store API (build/chat-api-seed), a redis-server
on a free port and chat-api on another, all started here and stopped at
the end. The store is SQLite, or with CHAT_STORE=postgres a PostgreSQL
cluster of the file's own (scripts/pg) on a third port. CHAT_API_BIN (default build/chat-api) names the binary under
test, CHAT_API_ASAN_OPTIONS its ASAN_OPTIONS (the ASan run's leak check).
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import REPO, free_port
from stack import pg_data_dir

KEY = "k" * 40
MEDIA_MAX = 4096
URL_TTL = 3600
MEDIA_ID = "0123456789abcdef0123456789abcdef"
START_TIMEOUT = 15.0


def api_binary():
    return os.environ.get("CHAT_API_BIN") or str(REPO / "build" / "chat-api")


def seed_binary():
    return str(REPO / "build" / "chat-api-seed")


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Api:
    """The processes of one test file: redis-server and chat-api."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.db = self.dir / "chat.db"
        self.media = self.dir / "media"
        self.redis_port = free_port()
        self.port = free_port()
        self.pg_port = free_port() if os.environ.get("CHAT_STORE") == "postgres" else None
        self.pg_dir = pg_data_dir(self.dir / "postgres") if self.pg_port else None
        self.store = ("postgres:host=127.0.0.1 port=%d dbname=chat user=postgres"
                      % self.pg_port if self.pg_port else "sqlite:%s" % self.db)
        self.now = int(time.time() * 1000)
        self.redis = None
        self.api = None

    def seed(self, lines, ok=True):
        out = subprocess.run([seed_binary(), self.store],
                             input="\n".join(lines) + "\n", text=True,
                             capture_output=True, timeout=30)
        assert (out.returncode == 0) == ok, out.stderr

    def pg(self, *args):
        out = subprocess.run([str(REPO / "scripts" / "pg"), *args], capture_output=True,
                             text=True, timeout=90)
        assert out.returncode == 0, out.stderr

    def start_store(self):
        """The PostgreSQL cluster and its database (nothing for SQLite)."""
        if not self.pg_port:
            return
        self.pg("start", str(self.pg_dir), str(self.pg_port))
        out = subprocess.run(["psql", "-X", "-q", "-d", "host=127.0.0.1 port=%d user=postgres "
                              "dbname=postgres" % self.pg_port, "-c", "CREATE DATABASE chat"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr

    def stop_store(self):
        if self.pg_port:
            self.pg("stop", str(self.pg_dir))

    def redis_cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.redis_port)]
                              + list(args), capture_output=True, text=True,
                              timeout=10).stdout.strip()

    def start_redis(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
             str(self.dir)], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        wait_for(lambda: self.redis_cli("ping") == "PONG", START_TIMEOUT,
                 "redis-server")

    def stop_redis(self):
        if self.redis and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=10)

    def log(self):
        return (self.dir / "chat-api.log").read_text()

    def start_api(self):
        env = dict(os.environ, API_KEY=KEY)
        if os.environ.get("CHAT_API_ASAN_OPTIONS"):
            env["ASAN_OPTIONS"] = os.environ["CHAT_API_ASAN_OPTIONS"]
        self.log_file = open(self.dir / "chat-api.log", "w")
        self.api = subprocess.Popen(
            [api_binary(), "--listen", "127.0.0.1:%d" % self.port,
             "--store", self.store,
             "--redis", "127.0.0.1:%d" % self.redis_port,
             "--media-dir", str(self.media), "--media-key", "env:API_KEY",
             "--media-max", str(MEDIA_MAX), "--media-url-ttl", str(URL_TTL),
             "--media-types", "image/* application/pdf", "--threads", "2"],
            stderr=self.log_file, env=env)
        wait_for(lambda: "chat-api: ready" in self.log()
                 or self.api.poll() is not None, START_TIMEOUT, "chat-api")
        assert self.api.poll() is None, self.log()

    def stop_api(self):
        """SIGTERM: a clean stop, exit status 0."""
        if self.api is None or self.api.poll() is not None:
            return None
        self.api.send_signal(signal.SIGTERM)
        rc = self.api.wait(timeout=10)
        self.log_file.close()
        return rc

    def request(self, method, path, user="alice", body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if user is not None:
            h["X-Chat-User"] = user
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, r, data

    def get(self, path, user="alice", **kw):
        status, r, data = self.request("GET", path, user, **kw)
        assert r.getheader("Content-Type") == "application/json", (status, data)
        return status, json.loads(data)


def seed_lines(now):
    t = now - 60000
    return [
        # a DM: alice read up to 1; bob's seq 4 has expired
        "msg dm:alice:bob 1 m01 alice a1 %d 0 hello bob" % (t + 1),
        "msg dm:alice:bob 2 m02 bob b1 %d 0 hi alice" % (t + 2),
        "msg dm:alice:bob 3 m03 alice a2 %d 0 how are you" % (t + 3),
        "msg dm:alice:bob 4 m04 bob b2 %d %d gone" % (t + 4, now - 1000),
        "media %s bob image/png 3 %d" % (MEDIA_ID, t),
        "mmsg dm:alice:bob 5 m05 bob b3 %d 0 %s image/png 3 look"
        % (t + 5, MEDIA_ID),
        "mark dm:alice:bob alice read 1",
        "mark dm:alice:bob alice delivered 3",
        # a group: carol removed at seq 3, bob wrote after it
        "group grp:team Team %d" % t,
        'event grp:team 1 e01 alice %d {"event":"created","members":'
        '["alice","bob","carol"]}' % t,
        "join grp:team alice 1 1",
        "join grp:team bob 0 1",
        "join grp:team carol 0 1",
        "msg grp:team 2 m06 alice a3 %d 0 hi all" % (t + 6),
        'event grp:team 3 e02 alice %d {"event":"removed","members":'
        '["carol"]}' % (t + 7),
        "leave grp:team carol 3",
        "msg grp:team 4 m07 bob b4 %d 0 carol is gone" % (t + 10),
        "ttl grp:team 86400",
    ]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    for b in (api_binary(), seed_binary()):
        if not os.access(b, os.X_OK):
            pytest.fail("%s is missing: make programs" % b)
    a = Api(tmp_path_factory.mktemp("chat-api"))
    rc = None
    try:
        a.start_store()
        a.seed(seed_lines(a.now))
        a.start_redis()
        a.start_api()
        yield a
    finally:
        rc = a.stop_api()
        a.stop_redis()
        a.stop_store()
    assert rc in (0, None), a.log()
    for problem in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert problem not in a.log()


def seqs(body):
    return [m["seq"] for m in body["messages"]]


def check_url(url, media_id):
    """A URL of this server: signed with the key, valid URL_TTL from now."""
    path, query = url.split("?")
    assert path == "/media/" + media_id
    q = dict(p.split("=") for p in query.split("&"))
    expiry = int(q["e"])
    assert abs(expiry - (time.time() + URL_TTL)) < 30
    mac = hmac.new(KEY.encode(), ("%s.%d" % (media_id, expiry)).encode(),
                   hashlib.sha256).digest()
    assert q["s"] == base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


# ------------------------------------------------------------- the user

def test_no_user_is_401(api):
    status, body = api.get("/api/conversations", user=None)
    assert status == 401 and body["error"] == "unauthorized"
    assert body["message"]


def test_a_bad_user_id_is_401(api):
    status, body = api.get("/api/conversations", user="not a user")
    assert status == 401 and body["error"] == "unauthorized"


def test_unknown_path_is_404(api):
    for path in ("/api/nope", "/api/conversations/", "/api/groups/",
                 "/api/conversations/dm:alice:bob/messages/x", "/"):
        status, body = api.get(path)
        assert status == 404 and body["error"] == "not_found", path


def test_wrong_method_is_405_with_allow(api):
    for method, path, allow in (("POST", "/api/conversations", "GET, HEAD"),
                                ("DELETE", "/api/groups/team", "GET, HEAD"),
                                ("PUT", "/api/presence", "GET, HEAD"),
                                ("GET", "/api/media", "POST")):
        status, r, data = api.request(method, path)
        assert status == 405, (method, path)
        assert r.getheader("Allow") == allow
        assert r.getheader("Content-Type") == "application/json"
        assert json.loads(data)["error"] == "method_not_allowed"


def test_one_connection_serves_many_requests(api):
    """nginx's keepalive upstream: answers, errors included, keep it open."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    for path, user, status in (("/api/groups/team", "alice", 200),
                               ("/api/nope", "alice", 404),
                               ("/api/conversations", None, 401),
                               ("/api/groups/team", "dave", 403),
                               ("/api/conversations", "alice", 200)):
        conn.request("GET", path, headers={"X-Chat-User": user} if user
                     else {})
        r = conn.getresponse()
        r.read()
        assert r.status == status, path
        assert (r.getheader("Connection") or "").lower() != "close", path
    sock = conn.sock
    for ctype, status in (("text/plain", 415), ("image/png", 201)):
        conn.request("POST", "/api/media", body=b"abc",
                     headers={"X-Chat-User": "alice", "Content-Type": ctype})
        r = conn.getresponse()
        r.read()
        assert r.status == status
    conn.request("HEAD", "/api/groups/team", headers={"X-Chat-User": "bob"})
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b""
    assert conn.sock is sock
    conn.close()


# ------------------------------------------------- the conversation list

def test_conversations_most_recent_first(api):
    status, body = api.get("/api/conversations")
    assert status == 200 and body["more"] is False
    team, dm = body["conversations"]

    assert team["conv"] == "grp:team" and team["group"] == "team"
    assert team["name"] == "Team" and "with" not in team
    assert team["last"]["mid"] == "m07" and "type" not in team["last"]
    assert team["unread"] == 1 and team["ttl"] == 86400

    # seq 4 expired: not the last, not unread; alice's own not counted
    assert dm["conv"] == "dm:alice:bob" and dm["with"] == "bob"
    assert "group" not in dm and "name" not in dm
    assert dm["last"]["seq"] == 5 and dm["last"]["to"] == "alice"
    assert dm["unread"] == 2
    assert (dm["delivered_seq"], dm["read_seq"], dm["ttl"]) == (3, 1, 0)
    check_url(dm["last"]["media"]["url"], MEDIA_ID)


def test_conversations_paging(api):
    status, first = api.get("/api/conversations?limit=1")
    assert status == 200 and first["more"] is True
    assert [c["conv"] for c in first["conversations"]] == ["grp:team"]

    ts = first["conversations"][0]["last"]["ts"]
    status, rest = api.get("/api/conversations?limit=1&before_ts=%d" % ts)
    assert status == 200 and rest["more"] is False
    assert [c["conv"] for c in rest["conversations"]] == ["dm:alice:bob"]


def test_conversations_limit_above_max_counts_as_max(api):
    status, body = api.get("/api/conversations?limit=100000")
    assert status == 200 and len(body["conversations"]) == 2


def test_conversations_bad_parameters(api):
    for q in ("limit=0", "limit=-1", "limit=abc", "limit=1.5", "limit=",
              "before_ts=x", "before_ts=-5"):
        status, body = api.get("/api/conversations?" + q)
        assert status == 400 and body["error"] == "bad_request", q


def test_a_removed_member_does_not_list_the_group(api):
    status, body = api.get("/api/conversations", user="carol")
    assert status == 200 and body["conversations"] == []


# ---------------------------------------------------------- the history

def test_history_oldest_first_without_the_expired(api):
    status, body = api.get("/api/conversations/dm:alice:bob/messages")
    assert status == 200 and body["conv"] == "dm:alice:bob"
    assert seqs(body) == [1, 2, 3, 5] and body["more"] is False
    assert all("type" not in m for m in body["messages"])
    assert body["messages"][0] == {
        "mid": "m01", "conv": "dm:alice:bob", "seq": 1, "from": "alice",
        "to": "bob", "body": "hello bob", "ts": api.now - 60000 + 1,
        "id": "a1"}
    media = body["messages"][3]["media"]
    assert media["mime"] == "image/png" and media["size"] == 3
    check_url(media["url"], MEDIA_ID)


def test_history_paging(api):
    base = "/api/conversations/dm:alice:bob/messages"
    status, body = api.get(base + "?limit=2")
    assert seqs(body) == [3, 5] and body["more"] is True
    status, body = api.get(base + "?limit=2&before_seq=3")
    assert seqs(body) == [1, 2] and body["more"] is False
    status, body = api.get(base + "?after_seq=1&limit=2")
    assert seqs(body) == [2, 3] and body["more"] is True
    status, body = api.get(base + "?after_seq=3")
    assert seqs(body) == [5] and body["more"] is False
    status, body = api.get(base + "?after_seq=0&limit=3")
    assert seqs(body) == [1, 2, 3] and body["more"] is True
    status, body = api.get(base + "?limit=1000")
    assert status == 200 and seqs(body) == [1, 2, 3, 5]


def test_history_percent_encoded_conv(api):
    status, body = api.get("/api/conversations/dm%3Aalice%3Abob/messages")
    assert status == 200 and seqs(body) == [1, 2, 3, 5]


def test_history_bad_parameters(api):
    base = "/api/conversations/dm:alice:bob/messages?"
    for q in ("before_seq=3&after_seq=1", "limit=0", "limit=x",
              "before_seq=abc", "after_seq=-1", "before_seq=0"):
        status, body = api.get(base + q)
        assert status == 400 and body["error"] == "bad_request", q


def test_history_malformed_conv_is_400(api):
    for conv in ("dm:bob:alice", "dm:alice", "nope", "grp:", "grp:a$b",
                 "dm:alice:alice"):
        status, body = api.get("/api/conversations/%s/messages" % conv)
        assert status == 400 and body["error"] == "bad_request", conv


def test_history_non_member_is_403(api):
    status, body = api.get("/api/conversations/dm:alice:bob/messages",
                           user="dave")
    assert status == 403 and body["error"] == "forbidden"
    status, body = api.get("/api/conversations/grp:team/messages",
                           user="dave")
    assert status == 403 and body["error"] == "forbidden"


def test_history_unknown_group_is_404(api):
    status, body = api.get("/api/conversations/grp:nosuch/messages")
    assert status == 404 and body["error"] == "not_found"


def test_history_dm_without_messages_is_empty(api):
    status, body = api.get("/api/conversations/dm:alice:zoe/messages")
    assert status == 200
    assert body == {"conv": "dm:alice:zoe", "messages": [], "more": False}


def test_history_of_a_removed_member_ends_at_the_removal(api):
    status, body = api.get("/api/conversations/grp:team/messages",
                           user="carol")
    assert status == 200 and seqs(body) == [2]
    status, body = api.get("/api/conversations/grp:team/messages",
                           user="bob")
    assert seqs(body) == [2, 4]
    assert body["messages"][1]["group"] == "team"


def test_a_new_write_shows_at_once(api):
    """Each read sees what was committed before it: no handle keeps an old
    snapshot of the store (every thread's, whichever answers)."""
    conv = "/api/conversations/dm:xena:yann/messages"
    for _ in range(4):
        assert seqs(api.get(conv, user="xena")[1]) == []
        assert api.get("/api/conversations", user="yann")[1]["conversations"] == []
    api.seed(["msg dm:xena:yann 1 m90 yann y1 %d 0 new" % api.now])
    for _ in range(4):
        assert seqs(api.get(conv, user="xena")[1]) == [1]
        rows = api.get("/api/conversations", user="yann")[1]["conversations"]
        assert [r["conv"] for r in rows] == ["dm:xena:yann"]


# ------------------------------------------------------------- groups

def test_group_roster(api):
    status, body = api.get("/api/groups/team")
    assert status == 200
    assert body == {"group": "team", "conv": "grp:team", "name": "Team",
                    "admins": ["alice"], "members": ["alice", "bob"],
                    "created_ts": api.now - 60000, "ttl": 86400}


def test_group_former_member_may_read_it(api):
    status, body = api.get("/api/groups/team", user="carol")
    assert status == 200 and body["members"] == ["alice", "bob"]


def test_group_errors(api):
    status, body = api.get("/api/groups/team", user="dave")
    assert status == 403 and body["error"] == "forbidden"
    status, body = api.get("/api/groups/nosuch")
    assert status == 404 and body["error"] == "not_found"
    status, body = api.get("/api/groups/a$b")
    assert status == 400 and body["error"] == "bad_request"


# ----------------------------------------------------------- presence

def test_presence(api):
    api.redis_cli("HSET", "chat:p:{bob}", "st", "online", "i:x", "1", "v", "1")
    api.redis_cli("HSET", "chat:p:{carol}", "st", "offline", "ls",
                  "1795318602103", "v", "2")
    # what the script never writes is not trusted into the answer
    api.redis_cli("HSET", "chat:p:{erin}", "st", "offline", "ls", "soon")
    status, body = api.get("/api/presence?users=bob,carol,dave,erin")
    assert status == 200
    assert body == {"presence": [
        {"user": "bob", "status": "online"},
        {"user": "carol", "status": "offline", "last_seen": 1795318602103},
        {"user": "dave", "status": "offline"},
        {"user": "erin", "status": "offline"}]}


def test_presence_500_users(api):
    users = ",".join("u%d" % i for i in range(500))
    status, body = api.get("/api/presence?users=" + users)
    assert status == 200 and len(body["presence"]) == 500

    # the longest query: 500 ids of 64 bytes, a URL of 32 KiB
    users = ",".join("%064d" % i for i in range(500))
    status, body = api.get("/api/presence?users=" + users)
    assert status == 200 and len(body["presence"]) == 500
    assert body["presence"][499] == {"user": "%064d" % 499,
                                     "status": "offline"}


def test_presence_bad_users(api):
    for q in ("", "users=", "users=bob,,carol", "users=a$b",
              "users=" + ",".join("u%d" % i for i in range(501))):
        status, body = api.get("/api/presence?" + q)
        assert status == 400 and body["error"] == "bad_request", q[:40]


# -------------------------------------------------------------- media

def tmp_files(api):
    return list((api.media / "tmp").iterdir())


def test_media_upload(api):
    data = bytes(range(256)) * 3
    status, r, raw = api.request("POST", "/api/media", body=data,
                                 headers={"Content-Type":
                                          "Image/PNG; charset=binary"})
    assert status == 201, raw
    body = json.loads(raw)
    assert body["mime"] == "image/png" and body["size"] == len(data)
    assert len(body["id"]) == 32
    check_url(body["url"], body["id"])

    path = api.media / body["id"][:2] / body["id"]
    stored = path.read_bytes()
    assert stored[256:] == data and b"image/png" in stored[:256]
    assert tmp_files(api) == []
    # nginx's workers, another user, serve it: readable by all, written by
    # chat-api alone
    assert stat.S_IMODE(path.stat().st_mode) == 0o644, oct(path.stat().st_mode)

    # the store has it, with the type and size a send will take from it
    api.seed(["use %s image/png %d" % (body["id"], len(data))])
    api.seed(["use %s image/png %d" % (body["id"], len(data) + 1)], ok=False)
    api.seed(["use %s image/png 1" % ("f" * 32)], ok=False)


def test_media_chunked_upload(api):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    conn.request("POST", "/api/media", body=iter([b"%PDF", b"-1.4"]),
                 headers={"X-Chat-User": "alice",
                          "Content-Type": "application/pdf"},
                 encode_chunked=True)
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    assert r.status == 201 and body["size"] == 8


def test_media_wrong_type_is_415(api):
    for ctype in ("text/plain", "text/html; charset=utf-8", "", "image",
                  "video/mp4"):
        h = {"Content-Type": ctype} if ctype else {}
        status, r, raw = api.request("POST", "/api/media", body=b"x",
                                     headers=h)
        assert status == 415, ctype
        assert json.loads(raw)["error"] == "unsupported_media_type"


def test_media_refusals_are_read_after_the_whole_body(api):
    """nginx sends a body whole before it reads the answer: an upload
    refused on its headers still has its body read (and dropped), so that
    the answer arrives instead of a broken pipe (nginx's 502)."""
    big = b"q" * (2 * 1024 * 1024)
    for ctype, user, status in (("text/plain", "alice", 415),
                                ("image/png", "alice", 413),
                                ("image/png", None, 401)):
        status_got, r, raw = api.request("POST", "/api/media", user=user,
                                         body=big,
                                         headers={"Content-Type": ctype})
        assert status_got == status, ctype
        assert r.getheader("Content-Type") == "application/json"
    assert tmp_files(api) == []


def test_media_too_large_is_413(api):
    status, r, raw = api.request("POST", "/api/media",
                                 body=b"x" * (MEDIA_MAX + 1),
                                 headers={"Content-Type": "image/png"})
    assert status == 413 and json.loads(raw)["error"] == "too_large"
    assert tmp_files(api) == []


def test_media_too_large_streamed_is_413(api):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    conn.request("POST", "/api/media",
                 body=iter([b"y" * 1000] * (MEDIA_MAX // 1000 + 2)),
                 headers={"X-Chat-User": "alice",
                          "Content-Type": "image/png"},
                 encode_chunked=True)
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    assert r.status == 413 and body["error"] == "too_large"
    wait_for(lambda: tmp_files(api) == [], 5, "the temporary file removed")


def test_media_exactly_the_limit(api):
    status, r, raw = api.request("POST", "/api/media",
                                 body=b"z" * MEDIA_MAX,
                                 headers={"Content-Type": "image/gif"})
    assert status == 201 and json.loads(raw)["size"] == MEDIA_MAX


def test_media_empty_is_400(api):
    status, r, raw = api.request("POST", "/api/media", body=b"",
                                 headers={"Content-Type": "image/png"})
    assert status == 400 and json.loads(raw)["error"] == "bad_request"
    assert tmp_files(api) == []


def test_media_needs_a_user(api):
    status, r, raw = api.request("POST", "/api/media", user=None, body=b"x",
                                 headers={"Content-Type": "image/png"})
    assert status == 401


def test_concurrent_clients(api):
    """More clients than threads: each answer whole and right (the slots
    of store handles and Redis connections are shared by turns)."""
    paths = ["/api/conversations", "/api/groups/team",
             "/api/conversations/dm:alice:bob/messages?limit=2",
             "/api/presence?users=bob,carol", "/api/nope"]
    problems = []

    def client(n):
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=20)
        for i in range(60):
            path = paths[(n + i) % len(paths)]
            conn.request("GET", path, headers={"X-Chat-User": "alice"})
            r = conn.getresponse()
            body = json.loads(r.read())
            want = 404 if path == "/api/nope" else 200
            if r.status != want or (want == 200 and "error" in body):
                problems.append((path, r.status, body))
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []


# ------------------------------------------------- Redis down, the end

def test_zz_presence_with_redis_down_is_503(api):
    api.stop_redis()
    status, body = api.get("/api/presence?users=bob")
    assert status == 503 and body["error"] == "unavailable"
    # the rest does not need Redis
    status, body = api.get("/api/groups/team")
    assert status == 200

    # Redis back: presence is served again, on new connections
    api.start_redis()
    for _ in range(4):      # every thread's slot, whichever answers
        status, body = api.get("/api/presence?users=bob")
        assert status == 200
        assert body == {"presence": [{"user": "bob", "status": "offline"}]}
    api.stop_redis()


def test_zz_refuses_a_public_address(api, tmp_path):
    out = subprocess.run([api_binary(), "--listen", "0.0.0.0:1",
                          "--media-key", KEY], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 2 and "127." in out.stderr


def test_every_flag_is_in_the_readme():
    out = subprocess.run([api_binary(), "--help"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0
    flags = [line.split()[0] for line in out.stdout.splitlines()
             if line.startswith("  --")]
    assert len(flags) >= 14, flags
    readme = (REPO / "README.md").read_text()
    section = readme.split("## chat-api\n", 1)[1].split("\n## ", 1)[0]
    for flag in flags:
        if flag not in ("--config", "--help", "--version"):
            assert "flag:    %s " % flag in section, flag
        else:
            assert "`%s`" % flag in section, flag


def test_version_and_bad_flags():
    out = subprocess.run([api_binary(), "--version"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("chat-api ")
    out = subprocess.run([api_binary(), "--threads", "x", "--media-key",
                          KEY], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "--threads" in out.stderr


def test_a_store_that_cannot_open_stops_it_at_start(tmp_path):
    out = subprocess.run([api_binary(), "--listen", "127.0.0.1:0",
                          "--store", "sqlite:%s/no/such/dir/chat.db"
                          % tmp_path, "--media-dir", str(tmp_path / "m"),
                          "--media-key", KEY], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 1
    assert "store:" in out.stderr and "chat-api: ready" not in out.stderr
