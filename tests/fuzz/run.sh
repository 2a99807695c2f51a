#!/usr/bin/env bash
# run.sh BIN - runs the decoder fuzzer for a bounded time (FUZZ_SECONDS,
# default 60) from the seed corpus plus the real captures, in a scratch
# corpus folder; prints "fuzz: 1 passed, 0 failed" or the crash and
# "fuzz: 0 passed, 1 failed".
set -u
bin=$(realpath "${1:?usage: run.sh FUZZ_BINARY}")
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-60}
work=$(mktemp -d /tmp/cdcsink-fuzz-XXXXXX)
mkdir -p "$work/corpus"
cp "$root"/tests/fuzz/corpus/* "$work/corpus/" 2>/dev/null
# seed with every captured record: key NUL value
python3 - "$root/tests/unit/captures" "$work/corpus" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
n = 0
for f in sorted(os.listdir(src)):
    for line in open(os.path.join(src, f)):
        r = json.loads(line)
        data = (r.get("key") or "").encode() + b"\0" + (r.get("payload") or "").encode()
        open(os.path.join(dst, "cap%03d" % n), "wb").write(data)
        n += 1
PY
if (cd "$work" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 corpus >"$work/log" 2>&1); then
    grep -E "stat::number_of_executed_units|stat::peak_rss" "$work/log" | sed 's/^/  /'
    echo "fuzz: 1 passed, 0 failed"
    rm -rf "$work"
    exit 0
fi
tail -n 40 "$work/log"
echo "  crash input kept in $work"
echo "fuzz: 0 passed, 1 failed"
exit 1
