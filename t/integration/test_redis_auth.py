"""Redis AUTH. The test stack's redis-server requires a password (dev-up
makes one per state dir), so every stack test runs through AUTH on the
module's two connections and the workers'. Here: a password Redis refuses
is logged clearly by nginx and the workers, the connections are retried
with backoff, and the service answers (history and presence_sub
"unavailable", sends still taken by Kafka) rather than leaving requests
unanswered; nginx -t checks the directives."""

import asyncio
import json
import re
import subprocess
import time

import pytest

from harness import Nginx
from stack import running_stack
from wsclient import chat

WRONG = "not-the-password-of-this-redis"
REFUSED = re.compile(r"chat: redis (command|subscriber) connection to [0-9.:]+: "
                     r"AUTH refused: WRONGPASS")


def wrong_password(text):
    text, n = re.subn(r"chat_redis_password [^;]*;", "chat_redis_password %s;" % WRONG,
                      text)
    assert n == 1, "nginx.conf.example has no chat_redis_password line"
    return text


def test_stack_redis_requires_the_password(stack):
    assert stack.redis_cli("PING") == "PONG"          # redis_cli authenticates
    r = subprocess.run(["redis-cli", "-p", str(stack.redis_port), "PING"],
                       capture_output=True, text=True, timeout=10)
    assert "NOAUTH" in r.stdout + r.stderr, r


def test_wrong_password_is_logged_and_answered_unavailable(tmp_path):
    with running_stack(tmp_path / "stack", workers=1, warm_up=False, conf=wrong_password,
                       env={"CHAT_WORKER_ARGS": "--redis-password " + WRONG}) as s:
        async def main():
            c = await s.connect("authx", "d1")
            try:
                t = time.monotonic()
                history = await c.request({"type": "history", "id": "h1",
                                           "conv": "dm:authx:authy", "limit": 5})
                presence = await c.request({"type": "presence_sub", "id": "p1",
                                            "users": ["authy"]})
                sent = await c.request({"type": "send", "id": "s1", "to": "authy",
                                        "body": "durable all the same"})
                return history, presence, sent, time.monotonic() - t
            finally:
                await c.close()
        history, presence, sent, took = asyncio.run(main())
        assert history["type"] == "error" and history["code"] == "unavailable", history
        assert presence["type"] == "error" and presence["code"] == "unavailable", presence
        assert sent["type"] == "sent", sent
        assert took < 2.0, took

        # the worker publishes (and so connects) once it has a message
        deadline = time.monotonic() + 10
        worker = s.logs / "worker-1.log"
        while "AUTH refused: WRONGPASS" not in worker.read_text() \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "AUTH refused: WRONGPASS" in worker.read_text(), s.log_tails()

        errors = (s.logs / "error.log").read_text()
        kinds = {m.group(1) for m in REFUSED.finditer(errors)}
        assert kinds == {"command", "subscriber"}, errors[-3000:]
        # retried with a growing backoff, not in a loop
        assert len(REFUSED.findall(errors)) < 60, errors[-3000:]
        assert WRONG not in errors and WRONG not in worker.read_text()


@pytest.mark.parametrize("http,needle", [
    pytest.param("chat_redis 127.0.0.1:6379; chat_redis_user chat;",
                 '"chat_redis_user" needs "chat_redis_password"', id="user_without_password"),
    pytest.param("chat_redis 127.0.0.1:6379; chat_redis_password env:CHAT_TEST_NO_SUCH_VAR;",
                 '"CHAT_TEST_NO_SUCH_VAR" is not set', id="env_unset"),
    pytest.param("chat_redis 127.0.0.1:6379; chat_redis_password file:/nonexistent/redis.pw;",
                 "/nonexistent/redis.pw", id="file_missing"),
    pytest.param('chat_redis 127.0.0.1:6379; chat_redis_password "";',
                 'empty "chat_redis_password"', id="empty"),
])
def test_bad_redis_password_directive_fails_nginx_t(tmp_path, http, needle):
    rc, err = Nginx(tmp_path, http=http).test_config()
    assert rc != 0 and "[emerg]" in err and needle in err, err


def test_redis_password_from_file_and_env_pass_nginx_t(tmp_path, monkeypatch):
    pw = tmp_path / "redis.password"
    pw.write_text("s3cret-pw\n")
    pw.chmod(0o600)
    rc, err = Nginx(tmp_path / "f", http="chat_redis 127.0.0.1:6379; chat_redis_user chat; "
                    "chat_redis_password file:%s;" % pw).test_config()
    assert rc == 0 and "[warn]" not in err, err
    monkeypatch.setenv("CHAT_TEST_REDIS_PW", "s3cret-pw")
    rc, err = Nginx(tmp_path / "e", http="chat_redis 127.0.0.1:6379; "
                    "chat_redis_password env:CHAT_TEST_REDIS_PW;").test_config()
    assert rc == 0, err
    pw.chmod(0o644)
    rc, err = Nginx(tmp_path / "w", http="chat_redis 127.0.0.1:6379; "
                    "chat_redis_password file:%s;" % pw).test_config()
    assert rc == 0 and "anyone may read it" in err, err


ACL = ["on", ">acl-user-password-4b1e", "~chat:*", "&chat:*", "+@read", "+@write",
       "+@pubsub", "+@scripting", "+ping"]      # the README's chat_redis_user grant


def test_acl_user_with_the_readme_grant_serves_a_connection(stack, nginx_factory, tmp_path):
    """Another nginx on the stack's Redis as an ACL user with only the
    README's grant: both its connections authenticate as that user, and a
    client's connection registers and gets presence."""
    assert stack.redis_cli("ACL", "SETUSER", "chatnode", *ACL) == "OK"
    pw = tmp_path / "acl.password"
    pw.write_text("acl-user-password-4b1e\n")
    pw.chmod(0o600)
    other = nginx_factory(http="chat_redis 127.0.0.1:%d; chat_redis_user chatnode; "
                          "chat_redis_password file:%s;" % (stack.redis_port, pw),
                          auth="chat_jwt_secret %s;" % stack.secret)
    (user, peer) = stack.names("acl", "aclpeer")

    async def main():
        async with chat(other.port, user, token=stack.token(user), device="d") as (ws, hello):
            await ws.send(json.dumps({"type": "presence_sub", "id": "p1", "users": [peer]}))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame.get("type") in ("presence", "error"):
                    return frame
        return None
    frame = asyncio.run(main())
    assert frame and frame["type"] == "presence" and frame["user"] == peer, frame
    clients = stack.redis_cli("CLIENT", "LIST")
    assert clients.count("user=chatnode") >= 4, clients    # 2 workers x 2
    assert "NOPERM" not in other.log_text(), other.log_text()[-2000:]
    assert "AUTH refused" not in other.log_text()
