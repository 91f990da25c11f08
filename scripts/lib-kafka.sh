# shellcheck shell=bash
# A real Apache Kafka cluster in the state dir (CHAT_KAFKA=real); sourced by
# lib.sh, after its settings and helpers (chat_spawn, chat_alive, ...).
#
# N nodes (1 or 3), each a KRaft broker and controller in one JVM, on
# 127.0.0.1: node K listens on CHAT_KAFKA_PORT+2(K-1) for clients and on the
# next port for the controller quorum. The state dir holds kafka/cluster
# ("ID NODES PORT": fixed at the first start, its log dirs are formatted for
# them), kafka/node-K/ (server.properties, log4j.properties, data/: the log
# dir, kept over restarts like redis/), run/kafka-K.pid and logs/kafka-K.log.
# The broker's classes come from CHAT_KAFKA_LIB, which `scripts/kafka fetch`
# (run by scripts/deps) fills with Maven from kafka/pom.xml.

# the version kafka/pom.xml fetches: one place says it
CHAT_KAFKA_VERSION=$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' \
                         "$CHAT_TOP/kafka/pom.xml")
CHAT_KAFKA_NODES=${CHAT_KAFKA_NODES:-1}
CHAT_KAFKA_HEAP=${CHAT_KAFKA_HEAP:-256m}
CHAT_KAFKA_TIMEOUT=${CHAT_KAFKA_TIMEOUT:-90}
CHAT_DEAD_TOPIC=$CHAT_TOPIC.dead

# The class path's cache: outside the work tree, so `make clean` keeps it
# and every clone of the machine shares one download; named after the
# version, so another version is fetched beside it, never mixed in.
chat_kafka_default_lib() {
    local base=/var/cache/ngx_chat
    if ! { [ -w "$base" ] || { [ ! -e "$base" ] && [ -w /var/cache ]; }; }; then
        base=${XDG_CACHE_HOME:-$HOME/.cache}/ngx_chat
    fi
    echo "$base/kafka-$CHAT_KAFKA_VERSION/lib"
}
CHAT_KAFKA_LIB=${CHAT_KAFKA_LIB:-$(chat_kafka_default_lib)}

# Fills CHAT_KAFKA_LIB once: Maven copies the broker's runtime jars into a
# new directory, which is renamed into place whole, so an interrupted fetch
# leaves nothing that looks complete.
chat_kafka_fetch() {
    local tmp status
    [ -f "$CHAT_KAFKA_LIB/.complete" ] && return 0
    command -v mvn >/dev/null || { chat_err "mvn not found: run 'make deps'"; return 1; }
    mkdir -p "$(dirname "$CHAT_KAFKA_LIB")"
    tmp=$CHAT_KAFKA_LIB.tmp.$$
    rm -rf "$tmp"
    chat_log "fetching Apache Kafka $CHAT_KAFKA_VERSION into $CHAT_KAFKA_LIB"
    # Maven's own output, less the colour codes it writes even in batch mode
    mvn -q -B -f "$CHAT_TOP/kafka/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.log" 2>&1
    status=$?
    sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' "$tmp.log" >&2
    rm -f "$tmp.log"
    if [ "$status" != 0 ] || ! [ -f "$tmp/kafka_2.13-$CHAT_KAFKA_VERSION.jar" ]; then
        rm -rf "$tmp"
        chat_err "could not fetch Kafka with Maven (kafka/pom.xml)"
        return 1
    fi
    touch "$tmp/.complete"
    rm -rf "$CHAT_KAFKA_LIB"
    mv "$tmp" "$CHAT_KAFKA_LIB"
}

chat_kafka_check_settings() {
    case $CHAT_KAFKA_NODES in
        1 | 3) ;;
        *) chat_err "CHAT_KAFKA_NODES must be 1 or 3, not '$CHAT_KAFKA_NODES'"; return 1 ;;
    esac
    CHAT_KAFKA_PORT=${CHAT_KAFKA_PORT:-$((CHAT_PORT + 4000))}
    if ! [[ $CHAT_KAFKA_PORT =~ ^[0-9]+$ ]] || [ "$CHAT_KAFKA_PORT" -lt 1 ] \
       || [ $((CHAT_KAFKA_PORT + 2 * CHAT_KAFKA_NODES)) -gt 65536 ]; then
        chat_err "CHAT_KAFKA_PORT ($CHAT_KAFKA_PORT) must leave 2 ports per node below 65536"
        return 1
    fi
    if ! [[ $CHAT_KAFKA_HEAP =~ ^[0-9]+[mMgG]$ ]]; then
        chat_err "CHAT_KAFKA_HEAP must be a size like 256m, not '$CHAT_KAFKA_HEAP'"
        return 1
    fi
}

chat_kafka_dir() {
    echo "$CHAT_STATE_DIR/kafka"
}

# Reads kafka/cluster into CHAT_KAFKA_ID, CHAT_KAFKA_NODES, CHAT_KAFKA_PORT;
# false when the state dir has no cluster yet.
chat_kafka_read_cluster() {
    local file
    file=$(chat_kafka_dir)/cluster
    [ -s "$file" ] || return 1
    read -r CHAT_KAFKA_ID CHAT_KAFKA_NODES CHAT_KAFKA_PORT <"$file"
}

chat_kafka_client_port() {
    echo $((CHAT_KAFKA_PORT + 2 * ($1 - 1)))
}

chat_kafka_controller_port() {
    echo $((CHAT_KAFKA_PORT + 2 * ($1 - 1) + 1))
}

# The bootstrap list: every node's client listener.
chat_kafka_address() {
    local k list=""
    for ((k = 1; k <= CHAT_KAFKA_NODES; k++)); do
        list+=${list:+,}127.0.0.1:$(chat_kafka_client_port "$k")
    done
    echo "$list"
}

chat_kafka_min_isr() {
    echo $((CHAT_KAFKA_NODES < 2 ? CHAT_KAFKA_NODES : 2))
}

# Node K's server.properties. Replication is the cluster's size for every
# topic, the internal ones too, and a write (acks=all) needs min(2, N) of
# them in sync: with 3 nodes one may die and nothing acknowledged is lost.
# Sized for a shared laptop: few threads, few offsets partitions.
chat_kafka_server_properties() {
    local k=$1 n voters="" dir
    dir=$(chat_kafka_dir)/node-$k
    for ((n = 1; n <= CHAT_KAFKA_NODES; n++)); do
        voters+=${voters:+,}$n@127.0.0.1:$(chat_kafka_controller_port "$n")
    done
    cat <<EOF
# written by scripts/lib-kafka.sh at each start; edits are lost
process.roles=broker,controller
node.id=$k
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(chat_kafka_client_port "$k"),CONTROLLER://127.0.0.1:$(chat_kafka_controller_port "$k")
advertised.listeners=PLAINTEXT://127.0.0.1:$(chat_kafka_client_port "$k")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$CHAT_KAFKA_NODES
min.insync.replicas=$(chat_kafka_min_isr)
unclean.leader.election.enable=false
offsets.topic.replication.factor=$CHAT_KAFKA_NODES
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$CHAT_KAFKA_NODES
transaction.state.log.min.isr=$(chat_kafka_min_isr)
transaction.state.log.num.partitions=4
# the workers' session.timeout.ms (6 s) is the broker default minimum; a
# group's first rebalance is not held back 3 s for more members to come
group.min.session.timeout.ms=6000
# a dead node is fenced (its partitions led elsewhere) after 4 s, not 9
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=24
log.segment.bytes=67108864
EOF
}

# Node K's logging (log4j 1.x API, reload4j): the broker's own lines to
# logs/kafka-K.log through stdout, which chat_spawn appends there; the
# noisy per-request and state-change loggers at WARN.
chat_kafka_log4j_properties() {
    cat <<'EOF'
# written by scripts/lib-kafka.sh at each start; edits are lost
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
log4j.logger.kafka.log=WARN
EOF
}

# The JVM's flags: a small fixed heap and G1 with short pauses, as
# Kafka's own start script sets them, and no GC log files.
chat_kafka_java() {
    local k=$1 dir
    dir=$(chat_kafka_dir)/node-$k
    CHAT_KAFKA_ARGV=(java "-Xms$CHAT_KAFKA_HEAP" "-Xmx$CHAT_KAFKA_HEAP"
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
        -XX:MaxInlineLevel=15 -Djava.awt.headless=true
        "-Dlog4j.configuration=file:$dir/log4j.properties"
        "-Dkafka.logs.dir=$dir"
        -cp "$CHAT_KAFKA_LIB/*")
}

# Creates kafka/cluster (a new cluster id) on the first start; later, the
# nodes and port it fixed are taken from it: the log dirs were formatted
# for that cluster, and a different CHAT_KAFKA_NODES is refused.
chat_kafka_init_cluster() {
    local dir wanted_nodes=$CHAT_KAFKA_NODES wanted_port=$CHAT_KAFKA_PORT id
    dir=$(chat_kafka_dir)
    mkdir -p "$dir"
    if chat_kafka_read_cluster; then
        if [ "$wanted_nodes" != "$CHAT_KAFKA_NODES" ]; then
            chat_err "the state dir's Kafka cluster has $CHAT_KAFKA_NODES node(s), not" \
                     "$wanted_nodes (CHAT_KAFKA_NODES); remove $dir for a new one"
            return 1
        fi
        return 0
    fi
    # a cluster id is 16 random bytes in URL-safe base64, unpadded; like
    # Kafka's own, never one that starts with "-" (an option, to a tool)
    id=-
    while [[ $id == -* ]]; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c 1-22)
    done
    echo "$id $wanted_nodes $wanted_port" >"$dir/cluster.tmp" \
        && mv -f "$dir/cluster.tmp" "$dir/cluster" || return 1
    chat_kafka_read_cluster
}

# Writes every node's config and formats the log dirs not formatted yet
# (in parallel: each is a JVM start).
chat_kafka_configure() {
    local k dir pids=() failed=0 pid
    for ((k = 1; k <= CHAT_KAFKA_NODES; k++)); do
        dir=$(chat_kafka_dir)/node-$k
        mkdir -p "$dir" || return 1
        chat_kafka_server_properties "$k" >"$dir/server.properties" || return 1
        chat_kafka_log4j_properties >"$dir/log4j.properties" || return 1
        [ -f "$dir/data/meta.properties" ] && continue
        chat_kafka_java "$k"
        "${CHAT_KAFKA_ARGV[@]}" kafka.tools.StorageTool format \
            "--cluster-id=$CHAT_KAFKA_ID" -c "$dir/server.properties" --ignore-formatted \
            >>"$CHAT_STATE_DIR/logs/kafka-$k.log" 2>&1 &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
    done
    if [ "$failed" = 1 ]; then
        chat_err "formatting the Kafka log dirs failed"
        chat_show_log "$CHAT_STATE_DIR/logs/kafka-1.log"
        return 1
    fi
}

# kafka-admin metadata over the bootstrap list, quiet.
chat_kafka_metadata() {
    "$CHAT_TOP/scripts/kafka-admin" metadata "$(chat_kafka_address)" "$@" 2>/dev/null
}

# Waits until every node answers a metadata request itself, listing all N
# brokers: a node opens its client port only once it has caught up with
# the cluster's metadata and registered (asking one node for all would not
# do: the others' view keeps a node that just died for a few seconds).
# Fails when a node exits, or after CHAT_KAFKA_TIMEOUT s.
chat_kafka_wait() {
    local end k out pending
    for ((end = SECONDS + CHAT_KAFKA_TIMEOUT; SECONDS < end; )); do
        pending=0
        for ((k = 1; k <= CHAT_KAFKA_NODES; k++)); do
            if ! chat_alive "kafka-$k"; then
                chat_err "kafka-$k exited at start"
                chat_show_log "$CHAT_STATE_DIR/logs/kafka-$k.log"
                return 1
            fi
            out=$("$CHAT_TOP/scripts/kafka-admin" metadata \
                      "127.0.0.1:$(chat_kafka_client_port "$k")" 2>/dev/null) || out=
            [[ $out == "brokers $CHAT_KAFKA_NODES"* ]] || pending=$((pending + 1))
        done
        [ "$pending" -eq 0 ] && return 0
        sleep 0.2
    done
    chat_err "the Kafka cluster did not list its $CHAT_KAFKA_NODES broker(s) within $CHAT_KAFKA_TIMEOUT s"
    chat_show_log "$CHAT_STATE_DIR/logs/kafka-1.log"
    return 1
}

# chat_kafka_topic NAME PARTITIONS : creates the topic (replicated on every
# node, min.insync.replicas min(2, N)) unless it exists, then waits until
# each partition has a leader and min(2, N) replicas in sync.
chat_kafka_topic() {
    local name=$1 partitions=$2 end out fields
    "$CHAT_TOP/scripts/kafka-admin" create "$(chat_kafka_address)" "$name" \
        "$partitions" "$CHAT_KAFKA_NODES" "min.insync.replicas=$(chat_kafka_min_isr)" \
        || { chat_err "could not create topic $name"; return 1; }
    for ((end = SECONDS + CHAT_KAFKA_TIMEOUT; SECONDS < end; )); do
        out=$(chat_kafka_metadata "$name") || out=
        read -r -a fields <<<"$(grep "^topic $name " <<<"$out")"
        if [ ${#fields[@]} -eq 5 ] && [ "${fields[3]}" = 0 ] \
           && [ "${fields[4]}" -ge "$(chat_kafka_min_isr)" ]; then
            if [ "${fields[2]}" != "$partitions" ]; then
                chat_err "topic $name has ${fields[2]} partitions, not $partitions" \
                         "(a topic's partition count never changes: keys would move)"
                return 1
            fi
            return 0
        fi
        sleep 0.2
    done
    chat_err "topic $name has no leader for every partition after $CHAT_KAFKA_TIMEOUT s"
    return 1
}

chat_kafka_names() {
    chat_names kafka
}

# Starts every node of the cluster that is not running (the first time:
# creates and formats it), waits until all are in the cluster and sets
# CHAT_KAFKA_ADDRESS.
chat_kafka_start() {
    local k name port started=0 t0=$SECONDS
    # each step returns on failure itself: a caller's `||` (chat_start_broker)
    # turns set -e off in here
    chat_kafka_init_cluster || return 1
    chat_kafka_configure || return 1
    for ((k = 1; k <= CHAT_KAFKA_NODES; k++)); do
        name=kafka-$k
        if chat_alive "$name"; then
            continue
        fi
        for port in $(chat_kafka_client_port "$k") $(chat_kafka_controller_port "$k"); do
            if chat_port_busy "$port"; then
                chat_err "port $port (CHAT_KAFKA_PORT, $name) is taken by another process"
                return 1
            fi
        done
        chat_kafka_java "$k"
        chat_spawn "$name" "$CHAT_STATE_DIR/logs/$name.log" "${CHAT_KAFKA_ARGV[@]}" \
            kafka.Kafka "$(chat_kafka_dir)/node-$k/server.properties"
        started=$((started + 1))
    done
    chat_kafka_wait || return 1
    CHAT_KAFKA_ADDRESS=$(chat_kafka_address)
    if [ "$started" -gt 0 ]; then
        chat_log "Kafka $CHAT_KAFKA_VERSION: $started of $CHAT_KAFKA_NODES node(s) started in" \
                 "$((SECONDS - t0)) s, at $CHAT_KAFKA_ADDRESS"
    else
        chat_log "Kafka already running at $CHAT_KAFKA_ADDRESS"
    fi
}

# The cluster of the state dir and the topics the module and the workers
# use: the writes, and the worker's dead letters (--dead-letter).
chat_kafka_up() {
    chat_kafka_start || return 1
    chat_kafka_topic "$CHAT_TOPIC" "$CHAT_PARTITIONS" || return 1
    chat_kafka_topic "$CHAT_DEAD_TOPIC" 1
}

# Stops the named nodes (all of them by default) together, not one after
# the other: the last nodes of a quorum would each wait for a controller
# majority that the earlier ones took away.
chat_kafka_down() {
    local name pid pids=() names end
    names=("$@")
    [ ${#names[@]} -gt 0 ] || read -r -a names <<<"$(chat_kafka_names | tr '\n' ' ')"
    for name in "${names[@]}"; do
        if chat_alive "$name"; then
            pid=$(chat_pid "$name")
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    for ((end = SECONDS + CHAT_STOP_TIMEOUT; SECONDS < end; )); do
        for pid in "${pids[@]}"; do
            if chat_proc_alive "$pid"; then
                sleep 0.1
                continue 2
            fi
        done
        break
    done
    for name in "${names[@]}"; do
        chat_stop "$name" KILL
    done
}
