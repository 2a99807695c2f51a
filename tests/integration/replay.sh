#!/usr/bin/env bash
# replay.sh - `cdcsink replay` re-reads a topic range through the same
# decode and apply path. Replaying what was already applied changes nothing
# (the position guard skips it, counted); a row lost from the warehouse is
# restored; the consumer group's offsets, in Kafka and in _cdc.offsets, are
# left alone; bad flags fail at start naming the flag.
set -u
. "$(dirname "$0")/../lib.sh"

P=rpl$(date +%s)
seed_table "$P" 50
capture "$P"
TOPIC="$P.public.$P"
start_sink sink "^$P\\.public\\.$P\$" "$P"
src "UPDATE public.$P SET n = n + 1 WHERE id <= 20;
     INSERT INTO public.$P VALUES (100, 1, 'new');
     DELETE FROM public.$P WHERE id = 5;
     UPDATE public.$P SET v = 'last' WHERE id = 10;" >/dev/null
Q_SRC="SELECT id, n, v FROM public.$P ORDER BY id"
Q_WH="SELECT id, n, v FROM public.$P WHERE NOT _cdc_deleted ORDER BY id"
Q_ALL="SELECT id, n, v, _cdc_position, _cdc_deleted, _cdc_op FROM public.$P ORDER BY id"
check "the run applied everything" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
stop_sink "$SINK_PID"; check_eq "the run stopped cleanly" "$?" "0"
END=$(topic_count "$TOPIC")
committed() { wh "SELECT string_agg(topic || ':' || partition || ':' || next_offset, ',' ORDER BY topic) FROM _cdc.offsets WHERE \"group\" = '$P'"; }
OFFS_BEFORE=$(committed)
BEFORE=$(wh "$Q_ALL")

replay() { "$CDC_BIN" --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" \
    --set kafka.group.id="$P" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" \
    --set dlq.topic="$P.dlq" replay "$@"; }
replay --topic "$TOPIC" --from-offset 0 >"$T_TMP/replay1.log" 2>&1
check_eq "replay from offset 0 exits 0" "$?" "0"
check "it read the whole range" grep -q "replayed: $END records" "$T_TMP/replay1.log"
check "it counted the streamed changes as replays" \
    grep -Eq "replayed: $END records, [0-9]+ applied, [1-9][0-9]* replays skipped" "$T_TMP/replay1.log"
check_eq "replaying what was applied changes nothing, positions included" "$(wh "$Q_ALL")" "$BEFORE"
check_eq "the group's offsets in _cdc.offsets are left alone" "$(committed)" "$OFFS_BEFORE"

# the snapshot alone (offsets 0-49) is an old read: it must not take rows
# that streamed changes moved on back in time
replay --topic "$TOPIC" --from-offset 0 --to-offset 50 >"$T_TMP/replay0.log" 2>&1
check "replaying the snapshot alone reads 50 records" grep -q "replayed: 50 records" "$T_TMP/replay0.log"
check_eq "and takes no row back in time" "$(wh "$Q_ALL")" "$BEFORE"

# rows lost in the warehouse (deleted by hand) come back: snapshot-only,
# updated, and inserted ones
wh "DELETE FROM public.$P WHERE id IN (7, 10, 30, 100)" >/dev/null
replay --topic "$TOPIC" --from-time "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" >"$T_TMP/replay2.log" 2>&1
check_eq "replay --from-time exits 0" "$?" "0"
check "rows lost in the warehouse are restored" same_rows "$Q_SRC" "$Q_WH"
check_eq "with their positions" "$(wh "$Q_ALL")" "$BEFORE"

# --to-offset bounds the range; a later --from-time finds nothing
replay --topic "$TOPIC" --partition 0 --from-offset 10 --to-offset 20 >"$T_TMP/replay3.log" 2>&1
check "--to-offset bounds the range" grep -q "replayed: 10 records" "$T_TMP/replay3.log"
replay --topic "$TOPIC" --from-time "$(( $(date +%s) * 1000 + 3600000 ))" >"$T_TMP/replay4.log" 2>&1
check "a --from-time after the last record reads nothing" grep -q "replayed: 0 records" "$T_TMP/replay4.log"

# the group resumes where it was: nothing re-read by the next run
start_sink sink2 "^$P\\.public\\.$P\$" "$P"
check "the group resumes at its own offsets" wait_until 30 grep -q "assigned, starting at offset $END" "$T_TMP/sink2.log"
stop_sink "$SINK_PID"

# bad flags fail at start, naming the flag
replay --topic "$TOPIC" >"$T_TMP/bad1.log" 2>&1
check_eq "no start: exit 2" "$?" "2"
check "names the choice" grep -q "exactly one of --from-offset N and --from-time T" "$T_TMP/bad1.log"
replay --topic "$TOPIC" --from-time yesterday >"$T_TMP/bad2.log" 2>&1
check_eq "a bad time: exit 2" "$?" "2"
check "names --from-time and the formats" grep -q -- "--from-time needs a time: ISO-8601 UTC" "$T_TMP/bad2.log"
replay --topic no.such.topic --from-offset 0 >"$T_TMP/bad3.log" 2>&1
check_eq "an unknown topic: exit 2" "$?" "2"
check "names the topic" grep -q -- "--topic no.such.topic" "$T_TMP/bad3.log"
replay --topic "$TOPIC" --partition 7 --from-offset 0 >"$T_TMP/bad4.log" 2>&1
check "names the partition" grep -q -- "--partition 7: topic $TOPIC has partitions 0 to 0" "$T_TMP/bad4.log"
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
