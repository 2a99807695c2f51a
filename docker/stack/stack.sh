#!/usr/bin/env bash
# docker/stack/stack.sh: installs, starts, stops and inspects cdcsink's local
# service stack, all on 127.0.0.1 and all without containers:
#
#   postgres  a private PostgreSQL 15 cluster (wal_level=logical) holding the
#             databases `source` and `warehouse`
#   redis     a throwaway Redis without persistence
#   kafka     a single-node KRaft Kafka broker
#   connect   Kafka Connect standalone with the Debezium PostgreSQL connector,
#             and a default source connector `cdc-source` (topics cdc.*)
#
# Everything one stack runs lives in its run folder ($CDC_STACK_DIR, default
# <repo>/.stack): data, generated configs, logs/<service>.log and
# pids/<service>.pid. Jars and plugins are fetched once into the cache folder
# ($CDC_CACHE_DIR, default <repo>/.cache). Versions, ports and folders are
# set in env.sh and can be overridden from the environment, so two stacks
# with different run folders and ports can run side by side.
#
# Run `stack.sh help` for the subcommands. The work is split by topic into
# lib/install.sh, lib/services.sh and ../connect/connector.sh, sourced below.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# Bash 5.2 would otherwise treat `&` in ${var//pattern/replacement} specially.
shopt -u patsub_replacement 2>/dev/null || true

STACK_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
CONNECT_CONF_DIR=$(cd "$STACK_SCRIPT_DIR/../connect" && pwd -P)
CDC_REPO_DIR=$(cd "$STACK_SCRIPT_DIR/../.." && pwd -P)
# shellcheck source=env.sh
. "$STACK_SCRIPT_DIR/env.sh"

# Configs reach other programs, so every path must be absolute.
CDC_STACK_DIR=$(realpath -m -- "$CDC_STACK_DIR")
CDC_CACHE_DIR=$(realpath -m -- "$CDC_CACHE_DIR")

STACK=$CDC_STACK_DIR
LOGS=$STACK/logs
PIDS=$STACK/pids
# Written when a run folder is created; `down --purge` deletes only folders
# that carry it, so a mistyped CDC_STACK_DIR cannot wipe an unrelated folder.
STACK_MARKER=$STACK/.cdcsink-stack

KAFKA_HOME=$CDC_CACHE_DIR/kafka-$CDC_KAFKA_VERSION
KAFKA_LIB=$KAFKA_HOME/lib
DBZ_PLUGINS=$CDC_CACHE_DIR/plugins-${CDC_DEBEZIUM_VERSION%.Final}
JDBC_PLUGINS=$CDC_CACHE_DIR/plugins-jdbc-${CDC_DEBEZIUM_JDBC_VERSION%.Final}
LOG4J_CONF=$STACK_SCRIPT_DIR/log4j2.properties

PG_BIN=/usr/lib/postgresql/$CDC_PG_MAJOR/bin
PSQL=$PG_BIN/psql
STOP_TIMEOUT=15

SERVICES=(postgres redis kafka connect)

# ---------------------------------------------------------------- helpers

note() { printf '%s\n' "$*" >&2; }
die() { printf 'stack.sh: error: %s\n' "$*" >&2; exit 1; }

# fail_with_log MESSAGE LOGFILE: report a service that did not come up,
# with the tail of its log, and exit non-zero.
fail_with_log() {
    local msg=$1 log=$2
    {
        printf 'stack.sh: error: %s\n' "$msg"
        printf 'stack.sh: read %s; its last 20 lines:\n' "$log"
        if [[ -f $log ]]; then tail -n 20 -- "$log" | sed 's/^/    /'; else echo "    (no log file)"; fi
        if [[ -f $log ]] && grep -qE 'ERROR|FATAL' -- "$log"; then
            printf 'stack.sh: its first errors:\n'
            grep -m 5 -E 'ERROR|FATAL' -- "$log" | cut -c1-300 | sed 's/^/    /'
        fi
        if [[ -f $log ]] && grep -q 'Address already in use' -- "$log"; then
            printf 'stack.sh: a port is taken: another stack on the same ports, or one in the ephemeral range (%s) taken by an outgoing connection? set the CDC_*_PORT variables (stack.sh help lists them)\n' "$(ephemeral_range)"
        fi
    } >&2
    exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# render TEMPLATE OUTPUT TOKEN=value...: copy TEMPLATE to OUTPUT with each
# @TOKEN@ replaced by its value; an unreplaced @TOKEN@ is a bug.
render() {
    local template=$1 out=$2 text pair
    shift 2
    text=$(<"$template")
    for pair in "$@"; do
        text=${text//"@${pair%%=*}@"/"${pair#*=}"}
    done
    if [[ $text =~ @[A-Z_]+@ ]]; then
        die "render $template: no value for ${BASH_REMATCH[0]}"
    fi
    printf '%s\n' "$text" >"$out"
}

# port_in_use PORT: true if something accepts connections on 127.0.0.1:PORT.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ephemeral_range: prints "LO-HI", the ports the kernel hands to the local
# end of outgoing connections (net.ipv4.ip_local_port_range); a listener
# started later on one of them can find it taken at random. Fails if the
# range cannot be read.
ephemeral_range() {
    local lo hi
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null &&
        printf '%s-%s' "$lo" "$hi"
}

# in_ephemeral_range PORT: PORT lies in ephemeral_range.
in_ephemeral_range() {
    local range
    range=$(ephemeral_range) || return 1
    (($1 >= ${range%-*} && $1 <= ${range#*-}))
}

require_free_port() {
    local port=$1 var=$2 service=$3
    if port_in_use "$port"; then
        die "$service: port $port is already in use by another process; choose another with $var=..."
    fi
    if in_ephemeral_range "$port"; then
        note "stack.sh: warning: $var=$port lies in the kernel's ephemeral port range ($(ephemeral_range)): an outgoing connection can take it before $service listens; a port below it is safe"
    fi
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
    local state
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

# cmdline_of PID: the command line, each argument followed by a space.
cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# Each service's pid file must name a live process whose command line holds
# a marker of this stack, so a recycled pid is never taken for the service.
service_marker() {
    case $1 in
        postgres) pg_locate; printf '%s' " -D $PG_DATA " ;;
        redis) printf '%s' " $STACK/redis/redis.conf " ;;
        kafka) printf '%s' " $STACK/kafka/server.properties " ;;
        connect) printf '%s' " $STACK/connect/worker.properties " ;;
    esac
}

# service_pid SERVICE: print the pid of the running SERVICE of this stack,
# or fail.
service_pid() {
    local pid marker
    pid=$(head -n 1 "$PIDS/$1.pid" 2>/dev/null) || return 1
    pid_alive "$pid" || return 1
    marker=$(service_marker "$1")
    [[ $(cmdline_of "$pid") == *"$marker"* ]] || return 1
    printf '%s\n' "$pid"
}

# rotate_log LOG: keep the previous run's log as LOG.1.
rotate_log() {
    if [[ -s $1 ]]; then mv -f -- "$1" "$1.1"; fi
    : >"$1"
}

# spawn SERVICE LOG COMMAND...: run COMMAND in the background in a session
# of its own (so a Ctrl-C or a killed process group of the caller does not
# reach it), stdout and stderr appended to LOG, and record its pid. The
# background job of a non-interactive shell is never a process-group leader,
# so setsid execs in place and $! is the service's own pid.
spawn() {
    local service=$1 log=$2
    shift 2
    setsid "$@" >>"$log" 2>&1 </dev/null &
    printf '%s\n' "$!" >"$PIDS/$service.pid"
}

# wait_ready SERVICE LOG CHECK...: poll CHECK until it succeeds; fail with
# the log if the service's process dies or CDC_STACK_TIMEOUT passes.
wait_ready() {
    local service=$1 log=$2 deadline pid
    shift 2
    deadline=$((SECONDS + CDC_STACK_TIMEOUT))
    pid=$(head -n 1 "$PIDS/$service.pid" 2>/dev/null || true)
    until "$@"; do
        if [[ -n $pid ]] && ! pid_alive "$pid"; then
            rm -f -- "$PIDS/$service.pid"
            fail_with_log "$service exited during startup" "$log"
        fi
        if ((SECONDS >= deadline)); then
            fail_with_log "$service not ready after ${CDC_STACK_TIMEOUT}s (CDC_STACK_TIMEOUT); it is left running: \`stack.sh up\` waits for it again, \`stack.sh down\` stops it" "$log"
        fi
        sleep 0.2
    done
}

# report SERVICE STATE ADDRESS [DETAIL]: one aligned line per service.
report() { printf '%-9s %-9s %s%s\n' "$1" "$2" "$3" "${4:+  $4}"; }

postgres_address() { printf 'postgresql://postgres@127.0.0.1:%s' "$CDC_PG_PORT"; }
redis_address() { printf 'redis://127.0.0.1:%s' "$CDC_REDIS_PORT"; }
kafka_address() { printf '127.0.0.1:%s' "$CDC_KAFKA_PORT"; }
connect_address() { printf 'http://127.0.0.1:%s' "$CDC_CONNECT_PORT"; }
service_address() { "${1}_address"; }

ensure_run_folder() {
    mkdir -p -- "$STACK" "$LOGS" "$PIDS"
    [[ -e $STACK_MARKER ]] || echo "cdcsink local stack run folder; see docker/stack/stack.sh" >"$STACK_MARKER"
}

# The rest, by topic; these files define functions only.
# shellcheck source=lib/install.sh
. "$STACK_SCRIPT_DIR/lib/install.sh"
# shellcheck source=lib/services.sh
. "$STACK_SCRIPT_DIR/lib/services.sh"
# shellcheck source=../connect/connector.sh
. "$CONNECT_CONF_DIR/connector.sh"

# ---------------------------------------------------------------- topics

topic_names() {
    kcat -b "$(kafka_address)" -L -m 5 | sed -n 's/^ *topic "\(.*\)" with [0-9]* partitions:$/\1/p'
}

# topic_end TOPIC: the sum of the high-water marks of TOPIC's partitions
# (0 if the topic does not exist yet).
topic_end() {
    local topic=$1 parts=() p
    mapfile -t parts < <(kcat -b "$(kafka_address)" -L -m 5 2>/dev/null |
        awk -v t="topic \"$topic\" with" '
            index($0, t) == 3 { on = 1; next }
            /^  topic "/ { on = 0 }
            on && $1 == "partition" { sub(",", "", $2); print $2 }')
    if ((${#parts[@]} == 0)); then echo 0; return 0; fi
    local args=()
    for p in "${parts[@]}"; do args+=(-t "$topic:$p:-1"); done
    kcat -b "$(kafka_address)" -Q -m 5 "${args[@]}" 2>/dev/null |
        awk '$3 == "offset" { s += $4 } END { print s + 0 }'
}

# topic-create TOPIC PARTITIONS [key=value...]: a topic made ahead of its
# producer, e.g. with several partitions for a scale-out test, or with topic
# configs (message.timestamp.type=LogAppendTime for a latency split)
cmd_topic_create() {
    (($# >= 2)) && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "usage: stack.sh topic-create TOPIC PARTITIONS [key=value...]"
    service_pid kafka >/dev/null || die "Kafka of $STACK is not running"
    local java=() cfg=() kv
    for kv in "${@:3}"; do
        [[ $kv == ?*=* ]] || die "topic-create: '$kv' is not key=value"
        cfg+=(--config "$kv")
    done
    mapfile -d '' -t java < <(java_cmd -Xmx128m)
    # the tool logs its admin client's config to stderr: shown only on failure
    local out
    out=$("${java[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$(kafka_address)" \
        --create --if-not-exists --topic "$1" --partitions "$2" --replication-factor 1 "${cfg[@]}" 2>&1) ||
        { printf '%s\n' "$out" | tail -n 20 >&2; die "topic-create: could not create $1 with $2 partitions"; }
    printf '%s %s\n' "$1" "$2"
}

# acl ARGS...: Kafka's ACL tool against the stack (as User:ANONYMOUS, a
# super user), e.g. to take a permission away from the SASL user:
#   acl --add --deny-principal User:cdcsink --operation All --topic T
cmd_acl() {
    service_pid kafka >/dev/null || die "Kafka of $STACK is not running"
    local java=() out
    mapfile -d '' -t java < <(java_cmd -Xmx128m)
    out=$("${java[@]}" org.apache.kafka.tools.AclCommand --bootstrap-server "$(kafka_address)" "$@" 2>&1) ||
        { printf '%s\n' "$out" | tail -n 20 >&2; die "acl: the ACL tool failed"; }
}

cmd_topics() {
    service_pid kafka >/dev/null || die "Kafka of $STACK is not running"
    if [[ ${1:-} == -v ]]; then kcat -b "$(kafka_address)" -L; else topic_names; fi
}

# wait-topic TOPIC N [TIMEOUT]: wait until TOPIC holds at least N records.
cmd_wait_topic() {
    (($# >= 2)) || die "usage: stack.sh wait-topic TOPIC N [TIMEOUT_SECONDS]"
    local topic=$1 want=$2 timeout=${3:-$CDC_STACK_TIMEOUT} deadline have=0
    [[ $want =~ ^[0-9]+$ && $timeout =~ ^[0-9]+$ ]] || die "wait-topic: N and TIMEOUT must be whole numbers"
    deadline=$((SECONDS + timeout))
    while :; do
        have=$(topic_end "$topic")
        ((have >= want)) && break
        ((SECONDS < deadline)) || die "wait-topic: $topic holds $have records, not $want, after ${timeout}s"
        sleep 0.25
    done
    printf '%s %s\n' "$topic" "$have"
}

# ---------------------------------------------------------------- up/down

cmd_up() {
    local started
    started=$(now)
    cmd_install "$@"
    ensure_run_folder
    # The JVMs start first and boot while PostgreSQL and Redis come up.
    kafka_launch
    connect_launch
    pg_start
    redis_start
    kafka_wait
    connect_wait
    default_connector
    note "stack.sh: up in $(elapsed "$started")s; logs in $LOGS"
}

cmd_down() {
    local purge=0 arg pid base
    for arg in "$@"; do
        case $arg in
            --purge) purge=1 ;;
            *) die "down: unknown option $arg" ;;
        esac
    done
    if [[ -d $STACK ]]; then
        stop_service connect
        stop_service kafka
        stop_service redis
        pg_stop
        # Anything of this stack without a (valid) pid file, e.g. after the
        # run folder's pids/ was deleted by hand.
        for pid in $(leftovers); do
            note "stack.sh: stopping leftover process $pid: $(cmdline_of "$pid" | cut -c 1-120)"
            kill_pid "$pid"
        done
        pid=$(leftovers | head -n 1)
        [[ -z $pid ]] || die "down: process $pid of this stack is still running"
    fi
    if ((purge)); then
        if [[ -d $STACK ]]; then
            [[ -e $STACK_MARKER ]] || die "down --purge: $STACK is not a stack run folder (no $(basename "$STACK_MARKER")); not deleting it"
            if [[ -L $STACK/postgres ]]; then
                base=$(readlink -- "$STACK/postgres")
                # Only ever a folder that pg_prepare_base made.
                [[ $(basename "$base") == cdcsink-pg-* ]] && rm -rf -- "$base"
            fi
            pg_locate
            [[ $PG_SOCKET_DIR == /tmp/cdcsink-pgsock-* ]] && rm -rf -- "$PG_SOCKET_DIR"
            rm -rf -- "$STACK"
        fi
        note "stack.sh: purged $STACK"
    fi
}

# stop SERVICE / start SERVICE: one service, for chaos tests. Connect is
# standalone: connectors added over REST are gone after a restart, and
# "connector add" with the same name resumes from the stored offsets.
cmd_service() {
    local action=$1 service=${2:-}
    case $service in
        postgres | redis | kafka | connect) ;;
        *) die "usage: stack.sh $action postgres|redis|kafka|connect" ;;
    esac
    ensure_run_folder
    case $action:$service in
        stop:postgres) pg_stop ;;
        stop:*) stop_service "$service" ;;
        start:postgres) pg_start ;;
        start:redis) redis_start ;;
        start:kafka) kafka_launch; kafka_wait ;;
        start:connect) connect_launch; connect_wait ;;
    esac
}

cmd_status() {
    local service all=0 detail names
    for service in "${SERVICES[@]}"; do
        detail=
        if [[ $service == postgres ]]; then
            if pg_pid >/dev/null; then detail=running; fi
        elif service_pid "$service" >/dev/null; then
            detail=running
        fi
        if [[ -n $detail ]]; then
            names=
            if [[ $service == connect ]]; then
                http GET /connectors
                names="connectors: $HTTP_BODY"
            fi
            report "$service" running "$(service_address "$service")" "$names"
        else
            report "$service" stopped "$(service_address "$service")"
            all=1
        fi
    done
    return "$all"
}

cmd_env() {
    local var
    for var in CDC_STACK_DIR CDC_CACHE_DIR CDC_PG_PORT CDC_REDIS_PORT CDC_KAFKA_PORT \
        CDC_KAFKA_CONTROLLER_PORT CDC_KAFKA_SASL_PORT CDC_CONNECT_PORT; do
        printf 'export %s=%q\n' "$var" "${!var}"
    done
    printf 'export CDC_PG_SOURCE_URI=%q\n' "$(postgres_address)/source"
    printf 'export CDC_PG_WAREHOUSE_URI=%q\n' "$(postgres_address)/warehouse"
    printf 'export CDC_KAFKA_BOOTSTRAP=%q\n' "$(kafka_address)"
    printf 'export CDC_KAFKA_SASL_BOOTSTRAP=%q\n' "127.0.0.1:$CDC_KAFKA_SASL_PORT"
    printf 'export CDC_KAFKA_SASL_USER=%q\n' "$CDC_KAFKA_SASL_USER"
    printf 'export CDC_KAFKA_SASL_PASSWORD=%q\n' "$CDC_KAFKA_SASL_PASSWORD"
    printf 'export CDC_REDIS_URL=%q\n' "$(redis_address)"
    printf 'export CDC_CONNECT_URL=%q\n' "$(connect_address)"
}

cmd_psql() {
    (($# >= 1)) || die "usage: stack.sh psql DB [psql args...]"
    local db=$1
    shift
    psql_as "$db" "$@"
}

usage() {
    cat <<EOF
usage: stack.sh COMMAND [ARGS]

  install [--jdbc-sink]   install missing Debian packages, fetch the pinned jars
                          (and the Debezium JDBC sink plugin) into \$CDC_CACHE_DIR
  up [--jdbc-sink]        install, then start postgres, redis, kafka, connect
                          and the default connector (\$CDC_SOURCE_CONNECTOR)
  down [--purge]          stop this stack's services; --purge also deletes
                          the run folder (alias: clean)
  status                  one line per service; exit 1 unless all run
  stop|start SERVICE      one of postgres, redis, kafka, connect (chaos tests)
  env                     export lines for eval: ports and addresses
  psql DB [ARGS...]       psql as postgres against the stack's cluster
  connector add NAME PREFIX on|off [DB] [key=value...]
                          register a Debezium PostgreSQL connector (JSON
                          schemas on/off) and wait until it streams
  connector remove NAME   unregister it, drop its slot and publication
  connector status NAME   its status JSON
  connector list          the registered connectors
  topics [-v]             topic names (-v: kcat -L)
  wait-topic TOPIC N [S]  wait up to S seconds until TOPIC holds N records
  topic-create TOPIC N [k=v...]
                          create TOPIC with N partitions (and topic configs)
  acl ARGS...             Kafka's ACL tool (kafka-acls) against the broker

Run folder: $STACK
Cache:      $CDC_CACHE_DIR
Ports:      postgres $CDC_PG_PORT, redis $CDC_REDIS_PORT, kafka $CDC_KAFKA_PORT (SASL/PLAIN $CDC_KAFKA_SASL_PORT, controller $CDC_KAFKA_CONTROLLER_PORT), connect $CDC_CONNECT_PORT
Overrides:  CDC_STACK_DIR CDC_CACHE_DIR CDC_PG_PORT CDC_REDIS_PORT CDC_KAFKA_PORT
            CDC_KAFKA_CONTROLLER_PORT CDC_CONNECT_PORT CDC_STACK_TIMEOUT
            CDC_KAFKA_HEAP CDC_CONNECT_HEAP CDC_JAVA_OPTS CDC_MAVEN_REPO
            CDC_SOURCE_CONNECTOR CDC_SOURCE_PREFIX CDC_SOURCE_DB (see env.sh)
EOF
}

main() {
    local cmd=${1:-help}
    (($# > 0)) && shift
    case $cmd in
        install) cmd_install "$@" ;;
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        clean) cmd_down --purge ;;
        status) cmd_status ;;
        stop | start) cmd_service "$cmd" "$@" ;;
        env) cmd_env ;;
        psql) cmd_psql "$@" ;;
        connector) cmd_connector "$@" ;;
        topics) cmd_topics "$@" ;;
        wait-topic) cmd_wait_topic "$@" ;;
        topic-create) cmd_topic_create "$@" ;;
        acl) cmd_acl "$@" ;;
        help | -h | --help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
