#!/usr/bin/env bash
# topics.sh - several topics at once: a comma-separated list, and a ^regex
# that also picks up a topic created after cdcsink started; a topic with 3
# partitions. Every record of every topic lands in its table.
set -u
. "$(dirname "$0")/../lib.sh"

P=tpc$(date +%s)
count() { wh "SELECT count(*) FROM public.\"$1\"" 2>/dev/null; }
has() { [ "$(count "$1")" == "$2" ]; }

# a list of two topics
produce_changes "$P.a" "${P}_a" 1 30
produce_changes "$P.b" "${P}_b" 1 20
start_sink list "$P.a,$P.b" "$P-list"
check "a list: the first topic lands" wait_until 60 has "${P}_a" 30
check "a list: the second topic lands" wait_until 30 has "${P}_b" 20
stop_sink "$SINK_PID"; check_eq "SIGTERM exits 0" "$?" "0"

# a ^regex, then a topic made after the start, and 3 partitions
"$STACK" topic-create "$P.r3" 3 >"$T_TMP/topic.log" 2>&1 || fail "topic-create"
produce_changes "$P.r3" "${P}_r3" 1 90
start_sink regex "^$P\\.r.*" "$P-regex"
check "a regex: a 3-partition topic lands whole" wait_until 60 has "${P}_r3" 90
produce_changes "$P.rnew" "${P}_rnew" 1 10
check "a regex: a topic created after the start is picked up" wait_until 60 has "${P}_rnew" 10
check_eq "the list's topics are not matched" "$(grep -c "$P\\.a\\[" "$T_TMP/regex.log")" "0"
parts=$(grep -o "$P\\.r3\\[[0-9]\\]: assigned" "$T_TMP/regex.log" | sort -u | wc -l)
check_eq "all 3 partitions were assigned" "$parts" "3"
stop_sink "$SINK_PID"; check_eq "SIGTERM exits 0" "$?" "0"
finish
