#!/usr/bin/env bash
# resync.sh - `cdcsink resync` against real Debezium (signal table and sink
# notifications configured on the connector), Kafka and PostgreSQL: the
# replica is damaged (a changed value, a deleted row, an extra live row, a
# row wrongly soft-deleted) and misses rows deleted at the source while the
# connector was stopped (its slot was dropped, so Debezium never sends
# those deletes); resync runs while a workload changes the same table
# throughout; afterwards `cdcsink verify` is clean for that table, the
# swept rows are exactly the ones gone at the source, and _cdc.resync
# records the run. A second resync goes through the Kafka signal channel.
set -u
. "$(dirname "$0")/../lib.sh"

P=rs$(date +%s)
T=rs_live
NOTIFY="$P.notifications"
CONN_OPTS=(signal.data.collection=public.debezium_signal
    notification.enabled.channels=sink "notification.sink.topic.name=$NOTIFY"
    incremental.snapshot.chunk.size=200)
seed_table "$T" 900
src "DROP TABLE IF EXISTS public.debezium_signal;
     CREATE TABLE public.debezium_signal (id varchar(64) PRIMARY KEY,
       type varchar(32) NOT NULL, data varchar(2048))" >/dev/null
wh "DROP TABLE IF EXISTS public.$T" >/dev/null
"$STACK" topic-create "$P.dlq" 1 >>"$T_TMP/stack.log" 2>&1
"$STACK" connector add "$P" "$P" on "${CONN_OPTS[@]}" >>"$T_TMP/connector.log" 2>&1 \
    && ok "connector registered (signal table, sink notifications)" || fail "connector add"
start_sink sink "^$P\\.public\\.$T\$" "$P"
Q_SRC="SELECT id, n, v FROM public.$T ORDER BY id"
Q_WH="SELECT id, n, v FROM public.$T WHERE NOT _cdc_deleted ORDER BY id"
check "snapshot reaches the warehouse" wait_until 120 same_rows "$Q_SRC" "$Q_WH"

# ---- deletes Debezium never sends: the connector is gone with its slot ----
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
src "DELETE FROM public.$T WHERE id BETWEEN 701 AND 705" >/dev/null
"$STACK" topic-create "$P.signals" 1 >>"$T_TMP/stack.log" 2>&1
"$STACK" connector add "${P}b" "$P" on snapshot.mode=no_data "${CONN_OPTS[@]}" \
    signal.enabled.channels=source,kafka "signal.kafka.topic=$P.signals" \
    "signal.kafka.bootstrap.servers=$CDC_KAFKA_BOOTSTRAP" \
    >>"$T_TMP/connector.log" 2>&1 \
    && ok "connector back (new slot, no snapshot)" || fail "connector re-add"
src "UPDATE public.$T SET v = 'after restart' WHERE id = 400" >/dev/null
streamed() { [ "$(wh "SELECT v FROM public.$T WHERE id = 400")" = "after restart" ]; }
check "streaming again" wait_until 60 streamed
check_eq "the rows deleted meanwhile are still live in the replica" \
    "$(wh "SELECT count(*) FROM public.$T WHERE id BETWEEN 701 AND 705 AND NOT _cdc_deleted")" "5"

# ---- damage in the warehouse ----
# (the workload below changes only ids below ~400 and above 1000: these
# rows are repaired by the snapshot's reads, not by a change)
wh "UPDATE public.$T SET v = 'damaged' WHERE id = 620;
    DELETE FROM public.$T WHERE id = 621;
    INSERT INTO public.$T (id, n, v) VALUES (90000, 0, 'extra');
    UPDATE public.$T SET _cdc_deleted = true, _cdc_deleted_at = now() WHERE id = 622;
    UPDATE public.$T SET n = -1 WHERE id = 800" >/dev/null
"$CDC_BIN" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" verify --source "$CDC_PG_SOURCE_URI" \
    --table "public.$T" --recheck-ms 1000 --quiet >"$T_TMP/before.txt" 2>>"$T_TMP/verify.log"
check_eq "verify sees the damage first: exit 1" "$?" "1"
check "verify before: 10 differences (5 gone at the source, 5 damaged)" \
    grep -q "10 differences" "$T_TMP/before.txt"

# ---- resync under a workload on the same table ----
# each transaction: update id i, insert id 1000 + i, delete id i
churn "$T" 1 100000 1000 1 0.05 &
CHURN=$!
sleep 1
"$CDC_BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" --set kafka.group.id="$P" \
    --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" resync --table "public.$T" \
    --source "$CDC_PG_SOURCE_URI" --notification-topic "$NOTIFY" --timeout 240 \
    >"$T_TMP/resync.out" 2>"$T_TMP/resync.log"
RC=$?
sleep 1
kill "$CHURN" 2>/dev/null
wait "$CHURN" 2>/dev/null
check_eq "resync: exit 0" "$RC" "0"
check "resync prints its result" grep -q "^public.$T: resynced: " "$T_TMP/resync.out"
check "resync showed progress on stderr" grep -q "rows written since the start" "$T_TMP/resync.log"
check "the workload changed the table meanwhile" \
    test "$(src "SELECT count(*) FROM public.$T WHERE id > 1000")" -gt 20
check_eq "the damaged rows were repaired by the snapshot's reads" \
    "$(wh "SELECT string_agg(id || ':' || _cdc_op, ',' ORDER BY id) FROM public.$T
           WHERE id IN (620, 621, 622, 800) AND NOT _cdc_deleted
             AND _cdc_synced_at >= (SELECT max(started_at) FROM _cdc.resync)")" \
    "620:r,621:r,622:r,800:r"

check "caught up after the workload" wait_until 60 same_rows "$Q_SRC" "$Q_WH"
"$CDC_BIN" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" verify --source "$CDC_PG_SOURCE_URI" \
    --table "public.$T" --recheck-ms 5000 --quiet >"$T_TMP/after.txt" 2>>"$T_TMP/verify.log"
check_eq "verify after resync: exit 0" "$?" "0"
check "verify after resync: equal" grep -q "^public.$T: equal" "$T_TMP/after.txt"
check_eq "swept: exactly the rows gone at the source (and the extra one)" \
    "$(wh "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.$T WHERE _cdc_deleted
             AND _cdc_deleted_at >= (SELECT max(finished_at) FROM _cdc.resync) - interval '1 second'
             AND coalesce(_cdc_op, '') <> 'd'")" "701,702,703,704,705,90000"
check_eq "_cdc.resync: done, 6 rows swept, rows read reported" \
    "$(wh "SELECT table_name, state, rows_swept, rows_read > 500, finished_at > started_at
           FROM _cdc.resync ORDER BY id DESC LIMIT 1")" "$T|done|6|t|t"

# ---- the Kafka signal channel: no access to the source needed ----
"$CDC_BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" --set kafka.group.id="$P" \
    --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" resync --table "public.$T" \
    --signal-topic "$P.signals" --notification-topic "$NOTIFY" --timeout 120 \
    >"$T_TMP/resync2.out" 2>"$T_TMP/resync2.log"
check_eq "resync through the Kafka signal channel: exit 0" "$?" "0"
check_eq "_cdc.resync: done again, nothing left to sweep" \
    "$(wh "SELECT state, rows_swept, rows_read > 500 FROM _cdc.resync ORDER BY id DESC LIMIT 1")" "done|0|t"

stop_sink "$SINK_PID" >/dev/null
"$STACK" connector remove "${P}b" >>"$T_TMP/connector.log" 2>&1
src "DROP TABLE IF EXISTS public.$T" >/dev/null
finish
