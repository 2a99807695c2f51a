#!/usr/bin/env bash
# warehouse_is_truth.sh - DESIGN.md "The warehouse is the truth of what was
# applied": the warehouse is restored from a pg_dump taken mid-stream (the
# table and _cdc.offsets in one snapshot) after cdcsink applied and
# committed more to Kafka and marked it in Redis. On restart cdcsink
# resumes from _cdc.offsets, behind Kafka's committed offset, and re-reads
# the lost range with Redis dedup off for it: the warehouse equals the
# source at the end. A stored offset past the topic's end stops cdcsink
# with an error naming the loss and the fix.
set -u
. "$(dirname "$0")/../lib.sh"

P=wit$(date +%s)
PG_BIN=/usr/lib/postgresql/${CDC_PG_MAJOR:-15}/bin
seed_table "$P" 100
capture "$P"
sink() { start_sink "$1" "^$P\\.public\\.$P\$" "$P" --set redis.url="$CDC_REDIS_URL" \
             --set batch.max.events=50 --set batch.linger.ms=20; }
Q_SRC="SELECT id, n, v FROM public.$P ORDER BY id"
Q_WH="SELECT id, n, v FROM public.$P WHERE NOT _cdc_deleted ORDER BY id"
stored() { wh "SELECT next_offset FROM _cdc.offsets WHERE \"group\" = '$P'"; }
# at_end: _cdc.offsets stands at the topic's end. Rows equal to the source
# are not enough: a delete's tombstone (a record of its own, no row
# change) may still be on its way in a later batch.
at_end() { test "$(stored)" = "$(topic_count "$P.public.$P")"; }

sink s1; S1=$SINK_PID
check "snapshot lands" wait_until 90 same_rows "$Q_SRC" "$Q_WH"
churn "$P" 1 30 4 2 0.02
check "the first half lands" wait_until 60 same_rows "$Q_SRC" "$Q_WH"
check "the first half is applied to the topic's end" wait_until 30 at_end
"$PG_BIN/pg_dump" "$CDC_PG_WAREHOUSE_URI" --data-only -t "public.$P" \
    -t _cdc.offsets -f "$T_TMP/dump.sql" && ok "warehouse dumped mid-stream" \
    || fail "pg_dump"
AT_DUMP=$(stored)
churn "$P" 31 60 4 2 0.02
check "the second half lands" wait_until 60 same_rows "$Q_SRC" "$Q_WH"
check "the second half is applied to the topic's end" wait_until 30 at_end
stop_sink "$S1"; check_eq "cdcsink stops cleanly" "$?" "0"
AT_STOP=$(stored)
check "Kafka's committed offset and Redis's marks are past the dump" \
    test "$AT_STOP" -gt "$AT_DUMP"

# the restore: the table and every _cdc.offsets row as the dump has them
wh "TRUNCATE public.$P; TRUNCATE _cdc.offsets" >/dev/null
"$PG_BIN/psql" "$CDC_PG_WAREHOUSE_URI" -q -v ON_ERROR_STOP=1 -f "$T_TMP/dump.sql" \
    >"$T_TMP/restore.log" 2>&1 && ok "warehouse restored" || fail "restore"
check_eq "_cdc.offsets is back where the dump was" "$(stored)" "$AT_DUMP"
differ() { ! same_rows "$@"; }
check "the restored warehouse lacks the second half" differ "$Q_SRC" "$Q_WH"

sink s2; S2=$SINK_PID
check "the warehouse equals the source at the end" \
    wait_until 90 same_rows "$Q_SRC" "$Q_WH"
check "the re-read is logged" grep -q "the warehouse is behind Kafka's committed offset" "$T_TMP/s2.log"
stored_is() { test "$(stored)" = "$1"; }
check "_cdc.offsets is where it was before the restore" wait_until 30 stored_is "$AT_STOP"
stop_sink "$S2"; check_eq "cdcsink stops cleanly again" "$?" "0"

# a stored offset the topic never had (a re-created topic, another cluster)
wh "UPDATE _cdc.offsets SET next_offset = next_offset + 1000000 WHERE \"group\" = '$P'" >/dev/null
sink s3; S3=$SINK_PID
gone() { ! kill -0 "$1" 2>/dev/null; }
check "an offset past the topic's end stops cdcsink" wait_until 60 gone "$S3"
wait "$S3"; RC=$?
check "it exits with an error" test "$RC" -ne 0
check "the error names what was lost and the fix" \
    grep -q "past the topic's end.*DELETE FROM _cdc.offsets" "$T_TMP/s3.log"
check "nothing was applied past it" same_rows "$Q_SRC" "$Q_WH"
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
