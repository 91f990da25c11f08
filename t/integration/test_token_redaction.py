"""A token given as ?access_token= never reaches a log: after every kind of
refusal (the handshake's own 400/401/403/405/426/429/503, nginx's limit_req
503 and deny 403 in a chat location) and after a successful upgrade, neither
the access log (a format with $request, $args, $request_uri and
$arg_access_token) nor the error log (at info, where every refusal is
logged with the request line) holds the token."""

import subprocess
import time

import pytest

from harness import DEFAULT_AUTH, free_port, token
from wsclient import RawWS, chat_path, handshake_status

LOG_FORMAT = ("log_format leaky '$status \"$request\" args=$args uri=$request_uri "
              "arg=$arg_access_token';")

# nested in the harness' `location /chat`, so they inherit chat on and the key
HTTP = LOG_FORMAT + """
    chat_limit_zone zone=redact:1m;
    limit_req_zone $binary_remote_addr zone=redact_req:1m rate=1r/m;
"""

LOCATION = """
    access_log {dir}/leaky.log leaky;
    chat_allowed_origins https://allowed.example;
    location /chat/hs { chat on; chat_limit_handshake rate=1r/m burst=0; }
    location /chat/req { chat on; limit_req zone=redact_req nodelay; }
    location /chat/deny { chat on; deny all; }
"""


@pytest.fixture
def leaky(nginx_factory, tmp_path):
    d = tmp_path / "nginx0"
    return nginx_factory(http=HTTP, location=LOCATION.replace("{dir}", str(d)))


def logs(n):
    time.sleep(0.3)       # the access log line of a refused request is written
    text = ""
    for path in (n.error_log, n.access_log, n.dir / "leaky.log"):
        if path.exists():
            text += path.read_text(errors="replace")
    return text


def secret_part(t):
    """A part of the token that appears nowhere else: its signature."""
    return t.rsplit(".", 1)[1]


REFUSALS = [
    pytest.param(dict(method="POST"), "/chat", 405, id="405_method"),
    pytest.param(dict(headers={"Upgrade": None}), "/chat", 400, id="400_not_upgrade"),
    pytest.param(dict(headers={"Sec-WebSocket-Version": "8"}), "/chat", 426,
                 id="426_version"),
    pytest.param(dict(headers={"Origin": "https://evil.example"}), "/chat", 403,
                 id="403_origin"),
    pytest.param(dict(), "/chat/deny", 403, id="403_deny_all"),
]


@pytest.mark.parametrize("kw,path,expected", REFUSALS)
def test_refused_handshake_logs_no_token(leaky, kw, path, expected):
    t = token("leak1")
    r = handshake_status(leaky.port, path=chat_path(path, access_token=t), **kw)
    assert r.status == expected
    text = logs(leaky)
    assert '"%s' % ("POST" if kw.get("method") else "GET") in text, text
    assert secret_part(t) not in text, text
    assert "access_token=xxxx" in text, text


def test_bad_token_401_logs_no_token(leaky):
    t = token("leak2", key="not-the-secret-of-this-server-at-all")
    r = handshake_status(leaky.port, path=chat_path(access_token=t))
    assert r.status == 401
    text = logs(leaky)
    assert "token refused: bad signature" in text, text
    assert secret_part(t) not in text, text


def test_bad_device_400_logs_no_token(leaky):
    t = token("leak3")
    r = handshake_status(leaky.port, path=chat_path(access_token=t, device="a b"))
    assert r.status == 400
    text = logs(leaky)
    assert "invalid device id" in text, text
    assert secret_part(t) not in text, text


@pytest.mark.parametrize("path,expected,needle", [
    pytest.param("/chat/hs", 429, "", id="429_chat_limit_handshake"),
    pytest.param("/chat/req", 503, "limiting requests", id="503_limit_req"),
])
def test_second_handshake_over_a_rate_logs_no_token(leaky, path, expected, needle):
    tokens = [token("leak4", jti=str(i)) for i in range(2)]
    statuses = [handshake_status(leaky.port, path=chat_path(path, access_token=t)).status
                for t in tokens]
    assert statuses[-1] == expected, statuses
    text = logs(leaky)
    assert needle in text, text
    for t in tokens:
        assert secret_part(t) not in text, text


def test_every_access_token_argument_is_redacted(leaky):
    t1, t2 = token("leak6"), token("leak6", jti="2")
    path = "/chat?access_token=%s&device=d1&ACCESS_TOKEN=%s" % (t1, t2)
    r = handshake_status(leaky.port, path=path, method="POST")
    assert r.status == 405
    text = logs(leaky)
    assert secret_part(t1) not in text and secret_part(t2) not in text, text


def test_percent_encoded_token_is_taken_and_redacted(leaky):
    t = token("leak7")
    escaped = t.replace(".", "%2E")
    with RawWS.connect(leaky.port, token=None, path="/chat?access_token=" + escaped,
                       headers={"Authorization": None}) as ws:
        assert ws.hello["user"] == "leak7"
    text = logs(leaky)
    assert secret_part(t) not in text, text


def test_upgraded_connection_logs_no_token(leaky):
    t = token("leak8")
    with RawWS.connect(leaky.port, token=None, path=chat_path(access_token=t),
                       headers={"Authorization": None}) as ws:
        assert ws.hello["user"] == "leak8"
    time.sleep(0.3)
    text = logs(leaky)
    assert "101 " in text, text
    assert secret_part(t) not in text, text


def test_http2_request_line_copy_is_redacted(nginx_factory, tmp_path):
    """Over HTTP/2 nginx builds the request line as a copy of the path:
    both are overwritten."""
    d, port = tmp_path / "nginx0", free_port()
    h2 = """
    server {
        listen 127.0.0.1:%d http2;
        location /chat { chat on; %s access_log %s/leaky.log leaky; }
    }""" % (port, DEFAULT_AUTH, d)
    n = nginx_factory(http=HTTP + h2, location=LOCATION.replace("{dir}", str(d)))
    t = token("leak9")
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                          "--http2-prior-knowledge", "--noproxy", "*",
                          "http://127.0.0.1:%d%s" % (port, chat_path(access_token=t))],
                         capture_output=True, text=True, timeout=10).stdout
    assert out == "400 2", out
    text = logs(n)
    assert "HTTP/2.0" in text, text
    assert secret_part(t) not in text, text


def test_shed_503_logs_no_token(nginx_factory, tmp_path):
    """The handshake's own 503 (shed level 4): one send waits in a Kafka
    queue of one message (no broker answers), which is 100% pressure."""
    d = tmp_path / "nginx0"
    n = nginx_factory(http=HTTP + "chat_kafka_brokers 127.0.0.1:9; "
                      "chat_kafka_option queue.buffering.max.messages 1; "
                      "chat_shed_levels 10% 20% 30% 40% 50%;",
                      location=LOCATION.replace("{dir}", str(d)))
    with RawWS.connect(n.port, token=token("shed1")) as ws:
        ws.send_json({"type": "send", "id": "s1", "to": "shed2", "body": "queued"})
        t = token("shed3")
        deadline = time.monotonic() + 5
        while True:
            r = handshake_status(n.port, path=chat_path(access_token=t), token=None)
            if r.status == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.status == 503, r.status
    text = logs(n)
    assert "handshake refused: overloaded" in text, text
    assert secret_part(t) not in text, text
