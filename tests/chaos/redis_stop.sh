#!/usr/bin/env bash
# redis_stop.sh - Redis stopped mid-workload: cdcsink keeps applying on the
# position guard alone, logs the outage once, and turns dedup back on when
# Redis returns. While Redis is down, cdcsink is also killed with SIGKILL and
# restarted, so replays meet the guard with no Redis to drop them. The
# warehouse equals the source at the end and no change is applied twice.
set -u
. "$(dirname "$0")/../lib.sh"

P=rds$(date +%s)
seed_table "$P" 100
capture "$P"
sink() { start_sink "$1" "^$P\\.public\\.$P\$" "$P" --set redis.url="$CDC_REDIS_URL" \
             --set batch.max.events=50 --set batch.linger.ms=20 \
             --set kafka.session.timeout.ms=6000; }
Q_SRC="SELECT id, n, v FROM public.$P ORDER BY id"
Q_WH="SELECT id, n, v FROM public.$P WHERE NOT _cdc_deleted ORDER BY id"
sink sink1
check "snapshot lands" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
applied_log "$P"

churn "$P" 1 60 4 2 0.1 &
WL=$!
sleep 1
"$STACK" stop redis >"$T_TMP/stack.log" 2>&1 && ok "Redis stopped mid-workload" || fail "stop redis"
sleep 2
kill -9 "$SINK_PID"; wait "$SINK_PID" 2>/dev/null
check_eq "the outage is logged once, however many batches ran" \
    "$(grep -c "redis unavailable" "$T_TMP/sink1.log")" "1"
sink sink2   # re-reads what sink1 applied but did not commit: the guard alone
check "the restarted instance applies with Redis down" \
    wait_until 60 grep -q "assigned" "$T_TMP/sink2.log"
sleep 3
"$STACK" start redis >>"$T_TMP/stack.log" 2>&1 && ok "Redis started again" || fail "start redis"
wait "$WL"
POKE=5000
poke() { # one more change, so a batch tries Redis again
    POKE=$((POKE + 1))
    src "INSERT INTO public.$P VALUES ($POKE, 0, 'poke')" >/dev/null
    sleep 1
    grep -q "redis reachable again" "$T_TMP/sink2.log"
}
check "dedup back on after Redis returned" wait_until 40 poke
check "warehouse equals source" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
check_eq "no change applied twice" "$(applied_twice "$P")" "0"
check_eq "nothing was dead-lettered" "$(topic_count "$P.dlq")" "0"
stop_sink "$SINK_PID"; check_eq "SIGTERM exits 0" "$?" "0"
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
