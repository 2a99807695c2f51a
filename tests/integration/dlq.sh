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
# every record carries headers of its own (Debezium's context headers):
# a dead letter keeps them
kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$T" -K $'\t' -H __debezium.context.taskId=0 \
    -H trace=t1 <"$T_TMP/records.tsv" \
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
          and h.get("__debezium.context.taskId") == "0" and h.get("trace") == "t1"
          and r["payload"] and r["key"])
    print(off, "ok" if ok else "BAD", h.get("cdcsink.error.code"), h.get("cdcsink.error", "")[:80])
PY
check_eq "dead letters carry key, value, error headers and the record's own" \
    "$(awk '{print $1, $2}' "$T_TMP/dlq.check" | sort -n | xargs)" "1 ok 3 ok 5 ok 6 ok 8 ok"
grep -q 'VALUE after.small' "$T_TMP/dlq.check" \
    && ok "the reason names the field" || fail "reason: $(cat "$T_TMP/dlq.check")"
kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P.dlq" -o 0 -c 1 -e -q -f '%s' 2>/dev/null >"$T_TMP/first.value"
check_eq "the original value is kept byte for byte" "$(cat "$T_TMP/first.value")" "not json at all"
stop_sink "$SINK"; check_eq "SIGTERM exits 0" "$?" "0"

# values PostgreSQL itself rejects: schemaless records (the warehouse's own
# column types decide) into a table made beforehand with a smallint column.
# Each rejected record is isolated, dead-lettered as REJECTED with
# PostgreSQL's reason, and the rest of its batch lands. A record that
# decoded gave its Kafka message back at once (consumer/batch.h): its dead
# letter reads it again from Kafka and must still be the original key,
# value and headers, byte for byte (two rejects in a row, then one further
# on: read forward on one assignment).
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
             rec(4, -7), rec(5, 32767), rec(6, 1), rec(7, 2),
             rec(8, 99999, "é \\ \\t\"quoted\""), rec(9, 3)]:
    print(k + "\t" + v)
PY
kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$T2" -K $'\t' -H trace=t2 \
    -H __debezium.context.taskId=0 <"$T_TMP/pre.tsv" \
    && ok "schemaless records produced" || fail "kcat produce"
start_sink sink2 "^$T2\$" "$P-pre" --set dlq.topic="$P.dlq2"
SINK2=$SINK_PID
pre_good() { [ "$(wh "SELECT string_agg(id || ':' || qty, ',' ORDER BY id) FROM public.\"${P}_pre\"" 2>/dev/null)" == "1:5,4:-7,5:32767,6:1,7:2,9:3" ]; }
check "the records PostgreSQL accepts land around the rejected ones" wait_until 60 pre_good
dlq2() { [ "$(topic_count "$P.dlq2")" -eq 3 ]; }
check "the three rejected records are dead-lettered" wait_until 30 dlq2
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
)" "$(printf '1 REJECTED permanent True 2\n2 REJECTED permanent True 3\n7 REJECTED permanent True 8')"
kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$T2" -e -q -J >"$T_TMP/pre.json" 2>/dev/null
check_eq "each is its original record: key, value and headers byte for byte" \
    "$(python3 - "$T_TMP/dlq2.json" "$T_TMP/pre.json" <<'PY'
import json, sys
src = {r["offset"]: r for r in map(json.loads, open(sys.argv[2]))}
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = r["headers"]
    o = src[int(dict(zip(h[::2], h[1::2]))["cdcsink.source.offset"])]
    own = [x for i in range(0, len(h), 2) if not h[i].startswith("cdcsink.")
           for x in h[i:i + 2]]
    print(o["offset"], r["key"] == o["key"], r["payload"] == o["payload"],
          own == o["headers"], len(own))
PY
)" "$(printf '1 True True True 4\n2 True True True 4\n7 True True True 4')"
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
# ---- the dead-letter producer (issue 16) ----
SASL=(--set kafka.bootstrap.servers="$CDC_KAFKA_SASL_BOOTSTRAP"
      --set kafka.security.protocol=SASL_PLAINTEXT --set kafka.sasl.mechanism=PLAIN
      --set kafka.sasl.username="$CDC_KAFKA_SASL_USER" --set kafka.sasl.password="$CDC_KAFKA_SASL_PASSWORD")
# poison_then_good TOPIC TABLE ID [VALUE]: a record that is not JSON, then
# a good insert of TABLE's ID, in one produce request (one batch, given the
# sink's linger)
poison_then_good() {
    { printf '%s\t%s\n' '{"id":0}' "${4:-not json either}"
      kcat() { cat; } # produce_changes' lines, sent below with the poison
      produce_changes "$1" "$2" "$3" 1; } | kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$1" -K $'\t'
}
row_there() { [ "$(wh "SELECT count(*) FROM public.\"$1\" WHERE id = $2" 2>/dev/null)" == "1" ]; }

# the kafka.* pass-through reaches the producer: dead letters through SASL
poison_then_good "$P.sasl" "${P}_sasl" 1
start_sink sasl "^$P\\.sasl\$" "$P-sasl" "${SASL[@]}" --set dlq.topic="$P.sasl.dlq"
check "a run through SASL applies the good record" wait_until 60 row_there "${P}_sasl" 1
sasl_dlq() { [ "$(topic_count "$P.sasl.dlq")" -eq 1 ]; }
check "and dead-letters the bad one through SASL" wait_until 30 sasl_dlq
stop_sink "$SINK_PID"; check_eq "SIGTERM exits 0" "$?" "0"

# a dead letter over the producer's message.max.bytes: cut, with its size
big=$(head -c 50000 /dev/zero | tr '\0' 'x')
poison_then_good "$P.big" "${P}_big" 1 "$big"
start_sink big "^$P\\.big\$" "$P-big" --set kafka.message.max.bytes=20000 --set dlq.topic="$P.big.dlq"
check "the good record after an oversized bad one lands" wait_until 60 row_there "${P}_big" 1
big_dlq() { [ "$(topic_count "$P.big.dlq")" -eq 1 ]; }
check "the oversized record is dead-lettered" wait_until 30 big_dlq
kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P.big.dlq" -e -q -J >"$T_TMP/big.json" 2>/dev/null
check_eq "cut to the limit, its original size in a header" "$(python3 - "$T_TMP/big.json" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
h = dict(zip(r["headers"][::2], r["headers"][1::2]))
print(len(r["payload"]) <= 20000, r["payload"][:3], h.get("cdcsink.value.original.size"))
PY
)" "True xxx 50000"
stop_sink "$SINK_PID"; check_eq "SIGTERM exits 0" "$?" "0"

# a missing dead-letter topic the brokers will not create, and one this
# client may not use: check and run fail at start naming the topic and fix.
# The SASL user may not create topics, but may see $P.missing (an ACL on a
# topic ends "everyone allowed where no ACL" for it: without Describe it
# would look forbidden rather than missing)
"$STACK" acl --add --deny-principal "User:$CDC_KAFKA_SASL_USER" --operation Create --cluster \
    && "$STACK" acl --add --deny-principal "User:$CDC_KAFKA_SASL_USER" --operation Create --topic "$P.missing" \
    && "$STACK" acl --add --allow-principal "User:$CDC_KAFKA_SASL_USER" --operation Describe --topic "$P.missing" \
    && ok "acl: the SASL user may not create topics" || fail "acl add"
"$STACK" acl --add --deny-principal "User:$CDC_KAFKA_SASL_USER" --operation All --topic "$P.denied" \
    && ok "acl: nor use $P.denied" || fail "acl add"
dlq_start() { # NAME DLQ NEEDLE: run and check exit 2 naming NEEDLE
    local out rc
    out=$(timeout 60 "$CDC_BIN" "${SASL[@]}" --set topics="^$P\\.sasl\$" --set kafka.group.id="$P-$1" \
          --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" --set dlq.topic="$2" run 2>&1); rc=$?
    [ "$rc" -eq 2 ] && [[ $out == *"$3"* ]] && ok "$1: run stops at start" || fail "$1: run rc=$rc: $(tail -2 <<<"$out")"
    out=$(timeout 60 "$CDC_BIN" "${SASL[@]}" --set topics=x --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" \
          --set dlq.topic="$2" check 2>&1); rc=$?
    [ "$rc" -eq 1 ] && [[ $out == *"FAIL  kafka $3"* ]] && ok "$1: check fails" || fail "$1: check rc=$rc: $out"
}
dlq_start missing "$P.missing" "dead-letter topic \"$P.missing\" does not exist and cannot be created"
dlq_start denied "$P.denied" "dead-letter topic \"$P.denied\" may not be used by this client"
"$STACK" acl --remove --force --deny-principal "User:$CDC_KAFKA_SASL_USER" --operation Create --cluster
"$STACK" acl --remove --force --deny-principal "User:$CDC_KAFKA_SASL_USER" --operation Create --topic "$P.missing"
"$STACK" acl --remove --force --allow-principal "User:$CDC_KAFKA_SASL_USER" --operation Describe --topic "$P.missing"
"$STACK" acl --remove --force --deny-principal "User:$CDC_KAFKA_SASL_USER" --operation All --topic "$P.denied"

# a dead letter the brokers refuse for good once running (the SASL user may
# see $P.late.dlq, so the start passes, but not write it): the batch is
# rolled back and cdcsink stops, naming the topic and the fix
printf 'made by the test\n' | kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$P.late.dlq"
"$STACK" acl --add --allow-principal "User:$CDC_KAFKA_SASL_USER" --operation Describe --topic "$P.late.dlq" \
    && "$STACK" acl --add --deny-principal "User:$CDC_KAFKA_SASL_USER" --operation Write --topic "$P.late.dlq" \
    && ok "acl: the SASL user may not write $P.late.dlq" || fail "acl add"
poison_then_good "$P.late" "${P}_late" 1
out=$(timeout 60 "$CDC_BIN" "${SASL[@]}" --set topics="^$P\\.late\$" --set kafka.group.id="$P-late" \
      --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" --set dlq.topic="$P.late.dlq" run 2>&1); rc=$?
want="stopping: invalid configuration: dead-letter delivery to topic \"$P.late.dlq\" (1 record(s)) failed for good"
[ "$rc" -eq 1 ] && [[ $out == *"$want"*"HINT: grant"* ]] \
    && ok "a dead letter refused for good stops the run, naming the topic and the fix" \
    || fail "late: rc=$rc: $(grep -v librdkafka <<<"$out" | tail -3)"
check "and its batch was not applied" test "$(wh "SELECT count(*) FROM public.\"${P}_late\"" 2>/dev/null || echo 0)" == 0
"$STACK" acl --remove --force --allow-principal "User:$CDC_KAFKA_SASL_USER" --operation Describe --topic "$P.late.dlq"
"$STACK" acl --remove --force --deny-principal "User:$CDC_KAFKA_SASL_USER" --operation Write --topic "$P.late.dlq"

# a dead letter is produced once, even when its batch is retried: the
# warehouse refuses the first two COMMITs (a deferred trigger, counted by
# a sequence, which a rollback does not undo)
produce_changes "$P.retry" "${P}_retry" 1 1
start_sink retry "^$P\\.retry\$" "$P-retry" --set dlq.topic="$P.retry.dlq" --set retry.backoff.max.ms=200 \
    --set batch.linger.ms=1000
check "the first record lands" wait_until 60 row_there "${P}_retry" 1
wh "CREATE SEQUENCE public.${P}_fails;
    CREATE FUNCTION public.${P}_refuse() RETURNS trigger LANGUAGE plpgsql AS
      \$\$BEGIN IF nextval('public.${P}_fails') <= 2 THEN
          RAISE EXCEPTION 'refused for the test' USING ERRCODE = '40001'; END IF;
        RETURN NULL; END\$\$;
    CREATE CONSTRAINT TRIGGER refuse AFTER INSERT OR UPDATE ON public.\"${P}_retry\"
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.${P}_refuse();" >/dev/null
poison_then_good "$P.retry" "${P}_retry" 2
check "the batch lands after two refused COMMITs" wait_until 60 row_there "${P}_retry" 2
check_eq "the batch was retried" "$(wh "SELECT last_value >= 3 FROM public.${P}_fails")" "t"
check "with its bad record in it" grep -q "batch of 2 records not applied" "$T_TMP/retry.log"
sleep 1
check_eq "its bad record was dead-lettered once" "$(topic_count "$P.retry.dlq")" "1"
stop_sink "$SINK_PID"; check_eq "SIGTERM exits 0" "$?" "0"

# a refused record that can never be read again for its dead letter
# (deleted from the log while its batch is applied: a row trigger sleeps
# on the good row before it) is not retried for ever (waiting cannot bring
# it back): it is dead-lettered without its original, the reason and the
# lengths it had in its headers, and the batch's other records land
T3="$P.public.gone"
wh "CREATE TABLE public.\"${P}_gone\" (id int PRIMARY KEY, qty smallint);
    CREATE FUNCTION public.${P}_slow() RETURNS trigger LANGUAGE plpgsql AS
      \$\$BEGIN IF NEW.id = 1 THEN PERFORM pg_sleep(8); END IF; RETURN NEW; END\$\$;
    CREATE TRIGGER slow BEFORE INSERT ON public.\"${P}_gone\"
      FOR EACH ROW EXECUTE FUNCTION public.${P}_slow();" >/dev/null
python3 - "$P" >"$T_TMP/gone.tsv" <<'PY'
import json, sys
p = sys.argv[1]
def rec(i, qty):
    src = {"connector": "postgresql", "name": p, "db": "src", "schema": "public",
           "table": p + "_gone", "sequence": json.dumps([str(700 + i), str(700 + i)]),
           "snapshot": "false"}
    return json.dumps({"id": i}), json.dumps({"before": None,
        "after": {"id": i, "qty": qty}, "source": src, "op": "c"})
for k, v in [rec(1, 5), rec(2, 70000), rec(3, 7)]:
    print(k + "\t" + v)
PY
kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$T3" -K $'\t' <"$T_TMP/gone.tsv" \
    && ok "records produced" || fail "kcat produce"
start_sink gone "^$T3\$" "$P-gone" --set dlq.topic="$P.dlq3" --set retry.backoff.max.ms=200
sleeping() { [ "$(wh "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")" -ge 1 ]; }
check "the batch is being applied" wait_until 60 sleeping
printf '{"partitions":[{"topic":"%s","partition":0,"offset":2}],"version":1}\n' "$T3" \
    >"$T_TMP/gone-delete.json"
"${CDC_JAVA:-java}" -Xmx128m -cp "$(echo "$CDC_CACHE_DIR"/kafka-*/lib)/*" \
    org.apache.kafka.tools.DeleteRecordsCommand --bootstrap-server "$CDC_KAFKA_BOOTSTRAP" \
    --offset-json-file "$T_TMP/gone-delete.json" >"$T_TMP/gone-delete.out" 2>&1 \
    && ok "the refused record is deleted from the log" \
    || fail "delete records: $(tail -3 "$T_TMP/gone-delete.out")"
gone_dlq() { [ "$(topic_count "$P.dlq3")" -eq 1 ]; }
check "the refused record is dead-lettered once it is known gone" wait_until 60 gone_dlq
check "the log names it" grep -q "$T3\[0\]@1.*dead-lettered without its original: it is gone from the log" "$T_TMP/gone.log"
gone_rows() { [ "$(wh "SELECT count(*) FROM public.\"${P}_gone\"")" = 2 ]; }
check "the batch's other records land" wait_until 60 gone_rows
kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P.dlq3" -e -q -J >"$T_TMP/gone.json" 2>/dev/null
check_eq "no key or value, the lengths it had and why in its headers" "$(python3 - "$T_TMP/gone.json" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
h = dict(zip(r["headers"][::2], r["headers"][1::2]))
print(r["key"] in (None, ""), r["payload"] in (None, ""), h.get("cdcsink.source.offset"),
      h.get("cdcsink.key.original.size"), h.get("cdcsink.value.original.size"),
      "cannot be read again (it is gone from the log" in h.get("cdcsink.error", ""),
      h.get("cdcsink.error.class"))
PY
)" "True True 1 $(sed -n 2p "$T_TMP/gone.tsv" | cut -f1 | tr -d '\n' | wc -c) $(sed -n 2p "$T_TMP/gone.tsv" | cut -f2 | tr -d '\n' | wc -c) True permanent"
check "the consumer is still running" kill -0 "$SINK_PID"
stop_sink "$SINK_PID" 30 >/dev/null
finish
