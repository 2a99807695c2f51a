#!/usr/bin/env bash
# tests/run.sh [TIER...] - builds and runs the test tiers, then prints the
# one closing line "N passed, N failed".
#
# Tiers: unit (no servers), integration (starts a private test stack: real
# PostgreSQL, Redis, Kafka KRaft and Kafka Connect with Debezium), chaos
# (kills and restarts on the same test stack), fuzz (each parser of outside
# input under libFuzzer for a short bounded time), static (compose and Dockerfile checks). Each
# runs alone (tests/run.sh chaos); default: all of them, one stack shared by
# integration and chaos.
# CDC_VARIANT=asan runs the same binaries built with ASan/UBSan.
# CDC_TEST_ONLY=REGEX runs only the test programs whose name matches (for
# development; CI never sets it).
# CDC_TEST_REPEAT=N runs each selected test program N times in a row on the
# one stack, each run counted and followed by "repeat NAME I/N: pass|FAIL
# (S s)", e.g. ten runs of the fencing test:
#   CDC_TEST_ONLY='^fencing$' CDC_TEST_REPEAT=10 tests/run.sh chaos
# CDC_TEST_KEYLESS_ROWS=N: the keyless log table's row count in keyless.sh
# (100000 in make test); the 1M run is a manual command, not in any tier:
#   CDC_TEST_KEYLESS_ROWS=1000000 CDC_TEST_ONLY='^keyless$' tests/run.sh integration
# The test stack uses its own run folder and ports, so it can run beside a
# demo stack, and is stopped on exit whatever happens.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VARIANT=${CDC_VARIANT:-release}
BUILD="build/$VARIANT"
TIERS=("$@")
[ ${#TIERS[@]} -eq 0 ] && TIERS=(unit integration chaos fuzz static)
LOG=$(mktemp -d /tmp/cdcsink-run-XXXXXX)
TOTAL_P=0 TOTAL_F=0

# add_summary FILE: sums the "name: N passed, N failed" lines of FILE
add_summary() {
    local pf
    pf=$(awk '/^[^ ]*: [0-9]+ passed, [0-9]+ failed/ {
              for (i = 1; i <= NF; i++) {
                  if ($(i+1) ~ /^passed,?$/) p += $i
                  if ($(i+1) ~ /^failed,?$/) f += $i
              } } END { print p + 0, f + 0 }' "$1")
    TOTAL_P=$((TOTAL_P + ${pf% *})) TOTAL_F=$((TOTAL_F + ${pf#* }))
}
# run_part NAME CMD...: runs one test program (CDC_TEST_REPEAT times)
run_part() {
    local name=$1 i n=${CDC_TEST_REPEAT:-1} f0 start
    # CDC_TEST_ONLY=REGEX: a developer's filter on test names (never in CI)
    [[ -z ${CDC_TEST_ONLY:-} || $name =~ $CDC_TEST_ONLY ]] || return 0
    for ((i = 1; i <= n; i++)); do
        f0=$TOTAL_F start=$SECONDS
        run_once "$@"
        ((n > 1)) || continue
        echo "repeat $name $i/$n: $( ((TOTAL_F == f0)) && echo pass || echo FAIL)" \
             "($((SECONDS - start)) s)"
    done
}
# run_once NAME CMD...: one run; a crash without a summary counts as one
# failure
run_once() {
    local name=$1 out="$LOG/$1.out" rc; shift
    "$@" >"$out" 2>&1; rc=$?
    grep -v '^ok ' "$out" | grep -v '^$' | sed 's/^/  /' | tail -n 60
    if ! grep -q '^[^ ]*: [0-9]* passed, [0-9]* failed' "$out"; then
        echo "FAIL $name exited $rc without a summary"
        TOTAL_F=$((TOTAL_F + 1))
    else
        add_summary "$out"
        if [ "$rc" -ne 0 ] && ! grep -q ' [1-9][0-9]* failed' "$out"; then
            echo "FAIL $name exited $rc"
            TOTAL_F=$((TOTAL_F + 1))
        fi
    fi
}

# c_tests TIER: the built test programs of tests/TIER/test_*.c, one a line
# (by source, so a binary left in the build folder by a renamed or removed
# test does not run)
c_tests() {
    local src
    for src in tests/"$1"/test_*.c; do
        [ -e "$src" ] || continue
        src=${src##*/}
        echo "$BUILD/tests/$1/${src%.c}"
    done
}

STACK_STATE=down
# stack_up: starts the private test stack once (integration and chaos share
# it) and exports its environment; it is stopped on exit whatever happens
stack_up() {
    case $STACK_STATE in up) return 0 ;; failed) return 1 ;; esac
    export CDC_STACK_DIR=${CDC_TEST_STACK_DIR:-$ROOT/.stack-test}
    export CDC_PG_PORT=${CDC_TEST_PG_PORT:-23432}
    export CDC_REDIS_PORT=${CDC_TEST_REDIS_PORT:-23379}
    export CDC_KAFKA_PORT=${CDC_TEST_KAFKA_PORT:-23092}
    export CDC_KAFKA_CONTROLLER_PORT=${CDC_TEST_KAFKA_CONTROLLER_PORT:-23093}
    export CDC_CONNECT_PORT=${CDC_TEST_CONNECT_PORT:-23083}
    trap 'docker/stack/stack.sh down --purge >/dev/null 2>&1; rm -rf "$LOG"' EXIT
    local start=$SECONDS
    if ! docker/stack/stack.sh up >"$LOG/stack.out" 2>&1; then
        tail -n 40 "$LOG/stack.out"
        echo "FAIL stack-up"
        TOTAL_F=$((TOTAL_F + 1)); STACK_STATE=failed
        return 1
    fi
    echo "   stack up in $((SECONDS - start)) s"
    eval "$(docker/stack/stack.sh env)"
    export CDC_TEST_PG_URI="$CDC_PG_WAREHOUSE_URI"
    export CDC_TEST_PG_SOURCE_URI="$CDC_PG_SOURCE_URI"
    export CDC_TEST_REDIS_URL="$CDC_REDIS_URL"
    export CDC_TEST_KAFKA="$CDC_KAFKA_BOOTSTRAP"
    STACK_STATE=up
}
trap 'rm -rf "$LOG"' EXIT

echo "== build ($VARIANT)"
if ! make -s -j2 VARIANT="$VARIANT" build >"$LOG/build.out" 2>&1; then
    tail -n 40 "$LOG/build.out"
    echo "build: 0 passed, 1 failed"
    echo "0 passed, 1 failed"
    exit 1
fi
export CDC_BIN="$ROOT/$BUILD/cdcsink"

for tier in "${TIERS[@]}"; do
    case "$tier" in
    unit)
        echo "== unit"
        for t in $(c_tests unit); do
            run_part "$(basename "$t")" "$t"
        done
        ;;
    integration)
        echo "== integration (test stack)"
        stack_up || continue
        for t in $(c_tests integration); do
            run_part "$(basename "$t")" "$t"
        done
        for t in tests/integration/*.sh; do
            [ -x "$t" ] && run_part "$(basename "$t" .sh)" "$t"
        done
        ;;
    chaos)
        echo "== chaos (test stack)"
        stack_up || continue
        for t in tests/chaos/*.sh; do
            [ -x "$t" ] && run_part "$(basename "$t" .sh)" "$t"
        done
        ;;
    fuzz)
        [ "$VARIANT" = release ] || continue
        echo "== fuzz"
        if compgen -G 'tests/fuzz/fuzz_*.c' >/dev/null; then
            if make -s fuzz >"$LOG/fuzz-build.out" 2>&1; then
                run_part fuzz tests/fuzz/run.sh build/fuzz/fuzz_*
            else
                tail -n 20 "$LOG/fuzz-build.out"
                echo "FAIL fuzz build"; TOTAL_F=$((TOTAL_F + 1))
            fi
        fi
        ;;
    static)
        for t in tests/static/*.sh; do
            [ -x "$t" ] || continue
            [ "$VARIANT" = release ] || continue
            echo "== static $(basename "$t")"
            run_part "$(basename "$t" .sh)" "$t"
        done
        ;;
    *) echo "unknown tier $tier"; TOTAL_F=$((TOTAL_F + 1)) ;;
    esac
done
if [ "$STACK_STATE" = up ]; then
    docker/stack/stack.sh down --purge >/dev/null 2>&1
fi
echo "$TOTAL_P passed, $TOTAL_F failed"
[ "$TOTAL_F" -eq 0 ]
