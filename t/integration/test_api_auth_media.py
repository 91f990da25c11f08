"""The module's HTTP side of the API (docs/PROTOCOL.md 6): `chat_auth on`
checks the token of /api/ in nginx's access phase and hands the user on to
the upstream in X-Chat-User (a client's own X-Chat-User never gets
through); `chat_media` serves stored media behind signed expiring URLs
(the signature, the stored type, Range, nosniff, Content-Disposition); and
the configuration refuses what cannot work."""

import base64
import hashlib
import hmac
import http.client
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import CONF as HARNESS_CONF
from harness import (DEFAULT_AUTH, Nginx, fail_on_log_problems, module_path,
                     token, with_log_level)

MEDIA_KEY = secrets.token_urlsafe(40)
HEADER_SIZE = 256        # CHAT_MEDIA_HEADER_SIZE

# the harness' nginx up to its server, with the http block's own
# directives, then a server of /api/ and whatever a test adds
CONF = HARNESS_CONF[:HARNESS_CONF.index("    server {{")] + """\
    log_format api '$status "$request" args=$args user=$chat_user';
    access_log {dir}/api.log api;
    {auth}

    upstream chat_api {{
        server 127.0.0.1:{upstream};
        keepalive 4;
    }}

    server {{
        listen 127.0.0.1:{port};

        location /api/ {{
            chat_auth on;
            proxy_pass http://chat_api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Chat-User $chat_user;
            proxy_set_header Authorization "";
        }}

        {server}

        location / {{ return 404; }}
    }}
}}
"""

MEDIA_HTTP = "chat_media_key %s;" % MEDIA_KEY
MEDIA_SERVER = "location /media/ { chat_media media; }"


class ApiNginx(Nginx):
    """An nginx of CONF: /api/ proxied to upstream_port, server added."""

    def __init__(self, directory, upstream_port, http="", server="",
                 auth=DEFAULT_AUTH):
        super().__init__(directory, http=http, auth=auth)
        self.upstream_port, self.server = upstream_port, server
        self.api_log = self.dir / "api.log"

    def write_conf(self, port):
        self.conf.write_text(with_log_level(CONF.format(
            dir=self.dir, module=module_path(), port=port, auth=self.auth,
            http=self.http, server=self.server, upstream=self.upstream_port)))


class Upstream:
    """A stand-in for chat-api that answers every request with what it saw:
    the path and each X-Chat-User header it received."""

    def __init__(self):
        seen = self.seen = []

        class Echo(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                seen.append(self.path)
                body = json.dumps({
                    "path": self.path,
                    "users": self.headers.get_all("X-Chat-User") or [],
                    "authorization": self.headers.get("Authorization"),
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def upstream():
    u = Upstream()
    yield u
    u.close()


@pytest.fixture(scope="module")
def api_nginx(tmp_path_factory, upstream):
    n = ApiNginx(tmp_path_factory.mktemp("api"), upstream.port,
                 http="", server="")
    (n.dir / "media").mkdir()
    n.start()
    yield n
    n.stop()
    fail_on_log_problems(n.log_problems(), "nginx")


@pytest.fixture
def api(api_nginx):
    """The file's nginx; fails the test that made it log a problem."""
    since = api_nginx.log_size()
    yield api_nginx
    fail_on_log_problems(api_nginx.log_problems(since=since), "nginx")


def request(n, method, path, headers=None):
    """(status, headers as a dict of lowercase names, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", n.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def bearer(t):
    return {"Authorization": "Bearer " + t}


def assert_json_error(status, headers, body, want_status, code):
    assert status == want_status, (status, body)
    assert headers["content-type"] == "application/json", headers
    doc = json.loads(body)
    assert doc["error"] == code and isinstance(doc["message"], str) \
        and doc["message"], doc
    assert set(doc) == {"error", "message"}, doc
    return doc


# ---------------------------------------------------------------- chat_auth

def test_no_token_is_401_bearer_with_json(api, upstream):
    before = len(upstream.seen)
    status, headers, body = request(api, "GET", "/api/conversations")
    assert_json_error(status, headers, body, 401, "unauthorized")
    assert headers["www-authenticate"] == "Bearer"
    assert len(upstream.seen) == before     # chat-api never saw it


def test_other_authorization_scheme_is_no_token(api):
    status, headers, body = request(api, "GET", "/api/conversations",
                                    {"Authorization": "Basic YTpi"})
    assert_json_error(status, headers, body, 401, "unauthorized")
    assert headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("bad", [
    pytest.param(lambda: token("alice", key="another-secret-" + "k" * 32),
                 id="wrong_key"),
    pytest.param(lambda: token("alice", exp_in=-120), id="expired"),
    pytest.param(lambda: "not.a.jwt", id="garbage"),
    pytest.param(lambda: token("alice", drop=("exp",)), id="no_exp"),
])
def test_bad_token_is_401_invalid_token(api, upstream, bad):
    before = len(upstream.seen)
    status, headers, body = request(api, "GET", "/api/conversations",
                                    bearer(bad()))
    assert_json_error(status, headers, body, 401, "unauthorized")
    assert headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert len(upstream.seen) == before


def test_keepalive_connection_serves_on_after_a_401(api):
    """The 401 ends its request, not the connection: a POST's body is
    discarded, and the next request on the same connection is answered."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        conn.request("POST", "/api/media", body=b"x" * 5000,
                     headers={"Content-Type": "image/png"})
        r = conn.getresponse()
        assert r.status == 401 and json.loads(r.read())["error"] == "unauthorized"
        assert not r.will_close
        conn.request("GET", "/api/conversations", headers=bearer(token("erin")))
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["users"] == ["erin"]
    finally:
        conn.close()


def test_head_refused_without_body(api):
    status, headers, body = request(api, "HEAD", "/api/conversations")
    assert status == 401 and body == b""
    assert headers["www-authenticate"] == "Bearer"


def test_valid_token_reaches_upstream_as_x_chat_user(api):
    status, _, body = request(api, "GET", "/api/conversations?limit=5",
                              bearer(token("alice")))
    assert status == 200, body
    doc = json.loads(body)
    assert doc["users"] == ["alice"]
    assert doc["path"] == "/api/conversations?limit=5"


@pytest.mark.parametrize("name", ["X-Chat-User", "x-chat-user", "X-CHAT-USER"])
def test_forged_x_chat_user_is_replaced(api, name):
    status, _, body = request(api, "GET", "/api/groups/team",
                              {**bearer(token("bob")), name: "mallory"})
    assert status == 200, body
    assert json.loads(body)["users"] == ["bob"]


def test_forged_x_chat_user_without_token_goes_nowhere(api, upstream):
    before = len(upstream.seen)
    status, headers, body = request(api, "GET", "/api/groups/team",
                                    {"X-Chat-User": "mallory"})
    assert_json_error(status, headers, body, 401, "unauthorized")
    assert len(upstream.seen) == before


def test_query_token_accepted_and_kept_from_upstream_and_logs(api):
    t = token("carol")
    status, _, body = request(api, "GET",
                              "/api/presence?users=bob&access_token=" + t)
    assert status == 200, body
    doc = json.loads(body)
    assert doc["users"] == ["carol"]
    signature = t.rsplit(".", 1)[1]
    assert signature not in doc["path"], doc
    assert doc["path"].startswith("/api/presence?users=bob&access_token=xxx")
    time.sleep(0.3)      # the access log line is written after the answer
    text = api.api_log.read_text() + api.error_log.read_text()
    assert signature not in text
    assert "user=carol" in text


def test_bad_query_token_is_invalid_and_not_logged(api):
    t = token("carol", exp_in=-120)
    status, headers, body = request(api, "GET", "/api/presence?access_token=" + t)
    assert_json_error(status, headers, body, 401, "unauthorized")
    assert headers["www-authenticate"] == 'Bearer error="invalid_token"'
    time.sleep(0.3)
    text = api.api_log.read_text() + api.error_log.read_text()
    assert t.rsplit(".", 1)[1] not in text


def test_upstream_gets_the_user_not_the_token(api):
    status, _, body = request(api, "GET", "/api/x", bearer(token("dave")))
    assert status == 200, body
    doc = json.loads(body)
    assert doc["users"] == ["dave"] and doc["authorization"] is None, doc


# ---------------------------------------------------------------- configuration

def config_error(tmp_path, upstream, **kw):
    n = ApiNginx(tmp_path / "conf", upstream.port, **kw)
    rc, err = n.test_config()
    assert rc != 0, err
    return err


def test_chat_auth_without_a_key_is_refused(tmp_path, upstream):
    err = config_error(tmp_path, upstream, auth="")
    assert '"chat_auth" with HS256 tokens needs "chat_jwt_key_file" or ' \
        '"chat_jwt_secret"' in err, err


def test_chat_auth_takes_on_or_off(tmp_path, upstream):
    err = config_error(tmp_path, upstream,
                       server="location /x/ { chat_auth yes; }")
    assert 'invalid value "yes"' in err, err
