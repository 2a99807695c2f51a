#!/usr/bin/env bash
# tests/static/ports.sh: the local stack's default loopback ports (the demo's
# and bench's in docker/stack/env.sh, the test stack's in tests/run.sh) lie
# below Linux's ephemeral port range (32768-60999 unless changed) and
# outside this machine's own (net.ipv4.ip_local_port_range). A listener on a
# port in that range can find it taken by the local end of an outgoing
# connection (the broker's own to its controller, a readiness probe), and
# the stack then fails at random with "Address already in use" (CI did once).
# Nothing is started. Ends with "ports: N passed, N failed".
T_NAME=ports
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1

LO=32768 HI=60999
if read -r mlo mhi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null; then
    ((mlo < LO)) && LO=$mlo
    ((mhi > HI)) && HI=$mhi
fi

# check_port WHAT PORT: PORT is a number outside [LO, HI]
check_port() {
    if [[ ! $2 =~ ^[0-9]+$ ]]; then
        fail "$1: no port found (got [$2])"
    elif (($2 >= LO && $2 <= HI)); then
        fail "$1 $2 lies in the ephemeral range $LO-$HI"
    else
        ok "$1 $2 outside the ephemeral range $LO-$HI"
    fi
}

# The stack's defaults, as `stack.sh help` prints them with no override set.
line=$(env -i PATH="$PATH" HOME="$HOME" bash docker/stack/stack.sh help | grep '^Ports:')
for svc in postgres redis kafka SASL/PLAIN controller connect; do
    check_port "stack default $svc" "$(sed -E "s|.*$svc ([0-9]+).*|\1|" <<<"$line")"
done

# The test stack's defaults (tests/run.sh's stack_up); its SASL listener is
# Kafka's port + 2 (env.sh).
for var in PG REDIS KAFKA KAFKA_CONTROLLER CONNECT; do
    port=$(sed -nE "s/.*CDC_TEST_${var}_PORT:-([0-9]+).*/\1/p" tests/run.sh)
    check_port "test default $var" "$port"
    [ "$var" = KAFKA ] && check_port "test default KAFKA_SASL" "$((port + 2))"
done
finish
