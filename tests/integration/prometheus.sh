#!/usr/bin/env bash
# prometheus.sh - docker/monitoring/ against a real cdcsink on the test
# stack: `promtool check rules` on the real alerts.yml (and a broken copy
# must be rejected), the real prometheus.yml's syntax, then a Prometheus on
# loopback (a copy of prometheus.yml: 1 s scrapes of this test's cdcsink,
# the rules with every `for:` cut to 5 s) where every Grafana panel's query
# must return data (and a copy with a misspelt metric must not), and alerts
# driven to firing: a dead letter (CdcsinkDeadLetters), PostgreSQL stopped
# while changes wait (CdcsinkRetrying, CdcsinkUnhealthy), the sink stopped
# (CdcsinkDown). Installs nothing: `stack.sh install` brings prometheus.
set -u
. "$(dirname "$0")/../lib.sh"

MON=$ROOT/docker/monitoring
DASH=$MON/grafana/dashboards/cdcsink.json
PROM_PID=
trap '[ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null; "$STACK" start postgres >/dev/null 2>&1' EXIT

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    fail "prometheus and promtool are not installed (docker/stack/stack.sh install installs Debian's prometheus)"
    finish; exit 1
fi

# ---- the real files' syntax, and a broken copy that must be rejected
check "promtool check rules docker/monitoring/alerts.yml" \
    promtool check rules "$MON/alerts.yml" >"$T_TMP/promtool.log" 2>&1
check "promtool check config --syntax-only docker/monitoring/prometheus.yml" \
    promtool check config --syntax-only "$MON/prometheus.yml" >>"$T_TMP/promtool.log" 2>&1
sed 's/expr: up{job="cdcsink"} == 0/expr: up{job="cdcsink"} == (0/' "$MON/alerts.yml" >"$T_TMP/broken-alerts.yml"
if cmp -s "$MON/alerts.yml" "$T_TMP/broken-alerts.yml"; then
    fail "negative case: the sed edit did not change alerts.yml"
elif promtool check rules "$T_TMP/broken-alerts.yml" >/dev/null 2>&1; then
    fail "promtool accepted a rule with a broken expression"
else
    ok "promtool rejects a rule with a broken expression"
fi

# ---- a cdcsink with something to show: 200 changes, Redis dedup on
P=prom$(date +%s)
TOPIC="$P.public.items"
produce_changes "$TOPIC" "${P}_items" 1 200
start_sink sink "^$P\\.public\\..*" "$P" --set http.listen=127.0.0.1:0 \
    --set redis.url="$CDC_REDIS_URL" --set retry.backoff.max.ms=500
SINK=$SINK_PID
ADDR=$(sink_http sink) || { fail "the sink serves no /metrics (see $T_TMP/sink.log)"; finish; exit 1; }
rows_are() { [ "$(wh "SELECT count(*) FROM public.${P}_items" 2>/dev/null)" = "$1" ]; }
check "the sink applied the 200 changes" wait_until 60 rows_are 200

# ---- Prometheus on loopback: copies of the real config and rules
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
API="http://127.0.0.1:$PORT/api/v1"
sed -e 's/^\(  *\)for: .*/\1for: 5s/' "$MON/alerts.yml" >"$T_TMP/alerts.yml"
sed -e 's/scrape_interval: 15s/scrape_interval: 1s/' -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
    -e "s|/etc/prometheus/cdcsink/alerts.yml|$T_TMP/alerts.yml|" -e "s|'cdcsink:9187'|'$ADDR'|" \
    "$MON/prometheus.yml" >"$T_TMP/prometheus.yml"
check_eq "the test config differs from the real one only where meant" \
    "$(diff "$MON/prometheus.yml" "$T_TMP/prometheus.yml" | grep -c '^>')" "4"
prometheus --config.file="$T_TMP/prometheus.yml" --storage.tsdb.path="$T_TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PORT" --log.level=warn >"$T_TMP/prometheus.log" 2>&1 &
PROM_PID=$!

# query EXPR: the API's answer as "status count" (count = number of series)
query() {
    curl -s --max-time 5 -G --data-urlencode "query=$1" "$API/query" |
        python3 -c 'import json, sys
try:
    d = json.load(sys.stdin)
    print(d.get("status"), len(d.get("data", {}).get("result", [])), d.get("error", ""))
except Exception as e:
    print("error 0", e)'
}
has_data() { [[ $(query "$1") == "success "[1-9]* ]]; }
# firing NAME: the alert NAME is firing
firing() {
    curl -s --max-time 5 "$API/alerts" | python3 -c 'import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(a["labels"]["alertname"] == sys.argv[1] and a["state"] == "firing"
                  for a in d["data"]["alerts"]) else 1)' "$1"
}
check "Prometheus scrapes the sink (up == 1)" wait_until 40 has_data 'up{job="cdcsink"} == 1'
# rate() needs two samples in its window
check "rates have samples" wait_until 20 has_data 'rate(cdcsink_records_total[1m])'

# panels DASHBOARD: one line per target, "title<TAB>expr"
panels() {
    python3 -c 'import json, sys
for p in json.load(open(sys.argv[1]))["panels"]:
    for t in p.get("targets", []):
        print(p["title"] + "\t" + t["expr"])' "$1"
}
# check_panels DASHBOARD: prints each target that errs or returns nothing
check_panels() {
    local title expr got
    while IFS=$'\t' read -r title expr; do
        got=$(query "$expr")
        [[ $got == "success "[1-9]* ]] || printf '%s: %s -> %s\n' "$title" "$expr" "$got"
    done < <(panels "$1")
}
n=$(panels "$DASH" | wc -l)
bad=$(check_panels "$DASH")
check_eq "every dashboard query ($n) returns data" "$bad" ""
sed 's/cdcsink_events_total/cdcsink_event_total/' "$DASH" >"$T_TMP/broken-dash.json"
check "a panel on a misspelt metric is caught" grep -q 'cdcsink_event_total' <(check_panels "$T_TMP/broken-dash.json")

# ---- alerts
printf 'not json\n' | kcat -P -b "$CDC_KAFKA_BOOTSTRAP" -t "$TOPIC"
check "a dead letter fires CdcsinkDeadLetters" wait_until 40 firing CdcsinkDeadLetters

"$STACK" stop postgres >>"$T_TMP/stack.log" 2>&1
produce_changes "$TOPIC" "${P}_items" 201 20
check "PostgreSQL down with changes waiting fires CdcsinkRetrying" wait_until 60 firing CdcsinkRetrying
check "... and CdcsinkUnhealthy" wait_until 20 firing CdcsinkUnhealthy
"$STACK" start postgres >>"$T_TMP/stack.log" 2>&1
check "PostgreSQL back: the waiting changes are applied" wait_until 60 rows_are 220
check "... and the sink is healthy again" wait_until 20 has_data 'cdcsink_healthy{job="cdcsink"} == 1'

stop_sink "$SINK" >/dev/null
check "the sink stopped fires CdcsinkDown" wait_until 40 firing CdcsinkDown

kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; PROM_PID=
finish
