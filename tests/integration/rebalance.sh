#!/usr/bin/env bash
# rebalance.sh - a cooperative rebalance hands a partition over cleanly: an
# instance holding an open batch (linger of 10 minutes, so nothing is applied
# on its own) gives up one of its two partitions when a second instance joins
# the group; the open batch is applied and committed before the partition
# goes (logged, every row lands at once, _cdc.offsets covers it), and the
# newcomer starts after it: nothing is applied twice.
set -u
. "$(dirname "$0")/../lib.sh"

P=rbl$(date +%s)
count() { wh "SELECT count(*) FROM public.\"$P\"" 2>/dev/null || echo 0; }
has() { [ "$(count)" == "$1" ]; }
both_assigned() {
    [ "$(grep -c "$P\\.t\\[[01]\\]: assigned" "$T_TMP/a.log" 2>/dev/null)" == "2" ]
}

"$STACK" topic-create "$P.t" 2 >"$T_TMP/topic.log" 2>&1 || fail "topic-create"
produce_changes "$P.t" "$P" 1 40
check_eq "the records spread over both partitions" \
    "$(kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P.t" -e -q -f '%p\n' | sort -u | wc -l)" "2"
start_sink a "$P.t" "$P" --set batch.linger.ms=600000 --set batch.max.events=100000 \
    --set kafka.session.timeout.ms=6000
A=$SINK_PID
check "a is assigned both partitions" wait_until 60 both_assigned
sleep 3 # a polls all 40 records into its open batch
check_eq "nothing is applied while the batch is open" "$(count)" "0"

start_sink b "$P.t" "$P" --set kafka.session.timeout.ms=6000
B=$SINK_PID
check "b joins and is assigned a partition" wait_until 60 grep -q "assigned" "$T_TMP/b.log"
check "a logs the flush before giving the partition up" \
    grep -q "revoke: the open batch of 40 records was applied and committed before giving up 1 partitions" "$T_TMP/a.log"
check "every row has landed" has 40
check_eq "_cdc.offsets covers the flushed batch" \
    "$(wh "SELECT sum(next_offset) FROM _cdc.offsets WHERE \"group\" = '$P'")" "40"
check "b starts after the flushed batch" \
    grep -Eq "$P\\.t\\[[01]\\]: assigned, starting at offset [1-9]" "$T_TMP/b.log"
stop_sink "$B"; check_eq "b exits 0" "$?" "0"
stop_sink "$A"; check_eq "a exits 0 at once despite its 10-minute linger" "$?" "0"
check "b read and applied nothing" grep -q "stopped: 0 records, 0 applied" "$T_TMP/b.log"
check "a applied the 40 once" grep -q "stopped: 40 records, 40 applied, 0 replays" "$T_TMP/a.log"
check_eq "nothing was dead-lettered" "$(topic_count "$P.dlq")" "0"
finish
