#!/usr/bin/env bash
# dlq.sh - bad input is never silent and never lost: poison records produced
# between good ones each land in the dead-letter topic with their original
# key and value and the cdcsink.* headers; every good record lands; the
# consumer never stops. errors.policy=fail stops at the first one instead.
set -u
. "$(dirname "$0")/../lib.sh"

P=dlq$(date +%s)
T="$P.public.items"
python3 - "$P" >"$T_TMP/records.tsv" <<'PY'
import json, sys
p = sys.argv[1]
fields = [{"type": "int32", "optional": False, "field": "id"},
          {"type": "string", "optional": True, "field": "v"},
          {"type": "int16", "optional": True, "field": "small"}]
def rec(i, op, v, small=1, lsn=None):
    schema = {"type": "struct", "fields": [
        {"type": "struct", "fields": fields, "optional": True, "field": "before"},
        {"type": "struct", "fields": fields, "optional": True, "field": "after"}]}
    src = {"connector": "postgresql", "name": p, "db": "src", "schema": "public",
           "table": p, "sequence": json.dumps([str(100 + i), str(100 + i)]),
           "snapshot": "false"}
    payload = {"before": None, "after": {"id": i, "v": v, "small": small},
               "source": src, "op": op}
    key = {"schema": {"type": "struct", "fields": fields[:1]}, "payload": {"id": i}}
    return json.dumps(key), json.dumps({"schema": schema, "payload": payload})
out = []
out.append(rec(1, "c", "one"))
out.append(('{"id":90}', 'not json at all'))                      # JSON
out.append(rec(2, "c", "two"))
k, v = rec(91, "c", "x"); out.append((k, v[:len(v) // 2]))       # TRUNCATED
out.append(rec(3, "c", "three"))
out.append(rec(92, "x", "bad op"))                                # OP
k, v = rec(93, "c", "y"); out.append((k, v.replace('"small": 1', '"small": "many"')))  # VALUE
out.append(rec(4, "c", "four"))
out.append(rec(94, "c", "overflow", small=70000))                 # VALUE: out of range for int16
out.append(rec(5, "c", "five"))
for k, v in out:
    print(k + "\t" + v)
PY
kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$T" -K $'\t' <"$T_TMP/records.tsv" \
    && ok "records produced" || fail "kcat produce"

start_sink sink "^$T\$" "$P" --set dlq.topic="$P.dlq"
SINK=$SINK_PID
good() { [ "$(wh "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM public.\"$P\"" 2>/dev/null)" == "1:one,2:two,3:three,4:four,5:five" ]; }
check "every good record lands" wait_until 60 good
dlq_count() { kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P.dlq" -e -q -f '%o\n' 2>/dev/null | wc -l; }
check "five poison records dead-lettered" wait_until 30 test "$(dlq_count)" -eq 5
check "the consumer is still running" kill -0 "$SINK"

kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P.dlq" -e -q -J >"$T_TMP/dlq.json" 2>/dev/null
python3 - "$T_TMP/dlq.json" "$T" >"$T_TMP/dlq.check" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = {1: "JSON", 3: "TRUNCATED", 5: "OP", 6: "VALUE", 8: "VALUE"}
for r in recs:
    h = dict(zip(r["headers"][::2], r["headers"][1::2]))
    off = int(h["cdcsink.source.offset"])
    ok = (h.get("cdcsink.source.topic") == sys.argv[2]
          and h.get("cdcsink.source.partition") == "0"
          and h.get("cdcsink.error.code") == want.get(off)
          and h.get("cdcsink.error.class") == "permanent"
          and len(h.get("cdcsink.error", "")) > 5
          and r["payload"] and r["key"])
    print(off, "ok" if ok else "BAD", h.get("cdcsink.error.code"), h.get("cdcsink.error", "")[:80])
PY
check_eq "dead letters carry key, value and error headers" \
    "$(awk '{print $1, $2}' "$T_TMP/dlq.check" | sort -n | xargs)" "1 ok 3 ok 5 ok 6 ok 8 ok"
grep -q 'VALUE after.small' "$T_TMP/dlq.check" \
    && ok "the reason names the field" || fail "reason: $(cat "$T_TMP/dlq.check")"
kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P.dlq" -o 0 -c 1 -e -q -f '%s' 2>/dev/null >"$T_TMP/first.value"
check_eq "the original value is kept byte for byte" "$(cat "$T_TMP/first.value")" "not json at all"
stop_sink "$SINK"; check_eq "SIGTERM exits 0" "$?" "0"

# values PostgreSQL itself rejects: schemaless records (the warehouse's own
# column types decide) into a table made beforehand with a smallint column.
# Each rejected record is isolated, dead-lettered as REJECTED with
# PostgreSQL's reason, and the rest of its batch lands.
T2="$P.public.pre"
wh "CREATE TABLE public.\"${P}_pre\" (id int PRIMARY KEY, qty smallint, note text)" >/dev/null
python3 - "$P" >"$T_TMP/pre.tsv" <<'PY'
import json, sys
p = sys.argv[1]
def rec(i, qty, note="ok"):
    src = {"connector": "postgresql", "name": p, "db": "src", "schema": "public",
           "table": p + "_pre", "sequence": json.dumps([str(500 + i), str(500 + i)]),
           "snapshot": "false"}
    return json.dumps({"id": i}), json.dumps({"before": None,
        "after": {"id": i, "qty": qty, "note": note}, "source": src, "op": "c"})
for k, v in [rec(1, 5), rec(2, 70000, "too big"), rec(3, "abc", "not a number"),
             rec(4, -7), rec(5, 32767)]:
    print(k + "\t" + v)
PY
kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$T2" -K $'\t' <"$T_TMP/pre.tsv" \
    && ok "schemaless records produced" || fail "kcat produce"
start_sink sink2 "^$T2\$" "$P-pre" --set dlq.topic="$P.dlq2"
SINK2=$SINK_PID
pre_good() { [ "$(wh "SELECT string_agg(id || ':' || qty, ',' ORDER BY id) FROM public.\"${P}_pre\"" 2>/dev/null)" == "1:5,4:-7,5:32767" ]; }
check "the records PostgreSQL accepts land around the rejected ones" wait_until 60 pre_good
dlq2() { [ "$(topic_count "$P.dlq2")" -eq 2 ]; }
check "the two rejected records are dead-lettered" wait_until 30 dlq2
kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P.dlq2" -e -q -J >"$T_TMP/dlq2.json" 2>/dev/null
check_eq "as REJECTED, permanent, with PostgreSQL's reason and the original record" \
    "$(python3 - "$T_TMP/dlq2.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = dict(zip(r["headers"][::2], r["headers"][1::2]))
    print(h["cdcsink.source.offset"], h["cdcsink.error.code"], h["cdcsink.error.class"],
          "out of range" in h["cdcsink.error"] or "invalid input syntax" in h["cdcsink.error"],
          json.loads(r["key"])["id"])
PY
)" "$(printf '1 REJECTED permanent True 2\n2 REJECTED permanent True 3')"
stop_sink "$SINK2"; check_eq "SIGTERM exits 0" "$?" "0"

# errors.policy=fail: a fresh group stops at the first bad record
"$CDC_BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" --set kafka.group.id="$P-fail" \
    --set topics="^$T\$" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" --set errors.policy=fail \
    --set batch.linger.ms=50 run >"$T_TMP/fail.log" 2>&1 &
FPID=$!
SINK_PIDS+=("$FPID")
exited() { ! kill -0 "$FPID" 2>/dev/null; }
check "policy fail stops" wait_until 30 exited
wait "$FPID"; rc=$?
check "policy fail exits non-zero" test "$rc" -ne 0
grep -q "$T\[0\]@1: invalid json" "$T_TMP/fail.log" \
    && ok "policy fail names the record" || fail "fail log: $(tail -3 "$T_TMP/fail.log")"
check_eq "policy fail committed nothing past it" \
    "$(wh "SELECT count(*) FROM _cdc.offsets WHERE \"group\" = '$P-fail'")" "0"
finish
