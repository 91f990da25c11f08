"""The secrets of a development run (make run, scripts/dev-up): none ships
with the project; the first run generates them into its state directory
(mode 600: the token secret, Redis's password, which is on no command
line), later runs keep them, and scripts/chat-token signs with the token
secret found there."""

import os
import stat
import subprocess

from harness import REPO
from stack import running_stack
from wsclient import RawWS


def run_chat_token(state_dir, user):
    env = {k: v for k, v in os.environ.items() if k != "CHAT_JWT_SECRET"}
    env["CHAT_STATE_DIR"] = str(state_dir)
    return subprocess.run([str(REPO / "scripts" / "chat-token"), user], env=env,
                          capture_output=True, text=True, timeout=10)


def chat_token(state_dir, user):
    r = run_chat_token(state_dir, user)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def private_secret(path):
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    value = path.read_text().strip()
    assert len(value) >= 32
    return value


def test_chat_token_needs_a_secret_before_the_first_run(tmp_path):
    r = run_chat_token(tmp_path, "alice")
    assert r.returncode != 0 and "no secret" in r.stderr, r


def test_first_run_generates_the_token_secret_and_keeps_it(tmp_path):
    state = tmp_path / "stack"
    # CHAT_JWT_SECRET empty: the scripts generate one, as make run does
    with running_stack(state, workers=0, warm_up=False,
                       env={"CHAT_JWT_SECRET": ""}) as s:
        secret = private_secret(state / "chat-jwt.secret")
        assert secret != s.secret
        redis_pw = private_secret(state / "redis.password")
        assert redis_pw not in (state / "run" / "redis.cmd").read_text()
        tok = chat_token(state, "devalice")
        with RawWS.connect(s.port, token=tok) as ws:
            assert ws.hello["user"] == "devalice"

        s.kill("nginx")             # dev-up renders the config again
        s.restart("nginx")
        assert private_secret(state / "chat-jwt.secret") == secret
        assert private_secret(state / "redis.password") == redis_pw
        with RawWS.connect(s.port, token=tok) as ws:
            assert ws.hello["user"] == "devalice"
