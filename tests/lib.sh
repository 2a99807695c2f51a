# tests/lib.sh - shared helpers for the shell test tiers (sourced).
#
# Expects the stack's environment (eval "$(docker/stack/stack.sh env)") and
# CDC_BIN. Each test script counts its own checks and ends with
# "<name>: N passed, N failed"; tests/run.sh sums those lines.

T_NAME=${T_NAME:-$(basename "$0" .sh)}
T_PASSED=0
T_FAILED=0
T_TMP=$(mktemp -d "/tmp/cdcsink-${T_NAME}-XXXXXX")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK="$ROOT/docker/stack/stack.sh"
SINK_PIDS=()

ok() { T_PASSED=$((T_PASSED + 1)); echo "ok   $T_NAME: $*"; }
fail() { T_FAILED=$((T_FAILED + 1)); echo "FAIL $T_NAME: $*"; }
# check NAME CMD...: passes when CMD exits 0
check() { local n=$1; shift; if "$@"; then ok "$n"; else fail "$n"; fi; }
# check_eq NAME GOT WANT
check_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: got [$2], want [$3]"; fi
}

# t_kill_sinks: every sink this test started, at once
t_kill_sinks() {
    local p
    for p in "${SINK_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    SINK_PIDS=()
}
# A test that dies before finish (an error, set -e, a signal) still kills its
# sinks and leaves one failure in the summary; its logs stay in $T_TMP.
T_FINISHED=0
t_on_exit() {
    t_kill_sinks
    if [ "$T_FINISHED" -eq 0 ]; then
        echo "FAIL $T_NAME: ended before finish (logs in $T_TMP)"
        echo "$T_NAME: $T_PASSED passed, $((T_FAILED + 1)) failed"
    fi
}
trap t_on_exit EXIT

finish() {
    T_FINISHED=1
    t_kill_sinks
    echo "$T_NAME: $T_PASSED passed, $T_FAILED failed"
    if [ "$T_FAILED" -ne 0 ]; then
        echo "--- logs kept in $T_TMP"
        for f in "$T_TMP"/*.log; do
            [ -f "$f" ] && { echo "--- tail of $f"; tail -n 30 "$f"; }
        done
    else
        rm -rf "$T_TMP"
    fi
    [ "$T_FAILED" -eq 0 ]
}

src() { "$STACK" psql source -At -c "$1"; }
wh() { "$STACK" psql warehouse -At -c "$1"; }

# wait_until SECONDS CMD...: polls CMD every 0.3 s until it succeeds
wait_until() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.3
    done
}

# start_sink NAME TOPICS GROUP [--set k=v ...]: cdcsink in the background,
# its log in $T_TMP/NAME.log, its pid in SINK_PID and SINK_PIDS
start_sink() {
    local name=$1 topics=$2 group=$3; shift 3
    "$CDC_BIN" \
        --set kafka.bootstrap.servers="$CDC_KAFKA_BOOTSTRAP" \
        --set kafka.group.id="$group" \
        --set topics="$topics" \
        --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" \
        --set batch.linger.ms=50 \
        --set dlq.topic="$group.dlq" \
        "$@" run >>"$T_TMP/$name.log" 2>&1 &
    SINK_PID=$!
    SINK_PIDS+=("$SINK_PID")
}

# sink_http NAME: the host:port a sink started with --set
# http.listen=127.0.0.1:0 serves on, read from its log (a fixed port may be
# taken by another socket's ephemeral port); fails after 20 s without it
sink_http() {
    local line='http: /metrics and /healthz on port'
    wait_until 20 grep -q "$line" "$T_TMP/$1.log" || return 1
    echo "127.0.0.1:$(sed -n "s|.*$line \([0-9]*\).*|\1|p" "$T_TMP/$1.log" | tail -1)"
}

# stop_sink PID [SECONDS]: SIGTERM and wait; returns the exit code (124 on
# timeout, after which it is killed)
stop_sink() {
    local pid=$1 limit=${2:-20} i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
}

# same_rows SRC_SQL WH_SQL: the two queries return the same text
same_rows() {
    local a b
    a=$(src "$1") || return 1
    b=$(wh "$2" 2>/dev/null) || return 1
    [ "$a" == "$b" ]
}

# topic_count TOPIC: the records TOPIC holds (0 when it does not exist)
topic_count() { "$STACK" wait-topic "$1" 0 10 2>/dev/null | awk '{ print $2 }'; }

# prom_families FILE: parses FILE with the Prometheus client library's text
# parser (installed under the cache on first use) and prints one line per
# metric family, "name type samples"; fails when the text does not parse
PROM_CLIENT_VERSION=0.21.1
prom_families() {
    local dir="${CDC_CACHE_DIR:-$ROOT/.cache}/tools/prometheus_client-$PROM_CLIENT_VERSION"
    if [ ! -d "$dir/prometheus_client" ]; then
        python3 -m pip install -q --disable-pip-version-check --no-deps --no-compile \
            --root-user-action=ignore --target "$dir.tmp" \
            "prometheus_client==$PROM_CLIENT_VERSION" >"$T_TMP/pip.log" 2>&1 \
            && rm -rf "$dir" && mv "$dir.tmp" "$dir" \
            || { echo "could not install prometheus_client (see $T_TMP/pip.log)" >&2; return 1; }
    fi
    PYTHONPATH="$dir" python3 - "$1" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
for f in text_string_to_metric_families(text):
    print(f.name, f.type, len(f.samples))
PY
}

# applied_log TABLE: in the warehouse, logs every row version cdcsink writes
# into TABLE (key id, _cdc_position) in TABLE_applied, by an AFTER trigger:
# a change applied twice shows up as two rows with one (id, position)
applied_log() {
    wh "CREATE TABLE IF NOT EXISTS public.$1_applied (id int, pos numeric[], op text);
        CREATE OR REPLACE FUNCTION public.$1_log() RETURNS trigger LANGUAGE plpgsql AS
          \$\$BEGIN INSERT INTO public.$1_applied VALUES (NEW.id, _cdc.position(NEW._cdc_position), NEW._cdc_op);
                   RETURN NULL; END\$\$;
        CREATE TRIGGER $1_log AFTER INSERT OR UPDATE ON public.$1
          FOR EACH ROW EXECUTE FUNCTION public.$1_log();" >/dev/null
}
# applied_twice TABLE: how many streamed (id, position) pairs were written
# more than once
applied_twice() {
    wh "SELECT count(*) FROM (SELECT id, pos FROM public.$1_applied WHERE pos IS NOT NULL
          GROUP BY id, pos HAVING count(*) > 1) d"
}

# churn TABLE FROM TO MOD DEL PAUSE: source transactions FROM..TO on a
# table (id int PRIMARY KEY, n bigint, v text), each of three kinds of
# change: n + 1 for ids = i (mod MOD), insert of id 1000 + i, delete of id
# i * DEL; PAUSE seconds between them. A transaction that fails (the server
# is down) is left out: the tests compare with the source afterwards.
churn() {
    local t=$1 i
    for i in $(seq "$2" "$3"); do
        src "BEGIN; UPDATE public.$t SET n = n + 1 WHERE id % $4 = $((i % $4));
             INSERT INTO public.$t VALUES ($((1000 + i)), $i, 'new $i');
             DELETE FROM public.$t WHERE id = $((i * $5)); COMMIT;" >/dev/null 2>&1
        sleep "$6"
    done
}

# seed_table TABLE ROWS: in the source, a fresh TABLE of the shape churn()
# changes (id int PRIMARY KEY, n bigint NOT NULL, v text) with ROWS rows
seed_table() {
    src "DROP TABLE IF EXISTS public.$1;
         CREATE TABLE public.$1 (id int PRIMARY KEY, n bigint NOT NULL, v text);
         INSERT INTO public.$1 SELECT g, 0, 'seed ' || g FROM generate_series(1, $2) g;" >/dev/null 2>&1
}

# capture NAME [INCLUDE]: a Debezium connector NAME (topic prefix NAME, schemas
# on) over the tables matching INCLUDE (default public.NAME and public.NAME_*),
# registered as one check
capture() {
    # only the test's own tables: a connector over the whole schema would
    # snapshot every table earlier tests left behind (100k-row ones among
    # them), and a test that kills Connect mid-snapshot then loses deletes
    "$STACK" connector add "$1" "$1" on "table.include.list=${2:-public\\.$1(_.*)?}" \
        >>"$T_TMP/connector.log" 2>&1 \
        && ok "connector registered" || fail "connector add"
}

# produce_changes TOPIC TABLE FIRST_ID COUNT: schema-on Debezium inserts of
# TABLE (id int, v text) produced into TOPIC, keyed by id, with positions
# 1000 + id
produce_changes() {
    python3 - "$2" "$3" "$4" <<'PY' | kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$1" -K $'\t'
import json, sys
table, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fields = [{"type": "int32", "optional": False, "field": "id"},
          {"type": "string", "optional": True, "field": "v"}]
schema = {"type": "struct", "fields": [
    {"type": "struct", "fields": fields, "optional": True, "field": "before"},
    {"type": "struct", "fields": fields, "optional": True, "field": "after"}]}
kschema = {"type": "struct", "fields": fields[:1]}
for i in range(first, first + count):
    src = {"connector": "postgresql", "name": "t", "db": "src", "schema": "public",
           "table": table, "sequence": json.dumps([str(1000 + i), str(1000 + i)]),
           "snapshot": "false"}
    payload = {"before": None, "after": {"id": i, "v": "v%d" % i}, "source": src, "op": "c"}
    print(json.dumps({"schema": kschema, "payload": {"id": i}}) + "\t" +
          json.dumps({"schema": schema, "payload": payload}))
PY
}

# verify_equal TABLE [VERIFY_ARGS...]: `cdcsink verify` finds public.TABLE
# in the warehouse equal to the source's (exit 0, verdict "equal"); its
# report in $T_TMP/verify-TABLE.txt
verify_equal() {
    local t=$1; shift
    "$CDC_BIN" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" verify \
        --source "$CDC_PG_SOURCE_URI" --table "public.$t" --quiet "$@" \
        >"$T_TMP/verify-$t.txt" 2>>"$T_TMP/verify.log" &&
        grep -q "^public\\.$t: equal " "$T_TMP/verify-$t.txt"
}

# wait_fresh GROUP SOURCE SECONDS [WAIT OPTIONS...]: `cdcsink wait` on the
# freshness watermark (README "Freshness") of GROUP's SOURCE (the
# connector's topic prefix) in the warehouse: by default until every source
# transaction committed before now is applied (--source-ts now: the sink
# must consume the source's heartbeat topic, or the source must commit
# again), else with the options given (--source-lsn L, --source-ts T).
# Returns wait's exit code: 0 there, 1 timed out (what is behind on stderr)
wait_fresh() {
    local group=$1 source=$2 secs=$3; shift 3
    (($# > 0)) || set -- --source-ts "$(date +%s.%N)"
    "$CDC_BIN" --set pg.conninfo="$CDC_PG_WAREHOUSE_URI" \
        --set kafka.group.id="$group" --set log.level=warn \
        wait --source "$source" --timeout "$secs" "$@"
}

# produce_heartbeat SOURCE: one Debezium heartbeat record (schemaless
# {"ts_ms": now}) into __debezium-heartbeat.SOURCE, as a connector with
# heartbeat.interval.ms sends them
produce_heartbeat() {
    printf '{"serverName":"%s"}\t{"ts_ms":%s}\n' "$1" "$(date +%s%3N)" |
        kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "__debezium-heartbeat.$1" -K $'\t'
}
