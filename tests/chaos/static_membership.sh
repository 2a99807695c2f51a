#!/usr/bin/env bash
# static_membership.sh - a container restarted in place (KIP-345 static
# membership, kafka.group.instance.id): two instances with distinct instance
# ids share a 4-partition topic; one is SIGKILLed and started again with the
# same id within the session timeout while a workload runs. It gets its own
# partitions back and the other instance sees no rebalance (no JoinGroup,
# no "rebalance in progress", no revoke or assign after its first one);
# nothing is applied twice and the warehouse equals the source.
set -u
. "$(dirname "$0")/../lib.sh"

P=stm$(date +%s)
seed_table "$P" 100
"$STACK" topic-create "$P.public.$P" 4 >"$T_TMP/topic.log" 2>&1 || fail "topic-create"
# the dead-letter topic exists before any instance checks it at start
"$STACK" topic-create "$P.dlq" 1 >>"$T_TMP/topic.log" 2>&1 || fail "topic-create $P.dlq"
capture "$P"
# sink NAME ID [--set k=v...]: a member with instance id ID; a 30 s session,
# so a restart within it keeps the membership
sink() {
    local name=$1 id=$2; shift 2
    start_sink "$name" "^$P\\.public\\.$P\$" "$P" --set redis.url="$CDC_REDIS_URL" \
        --set batch.max.events=50 --set batch.linger.ms=20 \
        --set kafka.group.instance.id="$id" --set kafka.session.timeout.ms=30000 "$@"
}
# parts NAME: the partitions NAME was assigned, sorted, one a line
parts() { grep -o '\[[0-9]*\]: assigned' "$T_TMP/$1.log" | tr -d '[]:' | awk '{ print $1 }' | sort -n; }
count() { grep -c -E "$2" "$T_TMP/$1.log"; }
Q_SRC="SELECT id, n, v FROM public.$P ORDER BY id"
Q_WH="SELECT id, n, v FROM public.$P WHERE NOT _cdc_deleted ORDER BY id"

sink one "$P-one"; ONE=$SINK_PID
sleep 1
sink two "$P-two" --set kafka.debug=cgrp --set log.level=debug; TWO=$SINK_PID
two_has_half() { [ "$(parts two | wc -l)" -eq 2 ]; }
check "two gets two of the four partitions" wait_until 60 two_has_half
check "the snapshot lands" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
applied_log "$P"

churn "$P" 1 60 5 3 0.2 &
WL=$!
sleep 2
ASSIGN2=$(count two 'assigned, starting')
REVOKE2=$(count two '\]: revoked')
JOIN2=$(count two 'JoinGroup response: GenerationId [0-9]')
REBAL2=$(count two 'rebalance in progress|Rebalance in progress')
# one holds what two does not: the four partitions less two's
ONE_PARTS=$(comm -23 <(printf '%s\n' 0 1 2 3) <(parts two) | xargs)

kill -9 "$ONE" 2>/dev/null; wait "$ONE" 2>/dev/null
ok "one SIGKILLed (it held partitions $ONE_PARTS)"
sleep 3
restarted=$SECONDS
sink one-again "$P-one"; ONE=$SINK_PID
check "one, started again with its instance id, gets its partitions back within the session timeout" \
    wait_until 25 grep -q 'assigned, starting' "$T_TMP/one-again.log"
took=$((SECONDS - restarted))
check_eq "the partitions it gets back are the ones it held (in ${took} s)" "$(parts one-again | xargs)" "$ONE_PARTS"

wait "$WL"
check "warehouse equals source" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
check_eq "two was not asked to revoke" "$(count two '\]: revoked')" "$REVOKE2"
check_eq "two was assigned nothing new" "$(count two 'assigned, starting')" "$ASSIGN2"
check_eq "two did not rejoin the group (no JoinGroup)" "$(count two 'JoinGroup response: GenerationId [0-9]')" "$JOIN2"
check_eq "two saw no rebalance in progress" "$(count two 'rebalance in progress|Rebalance in progress')" "$REBAL2"
check_eq "no change applied twice" "$(applied_twice "$P")" "0"
check_eq "nothing was dead-lettered" "$(topic_count "$P.dlq")" "0"
stop_sink "$ONE" 40; check_eq "one exits 0 after SIGTERM" "$?" "0"
stop_sink "$TWO" 40; check_eq "two exits 0 after SIGTERM" "$?" "0"
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
