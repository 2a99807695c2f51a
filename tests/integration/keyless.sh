#!/usr/bin/env bash
# keyless.sh - tables without a primary key, real Debezium: a log table
# (inserts only, 100k rows by default, the COPY path; its time printed next to a keyed
# insert-only table's, as information) and a REPLICA IDENTITY FULL table
# with duplicate rows, updates and deletes end equal to the source as a
# multiset (cols, count(*) GROUP BY cols), soft-deleted rows excluded; the
# warehouse tables have no primary key; a restarted sink re-reading the
# same records (offsets rewound) changes nothing; an update of a keyless
# table without a before image (what REPLICA IDENTITY DEFAULT gives; the
# source refuses such an update once the table is published, so the record
# is produced by hand) is dead-lettered naming the ALTER.
# CDC_TEST_KEYLESS_ROWS=N sets the log table's row count, 100000 by default
# (the keyed table's is N up to 100000); the 1M run is a manual command:
#   CDC_TEST_KEYLESS_ROWS=1000000 CDC_TEST_ONLY='^keyless$' tests/run.sh integration
set -u
. "$(dirname "$0")/../lib.sh"

P=kl$(date +%s)
N=${CDC_TEST_KEYLESS_ROWS:-100000}
# deadline of the waits for N rows: 240 s per 100k, 240 s at least
BULK=$((N > 100000 ? 240 * N / 100000 : 240))
NK=$((N < 100000 ? N : 100000))
src "DROP TABLE IF EXISTS public.kl_log, public.kl_keyed, public.kl_full;
     CREATE TABLE public.kl_log (at timestamptz, lvl text, msg text, n int);
     CREATE TABLE public.kl_keyed (id int PRIMARY KEY, lvl text, msg text, n int);
     CREATE TABLE public.kl_full (a int, b text, c numeric(8,2), j json);
     ALTER TABLE public.kl_full REPLICA IDENTITY FULL;
     INSERT INTO public.kl_full SELECT g % 7, CASE WHEN g % 5 = 0 THEN NULL
       ELSE 'b' || (g % 3) END, (g % 4) * 1.5, '{\"k\": 1}'
       FROM generate_series(1, 300) g;" >/dev/null
wh "DROP TABLE IF EXISTS public.kl_log, public.kl_keyed, public.kl_full" >/dev/null 2>&1
"$STACK" topic-create "$P.dlq" 1 >/dev/null 2>&1

# every statement of the sink's sessions goes to the server log
PGLOG="$CDC_STACK_DIR/logs/postgres.log"
wh "ALTER DATABASE warehouse SET log_statement = 'all'" >/dev/null
LOG_FROM=$(($(stat -c %s "$PGLOG") + 1))

"$STACK" connector add "$P" "$P" on table.include.list='public\.kl_.*' \
    >"$T_TMP/connector.log" 2>&1 \
    && ok "connector registered" || fail "connector add (see $T_TMP/connector.log)"
start_sink sink "^$P\\.public\\.kl_.*" "$P"
SINK=$SINK_PID

MS_FULL="SELECT a, b, c, j::text, count(*) FROM public.kl_full GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
MW_FULL="SELECT a, b, c, j::text, count(*) FROM public.kl_full WHERE NOT _cdc_deleted
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
check "full: the snapshot (duplicate rows) lands as a multiset" wait_until 90 same_rows "$MS_FULL" "$MW_FULL"

# updates and deletes of duplicate rows: each touches some of the copies
src "UPDATE public.kl_full SET c = c + 100 WHERE ctid IN (SELECT ctid FROM public.kl_full WHERE a = 1 LIMIT 5);
     DELETE FROM public.kl_full WHERE ctid IN (SELECT ctid FROM public.kl_full WHERE a = 2 AND b IS NULL LIMIT 3);
     UPDATE public.kl_full SET b = NULL WHERE a = 3 AND b = 'b1';
     DELETE FROM public.kl_full WHERE a = 4 AND b = 'b2';
     INSERT INTO public.kl_full VALUES (9, NULL, NULL, NULL), (9, NULL, NULL, NULL);
     DELETE FROM public.kl_full WHERE ctid = (SELECT min(ctid) FROM public.kl_full WHERE a = 9);
     UPDATE public.kl_full SET j = '{\"k\": 2}' WHERE a = 5;
     UPDATE public.kl_full SET a = 50 WHERE a = 6 AND c = 0;
     UPDATE public.kl_full SET a = 6 WHERE a = 50;" >/dev/null
check "full: updates and deletes of duplicate rows: equal as a multiset" \
    wait_until 60 same_rows "$MS_FULL" "$MW_FULL"
check_eq "full: soft-deleted rows are flagged" \
    "$(wh "SELECT count(*) > 0 FROM public.kl_full WHERE _cdc_deleted")" "t"

pk() { wh "SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.$1'::regclass AND contype = 'p'"; }
check_eq "full: the warehouse table has no primary key" "$(pk kl_full)" "0"

# the log table (N rows) and a keyed one (NK rows), timed (information only)
since() { echo $(( $(date +%s%N) / 1000000 - $1 )); }
count_is() { test "$(wh "SELECT count(*) FROM public.$1" 2>/dev/null)" = "$2"; }
# one row each first, so both topics exist and are assigned before timing
src "INSERT INTO public.kl_log VALUES (now(), 'first', 'first', 0);
     INSERT INTO public.kl_keyed VALUES (0, 'first', 'first', 0)" >/dev/null
check "log: the first row lands" wait_until 180 count_is kl_log 1
check "keyed: the first row lands" wait_until 180 count_is kl_keyed 1
T0=$(( $(date +%s%N) / 1000000 ))
src "INSERT INTO public.kl_log SELECT now(), 'info', 'message ' || g, g FROM generate_series(1, $N) g" >/dev/null
check "log: $N inserts land" wait_until "$BULK" count_is kl_log $((N + 1))
T_LOG=$(since "$T0")
T0=$(( $(date +%s%N) / 1000000 ))
src "INSERT INTO public.kl_keyed SELECT g, 'info', 'message ' || g, g FROM generate_series(1, $NK) g" >/dev/null
check "keyed: $NK inserts land" wait_until "$BULK" count_is kl_keyed $((NK + 1))
T_KEYED=$(since "$T0")
echo "info $T_NAME: keyless log $N inserts ${T_LOG} ms, keyed $NK inserts ${T_KEYED} ms (commit to visible in the warehouse)"
# the multiset over every column, as a count and a digest (N lines of text
# would be compared in the shell otherwise)
MS_LOG="SELECT count(*), md5(string_agg(concat_ws('|', at, lvl, msg, n, c), ',' ORDER BY n, msg, at))
        FROM (SELECT at, lvl, msg, n, count(*) c FROM public.kl_log GROUP BY 1, 2, 3, 4) m"
check "log: equal to the source as a multiset" same_rows "$MS_LOG" "$MS_LOG"
check_eq "log: the warehouse table has no primary key" "$(pk kl_log)" "0"
wh "ALTER DATABASE warehouse RESET log_statement" >/dev/null
tail -c +"$LOG_FROM" "$PGLOG" | grep '@warehouse' >"$T_TMP/statements.txt"
check "log: written by COPY" grep -q 'COPY "public"."kl_log"' "$T_TMP/statements.txt"
check_eq "log: no row-by-row INSERT" "$(grep -c 'INSERT INTO "public"."kl_log"' "$T_TMP/statements.txt")" "0"
check "full: updates matched by the before image (IS NOT DISTINCT FROM)" \
    grep -q 'UPDATE "public"."kl_full" SET .* IS NOT DISTINCT FROM' "$T_TMP/statements.txt"

# a replay: every record read again by a new group into the same
# warehouse; the high-water position makes them no-ops
stop_sink "$SINK" >/dev/null
offs() { wh "SELECT coalesce(sum(next_offset), 0) FROM _cdc.offsets WHERE \"group\" = '$1'"; }
WANT=$(offs "$P")
"$STACK" topic-create "$P-r.dlq" 1 >/dev/null 2>&1
start_sink sink2 "^$P\\.public\\.kl_.*" "$P-r"
SINK=$SINK_PID
offs_are() { test "$(offs "$1")" = "$2"; }
wait_until "$BULK" offs_are "$P-r" "$WANT"
check_eq "replay: every record read again" "$(offs "$P-r")" "$WANT"
check "replay: full is still equal as a multiset" same_rows "$MS_FULL" "$MW_FULL"
check_eq "replay: the log table still has $((N + 1)) rows" "$(wh "SELECT count(*) FROM public.kl_log")" "$((N + 1))"
check "replay: the log table is still equal as a multiset" same_rows "$MS_LOG" "$MS_LOG"
stop_sink "$SINK" >/dev/null

# DEFAULT identity: the source refuses the update once the table is published
src "CREATE TABLE public.kl_def (a int, b text); INSERT INTO public.kl_def VALUES (1, 'x')" >/dev/null
check "default identity: the source itself refuses an update of a published keyless table" \
    test -n "$(src "UPDATE public.kl_def SET b = 'y'" 2>&1 | grep -i 'replica identity')"
# ...so the keyless update without a before image is produced by hand
T="$P.hand.kl_def"
python3 - <<'PY' >"$T_TMP/def.tsv"
import json
f = [{"type": "int32", "optional": True, "field": "a"},
     {"type": "string", "optional": True, "field": "b"}]
schema = {"type": "struct", "fields": [
    {"type": "struct", "fields": f, "optional": True, "field": "before"},
    {"type": "struct", "fields": f, "optional": True, "field": "after"}]}
def rec(op, lsn, after):
    src = {"connector": "postgresql", "name": "h", "db": "src", "schema": "public",
           "table": "kl_def", "sequence": json.dumps([str(lsn), str(lsn)]), "snapshot": "false"}
    return "\t" + json.dumps({"schema": schema, "payload": {"before": None, "after": after,
                                                          "source": src, "op": op}})
print(rec("c", 100, {"a": 1, "b": "x"}))
print(rec("u", 200, {"a": 1, "b": "y"}))
print(rec("c", 300, {"a": 2, "b": "z"}))
PY
"$STACK" topic-create "$T" 1 >/dev/null 2>&1
"$STACK" topic-create "$P-h.dlq" 1 >/dev/null 2>&1
kcat -P -Z -b "$CDC_KAFKA_BOOTSTRAP" -t "$T" -K $'\t' <"$T_TMP/def.tsv" \
    && ok "default identity: records produced (key null)" || fail "kcat produce"
start_sink sink3 "^$T\$" "$P-h"
SINK=$SINK_PID
dlq_count() { kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P-h.dlq" -e -q -f '%o\n' 2>/dev/null | wc -l; }
dlq_is() { test "$(dlq_count)" -eq "$1"; }
check "default identity: the update is dead-lettered" wait_until 60 dlq_is 1
kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$P-h.dlq" -e -q -J >"$T_TMP/dlq.json" 2>/dev/null
check "default identity: the dead letter is permanent and names the ALTER" \
    python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
h = dict(zip(r["headers"][::2], r["headers"][1::2]))
sys.exit(not (h.get("cdcsink.error.class") == "permanent"
              and "REPLICA IDENTITY FULL" in h.get("cdcsink.error", "")
              and h.get("cdcsink.source.offset") == "1"))' "$T_TMP/dlq.json"
check "default identity: the inserts land" wait_until 30 same_rows \
    "SELECT '1|x', '2|z'" "SELECT (SELECT a || '|' || b FROM public.kl_def WHERE a = 1), (SELECT a || '|' || b FROM public.kl_def WHERE a = 2)"

"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
src "DROP TABLE IF EXISTS public.kl_def" >/dev/null 2>&1
finish
