#!/usr/bin/env bash
# demo.sh - `make demo`: starts the local stack (installing what is missing),
# creates a sample shop in the source database, registers a Debezium
# connector, runs cdcsink while a changing workload runs, shows live progress
# on one line, waits until the replica holds every change committed at the
# source before the workload stopped (a marker row through Debezium, then
# the Kafka end offsets in _cdc.offsets), then verifies every table with
# `cdcsink verify` (source rows, live replica rows, soft-deleted rows, the
# verdict and any differing keys). Leaves the stack running for exploration
# (make stack-down). Exit 0 only when every table is equal.
#
# Environment: DEMO_SECONDS (workload length, 60), DEMO_CATCHUP_SECONDS
# (longest wait for the replica after it, 300), CDC_BIN (the binary), and
# the stack's own (CDC_STACK_DIR, CDC_*_PORT: docker/stack/env.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
STACK=docker/stack/stack.sh
SECONDS_TOTAL=${DEMO_SECONDS:-60}
CATCHUP=${DEMO_CATCHUP_SECONDS:-300}
GROUP=shop-demo
BIN=${CDC_BIN:-$ROOT/cdcsink}
TABLES=(customers products orders order_items promo_codes)

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }

say "starting the local stack (first run installs packages and jars)"
$STACK up | sed 's/^/    /'
eval "$($STACK env)"
RUN="$CDC_STACK_DIR/demo"
mkdir -p "$RUN"

say "creating the sample shop in database 'source'"
$STACK connector remove shop >/dev/null 2>&1 || true
$STACK psql source -f docker/demo/shop.sql >/dev/null
$STACK psql warehouse -c "DROP TABLE IF EXISTS public.customers, public.products,
  public.orders, public.order_items, public.promo_codes, public.demo_marker,
  public.debezium_signal;
  DELETE FROM _cdc.offsets WHERE \"group\" = '$GROUP'" >/dev/null 2>&1 || true
# a rerun keeps the old topics: the group's committed offsets skip them and
# the new connector's snapshot refills the dropped tables. The connector is
# the stack's base configuration plus docker/demo/connector.properties: the
# configuration the README recommends.
mapfile -t CONNECTOR_SETTINGS < <(grep -Ev '^[[:space:]]*(#|$)' docker/demo/connector.properties)
# Demo only: a rerun dropped the slot above while Connect kept the
# connector's offsets, which point into WAL the new slot no longer has;
# when_needed makes Debezium snapshot again instead of failing.
CONNECTOR_SETTINGS+=(snapshot.mode=when_needed)
$STACK connector add shop shop on "${CONNECTOR_SETTINGS[@]}" >/dev/null

say "running cdcsink (log: $RUN/cdcsink.log)"
"$BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" \
    --set kafka.group.id=$GROUP --set topics='^shop\.public\..*' \
    --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" --set dlq.topic=shop.dlq \
    --set redis.url="$CDC_REDIS_URL" \
    run >"$RUN/cdcsink.log" 2>&1 &
SINK=$!
trap 'kill -TERM $SINK 2>/dev/null; wait $SINK 2>/dev/null' EXIT

# end_offsets: "topic partition end" for every partition of the shop's
# topics (shop.public.*), from the broker
end_offsets() {
    local args=()
    mapfile -t args < <(kcat -b "$CDC_KAFKA_BOOTSTRAP" -L -m 10 2>/dev/null | awk '
        /^  topic "/ { t = $2; gsub(/"/, "", t); on = (t ~ /^shop\.public\./); next }
        on && $1 == "partition" { sub(",", "", $2); print "-t"; print t ":" $2 ":-1" }')
    ((${#args[@]})) || return 0
    kcat -b "$CDC_KAFKA_BOOTSTRAP" -Q -m 10 "${args[@]}" 2>/dev/null |
        awk '$3 == "offset" { p = $2; gsub(/[][]/, "", p); print $1, p, $4 }'
}
# applied_offsets: "topic partition next_offset" the group has applied
applied_offsets() {
    $STACK psql warehouse -At -F ' ' -c "SELECT topic, partition, next_offset FROM _cdc.offsets
        WHERE \"group\" = '$GROUP'" 2>/dev/null || true
}
applied_total() {
    $STACK psql warehouse -At -c "SELECT coalesce(sum(next_offset), 0) FROM _cdc.offsets
        WHERE \"group\" = '$GROUP'" 2>/dev/null || echo 0
}
# behind END_FILE: the partitions whose applied offset is below the end
# offset in END_FILE, as "topic[partition] applied A of E", one per line
behind() {
    awk 'NR == FNR { a[$1 " " $2] = $3; next }
         { k = $1 " " $2; have = (k in a) ? a[k] : 0
           if (have < $3) printf "%s[%s] applied %d of %d\n", $1, $2, have, $3 }' \
        <(applied_offsets) "$1"
}
LAST_APPLIED=0 LAST_AT=0 RATE=0
progress() { # WHAT: one line, rewritten in place
    local applied dl
    applied=$(applied_total)
    if [ "$SECONDS" -gt "$LAST_AT" ]; then # events/s since the last whole second
        RATE=$(( (applied - LAST_APPLIED) / (SECONDS - LAST_AT) ))
        LAST_APPLIED=$applied LAST_AT=$SECONDS
    fi
    dl=$(grep -c 'dead-lettered' "$RUN/cdcsink.log" 2>/dev/null || true)
    printf '\r\033[K    %3ds  applied %7d events  %6d ev/s  dead letters %s  %s' \
        "$SECONDS" "$applied" "$RATE" "${dl:-0}" "$1"
}
# caught_up: waits (at most $CATCHUP s) until the replica holds every change
# committed at the source so far; on a timeout says what is behind, fails
caught_up() {
    local token deadline ends left
    token="demo-$(date +%s%N)"
    $STACK psql source -c "INSERT INTO demo_marker (token) VALUES ('$token')" >/dev/null
    deadline=$((SECONDS + CATCHUP))
    # 1. the marker in the warehouse: Debezium reads the WAL in order, so
    #    every change committed before it has been produced to Kafka
    until [ "$($STACK psql warehouse -At -c "SELECT count(*) FROM public.demo_marker
              WHERE token = '$token'" 2>/dev/null)" = 1 ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo
            if kcat -b "$CDC_KAFKA_BOOTSTRAP" -C -e -q -t shop.public.demo_marker 2>/dev/null | grep -q "$token"; then
                say "cdcsink has not applied the marker row after ${CATCHUP}s although Debezium produced it: see $RUN/cdcsink.log"
            else
                say "Debezium has not produced the marker row after ${CATCHUP}s: the connector is behind the source (stack.sh connector status shop; $CDC_STACK_DIR/logs/connect.log)"
            fi
            return 1
        fi
        progress "waiting for the marker row: Debezium still reading the source's WAL"
        sleep 1
    done
    # 2. the group's applied offsets (_cdc.offsets) at the end offsets taken
    #    now: every produced change is in the warehouse
    ends="$RUN/end-offsets"
    end_offsets >"$ends"
    while left=$(behind "$ends"); [ -n "$left" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo
            say "cdcsink has not applied every produced change after ${CATCHUP}s; behind in _cdc.offsets:"
            sed 's/^/    /' <<<"$left"
            return 1
        fi
        progress "waiting for cdcsink: $(wc -l <<<"$left") partitions below their end offsets"
        sleep 1
    done
    progress "caught up: marker applied, every partition at its end offset"
}

say "workload: inserts, updates (TOAST-unchanged too), deletes, one truncate, for ${SECONDS_TOTAL}s"
SECONDS=0 step=0
while [ "$SECONDS" -lt "$SECONDS_TOTAL" ]; do
    step=$((step + 1))
    $STACK psql source -v step="$step" -f docker/demo/workload.sql >/dev/null
    progress "workload step $step"
    sleep 0.4
done
# at least the truncate step, however short the run
if [ "$step" -lt 40 ]; then
    $STACK psql source -v step=40 -f docker/demo/workload.sql >/dev/null
fi
echo
say "waiting until the replica holds every change committed before the workload stopped (at most ${CATCHUP}s)"
if ! caught_up; then
    kill -TERM $SINK; wait $SINK || true; trap - EXIT
    say "no verdict: the replica did not catch up"
    exit 1
fi
echo

# The verdict is `cdcsink verify`: each side hashes its rows in SQL, in one
# canonical text form, and only ranges that differ are searched further
say "verification: cdcsink verify --source <source database> (every demo table)"
VERIFY_ARGS=()
for t in "${TABLES[@]}"; do VERIFY_ARGS+=(--table "public.$t"); done
vrc=0
"$BIN" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" verify --source "$CDC_PG_SOURCE_URI" \
    "${VERIFY_ARGS[@]}" --quiet >"$RUN/verify.txt" 2>"$RUN/verify.log" || vrc=$?
printf '    %-12s %12s %12s %12s  %s\n' table "source rows" "live rows" "soft-deleted" "verdict"
for t in "${TABLES[@]}"; do
    # "public.T: equal (source N rows, replica N live rows, ...)"
    line=$(grep "^public\.$t: " "$RUN/verify.txt" || true)
    verdict=$(sed -E 's/^[^:]*: ([A-Za-z]+) .*/\1/' <<<"$line")
    src_rows=$(sed -E 's/.*\(source ([0-9]+) rows.*/\1/' <<<"$line")
    live=$(sed -E 's/.*replica ([0-9]+) live rows.*/\1/' <<<"$line")
    del=$($STACK psql warehouse -At -c "SELECT count(*) FROM public.$t WHERE _cdc_deleted" 2>/dev/null || echo "?")
    printf '    %-12s %12s %12s %12s  %s\n' "$t" "${src_rows:-?}" "${live:-?}" "$del" "${verdict:-no verdict}"
done
# the differing keys and columns, as verify reports them
grep '^  ' "$RUN/verify.txt" | sed 's/^/  /' || true

kill -TERM $SINK; wait $SINK || true; trap - EXIT
echo
bad=0
if [ "$vrc" -eq 0 ]; then
    say "every table is equal"
elif [ "$vrc" -eq 1 ]; then
    bad=1; say "some tables differ (above): see $RUN/cdcsink.log"
else
    bad=1; say "cdcsink verify failed (exit $vrc): $(tail -n 1 "$RUN/verify.log")"
fi
cat <<EOT

next:
  psql '$CDC_PG_WAREHOUSE_URI' -c 'SELECT id, status, _cdc.position(_cdc_position), _cdc_deleted FROM orders ORDER BY id DESC LIMIT 5'
  psql '$CDC_PG_SOURCE_URI'    -c "UPDATE products SET price = 1 WHERE id = 1"   # then run cdcsink again
  $BIN decode --topic shop.public.products --set kafka.bootstrap.servers=$CDC_KAFKA_BOOTSTRAP | head -3
  make stack-down
EOT
exit "$bad"
