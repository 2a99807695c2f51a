#!/usr/bin/env bash
# tests/static/benches.sh: the benchmarks in bench/ build with the
# project's strict flags (-Werror), so a change to a shared type cannot
# leave them broken until someone runs one (the "static" tier of
# tests/run.sh; nothing is run, no stack needed). Each bench binary is
# built and must exist. Ends with "benches: N passed, N failed".
T_NAME=benches
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1

if make -s -j2 bench >"$T_TMP/build.log" 2>&1; then
    ok "make bench builds"
else
    fail "make bench: $(grep -m1 -E 'error|Error' "$T_TMP/build.log")"
fi
for d in bench/*/; do
    b=$(basename "$d")
    [ -f "$d/main.c" ] || continue
    check "bench/$b built" test -x "build/release/bench/$b"
done
finish
