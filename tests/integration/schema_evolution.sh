#!/usr/bin/env bash
# schema_evolution.sh - schema.evolution with real Debezium: while a workload
# runs, the source table gets ADD COLUMN, numeric(10,2) -> numeric(14,2),
# varchar(40) -> varchar(80), DROP COLUMN, then integer -> bigint. With
# widen the warehouse follows every change and ends equal with the new
# types. With add the widenings without a rewrite follow, the integer ->
# bigint change stops only that table (its changes dead-lettered naming the
# ALTER to run, the other table goes on); after the ALTER is run by hand the
# table resumes, and a replay of the dead-lettered range makes it equal.
set -u
. "$(dirname "$0")/../lib.sh"

P=sevo$(date +%s)
src "DROP TABLE IF EXISTS public.ev, public.ev_other;
     CREATE TABLE public.ev (id int PRIMARY KEY, qty int, price numeric(10,2),
       name varchar(40), gone text);
     CREATE TABLE public.ev_other (id int PRIMARY KEY, v text);
     INSERT INTO public.ev SELECT g, g, g * 1.25, 'n' || g, 'g' || g
       FROM generate_series(1, 50) g;
     INSERT INTO public.ev_other SELECT g, 'o' || g FROM generate_series(1, 20) g;" >/dev/null
wh "DROP SCHEMA IF EXISTS ev_add CASCADE; DROP SCHEMA IF EXISTS ev_widen CASCADE" >/dev/null 2>&1
"$STACK" topic-create "$P-add.dlq" 1 >/dev/null 2>&1
"$STACK" topic-create "$P-widen.dlq" 1 >/dev/null 2>&1

"$STACK" connector add "$P" "$P" on source table.include.list='public\.ev,public\.ev_other' \
    >"$T_TMP/connector.log" 2>&1 \
    && ok "connector registered" || fail "connector add (see $T_TMP/connector.log)"

TOPICS="^$P\\.public\\..*"
start_sink add "$TOPICS" "$P-add" --set target.schema=ev_add
ADD=$SINK_PID
start_sink widen "$TOPICS" "$P-widen" --set target.schema=ev_widen \
    --set schema.evolution=widen
WIDEN=$SINK_PID

COLS="id, qty, price, name, note"
Q_SRC="SELECT $COLS FROM public.ev ORDER BY id"
Q_WH() { echo "SELECT $COLS FROM $1.ev WHERE NOT _cdc_deleted ORDER BY id"; }
Q_OSRC="SELECT id, v FROM public.ev_other ORDER BY id"
Q_OWH() { echo "SELECT id, v FROM $1.ev_other WHERE NOT _cdc_deleted ORDER BY id"; }
Q_OLD="SELECT id, qty, price, name FROM public.ev ORDER BY id"
Q_OLDWH() { echo "SELECT id, qty, price, name FROM $1.ev WHERE NOT _cdc_deleted ORDER BY id"; }
check "snapshot arrives (add)" wait_until 90 same_rows "$Q_OLD" "$(Q_OLDWH ev_add)"
check "snapshot arrives (widen)" wait_until 90 same_rows "$Q_OLD" "$(Q_OLDWH ev_widen)"

# the workload: statements valid before and after every change
workload() {
    for i in $(seq 1 "$2"); do
        local id=$(($1 + i))
        src "INSERT INTO public.ev (id, qty, price, name) VALUES ($id, $i, $i.5, 'w$i');
             UPDATE public.ev SET qty = qty + 1 WHERE id = $((i % 50 + 1));
             DELETE FROM public.ev WHERE id = $((id - 3)) AND id % 7 = 0;
             UPDATE public.ev_other SET v = 'w$i' WHERE id = $((i % 20 + 1));" >/dev/null 2>&1
        sleep 0.05
    done
}
workload 1000 120 &
WL=$!
sleep 1
src "ALTER TABLE public.ev ADD COLUMN note text" >/dev/null
src "UPDATE public.ev SET note = 'added ' || id WHERE id % 5 = 0" >/dev/null
src "ALTER TABLE public.ev ALTER COLUMN price TYPE numeric(14,2)" >/dev/null
src "UPDATE public.ev SET price = 123456789012.34 WHERE id = 2" >/dev/null
src "ALTER TABLE public.ev ALTER COLUMN name TYPE varchar(80)" >/dev/null
src "UPDATE public.ev SET name = repeat('x', 70) WHERE id = 3" >/dev/null
src "ALTER TABLE public.ev DROP COLUMN gone" >/dev/null
src "INSERT INTO public.ev (id, qty, price, name, note) VALUES (900, 9, 9, 'after drop', 'n')" >/dev/null
sleep 1
src "ALTER TABLE public.ev ALTER COLUMN qty TYPE bigint" >/dev/null
src "UPDATE public.ev SET qty = 1099511627776 + id WHERE id <= 5" >/dev/null
wait "$WL"
src "INSERT INTO public.ev_other VALUES (100, 'last')" >/dev/null

# widen: every change followed
check "widen: the table ends equal to the source" \
    wait_until 90 same_rows "$Q_SRC" "$(Q_WH ev_widen)"
coltypes() { wh "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
                 FROM pg_attribute WHERE attrelid = '$1.ev'::regclass AND attnum > 0
                 AND NOT attisdropped AND attname NOT LIKE '\\_cdc\\_%'"; }
check_eq "widen: the new types" "$(coltypes ev_widen)" \
    "id integer, qty bigint, price numeric(14,2), name text, gone text, note text"
# a snapshot row keeps its value (updated after the drop or not), a row
# inserted after the drop has NULL
check_eq "widen: the dropped column stays, NULL in rows inserted after the drop" \
    "$(wh "SELECT string_agg(id || ':' || coalesce(gone, 'NULL'), ',' ORDER BY id) FROM ev_widen.ev WHERE id IN (10, 900)")" \
    "10:g10,900:NULL"

# add: the other table goes on, the rewrite is refused with the fix named
check "add: the other table ends equal" wait_until 60 same_rows "$Q_OSRC" "$(Q_OWH ev_add)"
ALTER='ALTER TABLE "ev_add"."ev" ALTER COLUMN "qty" TYPE bigint'
check "add: the dead letter names the ALTER to run" \
    wait_until 30 grep -qF "$ALTER" "$T_TMP/add.log"
check_eq "add: widened without a rewrite, the rewrite not done" "$(coltypes ev_add)" \
    "id integer, qty integer, price numeric(14,2), name text, gone text, note text"
kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P-add.dlq" -e -q -J >"$T_TMP/dlq.json" 2>/dev/null
FIRST=$(python3 - "$T_TMP/dlq.json" "$P.public.ev" "$ALTER" <<'PY'
import json, sys
offs, bad = [], 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    h = dict(zip(r["headers"][::2], r["headers"][1::2]))
    if h.get("cdcsink.source.topic") != sys.argv[2] or sys.argv[3] not in h.get("cdcsink.error", ""):
        bad += 1
    offs.append(int(h["cdcsink.source.offset"]))
print(min(offs) if offs and not bad else -1)
PY
)
check "add: only the changed table's records are dead-lettered ($FIRST first)" test "$FIRST" -ge 0
check "add: the sink is still running" kill -0 "$ADD"

# the user runs the ALTER; the table resumes; a replay fills the gap
wh "$ALTER" >/dev/null
src "UPDATE public.ev SET note = 'resumed' WHERE id = 4" >/dev/null
resumed() { [ "$(wh "SELECT note FROM ev_add.ev WHERE id = 4")" == "resumed" ]; }
check "add: the table resumes after the ALTER" wait_until 60 resumed
"$CDC_BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" --set topics="$TOPICS" \
    --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" --set target.schema=ev_add \
    --set dlq.topic="$P-add.dlq" replay --topic "$P.public.ev" --from-offset "$FIRST" \
    >"$T_TMP/replay.log" 2>&1
check_eq "add: replay exits 0" "$?" "0"
check "add: after the replay the table is equal to the source" \
    wait_until 30 same_rows "$Q_SRC" "$(Q_WH ev_add)"

stop_sink "$ADD" >/dev/null
stop_sink "$WIDEN" >/dev/null
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
