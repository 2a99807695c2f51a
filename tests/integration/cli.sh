#!/usr/bin/env bash
# cli.sh - the command line: --help lists every setting, bad keys and values
# fail at start naming the key, check reaches the servers.
set -u
. "$(dirname "$0")/../lib.sh"

out=$("$CDC_BIN" --help)
check_eq "--help exits 0" "$?" "0"
for k in $("$CDC_BIN" config-doc | sed -n 's/^| `\([a-z.]*\)` |.*/\1/p'); do
    case "$out" in *"  $k "*) ;; *) fail "--help lacks $k" ;; esac
done
ok "--help lists every key of the settings table"

expect_fail() { # NAME NEEDLE ARGS...: exit 2 and stderr names NEEDLE
    local name=$1 needle=$2 err rc; shift 2
    err=$("$CDC_BIN" "$@" 2>&1 >/dev/null); rc=$?
    if [ "$rc" -eq 2 ] && [[ "$err" == *"$needle"* ]]; then ok "$name"
    else fail "$name: rc=$rc stderr=[$err]"; fi
}
expect_fail "unknown --set key" '"batch.max.evnts"' --set batch.max.evnts=1 check
expect_fail "malformed int" '"batch.max.events"' --set batch.max.events=many check
expect_fail "bad choice" 'soft|hard' --set delete.mode=purge check
CDCSINK_BOGUS=1 expect_fail "unknown env key" 'CDCSINK_BOGUS' check
printf 'topics=x\nbatch.linger.ms=later\n' >"$T_TMP/bad.properties"
expect_fail "bad file value names file:line" 'bad.properties:2' --config "$T_TMP/bad.properties" check
expect_fail "missing required key" '"topics" is required' --set pg.conninfo=x check
expect_fail "unknown option" '--bogus' --bogus
expect_fail "kafka.enable.auto.commit is refused, naming the key" '"kafka.enable.auto.commit" cannot be changed' \
    --set kafka.enable.auto.commit=true check
CDCSINK_KAFKA_ENABLE_AUTO_OFFSET_STORE=true expect_fail "so is kafka.enable.auto.offset.store" \
    '"kafka.enable.auto.offset.store" cannot be changed' check
expect_fail "bad kafka property" 'kafka.fetch.wait.max.ms' \
    --set topics=x --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" \
    --set kafka.fetch.wait.max.ms=abc run

out=$("$CDC_BIN" --set topics=x --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" \
      --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" check 2>&1)
rc=$?
check_eq "check against the stack exits 0" "$rc" "0"
case "$out" in *"ok    kafka"*"ok    postgresql"*) ok "check prints a line per server" ;;
    *) fail "check output: $out" ;; esac
# decode: kcat -J lines from a file, and straight from a topic
got=$("$CDC_BIN" decode "$ROOT/tests/unit/captures/dbserver1.public.scratch.jsonl" | sed -n 5p)
check_eq "decode prints a primary-key change with its old key" "$got" \
    '{"topic":"dbserver1.public.scratch","partition":0,"offset":4,"kind":"change","op":"c","table":"public.scratch","position":["30824168","30824168"],"snapshot":false,"key":{"id":"20"},"after":{"id":"20","v":"b"},"unchanged":[],"old_key":{"id":"2"}}'
got=$(printf '%s\n' '{"topic":"t","partition":0,"offset":7,"key":null,"payload":"{\"op\":\"c\""}' | "$CDC_BIN" decode -)
rc=$?
check_eq "decode reports a poison record and exits 1" "$rc:$got" \
    '1:{"topic":"t","partition":0,"offset":7,"kind":"error","error_code":"TRUNCATED","error":"value: truncated: the JSON ends early (9 bytes)"}'
# decode: transaction-topic records, BEGIN with its id, END with its event
# count in total and per table (what apply.consistency=transaction waits for)
got=$("$CDC_BIN" decode "$ROOT/tests/unit/captures/dbs2.transaction.jsonl" | sed -n 1,2p)
check_eq "decode prints a transaction BEGIN and END with its counts" "$got" \
'{"topic":"dbs2.transaction","partition":0,"offset":0,"kind":"txmeta","status":"BEGIN","id":"749:30808264"}
{"topic":"dbs2.transaction","partition":0,"offset":1,"kind":"txmeta","status":"END","id":"749:30808560","event_count":1,"data_collections":[{"data_collection":"public.customers","event_count":1}]}'
got=$(printf '%s\n' '{"topic":"s.transaction","partition":0,"offset":9,"key":null,"payload":"{\"status\":\"END\",\"id\":\"812:4000\",\"event_count\":5,\"data_collections\":[{\"data_collection\":\"public.orders\",\"event_count\":1},{\"data_collection\":\"public.lines\",\"event_count\":4}],\"ts_ms\":1}"}' |
      "$CDC_BIN" decode -)
check_eq "decode prints an END's count for each of its tables" "$got" \
    '{"topic":"s.transaction","partition":0,"offset":9,"kind":"txmeta","status":"END","id":"812:4000","event_count":5,"data_collections":[{"data_collection":"public.orders","event_count":1},{"data_collection":"public.lines","event_count":4}]}'
T=cli$(date +%s)
printf '%s\t%s\n' '{"id":1}' '{"op":"c","before":null,"after":{"id":1},"source":{"connector":"postgresql","schema":"public","table":"x","sequence":"[null,\"5\"]"}}' |
    kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$T" -K $'\t'
got=$(timeout 60 "$CDC_BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" decode --topic "$T")
check_eq "decode --topic reads a topic to its end" "$got" \
    "{\"topic\":\"$T\",\"partition\":0,\"offset\":0,\"kind\":\"change\",\"op\":\"c\",\"table\":\"public.x\",\"position\":[\"5\",\"5\"],\"snapshot\":false,\"key\":{\"id\":\"1\"},\"after\":{\"id\":\"1\"},\"unchanged\":[]}"
# a key change read from Kafka: the old key is in a header librdkafka
# parses only when the decoder asks for it (a 'c' event's), among others
K=clikey$(date +%s)
printf '%s\t%s\n' '{"id":20}' '{"op":"c","before":null,"after":{"id":20},"source":{"connector":"postgresql","schema":"public","table":"x","sequence":"[null,\"6\"]"}}' |
    kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$K" -K $'\t' -H __debezium.context.taskId=0 \
        -H '__debezium.oldkey={"id":2}' -H __debezium.context.runId=r1
got=$(timeout 60 "$CDC_BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" decode --topic "$K")
check_eq "decode --topic reads a key change's old key from its header" "$got" \
    "{\"topic\":\"$K\",\"partition\":0,\"offset\":0,\"kind\":\"change\",\"op\":\"c\",\"table\":\"public.x\",\"position\":[\"6\",\"6\"],\"snapshot\":false,\"key\":{\"id\":\"20\"},\"after\":{\"id\":\"20\"},\"unchanged\":[],\"old_key\":{\"id\":\"2\"}}"

# SASL/PLAIN: the broker's second listener wants a user and a password;
# every kafka.* setting reaches decode --topic's consumer and run's
SASL=(--set kafka.bootstrap.servers="$CDC_KAFKA_SASL_BOOTSTRAP"
      --set kafka.security.protocol=SASL_PLAINTEXT --set kafka.sasl.mechanism=PLAIN
      --set kafka.sasl.username="$CDC_KAFKA_SASL_USER")
got=$(timeout 60 "$CDC_BIN" "${SASL[@]}" --set kafka.sasl.password="$CDC_KAFKA_SASL_PASSWORD" decode --topic "$T")
check_eq "decode --topic reads through the SASL listener" "$got" \
    "{\"topic\":\"$T\",\"partition\":0,\"offset\":0,\"kind\":\"change\",\"op\":\"c\",\"table\":\"public.x\",\"position\":[\"5\",\"5\"],\"snapshot\":false,\"key\":{\"id\":\"1\"},\"after\":{\"id\":\"1\"},\"unchanged\":[]}"
expect_fail "decode --topic with a wrong password fails naming the settings" \
    'authentication failed' "${SASL[@]}" --set kafka.sasl.password=wrong decode --topic "$T"
grep_err() { "$CDC_BIN" "$@" 2>&1 >/dev/null | grep -c 'kafka.sasl.password'; }
check "the error names kafka.sasl.password" test "$(grep_err "${SASL[@]}" --set kafka.sasl.password=wrong decode --topic "$T")" -ge 1
S=clisasl$(date +%s)
produce_changes "$S.public.items" "${S}_items" 1 3
start_sink sasl "^$S\\.public\\.items\$" "$S" "${SASL[@]}" --set kafka.sasl.password="$CDC_KAFKA_SASL_PASSWORD"
sasl_rows() { [ "$(wh "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM public.\"${S}_items\"" 2>/dev/null)" == "1:v1,2:v2,3:v3" ]; }
check "run applies a topic read through the SASL listener" wait_until 60 sasl_rows
stop_sink "$SINK_PID"; check_eq "and stops cleanly" "$?" "0"
expect_fail "run with a wrong password stops at start naming the settings" 'kafka.sasl.password' \
    "${SASL[@]}" --set kafka.sasl.password=wrong --set topics=x \
    --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" run

# librdkafka's own log lines go through cdcsink's log, in its format
"$CDC_BIN" --set topics=x --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" \
    --set kafka.bootstrap.servers=127.0.0.1:9 --set log.format=json run \
    >"$T_TMP/rdlog.log" 2>&1 &
pid=$!
has_rdlog() { grep -q '^{.*"msg":"librdkafka rdkafka#consumer-[0-9]* [A-Z]*:' "$T_TMP/rdlog.log"; }
check "librdkafka's log lines are JSON lines of cdcsink's log" wait_until 20 has_rdlog
kill -TERM "$pid"; wait "$pid"
check "every line of that log is JSON" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' "$T_TMP/rdlog.log"

doc=$("$CDC_BIN" config-doc)
readme=$(sed -n '/<!-- settings:begin -->/,/<!-- settings:end -->/p' "$ROOT/README.md" | sed '1d;$d')
check_eq "README settings section matches the settings table (run tests/update-readme.sh)" "$readme" "$doc"
finish
