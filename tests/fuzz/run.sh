#!/usr/bin/env bash
# run.sh BIN... - runs each libFuzzer target for a bounded time
# (FUZZ_SECONDS each, default 25: the test tier's four targets stay under
# two minutes) from its seeds, tests/fuzz/corpus/NAME/ for build/fuzz/fuzz_NAME
# (the decoder's and the decode command's also get every captured record),
# in a scratch corpus folder. Prints per target the executions and "fuzz_NAME:
# 1 passed, 0 failed", or the crash, where its input was kept, and
# "fuzz_NAME: 0 passed, 1 failed". Exits 1 when any target failed.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-25}
[ $# -gt 0 ] || { echo "usage: run.sh FUZZ_BINARY..." >&2; exit 2; }

# seed_captures KIND DIR: every captured record, as the target reads input
seed_captures() {
    python3 - "$root/tests/unit/captures" "$2" "$1" <<'PY'
import json, os, sys
src, dst, kind = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
for f in sorted(os.listdir(src)):
    for line in open(os.path.join(src, f)):
        if kind == "decoder":  # key NUL value
            r = json.loads(line)
            data = ((r.get("key") or "").encode() + b"\0" +
                    (r.get("payload") or "").encode())
        else:  # decode_cmd: the kcat -J line itself
            data = line.encode()
        open(os.path.join(dst, "cap%03d" % n), "wb").write(data)
        n += 1
PY
}

failed=0
for arg in "$@"; do
    bin=$(realpath "$arg")
    name=$(basename "$bin")
    target=${name#fuzz_}
    work=$(mktemp -d /tmp/cdcsink-fuzz-XXXXXX)
    mkdir -p "$work/corpus"
    cp "$root/tests/fuzz/corpus/$target"/* "$work/corpus/" 2>/dev/null
    case "$target" in
    decoder | decode_cmd) seed_captures "$target" "$work/corpus" ;;
    esac
    # -close_fd_mask=2: the targets' own stderr (decode's complaints about
    # bad lines) is dropped; libFuzzer and the sanitizers keep reporting
    if (cd "$work" && "$bin" -max_total_time="$secs" -timeout=10 \
            -rss_limit_mb=2048 -max_len=65536 -close_fd_mask=2 \
            -print_final_stats=1 corpus >"$work/log" 2>&1); then
        grep -E "stat::number_of_executed_units|stat::peak_rss" "$work/log" |
            sed 's/^/  /'
        echo "$name: 1 passed, 0 failed"
        rm -rf "$work"
    else
        tail -n 40 "$work/log"
        echo "  crash input kept in $work (add it to tests/fuzz/corpus/$target/"
        echo "  as regress_NAME once fixed)"
        echo "$name: 0 passed, 1 failed"
        failed=1
    fi
done
exit $failed
