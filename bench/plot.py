#!/usr/bin/env python3
"""The plots of a benchmark report, from its results.json.

    python3 bench/plot.py bench/results/<ts>/results.json [OUT_DIR]

Writes latency_vs_load.png (sent and end-to-end percentiles against the
offered 1:1 load, achieved msgs/s on a second axis) and
memory_vs_connections.png (nginx workers' memory against idle
connections) next to results.json, or in OUT_DIR. A plot whose data is
missing is skipped. Returns the names of the files written.
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402


def save(fig, ax, title, path):
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_latency(msg_steps, path):
    steps = [s for s in msg_steps if s.get("e2e")]
    if not steps:
        return False
    x = [s["offered_per_s"] for s in steps]
    fig, ax = plt.subplots(figsize=(8, 5))
    styles = {"p50": "-", "p90": "--", "p99": ":"}
    for which, color in (("e2e", "tab:blue"), ("sent", "tab:orange")):
        for p, style in styles.items():
            y = [s[which].get(p) for s in steps]
            ax.plot(x, y, style, marker="o", color=color,
                    label="%s %s" % (which, p))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (1:1 msgs/s)")
    ax.set_ylabel("latency (ms)")
    ax.grid(True, which="both", alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(x, [s["achieved_per_s"] for s in steps], "s-", color="gray",
             alpha=0.6, label="achieved msgs/s")
    ax2.plot(x, x, color="gray", alpha=0.2, linewidth=1)
    ax2.set_yscale("log")
    ax2.set_ylabel("achieved msgs/s (delivered)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8,
              loc="upper left")
    return save(fig, ax, "ngx_chat 1:1 messages: latency vs offered load",
                path)


def plot_memory(samples, path):
    if len(samples) < 2:
        return False
    x = [s["connections"] for s in samples]
    fig, ax = plt.subplots(figsize=(8, 5))
    for key, label in (("rss_kib", "RSS"), ("anon_kib", "anonymous"),
                       ("private_kib", "private")):
        ax.plot(x, [s[key] / 1024 for s in samples], marker="o", label=label)
    ax.set_xlabel("idle authenticated connections")
    ax.set_ylabel("nginx workers' memory, all workers (MiB)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return save(fig, ax, "ngx_chat: memory vs idle connections", path)


def plot_all(results, out_dir):
    written = []
    path = os.path.join(out_dir, "latency_vs_load.png")
    if plot_latency(results.get("msg", {}).get("steps", []), path):
        written.append(os.path.basename(path))
    path = os.path.join(out_dir, "memory_vs_connections.png")
    if plot_memory(results.get("idle", {}).get("memory", []), path):
        written.append(os.path.basename(path))
    return written


def main(argv):
    if not argv:
        sys.exit(__doc__)
    with open(argv[0]) as f:
        results = json.load(f)
    out_dir = argv[1] if len(argv) > 1 else os.path.dirname(argv[0])
    for name in plot_all(results, out_dir):
        print(os.path.join(out_dir, name))


if __name__ == "__main__":
    main(sys.argv[1:])
