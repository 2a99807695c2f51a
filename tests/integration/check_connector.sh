#!/usr/bin/env bash
# check_connector.sh - `cdcsink check --connect-url` against the test
# stack's real Kafka Connect: a Debezium connector registered with the
# converter defaults (replace.null.with.default not set) fails naming that
# setting and warns of what cdcsink resync lacks (signal table, sink
# notifications); one registered as cdcsink wants passes with nothing to say; the
# stack's (and the demo's) connector passes; Connect unreachable exits 2.
set -u
. "$(dirname "$0")/../lib.sh"

P=chk$(date +%s)
BAD=${P}-defaults GOOD=${P}-good
URL=$CDC_CONNECT_URL

# check ARGS...: runs `cdcsink check --connect-url URL ARGS...`; sets RC,
# OUT (stdout) and ERR (stderr)
run_check() {
    "$CDC_BIN" check --connect-url "$URL" "$@" >"$T_TMP/out" 2>"$T_TMP/err"
    RC=$?
    OUT=$(cat "$T_TMP/out") ERR=$(cat "$T_TMP/err")
}

# The connector with Kafka Connect's defaults for everything cdcsink cares
# about: no converters of its own (the worker's JsonConverter, whose
# replace.null.with.default is true by default), truncates skipped.
# Registered with a plain PUT: `stack.sh connector add` always sets the
# stack's converter settings. Check reads the configuration only, so it
# need not stream; `connector remove` drops its slot and publication.
bad_config=$(printf '{"connector.class":"io.debezium.connector.postgresql.PostgresConnector",
 "tasks.max":"1","plugin.name":"pgoutput","database.hostname":"127.0.0.1",
 "database.port":"%s","database.user":"postgres","database.dbname":"source",
 "topic.prefix":"%s","schema.include.list":"public","slot.name":"dbz_%s",
 "publication.name":"dbz_pub_%s","publication.autocreate.mode":"all_tables"}' \
    "$CDC_PG_PORT" "$P" "${BAD//-/_}" "${BAD//-/_}")
code=$(curl -s -o "$T_TMP/put.out" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    --data-binary "$bad_config" "$URL/connectors/$BAD/config")
check_eq "a connector with the converter defaults is registered" "$code" "201"

run_check --connector "$BAD"
check_eq "the defaults' connector: exit 1" "$RC" "1"
case "$OUT" in
*"error  value.converter.replace.null.with.default=true (default): a NULL in the source is written as the column's DEFAULT; set it to false"*)
    ok "the report names value.converter.replace.null.with.default and the value to set" ;;
*) fail "no replace.null.with.default error in: $OUT" ;;
esac
case "$OUT" in
*"warn   skipped.operations=t (default): truncates are not replicated; set it to none"*)
    ok "the report warns that truncates are skipped" ;;
*) fail "no skipped.operations warning in: $OUT" ;;
esac
# what cdcsink resync needs: each missing setting named with its fix
case "$OUT" in
*"warn   signal.data.collection (not set): cdcsink resync is unavailable: PostgreSQL's incremental snapshot writes its watermarks into the signal table; set it to a signal table (e.g. public.debezium_signal) that exists in the captured database and in the publication"*)
    ok "the report warns that resync lacks the signal table" ;;
*) fail "no signal.data.collection warning in: $OUT" ;;
esac
case "$OUT" in
*"warn   notification.enabled.channels (not set): cdcsink resync cannot see the incremental snapshot start, progress and complete (it follows the sink channel's topic); add sink to it and set notification.sink.topic.name"*)
    ok "the report warns that resync lacks the sink notifications" ;;
*) fail "no notification.enabled.channels warning in: $OUT" ;;
esac

# The connector as cdcsink wants it: the stack's settings plus every feature.
"$STACK" connector add "$GOOD" "${P}good" on heartbeat.interval.ms=10000 \
    provide.transaction.metadata=true signal.data.collection=public.debezium_signal \
    notification.enabled.channels=sink "notification.sink.topic.name=${P}good.notifications" \
    key.converter.replace.null.with.default=false datatype.propagate.source.type=.+ \
    >>"$T_TMP/connector.log" 2>&1 && ok "a connector configured for cdcsink streams" ||
    fail "connector add $GOOD (see $T_TMP/connector.log)"
run_check --connector "$GOOD"
check_eq "the good connector: exit 0, nothing to report" "$RC:$OUT" \
    "0:connector $GOOD: 0 errors, 0 warnings, 0 info"

# the stack's default connector is registered as the demo's: no error
run_check --connector cdc-source
check_eq "the stack's connector (the demo's configuration): exit 0" "$RC" "0"
case "$OUT" in *"error  "*) fail "errors for cdc-source: $OUT" ;;
*) ok "the stack's connector has warnings at most" ;; esac

# without --connector: every PostgreSQL connector, the worst decides
run_check
check_eq "every connector checked: exit 1 (one has an error)" "$RC" "1"
for c in "$BAD" "$GOOD" cdc-source; do
    case "$OUT" in *"connector $c: "*) ok "checked $c" ;; *) fail "$c not checked: $OUT" ;; esac
done

# what is not there
run_check --connector "${P}-nosuch"
check_eq "an unknown connector: exit 2" "$RC" "2"
case "$ERR" in *"answered 404"*"${P}-nosuch"*) ok "names the 404 and the connector" ;;
*) fail "unknown connector: $ERR" ;; esac
URL=http://127.0.0.1:1
run_check
check_eq "Connect unreachable: exit 2" "$RC" "2"
case "$ERR" in *"cannot reach Kafka Connect at http://127.0.0.1:1"*) ok "the message names the URL" ;;
*) fail "unreachable: $ERR" ;; esac

"$STACK" connector remove "$BAD" >>"$T_TMP/connector.log" 2>&1 || fail "connector remove $BAD"
"$STACK" connector remove "$GOOD" >>"$T_TMP/connector.log" 2>&1 || fail "connector remove $GOOD"
finish
