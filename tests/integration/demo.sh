#!/usr/bin/env bash
# demo.sh - `make demo` end to end, short: docker/demo/demo.sh on the test
# stack (DEMO_SECONDS small) must wait until the replica has every change
# (marker row, then the Kafka end offsets in _cdc.offsets), find every
# table equal, and exit 0. Leaves the shop connector removed.
set -u
. "$(dirname "$0")/../lib.sh"

OUT=$T_TMP/demo.log
start=$SECONDS
DEMO_SECONDS=${CDC_TEST_DEMO_SECONDS:-12} DEMO_CATCHUP_SECONDS=120 \
    "$ROOT/docker/demo/demo.sh" >"$OUT" 2>&1
rc=$?
# the progress line rewrites itself with \r: keep what a terminal shows last
tr '\r' '\n' <"$OUT" | sed 's/\x1b\[[0-9;]*[mK]//g' >"$T_TMP/screen.log"
echo "demo ran $((SECONDS - start)) s"
check_eq "demo exits 0" "$rc" "0"
check "it waited for the marker row and the end offsets" \
    grep -q 'caught up: marker applied, every partition at its end offset' "$T_TMP/screen.log"
for t in customers products orders order_items promo_codes; do
    check "$t is equal" grep -Eq "^    $t +[0-9]+ +[0-9]+ +[0-9]+  equal\$" "$T_TMP/screen.log"
done
check "verdict: every table is equal" grep -q 'every table is equal' "$T_TMP/screen.log"
check_eq "the workload truncated promo_codes (step 40 ran)" \
    "$(src "SELECT string_agg(code, ',' ORDER BY code) FROM promo_codes")" "AFTER,TRUNCATE"
check "the connector has the recommended settings (heartbeat, signal table)" \
    grep -q '"signal.data.collection":"public.debezium_signal"' \
    <(curl -s "$CDC_CONNECT_URL/connectors/shop/config")
"$STACK" connector remove shop >>"$T_TMP/connector.log" 2>&1
[ "$T_FAILED" -eq 0 ] || { echo "--- demo output"; tail -n 40 "$T_TMP/screen.log"; }
finish
