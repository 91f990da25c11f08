"""$chat_user in an edge tier (README "Sticky sessions"): an edge nginx
that loads the module only to read the token hashes each user onto one of
two backend chat nodes with `hash $chat_user consistent`; the same user
always lands on the same backend, different users spread over both.
"""

import asyncio

import pytest

from harness import Nginx, fail_on_log_problems
from wsclient import assert_alive, chat

# the edge: harness' configuration without "chat on" (the module only reads
# the token, with the same chat_jwt_* settings as the chat nodes)
EDGE_HTTP = """
    upstream chat_nodes {
        hash $chat_user consistent;
        server 127.0.0.1:%d;
        server 127.0.0.1:%d;
    }

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
"""

EDGE_LOCATION = """
            proxy_pass http://chat_nodes;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
"""


@pytest.fixture
def tier(tmp_path):
    backends = [Nginx(tmp_path / ("node%d" % i)).start() for i in (1, 2)]
    edge = Nginx(tmp_path / "edge", location=EDGE_LOCATION,
                 http=EDGE_HTTP % (backends[0].port, backends[1].port))
    write_conf = edge.write_conf

    def without_chat(port):
        write_conf(port)
        text = edge.conf.read_text()
        assert "chat on;" in text
        edge.conf.write_text(text.replace("chat on;", ""))
    edge.write_conf = without_chat
    edge.start()
    try:
        yield edge, backends
    finally:
        problems = []
        for n in [edge] + backends:
            n.stop()
            problems += n.log_problems()
        fail_on_log_problems(problems, "nginx")


def backend_of(hello, backends):
    """Which backend made the connection: its id carries the worker's pid."""
    pid = int(hello["conn"].split("-")[1], 16)
    found = [i for i, b in enumerate(backends) if pid in b.worker_pids()]
    assert len(found) == 1, (hello, [b.worker_pids() for b in backends])
    return found[0]


def test_same_user_same_backend_users_spread(tier):
    edge, backends = tier
    users = ["sticky%d" % i for i in range(16)]

    async def main():
        placed = {}
        for round in range(3):
            for user in users:
                async with chat(edge.port, user, device="d%d" % round) as (ws, hello):
                    assert hello["user"] == user
                    await assert_alive(ws)
                    placed.setdefault(user, set()).add(backend_of(hello, backends))
        return placed
    placed = asyncio.run(main())
    assert all(len(b) == 1 for b in placed.values()), placed
    counts = [sum(b == {i} for b in placed.values()) for i in (0, 1)]
    assert min(counts) >= 2, "users not spread over the backends: %s" % counts
