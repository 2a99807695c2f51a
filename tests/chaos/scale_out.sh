#!/usr/bin/env bash
# scale_out.sh - three cdcsink instances share a 4-partition topic in one
# consumer group: two start, a third joins and one leaves (SIGTERM) while a
# workload runs. At the end the warehouse equals the source, every instance
# held partitions, and no change was applied twice (an AFTER trigger logs
# every row version cdcsink writes, with its source position).
set -u
. "$(dirname "$0")/../lib.sh"

P=sco$(date +%s)
seed_table "$P" 200
# the table's topic is made with 4 partitions before Debezium writes to it;
# Debezium keys each record, so one key always travels through one partition
"$STACK" topic-create "$P.public.$P" 4 >"$T_TMP/topic.log" 2>&1 || fail "topic-create"
capture "$P"
check_eq "the table's topic has 4 partitions" \
    "$(kcat -b "$CDC_KAFKA_BOOTSTRAP" -L -t "$P.public.$P" 2>/dev/null | grep -c ' partition ')" "4"
sink() { start_sink "$1" "^$P\\.public\\.$P\$" "$P" --set redis.url="$CDC_REDIS_URL" \
             --set batch.max.events=100 --set batch.linger.ms=20 \
             --set kafka.session.timeout.ms=6000; }
Q_SRC="SELECT id, n, v FROM public.$P ORDER BY id"
Q_WH="SELECT id, n, v FROM public.$P WHERE NOT _cdc_deleted ORDER BY id"
sink a; A=$SINK_PID
sink b; B=$SINK_PID
check "snapshot lands" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
applied_log "$P"

workload() {
    local i
    for i in $(seq 1 80); do
        src "BEGIN; UPDATE public.$P SET n = n + 1 WHERE id % 8 = $((i % 8));
             INSERT INTO public.$P VALUES ($((1000 + i)), $i, 'new $i');
             UPDATE public.$P SET v = 'moved ' || $i WHERE id = $((1000 + i / 2));
             DELETE FROM public.$P WHERE id = $((i * 2)); COMMIT;" >/dev/null
        sleep 0.05
    done
}
workload &
WL=$!
sleep 2
sink c; C=$SINK_PID
check "the third instance joins and gets partitions" wait_until 40 grep -q "assigned" "$T_TMP/c.log"
sleep 2
stop_sink "$A"; check_eq "the leaving instance exits 0 after SIGTERM" "$?" "0"
wait "$WL"
check "warehouse equals source" wait_until 120 same_rows "$Q_SRC" "$Q_WH"
check "instance b held partitions" grep -q "assigned" "$T_TMP/b.log"
check "a revoked its partitions when leaving" grep -q "revoked" "$T_TMP/a.log"
check_eq "no change applied twice" "$(applied_twice "$P")" "0"
check_eq "deletes are soft-deleted rows" \
    "$(wh "SELECT count(*) FROM public.$P WHERE _cdc_deleted")" \
    "$(src "SELECT count(*) FROM generate_series(1, 80) g WHERE g * 2 <= 200 OR g * 2 BETWEEN 1001 AND 1080")"
stop_sink "$B"; check_eq "b exits 0" "$?" "0"
stop_sink "$C"; check_eq "c exits 0" "$?" "0"
check_eq "nothing was dead-lettered" "$(topic_count "$P.dlq")" "0"
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
