#!/usr/bin/env bash
# e2e_basic.sh - the walking skeleton end to end: rows changed in a source
# table (snapshot, inserts, updates, deletes) reach the warehouse through real
# Debezium, real Kafka and cdcsink, with soft deletes; SIGTERM exits 0 and a
# restart re-applies nothing.
set -u
. "$(dirname "$0")/../lib.sh"

# topic prefix, connector and group name: unique to this run (Connect keeps
# a connector name's source offsets, and topics outlive a run)
P=e2eb$(date +%s)
src "DROP TABLE IF EXISTS public.e2e_items;
     CREATE TABLE public.e2e_items (id int PRIMARY KEY, name text NOT NULL,
       price numeric(10,2), qty bigint, seen timestamp(6), at timestamptz,
       note text);
     INSERT INTO public.e2e_items VALUES
       (1, 'one', 1.50, 10, '2024-05-01 10:15:30.123456', '2024-05-01 10:15:30+02', 'snap'),
       (2, 'two', -0.01, 9007199254740993, '1969-12-31 23:59:59.999999', '2000-01-01 00:00:00Z', NULL),
       (3, 'three', 0, -1, NULL, NULL, 'tab	and \"quotes\" and ''single''');" >/dev/null
wh "DROP TABLE IF EXISTS public.e2e_items" >/dev/null

"$STACK" connector add "$P" "$P" on >"$T_TMP/connector.log" 2>&1 \
    && ok "connector registered" || fail "connector add (see $T_TMP/connector.log)"

start_sink sink1 "^$P\\.public\\.e2e_items" "$P"
SINK1=$SINK_PID

COLS="id, name, price, qty, seen, at, note"
Q_SRC="SELECT $COLS FROM public.e2e_items ORDER BY id"
Q_WH="SELECT $COLS FROM public.e2e_items WHERE NOT _cdc_deleted ORDER BY id"

check "snapshot rows arrive" wait_until 90 same_rows "$Q_SRC" "$Q_WH"

src "INSERT INTO public.e2e_items VALUES (4, 'four', 99999999.99, 4, now(), now(), 'new');
     UPDATE public.e2e_items SET name = 'uno', price = price + 1 WHERE id = 1;
     DELETE FROM public.e2e_items WHERE id = 2;
     BEGIN; UPDATE public.e2e_items SET qty = qty * 2; UPDATE public.e2e_items SET note = 'twice' WHERE id = 3; COMMIT;
     INSERT INTO public.e2e_items (id, name) SELECT g, 'bulk ' || g FROM generate_series(100, 599) g;
     DELETE FROM public.e2e_items WHERE id BETWEEN 100 AND 149;
     UPDATE public.e2e_items SET price = id WHERE id BETWEEN 150 AND 199;" >/dev/null

check "streamed changes arrive" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
check_eq "deleted rows are kept, flagged" \
    "$(wh "SELECT count(*) FROM public.e2e_items WHERE _cdc_deleted")" "51"
check_eq "deleted row keeps its key and deleted_at" \
    "$(wh "SELECT id, _cdc_deleted_at IS NOT NULL FROM public.e2e_items WHERE id = 2")" "2|t"
check_eq "metadata columns are filled" \
    "$(wh "SELECT count(*) FROM public.e2e_items WHERE _cdc_position IS NULL OR _cdc_synced_at IS NULL")" "0"

stop_sink "$SINK1"; rc=$?
check_eq "SIGTERM exits 0" "$rc" "0"

offs=$(wh "SELECT sum(next_offset) FROM _cdc.offsets WHERE \"group\" = '$P'")
check "offsets recorded in the warehouse" test -n "$offs"

# a restart from the committed offsets re-applies nothing
synced=$(wh "SELECT max(_cdc_synced_at) FROM public.e2e_items")
start_sink sink2 "^$P\\.public\\.e2e_items" "$P"
SINK2=$SINK_PID
src "INSERT INTO public.e2e_items VALUES (5, 'five', 5, 5, NULL, NULL, 'after restart')" >/dev/null
check "change after restart arrives" wait_until 60 same_rows "$Q_SRC" "$Q_WH"
check_eq "restart re-applied nothing" \
    "$(wh "SELECT count(*) FROM public.e2e_items WHERE _cdc_synced_at > '$synced' AND id <> 5")" "0"
stop_sink "$SINK2"; rc=$?
check_eq "second SIGTERM exits 0" "$rc" "0"

"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
