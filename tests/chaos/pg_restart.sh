#!/usr/bin/env bash
# pg_restart.sh - PostgreSQL restarted under a running workload: cdcsink
# retries with backoff (never dead-letters), /healthz turns 503 with a reason
# while the warehouse is down and 200 again after, /metrics parses as
# Prometheus text and counts the retries; the warehouse equals the source at
# the end. Then, idle, PostgreSQL stopped again: /healthz turns 503 within
# seconds though no batch needs the warehouse, and 200 after. Source and
# warehouse share one cluster here, so Debezium loses its connection too
# and must recover as well.
set -u
. "$(dirname "$0")/../lib.sh"

P=pgr$(date +%s)
seed_table "$P" 100
capture "$P"
start_sink sink "^$P\\.public\\.$P\$" "$P" --set redis.url="$CDC_REDIS_URL" \
    --set http.listen=127.0.0.1:0
SINK=$SINK_PID
HTTP=$(sink_http sink)

health() { curl -s -o "$T_TMP/health.body" -w '%{http_code}' --max-time 3 "http://$HTTP/healthz"; }
health_is() { [ "$(health)" = "$1" ]; }
metric() { # metric NAME: the value of an unlabelled sample
    curl -s --max-time 3 "http://$HTTP/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
Q_SRC="SELECT id, n, v FROM public.$P ORDER BY id"
Q_WH="SELECT id, n, v FROM public.$P WHERE NOT _cdc_deleted ORDER BY id"
check "snapshot lands" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
check_eq "/healthz is 200 while consuming and applying" "$(health)" "200"

curl -s --max-time 3 "http://$HTTP/metrics" >"$T_TMP/metrics.txt"
if prom_families "$T_TMP/metrics.txt" >"$T_TMP/families.txt"; then
    ok "/metrics parses as Prometheus text"
else
    fail "/metrics does not parse: $(tail -n 3 "$T_TMP/families.txt")"
fi
for fam in "cdcsink_events counter" "cdcsink_batches counter" \
    "cdcsink_apply_seconds histogram" "cdcsink_consumer_lag gauge" \
    "cdcsink_replays_skipped counter" "cdcsink_dedup_hits counter" \
    "cdcsink_dead_letters counter" "cdcsink_retries counter"; do
    check "/metrics has $fam" grep -q "^$fam " "$T_TMP/families.txt"
done
check "events are labelled by op and table" \
    grep -q "^cdcsink_events_total{table=\"public.$P\",op=\"r\"} 100\$" "$T_TMP/metrics.txt"

churn "$P" 1 30 5 3 0.2 &
WL=$!
sleep 1.5
RETRIES0=$(metric cdcsink_retries_total)
"$STACK" stop postgres >"$T_TMP/stack.log" 2>&1
check "/healthz turns 503 while PostgreSQL is down" wait_until 30 health_is 503
check "the 503 names a reason" grep -qi "postgres\|pg\|warehouse" "$T_TMP/health.body"
sleep 3
"$STACK" start postgres >>"$T_TMP/stack.log" 2>&1 && ok "PostgreSQL restarted" || fail "PostgreSQL restart"
check "/healthz is 200 again after" wait_until 60 health_is 200
RETRIES1=$(metric cdcsink_retries_total)
check "retries were counted (${RETRIES0:-?} -> ${RETRIES1:-?})" \
    test "${RETRIES1:-0}" -gt "${RETRIES0:-0}"
wait "$WL"
src "INSERT INTO public.$P VALUES (9999, 1, 'after the restart')" >/dev/null
check "warehouse equals source after the restart" wait_until 120 same_rows "$Q_SRC" "$Q_WH"
check_eq "nothing was dead-lettered" "$(topic_count "$P.dlq")" "0"
check_eq "dead letters metric is 0" "$(metric cdcsink_dead_letters_total)" "0"

# idle: nothing to apply when PostgreSQL goes away; the idle pipeline asks
# the warehouse every 5 s, so /healthz turns 503 within seconds anyway
check_eq "/healthz is 200 while idle" "$(health)" "200"
"$STACK" stop postgres >>"$T_TMP/stack.log" 2>&1
check "/healthz turns 503 within seconds while idle" wait_until 12 health_is 503
check "the idle 503 names a reason" grep -qi "postgres\|pg\|warehouse" "$T_TMP/health.body"
"$STACK" start postgres >>"$T_TMP/stack.log" 2>&1 && ok "PostgreSQL restarted (idle)" || fail "PostgreSQL restart"
check "/healthz is 200 again after (idle)" wait_until 30 health_is 200
stop_sink "$SINK"; check_eq "SIGTERM exits 0" "$?" "0"
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
