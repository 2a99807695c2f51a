#!/usr/bin/env bash
# bench/decode/ab.sh BASE_LIB [ROUNDS] [N] - this tree's decoder against
# another build's, same run: bench/decode/main.c (this tree's workloads) is
# linked once with BASE_LIB (e.g. a main checkout's
# build/release/libcdcsink.a) and once with build/release/libcdcsink.a, and
# the two run alternately ROUNDS times (default 3) per workload on N records
# (default 100000). Prints, per workload, the decoder path's events/s of
# each side: best, and the spread (worst..best) over the rounds, and the
# ratio of the bests. Build first: make bench.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
base=$(realpath "$1")
rounds=${2:-3}
n=${3:-100000}
obj=build/release/bench-obj/decode/main.o
[ -f "$obj" ] || { echo "ab.sh: run make bench first" >&2; exit 2; }
libs=$(make -s -f - print-libs <<'MK' 2>/dev/null || true
include Makefile
print-libs: ; @echo $(PKG_LIBS)
MK
)
tmp=$(mktemp -d /tmp/cdcsink-decode-ab-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cc -o "$tmp/base" "$obj" "$base" $libs -lm -lpthread
cc -o "$tmp/this" "$obj" build/release/libcdcsink.a $libs -lm -lpthread
printf '%-15s %-5s %10s %21s %7s\n' workload side best spread ratio
for w in on/orders off/orders insert/orders on/customers off/customers; do
    for r in $(seq "$rounds"); do
        for side in base this; do
            DECODER_ONLY=1 "$tmp/$side" "$n" tests/unit/captures "$w" |
                awk -v s="$side" '$2 == "decoder" { print s, $4 }'
        done
    done >"$tmp/runs"
    awk -v w="$w" '
        { if (!($1 in best) || $2 > best[$1]) best[$1] = $2
          if (!($1 in worst) || $2 < worst[$1]) worst[$1] = $2 }
        END { for (i = 0; i < 2; i++) {
                  s = i ? "this" : "base"
                  printf "%-15s %-5s %10d %10d..%-10d %6s\n", w, s, best[s],
                         worst[s], best[s],
                         i ? sprintf("%.2fx", best["this"] / best["base"]) : ""
              } }' "$tmp/runs"
done
