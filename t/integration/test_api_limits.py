"""The limits nginx.conf.example puts in front of the HTTP API, through
the whole stack: the longest request the API takes (500 user ids of 64
bytes, a request line of about 33 KiB) passes nginx's header buffers; and
with the example's per-address limit_req switched on, a client over it is
answered 429 rate_limited in JSON with Retry-After, while the requests
within it are served."""

import re

import pytest

from stack import api_error, running_stack


def with_api_rate(text):
    # the example's commented zone and limit, switched on at 5r/s, burst 5
    text, n = re.subn(r"# (limit_req_zone \$binary_remote_addr zone=chat_api:10m) rate=\S+;",
                      r"\1 rate=5r/s;", text)
    assert n == 1, "nginx.conf.example changed: adapt with_api_rate (zone)"
    text, n = re.subn(r"# limit_req zone=chat_api burst=\d+ nodelay;",
                      "limit_req zone=chat_api burst=5 nodelay;", text)
    assert n == 1, "nginx.conf.example changed: adapt with_api_rate (limit)"
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("api-limits"), conf=with_api_rate) as s:
        yield s


def test_the_longest_presence_request_passes_nginx(stack):
    (alice,) = stack.names("alice")
    users = [("u%03d" % i).ljust(64, "x") for i in range(500)]
    r = stack.get("/api/presence?users=" + ",".join(users), alice)
    assert r.status == 200, r
    assert [p["user"] for p in r.json()["presence"]] == users


def test_over_the_rate_is_429_json_with_retry_after(stack):
    (alice,) = stack.names("alice")
    answers = [stack.get("/api/conversations", alice) for _ in range(20)]
    statuses = [r.status for r in answers]
    # the burst passes at once, then the rate refuses
    assert statuses[:5] == [200] * 5, statuses
    refused = [r for r in answers if r.status == 429]
    assert refused, statuses
    assert set(statuses) <= {200, 429}, statuses
    for r in refused:
        api_error(r, 429, "rate_limited")
        assert r.headers.get("Retry-After") == "1", r.headers
