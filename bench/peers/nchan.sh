#!/bin/bash
# Nchan, the relay-path peer of the benchmark suite (issue 7): Debian's
# libnginx-mod-nchan on Debian's nginx (the one ngx_chat runs on), backed by
# its own redis-server, driven by build/nchan-bench.
#
#   bench/peers/nchan.sh start <dir>               start nginx+Nchan and redis
#   bench/peers/nchan.sh stop <dir>                stop them
#   bench/peers/nchan.sh run <results-dir> <scale> start, measure, stop
#
# CONTRACT (what scripts/bench relies on)
#
#   run <results-dir> <scale>, scale small | full, writes
#   <results-dir>/nchan.json:
#     {"name": "nchan", "scale": "small", "loadavg_at_start": [1m, 5m, 15m],
#      "nchan_version": "...", "nginx_version": "...", "workers": "auto",
#      "body_size": 0,
#      "relay": {"pairs": P, "processes": k, "offered_per_s": R,
#                "sent_per_s": .., "msgs_per_s": .., "sent": .., "delivered": ..,
#                "lost": .., "connections_up": .., "max_tick_lag_ms": ..,
#                "latency_ms": {"p50": .., "p90": .., "p99": .., "p99.9": ..,
#                               "max": .., "count": ..}},
#      "idle": {"requested": N, "connections": up, "processes": k,
#               "rss_kib_0": .., "rss_kib_n": .., "kib_per_conn": ..,
#               "anon_kib_0": .., "anon_kib_n": .., "anon_kib_per_conn": ..,
#               "redis_kib_0": .., "redis_kib_n": .., "redis_kib_per_conn": ..}}
#   msgs_per_s: messages sent in the measured window and delivered to the
#   pair's subscriber, per second of the window (chat-bench's delivered.per_s);
#   latency: publisher's send -> subscriber's receipt, the pair in one process
#   (CLOCK_MONOTONIC); offered_per_s: the configured total rate (open loop);
#   kib_per_conn: (sum of VmRSS of nginx's workers with N idle subscribers
#   up - the same before they connected) / N up, in KiB; anon_*: the same
#   with RssAnon (private memory, without the shared memory pages Nchan's
#   zone puts in VmRSS); redis_*: Redis's used_memory (Nchan keeps
#   per-channel state there).
#   It also leaves <results-dir>/nchan/: each process's nchan-bench JSON
#   (chat-bench's layout), the merged ones (bench/merge_results.py), the
#   nginx config and the logs. Exit status: 0 when nchan.json was written,
#   1 otherwise. It stops everything it started, also on SIGINT/SIGTERM.
#
#   Scales (each overridable by the environment variable in brackets):
#     small: 200 pairs [NCHAN_PAIRS] at 1500 msgs/s [NCHAN_RATE], 1 process
#            [NCHAN_RELAY_PROCS]; 5000 idle subscribers [NCHAN_IDLE] in 1
#            process [NCHAN_IDLE_PROCS]; 2 s warm-up [NCHAN_WARMUP], 5 s
#            window [NCHAN_DURATION]; nginx worker_processes auto
#            [NCHAN_WORKERS].
#     full:  issue 7's loads: 5000 pairs at 10000 msgs/s (half the 20k goal,
#            where the latency goals are stated) in 2 processes; 100000 idle
#            subscribers in 6 processes; 5 s warm-up, 30 s window; enough
#            workers that each holds at most ~16000 connections.
#   Messages: chat-bench's body, "<t> <seq> <run>", padded with x to
#   BENCH_BODY_SIZE bytes (default 0: unpadded, chat-bench's default); the
#   suite passes the --body-size it gives chat-bench.
#   Process k (from 0) binds source 127.0.0.(2+k) and takes channels
#   offset k*share: pair<i> for the relay, idle<i> for the idle subscribers.
#
# start <dir> leaves dir/run/port (Nchan's nginx, on 127.0.0.1) and
# dir/run/redis_port, both free ports picked at start; dir/nginx.conf is the
# config; stop <dir> stops what start left running there (TERM, then KILL
# after 10 s).
#
# Nchan config: publisher location /pub/<channel> (nchan_publisher
# websocket) and subscriber location /sub/<channel> (nchan_subscriber
# websocket), channel id from the URL, both nchan_redis_pass to an upstream
# holding the redis-server started here (Nchan 1.3.6's Redis storage,
# "distributed" mode: messages stored in Redis, Nchan's default buffer of
# messages per channel). listen ... reuseport spreads connections evenly
# over the workers; access_log off.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NGINX=${NCHAN_NGINX:-/usr/sbin/nginx}
REDIS_SERVER=${NCHAN_REDIS_SERVER:-/usr/bin/redis-server}
PY=/usr/bin/python3
BENCH=$TOP/build/nchan-bench
START_TIMEOUT=10
STOP_TIMEOUT=10

log() { echo "nchan.sh: $*" >&2; }
die() { log "$*"; exit 1; }

nchan_module() {
    local so
    so=$(dpkg -L libnginx-mod-nchan 2>/dev/null | grep '/ngx_nchan_module\.so$' || true)
    [ -n "$so" ] || die "libnginx-mod-nchan is not installed: run scripts/bench-deps as root"
    echo "$so"
}

# A port the kernel just gave out free on 127.0.0.1 (another process may
# take it before we bind: start fails then, and says so).
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:$1 accepts, at most START_TIMEOUT seconds.
wait_port() {
    local port=$1 i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Stops the process whose pid file is $1: TERM, then KILL after STOP_TIMEOUT.
stop_pidfile() {
    local file=$1 pid i
    [ -f "$file" ] || return 0
    read -r pid <"$file" || return 0
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill -TERM "$pid" 2>/dev/null || { rm -f "$file"; return 0; }
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$file"; return 0; }
        sleep 0.1
    done
    log "pid $pid did not stop in ${STOP_TIMEOUT}s: KILL"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$file"
}

# nginx.conf for Nchan: $1 dir, $2 port, $3 redis port, $4 workers,
# $5 worker_connections.
write_conf() {
    local dir=$1 port=$2 rport=$3 workers=$4 wc=$5 so
    so=$(nchan_module)
    cat >"$dir/nginx.conf" <<EOF
# Nchan peer of the ngx_chat benchmark (written by bench/peers/nchan.sh).
load_module $so;

worker_processes $workers;
worker_rlimit_nofile $((wc + 1024));
error_log logs/error.log notice;
pid run/nginx.pid;

events {
    worker_connections $wc;
}

http {
    access_log off;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

    upstream nchan_redis {
        nchan_redis_server redis://127.0.0.1:$rport;
    }

    server {
        listen 127.0.0.1:$port reuseport;

        # one channel per pair: the publisher's end ...
        location ~ ^/pub/([A-Za-z0-9_]+)\$ {
            nchan_publisher websocket;
            nchan_channel_id \$1;
            nchan_redis_pass nchan_redis;
        }

        # ... and the subscriber's
        location ~ ^/sub/([A-Za-z0-9_]+)\$ {
            nchan_subscriber websocket;
            nchan_channel_id \$1;
            nchan_redis_pass nchan_redis;
        }
    }
}
EOF
}

cmd_start() {
    local dir=$1 port rport
    mkdir -p "$dir"/{logs,tmp,run,redis}
    dir=$(cd "$dir" && pwd)
    port=$(free_port)
    rport=$(free_port)
    [ "$port" != "$rport" ] || rport=$(free_port)

    "$REDIS_SERVER" --bind 127.0.0.1 --port "$rport" --save '' \
        --appendonly no --daemonize yes --dir "$dir/redis" \
        --pidfile "$dir/run/redis.pid" --logfile "$dir/logs/redis.log" \
        || die "redis-server did not start (see $dir/logs/redis.log)"
    if ! wait_port "$rport"; then
        cmd_stop "$dir"
        die "redis-server is not listening on $rport (see $dir/logs/redis.log)"
    fi

    write_conf "$dir" "$port" "$rport" "${NCHAN_WORKERS:-auto}" \
        "${NCHAN_WORKER_CONNECTIONS:-16384}"
    if ! "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -q; then
        cmd_stop "$dir"
        die "nginx did not start (see $dir/logs/error.log)"
    fi
    if ! wait_port "$port"; then
        cmd_stop "$dir"
        die "nginx is not listening on $port (see $dir/logs/error.log)"
    fi

    echo "$port" >"$dir/run/port"
    echo "$rport" >"$dir/run/redis_port"
    log "Nchan on 127.0.0.1:$port, redis on $rport, state in $dir"
}

cmd_stop() {
    local dir=$1
    stop_pidfile "$dir/run/nginx.pid"
    stop_pidfile "$dir/run/redis.pid"
    rm -f "$dir/run/port" "$dir/run/redis_port"
}

# "VmRSS RssAnon" (KiB) summed over the nginx master's children, its
# workers: all resident memory (with the shared memory they touched), and
# the private part.
workers_rss_kib() {
    local master kids pid total=0 anon=0 line
    read -r master <"$1/run/nginx.pid"
    kids=$(cat "/proc/$master/task/$master/children" 2>/dev/null || true)
    for pid in $kids; do
        line=$(awk '$1 == "VmRSS:" { r = $2 } $1 == "RssAnon:" { a = $2 }
                    END { print r + 0, a + 0 }' "/proc/$pid/status" 2>/dev/null \
               || echo "0 0")
        total=$((total + ${line% *}))
        anon=$((anon + ${line#* }))
    done
    echo "$total $anon"
}

# Redis's used_memory in KiB (what Nchan keeps there per channel).
redis_kib() {
    local rport
    read -r rport <"$1/run/redis_port"
    timeout 5 redis-cli -p "$rport" info memory 2>/dev/null \
        | awk -F: '$1 == "used_memory" { printf "%d\n", $2 / 1024 }'
}

# Starts $1 nchan-bench processes in the background, splitting $2 (pairs or
# subscribers, flag COUNT_FLAG) among them; $3 is the prefix of their files
# ($3-k.json, .log, .ready); the rest are flags for all. Each bounds its own
# run; timeout (GUARD_S) guards against a hang. wait_procs waits for them.
run_procs() {
    local procs=$1 total=$2 out=$3 k share n off pids=()
    shift 3
    share=$(((total + procs - 1) / procs))
    for ((k = 0; k < procs; k++)); do
        off=$((k * share))
        n=$((total - off < share ? total - off : share))
        [ "$n" -gt 0 ] || break
        timeout --signal=TERM "$GUARD_S" "$BENCH" --port "$PORT" \
            --src "127.0.0.$((2 + k))" --offset "$off" "$@" \
            "${COUNT_FLAG}" "$n" --json "$out-$k.json" \
            --ready-file "$out-$k.ready" \
            >"$out-$k.log" 2>&1 &
        pids+=($!)
    done
    PROCS_PIDS=("${pids[@]}")
}

wait_procs() {
    local pid rc=0
    for pid in "${PROCS_PIDS[@]}"; do
        wait "$pid" || rc=$?
    done
    PROCS_PIDS=()
    return "$rc"
}

# The idle part: RSS of the workers at 0, then with N subscribers up.
run_idle() {
    local out=$RAW/idle i ready rss0 rssn redis0 redisn
    rss0=$(workers_rss_kib "$STATE")
    redis0=$(redis_kib "$STATE")
    COUNT_FLAG=--connections
    GUARD_S=$((IDLE / CONNECT_RATE + 60 + HOLD))
    run_procs "$IDLE_PROCS" "$IDLE" "$out" --mode idle \
        --connect-rate "$CONNECT_RATE" --warmup 0 --duration "$HOLD"
    # every process is past its connect phase (its ready file), or the
    # guard ran out
    for ((i = 0; i < (GUARD_S - HOLD) * 10; i++)); do
        ready=$(find "$RAW" -maxdepth 1 -name 'idle-*.ready' | wc -l)
        [ "$ready" -lt "${#PROCS_PIDS[@]}" ] || break
        sleep 0.1
    done
    sleep 2     # let the workers settle (buffers freed after the upgrade)
    rssn=$(workers_rss_kib "$STATE")
    redisn=$(redis_kib "$STATE")
    wait_procs || log "idle: a process reported a problem (see $out-*.log)"
    "$PY" "$TOP/bench/merge_results.py" "$out"-[0-9]*.json \
        --json "$out-merged.json" >"$out-merged.log"
    echo "$rss0 $rssn ${redis0:-0} ${redisn:-0}" >"$out-rss"
}

run_relay() {
    local out=$RAW/relay
    COUNT_FLAG=--pairs
    GUARD_S=$((2 * PAIRS / CONNECT_RATE + 60 + WARMUP + DURATION))
    run_procs "$RELAY_PROCS" "$PAIRS" "$out" --mode relay \
        --connect-rate "$CONNECT_RATE" --warmup "$WARMUP" \
        --duration "$DURATION" --body-size "$BODY_SIZE" \
        --rate "$(awk -v r="$RATE" -v p="$RELAY_PROCS" 'BEGIN { printf "%.3f", r / p }')"
    wait_procs || log "relay: a process reported a problem (see $out-*.log)"
    "$PY" "$TOP/bench/merge_results.py" "$out"-[0-9]*.json \
        --json "$out-merged.json" >"$out-merged.log"
}

set_scale() {
    case $1 in
    small)
        PAIRS=${NCHAN_PAIRS:-200} RATE=${NCHAN_RATE:-1500}
        RELAY_PROCS=${NCHAN_RELAY_PROCS:-1} IDLE=${NCHAN_IDLE:-5000}
        IDLE_PROCS=${NCHAN_IDLE_PROCS:-1} WARMUP=${NCHAN_WARMUP:-2}
        DURATION=${NCHAN_DURATION:-5} HOLD=6
        CONNECT_RATE=${NCHAN_CONNECT_RATE:-2000}
        export NCHAN_WORKERS=${NCHAN_WORKERS:-auto} ;;
    full)
        PAIRS=${NCHAN_PAIRS:-5000} RATE=${NCHAN_RATE:-10000}
        RELAY_PROCS=${NCHAN_RELAY_PROCS:-2} IDLE=${NCHAN_IDLE:-100000}
        IDLE_PROCS=${NCHAN_IDLE_PROCS:-6} WARMUP=${NCHAN_WARMUP:-5}
        DURATION=${NCHAN_DURATION:-30} HOLD=15
        CONNECT_RATE=${NCHAN_CONNECT_RATE:-2000}
        export NCHAN_WORKERS=${NCHAN_WORKERS:-$(( (IDLE + 15999) / 16000 ))}
        export NCHAN_WORKER_CONNECTIONS=${NCHAN_WORKER_CONNECTIONS:-24576} ;;
    *)
        die "scale is small or full, not '$1'" ;;
    esac
    BODY_SIZE=${BENCH_BODY_SIZE:-0}
    # process k binds 127.0.0.(2+k); each holds < 20000 descriptors
    [ "$IDLE_PROCS" -ge $(((IDLE + 17999) / 18000)) ] \
        || die "$IDLE idle subscribers need $(((IDLE + 17999) / 18000)) processes"
}

write_result() {
    "$PY" - "$RAW" "$1" "$2" "$PAIRS" "$RATE" "$RELAY_PROCS" "$IDLE" \
        "$IDLE_PROCS" "$NCHAN_WORKERS" "$BODY_SIZE" \
        "$(dpkg-query -W -f='${Version}' libnginx-mod-nchan)" \
        "$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')" "$LOADAVG" <<'EOF'
import json, sys
(raw, out, scale, pairs, rate, rprocs, idle, iprocs, workers, body,
 nchan_v, nginx_v, loadavg) = sys.argv[1:]
relay = json.load(open(raw + "/relay-merged.json"))
idle_m = json.load(open(raw + "/idle-merged.json"))
rss0, anon0, rssn, anonn, redis0, redisn = (
    int(x) for x in open(raw + "/idle-rss").read().split())
e2e = relay["latency_ms"]["e2e"]
win = relay["duration_s"] or 1
up = idle_m["connections"]["up"]
res = {
    "name": "nchan", "scale": scale,
    "loadavg_at_start": [float(x) for x in loadavg.split()[:3]],
    "nchan_version": nchan_v, "nginx_version": nginx_v,
    "workers": workers, "body_size": int(body),
    "relay": {
        "pairs": int(pairs), "processes": int(rprocs),
        "offered_per_s": float(rate),
        "sent_per_s": relay["sends"]["attempted"] / win,
        "msgs_per_s": relay["delivered"]["per_s"],
        "sent": relay["sends"]["attempted"],
        "delivered": relay["delivered"]["count"],
        "lost": relay["sends"]["attempted"] - relay["delivered"]["count"],
        "connections_up": relay["connections"]["up"],
        "max_tick_lag_ms": relay["max_tick_lag_ms"],
        "latency_ms": {k: e2e.get(k) for k in
                       ("p50", "p90", "p99", "p99.9", "max", "count")},
    },
    "idle": {
        "requested": int(idle), "connections": up, "processes": int(iprocs),
        "rss_kib_0": rss0, "rss_kib_n": rssn,
        "kib_per_conn": (rssn - rss0) / up if up else None,
        "anon_kib_0": anon0, "anon_kib_n": anonn,
        "anon_kib_per_conn": (anonn - anon0) / up if up else None,
        "redis_kib_0": redis0, "redis_kib_n": redisn,
        "redis_kib_per_conn": (redisn - redis0) / up if up else None,
    },
}
with open(out, "w") as f:
    json.dump(res, f, indent=1)
    f.write("\n")
print(json.dumps(res))
EOF
}

# On any exit of run: the load generators still running, then the servers.
cleanup() {
    local pid
    for pid in "${PROCS_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    cmd_stop "$STATE"
}

cmd_run() {
    local results=$1 scale=$2
    set_scale "$scale"
    mkdir -p "$results"
    results=$(cd "$results" && pwd)
    RAW=$results/nchan
    STATE=$RAW/state
    rm -rf "$RAW"
    mkdir -p "$RAW"

    read -r LOADAVG </proc/loadavg
    make -C "$TOP" -s build/nchan-bench >&2 || die "build/nchan-bench did not build"
    PROCS_PIDS=()
    trap cleanup EXIT
    trap 'exit 1' INT TERM

    cmd_start "$STATE"
    read -r PORT <"$STATE/run/port"
    cp "$STATE/nginx.conf" "$RAW/"

    # idle first: its RSS at 0 is that of a fresh server
    log "idle: $IDLE subscribers in $IDLE_PROCS process(es)"
    run_idle
    log "relay: $PAIRS pairs, $RATE msgs/s, ${DURATION}s window"
    run_relay

    write_result "$results/nchan.json" "$scale"
}

case ${1:-} in
start) [ $# -eq 2 ] || die "usage: $0 start <dir>"; cmd_start "$2" ;;
stop)  [ $# -eq 2 ] || die "usage: $0 stop <dir>"; cmd_stop "$2" ;;
run)   [ $# -eq 3 ] || die "usage: $0 run <results-dir> small|full"; cmd_run "$2" "$3" ;;
*)     die "usage: $0 start <dir> | stop <dir> | run <results-dir> small|full" ;;
esac
