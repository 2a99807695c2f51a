#!/usr/bin/env bash
# update-readme.sh BIN - regenerates the README's settings section from the
# settings table (`BIN config-doc`), between the settings:begin/end markers.
set -euo pipefail
bin=${1:-./cdcsink}
cd "$(dirname "$0")/.."
doc=$("$bin" config-doc)
awk -v doc="$doc" '
    /<!-- settings:begin -->/ { print; print doc; skip = 1; next }
    /<!-- settings:end -->/ { skip = 0 }
    !skip { print }' README.md >README.md.new
mv README.md.new README.md
