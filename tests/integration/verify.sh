#!/usr/bin/env bash
# verify.sh - `cdcsink verify` against real PostgreSQL: an equal replica
# exits 0 with no difference (numeric scale, json key order and spacing,
# TOASTed text, keys above 2^53 compared by value); deliberate damage in the
# warehouse (a changed value in each type family, a deleted row, an extra
# live row, a row wrongly soft-deleted, a NULL that should be a value) is
# reported exactly, key by key and column by column, exit 1; composite keys
# with quoted mixed-case names; and a replica kept by the real pipeline
# (Debezium, Kafka, cdcsink) verifies clean several times in a row while a
# workload changes the table, fenced by the pipeline's freshness
# watermark: a verify while the sink is paused longer than the recheck
# budget waits for the watermark and finds no difference (without the
# watermark the same pause gives false differences).
set -u
. "$(dirname "$0")/../lib.sh"

K=9007199254740993 # 2^53 + 1: keys a double would round
META="_cdc_position bytea, _cdc_op char(1), _cdc_source_ts timestamptz,
      _cdc_synced_at timestamptz, _cdc_deleted boolean NOT NULL DEFAULT false,
      _cdc_deleted_at timestamptz"

# copy_rows TABLE COLS: the source's rows into the warehouse table
copy_rows() {
    "$STACK" psql source -q -c "\\copy (SELECT $2 FROM $1) TO STDOUT" |
        "$STACK" psql warehouse -q -c "\\copy $1 ($2) FROM STDIN"
}

# run_verify OUT ARGS...: cdcsink verify --json into $T_TMP/OUT.json; the
# exit code in RC. With VERIFY_GROUP set, verify reads that consumer
# group's freshness watermark (its fence); else the default group, which
# never has a _cdc.progress row here.
run_verify() {
    local out=$1; shift
    "$CDC_BIN" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" \
        ${VERIFY_GROUP:+--set kafka.group.id="$VERIFY_GROUP"} verify \
        --source "$CDC_PG_SOURCE_URI" --json --recheck-ms 1500 "$@" \
        >"$T_TMP/$out.json" 2>>"$T_TMP/verify.log"
    RC=$?
}

# diffs FILE: one sorted line per difference, "kind key=value,... cols"
diffs() {
    python3 - "$1" <<'PY'
import json, sys
out = []
for line in open(sys.argv[1]):
    doc = json.loads(line)
    for d in doc["differences"]:
        key = ",".join("%s=%s" % kv for kv in d["key"].items())
        out.append("%s %s %s %s" % (doc["table"], d["kind"], key, ",".join(d["columns"])))
print("\n".join(sorted(out)))
PY
}
# field FILE NAME: a top-level field of the (first) JSON document
field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$1" "$2"; }

# ---- one table of every type family, keys above 2^53 ----
COLS="id, n, t, ts, tz, j, b, a, f, d, big"
src "DROP TABLE IF EXISTS public.vf_types;
     CREATE TABLE public.vf_types (id bigint PRIMARY KEY, n numeric(10,2), t text,
       ts timestamp(6), tz timestamptz, j json, b bytea, a int[], f boolean,
       d double precision, big text);
     ALTER TABLE public.vf_types ALTER big SET STORAGE EXTERNAL;
     INSERT INTO public.vf_types SELECT $K + g, g * 1.5, 'text ' || g,
       '2024-01-01'::timestamp + g * interval '1.000001 s',
       '2024-01-01 10:00+02'::timestamptz + g * interval '1 day',
       ('{\"b\": ' || g || ',   \"a\": [1, \"x\"]}')::json, decode(md5(g::text), 'hex'),
       ARRAY[g, -g], g % 2 = 0, g / 3.0,
       CASE WHEN g % 50 = 0 THEN (SELECT string_agg(md5(g::text || i), '')
                                  FROM generate_series(1, 300) i) END
       FROM generate_series(1, 300) g;" >/dev/null
wh "DROP TABLE IF EXISTS public.vf_types;
    CREATE TABLE public.vf_types (id bigint, n numeric, t text, ts timestamp,
      tz timestamptz, j jsonb, b bytea, a integer[], f boolean,
      d double precision, big text, $META, PRIMARY KEY (id));
    ALTER TABLE public.vf_types ALTER big SET STORAGE EXTERNAL;" >/dev/null
copy_rows public.vf_types "$COLS"
# the replica holds what Debezium gives: 1.5 for 1.50, jsonb's own form
wh "UPDATE public.vf_types SET n = trim_scale(n), _cdc_op = 'r'" >/dev/null
check_eq "the replica holds 1.5 where the source holds 1.50" \
    "$(src "SELECT n FROM public.vf_types WHERE id = $K + 1")|$(wh "SELECT n FROM public.vf_types WHERE id = $K + 1")" "1.50|1.5"
check_eq "big values are stored out of line (TOAST)" \
    "$(wh "SELECT count(*) FROM public.vf_types WHERE pg_column_size(big) > 8000")" "6"

run_verify equal --table public.vf_types
check_eq "equal replica: exit 0" "$RC" "0"
check_eq "equal replica: verdict" "$(field "$T_TMP/equal.json" verdict)" "equal"
check_eq "equal replica: no difference" "$(diffs "$T_TMP/equal.json")" ""
check_eq "equal replica: rows counted" \
    "$(field "$T_TMP/equal.json" source_rows)/$(field "$T_TMP/equal.json" replica_rows)" "300/300"

# ---- damage, one kind per key ----
wh "UPDATE public.vf_types SET n = n + 0.01 WHERE id = $K + 11;
    UPDATE public.vf_types SET t = 'changed' WHERE id = $K + 12;
    UPDATE public.vf_types SET ts = ts + interval '1 microsecond' WHERE id = $K + 13;
    UPDATE public.vf_types SET j = j || '{\"b\": 0}' WHERE id = $K + 14;
    UPDATE public.vf_types SET b = b || '\\x00' WHERE id = $K + 15;
    UPDATE public.vf_types SET a = ARRAY[15, 15] WHERE id = $K + 16;
    UPDATE public.vf_types SET f = NOT f WHERE id = $K + 17;
    UPDATE public.vf_types SET big = big || 'x' WHERE id = $K + 50;
    UPDATE public.vf_types SET t = NULL WHERE id = $K + 19;
    UPDATE public.vf_types SET t = '' WHERE id = $K + 20;
    UPDATE public.vf_types SET d = d + 1e-15 WHERE id = $K + 21;
    UPDATE public.vf_types SET tz = tz + interval '1 hour' WHERE id = $K + 22;
    DELETE FROM public.vf_types WHERE id = $K + 23;
    UPDATE public.vf_types SET _cdc_deleted = true WHERE id = $K + 24;
    INSERT INTO public.vf_types (id, t) VALUES ($K + 1000, 'extra');
    INSERT INTO public.vf_types (id, t, _cdc_deleted) VALUES ($K + 1001, 'gone', true);" >/dev/null
run_verify damaged --table public.vf_types
check_eq "damaged replica: exit 1" "$RC" "1"
check_eq "damaged replica: exactly the damaged keys and columns" \
    "$(diffs "$T_TMP/damaged.json")" \
"$(sort <<EOF
public.vf_types different id=$((K + 11)) n
public.vf_types different id=$((K + 12)) t
public.vf_types different id=$((K + 13)) ts
public.vf_types different id=$((K + 14)) j
public.vf_types different id=$((K + 15)) b
public.vf_types different id=$((K + 16)) a
public.vf_types different id=$((K + 17)) f
public.vf_types different id=$((K + 50)) big
public.vf_types different id=$((K + 19)) t
public.vf_types different id=$((K + 20)) t
public.vf_types different id=$((K + 21)) d
public.vf_types different id=$((K + 22)) tz
public.vf_types missing id=$((K + 23)) 
public.vf_types missing id=$((K + 24)) 
public.vf_types extra id=$((K + 1000)) 
EOF
)"
"$CDC_BIN" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" verify --source "$CDC_PG_SOURCE_URI" \
    --table public.vf_types --recheck-ms 0 >"$T_TMP/damaged.txt" 2>>"$T_TMP/verify.log"
check_eq "text output: exit 1" "$?" "1"
check "text output names the kind, key and columns" \
    grep -qx "  different id=$((K + 11)): n" "$T_TMP/damaged.txt"

# ---- composite key, quoted mixed-case names ----
src 'DROP SCHEMA IF EXISTS "Sales" CASCADE; CREATE SCHEMA "Sales";
     CREATE TABLE "Sales"."Order Lines" ("Region" text, "line No" int,
       "Qty" numeric(8,3), "Note" varchar(20), PRIMARY KEY ("Region", "line No"));
     INSERT INTO "Sales"."Order Lines" SELECT r, g, g, CASE WHEN g % 3 = 0 THEN $$it''s "q"$$ END
       FROM unnest(ARRAY[$$eu$$, $$us$$, $$ap, "x"$$]) r, generate_series(1, 100) g;' >/dev/null
wh "DROP SCHEMA IF EXISTS \"Sales\" CASCADE; CREATE SCHEMA \"Sales\";
    CREATE TABLE \"Sales\".\"Order Lines\" (\"Region\" text, \"line No\" int,
      \"Qty\" numeric, \"Note\" text, $META, PRIMARY KEY (\"Region\", \"line No\"));" >/dev/null
copy_rows '"Sales"."Order Lines"' '"Region", "line No", "Qty", "Note"'
run_verify mixed --table 'Sales.Order Lines'
check_eq "composite key, mixed-case names: equal, exit 0" "$RC|$(diffs "$T_TMP/mixed.json")" "0|"
wh "UPDATE \"Sales\".\"Order Lines\" SET \"Qty\" = 0 WHERE \"Region\" = 'us' AND \"line No\" = 42;
    UPDATE \"Sales\".\"Order Lines\" SET \"Note\" = NULL WHERE \"Region\" = 'ap, \"x\"' AND \"line No\" = 3;
    DELETE FROM \"Sales\".\"Order Lines\" WHERE \"Region\" = 'eu' AND \"line No\" = 7;" >/dev/null
run_verify mixed2 --table 'Sales.Order Lines'
check_eq "composite key: exit 1" "$RC" "1"
check_eq "composite key: the keys as row values, the columns by name" \
    "$(diffs "$T_TMP/mixed2.json")" \
"Sales.Order Lines different Region=ap, \"x\",line No=3 Note
Sales.Order Lines different Region=us,line No=42 Qty
Sales.Order Lines missing Region=eu,line No=7 "

# ---- a table large enough for bucket edges (sampled, analyzed), text key ----
src "DROP TABLE IF EXISTS public.vf_many;
     CREATE TABLE public.vf_many (k text PRIMARY KEY, v int, w text);
     INSERT INTO public.vf_many SELECT 'key \"' || lpad(g::text, 6, '0') || E'\\\\', g,
       CASE WHEN g % 7 = 0 THEN NULL ELSE md5(g::text) END
       FROM generate_series(1, 40000) g;
     ANALYZE public.vf_many;" >/dev/null
wh "DROP TABLE IF EXISTS public.vf_many;
    CREATE TABLE public.vf_many (k text PRIMARY KEY, v int, w text, $META);" >/dev/null
copy_rows public.vf_many "k, v, w"
wh "ANALYZE public.vf_many" >/dev/null
run_verify many_equal --table public.vf_many
check_eq "40k rows in buckets: equal, exit 0" \
    "$RC|$(diffs "$T_TMP/many_equal.json")|$(field "$T_TMP/many_equal.json" replica_rows)" "0||40000"
wh "UPDATE public.vf_many SET v = -v WHERE k = 'key \"000001\\';
    UPDATE public.vf_many SET w = NULL WHERE k = 'key \"020002\\';
    DELETE FROM public.vf_many WHERE k = 'key \"039999\\';
    UPDATE public.vf_many SET _cdc_deleted = true WHERE k = 'key \"030003\\';
    INSERT INTO public.vf_many (k, v) VALUES ('key \"025000x', 1), ('zzz', 2);" >/dev/null
run_verify many_damaged --table public.vf_many
check_eq "40k rows in buckets: exactly the damaged keys and columns" \
    "$RC|$(diffs "$T_TMP/many_damaged.json")" \
"1|public.vf_many different k=key \"000001\\ v
public.vf_many different k=key \"020002\\ w
public.vf_many extra k=key \"025000x 
public.vf_many extra k=zzz 
public.vf_many missing k=key \"030003\\ 
public.vf_many missing k=key \"039999\\ "

# ---- a replica kept by the real pipeline, verified under a workload ----
P=vf$(date +%s)
seed_table vf_live 500
wh "DROP TABLE IF EXISTS public.vf_live" >/dev/null
capture "$P" 'public\.vf_live'
start_sink sink "^$P\\.public\\.vf_live" "$P"
Q_SRC="SELECT id, n, v FROM public.vf_live ORDER BY id"
Q_WH="SELECT id, n, v FROM public.vf_live WHERE NOT _cdc_deleted ORDER BY id"
check "snapshot reaches the warehouse" wait_until 120 same_rows "$Q_SRC" "$Q_WH"
VERIFY_GROUP=$P
churn vf_live 1 100000 7 3 0.02 &
CHURN=$!
sleep 2
clean=0
for i in 1 2 3 4 5; do
    run_verify "live$i" --table public.vf_live --recheck-ms 10000
    [ "$RC" = 0 ] && [ -z "$(diffs "$T_TMP/live$i.json")" ] && clean=$((clean + 1))
done

# paused_verify OUT GROUP [still]: the sink stopped (SIGSTOP) while the
# workload commits, a verify (recheck budget 1.5 s) started 2 s into the
# pause, the sink resumed 5 s after that; RC and $T_TMP/OUT.json as
# run_verify's. still: the workload is stopped too for the verify, so what
# the sink missed stays put (a workload that keeps moving every row makes
# the stable rule call them all in flight, however late the replica is)
paused_verify() {
    kill -STOP "$SINK_PID"
    sleep 2
    if [ -n "${3:-}" ]; then kill -STOP "$CHURN"; sleep 0.5; fi
    (VERIFY_GROUP=$2; run_verify "$1" --table public.vf_live --recheck-ms 1500
     echo "$RC" >"$T_TMP/$1.rc") &
    local v=$!
    sleep 5
    kill -CONT "$SINK_PID"
    wait "$v"
    kill -CONT "$CHURN"
    RC=$(cat "$T_TMP/$1.rc")
}
paused_verify paused_nofence "" still
nd=$(diffs "$T_TMP/paused_nofence.json" | grep -c .)
check_eq "paused sink, no watermark: false differences (stable re-reads)" \
    "$RC|$(field "$T_TMP/paused_nofence.json" recheck_rule)|$((nd > 0))" "1|stable|1"
paused_verify paused "$P"
check_eq "paused sink, watermark fence: zero differences" \
    "$RC|$(diffs "$T_TMP/paused.json")" "0|"
check "it waited for the watermark past the recheck budget" python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).readline())
sys.exit(not (d["seconds"] > 4 and d["rechecked"] > 0
              and d["recheck_rule"] in ("watermark", "none")))' "$T_TMP/paused.json"
kill "$CHURN" 2>/dev/null
wait "$CHURN" 2>/dev/null
check_eq "under a workload: five runs in a row, zero differences" "$clean" "5"
check "the workload changed the table meanwhile" \
    test "$(src "SELECT count(*) FROM public.vf_live WHERE id > 1000")" -gt 20
check "settled candidates were re-read, not reported" \
    test -n "$(cat "$T_TMP"/live*.json | grep -o '"settled":[0-9]*')"
check "caught up after the workload" wait_until 60 same_rows "$Q_SRC" "$Q_WH"
run_verify after --table public.vf_live
check_eq "after the workload: exit 0" "$RC|$(diffs "$T_TMP/after.json")" "0|"
wh "UPDATE public.vf_live SET v = 'damaged' WHERE id = 5" >/dev/null
run_verify live_damaged --table public.vf_live
check_eq "pipeline replica damaged: the damaged key" \
    "$RC|$(diffs "$T_TMP/live_damaged.json")" "1|public.vf_live different id=5 v"
check_eq "idle source: the watermark given up after the recheck budget" \
    "$(field "$T_TMP/live_damaged.json" recheck_rule)" "stable-idle"

stop_sink "$SINK_PID" >/dev/null
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
src "DROP TABLE IF EXISTS public.vf_types, public.vf_live, public.vf_many; DROP SCHEMA IF EXISTS \"Sales\" CASCADE" >/dev/null
finish
