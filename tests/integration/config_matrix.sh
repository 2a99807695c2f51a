#!/usr/bin/env bash
# config_matrix.sh - exact under every Debezium configuration users run
# (issue 15 item 3): one type-rich source table (data/config_matrix.sql:
# every type of debezium-wire-format.md §1.7 PostgreSQL has without
# extensions, with edge values), captured by real Debezium under each
# combination below in turn, streamed through cdcsink: snapshot, inserts,
# updates (one leaves a 1 MB text and bytea unchanged: TOAST), deletes, a
# truncate and rows after it. After each step the replica must equal the
# source value by value: the source rows are copied into the warehouse
# (COPY TO STDOUT | COPY FROM STDIN) into a table of the source's types,
# every warehouse value is cast to its source column's type there, and one
# SQL comparison per column lists what differs. No record may be
# dead-lettered.
#
# The combinations: converter schemas on/off x the value modes. Each mode
# value is independent of the others (each governs its own types), so one
# connector can carry several non-default modes at once; the set covers
# every mode value of the issue at least once with schemas off and once
# with schemas on:
#   off-default  the connector's defaults (precise, adaptive, bytes, numeric
#                intervals): the usual schemaless setup
#   on-default   the same with schemas on, tables created by cdcsink
#   off-strings  decimal string, time isostring, binary hex, interval string
#   off-double   decimal double, time connect, binary base64-url-safe
#   on-strings   as off-strings, with column.propagate.source.type
#                (exact column types; bytea as hex strings need it)
#   on-double    as off-double with binary base64, through
#                datatype.propagate.source.type
# Schemas off: the user makes the warehouse table first, with the source's
# DDL; cdcsink gets the same five settings as the connector.
#
# What a mode loses by design is compared the way it is lost, never
# skipped: decimal double compares numerics as float8; time connect
# compares times and timestamps within 1 ms; numeric intervals compare
# Debezium's us (months as 30.4375 days); timetz is compared in UTC (the
# connector converts it); a bit varying loses its leading zeros (Bits);
# Values the connector cannot send at all under a mode are left out of
# that run's data (config_matrix.sql cm_opt): NaN/Infinity in an
# unconstrained numeric in precise mode (the connector stops), 38 nines and
# money above 10^7 in double mode, 24:00:00 in isostring mode. Under a
# binary mode other than bytes the connector sends an unchanged TOASTed
# bytea as null, indistinguishable from NULL (README): those runs rewrite
# the bytea in the TOAST update (the text stays unchanged in every run). Nanoseconds, microseconds and
# adaptive_time_microseconds (and hstore) are covered against PostgreSQL
# by test_schemas_convert, not here: one connector each would double the
# runtime.
set -u
. "$(dirname "$0")/../lib.sh"

R=cm$(date +%s)
SQL=$ROOT/tests/integration/data/config_matrix.sql
PSQL=/usr/lib/postgresql/${CDC_PG_MAJOR:-15}/bin/psql
ws() { "$PSQL" "$CDC_PG_WAREHOUSE_URI" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
ss() { "$PSQL" "$CDC_PG_SOURCE_URI" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# the source's DDL for schema S of the warehouse (a user's copy of it)
ddl_for() {
    sed -n '/^-- ddl:begin/,/^-- ddl:end/p' "$SQL" |
        sed "s/\bcm\./\"$1\"./g; s/cm_types (/$2 (/"
}

# near(a, b): equal, or within 1 ms (time.precision.mode=connect)
HELPERS='
CREATE FUNCTION @S.near(a timestamp, b timestamp) RETURNS bool
  LANGUAGE sql IMMUTABLE AS $$ SELECT a IS NOT DISTINCT FROM b OR
  (isfinite(a) AND isfinite(b) AND abs(extract(epoch FROM a - b)) < 0.001) $$;
CREATE FUNCTION @S.near(a time, b time) RETURNS bool
  LANGUAGE sql IMMUTABLE AS $$ SELECT a IS NOT DISTINCT FROM b OR
  abs(extract(epoch FROM a - b)) < 0.001 $$;
CREATE FUNCTION @S.near(a timestamp[], b timestamp[]) RETURNS bool
  LANGUAGE sql IMMUTABLE AS $$ SELECT a IS NOT DISTINCT FROM b OR
  (cardinality(a) = cardinality(b) AND (SELECT bool_and(@S.near(x, y))
   FROM unnest(a, b) u(x, y))) $$;
-- an interval as Debezium counts it in us (MicroDuration): months are
-- 365.25/12 days
CREATE FUNCTION @S.dbz_us(i interval) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS $$ SELECT
  ((extract(year FROM i) * 12 + extract(month FROM i)) * 30.4375
   + extract(day FROM i)) * 86400 + extract(hour FROM i) * 3600
   + extract(minute FROM i) * 60 + extract(second FROM i) $$;'

# the predicate "column c differs" for combination flags $2 (s = source
# row, w = warehouse row cast to the source type t)
differs() {
    local c=$1 t=$2 flags=$3 w="(w.$1)::$2"
    case " $flags " in *" double "*)
        case $c in
            n | n142 | n52 | nv | m) echo "s.$c::numeric::float8 IS DISTINCT FROM $w::numeric::float8"; return ;;
            a_n) echo "s.$c::float8[] IS DISTINCT FROM $w::float8[]"; return ;;
        esac ;;
    esac
    case " $flags " in *" connect "*)
        case $c in
            t6 | ts6 | a_ts) echo "NOT @S.near(s.$c, $w)"; return ;;
        esac ;;
    esac
    case " $flags " in *" iv_numeric "*)
        [ "$c" = iv ] && { echo "@S.dbz_us(s.iv) IS DISTINCT FROM extract(epoch FROM $w)"; return; } ;;
    esac
    case $c in
        ttz) echo "(s.ttz AT TIME ZONE 'UTC')::text IS DISTINCT FROM ($w AT TIME ZONE 'UTC')::text" ;;
        vbits) echo "ltrim(s.vbits::text, '0') IS DISTINCT FROM ltrim((w.vbits)::text, '0')" ;;
        b1) echo "s.b1::text IS DISTINCT FROM CASE (w.b1)::text WHEN 'true' THEN '1' WHEN 'false' THEN '0' ELSE (w.b1)::text END" ;;
        *) echo "s.$c::text IS DISTINCT FROM ($w)::text" ;;
    esac
}

# compare S FLAGS: copies the source rows into S.cm_src and prints one line
# per difference ("id column", "id missing", "id extra"); nothing = equal
compare() {
    local s=$1 flags=$2 cols q c t
    ws -c "TRUNCATE \"$s\".cm_src" || return 1
    ss -c "COPY cm.cm_types TO STDOUT" | ws -c "COPY \"$s\".cm_src FROM STDIN" || return 1
    cols=$(ws -F ' ' -c "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
                         WHERE attrelid = '\"$s\".cm_src'::regclass AND attnum > 1
                         AND NOT attisdropped ORDER BY attnum")
    q="WITH w AS (SELECT * FROM \"$s\".cm_types WHERE NOT _cdc_deleted)
       SELECT s.id || ' missing' FROM \"$s\".cm_src s WHERE s.id NOT IN (SELECT id::int FROM w)
       UNION ALL SELECT w.id || ' extra' FROM w WHERE w.id::int NOT IN (SELECT id FROM \"$s\".cm_src)"
    while read -r c t; do
        q="$q UNION ALL SELECT s.id || ' $c' FROM \"$s\".cm_src s JOIN w ON s.id = w.id::int
           WHERE $(differs "$c" "$t" "$flags")"
    done <<<"$cols"
    ws -c "${q//@S/\"$s\"} ORDER BY 1"
}

# (quiet: a schemas-on table appears only with its first record)
equal() { local d; d=$(compare "$1" "$2" 2>/dev/null) && [ -z "$d" ]; }

dlq_count() {
    kcat -C -b "$CDC_KAFKA_BOOTSTRAP" -t "$1" -e -q -f '%o\n' 2>/dev/null | wc -l
}

# run NAME on|off FLAGS "CONNECTOR OVERRIDES" "SINK SETTINGS"
run() {
    local name=$1 sch=$2 flags=$3 conn=$4 sink=$5
    local p=$R${name//-/}
    local s=$p d
    [[ $name =~ ${CM_ONLY:-.} ]] || return 0 # CM_ONLY=regex: some only
    T_NAME="config_matrix[$name]"
    # the source: a fresh table, its values chosen by cm_row for what the
    # connector can send at all (cm.precise, cm.double: config_matrix.sql)
    export PGOPTIONS="-c cm.precise=off -c cm.double=off -c cm.iso=off"
    local f
    for f in precise double iso; do
        case " $flags " in *" $f "*) PGOPTIONS=${PGOPTIONS/$f=off/$f=on} ;; esac
    done
    # an unchanged TOASTed bytea comes as null (not as the placeholder)
    # under binary modes other than bytes: such runs rewrite it
    local by=""
    case " $flags " in *" binstr "*) by=", by = by || ''::bytea" ;; esac
    ss -f "$SQL" >/dev/null 2>&1 || { fail "source table"; return; }
    ss -c "INSERT INTO cm.cm_types (id, i4, tx, by)
           SELECT 100, 1, string_agg(md5(g::text), '') FILTER (WHERE g <= 32768),
                  decode(string_agg(md5((-g)::text), ''), 'hex')
           FROM generate_series(1, 65536) g" || fail "1 MB row"
    # the warehouse: the copy of the source, and for schemas off the table
    ws -c "CREATE SCHEMA \"$s\"; CREATE TYPE \"$s\".cm_mood AS ENUM ('sad', 'ok', 'happy');
           $(ddl_for "$s" cm_src | grep -v '^DROP\|^CREATE TYPE') ${HELPERS//@S/\"$s\"}" ||
        { fail "warehouse schema"; return; }
    [ "$sch" = off ] && { ws -c "$(ddl_for "$s" cm_types | grep -v '^DROP\|^CREATE TYPE')" || fail "user's table"; }
    # a record with 1 MB text and bytea is ~2.5 MB: the topic and the
    # connector's producer allow 8 MB
    "$STACK" topic-create "$p.cm.cm_types" 1 max.message.bytes=8388608 \
        >>"$T_TMP/connector.log" 2>&1 || fail "topic-create"
    # shellcheck disable=SC2086
    "$STACK" connector add "$p" "$p" "$sch" schema.include.list=cm table.include.list=cm.cm_types \
        interval.handling.mode=numeric producer.override.max.request.size=8388608 \
        $conn >>"$T_TMP/connector.log" 2>&1 ||
        { fail "connector add (see $T_TMP/connector.log)"; return; }
    # the dead-letter topic exists before cdcsink checks it at start
    "$STACK" topic-create "$p.dlq" 1 >>"$T_TMP/connector.log" 2>&1 || fail "topic-create"
    # shellcheck disable=SC2086
    start_sink "$name" "^$p\\.cm\\.cm_types\$" "$p" --set target.schema="$s" \
        --set batch.linger.ms=20 $sink
    check "snapshot: the replica equals the source" wait_until 90 equal "$s" "$flags"
    case " $flags " in *" exact "*) # propagated source types: all but the enum
        check_eq "created with the source's column types" "$(ws -c "
            SELECT string_agg(a.attname, ' ' ORDER BY a.attnum) FROM pg_attribute a
            JOIN pg_attribute b ON b.attrelid = '\"$s\".cm_src'::regclass AND b.attname = a.attname
            WHERE a.attrelid = '\"$s\".cm_types'::regclass AND a.attnum > 0
            AND format_type(a.atttypid, a.atttypmod) <> format_type(b.atttypid, b.atttypmod)")" "mood" ;;
    esac
    ss -c "INSERT INTO cm.cm_types SELECT (cm.cm_row(11 + v, v)).* FROM generate_series(0, 8) v;
           UPDATE cm.cm_types SET i4 = 42$by WHERE id = 100;
           UPDATE cm.cm_types t SET (i2, n, nv, d, ts6, tstz, iv, tx, jb, by, a_n, a_by) =
             (r.i2, r.n, r.nv, r.d, r.ts6, r.tstz, r.iv, r.tx, r.jb, r.by, r.a_n, r.a_by)
             FROM cm.cm_row(3, 6) r WHERE t.id = 3;
           DELETE FROM cm.cm_types WHERE id IN (2, 12);
           INSERT INTO cm.cm_types (id) VALUES (20);" >/dev/null
    check "stream: the replica equals the source" wait_until 90 equal "$s" "$flags"
    check_eq "the unchanged 1 MB values are kept" \
        "$(ws -c "SELECT length(tx), length(by), i4 FROM \"$s\".cm_types WHERE id = 100")" "1048576|1048576|42"
    ss -c "TRUNCATE cm.cm_types;
           INSERT INTO cm.cm_types SELECT (cm.cm_row(30 + v, v)).* FROM generate_series(0, 8, 4) v;" >/dev/null
    check "truncate: the replica equals the source" wait_until 90 equal "$s" "$flags"
    d=$(compare "$s" "$flags")
    [ -z "$d" ] || { echo "--- $name differs:"; echo "$d" | head -20; }
    check_eq "nothing was dead-lettered" "$(dlq_count "$p.dlq")" "0"
    stop_sink "$SINK_PID" >/dev/null
    "$STACK" connector remove "$p" >>"$T_TMP/connector.log" 2>&1
}

started=$SECONDS
run off-default off "precise iv_numeric" "" ""
run on-default on "precise iv_numeric" "" ""
STR="decimal.handling.mode=string time.precision.mode=isostring binary.handling.mode=hex interval.handling.mode=string"
run off-strings off "iso binstr" "$STR" "$(printf -- '--set %s ' $STR)"
DBL="decimal.handling.mode=double time.precision.mode=connect binary.handling.mode=base64-url-safe"
run off-double off "double connect iv_numeric binstr" "$DBL" "$(printf -- '--set %s ' $DBL)"
run on-strings on "iso binstr exact" "$STR column.propagate.source.type=.*" \
    "--set binary.handling.mode=hex"
DBL64="decimal.handling.mode=double time.precision.mode=connect binary.handling.mode=base64"
run on-double on "double connect iv_numeric binstr exact" "$DBL64 datatype.propagate.source.type=.+" \
    "--set binary.handling.mode=base64"
T_NAME=config_matrix
echo "config_matrix: $((SECONDS - started)) s"
ws -c "$(for n in off-default on-default off-strings off-double on-strings on-double; do
    printf 'DROP SCHEMA IF EXISTS "%s" CASCADE;' "$R${n//-/}"; done)" >/dev/null 2>&1
ss -c "DROP SCHEMA IF EXISTS cm CASCADE" >/dev/null 2>&1
finish
