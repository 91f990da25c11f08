# shellcheck shell=bash
# Shared settings and functions of the development scripts; sourced, not run.
#
#   CHAT_PORT          port nginx listens on (default 8080)
#   CHAT_ADDR          address it listens on (default 127.0.0.1)
#   CHAT_JWT_SECRET    the HS256 secret of tokens, written to the state dir's
#                      chat-jwt.secret; unset, that file is made once of 48
#                      random bytes (base64) and kept across runs
#   CHAT_REDIS_PASSWORD the password redis-server requires (requirepass),
#                      written to the state dir's redis.password; unset,
#                      made once like the token secret
#   CHAT_STATE_DIR     where the rendered config, logs, pids and data go
#   CHAT_MODULE        the module to load (default build/ngx_chat_module.so)
#   CHAT_PRELOAD       libraries to LD_PRELOAD into nginx (sanitizer runs)
#   CHAT_REDIS_PORT    port of redis-server, on 127.0.0.1 (default CHAT_PORT+1000);
#                      a cluster's first node (the others on the next 5 ports)
#   CHAT_REDIS         single (default): one redis-server; cluster: a Redis
#                      Cluster of 3 masters and 3 replicas (lib-redis-cluster.sh)
#   CHAT_WORKERS       how many chat-workers (default 1; 0 for none)
#   CHAT_PARTITIONS    partitions of the chat.writes topic (default 8)
#   CHAT_WORKER_BIN    the chat-worker program (default build/chat-worker)
#   CHAT_WORKER_ASAN_OPTIONS  ASAN_OPTIONS of the chat-workers alone, when
#                      set (the ASan run checks their leaks, not nginx's)
#   CHAT_WORKER_ARGS   more flags for every chat-worker, split on blanks
#                      (e.g. "--push-url http://127.0.0.1:9000/push")
#   CHAT_APIS          how many chat-api processes (default 1; 0 for none:
#                      then /api/ answers 503)
#   CHAT_API_PORT      port of the first chat-api, on 127.0.0.1; api-N
#                      listens on CHAT_API_PORT+N-1 (default CHAT_PORT+2000)
#   CHAT_API_BIN       the chat-api program (default build/chat-api)
#   CHAT_API_ARGS      more flags for every chat-api, split on blanks
#                      (e.g. "--media-max 1048576")
#   CHAT_API_ASAN_OPTIONS  ASAN_OPTIONS of the chat-apis alone, when set
#   CHAT_MEDIA_KEY     the key that signs media URLs, written to the state
#                      dir's chat-media.secret; unset, made once like the
#                      token secret
#   CHAT_BROKER_BIN    the dev Kafka broker (default build/chat-devbroker)
#   CHAT_KAFKA         dev (default): the dev broker, librdkafka's mock
#                      cluster in one process; real: Apache Kafka (see
#                      scripts/lib-kafka.sh), a cluster in the state dir
#   CHAT_KAFKA_NODES   real: its nodes, 1 (default) or 3, each a broker and
#                      controller; topics are replicated on all of them
#   CHAT_KAFKA_PORT    real: the first node's port (default CHAT_PORT+4000);
#                      node K takes CHAT_KAFKA_PORT+2(K-1) and the next one
#   CHAT_KAFKA_HEAP    real: each node's Java heap (default 256m)
#   CHAT_KAFKA_LIB     real: the broker's jars, which `make deps` fetches
#                      (default /var/cache/ngx_chat/kafka-VERSION/lib, or
#                      ~/.cache/ngx_chat/... where /var/cache is not ours)
#   CHAT_KAFKA_TIMEOUT real: seconds the cluster gets to start (default 90)
#   CHAT_REDIS_SERVER  the redis-server program (default: Debian's)
#   CHAT_CONF_TEMPLATE the nginx config to render (default nginx.conf.example)
#   CHAT_WORKER_TIMEOUT seconds a starting worker gets to be ready (default 30)
#   CHAT_API_TIMEOUT   seconds a starting chat-api gets to be ready (default 10)
#   CHAT_STORE         the store of the workers and chat-apis: sqlite (the
#                      default: the state dir's chat.db) or postgres (a
#                      PostgreSQL cluster of the state dir's own, started as
#                      the component "postgres": scripts/lib-postgres.sh)
#   CHAT_PG_PORT       port of that cluster, on 127.0.0.1 (default CHAT_PORT+3000)
#   CHAT_PG_DIR        that cluster's data dir (default the state dir's
#                      postgres/; under root, the user postgres must be able
#                      to reach it)
#   CHAT_PG_TIMEOUT    seconds it gets to answer (default 60: the first
#                      start runs initdb)
#   CHAT_STORE_URI     an external store instead, as the programs' --store
#                      takes it (e.g. "postgres:host=db1 dbname=chat"):
#                      then no store is started or stopped here
#
# The state dir holds run/<name>.pid and run/<name>.cmd (its command line)
# for each component (redis, broker or kafka-K, postgres, worker-N, api-N,
# nginx), run/kafka.address (the bootstrap list), kafka/ (CHAT_KAFKA=real:
# the cluster's configs and log dirs), logs/ (one log per component, nginx's
# error.log and access.log), redis/ (its append-only file), chat.db (SQLite)
# or postgres/ (the cluster's data dir), media/
# (the uploaded files, which nginx serves and the workers clean up) and the
# secrets: chat-jwt.secret (tokens), chat-media.secret (media URLs) and
# redis.password (mode 600).

CHAT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHAT_PORT=${CHAT_PORT:-8080}
CHAT_ADDR=${CHAT_ADDR:-127.0.0.1}
CHAT_STATE_DIR=${CHAT_STATE_DIR:-$CHAT_TOP/state}
CHAT_MODULE=${CHAT_MODULE:-$CHAT_TOP/build/ngx_chat_module.so}
CHAT_NGINX=${CHAT_NGINX:-/usr/sbin/nginx}
CHAT_WORKERS=${CHAT_WORKERS:-1}
CHAT_PARTITIONS=${CHAT_PARTITIONS:-8}
CHAT_WORKER_BIN=${CHAT_WORKER_BIN:-$CHAT_TOP/build/chat-worker}
CHAT_APIS=${CHAT_APIS:-1}
CHAT_API_BIN=${CHAT_API_BIN:-$CHAT_TOP/build/chat-api}
CHAT_BROKER_BIN=${CHAT_BROKER_BIN:-$CHAT_TOP/build/chat-devbroker}
CHAT_REDIS_SERVER=${CHAT_REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
CHAT_CONF_TEMPLATE=${CHAT_CONF_TEMPLATE:-$CHAT_TOP/nginx.conf.example}
CHAT_KAFKA=${CHAT_KAFKA:-dev}
CHAT_REDIS=${CHAT_REDIS:-single}

# shellcheck source=scripts/lib-redis-cluster.sh
. "$CHAT_TOP/scripts/lib-redis-cluster.sh"

# Fixed names: the topic and group the module and the workers agree on.
CHAT_TOPIC=chat.writes
CHAT_GROUP=chat-workers

# Seconds each component gets to start, and to stop before SIGKILL. A
# worker is ready once the group gave it partitions: a restarted one waits
# for its dead predecessor's session (6 s) to time out and for the
# rebalance (about 6 s on a real Kafka, 10 s and more on the dev broker,
# which holds rebalances longer), hence more than the others.
CHAT_START_TIMEOUT=10
CHAT_WORKER_TIMEOUT=${CHAT_WORKER_TIMEOUT:-30}
CHAT_API_TIMEOUT=${CHAT_API_TIMEOUT:-10}
CHAT_STOP_TIMEOUT=10

# Names of the components this invocation started, in order (for rollback).
CHAT_STARTED=()

# shellcheck source=scripts/lib-postgres.sh
. "$CHAT_TOP/scripts/lib-postgres.sh"

chat_log() {
    echo "${CHAT_SCRIPT:-chat}: $*"
}

chat_err() {
    echo "${CHAT_SCRIPT:-chat}: $*" >&2
}

# Checks the numeric settings before anything is started, so that a typo
# gives a message rather than a half-started system.
chat_check_settings() {
    local name value
    for name in CHAT_PORT CHAT_WORKERS CHAT_PARTITIONS CHAT_APIS; do
        value=${!name}
        if ! [[ $value =~ ^[0-9]+$ ]]; then
            chat_err "$name must be a number, not '$value'"
            return 1
        fi
    done
    CHAT_REDIS_PORT=${CHAT_REDIS_PORT:-$((CHAT_PORT + 1000))}
    if ! [[ $CHAT_REDIS_PORT =~ ^[0-9]+$ ]] || [ "$CHAT_REDIS_PORT" -lt 1 ] \
       || [ "$CHAT_REDIS_PORT" -gt 65535 ] || [ "$CHAT_PORT" -lt 1 ] \
       || [ "$CHAT_PORT" -gt 65535 ] || [ "$CHAT_REDIS_PORT" = "$CHAT_PORT" ]; then
        chat_err "CHAT_PORT ($CHAT_PORT) and CHAT_REDIS_PORT ($CHAT_REDIS_PORT) must be two different ports"
        return 1
    fi
    if [ "$CHAT_REDIS" != single ] && [ "$CHAT_REDIS" != cluster ]; then
        chat_err "CHAT_REDIS must be single or cluster, not '$CHAT_REDIS'"
        return 1
    fi
    if [ "$CHAT_PARTITIONS" -lt 1 ] || [ "$CHAT_PARTITIONS" -gt 1024 ]; then
        chat_err "CHAT_PARTITIONS must be from 1 to 1024"
        return 1
    fi
    if [ "$CHAT_WORKERS" -gt 64 ]; then
        chat_err "CHAT_WORKERS must be from 0 to 64"
        return 1
    fi
    if [ "$CHAT_APIS" -gt 64 ]; then
        chat_err "CHAT_APIS must be from 0 to 64"
        return 1
    fi
    case $CHAT_KAFKA in
        dev) ;;
        real) chat_kafka_check_settings || return 1 ;;
        *) chat_err "CHAT_KAFKA must be dev or real, not '$CHAT_KAFKA'"; return 1 ;;
    esac
    CHAT_API_PORT=${CHAT_API_PORT:-$((CHAT_PORT + 2000))}
    if ! [[ $CHAT_API_PORT =~ ^[0-9]+$ ]] || [ "$CHAT_API_PORT" -lt 1 ] \
       || [ $((CHAT_API_PORT + CHAT_APIS)) -gt 65536 ] \
       || { [ "$CHAT_PORT" -ge "$CHAT_API_PORT" ] \
            && [ "$CHAT_PORT" -lt $((CHAT_API_PORT + CHAT_APIS)) ]; } \
       || { [ "$CHAT_REDIS_PORT" -ge "$CHAT_API_PORT" ] \
            && [ "$CHAT_REDIS_PORT" -lt $((CHAT_API_PORT + CHAT_APIS)) ]; }; then
        chat_err "the chat-apis' ports, from CHAT_API_PORT ($CHAT_API_PORT) on, one per" \
                 "chat-api (CHAT_APIS $CHAT_APIS), must be ports other than CHAT_PORT" \
                 "($CHAT_PORT) and CHAT_REDIS_PORT ($CHAT_REDIS_PORT)"
        return 1
    fi
    chat_check_store_settings
    if [ "$CHAT_REDIS" = cluster ]; then
        chat_check_redis_cluster_ports
    fi
}

# Creates the state dir and makes CHAT_STATE_DIR absolute: redis, the
# workers and nginx -p all get paths in it, from other working directories.
chat_init_state() {
    mkdir -p "$CHAT_STATE_DIR"/{logs,tmp,modules,run,redis,media}
    CHAT_STATE_DIR=$(cd "$CHAT_STATE_DIR" && pwd)
}

# chat_secret_file NAME VALUE : the state dir's secret NAME, mode 600. VALUE
# (when not empty) replaces it; else a missing one is made of 48 random
# bytes, and an existing one is kept, so tokens signed earlier stay valid.
chat_secret_file() {
    local file=$CHAT_STATE_DIR/$1 value=${2:-}
    if [ -z "$value" ] && [ -s "$file" ]; then
        return 0
    fi
    if [ -z "$value" ]; then
        value=$(head -c 48 /dev/urandom | base64 -w 0)
    fi
    (umask 077 && printf '%s\n' "$value" >"$file.tmp") && mv -f "$file.tmp" "$file"
}

# The token secret nginx reads (chat_jwt_key_file chat-jwt.secret, next to
# the rendered nginx.conf) and scripts/chat-token signs with.
chat_init_jwt_secret() {
    chat_secret_file chat-jwt.secret "${CHAT_JWT_SECRET:-}"
}

# The key that signs media URLs: nginx checks them (chat_media_key
# file:chat-media.secret), chat-api and the workers sign them
# (--media-key file:...). Kept across runs, so URLs handed out stay valid.
chat_init_media_key() {
    chat_secret_file chat-media.secret "${CHAT_MEDIA_KEY:-}"
}

# Redis's password: redis-server reads it from redis/redis.conf (not its
# command line, which ps shows), nginx and the workers from
# redis.password ("file:" in chat_redis_password and --redis-password).
chat_init_redis_password() {
    local pw
    # one word for redis.conf and for the inline AUTH of chat_redis_ping
    if [[ ${CHAT_REDIS_PASSWORD:-} =~ [^A-Za-z0-9+/=_.:@%~-] ]]; then
        chat_err "CHAT_REDIS_PASSWORD may hold only A-Z a-z 0-9 and + / = _ . : @ % ~ -"
        return 1
    fi
    chat_secret_file redis.password "${CHAT_REDIS_PASSWORD:-}"
    IFS= read -r pw <"$CHAT_STATE_DIR/redis.password"
    (umask 077 && printf 'requirepass %s\n' "$pw" >"$CHAT_STATE_DIR/redis/redis.conf.tmp") \
        && mv -f "$CHAT_STATE_DIR/redis/redis.conf.tmp" "$CHAT_STATE_DIR/redis/redis.conf"
}

chat_pidfile() {
    echo "$CHAT_STATE_DIR/run/$1.pid"
}

# True when the process named in pid file $1 runs and is the one that wrote
# it. A pid file left over (a reboot, a kill -9) may name an unrelated
# process that got the same pid since: that one started after the file was
# written, while ours started before (2 s of slack for clock steps).
chat_pidfile_alive() {
    local file=$1 pid fields started written
    [ -f "$file" ] || return 1
    read -r pid 2>/dev/null <"$file" || [ -n "${pid:-}" ] || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    read -r fields 2>/dev/null <"/proc/$pid/stat" || return 1
    # fields from the 3rd (state) on: the 2nd, "(comm)", may hold spaces
    read -r -a fields <<<"${fields##*) }"
    [ "${fields[0]}" != Z ] || return 1     # exited, not yet reaped
    if [ -z "${CHAT_BTIME:-}" ]; then
        CHAT_BTIME=$(awk '$1 == "btime" { print $2 }' /proc/stat)
        CHAT_HZ=$(getconf CLK_TCK)
    fi
    started=$((CHAT_BTIME + fields[19] / CHAT_HZ))
    written=$(stat -c %Y "$file" 2>/dev/null) || return 1
    [ "$started" -le $((written + 2)) ]
}

chat_alive() {
    chat_pidfile_alive "$(chat_pidfile "$1")"
}

# True while process $1 exists and has not exited (a zombie has).
chat_proc_alive() {
    local fields
    read -r fields 2>/dev/null <"/proc/$1/stat" || return 1
    fields=${fields##*) }
    [ "${fields%% *}" != Z ]
}

chat_pid() {
    cat "$(chat_pidfile "$1")"
}

# chat_names PREFIX : the names PREFIX-N that have a pid file, whatever
# CHAT_WORKERS or CHAT_APIS is now.
chat_names() {
    local f
    for f in "$CHAT_STATE_DIR/run/$1"-*.pid; do
        [ -e "$f" ] || continue
        f=${f##*/}
        echo "${f%.pid}"
    done
}

chat_worker_names() {
    chat_names worker
}

chat_api_names() {
    chat_names api
}

# True when something accepts connections on 127.0.0.1:$1. The subshell
# keeps the probe's file descriptor and error message out of this shell.
chat_port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# chat_spawn NAME LOG COMMAND... : starts COMMAND in the background, in a
# session of its own (so a Ctrl-C meant for `make run` or the terminal
# reaches only the script, which stops everything in order), output and
# errors appended to LOG; records its pid and command line. A background job
# of a script is never a process group leader, so setsid execs in place
# and $! is the component's own pid.
chat_spawn() {
    local name=$1 log=$2
    shift 2
    printf '%q ' "$@" >"$CHAT_STATE_DIR/run/$name.cmd"
    echo >>"$CHAT_STATE_DIR/run/$name.cmd"
    setsid "$@" </dev/null >>"$log" 2>&1 &
    echo "$!" >"$(chat_pidfile "$name")"
    CHAT_STARTED+=("$name")
}

# Prints the last lines of a component's log after a failed start.
chat_show_log() {
    if [ -s "$1" ]; then
        chat_err "last lines of $1:"
        tail -n 15 "$1" | sed 's/^/    /' >&2
    fi
}

# chat_stop NAME SIGNAL : sends SIGNAL, waits up to CHAT_STOP_TIMEOUT, then
# SIGKILL; removes the pid file. Nothing happens for a dead component.
chat_stop() {
    local name=$1 sig=$2 pid end
    if chat_alive "$name"; then
        # the pid, not the pid file, from now on: redis and the broker
        # remove theirs before they are quite gone
        pid=$(chat_pid "$name")
        kill -"$sig" "$pid" 2>/dev/null || true
        for ((end = SECONDS + CHAT_STOP_TIMEOUT; SECONDS < end; )); do
            chat_proc_alive "$pid" || break
            sleep 0.1
        done
        if chat_proc_alive "$pid"; then
            chat_err "$name (pid $pid) did not stop within $CHAT_STOP_TIMEOUT s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        # a child of this shell (make run) is reaped here, not left a zombie
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$(chat_pidfile "$name")"
    if [ "$name" = nginx ]; then
        chat_stop_nginx_orphans
    fi
}

# nginx processes of this state dir: after a kill -9 of the master its
# workers keep serving and keep the port. They are known by this state
# dir's error log, which every one of them holds open.
chat_nginx_processes() {
    local dir fd comm log="$CHAT_STATE_DIR/logs/error.log"
    for dir in /proc/[0-9]*; do
        comm=
        read -r comm 2>/dev/null <"$dir/comm" || true
        [ "$comm" = nginx ] || continue
        for fd in "$dir"/fd/*; do
            if [ "$(readlink "$fd" 2>/dev/null)" = "$log" ]; then
                echo "${dir#/proc/}"
                break
            fi
        done
    done
}

# Stops the nginx processes left without their master (see above).
chat_stop_nginx_orphans() {
    local pids end p
    pids=$(chat_nginx_processes)
    [ -n "$pids" ] || return 0
    chat_err "stopping nginx processes left by a dead master: ${pids//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -QUIT $pids 2>/dev/null || true
    for ((end = SECONDS + CHAT_STOP_TIMEOUT; SECONDS < end; )); do
        pids=$(for p in $pids; do
                   if chat_proc_alive "$p"; then echo "$p"; fi
               done)
        [ -n "$pids" ] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}

# The signal that stops each component gracefully: nginx finishes its
# requests and closes WebSockets with 1001; the others shut down on TERM
# (redis flushes its append-only file first); postgres on INT (its "fast"
# shutdown, which does not wait for a client that stays connected).
chat_stop_signal() {
    case $1 in
        nginx) echo QUIT ;;
        postgres) echo INT ;;
        *)     echo TERM ;;
    esac
}

# Stops everything in the state dir, front to back: nginx first so that no
# new write or read is produced, the chat-apis (readers only), the workers
# so that they commit what they applied, then their store, the broker (the
# dev broker's log is lost, a real cluster's is kept in kafka/) and redis.
chat_down() {
    local name
    chat_stop nginx QUIT
    for name in $(chat_api_names) $(chat_worker_names); do
        chat_stop "$name" TERM
    done
    chat_stop postgres INT
    chat_stop broker TERM
    chat_kafka_down
    for name in $(chat_redis_names); do
        chat_stop "$name" TERM
    done
    rm -f "$CHAT_STATE_DIR/run/kafka.address"
}

# Stops, newest first, what this invocation started: a failed start leaves
# nothing behind, and components that were already running stay as they were.
chat_rollback() {
    local i name
    for ((i = ${#CHAT_STARTED[@]} - 1; i >= 0; i--)); do
        name=${CHAT_STARTED[i]}
        chat_stop "$name" "$(chat_stop_signal "$name")"
    done
    CHAT_STARTED=()
}

# Builds what is missing, when it is the project's own build output; a
# program given by its variable must exist.
chat_build_missing() {
    if [ ! -f "$CHAT_MODULE" ]; then
        make -s -C "$CHAT_TOP" module
    fi
    if [ "$CHAT_KAFKA" = dev ] && [ ! -x "$CHAT_BROKER_BIN" ] \
       && [ "$CHAT_BROKER_BIN" = "$CHAT_TOP/build/chat-devbroker" ]; then
        make -s -C "$CHAT_TOP" build/chat-devbroker
    fi
    if [ "$CHAT_WORKERS" -gt 0 ] && [ ! -x "$CHAT_WORKER_BIN" ] \
       && [ "$CHAT_WORKER_BIN" = "$CHAT_TOP/build/chat-worker" ]; then
        make -s -C "$CHAT_TOP" build/chat-worker || {
            chat_err "could not build build/chat-worker (set CHAT_WORKER_BIN, or CHAT_WORKERS=0 for none)"
            return 1
        }
    fi
    local prog
    for prog in "$CHAT_REDIS_SERVER" "$CHAT_NGINX"; do
        [ -x "$prog" ] || { chat_err "$prog: no such program"; return 1; }
    done
    if [ "$CHAT_KAFKA" = dev ] && [ ! -x "$CHAT_BROKER_BIN" ]; then
        chat_err "$CHAT_BROKER_BIN: no such program"
        return 1
    fi
    if [ "$CHAT_KAFKA" = real ]; then
        command -v java >/dev/null || { chat_err "java not found: run 'make deps'"; return 1; }
        if [ ! -f "$CHAT_KAFKA_LIB/.complete" ]; then
            chat_err "Apache Kafka is not in $CHAT_KAFKA_LIB (CHAT_KAFKA_LIB): run 'make deps'"
            return 1
        fi
    fi
    if [ "$CHAT_WORKERS" -gt 0 ] && [ ! -x "$CHAT_WORKER_BIN" ]; then
        chat_err "$CHAT_WORKER_BIN: no such program"
        return 1
    fi
    if [ "$CHAT_APIS" -gt 0 ] && [ ! -x "$CHAT_API_BIN" ] \
       && [ "$CHAT_API_BIN" = "$CHAT_TOP/build/chat-api" ]; then
        make -s -C "$CHAT_TOP" build/chat-api || {
            chat_err "could not build build/chat-api (set CHAT_API_BIN, or CHAT_APIS=0 for none)"
            return 1
        }
    fi
    if [ "$CHAT_APIS" -gt 0 ] && [ ! -x "$CHAT_API_BIN" ]; then
        chat_err "$CHAT_API_BIN: no such program"
        return 1
    fi
    chat_check_postgres_programs
}

# The dev broker cannot be restarted under running clients: its log is in
# its memory and its ports change, so whatever still runs holds an address
# that is gone and offsets that no longer exist.
chat_check_broker() {
    local name others=()
    # one Kafka per state dir: its parts hold the other's address
    if [ "$CHAT_KAFKA" = real ] && chat_alive broker; then
        chat_err "the dev broker runs in $CHAT_STATE_DIR (CHAT_KAFKA=real asked): run scripts/dev-down first"
        return 1
    fi
    if [ "$CHAT_KAFKA" = dev ] && [ -n "$(for name in $(chat_kafka_names); do
                                          chat_alive "$name" && echo "$name"; done)" ]; then
        chat_err "a real Kafka runs in $CHAT_STATE_DIR (CHAT_KAFKA=dev asked): run scripts/dev-down first"
        return 1
    fi
    [ "$CHAT_KAFKA" = dev ] || return 0
    chat_alive broker && return 0
    for name in $(chat_redis_names) postgres nginx $(chat_worker_names) $(chat_api_names); do
        if chat_alive "$name"; then
            others+=("$name")
        fi
    done
    if [ ${#others[@]} -gt 0 ]; then
        chat_err "the dev broker is gone while ${others[*]} still run;" \
                 "its log and ports went with it, so it cannot be restarted under them:" \
                 "run scripts/dev-down first"
        return 1
    fi
}

# PING after AUTH: the redis-server of this state dir answers, with its
# password (another one on the port would refuse it).
chat_redis_ping() {
    (
        IFS= read -r pw <"$CHAT_STATE_DIR/redis.password" || exit 1
        exec 3<>"/dev/tcp/127.0.0.1/$CHAT_REDIS_PORT" || exit 1
        printf 'AUTH %s\r\nPING\r\n' "$pw" >&3
        IFS= read -r -t 2 auth <&3 || exit 1
        IFS= read -r -t 2 reply <&3 || exit 1
        [ "${auth%$'\r'}" = "+OK" ] && [ "${reply%$'\r'}" = "+PONG" ]
    ) 2>/dev/null
}

# redis-server on 127.0.0.1:CHAT_REDIS_PORT, with the state dir's password.
# appendonly keeps the keys over a restart (same port, same dir); RDB
# snapshots would only duplicate that.
chat_start_redis() {
    local log="$CHAT_STATE_DIR/logs/redis.log" end
    chat_init_redis_password
    if chat_alive redis; then
        chat_log "redis-server already running (pid $(chat_pid redis))"
        return 0
    fi
    if chat_port_busy "$CHAT_REDIS_PORT"; then
        chat_err "port $CHAT_REDIS_PORT (CHAT_REDIS_PORT) is taken by another process"
        return 1
    fi
    chat_spawn redis "$log" "$CHAT_REDIS_SERVER" "$CHAT_STATE_DIR/redis/redis.conf" \
        --bind 127.0.0.1 --port "$CHAT_REDIS_PORT" \
        --dir "$CHAT_STATE_DIR/redis" --appendonly yes --save "" \
        --daemonize no --pidfile "$(chat_pidfile redis)" \
        --logfile "$log"
    for ((end = SECONDS + CHAT_START_TIMEOUT; SECONDS < end; )); do
        if ! chat_alive redis; then
            chat_err "redis-server exited at start"
            chat_show_log "$log"
            return 1
        fi
        if chat_redis_ping; then
            chat_log "redis-server on 127.0.0.1:$CHAT_REDIS_PORT (pid $(chat_pid redis))"
            return 0
        fi
        sleep 0.1
    done
    chat_err "redis-server did not answer PING within $CHAT_START_TIMEOUT s"
    chat_show_log "$log"
    return 1
}

# The dev broker, or with CHAT_KAFKA=real the state dir's Kafka cluster;
# sets CHAT_KAFKA_ADDRESS to its bootstrap list, which run/kafka.address
# holds (the dev broker writes it, whole, by a rename, once it is up).
chat_start_broker() {
    local log="$CHAT_STATE_DIR/logs/broker.log"
    local address="$CHAT_STATE_DIR/run/kafka.address" end
    if [ "$CHAT_KAFKA" = real ]; then
        chat_kafka_up || return 1
        echo "$CHAT_KAFKA_ADDRESS" >"$address.tmp" && mv -f "$address.tmp" "$address"
        return 0
    fi
    if chat_alive broker; then
        if [ ! -s "$address" ]; then
            chat_err "the dev broker runs (pid $(chat_pid broker)) but $address is missing; run scripts/dev-down first"
            return 1
        fi
        CHAT_KAFKA_ADDRESS=$(cat "$address")
        chat_log "dev broker already running at $CHAT_KAFKA_ADDRESS (pid $(chat_pid broker))"
        return 0
    fi
    rm -f "$address"
    chat_spawn broker "$log" "$CHAT_BROKER_BIN" \
        --topic "$CHAT_TOPIC:$CHAT_PARTITIONS" \
        --address-file "$address" --pid-file "$(chat_pidfile broker)"
    for ((end = SECONDS + CHAT_START_TIMEOUT; SECONDS < end; )); do
        if [ -s "$address" ]; then
            CHAT_KAFKA_ADDRESS=$(cat "$address")
            chat_log "dev broker at $CHAT_KAFKA_ADDRESS, topic $CHAT_TOPIC with $CHAT_PARTITIONS partitions (pid $(chat_pid broker))"
            return 0
        fi
        if ! chat_alive broker; then
            chat_err "the dev broker exited at start"
            chat_show_log "$log"
            return 1
        fi
        sleep 0.1
    done
    chat_err "the dev broker did not write $address within $CHAT_START_TIMEOUT s"
    chat_show_log "$log"
    return 1
}

# chat_wait_logged WHAT TIMEOUT NAME=OFFSET... : waits until each named
# component wrote "WHAT: ready" to logs/NAME.log past OFFSET (each log is
# appended to over restarts, so only what it wrote since its start counts);
# fails when one exits first or the time runs out.
chat_wait_logged() {
    local what=$1 timeout=$2 n name log end ready pending=() offsets=()
    shift 2
    for n in "$@"; do
        pending+=("${n%%=*}")
        offsets+=("${n#*=}")
    done
    for ((end = SECONDS + timeout; SECONDS < end && ${#pending[@]} > 0; )); do
        ready=()
        for n in "${!pending[@]}"; do
            name=${pending[n]}
            log="$CHAT_STATE_DIR/logs/$name.log"
            if tail -c +$((offsets[n] + 1)) "$log" 2>/dev/null | grep -q "$what: ready"; then
                chat_log "$name ready (pid $(chat_pid "$name"))"
                ready+=("$n")
            elif ! chat_alive "$name"; then
                chat_err "$name exited at start"
                chat_show_log "$log"
                return 1
            fi
        done
        for n in "${ready[@]}"; do
            unset 'pending[n]' 'offsets[n]'
        done
        if [ ${#pending[@]} -gt 0 ]; then
            sleep 0.1
        fi
    done
    for name in "${pending[@]}"; do
        chat_err "$name did not log '$what: ready' within $timeout s"
        chat_show_log "$CHAT_STATE_DIR/logs/$name.log"
        return 1
    done
}

# The size of a component's log now: where what it writes next begins.
chat_log_offset() {
    stat -c %s "$CHAT_STATE_DIR/logs/$1.log" 2>/dev/null || echo 0
}

# Starts every worker that is not running, then waits for each one it
# started to log "chat-worker: ready" (they join the group together, so
# they wait together). They sign the media URLs of the msgs they hand out
# and delete the files of media that no message references.
chat_start_workers() {
    local n name started=() extra=() asan=() redis=()
    read -r -a extra <<<"${CHAT_WORKER_ARGS:-}"
    mapfile -t redis < <(chat_redis_flags)
    if [ -n "${CHAT_WORKER_ASAN_OPTIONS:-}" ]; then
        asan=(env "ASAN_OPTIONS=$CHAT_WORKER_ASAN_OPTIONS")
    fi
    for ((n = 1; n <= CHAT_WORKERS; n++)); do
        name=worker-$n
        if chat_alive "$name"; then
            chat_log "$name already running (pid $(chat_pid "$name"))"
            continue
        fi
        started+=("$name=$(chat_log_offset "$name")")
        chat_spawn "$name" "$CHAT_STATE_DIR/logs/$name.log" "${asan[@]}" "$CHAT_WORKER_BIN" \
            --brokers "$CHAT_KAFKA_ADDRESS" --topic "$CHAT_TOPIC" \
            --group "$CHAT_GROUP" "${redis[@]}" \
            --redis-password "file:$CHAT_STATE_DIR/redis.password" \
            --store "$(chat_store_uri)" \
            --media-key "file:$CHAT_STATE_DIR/chat-media.secret" \
            --media-dir "$CHAT_STATE_DIR/media" "${extra[@]}"
    done
    chat_wait_logged chat-worker "$CHAT_WORKER_TIMEOUT" "${started[@]}"
}

# The port of chat-api number $1 (from 1).
chat_api_port() {
    echo $((${CHAT_API_PORT:-$((CHAT_PORT + 2000))} + $1 - 1))
}

# Starts every chat-api that is not running, each on its own port of
# loopback (nginx is its only client), then waits for each one it started
# to log "chat-api: ready". They read the store that the workers write
# (SQLite in WAL mode lets readers in beside the writer; PostgreSQL is
# shared by design) and Redis
# (presence), and write uploads into media/.
chat_start_apis() {
    local n name port started=() extra=() asan=() redis=()
    read -r -a extra <<<"${CHAT_API_ARGS:-}"
    mapfile -t redis < <(chat_redis_flags)
    if [ -n "${CHAT_API_ASAN_OPTIONS:-}" ]; then
        asan=(env "ASAN_OPTIONS=$CHAT_API_ASAN_OPTIONS")
    fi
    for ((n = 1; n <= CHAT_APIS; n++)); do
        name=api-$n
        port=$(chat_api_port "$n")
        if chat_alive "$name"; then
            chat_log "$name already running (pid $(chat_pid "$name"))"
            continue
        fi
        if chat_port_busy "$port"; then
            chat_err "port $port (CHAT_API_PORT, $name) is taken by another process"
            return 1
        fi
        started+=("$name=$(chat_log_offset "$name")")
        chat_spawn "$name" "$CHAT_STATE_DIR/logs/$name.log" "${asan[@]}" "$CHAT_API_BIN" \
            --listen "127.0.0.1:$port" \
            --store "$(chat_store_uri)" \
            "${redis[@]}" \
            --redis-password "file:$CHAT_STATE_DIR/redis.password" \
            --media-dir "$CHAT_STATE_DIR/media" \
            --media-key "file:$CHAT_STATE_DIR/chat-media.secret" "${extra[@]}"
    done
    chat_wait_logged chat-api "$CHAT_API_TIMEOUT" "${started[@]}"
}

# Escapes a replacement text for sed's s|...|...|.
chat_sed_escape() {
    printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# The ports of the chat-apis, one per line, for the rendered config. With
# none running it is still one (where nothing listens): nginx refuses an
# upstream without servers, and /api/ answers 503 unavailable, as it does
# when every chat-api is down.
chat_api_ports() {
    local n count=$CHAT_APIS
    [ "$count" -gt 0 ] || count=1
    for ((n = 1; n <= count; n++)); do
        chat_api_port "$n"
    done
}

# stdin to stdout, the "server" lines of "upstream chat_api { ... }"
# replaced by one per port in $1 (a copy of the first, its options kept,
# its port changed, where that first one was); the rest of the block
# (keepalive, ...) stays.
chat_render_upstream() {
    awk -v ports="$1" '
        /^[ \t]*upstream[ \t]+chat_api[ \t]*[{]/ { inside = 1; print; next }
        inside && /^[ \t]*[}]/ { inside = 0 }
        inside && /^[ \t]*server[ \t]/ {
            if (!done) {
                n = split(ports, port, "\n")
                for (i = 1; i <= n; i++) {
                    line = $0
                    sub(/127\.0\.0\.1:[0-9]+/, "127.0.0.1:" port[i], line)
                    print line
                }
                done = 1
            }
            next
        }
        { print }'
}

# Renders the config template into the state dir: the module, port, pid
# file, Kafka brokers, Redis and chat-apis of this run. Every relative path
# in it is under the state dir (nginx -p), the secrets' files and media/ too.
chat_render_config() {
    local brokers
    chat_init_state
    chat_init_jwt_secret
    chat_init_media_key
    ln -sf "$(cd "$(dirname "$CHAT_MODULE")" && pwd)/$(basename "$CHAT_MODULE")" \
        "$CHAT_STATE_DIR/modules/ngx_chat_module.so"
    brokers=$(chat_sed_escape "${CHAT_KAFKA_ADDRESS:-127.0.0.1:9092}")
    # listen options after the port (reuseport, ...) are kept
    sed -e "s|listen 127.0.0.1:8080\([ ;]\)|listen $CHAT_ADDR:$CHAT_PORT\1|" \
        -e "s|^\(\s*\)pid .*;|\1pid run/nginx.pid;|" \
        -e "s|^\(\s*\)chat_kafka_brokers .*;|\1chat_kafka_brokers $brokers;|" \
        -e "$(chat_redis_cluster_drop)" \
        -e "s|^\(\s*\)chat_redis .*;|\1$(chat_redis_directives)|" \
        "$CHAT_CONF_TEMPLATE" \
        | chat_render_upstream "$(chat_api_ports)" > "$CHAT_STATE_DIR/nginx.conf"
    chat_check_media_reach
}

# Under root, nginx's workers run as nobody (the config names no user), and
# they open the uploads themselves: a state dir below a private directory
# (root's home, say) serves every /media/ URL a 500. Said once, at start.
chat_check_media_reach() {
    local probe=$CHAT_STATE_DIR/media
    if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null; then
        return 0
    fi
    if ! grep -q '^\s*user ' "$CHAT_STATE_DIR/nginx.conf" \
       && ! runuser -u nobody -- test -x "$probe" 2>/dev/null; then
        chat_err "warning: nginx's workers (user nobody) cannot reach $probe: uploads will not be served; put CHAT_STATE_DIR where nobody can read (e.g. under /var/tmp)"
    fi
}

# Sets CHAT_NGINX_ARGV to nginx's command line with the rendered config.
chat_nginx_argv() {
    CHAT_NGINX_ARGV=(env "LD_PRELOAD=${CHAT_PRELOAD:-}" "$CHAT_NGINX"
                     -p "$CHAT_STATE_DIR/" -c "$CHAT_STATE_DIR/nginx.conf"
                     -e "$CHAT_STATE_DIR/logs/error.log")
}

chat_nginx() {
    chat_nginx_argv
    "${CHAT_NGINX_ARGV[@]}" "$@"
}

# Waits until nginx answers its health location, at most $1 seconds.
chat_wait_http() {
    local host=$CHAT_ADDR end
    case $host in
        0.0.0.0 | '*' | '[::]') host=127.0.0.1 ;;
    esac
    for ((end = SECONDS + $1; SECONDS < end; )); do
        if (
            exec 3<>"/dev/tcp/$host/$CHAT_PORT" || exit 1
            printf 'GET /chat/health HTTP/1.0\r\n\r\n' >&3
            IFS= read -r -t 2 line <&3 || exit 1
            [[ $line == *" 200 "* ]]
        ) 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# nginx with the rendered config: daemonized (dev-up), or, with
# "foreground", a child of this script with daemon off (make run).
chat_start_nginx() {
    local mode=${1:-daemon} end
    if chat_alive nginx; then
        chat_log "nginx already running (pid $(chat_pid nginx))"
        return 0
    fi
    chat_stop_nginx_orphans
    if chat_port_busy "$CHAT_PORT"; then
        chat_err "port $CHAT_PORT (CHAT_PORT) is taken by another process"
        return 1
    fi
    chat_render_config
    chat_nginx -t -q
    rm -f "$(chat_pidfile nginx)"
    chat_nginx_argv
    if [ "$mode" = foreground ]; then
        chat_spawn nginx "$CHAT_STATE_DIR/logs/nginx.out" \
            "${CHAT_NGINX_ARGV[@]}" -g 'daemon off;'
    else
        printf '%q ' "${CHAT_NGINX_ARGV[@]}" >"$CHAT_STATE_DIR/run/nginx.cmd"
        echo >>"$CHAT_STATE_DIR/run/nginx.cmd"
        CHAT_STARTED+=(nginx)
        # nothing of this script's caller (a pipe it reads, a terminal) may
        # stay open in the daemon
        "${CHAT_NGINX_ARGV[@]}" </dev/null >>"$CHAT_STATE_DIR/logs/nginx.out" 2>&1
        # the master writes its pid file once it has daemonized
        for ((end = SECONDS + CHAT_START_TIMEOUT; SECONDS < end; )); do
            if [ -s "$(chat_pidfile nginx)" ]; then
                break
            fi
            sleep 0.1
        done
    fi
    if ! chat_wait_http "$CHAT_START_TIMEOUT"; then
        chat_err "nginx did not answer on port $CHAT_PORT; see $CHAT_STATE_DIR/logs/error.log"
        chat_show_log "$CHAT_STATE_DIR/logs/error.log"
        return 1
    fi
    chat_log "nginx on $CHAT_ADDR:$CHAT_PORT (pid $(chat_pid nginx))"
}

# The whole system, in order; each part only when it is not running.
chat_up() {
    local mode=${1:-daemon}
    chat_check_broker
    if [ "$CHAT_REDIS" = cluster ]; then
        chat_start_redis_cluster
    else
        chat_start_redis
    fi
    chat_start_broker
    chat_start_postgres
    chat_init_media_key
    if [ "$CHAT_WORKERS" -gt 0 ]; then
        chat_start_workers
    fi
    if [ "$CHAT_APIS" -gt 0 ]; then
        chat_start_apis
    fi
    chat_start_nginx "$mode"
    # what was running already must answer too
    if ! chat_wait_http "$CHAT_START_TIMEOUT"; then
        chat_err "nginx (pid $(chat_pid nginx)) does not answer /chat/health on port $CHAT_PORT"
        return 1
    fi
}

# True when any component of the state dir runs.
chat_any_alive() {
    local name
    for name in nginx $(chat_redis_names) broker postgres $(chat_kafka_names) \
                $(chat_worker_names) $(chat_api_names); do
        if chat_alive "$name"; then
            return 0
        fi
    done
    return 1
}

# shellcheck source=scripts/lib-kafka.sh
. "$CHAT_TOP/scripts/lib-kafka.sh"
