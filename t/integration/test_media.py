"""Media (docs/PROTOCOL.md 6) against the whole stack: POST /api/media
(201 and its JSON, 415 for another type, 413 from chat-api's --media-max and
from nginx's client_max_body_size, both JSON), the signed URL served by
nginx (exact bytes, the uploaded Content-Type, Range, nosniff; 403 for a
changed or expired URL), sends that carry it (a freshly signed URL and the
recorded mime and size on every msg, live, pending and from history; media
this server did not issue: bad_request), nginx's 503 JSON while chat-api is
down, and the cleanup job (unreferenced media deleted after the grace;
an upload + send racing it never loses what a message references).

chat-api runs with --media-max 100000, nginx with client_max_body_size
200k on /api/media, the chat-workers with --media-grace 3 and
--cleanup-interval 1. One stack for the file; users of its own per test.
"""

import asyncio
import os
import re
import stat
import time

import pytest

from stack import SLOW, api_error, dm, eventually, running_stack

MEDIA_MAX = 100_000
NGINX_MAX = 200 * 1024
GRACE = 3.0
CLEANUP = 1.0
URL_TTL = 7 * 86400          # the default --media-url-ttl
URL = re.compile(r"^/media/([0-9a-f]{32})\?e=([0-9]+)&s=([A-Za-z0-9_-]{43})$")


def small_body_cap(text):
    text, n = re.subn(r"client_max_body_size 16m;", "client_max_body_size %dk;"
                      % (NGINX_MAX // 1024), text)
    assert n == 1, "nginx.conf.example changed: adapt small_body_cap"
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = {"CHAT_API_ARGS": "--media-max %d" % MEDIA_MAX,
           "CHAT_WORKER_ARGS": "--media-grace %d --cleanup-interval %ds"
                               % (GRACE, CLEANUP)}
    with running_stack(tmp_path_factory.mktemp("media"), conf=small_body_cap,
                       env=env) as s:
        yield s


def png(size=5000):
    return b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)


def uploaded(stack, user, data, mime="image/png"):
    r = stack.upload(user, data, mime)
    assert r.status == 201, r
    return r.json()


def parse(url):
    m = URL.match(url)
    assert m, "not a signed media URL: %r" % url
    return m.group(1), int(m.group(2)), m.group(3)


def assert_fresh(media, data, mime, since):
    """media (a msg's) has a URL valid for the URL lifetime from since
    (Unix seconds), and the recorded mime and size."""
    _, expiry, _ = parse(media["url"])
    assert expiry >= since + URL_TTL - 2, (media, since)
    assert (media["mime"], media["size"]) == (mime, len(data)), media


def get(stack, url, headers=None):
    return stack.http("GET", url, headers=headers)


# ---------------------------------------------------------------- uploads

def test_an_upload_is_201_with_its_id_signed_url_mime_and_size(stack):
    (alice,) = stack.names("alice")
    data = png()
    before = int(time.time())
    body = uploaded(stack, alice, data)
    assert set(body) == {"id", "url", "mime", "size"}, body
    id, expiry, _ = parse(body["url"])
    assert id == body["id"] and (body["mime"], body["size"]) == ("image/png", len(data))
    assert before + URL_TTL - 2 <= expiry <= int(time.time()) + URL_TTL + 2, body
    assert id in stack.media_files()
    # a chunked body (no Content-Length) streams the same way
    chunks = [data[i:i + 1000] for i in range(0, len(data), 1000)]
    # (http.client sends an iterable without Content-Length chunked)
    r = stack.http("POST", "/api/media", body=iter(chunks), token=stack.token(alice),
                   headers={"Content-Type": "image/png"})
    assert r.status == 201 and r.json()["size"] == len(data), r
    assert get(stack, r.json()["url"]).body == data


def test_the_url_serves_the_exact_bytes_with_its_type_ranges_and_nosniff(stack):
    (alice,) = stack.names("alice")
    data = png(20_000)
    body = uploaded(stack, alice, data, "image/png")
    r = get(stack, body["url"])                 # no token: the URL is the capability
    assert r.status == 200 and r.body == data, r
    assert r.headers["Content-Type"] == "image/png", r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers
    part = get(stack, body["url"], {"Range": "bytes=100-1099"})
    assert part.status == 206 and part.body == data[100:1100], part
    assert part.headers["Content-Range"] == "bytes 100-1099/%d" % len(data), part.headers
    pdf = uploaded(stack, alice, b"%PDF-1.4 not really", "application/pdf")
    r = get(stack, pdf["url"])
    assert r.status == 200 and r.headers["Content-Type"] == "application/pdf", r
    assert r.headers.get("Content-Disposition", "").startswith("attachment"), r.headers


def test_a_changed_or_expired_url_is_403_a_signed_unknown_id_404(stack):
    (alice,) = stack.names("alice")
    body = uploaded(stack, alice, png())
    id, expiry, sig = parse(body["url"])
    other = uploaded(stack, alice, png())["id"]
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    bad = {
        "signature": "/media/%s?e=%d&s=%s" % (id, expiry, flipped),
        "id": "/media/%s?e=%d&s=%s" % (other, expiry, sig),
        "expiry": "/media/%s?e=%d&s=%s" % (id, expiry + 1, sig),
        "expired": stack.media_url(id, int(time.time()) - 5),
        "other key": stack.media_url(id, expiry, key=b"k" * 48),
        "no signature": "/media/%s?e=%d" % (id, expiry),
        "nothing": "/media/%s" % id,
    }
    for what, url in bad.items():
        r = get(stack, url)
        assert r.status == 403, (what, r)
    # signed right, by our key, for an id that was never uploaded
    assert get(stack, stack.media_url("0" * 32, int(time.time()) + 60)).status == 404
    assert get(stack, stack.media_url(id, int(time.time()) + 60)).body \
        == get(stack, body["url"]).body


@pytest.mark.parametrize("mime", ["text/html", "application/x-sh",
                                  "application/octet-stream", "imagepng"])
def test_another_type_is_415(stack, mime):
    (alice,) = stack.names("alice")
    api_error(stack.upload(alice, b"<html>hi</html>", mime), 415,
              "unsupported_media_type")


def test_every_allowed_default_type_is_accepted(stack):
    (alice,) = stack.names("alice")
    for mime in ("image/jpeg", "video/mp4", "audio/ogg", "application/pdf"):
        assert uploaded(stack, alice, b"x" * 100, mime)["mime"] == mime


def test_too_large_is_413_json_from_chat_api_and_from_nginx(stack):
    (alice,) = stack.names("alice")
    assert uploaded(stack, alice, png(MEDIA_MAX))["size"] == MEDIA_MAX
    before = stack.media_files()
    api_error(stack.upload(alice, png(MEDIA_MAX + 1)), 413, "too_large")
    api_error(stack.upload(alice, png(NGINX_MAX + 1000)), 413, "too_large")
    assert stack.media_files() == before, "a refused upload left a file"


def test_uploads_need_a_token_and_post(stack):
    api_error(stack.http("POST", "/api/media", body=png(), headers={
        "Content-Type": "image/png"}), 401, "unauthorized")
    api_error(stack.get("/api/media", stack.names("alice")[0]), 405,
              "method_not_allowed")


def test_the_media_key_is_private_and_on_no_command_line(stack):
    path = stack.state_dir / "chat-media.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = stack.media_key()
    assert len(key) >= 32
    for cmd in (stack.state_dir / "run").glob("*.cmd"):
        assert key.decode() not in cmd.read_text(), cmd


# ---------------------------------------------------------------- sends

def test_a_send_carries_a_fresh_url_and_the_recorded_mime_and_size_everywhere(stack):
    alice, bob = stack.names("alice", "bob")
    conv = dm(alice, bob)
    data = png(12_345)
    body = uploaded(stack, alice, data)
    # the sender claims another type and size: the recorded ones win
    claimed = {"url": body["url"], "mime": "application/pdf", "size": 1}

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            at = {}
            sent = await a.request({"type": "send", "id": "c-1", "to": bob, "body": "",
                                    "media": claimed})
            at["live"] = (int(time.time()), await a.recv("msg"))
            await asyncio.sleep(1.1)            # a later signing has a later expiry
            async with stack.connected((bob, "phone")) as (b,):
                at["pending"] = (int(time.time()), await b.recv("msg"))  # was offline
                hist = await b.request({"type": "history", "id": "h", "conv": conv},
                                       timeout=15)
                at["ws history"] = (int(time.time()), hist["messages"][0])
            return sent, at
    sent, at = asyncio.run(main())

    assert sent["type"] == "sent", sent
    now = int(time.time())
    at["http history"] = (now, stack.get("/api/conversations/%s/messages" % conv,
                                         bob).json()["messages"][0])
    at["list"] = (now, stack.get("/api/conversations", bob).json()
                  ["conversations"][0]["last"])
    for what, (when, m) in at.items():
        assert m["mid"] == sent["mid"], (what, m)
        assert_fresh(m["media"], data, "image/png", when)
        r = get(stack, m["media"]["url"])
        assert r.status == 200 and r.body == data, (what, r)
    # signed as it is handed out, not copied from the upload's answer
    assert parse(at["http history"][1]["media"]["url"])[1] > parse(body["url"])[1]


def test_a_send_with_media_this_server_did_not_issue_is_bad_request(stack):
    alice, bob = stack.names("alice", "bob")
    body = uploaded(stack, alice, png())
    id, expiry, sig = parse(body["url"])
    urls = {
        "unsigned": "/media/ab12/cat.png",
        "no signature": "/media/%s" % id,
        "forged": "/media/%s?e=%d&s=%s" % (id, expiry, "A" * 43),
        "expiry changed": "/media/%s?e=%d&s=%s" % (id, expiry + 60, sig),
        "expired": stack.media_url(id, int(time.time()) - 5),
        # our key's signature, for an id this server never stored
        "never uploaded": stack.media_url("0" * 32, int(time.time()) + 600),
        "elsewhere": "https://cdn.example.com/media/%s?e=%d&s=%s" % (id, expiry, sig),
    }

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            answers = {}
            for n, (what, url) in enumerate(urls.items()):
                answers[what] = await a.request(
                    {"type": "send", "id": "bad-%d" % n, "to": bob, "body": "",
                     "media": {"url": url, "mime": "image/png", "size": 48213}})
            ok = await a.request({"type": "send", "id": "good", "to": bob, "body": "",
                                  "media": {"url": body["url"], "mime": "image/png",
                                            "size": body["size"]}})
            await asyncio.sleep(0.5)
            return answers, ok, a.msgs(), a.frames
    answers, ok, msgs, frames = asyncio.run(main())

    for what, answer in answers.items():
        assert (answer["type"], answer.get("code")) == ("error", "bad_request"), \
            (what, answer)
        # refused once: no "sent" before or after
        assert [f["type"] for f in frames if f.get("id") == answer["id"]] == ["error"], \
            (what, [f for f in frames if f.get("id") == answer["id"]])
    assert ok["type"] == "sent", ok
    assert [m["id"] for m in msgs] == ["good"], "a refused send was delivered"


# ---------------------------------------------------------------- chat-api down

def test_chat_api_down_is_503_json_then_back(stack):
    (alice,) = stack.names("alice")
    stack.kill("api-1")
    try:
        r = stack.get("/api/conversations", alice)
        api_error(r, 503, "unavailable")
        api_error(stack.upload(alice, png()), 503, "unavailable")
        # nginx's own checks still come first
        api_error(stack.http("GET", "/api/conversations"), 401, "unauthorized")
    finally:
        stack.restart("api-1")
    assert stack.get("/api/conversations", alice).status == 200


# ---------------------------------------------------------------- cleanup

def test_unreferenced_media_is_deleted_after_the_grace(stack):
    (alice,) = stack.names("alice")
    body = uploaded(stack, alice, png())
    assert body["id"] in stack.media_files()
    time.sleep(GRACE / 2)
    assert body["id"] in stack.media_files(), "deleted within its grace"

    async def gone():
        await eventually(lambda: body["id"] not in stack.media_files(),
                         GRACE + 3 * CLEANUP + 2, "the unreferenced file deleted")
    asyncio.run(gone())
    assert get(stack, body["url"]).status == 404


def test_upload_and_send_racing_the_cleanup_never_lose_referenced_media(stack):
    """Sends at times around the end of their media's grace: each is either
    refused (the file was gone) or, once answered "sent", keeps its file
    for as long as the message lives."""
    alice, bob = stack.names("alice", "bob")
    n = 12
    files = [png(3000 + i) for i in range(n)]
    bodies = [uploaded(stack, alice, f) for f in files]
    t0 = time.monotonic()

    async def main():
        async with stack.connected((alice, "laptop")) as (a,):
            answers = []
            for i, body in enumerate(bodies):
                # from 1.5 s before the grace ends to 1.5 s after it
                due = t0 + GRACE - 1.5 + 3.0 * i / (n - 1)
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                answers.append(await a.request(
                    {"type": "send", "id": "r-%d" % i, "to": bob, "body": "",
                     "media": {"url": body["url"], "mime": "image/png",
                               "size": len(files[i])}}))
            # the job runs a few more times over everything
            await asyncio.sleep(GRACE + 3 * CLEANUP)
            # a refusal is the answer itself, never an error after a sent
            sent = {f["id"] for f in a.frames if f.get("type") == "sent"}
            late = [f for f in a.frames
                    if f.get("type") == "error" and f.get("id") in sent]
            assert not late, "errors after sent: %s" % late
            return answers, a.msgs()
    answers, msgs = asyncio.run(main())

    kinds = [a["type"] if a["type"] == "sent" else a.get("code") for a in answers]
    assert set(kinds) <= {"sent", "bad_request"}, answers
    assert kinds[0] == "sent", "a send within the grace was refused: %s" % answers[0]
    by_id = {m["id"]: m for m in msgs}
    for i, answer in enumerate(answers):
        if answer["type"] != "sent":
            continue
        m = by_id.get("r-%d" % i)
        assert m, "r-%d answered %s, never delivered (answers %s)" % (i, answer, kinds)
        assert bodies[i]["id"] in stack.media_files(), \
            "the file of sent message r-%d was deleted" % i
        r = get(stack, m["media"]["url"])
        assert r.status == 200 and r.body == files[i], (i, r)
    print("race: %s (%.1fs per send slot)" % (kinds, 3.0 / (n - 1) * SLOW))
