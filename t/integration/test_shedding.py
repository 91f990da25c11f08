"""Priority shedding under an induced overload: the edge sheds before it
breaks, what is worth least first (README chat_shed_levels).

One nginx worker, so one Kafka producer sees every write. Its queue takes
200 writes (chat_kafka_option queue.buffering.max.messages 200) and the
shed levels start at 10% 20% 30% 40% 50% of it, i.e. at 20, 40, 60, 80
and 100 queued writes; the other signals are off (0), so the Kafka queue
alone drives the level. Kafka is stopped (SIGSTOP: the dev broker, or every
node of a real cluster under CHAT_KAFKA=real): a 1:1 send
then stays queued and unanswered, one more write each, so the test moves
the level one step at a time by sending, and checks at each step that
exactly the next thing is shed, in order: typing, presence (coalesced),
receipts (coalesced), new connections (503), sends (unavailable). Then
the broker continues (SIGCONT): every send not refused is answered "sent"
and delivered once, and the level falls back to 0.
"""

import asyncio
import re
import signal
import subprocess

import pytest

from harness import REPO
from stack import SLOW, dm, running_stack
from wsclient import handshake_status

QUEUE = 200
LEVELS = (20, 40, 60, 80, 100)      # queued writes at which levels 1..5 start
FLUSH = 4.0                         # chat_shed_flush, s
GRACE = 0.2                         # chat_presence_grace, s
QUIET = 0.7 * SLOW                  # a frame that should come would have by then
PRODUCED = 0.3 * SLOW               # a send's Redis reservation, then its write


def shedding_conf(text):
    subs = [
        (r"worker_processes \S+;", "worker_processes 1;"),
        (r"chat_kafka_timeout \S+;", "chat_kafka_timeout 120s;"),
        (r"chat_sync_timeout \S+;", "chat_sync_timeout 120s;"),
        (r"chat_presence_grace \S+;",
         "chat_presence_grace %dms;\n"
         "    chat_kafka_option queue.buffering.max.messages %d;\n"
         "    chat_shed_levels 10%% 20%% 30%% 40%% 50%%;\n"
         "    chat_shed_loop_lag 0;\n"
         "    chat_shed_redis_backlog 0;\n"
         "    chat_shed_flush %ds;" % (GRACE * 1000, QUEUE, FLUSH)),
    ]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text)
        assert n == 1, "nginx.conf.example changed: adapt shedding_conf (%s)" % pattern
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("shedding"), workers=1,
                       conf=shedding_conf) as s:
        yield s


def typing(to):
    return {"type": "typing", "to": to, "state": "start"}


def receipt(conv, status, seq):
    return {"type": "receipt", "conv": conv, "status": status, "seq": seq}


def presence_of(client, user, start=0):
    return [f for f in client.frames[start:]
            if f["type"] == "presence" and f["user"] == user]


class Sender:
    """alice's sends to bob, one write each while the broker is stopped."""

    def __init__(self, client, to):
        self.client, self.to = client, to
        self.ids = []

    async def send(self, n):
        for _ in range(n):
            i = "m-%d" % len(self.ids)
            self.ids.append(i)
            await self.client.send({"type": "send", "id": i, "to": self.to,
                                    "body": i})
        await asyncio.sleep(PRODUCED)

    def answered(self):
        return {i: self.client.answers(i) for i in self.ids if self.client.answers(i)}


async def typing_arrives(sender, recipient):
    start = len(recipient.frames)
    await sender.send(typing(recipient.user))
    await asyncio.sleep(QUIET)
    return any(f["type"] == "typing" for f in recipient.frames[start:])


def test_overload_sheds_in_order_then_recovers_without_loss(stack):
    alice, bob, carol, dave, erin = stack.names("alice", "bob", "carol", "dave", "erin")
    conv = dm(alice, bob)

    async def overload(a, b, c):
        out = Sender(a, bob)
        queued = 0

        # level 0, 19 queued: typing still goes
        await out.send(LEVELS[0] - 1)
        queued += LEVELS[0] - 1
        assert await typing_arrives(a, b), "typing dropped below level 1"

        # level 1: typing dropped; presence still told at once
        await out.send(1)
        queued += 1
        assert not await typing_arrives(a, b), "typing not dropped at level 1"
        d = await stack.connect(dave, "d")             # its sync: one write
        queued += 1
        await c.wait_until(lambda: presence_of(c, dave)[-1]["status"] == "online",
                           QUIET + 1, "dave online at level 1")

        # level 2: presence coalesced; receipts still one write each
        await out.send(LEVELS[1] - queued)
        queued = LEVELS[1]
        await b.send(receipt(conv, "delivered", 1))
        await b.send(receipt(conv, "delivered", 2))
        queued += 2
        mark = len(c.frames)
        await d.close()                                # offline after GRACE
        await asyncio.sleep(GRACE + 0.4)
        d = await stack.connect(dave, "d")             # online again
        queued += 1
        await asyncio.sleep(0.3)
        await d.close()                                # offline again
        await asyncio.sleep(GRACE + 0.4)
        assert presence_of(c, dave, mark) == [], "presence not held at level 2"
        await c.wait_until(lambda: presence_of(c, dave, mark), FLUSH + 2,
                           "the coalesced presence")
        await asyncio.sleep(QUIET)
        told = presence_of(c, dave, mark)
        assert [f["status"] for f in told] == ["offline"], told

        # level 3: receipts held, the highest seq only; connections still taken
        await out.send(LEVELS[2] - queued)
        queued = LEVELS[2]
        for seq in (1, 2, 3):
            await b.send(receipt(conv, "read", seq))
        e = await stack.connect(erin, "e")             # 101; its sync: a write
        await asyncio.sleep(PRODUCED)                  # once subscribed
        await e.close()
        queued += 1

        # level 4: new connections refused before the upgrade, sends taken
        await out.send(LEVELS[3] - queued)
        refused = handshake_status(stack.port, token=stack.token(erin),
                                   path="/chat?device=e2")
        assert refused.status == 503, refused.status
        assert refused.header("Retry-After") == "5"
        assert out.answered() == {}, "a send answered before level 5"

        # level 5: sends answered unavailable. The held receipt (one write)
        # may have been flushed meanwhile: level 5 starts one send earlier.
        before = len(out.ids)
        await out.send(LEVELS[4] - LEVELS[3] - 1)
        assert out.answered() == {}, "a send refused below level 5"
        for _ in range(3):
            await out.send(1)
            await asyncio.sleep(QUIET)
        refused_ids = sorted(out.answered(), key=out.ids.index)
        taken = len(out.ids) - before - len(refused_ids)
        assert taken in (19, 20) and len(refused_ids) >= 2, (taken, refused_ids)
        assert refused_ids == out.ids[-len(refused_ids):], refused_ids
        for i in refused_ids:
            assert [f["code"] for f in out.answered()[i]] == ["unavailable"]
        return out, refused_ids

    async def recovery(a, b, out, refused_ids):
        taken = [i for i in out.ids if i not in refused_ids]
        await a.wait_until(lambda: all(a.answers(i) for i in taken), 30 * SLOW,
                           "every send taken answered")
        for i in taken:
            assert [f["type"] for f in a.answers(i)] == ["sent"], (i, a.answers(i))
        def delivered():
            # a write replayed after the broker's stall is published again
            # under its one mid (at least once, docs/PROTOCOL.md 5): count mids
            unique = {m["mid"]: m for m in b.msgs(conv)}
            return [m["body"] for m in unique.values() if m["body"] != "pre"]
        await b.wait_until(lambda: len(delivered()) >= len(taken),
                           15 * SLOW, "every message delivered")
        await asyncio.sleep(QUIET)
        bodies = delivered()
        assert sorted(bodies) == sorted(taken), "lost or doubled: %s" % (
            set(bodies) ^ set(taken))
        seqs = {}
        for m in b.msgs(conv):
            seqs.setdefault(m["mid"], set()).add(m["seq"])
        assert all(len(s) == 1 for s in seqs.values()), "a mid under two seqs"
        await a.wait_until(lambda: [r["seq"] for r in a.frames
                                    if r["type"] == "receipt" and r["status"] == "read"],
                           FLUSH + 5, "the coalesced read receipt")
        await asyncio.sleep(QUIET)
        read = [r["seq"] for r in a.frames
                if r["type"] == "receipt" and r["status"] == "read"]
        delivered = [r["seq"] for r in a.frames
                     if r["type"] == "receipt" and r["status"] == "delivered"]
        assert read == [3], "read receipts not coalesced: %s" % read
        assert delivered[:2] == [1, 2], "receipts below level 3 lost: %s" % delivered

        # back to level 0: connections and typing again
        for _ in range(int(10 * SLOW)):
            if handshake_status(stack.port, token=stack.token(erin),
                                path="/chat?device=e3").status == 101:
                break
            await asyncio.sleep(1)
        else:
            raise AssertionError("still refusing connections after recovery")
        assert await typing_arrives(a, b), "typing still dropped after recovery"

    async def main():
        async with stack.connected((alice, "a"), (bob, "b"),
                                   (carol, "c")) as (a, b, c):
            await stack.settle()
            for i in range(3):
                reply = await a.request({"type": "send", "id": "pre-%d" % i,
                                         "to": bob, "body": "pre"})
                assert reply["type"] == "sent", reply
            await b.wait_until(lambda: len(b.msgs(conv)) == 3, 10 * SLOW, "3 msgs")
            await c.send({"type": "presence_sub", "users": [dave]})
            first = await c.recv("presence")
            assert first["status"] == "offline", first
            assert await typing_arrives(a, b), "typing lost with nothing queued"

            # every Kafka process stops answering (the dev broker, or each
            # node of a real cluster): the producer's queue fills
            for name in stack.broker_names():
                stack.kill(name, signal.SIGSTOP)
            try:
                out, refused_ids = await overload(a, b, c)
            finally:
                for name in stack.broker_names():
                    stack.kill(name, signal.SIGCONT)
            await recovery(a, b, out, refused_ids)

    asyncio.run(main())


# ------------------------------------ a crowd leaving is not an overload

def test_thousands_connecting_and_leaving_at_once_shed_nothing(tmp_path):
    """Thousands of clients leaving in one moment queue a burst of Redis
    commands (unsubscribe, presence, registry): that is not pressure, and
    must not refuse the next ones (the Redis signal is the smallest of its
    last three samples). The shipped shedding settings, one nginx worker."""
    def one_worker(text):
        text, n = re.subn(r"worker_processes \S+;", "worker_processes 1;", text)
        assert n == 1
        return text

    with running_stack(tmp_path / "stack", workers=1, conf=one_worker) as s:
        before = s.metrics()
        for _ in range(2):
            run = subprocess.run(
                [str(REPO / "build" / "chat-bench"), "--port", str(s.port),
                 "--secret", s.secret, "--mode", "idle", "--connections", "3000",
                 "--connect-rate", "20000", "--warmup", "0.5", "--duration", "0.5",
                 "--drain", "0"],
                capture_output=True, text=True, timeout=60 * SLOW)
            assert run.returncode == 0, run.stdout + run.stderr
        m = s.metrics()
        ok = 'chat_handshakes_total{status="101"}'
        assert m[ok] - before[ok] == 6000
        assert m['chat_handshakes_total{status="503"}'] == 0
        assert sum(v for k, v in m.items() if k.startswith("chat_shed_total")) == 0
        log = (s.logs / "error.log").read_text()
        assert "shed level" not in log, [l for l in log.splitlines() if "shed level" in l]
