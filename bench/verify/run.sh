#!/usr/bin/env bash
# bench/verify/run.sh [ROWS] - cdcsink verify on a ROWS-row table (default
# 10M) generated in the source and copied to the warehouse, with 0, 10 and
# 10,000 differing rows, against the floor: one plain SELECT per side (run
# at the same time) that hashes every row in SQL, i.e. reading the data
# once. Prints wall time, peak RSS and rows/s; not a test (bench/README).
#
# Uses the stack's PostgreSQL only (docker/stack/stack.sh start postgres,
# stopped again at the end if this script started it). CDC_STACK_DIR,
# CDC_PG_PORT and CDC_CACHE_DIR as for the stack; CDC_BIN = the binary.
set -euo pipefail
ROWS=${1:-10000000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STACK="$ROOT/docker/stack/stack.sh"
BIN=${CDC_BIN:-$ROOT/build/release/cdcsink}
RECHECK_MS=${BENCH_RECHECK_MS:-1000}
T=public.bench_verify
COLS="id, n, v, ts, j, b"

started=0
if ! { "$STACK" status 2>/dev/null || true; } | grep -q '^postgres *running'; then
    "$STACK" start postgres >/dev/null
    started=1
fi
trap '[ $started = 1 ] && "$STACK" down >/dev/null 2>&1' EXIT
eval "$("$STACK" env)"
src() { "$STACK" psql source -q -At -c "SET client_min_messages = warning" -c "$1"; }
wh() { "$STACK" psql warehouse -q -At -c "SET client_min_messages = warning" -c "$1"; }

echo "== preparing $ROWS rows"
src "DROP TABLE IF EXISTS $T;
     CREATE TABLE $T (id bigint PRIMARY KEY, n numeric(12,2), v text,
       ts timestamptz, j jsonb, b boolean);
     INSERT INTO $T SELECT g, g * 0.25, 'value ' || g,
       '2024-01-01'::timestamptz + g * interval '1 second',
       jsonb_build_object('k', g % 100, 'tag', 't' || g % 7), g % 2 = 0
       FROM generate_series(1, $ROWS) g;"
src "VACUUM ANALYZE $T"
wh "DROP TABLE IF EXISTS $T;
    CREATE TABLE $T (id bigint PRIMARY KEY, n numeric, v text,
      ts timestamptz, j jsonb, b boolean, _cdc_position bytea, _cdc_op char(1),
      _cdc_source_ts timestamptz, _cdc_synced_at timestamptz,
      _cdc_deleted boolean NOT NULL DEFAULT false, _cdc_deleted_at timestamptz)
      WITH (fillfactor = 90);"
"$STACK" psql source -q -c "\\copy (SELECT $COLS FROM $T) TO STDOUT" |
    "$STACK" psql warehouse -q -c "\\copy $T ($COLS) FROM STDIN"
wh "UPDATE $T SET _cdc_op = 'r', _cdc_synced_at = now()"
wh "VACUUM ANALYZE $T"

# floor: both sides read and hash every row once, at the same time
floor_q() {
    echo "SELECT count(*), sum(('x' || left(md5(ROW($COLS)::text), 16))::bit(64)::int8)
          FROM $T $1"
}
floor() {
    local t0=$EPOCHREALTIME
    src "$(floor_q '')" >/dev/null &
    wh "$(floor_q 'WHERE NOT _cdc_deleted')" >/dev/null
    wait
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

# run_verify LABEL: wall seconds, peak RSS and the difference count
run_verify() {
    local out rc
    out=$(mktemp)
    set +e
    /usr/bin/time -f '%e %M' -o "$out.time" "$BIN" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" \
        verify --source "$CDC_PG_SOURCE_URI" --table "$T" --json --quiet \
        --recheck-ms "$RECHECK_MS" >"$out" 2>"$out.err"
    rc=$?
    set -e
    read -r wall rss < <(tail -n 1 "$out.time")
    ndiff=$(grep -o '"kind"' "$out" | wc -l || true)
    printf '%-16s %8.2f s %8.2fx floor %9.0f rows/s %7d KB RSS  exit %d  %d differences\n' \
        "$1" "$wall" "$(awk -v a="$wall" -v b="$FLOOR" 'BEGIN { print a / b }')" \
        "$(awk -v a="$wall" -v n="$ROWS" 'BEGIN { print n / a }')" "$rss" "$rc" "$ndiff"
    rm -f "$out" "$out.time" "$out.err"
}

# damage N: N rows of the replica get another value (spread over the keys)
damage() {
    wh "UPDATE $T SET v = v || ' damaged' WHERE id IN
        (SELECT (g * ($ROWS / $1))::bigint FROM generate_series(1, $1) g)"
}
repair() {
    wh "UPDATE $T SET v = 'value ' || id WHERE v LIKE '% damaged'"
    wh "VACUUM $T"
}

echo "== runs (recheck budget $RECHECK_MS ms)"
FLOOR=$(floor)
printf '%-16s %8.2f s %8s       %9.0f rows/s\n' "floor" "$FLOOR" "1.00x" \
    "$(awk -v a="$FLOOR" -v n="$ROWS" 'BEGIN { print n / a }')"
run_verify "equal"
damage 10 && run_verify "10 differ" && repair
damage 10000 && run_verify "10000 differ" && repair
FLOOR2=$(floor)
printf '%-16s %8.2f s (floor again, after the runs)\n' "floor" "$FLOOR2"
src "DROP TABLE $T"
wh "DROP TABLE $T"
