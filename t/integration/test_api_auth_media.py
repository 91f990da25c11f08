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
from harness import (DEFAULT_AUTH, Nginx, fail_on_log_problems, free_port,
                     module_path, token, with_log_level)

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

        # chat-api down: a JSON 503 from a named location, user known
        location /api/down/ {{
            chat_auth on;
            proxy_pass http://127.0.0.1:{dead};
            error_page 502 = @api_down;
        }}

        location @api_down {{
            default_type application/json;
            return 503 '{{"error":"unavailable","message":"$chat_user"}}';
        }}

        # the same, to a location of other rules: checked again by them
        location /api/strict/ {{
            chat_auth on;
            proxy_pass http://127.0.0.1:{dead};
            error_page 502 = @api_strict;
        }}

        location @api_strict {{
            chat_auth on;
            chat_jwt_audience chat-admin;
            proxy_pass http://chat_api;
            proxy_set_header X-Chat-User $chat_user;
        }}

        {server}

        location / {{ return 404; }}
    }}
}}
"""

MEDIA_HTTP = "sendfile on; chat_media_key %s;" % MEDIA_KEY
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
            http=self.http, server=self.server, upstream=self.upstream_port,
            dead=free_port())))


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
                 http=MEDIA_HTTP, server=MEDIA_SERVER)
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


@pytest.mark.parametrize("where", ["header", "query"])
def test_identity_kept_across_an_internal_redirect(api, where):
    """error_page to a named location forgets the module's context: the
    token taken out of the query and the user checked live on."""
    t = token("frank")
    path, headers = "/api/down/x", bearer(t)
    if where == "query":
        path, headers = "/api/down/x?access_token=" + t, {}
    status, _, body = request(api, "GET", path, headers)
    assert status == 503, body
    assert json.loads(body) == {"error": "unavailable", "message": "frank"}
    time.sleep(0.3)
    text = api.api_log.read_text()
    assert t.rsplit(".", 1)[1] not in text + api.error_log.read_text()
    assert "user=frank" in text.splitlines()[-1], text[-500:]


def test_redirect_to_other_rules_checks_the_token_again(api):
    status, headers, body = request(api, "GET", "/api/strict/x",
                                    bearer(token("frank")))
    assert_json_error(status, headers, body, 401, "unauthorized")
    assert headers["www-authenticate"] == 'Bearer error="invalid_token"'
    status, _, body = request(api, "GET", "/api/strict/x",
                              bearer(token("frank", aud="chat-admin")))
    assert status == 200 and json.loads(body)["users"] == ["frank"], body


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


# ---------------------------------------------------------------- media

def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(media_id, expiry, key=MEDIA_KEY):
    """common/chat_media.h: base64url(HMAC-SHA256(key, "<id>.<expiry>"))."""
    msg = ("%s.%d" % (media_id, expiry)).encode()
    return b64url(hmac.new(key.encode(), msg, hashlib.sha256).digest())


def media_url(media_id, expiry=None, key=MEDIA_KEY):
    expiry = int(time.time()) + 3600 if expiry is None else expiry
    return "/media/%s?e=%d&s=%s" % (media_id, expiry, sign(media_id, expiry, key))


def store(n, mime, data, media_id=None, header=None):
    """Writes a stored file as chat-api does: the header (a magic line, the
    type, NUL padding to HEADER_SIZE), then the bytes. Returns the id."""
    media_id = media_id or secrets.token_hex(16)
    if header is None:
        header = ("chat-media 1\n%s\n" % mime).encode()
        header += b"\0" * (HEADER_SIZE - len(header))
    path = n.dir / "media" / media_id[:2] / media_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + data)
    return media_id


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def test_media_served_exact_with_its_type(api):
    media_id = store(api, "image/png", PNG)
    expiry = int(time.time()) + 3600
    status, headers, body = request(api, "GET", media_url(media_id, expiry))
    assert status == 200, body
    assert body == PNG
    assert headers["content-type"] == "image/png"
    assert headers["content-length"] == str(len(PNG))
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"] == "inline"
    assert headers["accept-ranges"] == "bytes"
    assert headers["last-modified"] and headers["etag"]
    cache = headers["cache-control"]
    assert cache.startswith("private, max-age="), cache
    assert 3590 <= int(cache.split("=")[1]) <= expiry - int(time.time())


def test_media_served_without_a_token_and_without_auth_headers(api):
    media_id = store(api, "audio/ogg", b"OggS" + b"\1" * 100)
    status, headers, body = request(api, "GET", media_url(media_id),
                                    {"Authorization": "Bearer nonsense"})
    assert status == 200 and body == b"OggS" + b"\1" * 100
    assert "www-authenticate" not in headers


def test_media_head_has_the_headers_no_body(api):
    media_id = store(api, "image/png", PNG)
    status, headers, body = request(api, "HEAD", media_url(media_id))
    assert status == 200 and body == b""
    assert headers["content-length"] == str(len(PNG))
    assert headers["content-type"] == "image/png"


@pytest.mark.parametrize("spec, start, end", [
    ("bytes=10-99", 10, 99),
    ("bytes=0-0", 0, 0),
    ("bytes=-7", len(PNG) - 7, len(PNG) - 1),
    ("bytes=%d-" % (len(PNG) - 300), len(PNG) - 300, len(PNG) - 1),
])
def test_media_range_is_206_with_the_exact_bytes(api, spec, start, end):
    media_id = store(api, "video/mp4", PNG)
    status, headers, body = request(api, "GET", media_url(media_id),
                                    {"Range": spec})
    assert status == 206, body
    assert body == PNG[start:end + 1]
    assert headers["content-range"] == "bytes %d-%d/%d" % (start, end, len(PNG))
    assert headers["content-type"] == "video/mp4"


def test_media_two_ranges_are_multipart(api):
    media_id = store(api, "video/mp4", PNG)
    status, headers, body = request(api, "GET", media_url(media_id),
                                    {"Range": "bytes=0-3,100-109"})
    assert status == 206, body
    assert headers["content-type"].startswith("multipart/byteranges")
    assert b"Content-Range: bytes 0-3/%d" % len(PNG) in body
    assert b"Content-Range: bytes 100-109/%d" % len(PNG) in body
    assert PNG[0:4] in body and PNG[100:110] in body


def test_media_range_past_the_end_is_416(api):
    media_id = store(api, "video/mp4", PNG)
    status, headers, _ = request(api, "GET", media_url(media_id),
                                 {"Range": "bytes=%d-" % len(PNG)})
    assert status == 416
    assert headers["content-range"] == "bytes */%d" % len(PNG)


def test_media_large_file_exact(api):
    data = secrets.token_bytes(3 * 1024 * 1024 + 17)
    media_id = store(api, "video/webm", data)
    status, _, body = request(api, "GET", media_url(media_id))
    assert status == 200 and body == data


def test_media_empty_file(api):
    media_id = store(api, "audio/mpeg", b"")
    status, headers, body = request(api, "GET", media_url(media_id))
    assert status == 200 and body == b""
    assert headers["content-length"] == "0"


def test_media_not_modified_by_etag(api):
    media_id = store(api, "image/png", PNG)
    url = media_url(media_id)
    _, headers, _ = request(api, "GET", url)
    status, _, body = request(api, "GET", url,
                              {"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""


@pytest.mark.parametrize("mime, disposition", [
    ("application/pdf", "attachment"),
    ("image/svg+xml", "inline"),
    ("video/quicktime", "inline"),
    ("text/html", "attachment"),
])
def test_media_disposition_by_type(api, mime, disposition):
    media_id = store(api, mime, b"%PDF-1.4 or anything")
    status, headers, body = request(api, "GET", media_url(media_id))
    assert status == 200 and body == b"%PDF-1.4 or anything"
    assert headers["content-type"] == mime
    assert headers["content-disposition"] == disposition
    assert headers["x-content-type-options"] == "nosniff"
    # what a browser shows runs no script (an SVG may carry one)
    assert headers["content-security-policy"] == "sandbox"


def changed(url, what):
    media_id = url[len("/media/"):url.index("?")]
    expiry = int(url.split("e=")[1].split("&")[0])
    sig = url.split("s=")[1]
    if what == "id":
        other = ("0" if media_id[0] != "0" else "1") + media_id[1:]
        return "/media/%s?e=%d&s=%s" % (other, expiry, sig)
    if what == "expiry":
        return "/media/%s?e=%d&s=%s" % (media_id, expiry + 1, sig)
    if what == "signature":
        flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
        return "/media/%s?e=%d&s=%s" % (media_id, expiry, flipped)
    if what == "other_key":
        return media_url(media_id, expiry, key="another-key-" + "z" * 40)
    if what == "no_signature":
        return "/media/%s?e=%d" % (media_id, expiry)
    if what == "no_expiry":
        return "/media/%s?s=%s" % (media_id, sig)
    if what == "extra_argument":
        return url + "&x=1"
    if what == "uppercase_id":
        return url.replace(media_id, media_id.upper())
    raise AssertionError(what)


@pytest.mark.parametrize("what", [
    "id", "expiry", "signature", "other_key", "no_signature", "no_expiry",
    "extra_argument", "uppercase_id"])
def test_media_changed_url_is_403(api, what):
    media_id = store(api, "image/png", PNG)
    store(api, "image/png", PNG, media_id=("0" if media_id[0] != "0" else "1")
          + media_id[1:])       # the changed id exists too
    url = media_url(media_id)
    status, headers, body = request(api, "GET", changed(url, what))
    assert_json_error(status, headers, body, 403, "forbidden")
    assert request(api, "GET", url)[0] == 200      # the original still works


def test_media_expired_url_is_403(api):
    media_id = store(api, "image/png", PNG)
    status, headers, body = request(api, "GET",
                                    media_url(media_id, int(time.time()) - 5))
    doc = assert_json_error(status, headers, body, 403, "forbidden")
    assert "expired" in doc["message"], doc


def test_media_missing_file_is_404(api):
    status, headers, body = request(api, "GET",
                                    media_url(secrets.token_hex(16)))
    assert_json_error(status, headers, body, 404, "not_found")


def test_media_other_methods_are_405(api):
    media_id = store(api, "image/png", PNG)
    for method in ("POST", "PUT", "DELETE"):
        status, headers, body = request(api, method, media_url(media_id))
        assert_json_error(status, headers, body, 405, "method_not_allowed")
        assert headers["allow"] == "GET, HEAD"


def test_media_with_a_broken_header_is_500_not_served(api):
    media_id = store(api, "image/png", PNG, header=b"\0" * HEADER_SIZE)
    status, headers, body = request(api, "GET", media_url(media_id))
    assert_json_error(status, headers, body, 500, "internal")
    assert PNG not in body
    short = store(api, "image/png", b"", header=b"chat-media 1\nimage/png\n")
    status, headers, body = request(api, "GET", media_url(short))
    assert_json_error(status, headers, body, 500, "internal")


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


def test_chat_media_needs_a_key(tmp_path, upstream):
    err = config_error(tmp_path, upstream, server=MEDIA_SERVER)
    assert '"chat_media" needs "chat_media_key"' in err, err


def test_chat_media_key_too_short_is_refused(tmp_path, upstream):
    err = config_error(tmp_path, upstream, server=MEDIA_SERVER,
                       http="chat_media_key %s;" % ("k7" * 15))
    assert '"chat_media_key"' in err and "too short" in err, err


def test_chat_media_key_from_a_file(tmp_path, upstream):
    key = tmp_path / "media.key"
    key.write_text(MEDIA_KEY + "\n")
    key.chmod(0o600)
    n = ApiNginx(tmp_path / "conf", upstream.port, server=MEDIA_SERVER,
                 http="chat_media_key file:%s;" % key)
    rc, err = n.test_config()
    assert rc == 0, err


def test_chat_media_key_weak_is_refused(tmp_path, upstream):
    err = config_error(tmp_path, upstream, server=MEDIA_SERVER,
                       http="chat_media_key CHANGE-ME-%s;" % ("q" * 40))
    assert '"chat_media_key"' in err and "placeholder" in err, err
