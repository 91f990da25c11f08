# shellcheck shell=bash
# Redis Cluster as the state dir's Redis (CHAT_REDIS=cluster); sourced by
# scripts/lib.sh, not run.
#
# The cluster is scripts/redis-cluster's: 3 masters and 3 replicas on
# 127.0.0.1:CHAT_REDIS_PORT .. CHAT_REDIS_PORT+5 (their cluster buses on
# those ports + 10000), its nodes under redis-cluster/<port>/ in the state
# dir, the state dir's redis.password required by each. Each node is a
# component of the state dir, redis-1 .. redis-6 (run/redis-N.pid), so
# that dev-down stops them, dev-up starts again one that was killed (it
# rejoins as a replica) and a test can kill one (a failover). The workers
# and chat-apis get --redis-cluster and the masters' addresses as seeds;
# nginx gets "chat_redis <seed> <seed> <seed>;" and "chat_redis_cluster on;".

CHAT_REDIS_CLUSTER_NODES=6

chat_redis_cluster_dir() {
    echo "$CHAT_STATE_DIR/redis-cluster"
}

# The components of Redis: "redis", or one per cluster node.
chat_redis_names() {
    local i
    if [ "${CHAT_REDIS:-single}" != cluster ]; then
        echo redis
        return
    fi
    for ((i = 1; i <= CHAT_REDIS_CLUSTER_NODES; i++)); do
        echo "redis-$i"
    done
}

# The seeds the programs and nginx are given: the first three nodes (the
# masters as created; any node answers CLUSTER SLOTS after a failover).
chat_redis_seeds() {
    local sep=${1:-,} i out=
    for ((i = 0; i < 3; i++)); do
        out+=${out:+$sep}127.0.0.1:$((CHAT_REDIS_PORT + i))
    done
    printf '%s' "$out"
}

# The flags of a worker or a chat-api for the state dir's Redis.
chat_redis_flags() {
    if [ "${CHAT_REDIS:-single}" = cluster ]; then
        printf '%s\n' --redis-cluster --redis "$(chat_redis_seeds)"
    else
        printf '%s\n' --redis "127.0.0.1:$CHAT_REDIS_PORT"
    fi
}

# The cluster's ports must not meet the others (nor their buses).
chat_check_redis_cluster_ports() {
    local last=$((CHAT_REDIS_PORT + CHAT_REDIS_CLUSTER_NODES - 1)) p
    if [ $((last + 10000)) -gt 65535 ]; then
        chat_err "CHAT_REDIS_PORT ($CHAT_REDIS_PORT) is too high for a cluster: its nodes' buses are on their ports + 10000"
        return 1
    fi
    for p in "$CHAT_PORT" "$CHAT_API_PORT"; do
        if { [ "$p" -ge "$CHAT_REDIS_PORT" ] && [ "$p" -le "$last" ]; } \
           || { [ "$p" -ge $((CHAT_REDIS_PORT + 10000)) ] && [ "$p" -le $((last + 10000)) ]; }; then
            chat_err "port $p is among the Redis Cluster's ($CHAT_REDIS_PORT-$last and their buses +10000)"
            return 1
        fi
    done
}

# Starts the nodes that are not running (creating the cluster the first
# time) and records each as a component.
chat_start_redis_cluster() {
    local dir i port missing=0 log="$CHAT_STATE_DIR/logs/redis-cluster.log"
    dir=$(chat_redis_cluster_dir)
    chat_init_redis_password
    for ((i = 1; i <= CHAT_REDIS_CLUSTER_NODES; i++)); do
        chat_alive "redis-$i" || missing=1
    done
    if [ "$missing" = 0 ]; then
        chat_log "redis cluster already running (127.0.0.1:$CHAT_REDIS_PORT-$((CHAT_REDIS_PORT + CHAT_REDIS_CLUSTER_NODES - 1)))"
        return 0
    fi
    if ! CHAT_REDIS_SERVER=$CHAT_REDIS_SERVER "$CHAT_TOP/scripts/redis-cluster" start "$dir" \
            "$CHAT_REDIS_PORT" 3 1 >>"$log" 2>&1; then
        chat_err "the Redis Cluster did not start"
        chat_show_log "$log"
        return 1
    fi
    for ((i = 1; i <= CHAT_REDIS_CLUSTER_NODES; i++)); do
        port=$((CHAT_REDIS_PORT + i - 1))
        if ! chat_alive "redis-$i"; then
            cp "$dir/$port/redis.pid" "$(chat_pidfile "redis-$i")"
            CHAT_STARTED+=("redis-$i")
        fi
    done
    chat_log "redis cluster on 127.0.0.1:$CHAT_REDIS_PORT-$((CHAT_REDIS_PORT + CHAT_REDIS_CLUSTER_NODES - 1)) (3 masters, 3 replicas)"
}

# The Redis directives of the rendered nginx config, on one line: the
# template's "chat_redis ...;" becomes these.
chat_redis_directives() {
    if [ "${CHAT_REDIS:-single}" = cluster ]; then
        printf 'chat_redis %s; chat_redis_cluster on;' "$(chat_redis_seeds ' ')"
    else
        printf 'chat_redis 127.0.0.1:%s;' "${CHAT_REDIS_PORT:-6379}"
    fi
}

# A sed command for the rendered config: on a cluster, a template's own
# line "chat_redis_cluster on|off;" goes (chat_redis_directives says it);
# else an empty command: nothing changes (a template's line that holds more than that
# directive is the template's own choice, kept as it is).
chat_redis_cluster_drop() {
    if [ "${CHAT_REDIS:-single}" = cluster ]; then
        printf '%s' '/^\s*chat_redis_cluster [a-z]*;\s*$/d'
    fi
}
