#!/bin/bash
# ejabberd as a peer of ngx_chat for full 1:1 chat with offline storage:
# XMPP over WebSocket (RFC 7395), driven by build/xmpp-bench.
#
# Contract (what the core suite, scripts/bench, relies on):
#
#   bench/peers/ejabberd.sh start <dir>
#       Starts an instance of its own: config, Mnesia spool, logs and pid
#       under <dir> (created), node ejabberd-bench-<port>@localhost with a
#       random cookie, Erlang distribution on a free port without epmd, an
#       ejabberd_http listener with /ws (ejabberd_http_ws) on a free port of
#       127.0.0.1, mod_offline on, SASL PLAIN against plain stored passwords.
#       Writes <dir>/instance.env (HTTP_PORT, DIST_PORT, NODE, XMPP_HOST).
#       Never uses the packaged service or /var/lib/ejabberd.
#   bench/peers/ejabberd.sh register <dir> <prefix> <count> <password>
#       Creates users <prefix>0 .. <prefix><count-1> in one bulk import
#       (XEP-0227 file through `ejabberdctl import_piefxis`).
#   bench/peers/ejabberd.sh stop <dir>
#       ejabberdctl stop (bounded), then SIGTERM/SIGKILL of the node's pid;
#       leaves nothing running. Safe to call twice.
#   bench/peers/ejabberd.sh run <results-dir> <scale>
#       scale: small (200 pairs, 1000 msgs/s) or full (EJ_PAIRS pairs,
#       default 5000, at EJ_RATE msgs/s, default 10000: issue 7's matched
#       load, half of the 20k goal). Starts an instance in a temporary dir,
#       registers the users, measures idle memory (beam.smp RSS with 0 and
#       with N authenticated idle sessions), then the relay (P pairs, open
#       loop), stops the instance and writes <results-dir>/ejabberd.json:
#         {"name":"ejabberd","version":"23.01","scale":...,
#          "relay":{"pairs":..,"msgs_per_s":..,"offered_per_s":..,
#                   "body_size":..,"latency_ms":{"p50":..,"p90":..,"p99":..}},
#          "idle":{"connections":..,"kib_per_conn":..,
#                  "rss_kib_0":..,"rss_kib_n":..}}
#       and the raw client reports next to it (ejabberd-relay.json,
#       ejabberd-idle.json). Exit 0 on success, 1 on a failed run.
#
#   Environment of run: EJ_PAIRS, EJ_RATE, EJ_DURATION (s, default 10; 5 at
#   small), EJ_WARMUP (s, 2), EJ_BODY_SIZE (bytes the body is padded to, as
#   chat-bench's --body-size; 0: no padding), EJ_CONNECT_RATE (sessions/s,
#   2000), EJ_IDLE (idle sessions, default 2 x pairs), EJ_SRC (source address),
#   EJ_KEEP=1 keeps the temporary dir (logs).
#
# Needs root (ejabberdctl runs the node as the ejabberd user) and Debian's
# ejabberd package (scripts/bench-deps).
set -euo pipefail

EJ_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EJ_CTL=/usr/sbin/ejabberdctl
EJ_USER=ejabberd
EJ_XMPP_HOST=localhost
EJ_PASSWORD=benchpw
EJ_START_TIMEOUT=60     # s for the node to come up
EJ_STOP_TIMEOUT=20      # s for ejabberdctl stop before signals
EJ_CTL_TIMEOUT=120      # s for any one ejabberdctl call

ej_log() { echo "ejabberd.sh: $*" >&2; }
ej_die() { ej_log "$*"; exit 1; }

# A free TCP port of 127.0.0.1 (the kernel picks it; it is released at once,
# so a race with another process is possible but unlikely).
ej_free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ejabberdctl against the instance in $1 (its env must be loaded).
ej_ctl() {
    local dir=$1; shift
    timeout "$EJ_CTL_TIMEOUT" "$EJ_CTL" --config-dir "$dir/etc" \
        --ctl-config "$dir/etc/ejabberdctl.cfg" --spool "$dir/spool" \
        --logs "$dir/log" --node "$NODE" "$@"
}

ej_load() {
    [ -f "$1/instance.env" ] || ej_die "no instance in $1"
    # shellcheck disable=SC1091
    . "$1/instance.env"
}

ej_write_config() {
    local dir=$1
    cat > "$dir/etc/ejabberd.yml" <<EOF
# rendered by bench/peers/ejabberd.sh: a benchmark instance, loopback only
hosts:
  - "$EJ_XMPP_HOST"
loglevel: warning
log_rotate_count: 0
hide_sensitive_log_data: true
certfiles: []
auth_method: internal
# plain stored passwords: SASL PLAIN then costs no PBKDF2 per login
auth_password_format: plain
default_db: mnesia
# the caches (users, passwords, ...) hold every bench user
cache_size: 1000000
listen:
  -
    port: $HTTP_PORT
    ip: "127.0.0.1"
    module: ejabberd_http
    # the default accept queue (5) makes a connection burst wait for SYN
    # retransmits
    backlog: 4096
    request_handlers:
      "/ws": ejabberd_http_ws
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 100000
modules:
  mod_offline:
    access_max_user_messages: max_user_offline_messages
EOF
    # ERL is replaced by a wrapper that raises the descriptor limit: the
    # node runs through su, whose PAM session resets it to 1024.
    cat > "$dir/etc/erl" <<'EOF'
#!/bin/sh
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec /usr/bin/erl "$@"
EOF
    chmod 755 "$dir/etc/erl"
    cat > "$dir/etc/ejabberdctl.cfg" <<EOF
ERL=$dir/etc/erl
ERL_DIST_PORT=$DIST_PORT
ERL_MAX_PORTS=65536
ERL_PROCESSES=1000000
ERL_OPTIONS="-setcookie $COOKIE -env ERL_CRASH_DUMP_BYTES 0"
INET_DIST_INTERFACE=127.0.0.1
EJABBERD_PID_PATH=$dir/run/ejabberd.pid
EJABBERD_BYPASS_WARNINGS=true
EOF
    cp /etc/ejabberd/inetrc "$dir/etc/inetrc"
}

# Waits until `ejabberdctl status` answers that the node runs.
ej_wait_started() {
    local dir=$1 t=0
    while [ $t -lt $EJ_START_TIMEOUT ]; do
        if ej_ctl "$dir" status >/dev/null 2>&1; then return 0; fi
        sleep 1; t=$((t + 1))
    done
    return 1
}

ej_start() {
    local dir=$1
    [ -x "$EJ_CTL" ] || ej_die "no $EJ_CTL: run scripts/bench-deps as root"
    [ "$(id -u)" = 0 ] || ej_die "start needs root (the node runs as $EJ_USER)"
    mkdir -p "$dir"/{etc,spool,log,run}
    dir=$(cd "$dir" && pwd)
    HTTP_PORT=$(ej_free_port)
    DIST_PORT=$(ej_free_port)
    NODE="ejabberd-bench-$DIST_PORT@localhost"
    COOKIE=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    cat > "$dir/instance.env" <<EOF
HTTP_PORT=$HTTP_PORT
DIST_PORT=$DIST_PORT
NODE=$NODE
COOKIE=$COOKIE
XMPP_HOST=$EJ_XMPP_HOST
EOF
    ej_write_config "$dir"
    chown -R "$EJ_USER:" "$dir"
    chmod 700 "$dir/etc" "$dir/spool"
    ej_ctl "$dir" start || ej_die "ejabberdctl start failed"
    if ! ej_wait_started "$dir"; then
        ej_log "node did not come up in ${EJ_START_TIMEOUT}s; log:"
        tail -20 "$dir/log/ejabberd.log" >&2 || true
        ej_stop "$dir"
        exit 1
    fi
    ej_log "started $NODE, ws://127.0.0.1:$HTTP_PORT/ws"
}

ej_pid() {
    local f=$1/run/ejabberd.pid
    if [ -s "$f" ]; then cat "$f"; fi
}

ej_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

ej_stop() {
    local dir=$1 pid t
    ej_load "$dir"
    pid=$(ej_pid "$dir")
    if ej_alive "$pid" || [ -z "$pid" ]; then
        timeout "$EJ_STOP_TIMEOUT" "$EJ_CTL" --config-dir "$dir/etc" \
            --ctl-config "$dir/etc/ejabberdctl.cfg" --spool "$dir/spool" \
            --logs "$dir/log" --node "$NODE" stop >/dev/null 2>&1 || true
    fi
    [ -n "$pid" ] || pid=$(pgrep -f -- "-sname $NODE " || true)
    for sig in TERM KILL; do
        t=0
        while ej_alive "$pid" && [ $t -lt $((EJ_STOP_TIMEOUT * 2)) ]; do
            sleep 0.5; t=$((t + 1))
        done
        ej_alive "$pid" || break
        ej_log "node $pid still running: SIG$sig"
        kill -s "$sig" "$pid" 2>/dev/null || true
    done
    # the node's helpers (inet_gethost, erl_child_setup) end with it
}

# One bulk import: a XEP-0227 file with every user, plain passwords.
ej_register() {
    local dir=$1 prefix=$2 count=$3 password=$4 f
    ej_load "$dir"
    f=$dir/run/users-$prefix.xml
    {
        echo "<?xml version='1.0' encoding='UTF-8'?>"
        echo "<server-data xmlns='urn:xmpp:pie:0'>"
        echo "<host xmlns='urn:xmpp:pie:0' jid='$XMPP_HOST'>"
        awk -v n="$count" -v p="$prefix" -v pw="$password" \
            'BEGIN { for (i = 0; i < n; i++)
                     printf "<user name=\"%s%d\" password=\"%s\"/>\n", p, i, pw }'
        echo "</host>"
        echo "</server-data>"
    } > "$f"
    chown "$EJ_USER:" "$f"
    ej_ctl "$dir" import_piefxis "$f" >/dev/null \
        || ej_die "import_piefxis of $count users failed"
    ej_log "registered $count users $prefix*"
}

# Resident KiB of the node's beam.smp.
ej_rss_kib() {
    local pid
    pid=$(ej_pid "$1")
    awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"
}

ej_run() {
    local res=$1 scale=$2 dir pairs rate dur warm idle body src prog crate
    case $scale in
        small) pairs=${EJ_PAIRS:-200}; rate=${EJ_RATE:-1000}
               dur=${EJ_DURATION:-5} ;;
        full)  pairs=${EJ_PAIRS:-5000}; rate=${EJ_RATE:-10000}
               dur=${EJ_DURATION:-10} ;;
        *) ej_die "scale must be small or full" ;;
    esac
    warm=${EJ_WARMUP:-2}
    idle=${EJ_IDLE:-$((pairs * 2))}
    body=${EJ_BODY_SIZE:-0}
    crate=${EJ_CONNECT_RATE:-2000}
    src=()
    [ -z "${EJ_SRC:-}" ] || src=(--src "$EJ_SRC")
    prog=$EJ_TOP/build/xmpp-bench
    make -s -C "$EJ_TOP" build/xmpp-bench >&2
    mkdir -p "$res"
    res=$(cd "$res" && pwd)
    dir=$(mktemp -d /tmp/ejabberd-bench.XXXXXX)
    chmod 755 "$dir"
    # shellcheck disable=SC2064
    trap "ej_stop '$dir' || true; [ -n \"\${EJ_KEEP:-}\" ] || rm -rf '$dir'" EXIT
    trap 'exit 130' INT TERM
    ej_start "$dir"
    ej_load "$dir"
    local users=$idle
    [ $((pairs * 2)) -gt "$users" ] && users=$((pairs * 2))
    ej_register "$dir" ej "$users" "$EJ_PASSWORD"

    local rss0 rssn
    rss0=$(ej_rss_kib "$dir")
    "$prog" --port "$HTTP_PORT" --domain "$XMPP_HOST" --prefix ej \
        --password "$EJ_PASSWORD" --connections "$idle" --mode idle \
        --connect-rate "$crate" \
        --duration 3 --warmup 0 "${src[@]}" --rss-pid "$(ej_pid "$dir")" \
        --json "$res/ejabberd-idle.json" >&2 || ej_log "idle run failed"
    rssn=$(python3 -c 'import json,sys
print(json.load(open(sys.argv[1]))["rss_kib_at_peak"])' "$res/ejabberd-idle.json" \
        2>/dev/null || echo 0)

    "$prog" --port "$HTTP_PORT" --domain "$XMPP_HOST" --prefix ej \
        --password "$EJ_PASSWORD" --connections $((pairs * 2)) --mode msg \
        --connect-rate "$crate" \
        --rate "$rate" --warmup "$warm" --duration "$dur" \
        --body-size "$body" "${src[@]}" --json "$res/ejabberd-relay.json" >&2 \
        || ej_log "relay run failed"

    python3 - "$res" "$scale" "$pairs" "$rss0" "$rssn" <<'EOF'
import json, sys
res, scale, pairs, rss0, rssn = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5] or 0)
relay = json.load(open(res + "/ejabberd-relay.json"))
out = {"name": "ejabberd", "version": "23.01", "scale": scale,
       "relay": {"pairs": pairs,
                 "msgs_per_s": relay["delivered"]["per_s"],
                 "offered_per_s": relay["offered_per_s"],
                 "body_size": relay["body_size"],
                 "connections_up": relay["connections"]["up"],
                 "latency_ms": {k: relay["latency_ms"]["e2e"][k]
                                for k in ("p50", "p90", "p99", "max")}}}
try:
    idle = json.load(open(res + "/ejabberd-idle.json"))
    n = idle["connections"]["up"]
    if n and rssn:
        out["idle"] = {"connections": n, "rss_kib_0": rss0,
                       "rss_kib_n": rssn,
                       "kib_per_conn": round((rssn - rss0) / n, 2)}
except (OSError, KeyError, ValueError):
    pass
json.dump(out, open(res + "/ejabberd.json", "w"), indent=2)
print(json.dumps(out, indent=2))
EOF
}

case ${1:-} in
    start)    [ $# -eq 2 ] || ej_die "usage: $0 start <dir>"; ej_start "$2" ;;
    stop)     [ $# -eq 2 ] || ej_die "usage: $0 stop <dir>"; ej_stop "$2" ;;
    register) [ $# -eq 5 ] || ej_die "usage: $0 register <dir> <prefix> <count> <password>"
              ej_register "$2" "$3" "$4" "$5" ;;
    run)      [ $# -eq 3 ] || ej_die "usage: $0 run <results-dir> <scale>"
              ej_run "$2" "$3" ;;
    *) ej_die "usage: $0 start|stop <dir> | register <dir> <prefix> <n> <pw> | run <results-dir> small|full" ;;
esac
