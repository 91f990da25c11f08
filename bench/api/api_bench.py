#!/usr/bin/python3
"""The read side's latency (scripts/bench, phase api): sequential GETs
through nginx to chat-api on one keep-alive connection, for the heavy
user that bench/api/chat_seed.c made.

    api_bench.py --port P --secret S --user heavy --convs 1000 \\
                 --requests 500 --json out.json

Measures, each --requests times: the first page of the conversation list
(default limit), a page of 200, a page further down (before_ts of the
first page's last row), and a history page (default limit) of a random
conversation of the user. Reports p50/p99/max in milliseconds. The
numbers include this client's own time (a few tens of microseconds a
request), so they are an upper bound of the server's.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import random
import sys
import time


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(secret, sub, ttl=3600):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": sub, "exp": int(time.time()) + ttl}).encode())
    sig = hmac.new(secret.encode(), ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64url(sig))


def percentile(sorted_ms, p):
    i = min(len(sorted_ms) - 1, int(round(p / 100.0 * (len(sorted_ms) - 1))))
    return sorted_ms[i]


class Client:
    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": "Bearer " + token}

    def get(self, path):
        t0 = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        ms = (time.perf_counter() - t0) * 1000.0
        if resp.status != 200:
            sys.exit("api_bench: GET %s: %d %s" % (path, resp.status, body[:200]))
        return ms, json.loads(body)


def summary(samples):
    s = sorted(samples)
    return {"requests": len(s), "p50": round(percentile(s, 50), 3),
            "p99": round(percentile(s, 99), 3), "max": round(s[-1], 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--user", default="heavy")
    ap.add_argument("--convs", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--json")
    a = ap.parse_args()

    c = Client(a.port, hs256_token(a.secret, a.user))
    _, first = c.get("/api/conversations")
    rows = first["conversations"]
    if not rows or not first.get("more") and a.convs > len(rows):
        sys.exit("api_bench: the list of %s is not seeded: %r" % (a.user, first)[:300])
    before = rows[-1]["last"]["ts"]
    convs = ["dm:%s:u%06d" % (a.user, i) for i in range(1, a.convs + 1)]

    paths = {
        "conversations": lambda: "/api/conversations",
        "conversations_200": lambda: "/api/conversations?limit=200",
        "conversations_page2": lambda: "/api/conversations?before_ts=%d" % before,
        "history": lambda: "/api/conversations/%s/messages" % random.choice(convs),
    }
    results = {}
    for name, path in paths.items():
        for _ in range(a.warmup):
            c.get(path())
        samples = [c.get(path())[0] for _ in range(a.requests)]
        results[name] = summary(samples)
        print("api_bench: %-20s p50 %.2f ms  p99 %.2f ms  max %.2f ms"
              % (name, results[name]["p50"], results[name]["p99"], results[name]["max"]))

    out = {"user": a.user, "convs": a.convs, "results": results}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
