#!/usr/bin/env bash
# demo.sh - `make demo`: starts the local stack (installing what is missing),
# creates a sample shop in the source database, registers a Debezium
# connector, runs cdcsink while a changing workload runs, shows live progress
# on one line, then verifies every table: source rows, live replica rows,
# soft-deleted rows, and whether a checksum of the source equals the
# replica's. Leaves the stack running for exploration (make stack-down).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
STACK=docker/stack/stack.sh
SECONDS_TOTAL=${DEMO_SECONDS:-60}
BIN=${CDC_BIN:-$ROOT/cdcsink}
TABLES=(customers products orders order_items promo_codes)
KEYS=(id id id "order_id, line_no" code)

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
  public.orders, public.order_items, public.promo_codes;
  DELETE FROM _cdc.offsets WHERE \"group\" = 'shop-demo'" >/dev/null 2>&1 || true
# a rerun keeps the old topics: the group's committed offsets skip them and
# the new connector's snapshot refills the dropped tables
$STACK connector add shop shop on >/dev/null

say "running cdcsink (log: $RUN/cdcsink.log)"
"$BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" \
    --set kafka.group.id=shop-demo --set topics='^shop\.public\..*' \
    --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" --set dlq.topic=shop.dlq \
    --set redis.url="$CDC_REDIS_URL" \
    run >"$RUN/cdcsink.log" 2>&1 &
SINK=$!
trap 'kill -TERM $SINK 2>/dev/null; wait $SINK 2>/dev/null' EXIT

end_offsets() { # sum of the shop topics' end offsets
    local args=() t
    for t in "${TABLES[@]}"; do args+=(-t "shop.public.$t:0:-1"); done
    kcat -b "$CDC_KAFKA_BOOTSTRAP" -Q "${args[@]}" 2>/dev/null |
        awk '{s += $NF} END {print s + 0}'
}
applied_offsets() {
    $STACK psql warehouse -At -c "SELECT coalesce(sum(next_offset), 0) FROM _cdc.offsets
        WHERE \"group\" = 'shop-demo'" 2>/dev/null || echo 0
}
progress() { # one line, rewritten in place
    local now applied end rate dl
    applied=$(applied_offsets); end=$(end_offsets)
    rate=$(( (applied - LAST_APPLIED) * 10 / ${1:-10} ))
    LAST_APPLIED=$applied
    dl=$(grep -c 'dead-lettered' "$RUN/cdcsink.log" 2>/dev/null || true)
    printf '\r    %3ds  applied %7d events  %6d ev/s  lag %6d  dead letters %s   ' \
        "$SECONDS" "$applied" "$rate" "$((end > applied ? end - applied : 0))" "${dl:-0}"
}

say "workload: inserts, updates (TOAST-unchanged too), deletes, one truncate, for ${SECONDS_TOTAL}s"
SECONDS=0 LAST_APPLIED=0 step=0
while [ "$SECONDS" -lt "$SECONDS_TOTAL" ]; do
    step=$((step + 1))
    $STACK psql source -v step="$step" -f docker/demo/workload.sql >/dev/null
    progress 5
    sleep 0.4
done
# at least the truncate step, however short the run
if [ "$step" -lt 40 ]; then
    $STACK psql source -v step=40 -f docker/demo/workload.sql >/dev/null
fi
echo
say "waiting for the replica to catch up"
for _ in $(seq 1 120); do
    [ "$(applied_offsets)" -ge "$(end_offsets)" ] && break
    progress 10; sleep 1
done
echo

checksum() { # DB TABLE KEY WHERE
    $STACK psql "$1" -At -c "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY $3)), '-')
        FROM (SELECT $4 FROM public.$2 $5) t" 2>/dev/null
}
say "verification"
printf '    %-12s %12s %12s %12s  %s\n' table "source rows" "live rows" "soft-deleted" "checksum"
bad=0
for i in "${!TABLES[@]}"; do
    t=${TABLES[$i]} k=${KEYS[$i]}
    cols=$($STACK psql source -At -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
        FROM pg_attribute WHERE attrelid = 'public.$t'::regclass AND attnum > 0 AND NOT attisdropped")
    s=$(checksum source "$t" "$k" "$cols" "")
    w=$(checksum warehouse "$t" "$k" "$cols" "WHERE NOT _cdc_deleted")
    del=$($STACK psql warehouse -At -c "SELECT count(*) FROM public.$t WHERE _cdc_deleted" 2>/dev/null || echo "?")
    if [ -n "$s" ] && [ "$s" == "$w" ]; then verdict="equal"; else verdict="DIFFERENT"; bad=1; fi
    printf '    %-12s %12s %12s %12s  %s\n' "$t" "${s%% *}" "${w%% *}" "$del" "$verdict"
done

kill -TERM $SINK; wait $SINK || true; trap - EXIT
echo
if [ "$bad" -eq 0 ]; then say "every table is equal"; else say "some tables differ: see $RUN/cdcsink.log"; fi
cat <<EOT

next:
  psql '$CDC_PG_WAREHOUSE_URI' -c 'SELECT id, status, _cdc.position(_cdc_position), _cdc_deleted FROM orders ORDER BY id DESC LIMIT 5'
  psql '$CDC_PG_SOURCE_URI'    -c "UPDATE products SET price = 1 WHERE id = 1"   # then run cdcsink again
  $BIN decode --topic shop.public.products --set kafka.bootstrap.servers=$CDC_KAFKA_BOOTSTRAP | head -3
  make stack-down
EOT
exit "$bad"
