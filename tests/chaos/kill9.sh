#!/usr/bin/env bash
# kill9.sh - no loss, no double effect: cdcsink is killed with SIGKILL at
# random moments while a workload of inserts, updates and deletes runs, and
# restarted each time (with Redis dedup on); Redis is flushed once mid-run.
# At the end the warehouse equals the source row by row (`cdcsink verify`).
set -u
. "$(dirname "$0")/../lib.sh"

P=k9$(date +%s)
src "DROP TABLE IF EXISTS public.$P;
     CREATE TABLE public.$P (id int PRIMARY KEY, n bigint NOT NULL, v text, amt numeric(12,2));
     INSERT INTO public.$P SELECT g, 0, 'seed ' || g, g FROM generate_series(1, 200) g;" >/dev/null
capture "$P"

sink() { start_sink "sink$1" "^$P\\.public\\.$P\$" "$P" --set redis.url="$CDC_REDIS_URL" \
             --set batch.max.events=200 --set batch.linger.ms=20; }
workload() { # 40 transactions of mixed changes
    local i
    for i in $(seq 1 40); do
        src "BEGIN;
             UPDATE public.$P SET n = n + 1, amt = amt + 0.01 WHERE id % 7 = $((i % 7));
             INSERT INTO public.$P VALUES ($((1000 + i)), $i, 'new $i', $i.5);
             DELETE FROM public.$P WHERE id = $((i * 3));
             COMMIT;" >/dev/null
        sleep 0.1
    done
}
workload &
WL=$!
for round in 1 2 3 4; do
    sink "$round"
    sleep "0.$((RANDOM % 9 + 1))"
    [ "$round" -eq 2 ] && redis-cli -u "$CDC_REDIS_URL" FLUSHALL >/dev/null
    kill -9 "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null
done
ok "killed cdcsink with SIGKILL four times mid-workload"
wait "$WL"
sink final
Q_SRC="SELECT id, n, v, amt FROM public.$P ORDER BY id"
Q_WH="SELECT id, n, v, amt FROM public.$P WHERE NOT _cdc_deleted ORDER BY id"
check "caught up after the kills" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
check "cdcsink verify: the warehouse equals the source, every column" \
    wait_until 30 verify_equal "$P" --recheck-ms 2000
check_eq "every source delete is a soft-deleted row" \
    "$(wh "SELECT count(*) FROM public.$P WHERE _cdc_deleted")" \
    "$(src "SELECT 40 - count(*) FROM public.$P WHERE id IN (SELECT g * 3 FROM generate_series(1, 40) g)")"
stop_sink "$SINK_PID"; check_eq "final SIGTERM exits 0" "$?" "0"
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
