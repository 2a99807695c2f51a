# docker/connect/connector.sh: a small client of Kafka Connect's REST API for
# `stack.sh connector ...`: registers Debezium PostgreSQL connectors from
# postgres-source.properties (next to this file) plus overrides, waits until
# they stream, and removes them together with their replication slot and
# publication. Also `up`'s default connector.
# Sourced by stack.sh, whose helpers and paths it uses; defines functions only.
# shellcheck shell=bash

require_connect() {
    if ! service_pid connect >/dev/null || ! connect_ready; then
        die "Kafka Connect of $STACK is not running at $(connect_address); run stack.sh up"
    fi
}

# http METHOD PATH [BODY]: call Connect's REST API; sets HTTP_CODE and
# HTTP_BODY.
http() {
    local out args=(-s --max-time 30 -X "$1" -w '\n%{http_code}')
    if (($# > 2)); then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
    out=$(curl "${args[@]}" "$(connect_address)$2") || {
        HTTP_CODE=000
        HTTP_BODY=
        return 0
    }
    HTTP_CODE=${out##*$'\n'}
    HTTP_BODY=${out%$'\n'*}
}

json_string() {
    local s=$1 bs=\\ q='"'
    s=${s//"$bs"/"$bs$bs"}
    s=${s//"$q"/"$bs$q"}
    s=${s//$'\n'/"${bs}n"}
    s=${s//$'\t'/"${bs}t"}
    s=${s//$'\r'/"${bs}r"}
    printf '"%s"' "$s"
}

# json_field JSON KEY: the string value of KEY in Connect's flat JSON.
json_field() {
    local re=${2//./\\.}
    grep -o "\"$re\":\"[^\"]*\"" <<<"$1" | head -n 1 | cut -d '"' -f 4
}

# connector_states JSON: the connector's state, then one line per task.
connector_states() { grep -o '"state":"[A-Z_]*"' <<<"$1" | cut -d '"' -f 4; }

# A connector's replication slot and publication are named after it; slot
# names allow only lower-case letters, digits and underscores.
slot_base() {
    local s=${1,,}
    printf '%s' "${s//[^a-z0-9]/_}"
}

slot_active() {
    local slot=$1 db=$2
    [[ $(psql_as "$db" -tA -v slot="$slot" 2>/dev/null <<<"SELECT active FROM pg_replication_slots WHERE slot_name = :'slot';") == t ]]
}

# connector_wait NAME SLOT DB: wait until the connector and all its tasks
# are RUNNING and its replication slot is in use (the snapshot is over and
# streaming has begun).
connector_wait() {
    local name=$1 slot=$2 db=$3 deadline states first tasks
    deadline=$((SECONDS + CDC_STACK_TIMEOUT))
    while :; do
        http GET "/connectors/$name/status"
        if [[ $HTTP_CODE == 200 ]]; then
            states=$(connector_states "$HTTP_BODY")
            first=$(head -n 1 <<<"$states")
            tasks=$(tail -n +2 <<<"$states")
            if grep -q FAILED <<<"$states"; then
                note "$HTTP_BODY"
                fail_with_log "connector $name failed (status above)" "$LOGS/connect.log"
            fi
            if [[ $first == RUNNING && -n $tasks ]] && ! grep -qv '^RUNNING$' <<<"$tasks" &&
                slot_active "$slot" "$db"; then
                return 0
            fi
        fi
        if ((SECONDS >= deadline)); then
            note "status ($HTTP_CODE): $HTTP_BODY"
            fail_with_log "connector $name not streaming after ${CDC_STACK_TIMEOUT}s (CDC_STACK_TIMEOUT; slot $slot in database $db)" "$LOGS/connect.log"
        fi
        sleep 0.25
    done
}

# connector add NAME PREFIX on|off [DB] [key=value...]
connector_add() {
    (($# >= 3)) || die "usage: stack.sh connector add NAME PREFIX on|off [DB] [key=value...]"
    local name=$1 prefix=$2 mode=$3 db=$CDC_SOURCE_DB schemas base line key value started
    shift 3
    if (($# > 0)) && [[ $1 != *=* ]]; then db=$1; shift; fi
    case $mode in
        on) schemas=true ;;
        off) schemas=false ;;
        *) die "connector add: schemas must be on or off, not '$mode'" ;;
    esac
    [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "connector add: name '$name' may hold only letters, digits, '.', '_' and '-'"
    started=$(now)
    require_connect
    base=$(slot_base "$name")

    # The base configuration, then the overrides; keys keep their order.
    local -A conf=()
    local keys=() tmp
    tmp=$(mktemp)
    render "$CONNECT_CONF_DIR/postgres-source.properties" "$tmp" \
        "PG_PORT=$CDC_PG_PORT" "DB=$db" "PREFIX=$prefix" "SLOT=dbz_$base" \
        "PUBLICATION=dbz_pub_$base" "SCHEMAS=$schemas"
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        key=${line%%=*} value=${line#*=}
        [[ -v conf[$key] ]] || keys+=("$key")
        conf[$key]=$value
    done <"$tmp"
    rm -f -- "$tmp"
    for line in "$@"; do
        [[ $line == ?*=* ]] || die "connector add: '$line' is not key=value"
        key=${line%%=*} value=${line#*=}
        [[ -v conf[$key] ]] || keys+=("$key")
        conf[$key]=$value
    done

    local json="{" sep=""
    for key in "${keys[@]}"; do
        json+="$sep$(json_string "$key"):$(json_string "${conf[$key]}")"
        sep=","
    done
    json+="}"

    # Retry only "unavailable" (503, or no answer). Connect answers a config
    # that fails validation with 400, or with 500 when Debezium cannot even
    # reach the database: those are final.
    local deadline=$((SECONDS + CDC_STACK_TIMEOUT))
    while :; do
        http PUT "/connectors/$name/config" "$json"
        [[ $HTTP_CODE == 200 || $HTTP_CODE == 201 ]] && break
        if [[ $HTTP_CODE != 503 && $HTTP_CODE != 000 ]] || ((SECONDS >= deadline)); then
            fail_with_log "connector add $name: Connect answered $HTTP_CODE: $HTTP_BODY" "$LOGS/connect.log"
        fi
        sleep 0.5
    done
    connector_wait "$name" "${conf[slot.name]}" "${conf[database.dbname]}"
    report "connector" streaming "$name -> ${conf[topic.prefix]}.* from ${conf[database.dbname]} (schemas $mode)" "($(elapsed "$started")s)"
}

# connector remove NAME: unregister it, then drop its slot and publication.
connector_remove() {
    (($# == 1)) || die "usage: stack.sh connector remove NAME"
    local name=$1 slot pub db deadline
    require_connect
    http GET "/connectors/$name/config"
    if [[ $HTTP_CODE == 200 ]]; then
        slot=$(json_field "$HTTP_BODY" slot.name)
        pub=$(json_field "$HTTP_BODY" publication.name)
        db=$(json_field "$HTTP_BODY" database.dbname)
        http DELETE "/connectors/$name"
        [[ $HTTP_CODE == 204 || $HTTP_CODE == 200 ]] ||
            die "connector remove $name: Connect answered $HTTP_CODE: $HTTP_BODY"
    else
        # Not registered (a standalone worker forgets connectors when it
        # restarts): still clean up what its default names would be.
        note "stack.sh: connector $name is not registered; dropping its default slot and publication"
        slot=dbz_$(slot_base "$name") pub=dbz_pub_$(slot_base "$name") db=
    fi
    [[ -n $db ]] || db=$(psql_as postgres -tA -v slot="$slot" <<<"SELECT database FROM pg_replication_slots WHERE slot_name = :'slot';")
    [[ -n $db ]] || db=$CDC_SOURCE_DB

    # The task releases the slot shortly after it is stopped.
    deadline=$((SECONDS + CDC_STACK_TIMEOUT))
    while slot_active "$slot" "$db"; do
        ((SECONDS < deadline)) || die "connector remove $name: slot $slot is still in use after ${CDC_STACK_TIMEOUT}s"
        sleep 0.2
    done
    psql_as "$db" -o /dev/null -v slot="$slot" -v pub="$pub" <<'SQL' || die "connector remove $name: dropping slot $slot / publication $pub failed"
SET client_min_messages = warning;
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = :'slot';
DROP PUBLICATION IF EXISTS :"pub";
SQL
    report connector removed "$name (slot $slot and publication $pub in database $db dropped if they existed)"
}

connector_status() {
    (($# == 1)) || die "usage: stack.sh connector status NAME"
    require_connect
    http GET "/connectors/$1/status"
    printf '%s\n' "$HTTP_BODY"
    [[ $HTTP_CODE == 200 ]]
}

cmd_connector() {
    local sub=${1:-}
    (($# > 0)) && shift
    case $sub in
        add) connector_add "$@" ;;
        remove | rm | delete) connector_remove "$@" ;;
        status) connector_status "$@" ;;
        list | ls)
            require_connect
            http GET /connectors
            printf '%s\n' "$HTTP_BODY"
            ;;
        *) die "usage: stack.sh connector add|remove|status|list ..." ;;
    esac
}

# up's last step: the default source connector, unless it already streams.
default_connector() {
    local name=$CDC_SOURCE_CONNECTOR base
    [[ -n $name ]] || return 0
    base=$(slot_base "$name")
    http GET "/connectors/$name/status"
    if [[ $HTTP_CODE == 200 ]] && [[ $(connector_states "$HTTP_BODY" | sort -u) == RUNNING ]] &&
        slot_active "dbz_$base" "$CDC_SOURCE_DB"; then
        report connector running "$name -> $CDC_SOURCE_PREFIX.* from $CDC_SOURCE_DB" "(already)"
        return 0
    fi
    connector_add "$name" "$CDC_SOURCE_PREFIX" on "$CDC_SOURCE_DB"
}

