#!/usr/bin/env bash
# run-unit.sh BUILD_DIR - runs every unit-test binary, sums the results.
# Prints "unit: N passed, N failed"; exits non-zero on any failure.
set -u
build=${1:-build/release}
passed=0 failed=0
for t in "$build"/tests/unit/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^ok ' || true
    line=$(printf '%s\n' "$out" | tail -n 1)
    p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then  # crashed before its summary
        echo "FAIL $t exited $rc without a summary"
        p=0 f=1
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $t exited $rc"
        f=1
    fi
    passed=$((passed + p)) failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
