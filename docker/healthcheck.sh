#!/bin/bash
# docker/healthcheck.sh: the container image's HEALTHCHECK, installed as
# /usr/local/bin/cdcsink-healthcheck. Asks cdcsink's own /healthz and exits
# 0 only on "200 OK" (cdcsink answers 503 with the reason while Kafka,
# PostgreSQL or Redis is unavailable).
#
# Why bash and not curl or wget: debian:bookworm-slim has neither, and
# adding one costs megabytes and a package to patch, while bash is already
# in every Debian image (it is an Essential package) and its /dev/tcp
# redirection speaks the one plain HTTP/1.0 request this needs. cdcsink
# answers with HTTP/1.0 and closes the connection, so reading to the end is
# safe; Docker's own --timeout bounds a hung server.
#
# Usage: cdcsink-healthcheck [HOST:PORT]
#   HOST:PORT defaults to $CDCSINK_HTTP_LISTEN (the image sets 0.0.0.0:9187);
#   a wildcard host (0.0.0.0, [::], empty) is asked on loopback.
set -euo pipefail

listen=${1:-${CDCSINK_HTTP_LISTEN:-}}
if [[ -z $listen ]]; then
    echo "unhealthy: http.listen (CDCSINK_HTTP_LISTEN) is empty, so /healthz is off" >&2
    exit 1
fi
port=${listen##*:}
host=${listen%:*}
[[ $host == "$listen" ]] && host=
host=${host#[}
host=${host%]}
case $host in
    '' | 0.0.0.0 | '*') host=127.0.0.1 ;;
    :: | '::0') host=::1 ;;
esac
if ! [[ $port =~ ^[0-9]+$ ]]; then
    echo "unhealthy: cannot read a port from '$listen'" >&2
    exit 1
fi

if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
    echo "unhealthy: nothing listens on $host:$port" >&2
    exit 1
fi
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
status_line=
IFS= read -r -t 4 status_line <&3 || true
status_line=${status_line%$'\r'}
# The body (after the blank line) says "ok" or why not; show it in
# `docker inspect`'s health log.
body=$(sed '1,/^\r\{0,1\}$/d' <&3 | head -c 512 || true)
exec 3<&-
read -r _ code _ <<<"$status_line" || true
if [[ ${code:-} == 200 ]]; then
    printf '%s\n' "${body:-ok}"
    exit 0
fi
printf 'unhealthy: %s\n' "${status_line:-no answer from $host:$port}${body:+: $body}" >&2
exit 1
