#!/usr/bin/env bash
# fencing.sh - DESIGN.md "Fencing": only the current owner of a partition
# writes its rows and offsets. Instance Z holds a decoded batch (a long
# linger) when it is frozen with SIGSTOP past its session timeout; instance
# O, in the same group, takes the partition over, applies that batch and a
# newer one. Then Z is resumed (SIGCONT) with its stale batch: the batch
# must be rolled back (its _cdc.offsets compare and set fails) or dropped
# (assignment lost), so no row goes back and nothing is applied twice. The
# records are snapshot reads (op r), which the position guard does not
# stop: only the fence does.
set -u
. "$(dirname "$0")/../lib.sh"

P=fen$(date +%s)
T="$P.public.$P"
N=20
# produce_round R: ids 1..N, v = "rR", snapshot reads at positions R*1000+id
produce_round() {
    python3 - "$P" "$1" "$N" <<'PY' | kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$T" -K $'\t'
import json, sys
table, rnd, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fields = [{"type": "int32", "optional": False, "field": "id"},
          {"type": "string", "optional": True, "field": "v"}]
schema = {"type": "struct", "fields": [
    {"type": "struct", "fields": fields, "optional": True, "field": "before"},
    {"type": "struct", "fields": fields, "optional": True, "field": "after"}]}
kschema = {"type": "struct", "fields": fields[:1]}
for i in range(1, n + 1):
    pos = str(rnd * 1000 + i)
    src = {"connector": "postgresql", "name": table, "db": "src", "schema": "public",
           "table": table, "sequence": json.dumps([pos, pos]), "snapshot": "true"}
    payload = {"before": None, "after": {"id": i, "v": "r%d" % rnd}, "source": src, "op": "r"}
    print(json.dumps({"schema": kschema, "payload": {"id": i}}) + "\t" +
          json.dumps({"schema": schema, "payload": payload}))
PY
}
sink() { start_sink "$1" "^$T\$" "$P" --set batch.linger.ms="$2" \
             --set kafka.session.timeout.ms=6000; }
rows() { wh "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM public.\"$P\"" 2>/dev/null; }
want() { python3 -c "print(','.join('%d:r$1' % i for i in range(1, $N + 1)))"; }
landed() { [ "$(rows)" == "$(want "$1")" ]; }
stored() { wh "SELECT next_offset FROM _cdc.offsets WHERE \"group\" = '$P'"; }

produce_round 0 && ok "round 0 produced" || fail "kcat produce"
sink z 8000; Z=$SINK_PID
check "round 0 lands through Z" wait_until 60 landed 0
applied_log "$P"
sink o 50; O=$SINK_PID
sleep 8 # O joins the group; the one partition stays with Z (sticky)
produce_round 1
sleep 2 # Z has polled round 1 into its open batch, which lingers
kill -STOP "$Z" && ok "Z frozen"
# else Z applied round 1 before the freeze and nothing below is tested
check_eq "round 1 not applied before the freeze" "$(rows)" "$(want 0)"
check "O takes the partition over and applies round 1" wait_until 60 landed 1
produce_round 2
check "O moves the rows forward to round 2" wait_until 30 landed 2
check_eq "_cdc.offsets stands after round 2" "$(stored)" "$((3 * N))"
kill -CONT "$Z" && ok "Z resumed with its stale batch"
check "Z gives the stale batch up (fenced, or assignment lost)" \
    wait_until 30 grep -qE "took the partition over|assignment lost" "$T_TMP/z.log"
# ...and it held stale records (round 1, polled before the takeover)
check "Z drops the round 1 records it held" \
    wait_until 30 grep -qE "dropped [1-9][0-9]* records not applied" "$T_TMP/z.log"
sleep 3
check_eq "no row goes back" "$(rows)" "$(want 2)"
check_eq "_cdc.offsets never goes back" "$(stored)" "$((3 * N))"
check_eq "nothing applied twice" "$(applied_twice "$P")" "0"
produce_round 3
check "the group goes on: round 3 lands" wait_until 60 landed 3
check_eq "still nothing applied twice" "$(applied_twice "$P")" "0"
check_eq "every round written once per row" \
    "$(wh "SELECT count(*) FROM public.${P}_applied")" "$((3 * N))"
stop_sink "$Z" >/dev/null
stop_sink "$O" >/dev/null
finish
