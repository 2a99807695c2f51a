#!/usr/bin/env bash
# routing.sh - target.table and target.map with real Debezium: the child
# partitions of a partitioned source table (Debezium names the child)
# routed by a target.map pattern into one warehouse table equal to the
# partitioned source, through updates, deletes and a row moving between
# partitions; two source tables reaching one table through target.table
# (no map entry) refused: the second one's records dead-lettered naming
# both sources; a target.table without ${table} refused at start.
set -u
. "$(dirname "$0")/../lib.sh"

P=rt$(date +%s)
src "DROP TABLE IF EXISTS public.rt_orders; DROP SCHEMA IF EXISTS rt_a, rt_b CASCADE;
     CREATE TABLE public.rt_orders (id int, month date, amount numeric(10,2), note text,
       PRIMARY KEY (id, month)) PARTITION BY RANGE (month);
     CREATE TABLE public.rt_orders_2024_01 PARTITION OF public.rt_orders
       FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
     CREATE TABLE public.rt_orders_2024_02 PARTITION OF public.rt_orders
       FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
     INSERT INTO public.rt_orders SELECT g, date '2024-01-01' + (g % 59), g * 1.25, 'n' || g
       FROM generate_series(1, 200) g;
     CREATE SCHEMA rt_a; CREATE SCHEMA rt_b;
     CREATE TABLE rt_a.rt_same (id int PRIMARY KEY, v text);
     CREATE TABLE rt_b.rt_same (id int PRIMARY KEY, v text);
     INSERT INTO rt_a.rt_same VALUES (1, 'a');" >/dev/null
wh "DROP TABLE IF EXISTS public.rt_orders, public.rt_orders_2024_01, public.rt_orders_2024_02;
    DROP SCHEMA IF EXISTS rtc CASCADE" >/dev/null 2>&1
"$STACK" topic-create "$P.dlq" 1 >/dev/null 2>&1
"$STACK" topic-create "$P-c.dlq" 1 >/dev/null 2>&1

"$STACK" connector add "$P" "$P" on \
    schema.include.list='public,rt_a,rt_b' \
    table.include.list='public\.rt_orders_.*,rt_a\.rt_same,rt_b\.rt_same' \
    >"$T_TMP/connector.log" 2>&1 \
    && ok "connector registered" || fail "connector add (see $T_TMP/connector.log)"
start_sink sink "^$P\\.public\\.rt_orders_.*" "$P" \
    --set target.map='public\.rt_orders_[0-9]{4}_[0-9]{2}=public.rt_orders'

Q_SRC="SELECT id, month, amount, note FROM public.rt_orders ORDER BY id, month"
Q_WH="SELECT id, month, amount, note FROM public.rt_orders WHERE NOT _cdc_deleted ORDER BY id, month"
check "partitions: the snapshot of both children lands in one table" wait_until 120 same_rows "$Q_SRC" "$Q_WH"
src "UPDATE public.rt_orders SET amount = amount + 1 WHERE id % 7 = 0;
     DELETE FROM public.rt_orders WHERE id % 11 = 0;
     UPDATE public.rt_orders SET month = date '2024-02-15' WHERE id = 3;
     INSERT INTO public.rt_orders VALUES (1000, '2024-01-05', 1, 'late'), (1001, '2024-02-05', 2, 'late');" >/dev/null
check "partitions: changes land; equal to the partitioned source" wait_until 60 same_rows "$Q_SRC" "$Q_WH"
check_eq "partitions: no table per child in the warehouse" \
    "$(wh "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'rt_orders_%'")" "0"

# two sources, one target by the template, no map entry
start_sink sinkc "^$P\\.rt_[ab]\\.rt_same\$" "$P-c" \
    --set target.table='${table}' --set target.schema=rtc
check "template: the first source lands" wait_until 90 same_rows "SELECT 1, 'a'" "SELECT id, v FROM rtc.rt_same"
src "INSERT INTO rt_b.rt_same VALUES (2, 'b')" >/dev/null
dlq_count() { kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P-c.dlq" -e -q -f '%o\n' 2>/dev/null | wc -l; }
dlq_is() { test "$(dlq_count)" -eq "$1"; }
check "template: the second source's record is dead-lettered" wait_until 90 dlq_is 1
kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P-c.dlq" -e -q -J >"$T_TMP/dlq.json" 2>/dev/null
check "template: the dead letter is permanent and names both sources" python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
h = dict(zip(r["headers"][::2], r["headers"][1::2]))
e = h.get("cdcsink.error", "")
sys.exit(not (h.get("cdcsink.error.class") == "permanent"
              and "rt_a.rt_same" in e and "rt_b.rt_same" in e and "target.map" in e))' "$T_TMP/dlq.json"
check_eq "template: the first source's row is untouched" "$(wh "SELECT id, v FROM rtc.rt_same")" "1|a"

# a template every table would share: refused at start
timeout 30 "$CDC_BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" \
    --set kafka.group.id="$P-x" --set topics="^$P\\.rt_.*" \
    --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" --set dlq.topic="$P.dlq" \
    --set target.table='analytics.all' run >"$T_TMP/start.log" 2>&1
RC=$?
check "start: a target.table without \${table} exits with an error" test "$RC" -ne 0 -a "$RC" -ne 124
check "start: the error names the fix" grep -q 'has no ${table}.*target.map' "$T_TMP/start.log"

"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
src "DROP SCHEMA IF EXISTS rt_a, rt_b CASCADE" >/dev/null 2>&1
finish
