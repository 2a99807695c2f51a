# docker/stack/lib/services.sh: starting, checking and stopping the stack's
# four services: the PostgreSQL cluster, Redis, the Kafka broker and Kafka
# Connect. Each start is idempotent: a service of this run folder that is
# already running is left alone.
# Sourced by stack.sh, whose helpers and paths it uses; defines functions only.
# shellcheck shell=bash

# pg_locate: set PG_BASE (the cluster's folder), PG_DATA and PG_SOCKET_DIR.
# The cluster normally lives in $STACK/postgres. initdb and postgres refuse
# to run as root, so they run as the postgres OS user, which must be able to
# reach that folder. When it cannot (a run folder under /root, or a umask of
# 077), pg_prepare_base puts the cluster in
# $CDC_PG_FALLBACK_DIR/cdcsink-pg-<hash of the run folder> instead and leaves
# a symlink $STACK/postgres pointing there. We do not chmod the run folder's
# parents: that would quietly open up somebody's home directory.
pg_locate() {
    PG_BASE=$STACK/postgres
    if [[ -L $PG_BASE ]]; then PG_BASE=$(readlink -- "$PG_BASE"); fi
    PG_DATA=$PG_BASE/data
    PG_SOCKET_DIR=$PG_BASE/socket
    # A unix socket path must fit in 107 bytes.
    if ((${#PG_SOCKET_DIR} + 20 > 107)); then
        PG_SOCKET_DIR=/tmp/cdcsink-pgsock-$(printf '%s' "$STACK" | cksum | cut -d ' ' -f 1)
    fi
}

pg_prepare_base() {
    local fallback
    if [[ ! -e $STACK/postgres && ! -L $STACK/postgres ]]; then
        if runuser -u postgres -- test -x "$STACK" 2>/dev/null; then
            mkdir -- "$STACK/postgres"
        else
            fallback=$CDC_PG_FALLBACK_DIR/cdcsink-pg-$(printf '%s' "$STACK" | cksum | cut -d ' ' -f 1)
            note "stack.sh: the postgres user cannot reach $STACK; the cluster goes to $fallback"
            mkdir -p -- "$fallback"
            ln -s -- "$fallback" "$STACK/postgres"
        fi
    fi
    pg_locate
    mkdir -p -- "$PG_BASE" "$PG_SOCKET_DIR"
    chown postgres:postgres -- "$PG_BASE" "$PG_SOCKET_DIR"
    chmod 700 -- "$PG_BASE"
    runuser -u postgres -- test -w "$PG_BASE" ||
        die "postgres: the postgres OS user cannot write $PG_BASE"
}

# as_postgres COMMAND...: run as the postgres OS user, from a directory it
# can read (initdb and pg_ctl fail if the current one is not).
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

pg_pid() {
    local pid
    pg_locate
    pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 1
    pid_alive "$pid" || return 1
    [[ $(cmdline_of "$pid") == *" -D $PG_DATA "* ]] || return 1
    printf '%s\n' "$pid"
}

# psql_as DB ARGS...: psql against the stack's cluster, as the superuser.
psql_as() {
    local db=$1
    shift
    PGCONNECT_TIMEOUT=5 "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CDC_PG_PORT" -U postgres -d "$db" "$@"
}

pg_start() {
    local log=$LOGS/postgres.log started
    if pg_pid >"$PIDS/postgres.pid"; then
        report postgres running "$(postgres_address)/{source,warehouse}" "(already)"
        return 0
    fi
    rm -f -- "$PIDS/postgres.pid"
    started=$(now)
    require_free_port "$CDC_PG_PORT" CDC_PG_PORT postgres
    [[ -x $PG_BIN/initdb ]] || die "postgres: $PG_BIN/initdb not found; run stack.sh install"
    pg_prepare_base
    rotate_log "$log"
    if [[ ! -s $PG_DATA/PG_VERSION ]]; then
        # A leftover from an interrupted initdb would make it refuse to run.
        rm -rf -- "$PG_DATA"
        as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 \
            --locale=C.UTF-8 --no-sync --no-instructions >>"$log" 2>&1 ||
            fail_with_log "postgres: initdb failed" "$log"
        echo "include_if_exists 'cdcsink.conf'" >>"$PG_DATA/postgresql.conf"
    fi
    render "$STACK_SCRIPT_DIR/postgresql.conf.in" "$PG_DATA/cdcsink.conf" \
        "PG_PORT=$CDC_PG_PORT" "PG_SOCKET_DIR=$PG_SOCKET_DIR"
    chown postgres:postgres -- "$PG_DATA/cdcsink.conf"
    # Without -l, the server's output goes to pg_ctl's stdout: the log file,
    # opened here by root, so the postgres user needs no access to logs/.
    as_postgres "$PG_BIN/pg_ctl" start -D "$PG_DATA" -w -t "$CDC_STACK_TIMEOUT" -s >>"$log" 2>&1 ||
        fail_with_log "postgres did not start" "$log"
    pg_pid >"$PIDS/postgres.pid" || fail_with_log "postgres started but its postmaster.pid is unusable" "$log"
    psql_as postgres >>"$log" 2>&1 <<'SQL' || fail_with_log "postgres: creating the databases failed" "$log"
SELECT format('CREATE DATABASE %I', d)
  FROM unnest(ARRAY['source', 'warehouse']) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d)
\gexec
SQL
    report postgres started "$(postgres_address)/{source,warehouse}" "($(elapsed "$started")s)"
}

pg_stop() {
    local pid
    pg_locate
    if pid=$(pg_pid); then
        as_postgres "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" -s >/dev/null 2>&1 || true
        # pg_ctl gave up: take the postmaster down; its children follow it.
        if pid_alive "$pid"; then kill_pid "$pid"; fi
        report postgres stopped "$(postgres_address)"
    fi
    rm -f -- "$PIDS/postgres.pid"
}

# ---------------------------------------------------------------- redis

redis_ping() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$CDC_REDIS_PORT" || exit 1
        printf 'PING\r\n' >&3
        IFS= read -r -t 2 reply <&3 || exit 1
        [[ $reply == +PONG* ]]
    ) 2>/dev/null
}

redis_start() {
    local dir=$STACK/redis log=$LOGS/redis.log started
    if service_pid redis >/dev/null; then
        report redis running "$(redis_address)" "(already)"
        return 0
    fi
    started=$(now)
    require_free_port "$CDC_REDIS_PORT" CDC_REDIS_PORT redis
    command -v redis-server >/dev/null || die "redis-server not found; run stack.sh install"
    mkdir -p -- "$dir"
    render "$STACK_SCRIPT_DIR/redis.conf.in" "$dir/redis.conf" \
        "REDIS_PORT=$CDC_REDIS_PORT" "REDIS_DIR=$dir"
    rotate_log "$log"
    spawn redis "$log" redis-server "$dir/redis.conf"
    wait_ready redis "$log" redis_ping
    report redis started "$(redis_address)" "($(elapsed "$started")s)"
}

# ---------------------------------------------------------------- kafka

java_cmd() {
    local heap=$1 opts=()
    read -r -a opts <<<"$CDC_JAVA_OPTS"
    printf '%s\0' "$CDC_JAVA" "$heap" "${opts[@]}" "-Dlog4j2.configurationFile=file:$LOG4J_CONF" -cp "$KAFKA_LIB/*"
}

# new_cluster_id: a Kafka cluster id (16 random bytes, URL-safe base64
# without padding), made here to save a JVM start for `StorageTool
# random-uuid`. Like Kafka, avoid ids starting with '-'.
new_cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id == -* ]] || break
    done
    printf '%s\n' "$id"
}

# Ready once the log says so and kcat sees the broker in the metadata (a
# metadata request sent earlier may hang for its whole timeout).
kafka_ready() {
    grep -q 'Kafka Server started' "$LOGS/kafka.log" 2>/dev/null &&
        kcat -b "$(kafka_address)" -L -m 2 2>/dev/null | grep -q "broker 1 at"
}

# kafka_launch: start the broker without waiting, so that PostgreSQL and
# Redis come up while its JVM boots. Sets KAFKA_STARTED (empty if it was
# already running).
kafka_launch() {
    local dir=$STACK/kafka log=$LOGS/kafka.log java=()
    KAFKA_STARTED=
    service_pid kafka >/dev/null && return 0
    KAFKA_STARTED=$(now)
    require_free_port "$CDC_KAFKA_PORT" CDC_KAFKA_PORT kafka
    require_free_port "$CDC_KAFKA_CONTROLLER_PORT" CDC_KAFKA_CONTROLLER_PORT kafka
    require_free_port "$CDC_KAFKA_SASL_PORT" CDC_KAFKA_SASL_PORT kafka
    [[ -d $KAFKA_LIB ]] || die "kafka: $KAFKA_LIB missing; run stack.sh install"
    mkdir -p -- "$dir/data"
    render "$STACK_SCRIPT_DIR/kafka-server.properties.in" "$dir/server.properties" \
        "KAFKA_PORT=$CDC_KAFKA_PORT" "KAFKA_CONTROLLER_PORT=$CDC_KAFKA_CONTROLLER_PORT" \
        "KAFKA_DATA_DIR=$dir/data" "KAFKA_SASL_PORT=$CDC_KAFKA_SASL_PORT" \
        "KAFKA_SASL_USER=$CDC_KAFKA_SASL_USER" "KAFKA_SASL_PASSWORD=$CDC_KAFKA_SASL_PASSWORD"
    rotate_log "$log"
    mapfile -d '' -t java < <(java_cmd "$CDC_KAFKA_HEAP")
    if [[ ! -f $dir/data/meta.properties ]]; then
        # Formatting is done once; later starts reuse the data folder.
        "${java[@]}" kafka.tools.StorageTool format -t "$(new_cluster_id)" \
            -c "$dir/server.properties" >>"$log" 2>&1 ||
            fail_with_log "kafka: formatting the storage failed" "$log"
    fi
    spawn kafka "$log" "${java[@]}" kafka.Kafka "$dir/server.properties"
}

# jvm_wait SERVICE STARTED: waits for a service its SERVICE_launch started
# at STARTED and reports it; STARTED empty: it was running already (and
# possibly still starting, from an earlier `up` that timed out).
jvm_wait() {
    local service=$1 started=$2
    wait_ready "$service" "$LOGS/$service.log" "${service}_ready"
    if [[ -z $started ]]; then
        report "$service" running "$(service_address "$service")" "(already)"
    else
        report "$service" started "$(service_address "$service")" \
            "($(elapsed "$started")s)"
    fi
}

kafka_wait() { jvm_wait kafka "$KAFKA_STARTED"; }

# ---------------------------------------------------------------- connect

# Ready once the log says so and the REST API answers (a request made while
# the REST resources are still being set up can hang for a while).
connect_ready() {
    grep -q 'Kafka Connect started' "$LOGS/connect.log" 2>/dev/null &&
        curl -sf -o /dev/null --max-time 5 "$(connect_address)/connectors"
}

plugin_path() {
    local path=$DBZ_PLUGINS
    if jdbc_installed; then path+=",$JDBC_PLUGINS"; fi
    printf '%s' "$path"
}

# connect_launch: start the worker without waiting. It may start before the
# broker is ready: it waits for the broker to look up the cluster id, and
# meanwhile loads its plugins, which overlaps the two JVMs' startup. Sets
# CONNECT_STARTED (empty if it was already running).
connect_launch() {
    local dir=$STACK/connect log=$LOGS/connect.log java=()
    CONNECT_STARTED=
    service_pid connect >/dev/null && return 0
    CONNECT_STARTED=$(now)
    require_free_port "$CDC_CONNECT_PORT" CDC_CONNECT_PORT connect
    [[ -d $DBZ_PLUGINS ]] || die "connect: $DBZ_PLUGINS missing; run stack.sh install"
    mkdir -p -- "$dir"
    render "$CONNECT_CONF_DIR/connect-standalone.properties.in" "$dir/worker.properties" \
        "KAFKA_PORT=$CDC_KAFKA_PORT" "CONNECT_DIR=$dir" "CONNECT_PORT=$CDC_CONNECT_PORT" \
        "PLUGIN_PATH=$(plugin_path)"
    rotate_log "$log"
    mapfile -d '' -t java < <(java_cmd "$CDC_CONNECT_HEAP")
    spawn connect "$log" "${java[@]}" org.apache.kafka.connect.cli.ConnectStandalone "$dir/worker.properties"
}

connect_wait() { jvm_wait connect "$CONNECT_STARTED"; }

# ---------------------------------------------------------------- stopping

# kill_pid PID: TERM, up to STOP_TIMEOUT seconds of grace, then KILL.
kill_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    note "stack.sh: pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
}

stop_service() {
    local service=$1 pid
    if pid=$(service_pid "$service"); then
        kill_pid "$pid"
        report "$service" stopped "$(service_address "$service")"
    fi
    rm -f -- "$PIDS/$service.pid"
}

# leftovers: pids of processes of this stack still alive: a JVM or a Redis
# whose command line names the run folder, or the postmaster of its cluster.
# The program name is checked too, so that a shell whose command line
# merely mentions these paths is never taken for one.
leftovers() {
    local d pid cmd prog
    pg_locate
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        pid_alive "$pid" || continue
        cmd=$(cmdline_of "$pid")
        prog=${cmd%% *}
        case ${prog##*/} in
            java) [[ $cmd == *" $STACK/"* ]] ;;
            postgres) [[ $cmd == *" -D $PG_DATA "* ]] ;;
            redis-server) [[ $cmd == *" $STACK/redis/redis.conf "* ]] ;;
            *) false ;;
        esac && echo "$pid"
    done
    return 0
}

