#!/usr/bin/env bash
# freshness.sh - the freshness watermark (README "Freshness") against real
# Debezium (heartbeat.interval.ms=1000), PostgreSQL and Kafka:
#   - under a workload _cdc.progress's position moves;
#   - after the workload, `cdcsink wait --source-lsn <the source's LSN>`
#     returns 0 only once every change before it is in the warehouse: at
#     that moment the source and the warehouse are equal, although the
#     warehouse was made slow (a trigger; batches of 20; little prefetch,
#     so the marker after L is consumed while the table's partition is far
#     behind) so the last transaction's ~500 updates were far from applied
#     when wait started; without a commit
#     after L it times out (the position moves with changes only);
#   - on an idle source the time keeps moving with heartbeats (lag small);
#   - with PostgreSQL stopped the watermark stands still and `wait` times
#     out with exit 1 saying why; after the restart it passes.
set -u
. "$(dirname "$0")/../lib.sh"

P=fr$(date +%s)
seed_table "$P" 500   # churn() inserts ids 1001..
# the marker table holds a row from the start, so its topic exists before
# the sink subscribes (a new topic would rebalance the group mid-test)
src "CREATE TABLE public.${P}_m (id serial PRIMARY KEY, note text);
     INSERT INTO public.${P}_m (note) VALUES ('start')" >/dev/null
"$STACK" connector add "$P" "$P" on heartbeat.interval.ms=1000 \
    >>"$T_TMP/connector.log" 2>&1 && ok "connector registered (heartbeat.interval.ms=1000)" \
    || fail "connector add"
check "the marker topic exists" "$STACK" wait-topic "$P.public.${P}_m" 1 60 >/dev/null 2>&1
"$STACK" topic-create "$P.dlq" 1 >"$T_TMP/topic.log" 2>&1 || fail "topic-create $P.dlq"
start_sink sink "^($P\\.public\\.$P(_m)?|__debezium-heartbeat\\.$P)\$" "$P" \
    --set http.listen=127.0.0.1:0 --set batch.max.events=20 \
    --set kafka.queued.max.messages.kbytes=16 \
    --set kafka.max.partition.fetch.bytes=8192
SINK=$SINK_PID
HTTP=$(sink_http sink)

Q_SRC="SELECT id, n, v FROM public.$P ORDER BY id"
Q_WH="SELECT id, n, v FROM public.$P WHERE NOT _cdc_deleted ORDER BY id"
check "snapshot lands" wait_until 120 same_rows "$Q_SRC" "$Q_WH" || { finish; exit 1; }

row() { wh "SELECT $1 FROM _cdc.progress WHERE \"group\" = '$P' AND source = '$P'"; }
metric() { # metric NAME: its sample for source P
    curl -s --max-time 3 "http://$HTTP/metrics" |
        awk -v n="$1{source=\"$P\"}" '$1 == n { print $2 }'
}

# ---- 1. under a workload the position moves
churn "$P" 1 30 7 11 0.15 &
WL=$!
seen=()
while kill -0 "$WL" 2>/dev/null; do
    v=$(row lsn 2>/dev/null)
    last=
    [ "${#seen[@]}" -gt 0 ] && last=${seen[-1]}
    [ -n "$v" ] && [ "$last" != "$v" ] && seen+=("$v")
    sleep 0.4
done
wait "$WL"
check "the watermark's lsn moved under the workload (${#seen[@]} values: ${seen[*]})" \
    test "${#seen[@]}" -ge 3
check "one row per group, source and instance" test "$(row 'count(*)')" = 1

# ---- 2. the fence: wait --source-lsn L
# a slow warehouse: the last transaction's ~500 updates take ~5 s to apply
wh "CREATE FUNCTION public.${P}_slow() RETURNS trigger LANGUAGE plpgsql AS
      \$\$BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END\$\$;
    CREATE TRIGGER ${P}_slow BEFORE UPDATE ON public.$P
      FOR EACH ROW EXECUTE FUNCTION public.${P}_slow()" >/dev/null
src "UPDATE public.$P SET n = n + 1000" >/dev/null
# the insert position: with synchronous_commit=off (the test stack's)
# pg_current_wal_lsn() may still be below the last commit
L=$(src "SELECT pg_current_wal_insert_lsn()")
wait_fresh "$P" "$P" 2 --source-lsn "$L" >"$T_TMP/wait-idle.out" 2>&1
check_eq "without a commit after L, wait --source-lsn L times out (exit 1)" "$?" "1"
check "... naming the source and its watermark" \
    grep -q "source $P: watermark lsn" "$T_TMP/wait-idle.out"
src "INSERT INTO public.${P}_m (note) VALUES ('after L')" >/dev/null
START=$SECONDS
wait_fresh "$P" "$P" 180 --source-lsn "$L" >"$T_TMP/wait.out" 2>&1
RC=$?
if same_rows "$Q_SRC" "$Q_WH"; then EQUAL=yes; else EQUAL=no; fi
check_eq "wait --source-lsn $L returns 0 (after $((SECONDS - START)) s)" "$RC" "0"
check_eq "... and at that moment the source and the warehouse are equal" "$EQUAL" "yes"
check "... after waiting for the slow apply (>= 2 s)" test $((SECONDS - START)) -ge 2
wh "DROP TRIGGER ${P}_slow ON public.$P" >/dev/null

# ---- 3. an idle source: the time moves with heartbeats
check "the watermark has a time" wait_until 20 test -n "$(metric cdcsink_source_commit_timestamp_seconds)"
T0=$(metric cdcsink_source_commit_timestamp_seconds)
sleep 6
T1=$(metric cdcsink_source_commit_timestamp_seconds)
LAG=$(metric cdcsink_source_lag_seconds)
check "idle: the commit timestamp moves with heartbeats ($T0 -> $T1)" \
    awk -v a="$T0" -v b="$T1" 'BEGIN { exit !(b > a + 3) }'
check "idle: the lag stays small (${LAG}s < 10s)" awk -v l="$LAG" 'BEGIN { exit !(l != "" && l < 10) }'
quiet() { "$@" >"$T_TMP/quiet.out" 2>&1; }
check "idle: wait --source-ts now passes" quiet wait_fresh "$P" "$P" 20
check "idle: the row's source_ts is within 10 s" \
    test "$(row "(now() - source_ts < interval '10 seconds')::text")" = true
curl -s --max-time 3 "http://$HTTP/metrics" >"$T_TMP/metrics.txt"
if prom_families "$T_TMP/metrics.txt" >"$T_TMP/families.txt"; then
    ok "/metrics parses as Prometheus text"
else
    fail "/metrics does not parse"
fi
for fam in "cdcsink_batch_events histogram" "cdcsink_source_lag_seconds gauge" \
    "cdcsink_source_commit_timestamp_seconds gauge"; do
    check "/metrics has $fam" grep -q "^$fam " "$T_TMP/families.txt"
done

# ---- 4. PostgreSQL stopped: the watermark stands still, wait times out
STOP_AT=$(date +%s.%N)
"$STACK" stop postgres >"$T_TMP/stack.log" 2>&1
C0=$(metric cdcsink_source_commit_timestamp_seconds)
sleep 4
C1=$(metric cdcsink_source_commit_timestamp_seconds)
check_eq "PostgreSQL down: the watermark stands still" "$C1" "$C0"
wait_fresh "$P" "$P" 3 >"$T_TMP/wait-down.out" 2>&1
check_eq "PostgreSQL down: wait times out with exit 1" "$?" "1"
check "... saying why" grep -q "not there after 3s: the warehouse: connect" "$T_TMP/wait-down.out"
"$STACK" start postgres >>"$T_TMP/stack.log" 2>&1 && ok "PostgreSQL restarted" || fail "PostgreSQL restart"
check "after the restart, wait --source-ts <when it stopped> passes" \
    wait_fresh "$P" "$P" 120 --source-ts "$STOP_AT"

stop_sink "$SINK"; check_eq "SIGTERM exits 0" "$?" "0"
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
