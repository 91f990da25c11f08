#!/usr/bin/env python3
"""Merges the --json results of chat-bench processes run in parallel.

    python3 bench/merge_results.py run-*.json [--json merged.json]

Counts are summed; latency percentiles are recomputed from the merged
histogram buckets (exact up to the bucket width, as in one process);
delivered/s is the sum of the processes' rates; handshakes/s is all the
connections that came up over the slowest process's connect phase. Prints a
short summary. bench/bench_report.py imports merge().
"""

import json
import sys

SUB_BITS = 7  # histogram.h HIST_SUB_BITS


def bucket_mid(lower):
    """The middle of the bucket that starts at lower (histogram.c)."""
    if lower < (1 << SUB_BITS):
        return lower
    e = lower.bit_length() - SUB_BITS
    return lower + ((1 << e) >> 1)


def add(dst, src):
    for k, v in src.items():
        if isinstance(v, bool) or isinstance(v, str):
            dst.setdefault(k, v)
        elif isinstance(v, (int, float)):
            dst[k] = dst.get(k, 0) + v
        elif isinstance(v, dict):
            add(dst.setdefault(k, {}), v)


def percentiles(buckets, count, vmax):
    out = {"count": count}
    if count == 0:
        return out
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)):
        rank = max(1, -(-count * p // 100))
        seen = 0
        for lower, n in buckets:
            seen += n
            if seen >= rank:
                out[name] = min(bucket_mid(lower), vmax) / 1e6
                break
    out["max"] = vmax / 1e6
    return out


def merge(runs):
    """The merged result of the parsed --json objects of several processes."""
    merged = {"runs": [r["run"] for r in runs], "mode": runs[0]["mode"],
              "processes": len(runs)}
    for key in ("connections", "sends", "delivered", "frames",
                "close_codes"):
        merged[key] = {}
        for r in runs:
            add(merged[key], r[key])
    merged["sends"].pop("max_tick_lag_ms", None)
    merged["max_tick_lag_ms"] = max(r["sends"]["max_tick_lag_ms"]
                                    for r in runs)
    merged["duration_s"] = max(r["duration_s"] for r in runs)
    c = merged["connections"]
    c["connect_s"] = max(r["connections"]["connect_s"] for r in runs)
    # the processes start together, so the slowest one's connect phase is
    # the time all of them took: the handshake rate of the whole run
    c["handshakes_per_s"] = c["up"] / c["connect_s"] if c["connect_s"] else 0

    merged["latency_ms"] = {}
    for name in runs[0]["latency_ms"]:
        hist = {}
        count = 0
        vmax = 0
        for r in runs:
            h = r["latency_ms"][name]
            count += h["count"]
            vmax = max(vmax, round(h.get("max", 0) * 1e6))
            for lower, n in h["buckets_ns"]:
                hist[lower] = hist.get(lower, 0) + n
        merged["latency_ms"][name] = percentiles(sorted(hist.items()),
                                                 count, vmax)
    return merged


def summary(merged):
    c = merged["connections"]
    s = merged["sends"]
    print("%d runs: connections requested %d, up %d, failed %d, dropped %d"
          % (len(merged["runs"]), c["requested"], c["up"], c["failed"],
             c["dropped"]))
    print("sends attempted %d, answered %d, errors %d %s; delivered %d "
          "(%.1f/s); max tick lag %.3f ms"
          % (s["attempted"], s["answered"], s["errors"],
             json.dumps(s["error_codes"]), merged["delivered"]["count"],
             merged["delivered"]["per_s"], merged["max_tick_lag_ms"]))
    for name, h in merged["latency_ms"].items():
        if h["count"]:
            print("latency %-5s n=%d p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f "
                  "max %.3f ms" % (name, h["count"], h["p50"], h["p90"],
                                   h["p99"], h["p99.9"], h["max"]))


def main(argv):
    out_path = None
    if "--json" in argv:
        i = argv.index("--json")
        out_path = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    runs = []
    for p in argv:
        with open(p) as f:
            runs.append(json.load(f))
    if not runs:
        sys.exit(__doc__)

    merged = merge(runs)
    summary(merged)

    if out_path:
        with open(out_path, "w") as f:
            json.dump(merged, f)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
