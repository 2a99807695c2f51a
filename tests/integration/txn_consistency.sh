#!/usr/bin/env bash
# txn_consistency.sh - apply.consistency=transaction through real Debezium
# (provide.transaction.metadata=true): a source workload of multi-table
# transactions with invariants a reader can check (transfers between
# accounts: the sum of balances never changes; orders with lines: an
# order's total is the sum of its lines) while a reader polls the warehouse
# as fast as it can, with a kill -9 and restart of cdcsink in the middle.
#   - transaction mode, small batches: zero violations; a 50,000-row
#     transaction over three tables is applied whole (max.events above it)
#     and in parts, logged and counted (max.events below it);
#   - batch mode, the same small batches: violations observed (the reader
#     can fail);
#   - the final state equals the source in both;
#   - start-up checks: no transaction topic, and a second member sharing the
#     source's topics, stop cdcsink naming the setting.
set -u
. "$(dirname "$0")/../lib.sh"

NACC=100       # accounts of 1000 each
NTX=${TXN_TEST_TX:-400}  # workload transactions
SUM=$((NACC * 1000))

# setup TAG: the source tables of one phase, empty warehouse tables
setup() {
    local t=$1
    src "DROP TABLE IF EXISTS public.${t}_accounts, public.${t}_orders, public.${t}_lines,
           public.${t}_big1, public.${t}_big2, public.${t}_big3;
         CREATE TABLE public.${t}_accounts (id int PRIMARY KEY, balance bigint NOT NULL);
         CREATE TABLE public.${t}_orders (id int PRIMARY KEY, total bigint NOT NULL);
         CREATE TABLE public.${t}_lines (id int PRIMARY KEY, order_id int NOT NULL,
           amount bigint NOT NULL);
         CREATE TABLE public.${t}_big1 (id int PRIMARY KEY, v int);
         CREATE TABLE public.${t}_big2 (id int PRIMARY KEY, v int);
         CREATE TABLE public.${t}_big3 (id int PRIMARY KEY, v int);
         INSERT INTO public.${t}_accounts SELECT g, 1000 FROM generate_series(1, $NACC) g;
         INSERT INTO public.${t}_orders VALUES (0, 5);
         INSERT INTO public.${t}_lines VALUES (0, 0, 5);
         INSERT INTO public.${t}_big1 VALUES (0, 0);
         INSERT INTO public.${t}_big2 VALUES (0, 0);
         INSERT INTO public.${t}_big3 VALUES (0, 0);" >/dev/null
    wh "DROP TABLE IF EXISTS public.${t}_accounts, public.${t}_orders, public.${t}_lines,
          public.${t}_big1, public.${t}_big2, public.${t}_big3" >/dev/null 2>&1
}

# workload TAG FILE: NTX transactions, transfers and orders with lines (new
# ones, and changes of an earlier order's lines with its total), 20 ms apart
workload_sql() {
    python3 - "$1" "$NTX" "$NACC" >"$2" <<'PY'
import random, sys
t, n, nacc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(18)
orders = {}
for i in range(n):
    k = i % 3
    if k == 0 or (k == 2 and not orders):
        a, b = random.sample(range(1, nacc + 1), 2)
        x = random.randint(1, 50)
        print(f"BEGIN; UPDATE public.{t}_accounts SET balance = balance - {x} WHERE id = {a};"
              f" UPDATE public.{t}_accounts SET balance = balance + {x} WHERE id = {b}; COMMIT;")
    elif k == 1:
        o = i
        amts = [random.randint(1, 100) for _ in range(random.randint(1, 4))]
        orders[o] = len(amts)
        lines = ", ".join(f"({o * 10 + j}, {o}, {v})" for j, v in enumerate(amts))
        print(f"BEGIN; INSERT INTO public.{t}_orders VALUES ({o}, {sum(amts)});"
              f" INSERT INTO public.{t}_lines VALUES {lines}; COMMIT;")
    else:
        o = random.choice(list(orders))
        print(f"BEGIN; UPDATE public.{t}_lines SET amount = amount + 7 WHERE order_id = {o};"
              f" UPDATE public.{t}_orders SET total = total + 7 * {orders[o]} WHERE id = {o}; COMMIT;")
    print("SELECT pg_sleep(0.02);")
PY
}

# the reader's one statement (one snapshot): sum of balances, orders whose
# total is not the sum of their lines, rows of the three big tables
reader_sql() {
    local t=$1 i
    for ((i = 0; i < 200; i++)); do
        echo "SELECT (SELECT coalesce(sum(balance), 0) FROM public.${t}_accounts WHERE NOT _cdc_deleted),
  (SELECT count(*) FROM public.${t}_orders o WHERE NOT o._cdc_deleted AND o.total <>
     (SELECT coalesce(sum(amount), 0) FROM public.${t}_lines l WHERE l.order_id = o.id AND NOT l._cdc_deleted)),
  (SELECT count(*) FROM public.${t}_big1) + (SELECT count(*) FROM public.${t}_big2)
     + (SELECT count(*) FROM public.${t}_big3);"
    done
}

# reader_start TAG: polls into $T_TMP/TAG.reads until $T_TMP/TAG.stop exists
reader_start() {
    local t=$1
    reader_sql "$t" >"$T_TMP/$t.reader.sql"
    rm -f "$T_TMP/$t.stop"
    (while [ ! -f "$T_TMP/$t.stop" ]; do
        "$STACK" psql warehouse -At -f "$T_TMP/$t.reader.sql" 2>/dev/null
    done) >"$T_TMP/$t.reads" &
    READER=$!
}
reader_stop() { touch "$T_TMP/$1.stop"; wait "$READER" 2>/dev/null; }

# violations TAG BIG...: reads that break an invariant (BIG: the allowed
# big-table totals, whole transactions only)
violations() {
    local t=$1; shift
    awk -F'|' -v sum="$SUM" -v big=" $* " 'NF == 3 {
        n++; if ($1 != sum || $2 != 0 || index(big, " " $3 " ") == 0) bad++ }
        END { printf "%d %d\n", bad + 0, n + 0 }' "$T_TMP/$t.reads"
}

same_all() {
    local t=$1
    same_rows "SELECT id, balance FROM public.${t}_accounts ORDER BY id" \
        "SELECT id, balance FROM public.${t}_accounts WHERE NOT _cdc_deleted ORDER BY id" &&
    same_rows "SELECT id, total FROM public.${t}_orders ORDER BY id" \
        "SELECT id, total FROM public.${t}_orders WHERE NOT _cdc_deleted ORDER BY id" &&
    same_rows "SELECT id, order_id, amount FROM public.${t}_lines ORDER BY id" \
        "SELECT id, order_id, amount FROM public.${t}_lines WHERE NOT _cdc_deleted ORDER BY id" &&
    same_rows "SELECT (SELECT count(*) FROM public.${t}_big1), (SELECT count(*) FROM public.${t}_big2),
                      (SELECT count(*) FROM public.${t}_big3)" \
        "SELECT (SELECT count(*) FROM public.${t}_big1), (SELECT count(*) FROM public.${t}_big2),
                (SELECT count(*) FROM public.${t}_big3)"
}

# big TAG FROM: one source transaction of 50,000 rows over the three tables
big() {
    local t=$1 f=$2
    src "BEGIN;
         INSERT INTO public.${t}_big1 SELECT g, g FROM generate_series($f, $f + 19999) g;
         INSERT INTO public.${t}_big2 SELECT g, g FROM generate_series($f, $f + 14999) g;
         INSERT INTO public.${t}_big3 SELECT g, g FROM generate_series($f, $f + 14999) g;
         COMMIT;" >/dev/null
}

# phase MODE TAG [--set ...]: connector, sink, reader, workload with a
# kill -9 and restart of the sink in the middle; leaves SINK_PID running
phase() {
    local mode=$1 t=$2 wl; shift 2
    P=$t$(date +%s)
    TOPICS="^$P\\.(public\\..*|transaction)\$"
    setup "$t"
    "$STACK" topic-create "$P.dlq" 1 >>"$T_TMP/topic.log" 2>&1
    "$STACK" connector add "$P" "$P" on provide.transaction.metadata=true \
        "table.include.list=public\\.${t}_.*" >>"$T_TMP/connector.log" 2>&1 \
        && ok "$mode: connector with transaction metadata registered" \
        || fail "$mode: connector add (see $T_TMP/connector.log)"
    SINK_ARGS=(--set apply.consistency="$mode" --set batch.max.events=3
               --set kafka.session.timeout.ms=6000 --set http.listen=127.0.0.1:0 "$@")
    start_sink "$t" "$TOPICS" "$P" "${SINK_ARGS[@]}"
    check "$mode: snapshot arrives" wait_until 90 same_all "$t"
    reader_start "$t"
    workload_sql "$t" "$T_TMP/$t.workload.sql"
    "$STACK" psql source -q -f "$T_TMP/$t.workload.sql" >/dev/null 2>&1 &
    wl=$!
    sleep 5
    kill -9 "$SINK_PID"; wait "$SINK_PID" 2>/dev/null
    start_sink "$t" "$TOPICS" "$P" "${SINK_ARGS[@]}"
    ok "$mode: sink killed with -9 mid-stream and restarted"
    wait "$wl"
}

# ---- transaction mode ----
phase transaction txa --set apply.transaction.max.events=60000
big txa 1
check "transaction: the workload and a 50,000-row transaction arrive" \
    wait_until 180 same_all txa
reader_stop txa
read -r bad reads < <(violations txa 3 50003)
echo "   transaction mode: $reads reads, $bad violations"
check "transaction: the reader polled while the stream ran ($reads reads)" test "$reads" -gt 100
check_eq "transaction: no read saw half of a source transaction" "$bad" 0
HTTP=$(sink_http txa)
curl -s "http://$HTTP/metrics" >"$T_TMP/txa.metrics"
for m in cdcsink_transactions_applied_total cdcsink_transaction_held_events \
         cdcsink_transaction_held_age_seconds cdcsink_transaction_largest_events; do
    check "metrics: $m" grep -q "^$m " "$T_TMP/txa.metrics"
done
check "metrics: the text parses as Prometheus exposition" prom_families "$T_TMP/txa.metrics"
check "metrics: transactions were counted" \
    awk '$1 == "cdcsink_transactions_applied_total" && $2 > 0 { f = 1 } END { exit !f }' "$T_TMP/txa.metrics"
check "metrics: the largest transaction is the 50,000 rows" \
    awk '$1 == "cdcsink_transaction_largest_events" && $2 >= 50000 { f = 1 } END { exit !f }' "$T_TMP/txa.metrics"
stop_sink "$SINK_PID"

# the same size over apply.transaction.max.events: applied in parts
SINK_ARGS=(--set apply.consistency=transaction --set apply.transaction.max.events=20000
           --set kafka.session.timeout.ms=6000 --set http.listen=127.0.0.1:0)
start_sink txa2 "$TOPICS" "$P" "${SINK_ARGS[@]}"
big txa 100001
check "parts: a transaction past max.events arrives" wait_until 180 same_all txa
check "parts: logged as applied in parts" grep -q "applied in parts" "$T_TMP/txa2.log"
HTTP=$(sink_http txa2)
check "parts: counted in cdcsink_transactions_split_total" sh -c \
    "curl -s http://$HTTP/metrics | awk '\$1 == \"cdcsink_transactions_split_total\" && \$2 > 0 { f = 1 } END { exit !f }'"

# a second member in the group shares the source's topics: stops, named
start_sink txa3 "$TOPICS" "$P" "${SINK_ARGS[@]}"
SECOND=$SINK_PID
check "sharing: a member that shares the source's topics stops, naming the fix" \
    wait_until 60 grep -q "one instance per source" "$T_TMP/txa2.log" "$T_TMP/txa3.log"
stop_sink "$SECOND" 5 >/dev/null
t_kill_sinks

# no transaction topic among the topics: stops at start, naming the setting
start_sink txa4 "$P.public.txa_accounts,$P.public.txa_orders" "${P}x" \
    --set apply.consistency=transaction
wait "$SINK_PID"; rc=$?
check_eq "no transaction topic: exits as a configuration error" "$rc" 2
check "no transaction topic: the message names provide.transaction.metadata" \
    grep -q "provide.transaction.metadata=true" "$T_TMP/txa4.log"
t_kill_sinks
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1

# ---- batch mode: the same test must see violations ----
phase batch txb
check "batch: the workload arrives" wait_until 180 same_all txb
reader_stop txb
read -r bad reads < <(violations txb 3)
echo "   batch mode: $reads reads, $bad violations"
check "batch: the reader polled while the stream ran ($reads reads)" test "$reads" -gt 100
check "batch: the reader sees half transactions ($bad violations): the check can fail" \
    test "$bad" -gt 0
t_kill_sinks
"$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
finish
