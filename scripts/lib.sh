# Shared settings of the development scripts; sourced, not run.
#
#   CHAT_PORT        port nginx listens on (default 8080)
#   CHAT_ADDR        address it listens on (default 127.0.0.1)
#   CHAT_JWT_SECRET  the HS256 secret of development tokens
#   CHAT_STATE_DIR   where the rendered config, logs, pids and data go
#   CHAT_MODULE      the module to load (default build/ngx_chat_module.so)
#   CHAT_PRELOAD     libraries to LD_PRELOAD into nginx (sanitizer runs)

CHAT_TOP=$(cd "$(dirname "$0")/.." && pwd)
CHAT_PORT=${CHAT_PORT:-8080}
CHAT_ADDR=${CHAT_ADDR:-127.0.0.1}
CHAT_JWT_SECRET=${CHAT_JWT_SECRET:-ngx-chat-development-secret-not-for-production}
CHAT_STATE_DIR=${CHAT_STATE_DIR:-$CHAT_TOP/state}
CHAT_MODULE=${CHAT_MODULE:-$CHAT_TOP/build/ngx_chat_module.so}
CHAT_NGINX=${CHAT_NGINX:-/usr/sbin/nginx}

# Renders nginx.conf.example into the state dir: the module, port and secret
# of this run; every relative path in it is under the state dir (nginx -p).
chat_render_config() {
    mkdir -p "$CHAT_STATE_DIR/logs" "$CHAT_STATE_DIR/tmp" "$CHAT_STATE_DIR/modules"
    CHAT_STATE_DIR=$(cd "$CHAT_STATE_DIR" && pwd)
    ln -sf "$(cd "$(dirname "$CHAT_MODULE")" && pwd)/$(basename "$CHAT_MODULE")" \
        "$CHAT_STATE_DIR/modules/ngx_chat_module.so"
    sed -e "s|listen 127.0.0.1:8080;|listen $CHAT_ADDR:$CHAT_PORT;|" \
        -e "s|chat_jwt_secret .*;|chat_jwt_secret \"$CHAT_JWT_SECRET\";|" \
        "$CHAT_TOP/nginx.conf.example" > "$CHAT_STATE_DIR/nginx.conf"
}

chat_nginx() {
    LD_PRELOAD="${CHAT_PRELOAD:-}" "$CHAT_NGINX" -p "$CHAT_STATE_DIR/" \
        -c "$CHAT_STATE_DIR/nginx.conf" -e "$CHAT_STATE_DIR/logs/error.log" "$@"
}

# Waits until nginx answers its health location, at most $1 seconds.
chat_wait_http() {
    i=0
    while [ "$i" -lt $(($1 * 10)) ]; do
        if exec 3<>"/dev/tcp/127.0.0.1/$CHAT_PORT" 2>/dev/null; then
            printf 'GET /chat/health HTTP/1.0\r\n\r\n' >&3
            if head -n 1 <&3 | grep -q ' 200 '; then
                exec 3<&-
                return 0
            fi
            exec 3<&-
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
