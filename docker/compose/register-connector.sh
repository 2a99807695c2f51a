#!/bin/sh
# docker/compose/register-connector.sh: the compose file's one-shot
# `connector-init` service (runs in the curlimages/curl image: POSIX sh,
# busybox, curl). Registers the Debezium connector through Kafka Connect's
# REST API and exits 0 once the connector and all its tasks are RUNNING, so
# that cdcsink (`condition: service_completed_successfully`) starts after.
#
# PUT /connectors/NAME/config creates or updates the connector, so running
# it again (a second `docker compose up`) is harmless.
#
# Environment: CONNECT_URL (http://connect:8083), CONNECTOR_NAME,
# CONNECTOR_CONFIG (a JSON file: the flat config map), TIMEOUT_S (120).
set -eu
# busybox sh knows pipefail; a plain POSIX sh may not.
# shellcheck disable=SC3040
(set -o pipefail 2>/dev/null) && set -o pipefail

: "${CONNECT_URL:=http://connect:8083}"
: "${CONNECTOR_NAME:=shop-source}"
: "${CONNECTOR_CONFIG:=/connector/shop-source.json}"
: "${TIMEOUT_S:=120}"

say() { printf 'connector-init: %s\n' "$*"; }

[ -r "$CONNECTOR_CONFIG" ] || { say "cannot read $CONNECTOR_CONFIG"; exit 1; }
start=$(date +%s)
expired() { [ $(($(date +%s) - start)) -ge "$TIMEOUT_S" ]; }

# Connect answers 503 (or not at all) while it joins its group and reads
# its config topic: retry those; anything else but 200/201 is final.
while :; do
    code=$(curl -s -o /tmp/put.out -w '%{http_code}' -X PUT \
        -H 'Content-Type: application/json' \
        --data-binary "@$CONNECTOR_CONFIG" \
        "$CONNECT_URL/connectors/$CONNECTOR_NAME/config" || echo 000)
    case $code in
        200 | 201) say "registered $CONNECTOR_NAME ($code)"; break ;;
        503 | 000 | 409) ;;
        *) say "Connect answered $code:"; cat /tmp/put.out; echo; exit 1 ;;
    esac
    if expired; then say "Connect did not accept the connector in ${TIMEOUT_S}s (last answer $code)"; exit 1; fi
    sleep 2
done

# Wait until the connector and every task are RUNNING; fail on FAILED.
while :; do
    status=$(curl -s "$CONNECT_URL/connectors/$CONNECTOR_NAME/status" || true)
    states=$(printf '%s' "$status" | grep -o '"state":"[A-Z_]*"' | cut -d '"' -f 4 || true)
    if printf '%s\n' "$states" | grep -q FAILED; then
        say "connector $CONNECTOR_NAME failed:"
        printf '%s\n' "$status"
        exit 1
    fi
    # The first state is the connector's, the others its tasks'.
    if [ "$(printf '%s\n' "$states" | wc -l)" -ge 2 ] &&
        ! printf '%s\n' "$states" | grep -qv '^RUNNING$'; then
        say "$CONNECTOR_NAME and its tasks are RUNNING"
        exit 0
    fi
    if expired; then
        say "$CONNECTOR_NAME not RUNNING after ${TIMEOUT_S}s; status: $status"
        exit 1
    fi
    sleep 1
done
