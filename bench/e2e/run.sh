#!/usr/bin/env bash
# bench/e2e/run.sh - end-to-end benchmark (not a test): cdcsink against the
# Debezium JDBC sink 3.6.0 in a Kafka Connect worker and raw COPY, on the
# same preloaded topics and the same PostgreSQL server, plus the latency
# from source commit to visible in the warehouse behind a real Debezium
# PostgreSQL connector. See bench/e2e/README.md for the method.
#
#   make bench-e2e                     (or bash bench/e2e/run.sh)
#   BENCH_EVENTS=100000 make bench-e2e (quick run)
#
# Knobs: BENCH_EVENTS (1000000), BENCH_TRIES (3: cdcsink runs per stream,
# the best counts), BENCH_LAT_SECONDS (40), BENCH_LAT_RATE_MAX
# (events/s cap of the latency workload, 1000), BENCH_JDBC_MAX_S (900: the
# JDBC sink is stopped after this long and its rate is taken from the part it
# committed), BENCH_OUT (build/bench-e2e),
# BENCH_KEEP_STACK=1 (leave the stack up), BENCH_ONLY=PART[,PART...] (run
# only those parts: throughput (the three 10-column streams, cdcsink and
# COPY), jdbc (the JDBC sink on them, today's and its best configuration),
# width (10/100 columns, 1 KB/20 KB text), txn (transaction metadata,
# apply.consistency on against off), latency; default all; alone, latency
# runs its workload at BENCH_LAT_RATE_MAX), BENCH_WIDE_EVENTS (200000:
# events of the 10/100-column and 1 KB streams), BENCH_TOAST_EVENTS
# (20000: events of the 20 KB stream), BENCH_TXN_EVENTS (200000),
# BENCH_JDBC_CONFIGS ("today best unnest": the JDBC sink's configurations
# on the mixed schemas-on stream, names of JDBC_CONF below),
# BENCH_DBZ_POLL_MS (Debezium's poll.interval.ms in the latency part, 50),
# BENCH_LAT_WARMUP_S (60: the workload runs this long before the measured
# BENCH_LAT_SECONDS, so the freshly started Connect JVM is warm),
# BENCH_LAT_SET ("K=V K=V": cdcsink settings of the latency run, e.g.
# log.level=debug for each batch's stage times), BENCH_LAT_B (a second
# cdcsink binary, or "same", consuming the same topic side by side into its
# own database: an A/B under one load), BENCH_LAT_SET_B (sink b's settings
# on top of BENCH_LAT_SET), BENCH_AB (another cdcsink binary: every
# cdcsink try is followed by one of it on the same stream, logged as
# "try Nb", not in the table: an A/B of two builds under one load),
# BENCH_SET ("K=V K=V": cdcsink settings of every throughput, width and
# txn try, e.g. batch.max.bytes=6291456 to see what bounds memory). The
# stack's ports and run folder
# come from the usual CDC_* variables (docker/stack/env.sh); the default run
# folder here is .stack-bench.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
export CDC_STACK_DIR=${CDC_STACK_DIR:-$ROOT/.stack-bench}
export CDC_CACHE_DIR=${CDC_CACHE_DIR:-$ROOT/.cache}
N=${BENCH_EVENTS:-1000000}
LAT_S=${BENCH_LAT_SECONDS:-40}
LAT_WARM=${BENCH_LAT_WARMUP_S:-60}
LAT_MAX=${BENCH_LAT_RATE_MAX:-1000}
TRIES=${BENCH_TRIES:-3}
JDBC_MAX=${BENCH_JDBC_MAX_S:-900}
OUT=${BENCH_OUT:-$ROOT/build/bench-e2e}
STACK=$ROOT/docker/stack/stack.sh
BIN=$ROOT/build/release/cdcsink
[[ -z ${BENCH_AB:-} || -x $BENCH_AB ]] || { echo "run.sh: BENCH_AB: $BENCH_AB is not an executable" >&2; exit 2; }
GEN=$ROOT/build/release/bench/e2e
RUN_ID=r$(date +%s)
HZ=$(getconf CLK_TCK)

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/results.tsv "$OUT"/jdbc-*.failed "$OUT"/stages-*.txt
RESULTS=$OUT/results.tsv
: >"$RESULTS" # the report reads it even when no part wrote to it

# ------------------------------------------------------------ stack, tools

. "$ROOT/docker/stack/env.sh"
KAFKA_LIB=$CDC_CACHE_DIR/kafka-$CDC_KAFKA_VERSION/lib
JDBC_PLUGINS=$CDC_CACHE_DIR/plugins-jdbc-${CDC_DEBEZIUM_JDBC_VERSION%.Final}
PG_BIN=/usr/lib/postgresql/$CDC_PG_MAJOR/bin
BROKERS=127.0.0.1:$CDC_KAFKA_PORT

cleanup() {
    # under set -e: a kill of a process already gone must not end the trap
    [[ -z ${SINK_PID:-} ]] || kill -9 "$SINK_PID" 2>/dev/null || true
    [[ -z ${SINK_B_PID:-} ]] || kill -9 "$SINK_B_PID" 2>/dev/null || true
    [[ -z ${JDBC_PID:-} ]] || kill -9 "$JDBC_PID" 2>/dev/null || true
    [[ -z ${READER_PID:-} ]] || kill "$READER_PID" 2>/dev/null || true
    if [[ ${BENCH_KEEP_STACK:-0} != 1 ]]; then
        "$STACK" connector remove lat >/dev/null 2>&1 || true
        "$STACK" down --purge >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

# shellcheck disable=SC2034 # read by apt.sh
APT_WHO=bench-e2e
# shellcheck source-path=SCRIPTDIR source=../../docker/stack/lib/apt.sh
. "$ROOT/docker/stack/lib/apt.sh"
command -v gnuplot >/dev/null ||
    apt_install "for the plot" gnuplot-nox || die "could not install gnuplot-nox"
# the relative name: the Makefile's pattern rule for bench binaries does not
# match an absolute path (a fresh checkout failed here: "No rule to make
# target"), and make bench-e2e had built it before
make -s cdcsink build/release/bench/e2e >/dev/null
log "stack: $CDC_STACK_DIR (postgres $CDC_PG_PORT, kafka $CDC_KAFKA_PORT, connect $CDC_CONNECT_PORT)"
CDC_SOURCE_CONNECTOR= "$STACK" up --jdbc-sink >"$OUT/stack-up.log" 2>&1 ||
    { tail -n 20 "$OUT/stack-up.log"; die "stack up failed"; }

psql_db() { "$STACK" psql "$@"; }
# The latency part reads each warehouse row's commit time.
if [[ $(psql_db postgres -tAc 'SHOW track_commit_timestamp') != on ]]; then
    psql_db postgres -c 'ALTER SYSTEM SET track_commit_timestamp = on' >/dev/null
    "$STACK" stop postgres >/dev/null && "$STACK" start postgres >/dev/null
fi
# The stack's own worker (Debezium source, for the latency part) gives the
# port to the JDBC sink's worker during the throughput part.
"$STACK" stop connect >/dev/null

COLS="id, account_id, amount, note, created_at, updated_at, attrs, active, ext_id, qty"
# table_ddl STREAM: the table every system gets, made beforehand, the same
# for every stream: without schemas cdcsink reads the connector's default
# encodings (base64 Decimal, MicroTimestamp integer) by its column types.
table_ddl() {
    echo "CREATE TABLE public.orders (id int PRIMARY KEY, account_id bigint,
  amount numeric(12,2), note text, created_at timestamp, updated_at timestamptz,
  attrs jsonb, active boolean, ext_id uuid, qty int)"
}

# fresh_db DB STREAM: an empty database with the stream's table(s)
fresh_db() {
    psql_db postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
    psql_db "$1" -c "${DDL[$2]:-$(table_ddl)}" >/dev/null
}

# settle: every system starts on a server with no dirty pages left by the
# one before (its checkpoint would otherwise land in the next one's time)
settle() { psql_db postgres -c CHECKPOINT >/dev/null; }

# proc_usage PID: "VmHWM_MB CPU_SECONDS" of a live process
proc_usage() {
    local hwm cpu
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$1/status")
    cpu=$(awk -v hz="$HZ" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$1/stat")
    echo "$(calc "$hwm / 1024" 0) $cpu"
}

# verify DB EXPECTED.tsv LIVE_FILTER [TABLE COLUMNS]: the live rows equal
# the expected final state; prints "rows=N diff=N"
verify() {
    local db=$1 file=$2 filter=$3 tab=${4:-orders} cols=${5:-$COLS}
    psql_db "$db" -c "DROP TABLE IF EXISTS expected_$tab" >/dev/null 2>&1
    psql_db "$db" -c "CREATE TABLE expected_$tab AS SELECT $cols FROM public.$tab WITH NO DATA" \
        -c "\\copy expected_$tab FROM '$file'" >/dev/null
    psql_db "$db" -tA -F ' ' -c "
      SELECT (SELECT count(*) FROM public.$tab WHERE $filter),
             (SELECT count(*) FROM (SELECT $cols FROM public.$tab WHERE $filter
                                    EXCEPT SELECT $cols FROM expected_$tab) a)
           + (SELECT count(*) FROM (SELECT $cols FROM expected_$tab
                                    EXCEPT SELECT $cols FROM public.$tab WHERE $filter) b)" |
        awk '{ printf "rows=%s diff=%s", $1, $2 }'
}

# result STREAM SYSTEM EVENTS SECONDS RSS_MB CPU_S STATUS [BAD/READS]
result() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:--}" >>"$RESULTS"; }

# has PART: BENCH_ONLY (a comma list) names it, or is empty
PARTS=,${BENCH_ONLY:-throughput,jdbc,width,txn,latency},
has() { [[ $PARTS == *,$1,* ]]; }
for p in ${PARTS//,/ }; do
    [[ $p =~ ^(throughput|jdbc|width|txn|latency)$ ]] ||
        die "BENCH_ONLY: unknown part '$p' (throughput, jdbc, width, txn, latency)"
done
THROUGHPUT=0
{ has throughput || has jdbc; } && THROUGHPUT=1
declare -A TOPIC MODE EXPECTED FINAL TABLE DDL TCOLS
# ------------------------------------------------------------ cdcsink, COPY
# Per stream, back to back so both see the machine in the same state:
# cdcsink from the start of the topic into a fresh database, best of
# BENCH_TRIES runs (RSS: the highest of them), then raw COPY of the same
# final rows into an identical empty table, best of 3.

# A stream: TOPIC[s] (a comma list for several), DDL[s] (its tables),
# VTABLES[s] (the tables verified), and per table t of it EXPECTED[s:t],
# FINAL[s:t], TCOLS[s:t] (columns compared).
declare -A VTABLES READS
# BENCH_SET: settings of every cdcsink try (a part's own, after them, win)
BENCH_SETS=()
for kv in ${BENCH_SET:-}; do BENCH_SETS+=(--set "$kv"); done

# verify_stream STREAM DB: every table of the stream equals its expected
# state; prints "rows=N diff=N" per table, dies on a difference
verify_stream() {
    local s=$1 db=$2 t v out=
    for t in ${VTABLES[$s]}; do
        v=$(verify "$db" "${EXPECTED[$s:$t]}" "_cdc_deleted IS NOT TRUE" "$t" "${TCOLS[$s:$t]}")
        [[ $v == "rows=${FINAL[$s:$t]} diff=0" ]] ||
            die "cdcsink $s ($db): $t differs from the expected state ($v, expected rows=${FINAL[$s:$t]})"
        out+="$t:$v "
    done
    echo "$out"
}

# reader DB FILE: samples the transaction stream's invariants (balances sum
# to 0, orders' totals to their lines' amounts), one statement a snapshot,
# as fast as it can, into FILE until FILE.stop exists
reader() {
    local db=$1 f=$2 i
    for ((i = 0; i < 100; i++)); do
        echo "SELECT (SELECT coalesce(sum(balance), 0) FROM public.accounts WHERE _cdc_deleted IS NOT TRUE),
          (SELECT coalesce(sum(total), 0) FROM public.orders WHERE _cdc_deleted IS NOT TRUE),
          (SELECT coalesce(sum(amount), 0) FROM public.lines WHERE _cdc_deleted IS NOT TRUE);"
    done >"$f.sql"
    rm -f "$f.stop"
    while [[ ! -f $f.stop ]]; do
        psql_db "$db" -At -F '|' -f "$f.sql" 2>/dev/null || sleep 0.05
    done >"$f"
}

# cdcsink_try STREAM TRY [--set K=V...]: one run; sets TRY_S, TRY_RSS (MB),
# TRY_CPU (s), and for a transaction stream TRY_READS ("bad reads").
# Not in a subshell: the exit trap must see SINK_PID, and die must end the run.
cdcsink_try() {
    local s=$1 try=$2 db=cdc_$1 reached t0 t1 rss cpu v rpid= g
    shift 2
    RUNSEQ=$((${RUNSEQ:-0} + 1)) g=g_${db}_$RUNSEQ
    fresh_db "$db" "$s"
    settle
    TRY_READS=
    if [[ -n ${READS[$s]:-} ]]; then
        reader "$db" "$OUT/reads-$s-$try" &
        rpid=$!
        READER_PID=$rpid
    fi
    t0=$(now)
    "$BIN" --set kafka.bootstrap.servers="$BROKERS" --set kafka.group.id="$g" \
        --set topics="${TOPIC[$s]}" \
        --set pg.conninfo="postgresql://postgres@127.0.0.1:$CDC_PG_PORT/$db" \
        --set redis.url="redis://127.0.0.1:$CDC_REDIS_PORT" \
        --set dlq.topic="$RUN_ID.dlq" "${BENCH_SETS[@]}" "$@" run >"$OUT/cdcsink-$s.log" 2>&1 &
    SINK_PID=$!
    reached=$("$GEN" committed -b "$BROKERS" -g "$g" -t "${TOPIC[$s]}" -w 1800) ||
        die "cdcsink did not reach the end of ${TOPIC[$s]} (see $OUT/cdcsink-$s.log)"
    t1=$(awk '{ print $2 }' <<<"$reached")
    read -r rss cpu < <(proc_usage "$SINK_PID")
    kill -TERM "$SINK_PID"; wait "$SINK_PID" || true; SINK_PID=
    if [[ -n $rpid ]]; then
        touch "$OUT/reads-$s-$try.stop"; wait "$rpid" || true; READER_PID=
        TRY_READS=$(awk -F '|' 'NF == 3 { n++; if ($1 != 0 || $2 != $3) bad++ }
                                END { printf "%d %d", bad + 0, n + 0 }' "$OUT/reads-$s-$try")
    fi
    v=$(verify_stream "$s" "$db")
    log "  try $try: $(calc "$t1 - $t0" 2)s rss=${rss}MB cpu=${cpu}s $v${TRY_READS:+ reader (bad reads): $TRY_READS}"
    TRY_S=$(calc "$t1 - $t0" 3) TRY_RSS=$rss TRY_CPU=$cpu
}

# ab_try STREAM TRY [--set ...]: with BENCH_AB, one try of that binary
# (logged as try TRYb), keeping the TRY_* of the try before
ab_try() {
    [[ -n ${BENCH_AB:-} ]] || return 0
    local s=$1 try=$2 keep=("$TRY_S" "$TRY_RSS" "$TRY_CPU" "$TRY_READS")
    shift 2
    BIN=$BENCH_AB cdcsink_try "$s" "${try}b" "$@"
    TRY_S=${keep[0]} TRY_RSS=${keep[1]} TRY_CPU=${keep[2]} TRY_READS=${keep[3]}
}

# cdcsink_best STREAM NAME EVENTS TRIES [--set ...]: result NAME cdcsink
cdcsink_best() {
    local s=$1 name=$2 n=$3 tries=$4 best= best_cpu= max_rss=0 bad=0 reads=0 try
    shift 4
    log "cdcsink${*:+ ($*)}: ${TOPIC[$s]} -> cdc_$s, best of $tries"
    for try in $(seq "$tries"); do
        cdcsink_try "$s" "$try" "$@"
        ((TRY_RSS > max_rss)) && max_rss=$TRY_RSS
        ab_try "$s" "$try" "$@" # (TRY_* are the A try's again after it)
        if [[ -n $TRY_READS ]]; then
            read -r b r <<<"$TRY_READS"; bad=$((bad + b)) reads=$((reads + r))
        fi
        if [[ -z $best ]] || awk -v a="$TRY_S" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$TRY_S best_cpu=$TRY_CPU
        fi
    done
    result "$name" cdcsink "$n" "$best" "$max_rss" "$best_cpu" ok "$bad/$reads"
}

# copy_best STREAM: raw COPY of the stream's final rows (its one table)
# into an identical empty table in copy_base, best of 3: result copy-STREAM
copy_best() {
    local s=$1 t=${VTABLES[$1]} best= try t0 t1 d
    psql_db postgres -c "DROP DATABASE IF EXISTS copy_base" -c "CREATE DATABASE copy_base" >/dev/null 2>&1
    for try in 1 2 3; do
        psql_db copy_base -c "DROP TABLE IF EXISTS public.$t" >/dev/null 2>&1
        psql_db copy_base -c "${DDL[$s]}" >/dev/null
        settle
        t0=$(now)
        psql_db copy_base -c "\\copy public.$t FROM '${EXPECTED[$s:$t]}'" >/dev/null
        t1=$(now)
        d=$(calc "$t1 - $t0" 3)
        best=$(awk -v a="$d" -v b="$best" 'BEGIN { print (b == "" || a < b) ? a : b }')
    done
    log "raw COPY of the ${FINAL[$s:$t]} final rows of $s: best of 3 ${best}s"
    result "copy-$s" copy "${FINAL[$s:$t]}" "$best" - - ok
}

if ((THROUGHPUT)); then
# ------------------------------------------------------------ preload

STREAMS=(on off ins)
for s in "${STREAMS[@]}"; do
    TOPIC[$s]=$RUN_ID$s.public.orders DDL[$s]=$(table_ddl) VTABLES[$s]=orders TCOLS[$s:orders]=$COLS
done
MODE=([on]=on [off]=off [ins]=insert)
for s in "${STREAMS[@]}"; do EXPECTED[$s:orders]=$OUT/expected-$s.tsv; done
for s in "${STREAMS[@]}"; do
    log "preload: $N events into ${TOPIC[$s]} (${MODE[$s]})"
    line=$("$GEN" gen -b "$BROKERS" -t "${TOPIC[$s]}" -m "${MODE[$s]}" -n "$N" \
        -p "$RUN_ID$s" -o "${EXPECTED[$s:orders]}")
    log "  $line"
    FINAL[$s:orders]=$(wc -l <"${EXPECTED[$s:orders]}")
done
[[ ${FINAL[on:orders]} == "${FINAL[off:orders]}" ]] || die "the on and off streams differ in their final state"

if has throughput; then
    for s in "${STREAMS[@]}"; do
        cdcsink_best "$s" "$s" "$N" "$TRIES"
        copy_best "$s"
    done
fi

# ------------------------------------------------------------ JDBC sink

# stop_jvm PID: SIGTERM, and SIGKILL if it has not exited after 30 s (a
# Connect worker whose task failed can hang in its shutdown hooks)
stop_jvm() {
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# The JDBC sink's settings. Today's: what the runs before used. Its best:
# every throughput setting 3.6.0.Final has (read from its config classes:
# JdbcSinkConnectorConfig, SinkConnectorConfig) that can help here.
# - use.reduction.buffer=true: one record per key per flush (the last), so
#   a batch of a mixed stream has fewer rows, and no key twice;
# - dialect.postgres.unnest.insert.enabled=true: one INSERT ... SELECT FROM
#   UNNEST(arrays) ... ON CONFLICT per flush instead of a JDBC batch of
#   single-row upserts (its doc: "5-10x" for high throughput);
# - batch.size and consumer.max.poll.records 10000: the flush is bounded by
#   what one poll returns;
# - consumer fetch sizes: the consumer default max.partition.fetch.bytes
#   (1 MB) is ~240 records of this stream per fetch;
# - reWriteBatchedInserts=true on the JDBC URL: the driver folds a batch of
#   INSERTs into multi-row statements (for the flushes that do not unnest);
# - tasks.max stays 1 (one partition); connection.pool.* (min/max size,
#   timeout) only matter with several tasks; hibernate.* passthrough has no
#   batching knob the sink uses (it batches through JDBC itself).
# JDBC_CONF[NAME]="URL_SUFFIX|WORKER SETTINGS|SINK SETTINGS" (settings
# space-separated); BENCH_JDBC_CONFIGS (default "today best unnest") picks
# those run on the mixed schemas-on stream (today's alone runs on the
# schemas-off ones). The probes rb, poll, fetch, rewrite are today's plus
# one change each; best = rb + fetch + rewrite, the fastest that completed
# (README "Results", 2026-12-05: 1.23x today's). rewrite alone fails (a
# multi-row upsert meets one key twice: "ON CONFLICT DO UPDATE command
# cannot affect row a second time"), the reduction buffer makes keys
# unique per flush; poll (polls, flushes and fetches of 10000 records) ran
# 4x slower than today's at -Xmx1g, its heap full (RSS 1.3 GB).
declare -A JDBC_CONF=(
    [today]="|consumer.max.poll.records=4096|batch.size=4096"
    [best]="?reWriteBatchedInserts=true|consumer.max.poll.records=4096 consumer.max.partition.fetch.bytes=16777216 consumer.fetch.max.bytes=33554432|batch.size=4096 use.reduction.buffer=true"
    [unnest]="?reWriteBatchedInserts=true|consumer.max.poll.records=4096 consumer.max.partition.fetch.bytes=16777216 consumer.fetch.max.bytes=33554432|batch.size=4096 use.reduction.buffer=true dialect.postgres.unnest.insert.enabled=true"
    [rb]="|consumer.max.poll.records=4096|batch.size=4096 use.reduction.buffer=true"
    [poll]="|consumer.max.poll.records=10000 consumer.max.partition.fetch.bytes=67108864 consumer.fetch.max.bytes=134217728 consumer.fetch.min.bytes=1048576 consumer.fetch.max.wait.ms=100|batch.size=10000"
    [fetch]="|consumer.max.poll.records=4096 consumer.max.partition.fetch.bytes=16777216 consumer.fetch.max.bytes=33554432|batch.size=4096"
    [rewrite]="?reWriteBatchedInserts=true|consumer.max.poll.records=4096|batch.size=4096"
)
JDBC_CONFIGS=${BENCH_JDBC_CONFIGS:-today unnest best}
# 3.6.0.Final's UNNEST path fails on this stream: the flush binds a
# MicroTimestamp's raw microseconds into the timestamp array ("date/time
# field value out of range: 1700004744014232"). So "best" runs without it,
# and "unnest" (best with it) is run as well and reported as it ends.

# jdbc_run STREAM CONFIG: result STREAM jdbc (today) or jdbc-CONFIG
jdbc_run() {
    local s=$1 v=$2 db=jdbc_$1 dir=$OUT/jdbc-$1-$2 schemas=true t0 t1 state reason= why
    local name=jdbc-$s-$v sys=jdbc-$v url wopts sopts
    [[ $v == today ]] && sys=jdbc
    [[ $s == on ]] || schemas=false
    IFS='|' read -r url wopts sopts <<<"${JDBC_CONF[$v]}"
    wopts=${wopts// /$'\n'} sopts=${sopts// /$'\n'}
    fresh_db "$db" "$s"
    rm -rf "$dir"; mkdir -p "$dir"
    cat >"$dir/worker.properties" <<EOF
bootstrap.servers=$BROKERS
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=$schemas
value.converter.schemas.enable=$schemas
offset.storage.file.filename=$dir/offsets.dat
offset.flush.interval.ms=1000
plugin.path=$JDBC_PLUGINS
plugin.discovery=service_load
$wopts
listeners=http://127.0.0.1:$CDC_CONNECT_PORT
EOF
    cat >"$dir/jdbc.properties" <<EOF
name=$name
connector.class=io.debezium.connector.jdbc.JdbcSinkConnector
tasks.max=1
topics=${TOPIC[$s]}
connection.url=jdbc:postgresql://127.0.0.1:$CDC_PG_PORT/$db$url
connection.username=postgres
connection.password=postgres
insert.mode=upsert
primary.key.mode=record_key
delete.enabled=true
$sopts
schema.evolution=none
collection.name.format=orders
EOF
    log "jdbc sink ($sys): ${TOPIC[$s]} -> $db (schemas $schemas): $(tr '\n' ' ' <<<"$wopts $sopts $url")"
    settle
    t0=$(now)
    setsid java -Xmx1g -Dlog4j2.configurationFile="file:$ROOT/docker/stack/log4j2.properties" \
        -cp "$KAFKA_LIB/*" org.apache.kafka.connect.cli.ConnectStandalone \
        "$dir/worker.properties" "$dir/jdbc.properties" >"$OUT/$name.log" 2>&1 &
    JDBC_PID=$!
    "$GEN" committed -b "$BROKERS" -g "connect-$name" -t "${TOPIC[$s]}" -w "$JDBC_MAX" >"$dir/reached" &
    local watch=$!
    while kill -0 "$watch" 2>/dev/null; do
        state=$(curl -s --max-time 5 "http://127.0.0.1:$CDC_CONNECT_PORT/connectors/$name/status" || true)
        if grep -q '"state":"FAILED"' <<<"$state"; then
            reason=$(grep -o '"trace":"[^"]*' <<<"$state" | head -n 1 | cut -c 10- |
                sed 's/\\n.*//; s/\\t//g' | cut -c 1-300)
            kill "$watch" 2>/dev/null || true
            break
        fi
        sleep 1
    done
    wait "$watch" 2>/dev/null || true
    read -r rss cpu < <(proc_usage "$JDBC_PID")
    stop_jvm "$JDBC_PID"; JDBC_PID=
    if [[ -n $reason ]]; then
        # the connector's own message says more than the task's trace
        why=$(grep -m 1 'Failed to process record: ' "$OUT/$name.log" | sed 's/.*Failed to process record: //; s/ (io\.debezium.*//' || true)
        [[ -z $why ]] || reason="Failed to process record: $why"
        why=$(grep -m 1 'Caused by: org.postgresql.util.PSQLException: ' "$OUT/$name.log" | sed 's/.*PSQLException: //' | cut -c 1-200 || true)
        [[ -z $why ]] || reason+=" ($why)"
        log "  the task FAILED: $reason"
        printf '%s\n' "$reason" >"$OUT/$name.failed"
        result "$s" "$sys" "$N" - "$rss" "$cpu" failed
        return 0
    fi
    t1=$(awk '{ print $2 }' "$dir/reached")
    [[ -n $t1 ]] || die "jdbc sink $s: no progress report (see $OUT/$name.log)"
    if [[ $(awk '{ print $1 }' "$dir/reached") == partial ]]; then
        # stopped at the time cap: the rate of the part it did
        local done_ev
        done_ev=$(awk -v n="$N" '{ printf "%d", ($3 > 0 ? $3 : 0) * n / $4 }' "$dir/reached")
        log "  stopped after ${JDBC_MAX}s (BENCH_JDBC_MAX_S): $done_ev of $N events; rss=${rss}MB cpu=${cpu}s"
        result "$s" "$sys" "$done_ev" "$(calc "$t1 - $t0" 3)" "$rss" "$cpu" partial
        return 0
    fi
    v=$(verify "$db" "${EXPECTED[$s:orders]}" true)
    log "  $(calc "$t1 - $t0" 2)s rss=${rss}MB cpu=${cpu}s $v"
    [[ $v == "rows=${FINAL[$s:orders]} diff=0" ]] || die "jdbc sink $s ($sys): warehouse differs from the expected state ($v)"
    result "$s" "$sys" "$N" "$(calc "$t1 - $t0" 3)" "$rss" "$cpu" ok
}
if has jdbc; then
    for v in $JDBC_CONFIGS; do jdbc_run on "$v"; done
    if [[ " $JDBC_CONFIGS " == *" today "* ]]; then
        jdbc_run off today
        jdbc_run ins today
    fi
fi

# The throughput databases are verified: drop them, and write their dirty
# pages out now, so autovacuum and checkpoints of 1M-row tables do not run
# under the latency workload.
for db in cdc_on cdc_off cdc_ins jdbc_on jdbc_off jdbc_ins copy_base; do
    psql_db postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
done
psql_db postgres -c CHECKPOINT >/dev/null

fi # THROUGHPUT

# ------------------------------------------------------------ width
# Schemas off (5x smaller records than with schemas: a 100-column schema
# alone is ~9 KB per record), 70/25/5 mixed, one table public.wide made
# beforehand: w10 / w100 columns cycling bigint, int, text, boolean,
# timestamptz; t1k / t20k: 10 columns, the last a text of 1 KB / 20 KB
# (random letters, so pglz cannot shrink it: stored out of line), which an
# update does not change and so carries Debezium's placeholder.

# wide_ddl COLS TEXT_BYTES, wide_cols COLS
wide_ddl() {
    local c=$1 x=$2 j d="CREATE TABLE public.wide (id int PRIMARY KEY"
    for ((j = 1; j < c; j++)); do
        if ((x > 0 && j == c - 1)); then d+=", c$j text"; continue; fi
        case $((j % 5)) in
        1) d+=", c$j bigint" ;; 2) d+=", c$j int" ;; 3) d+=", c$j text" ;;
        4) d+=", c$j boolean" ;; 0) d+=", c$j timestamptz" ;;
        esac
    done
    echo "$d)"
}
wide_cols() { local j l=id; for ((j = 1; j < $1; j++)); do l+=", c$j"; done; echo "$l"; }

WIDE_N=${BENCH_WIDE_EVENTS:-200000}
TOAST_N=${BENCH_TOAST_EVENTS:-20000}
declare -A WIDE_SPEC=([w10]="10 0 $WIDE_N" [w100]="100 0 $WIDE_N" [t1k]="10 1024 $WIDE_N" [t20k]="10 20480 $TOAST_N")
WIDE=(w10 w100 t1k t20k)
if has width; then
    for s in "${WIDE[@]}"; do
        read -r c x n <<<"${WIDE_SPEC[$s]}"
        TOPIC[$s]=$RUN_ID$s.public.wide DDL[$s]=$(wide_ddl "$c" "$x") VTABLES[$s]=wide
        TCOLS[$s:wide]=$(wide_cols "$c") EXPECTED[$s:wide]=$OUT/expected-$s.tsv
        log "preload: $n events into ${TOPIC[$s]} ($c columns$( ((x)) && echo ", text of $x bytes"))"
        line=$("$GEN" gen -b "$BROKERS" -t "${TOPIC[$s]}" -m wide -c "$c" -x "$x" -n "$n" \
            -p "$RUN_ID$s" -o "${EXPECTED[$s:wide]}")
        log "  $line"
        FINAL[$s:wide]=$(wc -l <"${EXPECTED[$s:wide]}")
        cdcsink_best "$s" "$s" "$n" "$TRIES"
        copy_best "$s"
        psql_db postgres -c "DROP DATABASE IF EXISTS cdc_$s" >/dev/null 2>&1
    done
    psql_db postgres -c CHECKPOINT >/dev/null
fi

# ------------------------------------------------------------ transactions
# One stream with Debezium's transaction metadata (see bench/e2e/streams.h):
# transactions of 1-20 events over accounts, orders and lines, schemas off,
# BEGIN/END on PREFIX.transaction. cdcsink runs it with
# apply.consistency=batch and =transaction, alternating, BENCH_TRIES each;
# a reader samples the invariants (balances sum to 0, orders' totals equal
# their lines' amounts) all along each run.
TXN_N=${BENCH_TXN_EVENTS:-200000}
if has txn; then
    s=txn P=${RUN_ID}txn
    TOPIC[$s]=$P.public.accounts,$P.public.orders,$P.public.lines,$P.transaction
    DDL[$s]="CREATE TABLE public.accounts (id int PRIMARY KEY, balance bigint, touched int);
             CREATE TABLE public.orders (id int PRIMARY KEY, total bigint);
             CREATE TABLE public.lines (id int PRIMARY KEY, order_id int, amount bigint)"
    VTABLES[$s]="accounts orders lines" READS[$s]=1
    TCOLS[$s:accounts]="id, balance, touched" TCOLS[$s:orders]="id, total" TCOLS[$s:lines]="id, order_id, amount"
    log "preload: $TXN_N events in transactions of 1-20 into $P.{public.accounts,public.orders,public.lines,transaction}"
    line=$("$GEN" gen -b "$BROKERS" -m txn -n "$TXN_N" -p "$P" -o "$OUT/expected-txn")
    log "  $line"
    for t in accounts orders lines; do
        EXPECTED[$s:$t]=$OUT/expected-txn-$t.tsv FINAL[$s:$t]=$(wc -l <"$OUT/expected-txn-$t.tsv")
    done
    TXN_EVENTS=$(sed 's/.*events=\([0-9]*\).*/\1/' <<<"$line")
    TRIES_ALL=$TRIES
    TRIES=1
    for try in $(seq "$TRIES_ALL"); do
        for m in batch transaction; do
            cdcsink_best "$s" "txn-$m-$try" "$TXN_EVENTS" 1 --set apply.consistency=$m
        done
    done
    TRIES=$TRIES_ALL
    # best of the tries per mode; violations summed over them
    awk -F '\t' 'BEGIN { OFS = "\t" }
        $1 ~ /^txn-(batch|transaction)-[0-9]+$/ {
            m = $1; sub(/^txn-/, "", m); sub(/-[0-9]+$/, "", m)
            split($8, r, "/"); bad[m] += r[1]; reads[m] += r[2]
            if (!(m in best) || $4 < best[m]) { best[m] = $4; line[m] = $0 }
            if ($5 > rss[m]) rss[m] = $5
            next }
        { print }
        END { for (m in best) { split(line[m], f, "\t")
                print "txn-" m, "cdcsink", f[3], f[4], rss[m], f[6], "ok", bad[m] "/" reads[m] } }' \
        "$RESULTS" >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"
    psql_db postgres -c "DROP DATABASE IF EXISTS cdc_txn" >/dev/null 2>&1
    psql_db postgres -c CHECKPOINT >/dev/null
fi

# ------------------------------------------------------------ latency

# lat_db DB: a fresh warehouse database committing synchronously
lat_db() {
    psql_db postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
    psql_db postgres -c "ALTER DATABASE $1 SET synchronous_commit = on" >/dev/null
}

# lat_start S: starts sink S's cdcsink (LAT_BIN[S]) on the latency topic;
# its pid in LAT_PID[S] (and SINK_PID / SINK_B_PID for the exit trap)
lat_start() {
    local s=$1
    # shellcheck disable=SC2086 # LAT_SET_B: --set K=V words
    "${LAT_BIN[$s]}" --set kafka.bootstrap.servers="$BROKERS" --set kafka.group.id="${LAT_GROUP[$s]}" \
        --set topics="$LAT_TOPIC" \
        --set pg.conninfo="postgresql://postgres@127.0.0.1:$CDC_PG_PORT/${LAT_DB[$s]}" \
        --set redis.url="redis://127.0.0.1:$CDC_REDIS_PORT" \
        --set dlq.topic="$RUN_ID.dlq" "${LAT_SET[@]}" ${LAT_SET_B[$s]:-} run >"$OUT/${LAT_LOG[$s]}" 2>&1 &
    LAT_PID[$s]=$!
    if [[ $s == a ]]; then SINK_PID=$!; else SINK_B_PID=$!; fi
}

# lat_trigger DB: per applied streamed change, its source commit time in a
# side table whose row commits with the change (xmin ->
# pg_xact_commit_timestamp)
lat_trigger() {
    psql_db "$1" -c "CREATE TABLE public.lat_log (src_ts timestamptz, op text, lsn numeric)" \
        -c "CREATE FUNCTION public.lat_mark() RETURNS trigger LANGUAGE plpgsql AS
            \$\$BEGIN IF NEW._cdc_op <> 'r' THEN
                INSERT INTO public.lat_log VALUES (NEW._cdc_source_ts, NEW._cdc_op, (_cdc.position(NEW._cdc_position))[2]); END IF;
                RETURN NULL; END\$\$" \
        -c "CREATE TRIGGER lat_mark AFTER INSERT OR UPDATE ON public.orders_lat
            FOR EACH ROW EXECUTE FUNCTION public.lat_mark()" >/dev/null
}

# lat_pct DB WHERE: "count p50 p99 max" of source commit -> warehouse commit
lat_pct() {
    psql_db "$1" -tA -F ' ' -c "
      SELECT count(*),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
             round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
             round(max(ms)::numeric, 1)
        FROM (SELECT 1000 * extract(epoch FROM pg_xact_commit_timestamp(xmin) - src_ts) AS ms
                FROM public.lat_log WHERE $2) l"
}

# lat_split DB: "dbz_p50 dbz_p99 sink_p50 sink_p99", the split at each
# record's Kafka append time ($OUT/kafka-ts.tsv, by source lsn)
lat_split() {
    psql_db "$1" -c "CREATE TABLE public.kafka_ts (lsn numeric, ts_ms bigint)" \
        -c "\\copy public.kafka_ts FROM '$OUT/kafka-ts.tsv'" >/dev/null
    psql_db "$1" -tA -F ' ' -c "
      WITH j AS (SELECT 1000 * extract(epoch FROM to_timestamp(k.ts_ms / 1000.0) - l.src_ts) AS dbz,
                        1000 * extract(epoch FROM pg_xact_commit_timestamp(l.xmin) - to_timestamp(k.ts_ms / 1000.0)) AS sink
                   FROM public.lat_log l JOIN (SELECT DISTINCT ON (lsn) lsn, ts_ms FROM public.kafka_ts) k USING (lsn))
      SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY dbz)::numeric, 1),
             round(percentile_cont(0.99) WITHIN GROUP (ORDER BY dbz)::numeric, 1),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY sink)::numeric, 1),
             round(percentile_cont(0.99) WITHIN GROUP (ORDER BY sink)::numeric, 1) FROM j"
}

# lat_stages LOG: with log.level=debug, each stage's p50 / p99 over the
# batches committed in the measured window (bench/e2e/stages.awk)
lat_stages() {
    local from
    from=$(date -u -d "${MEASURE_FROM%+00}" '+%Y-%m-%dT%H:%M:%S')
    awk -v from="$from" -f "$ROOT/bench/e2e/stages.awk" "$1"
}

if has latency; then
RATE=$LAT_MAX
RATE_NOTE="BENCH_LAT_RATE_MAX (BENCH_ONLY without throughput)"
if has throughput; then
    cdc_off_eps=$(awk -F '\t' '$1 == "off" && $2 == "cdcsink" { printf "%d", $3 / $4 }' "$RESULTS")
    RATE=$((cdc_off_eps / 2))
    RATE_NOTE="half of cdcsink's schemas-off throughput"
fi
if ((RATE > LAT_MAX)); then RATE=$LAT_MAX; RATE_NOTE="capped by BENCH_LAT_RATE_MAX (Debezium's pace on this box)"; fi
# BENCH_LAT_B: a second cdcsink binary consumes the same topic side by side
# (sink b: its own group and database), an A/B under the same load
LAT_SINKS=(a)
[[ -z ${BENCH_LAT_B:-} ]] || LAT_SINKS+=(b)
[[ ${BENCH_LAT_B:-} != same ]] || BENCH_LAT_B=$BIN
declare -A LAT_BIN=([a]=$BIN [b]=${BENCH_LAT_B:-}) LAT_DB=([a]=cdc_lat [b]=cdc_lat_b) \
    LAT_GROUP=([a]=g_lat [b]=g_lat_b) LAT_LOG=([a]=cdcsink-lat.log [b]=cdcsink-lat-b.log) LAT_PID
[[ -z ${BENCH_LAT_B:-} || -x $BENCH_LAT_B ]] || die "BENCH_LAT_B: $BENCH_LAT_B is not an executable"
log "latency: Debezium source -> Kafka -> cdcsink (${LAT_SINKS[*]}), $RATE events/s ($RATE_NOTE) for ${LAT_S}s"
"$STACK" start connect >/dev/null
SEED_ROWS=5000
psql_db source -c "DROP TABLE IF EXISTS public.orders_lat" >/dev/null
psql_db source -c "CREATE TABLE public.orders_lat (id serial PRIMARY KEY, account_id bigint,
  amount numeric(12,2), note text, created_at timestamp, updated_at timestamptz,
  attrs jsonb, active boolean, ext_id uuid, qty int)" \
    -c "INSERT INTO public.orders_lat (account_id, amount, note, created_at, updated_at, attrs, active, ext_id, qty)
        SELECT g, g * 1.25, 'seed row ' || g, now(), now(), jsonb_build_object('k', g), g % 2 = 0,
               gen_random_uuid(), g FROM generate_series(1, $SEED_ROWS) g" >/dev/null
# The stack runs PostgreSQL with synchronous_commit off (a test rig). Logical
# decoding only sends WAL that is flushed, so a source committing
# asynchronously would add up to wal_writer_delay (200 ms) before Debezium
# even sees a change. Source and warehouse commit as a production server does.
psql_db postgres -c "ALTER DATABASE source SET synchronous_commit = on" >/dev/null
for s in "${LAT_SINKS[@]}"; do lat_db "${LAT_DB[$s]}"; done
# a slot left by an interrupted run would hand the new connector old WAL
psql_db source -tAc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                      WHERE slot_name = 'dbz_lat' AND NOT active" >/dev/null
LAT_TOPIC=${RUN_ID}lat.public.orders_lat
# Made ahead with the broker's append time as record timestamp, so the split
# below is at the moment a record became readable, not at Connect's send().
"$STACK" topic-create "$LAT_TOPIC" 1 message.timestamp.type=LogAppendTime >/dev/null
# schemas on: Debezium's default; cdcsink creates the warehouse table
CDC_STACK_TIMEOUT=300 "$STACK" connector add lat "${RUN_ID}lat" on source \
    poll.interval.ms="${BENCH_DBZ_POLL_MS:-50}" >"$OUT/connector.log" 2>&1 ||
    { cat "$OUT/connector.log"; die "the Debezium source connector did not start"; }
LAT_SET=()
for kv in ${BENCH_LAT_SET:-}; do LAT_SET+=(--set "$kv"); done
# BENCH_LAT_SET_B: sink b's own settings on top ("K=V K=V", no spaces in
# a value), so one binary can be A/B'd against a setting too
declare -A LAT_SET_B=([a]='' [b]='')
for kv in ${BENCH_LAT_SET_B:-}; do LAT_SET_B[b]+=" --set $kv"; done
for s in "${LAT_SINKS[@]}"; do lat_start "$s"; done
"$STACK" wait-topic "$LAT_TOPIC" "$SEED_ROWS" 300 >/dev/null
for s in "${LAT_SINKS[@]}"; do
    "$GEN" committed -b "$BROKERS" -g "${LAT_GROUP[$s]}" -t "$LAT_TOPIC" -w 300 >/dev/null ||
        die "cdcsink $s did not apply the snapshot (see $OUT/${LAT_LOG[$s]})"
    lat_trigger "${LAT_DB[$s]}"
done
DEL_MAX=$((SEED_ROWS + RATE * (LAT_WARM + LAT_S) * 7 / 20 + 1))
cat >"$OUT/lat-ins.sql" <<'EOF'
\set a random(1, 1000000)
INSERT INTO public.orders_lat (account_id, amount, note, created_at, updated_at, attrs, active, ext_id, qty)
VALUES (:a, 12.34, 'latency row', now(), now(), '{"k": 1}', true, gen_random_uuid(), 1);
EOF
cat >"$OUT/lat-upd.sql" <<'EOF'
\set id random(1, 5000)
UPDATE public.orders_lat SET qty = qty + 1, updated_at = now(), note = 'updated' WHERE id = :id;
EOF
cat >"$OUT/lat-del.sql" <<EOF
\\set id random($((SEED_ROWS + 1)), $DEL_MAX)
DELETE FROM public.orders_lat WHERE id = :id;
EOF
MEASURE_FROM=$(date -u -d "+$LAT_WARM seconds" '+%Y-%m-%d %H:%M:%S.%N+00')
PGHOST=127.0.0.1 PGPORT=$CDC_PG_PORT PGUSER=postgres "$PG_BIN/pgbench" -n -c 4 -j 2 -R "$RATE" -T "$((LAT_WARM + LAT_S))" \
    -f "$OUT/lat-ins.sql@70" -f "$OUT/lat-upd.sql@25" -f "$OUT/lat-del.sql@5" source \
    >"$OUT/pgbench.log" 2>&1 || { cat "$OUT/pgbench.log"; die "pgbench failed"; }
# Debezium may still be behind the source: wait until each warehouse equals it
sum_sql="SELECT count(*), md5(string_agg(id || ':' || qty || ':' || note, ',' ORDER BY id)) FROM public.orders_lat"
deadline=$((SECONDS + 600))
for s in "${LAT_SINKS[@]}"; do
    while :; do
        src_sum=$(psql_db source -tAc "$sum_sql")
        wh_sum=$(psql_db "${LAT_DB[$s]}" -tAc "$sum_sql WHERE _cdc_deleted IS NOT TRUE")
        [[ $src_sum == "$wh_sum" || $SECONDS -ge $deadline ]] && break
        sleep 2
    done
    [[ $src_sum == "$wh_sum" ]] ||
        die "latency run: warehouse ${LAT_DB[$s]} differs from the source ($src_sum vs $wh_sum)"
done
# Split at Kafka: each record's append time (the topic's LogAppendTime) by
# source lsn, to tell Debezium's share from cdcsink's.
kcat -C -b "$BROKERS" -t "$LAT_TOPIC" -o beginning -e -q -f '%T\t%s\n' 2>/dev/null |
    awk -F '\t' 'match($2, /"lsn":[0-9]+/) { print substr($2, RSTART + 6, RLENGTH - 6) "\t" $1 }' \
    >"$OUT/kafka-ts.tsv"
declare -A LAT_RES
for s in "${LAT_SINKS[@]}"; do
    db=${LAT_DB[$s]}
    read -r rss cpu < <(proc_usage "${LAT_PID[$s]}")
    kill -TERM "${LAT_PID[$s]}"; wait "${LAT_PID[$s]}" || true
    if [[ $s == a ]]; then SINK_PID=; else SINK_B_PID=; fi
    # only the changes made after the warm-up are measured; the warm-up's
    # own figures are reported apart (a fresh Connect JVM compiles for a while)
    read -r wn w50 w99 _ < <(lat_pct "$db" "src_ts < '$MEASURE_FROM'")
    psql_db "$db" -c "DELETE FROM public.lat_log WHERE src_ts < '$MEASURE_FROM'" >/dev/null
    read -r d50 d99 k50 k99 < <(lat_split "$db")
    read -r n p50 p99 pmax < <(lat_pct "$db" true)
    LAT_RES[$s]="$n $p50 $p99 $pmax $rss $cpu $wn $w50 $w99 $d50 $d99 $k50 $k99"
    if [[ $s == a ]]; then
        psql_db "$db" -tA -F ' ' -c "
          SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin)) - extract(epoch FROM min(pg_xact_commit_timestamp(xmin)) OVER ()),
                 1000 * extract(epoch FROM pg_xact_commit_timestamp(xmin) - src_ts)
            FROM public.lat_log ORDER BY 1" >"$OUT/latency.dat"
    fi
    lat_stages "$OUT/${LAT_LOG[$s]}" >"$OUT/stages-$s.txt"
    log "  $s: $n changes, p50 $p50 ms, p99 $p99 ms, max $pmax ms; cdcsink's share p50 $k50 / p99 $k99 ms"
done
read -r lat_n lat_p50 lat_p99 lat_max lat_rss lat_cpu warm_n warm_p50 warm_p99 \
    dbz_p50 dbz_p99 sink_p50 sink_p99 <<<"${LAT_RES[a]}"
achieved=$(grep -o 'tps = [0-9.]*' "$OUT/pgbench.log" | head -n 1 | awk '{ printf "%d", $3 }')
log "  pgbench: $achieved tx/s"
"$STACK" connector remove lat >/dev/null 2>&1 || true
fi # latency

# ------------------------------------------------------------ report

# shellcheck source-path=SCRIPTDIR source=report.sh
. "$ROOT/bench/e2e/report.sh"
report_table
report_plot
