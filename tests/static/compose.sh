#!/usr/bin/env bash
# tests/static/compose.sh: static checks of docker-compose.yml (the "static"
# tier of tests/run.sh; no container engine needed).
#
#   schema   dclint (npm package, pinned; installed once into .cache/tools/)
#            validates the file against the Compose Specification's JSON
#            schema that it bundles, and lints it (all rules, warnings
#            count as failures)
#   drift    the compose file against the local stack (docker/stack/env.sh
#            pins, docker/connect/postgres-source.properties as
#            `stack.sh connector add` registers it) and against itself:
#            image versions (Kafka, Debezium, PostgreSQL major, Redis), the
#            connector JSON's settings, wal_level=logical, the connector
#            JSON's database.* = the source-db service, cdcsink's topics
#            pattern = the connector's topics, its addresses = the services,
#            every CDCSINK_* a real setting (`cdcsink --help`), a
#            healthcheck on every long-running service, and every
#            depends_on with a condition that can be met; the connector
#            JSON = the demo's connector (the stack's base properties plus
#            docker/demo/connector.properties); monitoring: Prometheus is
#            Debian's packaged version (the one the tests run), scrapes the
#            cdcsink service's http.listen port and loads the mounted
#            alerts.yml, Grafana's datasource is that Prometheus under the
#            uid every dashboard panel uses, its dashboards are mounted where
#            the provider looks, and every cdcsink_* metric the alerts and
#            the dashboard name is one that consumer/pipeline_obs.c exports;
#            the README's connector JSON = the compose file's
# Then every check runs on deliberately broken copies (a bad key, a wrong
# type, drifted versions and settings, ...), each of which must be
# rejected: the output shows why (negative cases).
# Ends with "compose: N passed, N failed".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck disable=SC2034 # read by tests/lib.sh
T_NAME=compose
# shellcheck source=tests/lib.sh
. tests/lib.sh

COMPOSE=docker-compose.yml
CONNECTOR_PROPS=docker/connect/postgres-source.properties
DEMO_PROPS=docker/demo/connector.properties
TOOLS=${CDC_TOOLS_DIR:-${CDC_CACHE_DIR:-$ROOT/.cache}/tools}
DCLINT_VERSION=3.1.0
DCLINT_DIR=$TOOLS/dclint-$DCLINT_VERSION
DCLINT=$DCLINT_DIR/node_modules/.bin/dclint
BIN=${CDC_BIN:-$ROOT/cdcsink}

# ---------------------------------------------------------------- tools

install_dclint() {
    [[ -x $DCLINT && -e $DCLINT_DIR/.complete ]] && return 0
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "node and npm are needed for dclint"
        return 1
    fi
    local tmp
    mkdir -p "$TOOLS"
    tmp=$(mktemp -d "$TOOLS/.dclint.XXXXXX")
    echo "installing dclint $DCLINT_VERSION (npm) into $TOOLS"
    if ! (cd "$tmp" && npm install --prefix "$tmp" --no-audit --no-fund --omit=dev --loglevel=error \
        "dclint@$DCLINT_VERSION") >"$T_TMP/npm.log" 2>&1 || [[ ! -x $tmp/node_modules/.bin/dclint ]]; then
        cat "$T_TMP/npm.log"
        rm -rf -- "$tmp"
        return 1
    fi
    touch "$tmp/.complete"
    rm -rf -- "$DCLINT_DIR.old"
    [[ ! -e $DCLINT_DIR ]] || mv -T "$DCLINT_DIR" "$DCLINT_DIR.old" 2>/dev/null || true
    mv -T "$tmp" "$DCLINT_DIR" 2>/dev/null || rm -rf -- "$tmp"
    rm -rf -- "$DCLINT_DIR.old"
    [[ -x $DCLINT ]]
}

# ---------------------------------------------------------------- checks

# schema FILE: dclint, every rule, warnings are failures.
schema() {
    "$DCLINT" --color=false --max-warnings 0 "$1"
}

# pins [ENV_SH]: the local stack's pins, read by sourcing env.sh as
# stack.sh does.
pins() {
    (
        # shellcheck disable=SC2034 # env.sh reads it
        CDC_REPO_DIR=$ROOT
        # shellcheck source=docker/stack/env.sh
        . "${1:-docker/stack/env.sh}"
        printf '%s %s %s\n' "$CDC_KAFKA_VERSION" "$CDC_DEBEZIUM_VERSION" "$CDC_PG_MAJOR"
    )
}
read -r PIN_KAFKA PIN_DEBEZIUM PIN_PG_MAJOR < <(pins)
# Redis has no pin in env.sh: the stack runs Debian 12's redis-server.
PIN_REDIS=$(dpkg-query -W -f '${Version}' redis-server 2>/dev/null | sed -E 's/^[0-9]+://; s/^([0-9]+\.[0-9]+).*/\1/' || true)
# Prometheus: the version of Debian's package that `stack.sh install` brings
# and tests/integration/prometheus.sh runs (2.42.0+ds-5 -> 2.42.0).
PIN_PROMETHEUS=$(dpkg-query -W -f '${Version}' prometheus 2>/dev/null | sed -E 's/^[0-9]+://; s/[+~-].*//' || true)
SETTINGS_FILE=$T_TMP/settings.txt
if [[ -x $BIN ]]; then
    "$BIN" --help 2>/dev/null | grep -o 'env: CDCSINK_[A-Z0-9_]*' | cut -d' ' -f2 >"$SETTINGS_FILE"
else
    : >"$SETTINGS_FILE"
fi

# drift FILE [CONNECTOR_JSON] [PROPS]: the drift checks, in node with the
# YAML parser that dclint brings. Prints "ok ..." / "FAIL ..." lines; exits
# non-zero when any check fails.
drift() {
    PIN_KAFKA=${PIN_KAFKA_OVERRIDE:-$PIN_KAFKA} PIN_DEBEZIUM=$PIN_DEBEZIUM PIN_PG_MAJOR=$PIN_PG_MAJOR \
        PIN_REDIS=$PIN_REDIS PIN_PROMETHEUS=$PIN_PROMETHEUS SETTINGS_FILE=$SETTINGS_FILE REPO_ROOT=$ROOT \
        README_FILE=${README_OVERRIDE:-README.md} DEMO_PROPS=${DEMO_PROPS_OVERRIDE:-$DEMO_PROPS} MONITORING_DIR=${MONITORING_OVERRIDE:-docker/monitoring} \
        YAML_MODULE=$DCLINT_DIR/node_modules/yaml \
        node - "$1" "${2:-}" "${3:-$CONNECTOR_PROPS}" <<'JS'
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require(process.env.YAML_MODULE);
const [composeFile, jsonOverride, propsFile] = process.argv.slice(2);
const root = process.env.REPO_ROOT;
let failed = 0;
const ok = (m) => console.log('ok ' + m);
const bad = (m) => { failed++; console.log('FAIL ' + m); };
const expect = (cond, good, why) => (cond ? ok(good) : bad(why));

const doc = YAML.parse(fs.readFileSync(composeFile, 'utf8'));
const services = doc.services || {};
const names = Object.keys(services);
const envOf = (s) => {
  const e = (services[s] || {}).environment || {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v == null ? '' : String(v)]));
};
const byImage = (re) => names.filter((n) => re.test(String(services[n].image || '')));
const tagOf = (n) => String(services[n].image).split(':').slice(1).join(':');
const one = (what, list) => {
  if (list.length !== 1) { bad(`expected exactly one ${what} service, found [${list}]`); return null; }
  return list[0];
};

// ---- versions against docker/stack/env.sh
const kafka = one('Apache Kafka (apache/kafka)', byImage(/^apache\/kafka:/));
if (kafka) expect(tagOf(kafka) === process.env.PIN_KAFKA,
  `kafka image ${services[kafka].image} = CDC_KAFKA_VERSION ${process.env.PIN_KAFKA}`,
  `kafka image ${services[kafka].image} drifted from docker/stack/env.sh CDC_KAFKA_VERSION=${process.env.PIN_KAFKA}`);
const connect = one('Debezium Connect', byImage(/^(quay\.io\/)?debezium\/connect:/));
if (connect) expect(tagOf(connect) === process.env.PIN_DEBEZIUM,
  `connect image ${services[connect].image} = CDC_DEBEZIUM_VERSION ${process.env.PIN_DEBEZIUM}`,
  `connect image ${services[connect].image} drifted from docker/stack/env.sh CDC_DEBEZIUM_VERSION=${process.env.PIN_DEBEZIUM}`);
const pgs = byImage(/^postgres:/);
expect(pgs.length === 2, `two PostgreSQL services: ${pgs}`, `expected a source and a warehouse PostgreSQL, found [${pgs}]`);
for (const n of pgs) {
  expect(tagOf(n).split(/[.-]/)[0] === process.env.PIN_PG_MAJOR,
    `${n} image ${services[n].image} = CDC_PG_MAJOR ${process.env.PIN_PG_MAJOR}`,
    `${n} image ${services[n].image} drifted from docker/stack/env.sh CDC_PG_MAJOR=${process.env.PIN_PG_MAJOR}`);
}
const redis = one('Redis', byImage(/^redis:/));
if (redis && process.env.PIN_REDIS) expect(tagOf(redis).startsWith(process.env.PIN_REDIS),
  `redis image ${services[redis].image} = the stack's redis-server ${process.env.PIN_REDIS}`,
  `redis image ${services[redis].image} drifted from the stack's Debian redis-server ${process.env.PIN_REDIS}`);

// ---- services that run
const oneShots = new Set(names.filter((n) => String(services[n].restart) === 'no'));
for (const n of names) {
  const hc = services[n].healthcheck;
  if (oneShots.has(n)) continue;
  expect(hc && !hc.disable && Array.isArray(hc.test) && hc.test.length > 1 && hc.test[0] !== 'NONE',
    `${n} has a healthcheck`, `${n} runs for long but has no healthcheck (test: [CMD, ...])`);
}
for (const n of names) {
  const dep = services[n].depends_on;
  if (!dep) continue;
  if (Array.isArray(dep)) { bad(`${n}: depends_on [${dep}] without conditions: it would start before they are ready`); continue; }
  for (const [d, spec] of Object.entries(dep)) {
    const cond = spec && spec.condition;
    if (!services[d]) bad(`${n} depends on an unknown service ${d}`);
    else if (cond === 'service_healthy') expect(!!services[d].healthcheck,
      `${n} waits for ${d} to be healthy`, `${n} waits for ${d} to be healthy, but ${d} has no healthcheck`);
    else if (cond === 'service_completed_successfully') expect(oneShots.has(d),
      `${n} waits for the one-shot ${d} to succeed`, `${n} waits for ${d} to complete, but ${d} is not a one-shot (restart: "no")`);
    else bad(`${n} depends on ${d} with condition ${cond}: use service_healthy or service_completed_successfully`);
  }
}
for (const n of names) {
  for (const v of services[n].volumes || []) {
    const src = typeof v === 'string' ? v.split(':')[0] : v.source;
    if (typeof src === 'string' && src.startsWith('.'))
      expect(fs.existsSync(path.join(root, src)), `${n} mounts ${src}`, `${n} mounts ${src}, which does not exist`);
  }
}

// ---- the source database and the connector
const srcDb = names.find((n) => pgs.includes(n) && (services[n].volumes || []).some((v) => String(v).includes('docker-entrypoint-initdb.d')));
if (!srcDb) bad('no PostgreSQL service loads a sample schema into /docker-entrypoint-initdb.d');
else {
  const cmd = [].concat(services[srcDb].command || []).join(' ');
  expect(/wal_level=logical/.test(cmd), `${srcDb} runs with wal_level=logical`, `${srcDb} lacks -c wal_level=logical (Debezium needs logical decoding)`);
}
const init = names.find((n) => oneShots.has(n) && (services[n].volumes || []).some((v) => /\.json:/.test(String(v))));
let conn = null;
if (!init) bad('no one-shot service mounts a connector JSON');
else {
  const mount = services[init].volumes.map(String).find((v) => /\.json:/.test(v));
  const [hostPath, ctrPath] = mount.split(':');
  const env = envOf(init);
  expect(env.CONNECTOR_CONFIG === ctrPath, `${init} registers the mounted ${hostPath}`,
    `${init}'s CONNECTOR_CONFIG ${env.CONNECTOR_CONFIG} is not the mounted ${ctrPath}`);
  expect(/^http:\/\/[^:]+:8083$/.test(env.CONNECT_URL || '') && env.CONNECT_URL.includes(`//${connect}:`),
    `${init} talks to ${env.CONNECT_URL}`, `${init}'s CONNECT_URL ${env.CONNECT_URL} is not the ${connect} service`);
  const jsonFile = jsonOverride || path.join(root, hostPath);
  try { conn = JSON.parse(fs.readFileSync(jsonFile, 'utf8')); } catch (e) { bad(`${hostPath}: ${e.message}`); }
}
if (conn) {
  // The stack's connector as `stack.sh connector add NAME PREFIX on` renders it.
  const props = {};
  // The demo's connector: the stack's base properties, then the demo's
  // overrides (docker/demo/connector.properties), as demo.sh registers it.
  for (const f of [propsFile, process.env.DEMO_PROPS]) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      if (/^\s*(#|$)/.test(line)) continue;
      const i = line.indexOf('=');
      props[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
  }
  // Where the two legitimately differ: the connection and names.
  const local = new Set(['database.hostname', 'database.port', 'database.dbname', 'database.password',
    'topic.prefix', 'slot.name', 'publication.name']);
  const diffs = [];
  for (const [k, raw] of Object.entries(props)) {
    const v = raw.replace('@SCHEMAS@', 'true'); // `up`'s default connector has schemas on
    if (!(k in conn)) diffs.push(`${k} missing (stack: ${v})`);
    else if (!local.has(k) && !/@[A-Z_]+@/.test(v) && String(conn[k]) !== v) diffs.push(`${k}=${conn[k]} (stack: ${v})`);
  }
  for (const k of Object.keys(conn)) if (!(k in props) && !local.has(k)) diffs.push(`${k} is not in the stack's connector`);
  expect(diffs.length === 0, `connector JSON = the stack's ${path.basename(propsFile)} + the demo's ${process.env.DEMO_PROPS} (${Object.keys(props).length} settings)`,
    `connector JSON drifted from ${path.basename(propsFile)} + ${process.env.DEMO_PROPS}: ${diffs.join('; ')}`);
  // The settings the reference insists on (shared/reference/local-stack.md).
  const must = {
    'plugin.name': 'pgoutput', 'skipped.operations': 'none',
    'value.converter.replace.null.with.default': 'false', 'interval.handling.mode': 'string',
    'publication.autocreate.mode': 'all_tables', 'topic.prefix': 'shop',
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter', 'key.converter.schemas.enable': 'true',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': 'true',
    // the README's recommended configuration (docs/operations.md: connector rules)
    'signal.data.collection': 'public.debezium_signal', 'decimal.handling.mode': 'precise',
    'binary.handling.mode': 'bytes',
  };
  const wrong = Object.entries(must).filter(([k, v]) => String(conn[k]) !== v).map(([k, v]) => `${k}=${conn[k]} (want ${v})`);
  if (!(Number(conn['heartbeat.interval.ms']) > 0)) wrong.push(`heartbeat.interval.ms=${conn['heartbeat.interval.ms']} (want > 0)`);
  expect(wrong.length === 0, 'connector JSON has pgoutput, skipped.operations=none, replace.null.with.default=false, interval string, JSON schemas on, all_tables, prefix shop, heartbeats, the signal table, precise decimals, bytes',
    `connector JSON: ${wrong.join('; ')}`);
  if (srcDb) {
    const e = envOf(srcDb);
    const want = { 'database.hostname': srcDb, 'database.port': '5432', 'database.dbname': e.POSTGRES_DB,
      'database.user': e.POSTGRES_USER || 'postgres', 'database.password': e.POSTGRES_PASSWORD };
    const off = Object.entries(want).filter(([k, v]) => String(conn[k]) !== String(v)).map(([k, v]) => `${k}=${conn[k]} (service: ${v})`);
    expect(off.length === 0, `connector JSON reaches ${srcDb} (${e.POSTGRES_DB})`, `connector JSON does not match ${srcDb}: ${off.join('; ')}`);
  }
}

// ---- Kafka in KRaft mode
if (kafka) {
  const e = envOf(kafka);
  expect(/controller/.test(e.KAFKA_PROCESS_ROLES || '') && !e.KAFKA_ZOOKEEPER_CONNECT,
    'kafka runs in KRaft mode (process.roles with controller)', 'kafka is not a KRaft broker+controller');
  expect(/^[A-Za-z0-9_-]{22}$/.test(e.CLUSTER_ID || ''), 'kafka CLUSTER_ID is a base64 UUID',
    `kafka CLUSTER_ID ${e.CLUSTER_ID} is not 22 characters of URL-safe base64`);
}

// ---- cdcsink
const sink = names.find((n) => services[n].build);
if (!sink) bad('no service builds cdcsink');
else {
  const b = services[sink].build;
  const df = typeof b === 'string' ? path.join(b, 'Dockerfile') : path.join(b.context || '.', b.dockerfile || 'Dockerfile');
  expect(df === 'docker/Dockerfile' && fs.existsSync(path.join(root, df)), `${sink} builds from ${df}`, `${sink} builds from ${df}, not docker/Dockerfile`);
  const e = envOf(sink);
  const settings = fs.readFileSync(process.env.SETTINGS_FILE, 'utf8').split('\n').filter(Boolean);
  if (settings.length) {
    const unknown = Object.keys(e).filter((k) => k.startsWith('CDCSINK_') && !settings.includes(k) && !k.startsWith('CDCSINK_KAFKA_'));
    expect(unknown.length === 0, `${sink}: every CDCSINK_* is a cdcsink setting`, `${sink}: not cdcsink settings: ${unknown}`);
  }
  for (const k of ['CDCSINK_KAFKA_BOOTSTRAP_SERVERS', 'CDCSINK_TOPICS', 'CDCSINK_PG_CONNINFO'])
    if (!e[k]) bad(`${sink}: required ${k} is not set`);
  if (conn && e.CDCSINK_TOPICS) {
    const schema = String(conn['schema.include.list'] || 'public').split(',')[0];
    const topic = `${conn['topic.prefix']}.${schema}.customers`;
    let re = null;
    try { re = e.CDCSINK_TOPICS.startsWith('^') ? new RegExp(e.CDCSINK_TOPICS) : null; } catch (err) { bad(`CDCSINK_TOPICS: ${err.message}`); }
    const hit = re ? re.test(topic) : e.CDCSINK_TOPICS.split(',').includes(topic);
    expect(hit, `${sink} consumes the connector's topics (${topic})`, `${sink}'s CDCSINK_TOPICS ${e.CDCSINK_TOPICS} misses the connector's ${topic}`);
  }
  if (kafka) {
    const adv = (envOf(kafka).KAFKA_ADVERTISED_LISTENERS || '').split(',').map((l) => l.replace(/^[A-Z_]+:\/\//, ''));
    expect(adv.includes(e.CDCSINK_KAFKA_BOOTSTRAP_SERVERS), `${sink} bootstraps from ${e.CDCSINK_KAFKA_BOOTSTRAP_SERVERS}`,
      `${sink}'s CDCSINK_KAFKA_BOOTSTRAP_SERVERS ${e.CDCSINK_KAFKA_BOOTSTRAP_SERVERS} is none of kafka's advertised listeners ${adv}`);
    const ce = envOf(connect);
    expect(adv.includes(ce.BOOTSTRAP_SERVERS), `${connect} bootstraps from ${ce.BOOTSTRAP_SERVERS}`,
      `${connect}'s BOOTSTRAP_SERVERS ${ce.BOOTSTRAP_SERVERS} is none of kafka's advertised listeners ${adv}`);
  }
  const wh = pgs.find((n) => n !== srcDb);
  if (wh && e.CDCSINK_PG_CONNINFO) {
    let u = null;
    try { u = new URL(e.CDCSINK_PG_CONNINFO); } catch (err) { bad(`CDCSINK_PG_CONNINFO is not a URI: ${err.message}`); }
    if (u) expect(u.hostname === wh && u.pathname === `/${envOf(wh).POSTGRES_DB}`,
      `${sink} writes to ${wh}/${envOf(wh).POSTGRES_DB}`, `${sink}'s CDCSINK_PG_CONNINFO is not ${wh}/${envOf(wh).POSTGRES_DB}`);
  }
  if (redis) expect(new RegExp(`^redis://${redis}:6379(/|$)`).test(e.CDCSINK_REDIS_URL || ''),
    `${sink} uses ${redis} for dedup`, `${sink}'s CDCSINK_REDIS_URL ${e.CDCSINK_REDIS_URL} is not the ${redis} service`);
  const port = String(e.CDCSINK_HTTP_LISTEN || '').split(':').pop();
  const published = (services[sink].ports || []).map(String).some((p) => p.split(':').pop() === port);
  expect(port && published, `${sink} publishes its /metrics and /healthz port ${port}`,
    `${sink}'s http.listen port ${port} is not in its ports`);
  expect((services[sink].depends_on || {})[init] && services[sink].depends_on[init].condition === 'service_completed_successfully',
    `${sink} starts after ${init} registered the connector`, `${sink} does not wait for the connector registration`);
}

// ---- the README's connector configuration is the compose file's
if (conn) {
  const readme = fs.readFileSync(process.env.README_FILE, 'utf8');
  const m = readme.match(/<!-- connector-json:begin -->\s*```json\n([\s\S]*?)```\s*<!-- connector-json:end -->/);
  let rj = null;
  if (!m) bad('README.md has no connector JSON between <!-- connector-json:begin/end -->');
  else { try { rj = JSON.parse(m[1]); } catch (e) { bad(`README.md's connector JSON: ${e.message}`); } }
  if (rj) {
    const keys = new Set([...Object.keys(rj), ...Object.keys(conn)]);
    const d = [...keys].filter((k) => String(rj[k]) !== String(conn[k])).map((k) => `${k}: README ${rj[k]}, compose ${conn[k]}`);
    expect(d.length === 0, `README's connector JSON = the compose file's (${keys.size} settings)`, `README's connector JSON drifted: ${d.join('; ')}`);
  }
}

// ---- monitoring: Prometheus and Grafana
const monDir = process.env.MONITORING_DIR;
const mountOf = (n, hostPath) => (services[n].volumes || []).map(String)
  .map((v) => v.split(':')).find(([h]) => path.normalize(h) === path.normalize(hostPath));
const prom = one('Prometheus (prom/prometheus)', byImage(/^prom\/prometheus:/));
let promCfg = null;
if (prom) {
  if (process.env.PIN_PROMETHEUS) expect(tagOf(prom) === `v${process.env.PIN_PROMETHEUS}`,
    `prometheus image ${services[prom].image} = Debian's prometheus ${process.env.PIN_PROMETHEUS} (the tests' version)`,
    `prometheus image ${services[prom].image} drifted from Debian's prometheus ${process.env.PIN_PROMETHEUS}, the version tests/integration/prometheus.sh runs`);
  const m = mountOf(prom, './docker/monitoring');
  const args = [].concat(services[prom].command || []);
  const cfgArg = (args.find((a) => String(a).startsWith('--config.file=')) || '').split('=')[1] || '';
  if (!m) bad(`${prom} does not mount ./docker/monitoring`);
  else {
    expect(cfgArg === `${m[1]}/prometheus.yml`, `${prom} runs the mounted prometheus.yml`,
      `${prom}'s --config.file ${cfgArg || '(none)'} is not ${m[1]}/prometheus.yml`);
    try { promCfg = YAML.parse(fs.readFileSync(path.resolve(root, monDir, 'prometheus.yml'), 'utf8')); } catch (e) { bad(`prometheus.yml: ${e.message}`); }
  }
  if (promCfg && m) {
    for (const r of promCfg.rule_files || []) {
      const host = String(r).startsWith(m[1] + '/') ? path.resolve(root, monDir, String(r).slice(m[1].length + 1)) : null;
      expect(host && fs.existsSync(host), `prometheus.yml loads ${r} (mounted)`, `prometheus.yml's rule file ${r} is not a file of the mounted docker/monitoring`);
    }
    expect((promCfg.rule_files || []).some((r) => /alerts\.yml$/.test(r)), 'prometheus.yml loads the alert rules', 'prometheus.yml does not load alerts.yml');
    const job = (promCfg.scrape_configs || []).find((j) => j.job_name === 'cdcsink');
    const targets = job ? [].concat(...(job.static_configs || []).map((c) => c.targets || [])) : [];
    const port = sink ? String(envOf(sink).CDCSINK_HTTP_LISTEN || '').split(':').pop() : '';
    expect(job && targets.includes(`${sink}:${port}`), `prometheus.yml's job cdcsink scrapes ${sink}:${port}`,
      `prometheus.yml has no job cdcsink scraping ${sink}:${port} (targets: ${targets})`);
  }
}
const graf = one('Grafana (grafana/grafana)', byImage(/^grafana\/grafana:/));
if (graf) {
  const want = {
    './docker/monitoring/grafana/provisioning/datasources': '/etc/grafana/provisioning/datasources',
    './docker/monitoring/grafana/provisioning/dashboards': '/etc/grafana/provisioning/dashboards',
  };
  for (const [h, c] of Object.entries(want)) {
    const m = mountOf(graf, h);
    expect(m && m[1] === c, `${graf} mounts ${h} at ${c}`, `${graf} does not mount ${h} at ${c}`);
  }
  const rd = (f) => YAML.parse(fs.readFileSync(path.resolve(root, monDir, 'grafana', f), 'utf8'));
  let dsUid = null;
  try {
    const ds = (rd('provisioning/datasources/prometheus.yml').datasources || []).find((d) => d.type === 'prometheus');
    expect(ds && prom && ds.url === `http://${prom}:9090`, `Grafana's datasource is ${ds && ds.url}`,
      `Grafana's prometheus datasource url ${ds && ds.url} is not http://${prom}:9090`);
    dsUid = ds && ds.uid;
  } catch (e) { bad(`grafana datasource: ${e.message}`); }
  try {
    const prov = rd('provisioning/dashboards/cdcsink.yml').providers || [];
    const dm = mountOf(graf, './docker/monitoring/grafana/dashboards');
    expect(dm && prov.some((p) => p.options && p.options.path === dm[1]), `Grafana's dashboard provider reads the mounted dashboards (${dm && dm[1]})`,
      `no Grafana dashboard provider reads where ./docker/monitoring/grafana/dashboards is mounted (${dm && dm[1]})`);
  } catch (e) { bad(`grafana dashboard provider: ${e.message}`); }
  try {
    const dash = JSON.parse(fs.readFileSync(path.resolve(root, monDir, 'grafana/dashboards/cdcsink.json'), 'utf8'));
    const off = [];
    for (const p of dash.panels || []) {
      for (const t of [p, ...(p.targets || [])]) {
        if (t.datasource && t.datasource.uid !== dsUid) off.push(`${p.title}: ${t.datasource.uid}`);
      }
      if (!(p.targets || []).length || (p.targets || []).some((t) => !t.expr)) off.push(`${p.title}: no query`);
    }
    expect(off.length === 0, `every dashboard panel (${(dash.panels || []).length}) queries the datasource ${dsUid}`,
      `dashboard panels off the datasource ${dsUid} or without a query: ${off.join('; ')}`);
  } catch (e) { bad(`dashboard: ${e.message}`); }
}
// every cdcsink_* metric the rules and the dashboard name is exported today
{
  const src = fs.readFileSync(path.join(root, 'consumer/pipeline_obs.c'), 'utf8');
  const exported = new Set();
  for (const m of src.matchAll(/"(cdcsink_[a-z0-9_]+)",\s*"(counter|gauge|histogram)"|\{"(cdcsink_[a-z0-9_]+)"/g)) {
    const n = m[1] || m[3];
    exported.add(n);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(n + s);
  }
  const used = new Map();
  for (const f of ['alerts.yml', 'grafana/dashboards/cdcsink.json']) {
    let text = '';
    try { text = fs.readFileSync(path.resolve(root, monDir, f), 'utf8'); } catch (e) { bad(`${f}: ${e.message}`); }
    for (const m of text.matchAll(/\bcdcsink_[a-z0-9_]+/g)) used.set(m[0], f);
  }
  const unknown = [...used.keys()].filter((n) => !exported.has(n));
  expect(exported.size > 0 && unknown.length === 0, `the ${used.size} cdcsink_* metrics of the alerts and the dashboard are exported (consumer/pipeline_obs.c)`,
    `metrics the monitoring names but cdcsink does not export: ${unknown.map((n) => `${n} (${used.get(n)})`).join(', ')}`);
}
process.exit(failed ? 1 : 0);
JS
}

# run_drift NAME FILE [JSON] [PROPS]: each line of drift's output is one check.
run_drift() {
    local out line
    out=$(drift "$2" "${3:-}" "${4:-}" 2>&1) || true
    while IFS= read -r line; do
        case $line in
            "ok "*) ok "drift: ${line#ok }" ;;
            "FAIL "*) fail "drift: ${line#FAIL }" ;;
            *) [[ -z $line ]] || fail "drift: $line" ;;
        esac
    done <<<"$out"
}

# expect_reject NAME CMD...: CMD must fail; shows why.
expect_reject() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        fail "$name: accepted"
    else
        ok "$name: rejected: $(grep -E 'error|FAIL' <<<"$out" | head -n 2 | sed 's/^ *//' | tr -s ' \n' ' ' | cut -c 1-240)"
    fi
}

# broken NAME FILE SED...: f = a copy of FILE changed by sed; the change must
# really happen, or the negative case would prove nothing.
broken() {
    local name=$1 src=$2
    shift 2
    f=$T_TMP/$name.${src##*.}
    sed "$@" "$src" >"$f"
    if cmp -s "$src" "$f"; then
        fail "negative case '$name': the sed edit did not change $src"
        return 1
    fi
}

# ---------------------------------------------------------------- run

if ! install_dclint; then
    fail "could not install dclint@$DCLINT_VERSION with npm"
    finish
fi

if out=$(schema "$COMPOSE" 2>&1); then
    ok "schema: dclint $DCLINT_VERSION accepts $COMPOSE (Compose Specification schema, all rules, no warnings)"
else
    fail "schema: dclint rejects $COMPOSE"
    printf '%s\n' "$out"
fi
run_drift drift "$COMPOSE"

# ---- negative cases
if broken bad-key "$COMPOSE" -e 's/^    image: redis:7.0$/    imagee: redis:7.0/'; then
    expect_reject "unknown service key (imagee)" schema "$f"
fi
if broken bad-type "$COMPOSE" -e 's/^      KAFKA_NUM_PARTITIONS: "1"$/      KAFKA_NUM_PARTITIONS: [1]/'; then
    expect_reject "wrong type (an environment value that is a list)" schema "$f"
fi
if broken bad-top-level "$COMPOSE" -e 's/^services:$/service:/'; then
    expect_reject "misspelt top-level key (service:)" schema "$f"
fi
if broken kafka-drift "$COMPOSE" -e "s|image: apache/kafka:$PIN_KAFKA\$|image: apache/kafka:4.2.0|"; then
    expect_reject "Kafka image drifted from env.sh (4.2.0)" drift "$f"
fi
if broken debezium-drift "$COMPOSE" -e "s|debezium/connect:$PIN_DEBEZIUM\$|debezium/connect:3.5.0.Final|"; then
    expect_reject "Debezium image drifted from env.sh (3.5.0.Final)" drift "$f"
fi
if broken pg-drift "$COMPOSE" -e '0,/image: postgres:15$/ s/image: postgres:15$/image: postgres:16/'; then
    expect_reject "a PostgreSQL image drifted from CDC_PG_MAJOR (16)" drift "$f"
fi
if broken envsh-drift docker/stack/env.sh -e 's/^CDC_KAFKA_VERSION=.*/CDC_KAFKA_VERSION=4.4.0/'; then
    PIN_KAFKA_OVERRIDE=$(pins "$f" | cut -d' ' -f1) expect_reject "env.sh pin moved on, compose not (CDC_KAFKA_VERSION=4.4.0)" drift "$COMPOSE"
fi
if broken plugin-drift docker/compose/shop-source.json -e 's/"pgoutput"/"decoderbufs"/'; then
    expect_reject "connector JSON plugin.name=decoderbufs" drift "$COMPOSE" "$f"
fi
if broken null-default docker/compose/shop-source.json -e '/replace.null.with.default/d'; then
    expect_reject "connector JSON without replace.null.with.default=false" drift "$COMPOSE" "$f"
fi
if broken stack-props "$CONNECTOR_PROPS" -e 's/^interval.handling.mode=string$/interval.handling.mode=numeric/'; then
    expect_reject "stack's connector changed, compose's not (interval.handling.mode)" drift "$COMPOSE" "" "$f"
fi
if broken no-wal "$COMPOSE" -e 's/"-c", "wal_level=logical", //'; then
    expect_reject "source-db without wal_level=logical" drift "$f"
fi
if broken no-healthcheck "$COMPOSE" -e '/^  redis:/,/^  [a-z]/ { /^    healthcheck:/,/^      retries:/d }'; then
    expect_reject "redis without a healthcheck" drift "$f"
fi
if broken short-depends "$COMPOSE" -e '/^  connect:/,/^  [a-z]/ { /^    depends_on:/,/^        condition:/c\    depends_on: [kafka]
}'; then
    expect_reject "depends_on without a condition" drift "$f"
fi
if broken wrong-topics "$COMPOSE" -e 's/CDCSINK_TOPICS: .*/CDCSINK_TOPICS: ^dbserver1\\..*/'; then
    expect_reject "cdcsink's topics miss the connector's" drift "$f"
fi
if [[ -s $SETTINGS_FILE ]] && broken bad-setting "$COMPOSE" -e 's/CDCSINK_DLQ_TOPIC:/CDCSINK_DLQ_TOPICS:/'; then
    expect_reject "CDCSINK_DLQ_TOPICS is no setting" drift "$f"
fi

if broken demo-props "$DEMO_PROPS" -e 's/^heartbeat.interval.ms=.*/heartbeat.interval.ms=5000/'; then
    DEMO_PROPS_OVERRIDE=$f expect_reject "demo's connector changed, compose's not (heartbeat.interval.ms)" drift "$COMPOSE"
fi
if broken readme-json README.md -e '/<!-- connector-json:begin -->/,/connector-json:end/ s/"skipped.operations": "none"/"skipped.operations": "t"/'; then
    README_OVERRIDE=$f expect_reject "README's connector JSON drifted (skipped.operations=t)" drift "$COMPOSE"
fi
if broken prom-version "$COMPOSE" -e 's|image: prom/prometheus:v.*|image: prom/prometheus:v2.53.0|'; then
    [[ -z $PIN_PROMETHEUS ]] || expect_reject "Prometheus image drifted from Debian's package (v2.53.0)" drift "$f"
fi
if broken prom-config "$COMPOSE" -e 's|--config.file=/etc/prometheus/cdcsink/prometheus.yml|--config.file=/etc/prometheus/prometheus.yml|'; then
    expect_reject "Prometheus runs another config than the mounted one" drift "$f"
fi
# a copy of docker/monitoring changed by sed in FILE (relative to it)
broken_monitoring() {
    local name=$1 file=$2
    shift 2
    rm -rf "$T_TMP/mon-$name"
    cp -r docker/monitoring "$T_TMP/mon-$name"
    broken "$name" "docker/monitoring/$file" "$@" || return 1
    cp "$f" "$T_TMP/mon-$name/$file"
    MON_COPY=$T_TMP/mon-$name
}
if broken_monitoring scrape-port prometheus.yml -e "s|'cdcsink:9187'|'cdcsink:9100'|"; then
    MONITORING_OVERRIDE=$MON_COPY expect_reject "Prometheus scrapes another port than cdcsink's http.listen" drift "$COMPOSE"
fi
if broken_monitoring datasource-uid grafana/provisioning/datasources/prometheus.yml -e 's/uid: prometheus/uid: prom/'; then
    MONITORING_OVERRIDE=$MON_COPY expect_reject "the dashboard's datasource uid is not the provisioned one" drift "$COMPOSE"
fi
if broken_monitoring unknown-metric alerts.yml -e 's/cdcsink_retries_total/cdcsink_retry_total/'; then
    MONITORING_OVERRIDE=$MON_COPY expect_reject "an alert on a metric cdcsink does not export" drift "$COMPOSE"
fi

finish
