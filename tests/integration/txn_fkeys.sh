#!/usr/bin/env bash
# txn_fkeys.sh - foreign keys declared in the warehouse between replicated
# tables, through real Debezium with transaction metadata: a parent and
# its children inserted in one source transaction, the children and the
# parent deleted in another, interleaved with changes of other orders.
#   - DEFERRABLE INITIALLY DEFERRED keys (checked at COMMIT), transaction
#     mode, small batches, soft deletes and then hard deletes: no key
#     violation ever stops the stream (the sink runs to the end, nothing
#     dead-lettered), the final state equals the source;
#   - a key checked at each statement (NOT DEFERRABLE): transaction mode
#     refuses to start, naming the key and the ALTER that fixes it.
# TXN_FK_MODE=batch runs the workload phases with apply.consistency=batch:
# a batch then holds part of a source transaction, the key fails at COMMIT
# and stops the stream (how the check was shown to fail).
set -u
. "$(dirname "$0")/../lib.sh"

NTX=${TXN_FK_TX:-150}
MODE=${TXN_FK_MODE:-transaction}

# setup TAG: source tables with the key, empty warehouse
setup() {
    local t=$1
    src "DROP TABLE IF EXISTS public.${t}_child, public.${t}_parent;
         CREATE TABLE public.${t}_parent (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE public.${t}_child (id int PRIMARY KEY,
           parent_id int NOT NULL REFERENCES public.${t}_parent (id), v int NOT NULL);
         INSERT INTO public.${t}_parent VALUES (0, 'seed');
         INSERT INTO public.${t}_child VALUES (0, 0, 0);" >/dev/null
    wh "DROP TABLE IF EXISTS public.${t}_child, public.${t}_parent" >/dev/null 2>&1
}

# workload TAG FILE: NTX source transactions: a new parent with 1-4
# children; the children then the parent of an earlier one deleted; a
# child moved to another live parent with that parent renamed
workload_sql() {
    python3 - "$1" "$NTX" >"$2" <<'PY'
import random, sys
t, n = sys.argv[1], int(sys.argv[2])
random.seed(2)
live = {}
for i in range(1, n + 1):
    k = i % 3
    if k != 2 or len(live) < 3:
        kids = [i * 10 + j for j in range(random.randint(1, 4))]
        live[i] = kids
        vals = ", ".join(f"({c}, {i}, {c})" for c in kids)
        print(f"BEGIN; INSERT INTO public.{t}_parent VALUES ({i}, 'p{i}');"
              f" INSERT INTO public.{t}_child VALUES {vals}; COMMIT;")
    elif k == 2 and random.random() < 0.6:
        p = random.choice(list(live))
        kids = live.pop(p)
        print(f"BEGIN; DELETE FROM public.{t}_child WHERE parent_id = {p};"
              f" DELETE FROM public.{t}_parent WHERE id = {p}; COMMIT;")
    else:
        a, b = random.sample(list(live), 2)
        if live[a]:
            c = live[a].pop()
            live[b].append(c)
            print(f"BEGIN; UPDATE public.{t}_parent SET name = name || '+' WHERE id = {b};"
                  f" UPDATE public.{t}_child SET parent_id = {b} WHERE id = {c}; COMMIT;")
    if i % 5 == 0:
        print("SELECT pg_sleep(0.02);")
PY
}

same_all() {
    local t=$1
    same_rows "SELECT id, name FROM public.${t}_parent ORDER BY id" \
        "SELECT id, name FROM public.${t}_parent WHERE NOT _cdc_deleted ORDER BY id" &&
    same_rows "SELECT id, parent_id, v FROM public.${t}_child ORDER BY id" \
        "SELECT id, parent_id, v FROM public.${t}_child WHERE NOT _cdc_deleted ORDER BY id"
}

# fkey TAG MODE: the warehouse's key from child to parent, declared as MODE
fkey() {
    wh "ALTER TABLE public.$1_child ADD CONSTRAINT $1_child_parent
          FOREIGN KEY (parent_id) REFERENCES public.$1_parent (id) $2" >/dev/null
}

# phase TAG DELETE_MODE: connector, snapshot, key declared, workload
phase() {
    local t=$1 del=$2 P
    P=$t$(date +%s)
    setup "$t"
    "$STACK" topic-create "$P.dlq" 1 >>"$T_TMP/topic.log" 2>&1
    "$STACK" connector add "$P" "$P" on provide.transaction.metadata=true \
        "table.include.list=public\\.${t}_.*" >>"$T_TMP/connector.log" 2>&1 \
        && ok "$del: connector with transaction metadata registered" \
        || fail "$del: connector add (see $T_TMP/connector.log)"
    local topics="^$P\\.(public\\..*|transaction)\$"
    local args=(--set apply.consistency="$MODE" --set batch.max.events=3
                --set delete.mode="$del" --set errors.policy=fail)
    start_sink "$t" "$topics" "$P" "${args[@]}"
    check "$del: snapshot arrives" wait_until 90 same_all "$t"
    # declared after the snapshot: snapshot reads carry no transaction
    stop_sink "$SINK_PID" >/dev/null
    fkey "$t" "DEFERRABLE INITIALLY DEFERRED"
    start_sink "$t" "$topics" "$P" "${args[@]}"
    workload_sql "$t" "$T_TMP/$t.workload.sql"
    "$STACK" psql source -q -f "$T_TMP/$t.workload.sql" >/dev/null 2>&1
    check "$del: the workload arrives, the key held" wait_until 180 same_all "$t"
    check "$del: the sink is still running (no key stopped it)" kill -0 "$SINK_PID"
    check "$del: no key violation logged" sh -c "! grep -q 'foreign key' '$T_TMP/$t.log'"
    check_eq "$del: nothing was dead-lettered" "$(topic_count "$P.dlq")" "0"
    stop_sink "$SINK_PID"; check_eq "$del: SIGTERM exits 0" "$?" "0"
    "$STACK" connector remove "$P" >>"$T_TMP/connector.log" 2>&1
    LAST_P=$P
}

phase fka soft
check "soft: deleted parents stay, flagged" \
    test "$(wh "SELECT count(*) FROM public.fka_parent WHERE _cdc_deleted")" -gt 0
phase fkb hard
check_eq "hard: deleted parents are gone" \
    "$(wh "SELECT count(*) FROM public.fkb_parent WHERE _cdc_deleted")" "0"

# a key checked at each statement: refused at start in transaction mode
wh "ALTER TABLE public.fkb_child DROP CONSTRAINT fkb_child_parent" >/dev/null
fkey fkb "NOT DEFERRABLE"
start_sink fkc "^$LAST_P\\.(public\\..*|transaction)\$" "$LAST_P" \
    --set apply.consistency=transaction
rc=running
wait_until 30 sh -c "! kill -0 $SINK_PID 2>/dev/null" && { wait "$SINK_PID"; rc=$?; }
stop_sink "$SINK_PID" 5 >/dev/null
check_eq "immediate key: transaction mode exits as a configuration error" "$rc" 2
check "immediate key: the message names the key and the fix" \
    grep -q "fkb_child_parent.*DEFERRABLE INITIALLY DEFERRED" "$T_TMP/fkc.log"
# batch mode starts, with a warning naming apply.consistency=transaction
start_sink fkd "^$LAST_P\\.(public\\..*|transaction)\$" "$LAST_P" \
    --set apply.consistency=batch --set http.listen=127.0.0.1:0
check "batch mode: starts, warning that keys need transaction mode" \
    wait_until 20 grep -q "fkb_child_parent.*apply.consistency=transaction" "$T_TMP/fkd.log"
stop_sink "$SINK_PID" >/dev/null
wh "DROP TABLE IF EXISTS public.fka_child, public.fka_parent, public.fkb_child, public.fkb_parent" >/dev/null
finish
