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
# BENCH_KEEP_STACK=1 (leave the stack up), BENCH_ONLY=latency (skip the
# throughput part; the workload then runs at BENCH_LAT_RATE_MAX),
# BENCH_DBZ_POLL_MS (Debezium's poll.interval.ms in the latency part, 50),
# BENCH_LAT_WARMUP_S (60: the workload runs this long before the measured
# BENCH_LAT_SECONDS, so the freshly started Connect JVM is warm). The stack's ports and run folder
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
GEN=$ROOT/build/release/bench/e2e
RUN_ID=r$(date +%s)
HZ=$(getconf CLK_TCK)

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/results.tsv "$OUT"/jdbc-*.failed
RESULTS=$OUT/results.tsv

# ------------------------------------------------------------ stack, tools

. "$ROOT/docker/stack/env.sh"
KAFKA_LIB=$CDC_CACHE_DIR/kafka-$CDC_KAFKA_VERSION/lib
JDBC_PLUGINS=$CDC_CACHE_DIR/plugins-jdbc-${CDC_DEBEZIUM_JDBC_VERSION%.Final}
PG_BIN=/usr/lib/postgresql/$CDC_PG_MAJOR/bin
BROKERS=127.0.0.1:$CDC_KAFKA_PORT

cleanup() {
    # under set -e: a kill of a process already gone must not end the trap
    [[ -z ${SINK_PID:-} ]] || kill -9 "$SINK_PID" 2>/dev/null || true
    [[ -z ${JDBC_PID:-} ]] || kill -9 "$JDBC_PID" 2>/dev/null || true
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
make -s cdcsink "$GEN" >/dev/null
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

# fresh_db DB STREAM
fresh_db() {
    psql_db postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
    psql_db "$1" -c "$(table_ddl "$2")" >/dev/null
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

# verify DB EXPECTED.tsv LIVE_FILTER: the live rows equal the expected
# final state; prints "rows=N diff=N"
verify() {
    local db=$1 file=$2 filter=$3
    psql_db "$db" -c "CREATE TABLE expected AS SELECT $COLS FROM public.orders WITH NO DATA" \
        -c "\\copy expected FROM '$file'" >/dev/null
    psql_db "$db" -tA -F ' ' -c "
      SELECT (SELECT count(*) FROM public.orders WHERE $filter),
             (SELECT count(*) FROM (SELECT $COLS FROM public.orders WHERE $filter
                                    EXCEPT SELECT $COLS FROM expected) a)
           + (SELECT count(*) FROM (SELECT $COLS FROM expected
                                    EXCEPT SELECT $COLS FROM public.orders WHERE $filter) b)" |
        awk '{ printf "rows=%s diff=%s", $1, $2 }'
}

# result STREAM SYSTEM EVENTS SECONDS RSS_MB CPU_S STATUS
result() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

THROUGHPUT=1
[[ ${BENCH_ONLY:-} == latency ]] && THROUGHPUT=0
if ((THROUGHPUT)); then
# ------------------------------------------------------------ preload

STREAMS=(on off ins)
declare -A TOPIC MODE EXPECTED FINAL
for s in "${STREAMS[@]}"; do TOPIC[$s]=$RUN_ID$s.public.orders; done
MODE=([on]=on [off]=off [ins]=insert)
EXPECTED=([on]=$OUT/expected-mixed-on.tsv [off]=$OUT/expected-mixed-off.tsv [ins]=$OUT/expected-insert-off.tsv)
for s in "${STREAMS[@]}"; do
    log "preload: $N events into ${TOPIC[$s]} (${MODE[$s]})"
    line=$("$GEN" gen -b "$BROKERS" -t "${TOPIC[$s]}" -m "${MODE[$s]}" -n "$N" \
        -p "$RUN_ID$s" -o "${EXPECTED[$s]}")
    log "  $line"
    FINAL[$s]=$(wc -l <"${EXPECTED[$s]}")
done
[[ ${FINAL[on]} == "${FINAL[off]}" ]] || die "the on and off streams differ in their final state"

# ------------------------------------------------------------ cdcsink, COPY
# Per stream, back to back so both see the machine in the same state:
# cdcsink from the start of the topic into a fresh database, best of
# BENCH_TRIES runs (RSS: the highest of them), then raw COPY of the same
# final rows into an identical empty table, best of 3.

# cdcsink_try STREAM TRY: one run; sets TRY_S, TRY_RSS (MB), TRY_CPU (s).
# Not in a subshell: the exit trap must see SINK_PID, and die must end the run.
cdcsink_try() {
    local s=$1 try=$2 db=cdc_$1 reached t0 t1 rss cpu v
    fresh_db "$db" "$s"
    settle
    t0=$(now)
    "$BIN" --set kafka.bootstrap.servers="$BROKERS" --set kafka.group.id="g_${db}_$try" \
        --set topics="${TOPIC[$s]}" \
        --set pg.conninfo="postgresql://postgres@127.0.0.1:$CDC_PG_PORT/$db" \
        --set redis.url="redis://127.0.0.1:$CDC_REDIS_PORT" \
        --set dlq.topic="$RUN_ID.dlq" run >"$OUT/cdcsink-$s.log" 2>&1 &
    SINK_PID=$!
    reached=$("$GEN" committed -b "$BROKERS" -g "g_${db}_$try" -t "${TOPIC[$s]}" -w 1800) ||
        die "cdcsink did not reach the end of ${TOPIC[$s]} (see $OUT/cdcsink-$s.log)"
    t1=$(awk '{ print $2 }' <<<"$reached")
    read -r rss cpu < <(proc_usage "$SINK_PID")
    kill -TERM "$SINK_PID"; wait "$SINK_PID" || true; SINK_PID=
    v=$(verify "$db" "${EXPECTED[$s]}" "_cdc_deleted IS NOT TRUE")
    log "  try $try: $(calc "$t1 - $t0" 2)s rss=${rss}MB cpu=${cpu}s $v"
    [[ $v == "rows=${FINAL[$s]} diff=0" ]] || die "cdcsink $s: warehouse differs from the expected state ($v)"
    TRY_S=$(calc "$t1 - $t0" 3) TRY_RSS=$rss TRY_CPU=$cpu
}

fresh_db copy_base on
for s in "${STREAMS[@]}"; do
    log "cdcsink: ${TOPIC[$s]} -> cdc_$s, best of $TRIES"
    best= best_cpu= max_rss=0
    for try in $(seq "$TRIES"); do
        cdcsink_try "$s" "$try"
        ((TRY_RSS > max_rss)) && max_rss=$TRY_RSS
        if [[ -z $best ]] || awk -v a="$TRY_S" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$TRY_S best_cpu=$TRY_CPU
        fi
    done
    result "$s" cdcsink "$N" "$best" "$max_rss" "$best_cpu" ok
    best=
    for try in 1 2 3; do
        psql_db copy_base -c "DROP TABLE IF EXISTS public.orders" -c "$(table_ddl "$s")" >/dev/null
        settle
        t0=$(now)
        psql_db copy_base -c "\\copy public.orders FROM '${EXPECTED[$s]}'" >/dev/null
        t1=$(now)
        d=$(calc "$t1 - $t0" 3)
        best=$(awk -v a="$d" -v b="$best" 'BEGIN { print (b == "" || a < b) ? a : b }')
    done
    log "raw COPY of the ${FINAL[$s]} final rows of $s: best of 3 ${best}s"
    result "copy-$s" copy "${FINAL[$s]}" "$best" - - ok
done

# ------------------------------------------------------------ JDBC sink

# stop_jvm PID: SIGTERM, and SIGKILL if it has not exited after 30 s (a
# Connect worker whose task failed can hang in its shutdown hooks)
stop_jvm() {
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

jdbc_run() {
    local s=$1 db=jdbc_$1 dir=$OUT/jdbc-$1 schemas=true t0 t1 state reason= why
    [[ $s == on ]] || schemas=false
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
consumer.max.poll.records=4096
listeners=http://127.0.0.1:$CDC_CONNECT_PORT
EOF
    cat >"$dir/jdbc.properties" <<EOF
name=jdbc-$s
connector.class=io.debezium.connector.jdbc.JdbcSinkConnector
tasks.max=1
topics=${TOPIC[$s]}
connection.url=jdbc:postgresql://127.0.0.1:$CDC_PG_PORT/$db
connection.username=postgres
connection.password=postgres
insert.mode=upsert
primary.key.mode=record_key
delete.enabled=true
batch.size=4096
schema.evolution=none
collection.name.format=orders
EOF
    log "jdbc sink: ${TOPIC[$s]} -> $db (schemas $schemas)"
    settle
    t0=$(now)
    setsid java -Xmx1g -Dlog4j2.configurationFile="file:$ROOT/docker/stack/log4j2.properties" \
        -cp "$KAFKA_LIB/*" org.apache.kafka.connect.cli.ConnectStandalone \
        "$dir/worker.properties" "$dir/jdbc.properties" >"$OUT/jdbc-$s.log" 2>&1 &
    JDBC_PID=$!
    "$GEN" committed -b "$BROKERS" -g "connect-jdbc-$s" -t "${TOPIC[$s]}" -w "$JDBC_MAX" >"$dir/reached" &
    local watch=$!
    while kill -0 "$watch" 2>/dev/null; do
        state=$(curl -s --max-time 5 "http://127.0.0.1:$CDC_CONNECT_PORT/connectors/jdbc-$s/status" || true)
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
        why=$(grep -m 1 'Failed to process record: ' "$OUT/jdbc-$s.log" | sed 's/.*Failed to process record: //; s/ (io\.debezium.*//' || true)
        [[ -z $why ]] || reason="Failed to process record: $why"
        log "  the task FAILED: $reason"
        printf '%s\n' "$reason" >"$OUT/jdbc-$s.failed"
        result "$s" jdbc "$N" - "$rss" "$cpu" failed
        return 0
    fi
    t1=$(awk '{ print $2 }' "$dir/reached")
    [[ -n $t1 ]] || die "jdbc sink $s: no progress report (see $OUT/jdbc-$s.log)"
    if [[ $(awk '{ print $1 }' "$dir/reached") == partial ]]; then
        # stopped at the time cap: the rate of the part it did
        local done_ev
        done_ev=$(awk -v n="$N" '{ printf "%d", ($3 > 0 ? $3 : 0) * n / $4 }' "$dir/reached")
        log "  stopped after ${JDBC_MAX}s (BENCH_JDBC_MAX_S): $done_ev of $N events; rss=${rss}MB cpu=${cpu}s"
        result "$s" jdbc "$done_ev" "$(calc "$t1 - $t0" 3)" "$rss" "$cpu" partial
        return 0
    fi
    v=$(verify "$db" "${EXPECTED[$s]}" true)
    log "  $(calc "$t1 - $t0" 2)s rss=${rss}MB cpu=${cpu}s $v"
    [[ $v == "rows=${FINAL[$s]} diff=0" ]] || die "jdbc sink $s: warehouse differs from the expected state ($v)"
    result "$s" jdbc "$N" "$(calc "$t1 - $t0" 3)" "$rss" "$cpu" ok
}
for s in "${STREAMS[@]}"; do jdbc_run "$s"; done

# The throughput databases are verified: drop them, and write their dirty
# pages out now, so autovacuum and checkpoints of 1M-row tables do not run
# under the latency workload.
for db in cdc_on cdc_off cdc_ins jdbc_on jdbc_off jdbc_ins copy_base; do
    psql_db postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
done
psql_db postgres -c CHECKPOINT >/dev/null

fi # THROUGHPUT

# ------------------------------------------------------------ latency

RATE=$LAT_MAX
RATE_NOTE="BENCH_LAT_RATE_MAX (BENCH_ONLY=latency)"
if ((THROUGHPUT)); then
    cdc_off_eps=$(awk -F '\t' '$1 == "off" && $2 == "cdcsink" { printf "%d", $3 / $4 }' "$RESULTS")
    RATE=$((cdc_off_eps / 2))
    RATE_NOTE="half of cdcsink's schemas-off throughput"
fi
if ((RATE > LAT_MAX)); then RATE=$LAT_MAX; RATE_NOTE="capped by BENCH_LAT_RATE_MAX (Debezium's pace on this box)"; fi
log "latency: Debezium source -> Kafka -> cdcsink, $RATE events/s ($RATE_NOTE) for ${LAT_S}s"
"$STACK" start connect >/dev/null
SEED_ROWS=5000
psql_db source -c "DROP TABLE IF EXISTS public.orders_lat" >/dev/null
psql_db source -c "CREATE TABLE public.orders_lat (id serial PRIMARY KEY, account_id bigint,
  amount numeric(12,2), note text, created_at timestamp, updated_at timestamptz,
  attrs jsonb, active boolean, ext_id uuid, qty int)" \
    -c "INSERT INTO public.orders_lat (account_id, amount, note, created_at, updated_at, attrs, active, ext_id, qty)
        SELECT g, g * 1.25, 'seed row ' || g, now(), now(), jsonb_build_object('k', g), g % 2 = 0,
               gen_random_uuid(), g FROM generate_series(1, $SEED_ROWS) g" >/dev/null
psql_db postgres -c "DROP DATABASE IF EXISTS cdc_lat" -c "CREATE DATABASE cdc_lat" >/dev/null 2>&1
# The stack runs PostgreSQL with synchronous_commit off (a test rig). Logical
# decoding only sends WAL that is flushed, so a source committing
# asynchronously would add up to wal_writer_delay (200 ms) before Debezium
# even sees a change. Source and warehouse commit as a production server does.
psql_db postgres -c "ALTER DATABASE source SET synchronous_commit = on" \
    -c "ALTER DATABASE cdc_lat SET synchronous_commit = on" >/dev/null
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
"$BIN" --set kafka.bootstrap.servers="$BROKERS" --set kafka.group.id=g_lat \
    --set topics="$LAT_TOPIC" \
    --set pg.conninfo="postgresql://postgres@127.0.0.1:$CDC_PG_PORT/cdc_lat" \
    --set redis.url="redis://127.0.0.1:$CDC_REDIS_PORT" \
    --set dlq.topic="$RUN_ID.dlq" run >"$OUT/cdcsink-lat.log" 2>&1 &
SINK_PID=$!
"$STACK" wait-topic "$LAT_TOPIC" "$SEED_ROWS" 300 >/dev/null
"$GEN" committed -b "$BROKERS" -g g_lat -t "$LAT_TOPIC" -w 300 >/dev/null ||
    die "cdcsink did not apply the snapshot (see $OUT/cdcsink-lat.log)"
# per applied streamed change: its source commit time, in a side table whose
# row commits with the change (xmin -> pg_xact_commit_timestamp)
psql_db cdc_lat -c "CREATE TABLE public.lat_log (src_ts timestamptz, op text, lsn numeric)" \
    -c "CREATE FUNCTION public.lat_mark() RETURNS trigger LANGUAGE plpgsql AS
        \$\$BEGIN IF NEW._cdc_op <> 'r' THEN
            INSERT INTO public.lat_log VALUES (NEW._cdc_source_ts, NEW._cdc_op, (_cdc.position(NEW._cdc_position))[2]); END IF;
            RETURN NULL; END\$\$" \
    -c "CREATE TRIGGER lat_mark AFTER INSERT OR UPDATE ON public.orders_lat
        FOR EACH ROW EXECUTE FUNCTION public.lat_mark()" >/dev/null
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
# Debezium may still be behind the source: wait until the warehouse equals it
sum_sql="SELECT count(*), md5(string_agg(id || ':' || qty || ':' || note, ',' ORDER BY id)) FROM public.orders_lat"
deadline=$((SECONDS + 600))
while :; do
    src_sum=$(psql_db source -tAc "$sum_sql")
    wh_sum=$(psql_db cdc_lat -tAc "$sum_sql WHERE _cdc_deleted IS NOT TRUE")
    [[ $src_sum == "$wh_sum" || $SECONDS -ge $deadline ]] && break
    sleep 2
done
read -r lat_rss lat_cpu < <(proc_usage "$SINK_PID")
# only the changes made after the warm-up are measured; the warm-up's own
# figures are reported apart (a fresh Connect JVM compiles for a while)
read -r warm_n warm_p50 warm_p99 < <(psql_db cdc_lat -tA -F ' ' -c "
  SELECT count(*),
         round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1)
    FROM (SELECT 1000 * extract(epoch FROM pg_xact_commit_timestamp(xmin) - src_ts) AS ms
            FROM public.lat_log WHERE src_ts < '$MEASURE_FROM') l")
psql_db cdc_lat -c "DELETE FROM public.lat_log WHERE src_ts < '$MEASURE_FROM'" >/dev/null
kill -TERM "$SINK_PID"; wait "$SINK_PID" || true; SINK_PID=
[[ $src_sum == "$wh_sum" ]] || die "latency run: the warehouse differs from the source ($src_sum vs $wh_sum)"
# Split at Kafka: each record's append time (the topic's LogAppendTime) by
# source lsn, to tell Debezium's share from cdcsink's.
kcat -C -b "$BROKERS" -t "$LAT_TOPIC" -o beginning -e -q -f '%T\t%s\n' 2>/dev/null |
    awk -F '\t' 'match($2, /"lsn":[0-9]+/) { print substr($2, RSTART + 6, RLENGTH - 6) "\t" $1 }' \
    >"$OUT/kafka-ts.tsv"
psql_db cdc_lat -c "CREATE TABLE public.kafka_ts (lsn numeric, ts_ms bigint)" \
    -c "\\copy public.kafka_ts FROM '$OUT/kafka-ts.tsv'" >/dev/null
read -r dbz_p50 dbz_p99 sink_p50 sink_p99 < <(psql_db cdc_lat -tA -F ' ' -c "
  WITH j AS (SELECT 1000 * extract(epoch FROM to_timestamp(k.ts_ms / 1000.0) - l.src_ts) AS dbz,
                    1000 * extract(epoch FROM pg_xact_commit_timestamp(l.xmin) - to_timestamp(k.ts_ms / 1000.0)) AS sink
               FROM public.lat_log l JOIN (SELECT DISTINCT ON (lsn) lsn, ts_ms FROM public.kafka_ts) k USING (lsn))
  SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY dbz)::numeric, 1),
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY dbz)::numeric, 1),
         round(percentile_cont(0.5) WITHIN GROUP (ORDER BY sink)::numeric, 1),
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY sink)::numeric, 1) FROM j")
psql_db cdc_lat -tA -F ' ' -c "
  SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin)) - extract(epoch FROM min(pg_xact_commit_timestamp(xmin)) OVER ()),
         1000 * extract(epoch FROM pg_xact_commit_timestamp(xmin) - src_ts)
    FROM public.lat_log ORDER BY 1" >"$OUT/latency.dat"
read -r lat_n lat_p50 lat_p99 lat_max < <(psql_db cdc_lat -tA -F ' ' -c "
  SELECT count(*),
         round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
         round(max(ms)::numeric, 1)
    FROM (SELECT 1000 * extract(epoch FROM pg_xact_commit_timestamp(xmin) - src_ts) AS ms
            FROM public.lat_log) l")
achieved=$(grep -o 'tps = [0-9.]*' "$OUT/pgbench.log" | head -n 1 | awk '{ printf "%d", $3 }')
log "  $lat_n changes, p50 ${lat_p50} ms, p99 ${lat_p99} ms, max ${lat_max} ms (pgbench: $achieved tx/s)"
"$STACK" connector remove lat >/dev/null 2>&1 || true

# ------------------------------------------------------------ report

{
    echo "# cdcsink e2e benchmark $(date -u '+%Y-%m-%d %H:%M UTC'), $N events per stream"
    echo "# $(nproc) cores ($(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/^Mem/ { print $2 }') GiB"
} >"$OUT/table.txt"
((THROUGHPUT)) && awk -F '\t' -v final_mixed="${FINAL[on]}" -v final_ins="${FINAL[ins]}" '
    { key = $1 SUBSEP $2; secs[key] = $4; rss[key] = $5; cpu[key] = $6; st[key] = $7; ev[key] = $3 }
    END {
        name["on"] = "mixed, schemas on"; name["off"] = "mixed, schemas off"; name["ins"] = "insert-only, schemas off"
        copy["on"] = secs["copy-on" SUBSEP "copy"]; copy["off"] = secs["copy-off" SUBSEP "copy"]; copy["ins"] = secs["copy-ins" SUBSEP "copy"]
        rows["on"] = final_mixed; rows["off"] = final_mixed; rows["ins"] = final_ins
        printf "%-26s %-8s %10s %9s %8s %8s %9s %9s\n", "stream", "system", "events/s", "seconds", "RSS MB", "CPU s", "x JDBC", "x COPY"
        n = split("on off ins", S, " ")
        for (i = 1; i <= n; i++) {
            s = S[i]; c = s SUBSEP "cdcsink"; j = s SUBSEP "jdbc"
            ceps = ev[c] / secs[c]
            jx = (st[j] != "failed") ? sprintf("%.1f", (ev[c] / secs[c]) / (ev[j] / secs[j])) : "n/a"
            printf "%-26s %-8s %10d %9.1f %8s %8s %9s %9.2f\n", name[s], "cdcsink", ceps, secs[c], rss[c], cpu[c], jx, copy[s] / secs[c]
            if (st[j] == "ok")
                printf "%-26s %-8s %10d %9.1f %8s %8s\n", "", "JDBC", ev[j] / secs[j], secs[j], rss[j], cpu[j]
            else if (st[j] == "partial")
                printf "%-26s %-8s %10d %9.1f %8s %8s   (stopped at the time cap after %d events)\n", "", "JDBC", ev[j] / secs[j], secs[j], rss[j], cpu[j], ev[j]
            else
                printf "%-26s %-8s %10s %9s %8s %8s   (task FAILED, see below)\n", "", "JDBC", "-", "-", rss[j], cpu[j]
            printf "%-26s %-8s %10d %9.2f   (rows/s of the %d final rows)\n", "", "COPY", rows[s] / copy[s], copy[s], rows[s]
        }
    }' "$RESULTS" >>"$OUT/table.txt"
{
    echo "latency (source commit -> warehouse commit), real Debezium (poll.interval.ms ${BENCH_DBZ_POLL_MS:-50}), $RATE events/s target ($RATE_NOTE), pgbench achieved $achieved tx/s, ${LAT_S}s measured after ${LAT_WARM}s of warm-up:"
    echo "  changes $lat_n  p50 $lat_p50 ms  p99 $lat_p99 ms  max $lat_max ms  (cdcsink RSS ${lat_rss} MB, CPU ${lat_cpu} s)"
    echo "  (the warm-up, not counted above: changes $warm_n  p50 $warm_p50 ms  p99 $warm_p99 ms)"
    echo "  split at Kafka's append time (ms precision): source -> Kafka (Debezium) p50 $dbz_p50 / p99 $dbz_p99 ms; Kafka -> warehouse commit (cdcsink) p50 $sink_p50 / p99 $sink_p99 ms"
    for s in "${STREAMS[@]}"; do
        [[ -f $OUT/jdbc-$s.failed ]] && echo "JDBC sink on '$s': $(cat "$OUT/jdbc-$s.failed")"
    done
    echo "RSS: VmHWM of the process (JDBC: the Connect worker's JVM, -Xmx1g); CPU: utime+stime of that process only (not PostgreSQL's)"
} >>"$OUT/table.txt"
cat "$OUT/table.txt"
((THROUGHPUT)) || { log "table: $OUT/table.txt (BENCH_ONLY=latency: no plot)"; exit 0; }

# plot: throughput bars, latency over time
awk -F '\t' -v fm="${FINAL[on]}" -v fi="${FINAL[ins]}" '
    { key = $1 SUBSEP $2; secs[key] = $4; ev[key] = $3; st[key] = $7 }
    END {
        n = split("on off ins", S, " "); label["on"] = "\"mixed, schemas on\""; label["off"] = "\"mixed, schemas off\""; label["ins"] = "\"insert-only, off\""
        for (i = 1; i <= n; i++) {
            s = S[i]; c = s SUBSEP "cdcsink"; j = s SUBSEP "jdbc"; cp = "copy-" s
            printf "%s %d %d %d\n", label[s], ev[c] / secs[c], (st[j] != "failed") ? ev[j] / secs[j] : 0,
                ((s == "ins") ? fi : fm) / secs[cp SUBSEP "copy"]
        }
    }' "$RESULTS" >"$OUT/throughput.dat"
gnuplot <<EOF
set terminal pngcairo size 1400,560 font ",10"
set output "$OUT/bench-e2e.png"
set multiplot layout 1,2 title "cdcsink e2e, $N events/stream, $(date -u +%Y-%m-%d), $(nproc) cores (shared)"
set title "throughput (COPY: final rows/s)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "events/s"
set yrange [0:*]
set key top left
set grid ytics
plot "$OUT/throughput.dat" using 2:xtic(1) title "cdcsink", '' using 3 title "Debezium JDBC sink (0 = failed)", '' using 4 title "raw COPY"
set title "latency, source commit -> warehouse commit ($RATE ev/s target)"
set style data points
set xlabel "seconds into the run"
set ylabel "ms"
set yrange [0:*]
set xrange [*:*]
plot "$OUT/latency.dat" using 1:2 with dots title "per change (p50 $lat_p50, p99 $lat_p99 ms)"
unset multiplot
EOF
log "table: $OUT/table.txt  plot: $OUT/bench-e2e.png"
