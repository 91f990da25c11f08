# shellcheck shell=bash
# The store of the development stack: which one the chat-workers and
# chat-apis get (--store), and the local PostgreSQL cluster that
# CHAT_STORE=postgres runs as the component "postgres". Sourced by lib.sh
# after its own settings; see lib.sh's header for the variables.

CHAT_STORE=${CHAT_STORE:-sqlite}
CHAT_PG_SCRIPT=$CHAT_TOP/scripts/pg
# the cluster's data dir (as root, the user postgres must reach it)
CHAT_PG_DIR=${CHAT_PG_DIR:-$CHAT_STATE_DIR/postgres}
# the database the workers and chat-apis use, made at the first start
CHAT_PG_DATABASE=chat
# Seconds the cluster gets to answer: the first start runs initdb, and a
# restart after a kill -9 waits for its old backends to notice and exit.
CHAT_PG_TIMEOUT=${CHAT_PG_TIMEOUT:-60}

# True when this state dir runs its own PostgreSQL: CHAT_STORE=postgres
# without an external CHAT_STORE_URI.
chat_pg_local() {
    [ "$CHAT_STORE" = postgres ] && [ -z "${CHAT_STORE_URI:-}" ]
}

# Checks CHAT_STORE, and CHAT_PG_PORT against the other ports (called by
# chat_check_settings, once those are known).
chat_check_store_settings() {
    case $CHAT_STORE in
        sqlite | postgres) ;;
        *)
            chat_err "CHAT_STORE must be sqlite or postgres, not '$CHAT_STORE'"
            return 1 ;;
    esac
    chat_pg_local || return 0
    CHAT_PG_PORT=${CHAT_PG_PORT:-$((CHAT_PORT + 3000))}
    if ! [[ $CHAT_PG_PORT =~ ^[0-9]+$ ]] || [ "$CHAT_PG_PORT" -lt 1 ] \
       || [ "$CHAT_PG_PORT" -gt 65535 ] || [ "$CHAT_PG_PORT" = "$CHAT_PORT" ] \
       || [ "$CHAT_PG_PORT" = "$CHAT_REDIS_PORT" ] \
       || { [ "$CHAT_PG_PORT" -ge "$CHAT_API_PORT" ] \
            && [ "$CHAT_PG_PORT" -lt $((CHAT_API_PORT + CHAT_APIS)) ]; }; then
        chat_err "CHAT_PG_PORT ($CHAT_PG_PORT) must be a port other than CHAT_PORT" \
                 "($CHAT_PORT), CHAT_REDIS_PORT ($CHAT_REDIS_PORT) and the chat-apis'" \
                 "(from CHAT_API_PORT $CHAT_API_PORT, CHAT_APIS $CHAT_APIS)"
        return 1
    fi
}

# The cluster's superuser, which scripts/pg's initdb names postgres
# whoever runs it.
CHAT_PG_USER=postgres

# libpq's conninfo of the local cluster, over TCP on loopback: the unix
# socket in the state dir may be out of a client's reach (root's private
# directories, a socket path past 107 bytes).
chat_pg_conninfo() {
    echo "host=127.0.0.1 port=$CHAT_PG_PORT dbname=${1:-$CHAT_PG_DATABASE} user=$CHAT_PG_USER"
}

# The --store of every chat-worker and chat-api.
chat_store_uri() {
    if [ -n "${CHAT_STORE_URI:-}" ]; then
        echo "$CHAT_STORE_URI"
    elif [ "$CHAT_STORE" = postgres ]; then
        echo "postgres:$(chat_pg_conninfo)"
    else
        echo "sqlite:$CHAT_STATE_DIR/chat.db"
    fi
}

# psql against the local cluster's database $1, quiet, no ~/.psqlrc, the
# rest of the arguments its own.
chat_pg_psql() {
    local db=$1
    shift
    PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -d "$(chat_pg_conninfo "$db")" "$@"
}

# Creates the database when missing (the first start, or a cluster whose
# database someone dropped); the schema is the store's own (it migrates
# at open).
chat_pg_create_database() {
    local found
    found=$(chat_pg_psql postgres -tA \
                -c "SELECT 1 FROM pg_database WHERE datname = '$CHAT_PG_DATABASE'") || return 1
    [ "$found" = 1 ] && return 0
    chat_pg_psql postgres -c "CREATE DATABASE $CHAT_PG_DATABASE"
}

# The postmaster's pid, from the cluster's postmaster.pid (first line).
chat_pg_postmaster_pid() {
    local pid
    read -r pid 2>/dev/null <"$CHAT_PG_DIR/postmaster.pid" || return 1
    [[ $pid =~ ^[0-9]+$ ]] && echo "$pid"
}

# The local cluster in CHAT_PG_DIR on 127.0.0.1:CHAT_PG_PORT
# (scripts/pg: initdb the first time), with its database. It daemonizes,
# so run/postgres.pid is written here, from postmaster.pid, once it
# answers: chat_alive, chat_stop and the rollback then treat it as any
# other component.
chat_start_postgres() {
    local dir=$CHAT_PG_DIR log=$CHAT_STATE_DIR/logs/postgres.log pid
    chat_pg_local || return 0
    if chat_alive postgres; then
        chat_log "postgres already running (pid $(chat_pid postgres))"
        if ! chat_pg_create_database; then
            chat_err "postgres (pid $(chat_pid postgres)) does not answer on 127.0.0.1:$CHAT_PG_PORT" \
                     "(CHAT_PG_PORT changed?); run scripts/dev-down first"
            return 1
        fi
        return 0
    fi
    if chat_port_busy "$CHAT_PG_PORT"; then
        chat_err "port $CHAT_PG_PORT (CHAT_PG_PORT) is taken by another process"
        return 1
    fi
    rm -f "$(chat_pidfile postgres)"
    chat_pg_wait_gone
    printf '%q ' "$CHAT_PG_SCRIPT" start "$dir" "$CHAT_PG_PORT" >"$CHAT_STATE_DIR/run/postgres.cmd"
    echo >>"$CHAT_STATE_DIR/run/postgres.cmd"
    # from here on a failure stops whatever of it came up
    CHAT_STARTED+=(postgres)
    if ! timeout "$CHAT_PG_TIMEOUT" "$CHAT_PG_SCRIPT" start "$dir" "$CHAT_PG_PORT" \
                </dev/null >>"$log" 2>&1 \
       || ! timeout "$CHAT_PG_TIMEOUT" "$CHAT_PG_SCRIPT" wait "$dir" "$CHAT_PG_PORT" \
                </dev/null >>"$log" 2>&1; then
        chat_pg_record_pid >/dev/null || true
        chat_err "postgres did not start on 127.0.0.1:$CHAT_PG_PORT"
        chat_show_log "$log"
        return 1
    fi
    if ! pid=$(chat_pg_record_pid); then
        chat_err "postgres answers, but $dir/postmaster.pid names no running server"
        return 1
    fi
    if ! chat_pg_create_database >>"$log" 2>&1; then
        chat_err "could not create the database $CHAT_PG_DATABASE"
        chat_show_log "$log"
        return 1
    fi
    chat_log "postgres on 127.0.0.1:$CHAT_PG_PORT, database $CHAT_PG_DATABASE (pid $pid)"
}

# After a kill -9 the dead postmaster's pid stays in postmaster.pid, and
# the server refuses to start while that pid exists (a zombie not yet
# reaped, say) or its old backends still hold the shared memory, which
# they leave once they notice. Waits (bounded) for the pid to be gone.
chat_pg_wait_gone() {
    local pid end
    pid=$(chat_pg_postmaster_pid) || return 0
    for ((end = SECONDS + CHAT_STOP_TIMEOUT; SECONDS < end; )); do
        [ -e "/proc/$pid" ] || return 0
        sleep 0.1
    done
}

# Writes run/postgres.pid from the postmaster's pid file, when that names
# a live process; prints the pid.
chat_pg_record_pid() {
    local pid
    pid=$(chat_pg_postmaster_pid) || return 1
    chat_proc_alive "$pid" || return 1
    echo "$pid" >"$(chat_pidfile postgres)"
    echo "$pid"
}

# What the local cluster needs, checked before anything starts.
chat_check_postgres_programs() {
    chat_pg_local || return 0
    if [ ! -x "$CHAT_PG_SCRIPT" ]; then
        chat_err "$CHAT_PG_SCRIPT: no such program"
        return 1
    fi
    if ! command -v psql >/dev/null; then
        chat_err "CHAT_STORE=postgres needs psql and PostgreSQL's server: run 'make deps' as root"
        return 1
    fi
}
