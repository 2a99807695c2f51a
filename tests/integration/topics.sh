#!/usr/bin/env bash
# topics.sh - several topics at once: a comma-separated list, and a ^regex
# that also picks up a topic created after cdcsink started; a topic with 3
# partitions. Every record of every topic lands in its table.
set -u
. "$(dirname "$0")/../lib.sh"

P=tpc$(date +%s)
# produce TOPIC TABLE FIRST_ID COUNT: schema-on change records, keyed by id
produce() {
    python3 - "$2" "$3" "$4" <<'PY' | kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$1" -K $'\t'
import json, sys
table, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fields = [{"type": "int32", "optional": False, "field": "id"},
          {"type": "string", "optional": True, "field": "v"}]
schema = {"type": "struct", "fields": [
    {"type": "struct", "fields": fields, "optional": True, "field": "before"},
    {"type": "struct", "fields": fields, "optional": True, "field": "after"}]}
kschema = {"type": "struct", "fields": fields[:1]}
for i in range(first, first + count):
    src = {"connector": "postgresql", "name": "t", "db": "src", "schema": "public",
           "table": table, "sequence": json.dumps([str(1000 + i), str(1000 + i)]),
           "snapshot": "false"}
    payload = {"before": None, "after": {"id": i, "v": "v%d" % i}, "source": src, "op": "c"}
    print(json.dumps({"schema": kschema, "payload": {"id": i}}) + "\t" +
          json.dumps({"schema": schema, "payload": payload}))
PY
}
count() { wh "SELECT count(*) FROM public.\"$1\"" 2>/dev/null; }
has() { [ "$(count "$1")" == "$2" ]; }

# a list of two topics
produce "$P.a" "${P}_a" 1 30
produce "$P.b" "${P}_b" 1 20
start_sink list "$P.a,$P.b" "$P-list"
check "a list: the first topic lands" wait_until 60 has "${P}_a" 30
check "a list: the second topic lands" wait_until 30 has "${P}_b" 20
stop_sink "$SINK_PID"; check_eq "SIGTERM exits 0" "$?" "0"

# a ^regex, then a topic made after the start, and 3 partitions
"$STACK" topic-create "$P.r3" 3 >"$T_TMP/topic.log" 2>&1 || fail "topic-create"
produce "$P.r3" "${P}_r3" 1 90
start_sink regex "^$P\\.r.*" "$P-regex"
check "a regex: a 3-partition topic lands whole" wait_until 60 has "${P}_r3" 90
produce "$P.rnew" "${P}_rnew" 1 10
check "a regex: a topic created after the start is picked up" wait_until 60 has "${P}_rnew" 10
check_eq "the list's topics are not matched" "$(grep -c "$P\\.a\\[" "$T_TMP/regex.log")" "0"
parts=$(grep -o "$P\\.r3\\[[0-9]\\]: assigned" "$T_TMP/regex.log" | sort -u | wc -l)
check_eq "all 3 partitions were assigned" "$parts" "3"
stop_sink "$SINK_PID"; check_eq "SIGTERM exits 0" "$?" "0"
finish
