"""Fixtures of the integration tests: real nginx processes with the module.

Environment:
  CHAT_MODULE   the module .so (default <repo>/build/ngx_chat_module.so)
  CHAT_PRELOAD  libraries to LD_PRELOAD into nginx (the ASan run sets it)

nginx_factory(location=..., http=..., auth=...) starts an nginx for one test;
`server` is an nginx with the default configuration shared by a test file.
Both stop nginx afterwards and fail the test when error.log shows a sanitizer
report, an [alert] or an [emerg].
"""

import pytest

from harness import Nginx, fail_on_log_problems
from stack import running_stack


@pytest.fixture
def nginx_factory(tmp_path):
    started = []

    def start(location="", http="", auth=None):
        n = Nginx(tmp_path / ("nginx%d" % len(started)), location, http, auth)
        started.append(n)
        return n.start()

    yield start
    problems = []
    for n in started:
        n.stop()
        problems += n.log_problems()
    fail_on_log_problems(problems, "nginx")


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    n = Nginx(tmp_path_factory.mktemp("nginx"))
    n.start()
    yield n
    size = n.log_size()
    n.stop()
    fail_on_log_problems(n.log_problems(since=size), "nginx (shutdown)")


@pytest.fixture
def server(shared_server):
    """The file's default-config nginx; fails the test that made it log a
    problem (and every test after a crash: the master logs an [alert])."""
    since = shared_server.log_size()
    yield shared_server
    fail_on_log_problems(shared_server.log_problems(since=since), "nginx")


@pytest.fixture
def stack(tmp_path):
    """A fresh whole stack (redis, dev broker, two chat-workers, nginx) for
    one fault test; a test file may define its own (other worker counts)."""
    with running_stack(tmp_path / "stack", workers=2) as s:
        yield s
