#!/usr/bin/env bash
# docker/image-check.sh: proves docker/Dockerfile's runtime image works on a
# machine without a container engine (`make image-check`).
#
# It builds the runtime stage's file system the way `docker build` would,
# but with debootstrap and chroot: a Debian root file system for the stage's
# base image (`debootstrap --variant=minbase SUITE`, cached as a tarball
# under .cache/image-check/), then the stage's own instructions, read from
# the Dockerfile so that they cannot drift: its RUN lines run inside the
# chroot (so the very same apt-get install of the runtime packages), COPY,
# ENV, WORKDIR and USER are applied, and ENTRYPOINT, CMD and HEALTHCHECK are
# the ones used below. The file system after the stage's first COPY-free
# instructions (the package layer) is cached too, so a rerun takes seconds.
#
# `COPY --from=build` is served by the host's build: the ./cdcsink that the
# tests use (or $CDC_BIN), laid out as `make install` with the PREFIX and
# DESTDIR of the build stage's RUN would. With --build-stage, the build stage itself is run in a chroot
# of its own instead (compilers and -dev packages from its RUN, the build
# context filtered by .dockerignore, its `make`): slower, but it proves the
# build stage too.
#
# Then, in the chroot, as the image's USER, with the image's ENV:
#   the runtime packages are installed, at the versions the host's tests use;
#   the binary finds all its libraries; `cdcsink version`; `cdcsink --help`;
#   against the local stack (docker/stack/stack.sh; started if it is not
#   running, and stopped again afterwards): `cdcsink check`, then
#   `cdcsink run` with the image's HEALTHCHECK command answering healthy
#   (and unhealthy when nothing listens), and a clean exit on SIGTERM; and
#   the compose file's connector JSON (docker/compose/shop-source.json) is
#   registered by docker/compose/register-connector.sh on the stack's
#   Connect and runs (then removed with its slot and publication).
# Ends with "image-check: N passed, N failed".
#
# Usage:
#   docker/image-check.sh [--build-stage] [--no-stack]
#   docker/image-check.sh parse [DOCKERFILE]         instructions, one a line:
#                                                   STAGE<TAB>NAME<TAB>INSTR<TAB>ARGS
#   docker/image-check.sh packages STAGE [DOCKERFILE] the apt-get install
#                                                   packages of STAGE (name or index)
# Needs root (chroot). Installs debootstrap with apt-get when missing.
# Environment: CDC_CACHE_DIR (default .cache), CDC_BIN (default ./cdcsink),
# the stack's CDC_* overrides (docker/stack/env.sh).
# shellcheck source-path=SCRIPTDIR
# SC2016: single-quoted $ belongs to an inner sh or to dpkg-query formats.
# shellcheck disable=SC2016
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DOCKERFILE=${IMAGE_CHECK_DOCKERFILE:-$ROOT/docker/Dockerfile}
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ------------------------------------------------------------ Dockerfile

# df_parse FILE: one line per instruction, STAGE<TAB>NAME<TAB>INSTR<TAB>ARGS,
# with continuation lines joined the way Docker joins them (the backslash
# and newline removed), comment and empty lines dropped. STAGE counts FROMs
# from 0 (-1 before the first); NAME is the stage's `AS` name or its index.
df_parse() {
    local file=$1 line buf="" full instr args stage=-1 name="" re_cont='^(.*)\\[[:space:]]*$'
    [[ -r $file ]] || { echo "image-check: cannot read $file" >&2; return 1; }
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*# ]] && continue
        [[ $line =~ ^[[:space:]]*$ ]] && continue
        if [[ $line =~ $re_cont ]]; then
            buf+=${BASH_REMATCH[1]}
            continue
        fi
        full=$buf$line
        buf=""
        full=${full#"${full%%[![:space:]]*}"}
        instr=${full%%[[:space:]]*}
        instr=${instr^^}
        args=${full:${#instr}}
        args=${args#"${args%%[![:space:]]*}"}
        args=${args%"${args##*[![:space:]]}"}
        if [[ $instr == FROM ]]; then
            stage=$((stage + 1))
            name=$stage
            if [[ $args =~ [[:space:]][Aa][Ss][[:space:]]+([^[:space:]]+)$ ]]; then
                name=${BASH_REMATCH[1]}
            fi
        fi
        printf '%s\t%s\t%s\t%s\n' "$stage" "$name" "$instr" "$args"
    done <"$file"
    [[ -z $buf ]] || { echo "image-check: $file ends inside a continuation line" >&2; return 1; }
}

# df_stage FILE STAGE: the instructions of one stage (by name or index).
df_stage() {
    df_parse "$1" | awk -F '\t' -v s="$2" '$1 == s || $2 == s'
}

# df_packages FILE STAGE: the packages that the stage's RUN lines give to
# `apt-get install` (options skipped), sorted, one a line.
df_packages() {
    df_stage "$1" "$2" | awk -F '\t' '$3 == "RUN" { print $4 }' |
        awk '{
            for (i = 1; i <= NF; i++) {
                if ($i == "apt-get" && $(i + 1) == "install") {
                    for (j = i + 2; j <= NF; j++) {
                        if ($j ~ /^(&&|\|\||;|\|)$/ || $j ~ /;$/) break
                        if ($j !~ /^-/) print $j
                    }
                }
            }
        }' | sort -u
}

# json_words JSON_ARRAY: the strings of a JSON array (exec form), NUL-separated.
json_words() {
    python3 -c 'import json, sys
v = json.loads(sys.argv[1])
assert isinstance(v, list) and all(isinstance(x, str) for x in v), "not a JSON array of strings"
sys.stdout.write("".join(x + "\0" for x in v))' "$1"
}

case ${1:-} in
    parse) df_parse "${2:-$DOCKERFILE}"; exit ;;
    packages)
        [[ -n ${2:-} ]] || { echo "usage: image-check.sh packages STAGE [DOCKERFILE]" >&2; exit 2; }
        df_packages "${3:-$DOCKERFILE}" "$2"
        exit
        ;;
esac

BUILD_STAGE=0 USE_STACK=1
for arg in "$@"; do
    case $arg in
        --build-stage) BUILD_STAGE=1 ;;
        --no-stack) USE_STACK=0 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "image-check: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

# shellcheck disable=SC2034 # read by tests/lib.sh
T_NAME="image-check"
# shellcheck source=../tests/lib.sh
. "$ROOT/tests/lib.sh"
cd "$ROOT"
STARTED=$SECONDS
CACHE=$(realpath -m -- "${CDC_CACHE_DIR:-$ROOT/.cache}")/image-check
mkdir -p "$CACHE"
note() { printf '     %s\n' "$*"; }
die() {
    echo "image-check: error: $*" >&2
    fail "$*"
    set +e
    finish
    exit 1
}

[[ $(id -u) == 0 ]] || die "needs root (chroot, debootstrap)"
if ! command -v debootstrap >/dev/null; then
    note "installing debootstrap"
    # shellcheck source=stack/lib/apt.sh
    . "$ROOT/docker/stack/lib/apt.sh"
    apt_install "to build the image's file system" debootstrap 2>"$T_TMP/apt-debootstrap.log" ||
        die "installing debootstrap failed (see $T_TMP/apt-debootstrap.log)"
fi

# ------------------------------------------------------------ base rootfs

# The Debian mirror and suites come from the host's own apt sources, so the
# chroot gets the same archive (and so the same package versions) as the
# machine that runs the tests.
host_sources() {
    if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
        cat /etc/apt/sources.list.d/debian.sources
    elif [[ -r /etc/apt/sources.list ]]; then
        grep -E '^deb ' /etc/apt/sources.list
    fi
}
host_mirror() {
    host_sources | awk '/^URIs:/ { print $2; exit } /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }'
}

# The settings a debian:*-slim image carries (apt caches dropped after each
# install, no documentation), so sizes compare with the real image.
slim_config() {
    local dir=$1
    mkdir -p "$dir/etc/apt/apt.conf.d" "$dir/etc/dpkg/dpkg.cfg.d"
    cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    printf 'Acquire::Languages "none";\n' >"$dir/etc/apt/apt.conf.d/docker-no-languages"
    printf 'APT::AutoRemove::SuggestsImportant "false";\n' >"$dir/etc/apt/apt.conf.d/docker-autoremove-suggests"
    cat >"$dir/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
EOF
}

# base_rootfs IMAGE: prints the path of the cached base tarball for IMAGE,
# creating it with debootstrap when missing.
base_rootfs() {
    local image=$1 suite tar tmp mirror log
    if [[ $image =~ ^(docker\.io/)?(library/)?debian:([a-z]+)(-slim)?$ ]]; then
        suite=${BASH_REMATCH[3]}
    else
        echo "image-check: can only emulate debian:SUITE[-slim] base images, not $image" >&2
        return 1
    fi
    tar=$CACHE/base-$suite-minbase.tar
    if [[ ! -s $tar ]]; then
        tmp=$(mktemp -d "$CACHE/debootstrap.XXXXXX")
        log=$T_TMP/debootstrap.log
        mirror=$(host_mirror)
        note "debootstrap --variant=minbase $suite (first run only; log $log)" >&2
        if ! debootstrap --variant=minbase "$suite" "$tmp" ${mirror:+"$mirror"} >"$log" 2>&1; then
            rm -rf -- "$tmp"
            echo "image-check: debootstrap failed; last lines of $log:" >&2
            tail -n 15 "$log" >&2
            return 1
        fi
        if host_sources | grep -q .; then
            rm -f "$tmp/etc/apt/sources.list"
            host_sources >"$tmp/etc/apt/sources.list.d/debian.sources"
            [[ -r /etc/apt/sources.list.d/debian.sources ]] ||
                mv "$tmp/etc/apt/sources.list.d/debian.sources" "$tmp/etc/apt/sources.list"
        fi
        slim_config "$tmp"
        rm -rf "$tmp/var/lib/apt/lists/"* "$tmp/var/cache/apt/archives/"*.deb
        du -sxm "$tmp" | cut -f1 >"$tar.mb"
        chmod 755 "$tmp" # mktemp's 0700 would become the image's / and lock out USER
        tar -C "$tmp" --numeric-owner -cf "$tar.part" . && mv -f "$tar.part" "$tar"
        rm -rf -- "$tmp"
    fi
    printf '%s\n' "$tar"
}

# ------------------------------------------------------------ stage runner

# chroot_cmd DIR USER WORKDIR CMD...: sets CHROOT_CMD to the command line
# that runs CMD inside DIR as USER ("" = root) in WORKDIR, with exactly the
# environment in STAGE_ENV plus PATH and HOME (as `docker run` would). The
# chroot execs env, env execs sh, sh execs CMD: one process, so a
# background run's $! is CMD's own pid.
chroot_cmd() {
    local dir=$1 user=$2 wd=$3 ids
    shift 3
    local spec=()
    if [[ -n $user ]]; then
        ids=$(resolve_user "$dir" "$user") || return 1
        spec=(--userspec="$ids")
    fi
    CHROOT_CMD=(chroot "${spec[@]}" "$dir" /usr/bin/env -i "PATH=$DEFAULT_PATH" HOME=/root
        "${STAGE_ENV[@]}" /bin/sh -c 'cd "$0" || exit 1; exec "$@"' "${wd:-/}" "$@")
}
chroot_run() {
    chroot_cmd "$@" || return 1
    "${CHROOT_CMD[@]}"
}

# resolve_user DIR USER[:GROUP]: numeric UID:GID from the chroot's files.
resolve_user() {
    local dir=$1 uspec=$2 user group uid gid
    user=${uspec%%:*}
    group=
    [[ $uspec == *:* ]] && group=${uspec#*:}
    if [[ $user =~ ^[0-9]+$ ]]; then
        uid=$user
        gid=$(awk -F: -v u="$uid" '$3 == u { print $4; exit }' "$dir/etc/passwd")
    else
        uid=$(awk -F: -v u="$user" '$1 == u { print $3; exit }' "$dir/etc/passwd")
        gid=$(awk -F: -v u="$user" '$1 == u { print $4; exit }' "$dir/etc/passwd")
    fi
    if [[ -n $group ]]; then
        if [[ $group =~ ^[0-9]+$ ]]; then gid=$group; else gid=$(awk -F: -v g="$group" '$1 == g { print $3; exit }' "$dir/etc/group"); fi
    fi
    [[ -n $uid ]] || { echo "image-check: user $user is not in the image's /etc/passwd" >&2; return 1; }
    printf '%s:%s\n' "$uid" "${gid:-$uid}"
}

# copy_context DEST: the build context (the repository) minus .dockerignore.
copy_context() {
    local dest=$1 excludes=() pat
    if [[ -r $ROOT/.dockerignore ]]; then
        while IFS= read -r pat || [[ -n $pat ]]; do
            [[ $pat =~ ^[[:space:]]*(#|$) ]] && continue
            [[ $pat == '!'* ]] && { echo "image-check: .dockerignore exceptions (!) are not emulated" >&2; return 1; }
            pat=${pat#/}
            excludes+=("--exclude=./${pat%/}")
        done <"$ROOT/.dockerignore"
    fi
    mkdir -p "$dest"
    tar -C "$ROOT" --anchored --no-wildcards-match-slash "${excludes[@]}" -cf - . | tar -C "$dest" -xf -
}

# apply_copy DIR ARGS: one COPY instruction (sources from the context or,
# with --from, from that stage's file system in STAGE_DIRS).
apply_copy() {
    local dir=$1 args=$2 from="" words=() src dst s base
    read -r -a words <<<"$args"
    while [[ ${words[0]} == --* ]]; do
        case ${words[0]} in
            --from=*) from=${words[0]#--from=} ;;
            *) echo "image-check: COPY option ${words[0]} is not emulated" >&2; return 1 ;;
        esac
        words=("${words[@]:1}")
    done
    [[ ${words[0]} != '['* ]] || { echo "image-check: COPY's JSON form is not emulated" >&2; return 1; }
    dst=${words[-1]}
    unset 'words[-1]'
    [[ $dst == /* ]] || dst=${STAGE_WORKDIR%/}/$dst
    if [[ -n $from ]]; then
        base=${STAGE_DIRS[$from]:-}
        [[ -n $base ]] || { echo "image-check: COPY --from=$from: no such stage was built" >&2; return 1; }
    else
        base=$(mktemp -d "$T_TMP/context.XXXXXX")
        copy_context "$base"
    fi
    for src in "${words[@]}"; do
        s=$base/${src#/}
        if [[ -d $s ]]; then
            mkdir -p "$dir$dst"
            cp -R --preserve=mode,timestamps,links --no-preserve=ownership "$s/." "$dir$dst/"
        elif [[ -e $s ]]; then
            if [[ $dst == */ || ${#words[@]} -gt 1 ]]; then
                mkdir -p "$dir$dst"
                cp --preserve=mode,timestamps --no-preserve=ownership "$s" "$dir$dst/"
            else
                mkdir -p "$(dirname "$dir$dst")"
                cp --preserve=mode,timestamps --no-preserve=ownership "$s" "$dir$dst"
            fi
        else
            echo "image-check: COPY ${from:+--from=$from }$src: not found" >&2
            return 1
        fi
    done
}

# env_pairs ARGS: ENV's key=value pairs (or the old `ENV key value` form),
# one a line, quotes removed.
env_pairs() {
    local args=$1 words=() w
    if [[ $args != *=* || ${args%%[[:space:]]*} != *=* ]]; then
        printf '%s=%s\n' "${args%%[[:space:]]*}" "${args#*[[:space:]]}"
        return
    fi
    read -r -a words <<<"$args"
    for w in "${words[@]}"; do
        w=${w/=\"/=}
        w=${w%\"}
        printf '%s\n' "$w"
    done
}

# stage_instructions FILE STAGE: the stage's instructions without FROM.
# run_stage STAGE DIR: builds STAGE of the Dockerfile into DIR. Sets
# STAGE_ENV, STAGE_USER, STAGE_WORKDIR, STAGE_EXPOSE, STAGE_HEALTHCHECK,
# STAGE_ENTRYPOINT, STAGE_CMD.
declare -A STAGE_DIRS=()
run_stage() {
    local stage=$1 dir=$2 lines=() instr args from base_tar key snap i prefix_end=-1 pair rc kept_env=()
    mapfile -t lines < <(df_stage "$DOCKERFILE" "$stage")
    ((${#lines[@]} > 0)) || { echo "image-check: no stage $stage in $DOCKERFILE" >&2; return 1; }
    IFS=$'\t' read -r _ _ instr from <<<"${lines[0]}"
    from=${from%%[[:space:]]*}
    base_tar=$(base_rootfs "$from") || return 1
    STAGE_ENV=() STAGE_ARGS=() STAGE_USER="" STAGE_WORKDIR=/ STAGE_HEALTHCHECK="" STAGE_ENTRYPOINT="" STAGE_CMD=""

    # The package layer: the instructions before the first COPY are cached
    # as one tarball, keyed by the base and their text.
    for ((i = 1; i < ${#lines[@]}; i++)); do
        IFS=$'\t' read -r _ _ instr _ <<<"${lines[i]}"
        [[ $instr == COPY || $instr == ADD ]] && break
        prefix_end=$i
    done
    key=$({ stat -c %Y "$base_tar"; printf '%s\n' "${lines[@]:0:prefix_end+1}"; } | sha256sum | cut -c 1-16)
    snap=$CACHE/stage-${stage}-$key.tar

    rm -rf -- "$dir"
    mkdir -p "$dir"
    if [[ -s $snap ]]; then
        tar -C "$dir" --numeric-owner -xf "$snap"
        note "stage $stage: package layer from cache ($(basename "$snap"))"
    else
        tar -C "$dir" --numeric-owner -xf "$base_tar"
    fi
    chmod 755 "$dir"
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true

    for ((i = 1; i < ${#lines[@]}; i++)); do
        IFS=$'\t' read -r _ _ instr args <<<"${lines[i]}"
        # Cached layer: replay only what sets state, not RUN.
        if [[ -s $snap && $i -le $prefix_end && $instr == RUN ]]; then continue; fi
        case $instr in
            ARG)
                # Build arguments reach RUN's environment, not the image's.
                if [[ $args == *=* ]]; then STAGE_ARGS+=("$args"); else STAGE_ARGS+=("$args="); fi
                ;;
            ENV)
                while IFS= read -r pair; do STAGE_ENV+=("$pair"); done < <(env_pairs "$args")
                ;;
            LABEL | STOPSIGNAL | VOLUME | EXPOSE) ;;
            WORKDIR)
                [[ $args == /* ]] || args=${STAGE_WORKDIR%/}/$args
                STAGE_WORKDIR=$args
                mkdir -p "$dir$args"
                ;;
            RUN)
                [[ $args != '['* ]] || { echo "image-check: RUN's JSON form is not emulated" >&2; return 1; }
                note "stage $stage: RUN ${args:0:90}..."
                kept_env=("${STAGE_ENV[@]}")
                STAGE_ENV+=("${STAGE_ARGS[@]}")
                chroot_run "$dir" "$STAGE_USER" "$STAGE_WORKDIR" /bin/sh -c "$args" >>"$T_TMP/stage-$stage.log" 2>&1 && rc=0 || rc=$?
                STAGE_ENV=("${kept_env[@]}")
                if ((rc != 0)); then
                    echo "image-check: stage $stage: RUN failed; last lines of $T_TMP/stage-$stage.log:" >&2
                    tail -n 20 "$T_TMP/stage-$stage.log" >&2
                    return 1
                fi
                ;;
            COPY) apply_copy "$dir" "$args" || return 1 ;;
            USER) STAGE_USER=$args ;;
            HEALTHCHECK) STAGE_HEALTHCHECK=$args ;;
            ENTRYPOINT) STAGE_ENTRYPOINT=$args ;;
            CMD) STAGE_CMD=$args ;;
            *) echo "image-check: $instr is not emulated" >&2; return 1 ;;
        esac
        if ((i == prefix_end)) && [[ ! -s $snap ]]; then
            rm -f "$CACHE/stage-${stage}-"*.tar
            tar -C "$dir" --numeric-owner -cf "$snap.part" . && mv -f "$snap.part" "$snap"
        fi
    done
    STAGE_DIRS[$stage]=$dir
}

# ------------------------------------------------------------ build

BIN=${CDC_BIN:-$ROOT/cdcsink}

mapfile -t STAGES < <(df_parse "$DOCKERFILE" | awk -F '\t' '$3 == "FROM" { print $2 }')
((${#STAGES[@]} >= 1)) || die "no FROM in $DOCKERFILE"
RUNTIME=${STAGES[-1]}
RT_DIR=$CACHE/rootfs-$RUNTIME

for stage in "${STAGES[@]:0:${#STAGES[@]}-1}"; do
    if ((BUILD_STAGE)); then
        note "building stage $stage in a chroot"
        run_stage "$stage" "$CACHE/rootfs-$stage" || die "stage $stage did not build"
        ok "build stage '$stage' builds in a Debian chroot (its RUN lines, .dockerignore'd context)"
    else
        # Stand-in for the build stage: the host's `make install` with the
        # stage's own PREFIX and DESTDIR.
        install_args=$(df_stage "$DOCKERFILE" "$stage" | awk -F '\t' '$3 == "RUN"' |
            grep -o 'make install[^&;|]*' | head -n 1 || true)
        [[ -n $install_args ]] || die "stage $stage has no 'make install' to stand in for"
        prefix=$(grep -o 'PREFIX=[^[:space:]]*' <<<"$install_args" | cut -d= -f2 || true)
        destdir=$(grep -o 'DESTDIR=[^[:space:]]*' <<<"$install_args" | cut -d= -f2 || true)
        standin=$T_TMP/stage-$stage
        [[ -x $BIN ]] || die "$BIN is not built (run make, or set CDC_BIN)"
        # What the Makefile's install rule puts there: PREFIX/bin/cdcsink.
        install -D -m 0755 "$BIN" "$standin$destdir${prefix:-/usr/local}/bin/cdcsink"
        ok "stage '$stage' stood in for by $BIN, as make install PREFIX=${prefix:-/usr/local} DESTDIR=$destdir lays it out"
        STAGE_DIRS[$stage]=$standin
    fi
done

note "runtime stage '$RUNTIME' into $RT_DIR"
run_stage "$RUNTIME" "$RT_DIR" || die "runtime stage $RUNTIME did not build"
ok "runtime stage '$RUNTIME' builds: its RUN lines ran in a Debian chroot"
RT_ENV=("${STAGE_ENV[@]}") RT_USER=$STAGE_USER RT_WORKDIR=$STAGE_WORKDIR
RT_HEALTHCHECK=$STAGE_HEALTHCHECK RT_ENTRYPOINT=$STAGE_ENTRYPOINT RT_CMD=$STAGE_CMD

# ------------------------------------------------------------ checks

# in_image CMD...: run CMD in the runtime rootfs as the image would: its
# USER, WORKDIR and ENV, plus EXTRA_ENV (KEY=value words).
EXTRA_ENV=()
in_image() {
    local STAGE_ENV=("${RT_ENV[@]}" "${EXTRA_ENV[@]}")
    chroot_run "$RT_DIR" "$RT_USER" "$RT_WORKDIR" "$@"
}

mapfile -t PKGS < <(df_packages "$DOCKERFILE" "$RUNTIME")
missing=()
for p in "${PKGS[@]}"; do
    [[ $(chroot "$RT_DIR" dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || missing+=("$p")
done
if ((${#PKGS[@]} > 0 && ${#missing[@]} == 0)); then
    ok "runtime packages installed: ${PKGS[*]}"
else
    fail "runtime packages missing from the image: ${missing[*]:-(the Dockerfile installs none)}"
fi

mapfile -d '' -t ENTRY < <(json_words "$RT_ENTRYPOINT")
mapfile -d '' -t CMDW < <(json_words "${RT_CMD:-[]}")
exe=${ENTRY[0]:-}

# The libraries the binary links (its NEEDED entries, owned by these host
# packages) must be the versions the host's tests use: the same upstream
# release series (the version without its epoch, Debian revision and last
# dotted part: librdkafka 2.0, yajl 2.1, libpq 15, hiredis 0.14). A newer
# point or security release from the archive is fine and reported.
series() { local v=${1#*:}; v=${v%%-*}; v=${v%%+*}; v=${v%%~*}; [[ $v == *.* ]] && v=${v%.*}; printf '%s' "$v"; }
mapfile -t LIBPKGS < <(objdump -p "$RT_DIR$exe" 2>/dev/null | awk '$1 == "NEEDED" { print $2 }' |
    while read -r lib; do dpkg -S "*/$lib" 2>/dev/null | head -n 1 | cut -d: -f1; done | grep -vx 'libc6' | sort -u)
diffs=() same=()
for p in "${LIBPKGS[@]}"; do
    host_v=$(dpkg-query -W -f '${Version}' "$p" 2>/dev/null || true)
    img_v=$(chroot "$RT_DIR" dpkg-query -W -f '${Version}' "$p" 2>/dev/null || true)
    if [[ -n $img_v && $(series "$host_v") == "$(series "$img_v")" ]]; then
        if [[ $img_v == "$host_v" ]]; then same+=("$p $img_v"); else same+=("$p $img_v (host $host_v)"); fi
    else
        diffs+=("$p image ${img_v:-none} host ${host_v:-none}")
    fi
done
if ((${#LIBPKGS[@]} > 0 && ${#diffs[@]} == 0)); then
    ok "the binary's libraries are the tests' versions: $(IFS=,; echo "${same[*]}")"
else
    fail "library versions differ from the host's (the tests'): ${diffs[*]:-no NEEDED library found in $exe}"
fi

check "ENTRYPOINT ${exe:-?} is an executable file in the image" test -n "$exe" -a -f "$RT_DIR$exe" -a -x "$RT_DIR$exe"
if ldd_out=$(chroot "$RT_DIR" ldd "$exe" 2>&1) && ! grep -q 'not found' <<<"$ldd_out"; then
    ok "every shared library of $exe resolves in the image"
else
    fail "shared libraries of $exe: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t' ' ' | tr '\n' ';')"
fi

uid=$(resolve_user "$RT_DIR" "${RT_USER:-0}" 2>/dev/null || echo "?")
if [[ -n $RT_USER && $uid != "?" && ${uid%%:*} != 0 ]]; then
    ok "USER $RT_USER is a non-root user of the image (uid:gid $uid)"
else
    fail "USER ${RT_USER:-(none)} is not a non-root user of the image ($uid)"
fi

out=$(in_image "${ENTRY[@]}" version 2>&1) && rc=0 || rc=$?
if [[ $rc == 0 && $out =~ ^cdcsink\ [0-9] ]]; then ok "as USER: cdcsink version -> $out"; else fail "cdcsink version: rc $rc: $out"; fi
out=$(in_image "${ENTRY[@]}" --help 2>&1) && rc=0 || rc=$?
if [[ $rc == 0 && $out == *"usage: cdcsink"* && $out == *CDCSINK_PG_CONNINFO* ]]; then
    ok "as USER: cdcsink --help"
else
    fail "cdcsink --help: rc $rc: $(head -n 3 <<<"$out")"
fi
# The default command needs the required settings: without them it must
# stop at once with a configuration error (exit 2) naming the setting.
out=$(in_image timeout 20 "${ENTRY[@]}" "${CMDW[@]}" 2>&1) && rc=0 || rc=$?
if [[ $rc == 2 && $out == *topics* || $rc == 2 && $out == *pg.conninfo* ]]; then
    ok "ENTRYPOINT+CMD (${ENTRY[*]} ${CMDW[*]}) without settings: exit 2 naming the missing setting"
else
    fail "ENTRYPOINT+CMD without settings: rc $rc: $(head -n 2 <<<"$out")"
fi

# ------------------------------------------------------------ with the stack

STACK_STARTED=0
free_port() {
    local p
    for p in $(shuf -i 20000-22999 -n 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}
cleanup_stack() {
    if ((STACK_STARTED)); then
        note "stopping the local stack that image-check started"
        "$STACK" down >/dev/null 2>&1 || true
    fi
}
trap cleanup_stack EXIT

if ((USE_STACK)); then
    eval "$("$STACK" env)"
    if ! "$STACK" status >/dev/null 2>&1; then
        note "starting the local stack ($CDC_STACK_DIR; log $T_TMP/stack-up.log)"
        STACK_STARTED=1
        if ! "$STACK" up >"$T_TMP/stack-up.log" 2>&1; then
            tail -n 20 "$T_TMP/stack-up.log"
            fail "the local stack did not come up; the checks that need it are not run"
            USE_STACK=0
        fi
    fi
fi

if ((USE_STACK)); then
    EXTRA_ENV=(
        "CDCSINK_KAFKA_BOOTSTRAP_SERVERS=$CDC_KAFKA_BOOTSTRAP"
        "CDCSINK_PG_CONNINFO=$CDC_PG_WAREHOUSE_URI"
        "CDCSINK_REDIS_URL=$CDC_REDIS_URL"
        "CDCSINK_KAFKA_GROUP_ID=image-check-$$"
        # A pattern no topic matches: the sink runs without applying anything.
        "CDCSINK_TOPICS=^image-check-none\\..*"
        "CDCSINK_DLQ_TOPIC=image-check.dlq"
    )
    out=$(in_image timeout 60 "${ENTRY[@]}" check 2>&1) && rc=0 || rc=$?
    if [[ $rc == 0 ]] && grep -q '^ok  *kafka' <<<"$out" && grep -q '^ok  *postgresql' <<<"$out" &&
        grep -q '^ok  *redis' <<<"$out"; then
        ok "as USER: cdcsink check reaches the stack's Kafka, PostgreSQL and Redis"
    else
        fail "cdcsink check: rc $rc: $(tr '\n' ';' <<<"$out")"
    fi

    # HEALTHCHECK: the image's own command, as the image runs it.
    hc=${RT_HEALTHCHECK##*CMD}
    hc=${hc#"${hc%%[![:space:]]*}"}
    if [[ -z $RT_HEALTHCHECK || $RT_HEALTHCHECK == NONE ]]; then
        fail "the runtime stage has no HEALTHCHECK"
    else
        mapfile -d '' -t HC < <(json_words "$hc" 2>/dev/null || printf '/bin/sh\0-c\0%s\0' "$hc")
        port=$(free_port)
        EXTRA_ENV+=("CDCSINK_HTTP_LISTEN=127.0.0.1:$port")
        STAGE_ENV=("${RT_ENV[@]}" "${EXTRA_ENV[@]}")
        chroot_cmd "$RT_DIR" "$RT_USER" "$RT_WORKDIR" "${ENTRY[@]}" "${CMDW[@]}"
        "${CHROOT_CMD[@]}" >"$T_TMP/run.log" 2>&1 &
        RUN_PID=$!
        SINK_PIDS+=("$RUN_PID")
        if wait_until 45 in_image "${HC[@]}" >"$T_TMP/healthcheck.log" 2>&1; then
            ok "HEALTHCHECK (${HC[*]}) passes while ${CMDW[*]} runs against the stack ($(tail -n 1 "$T_TMP/healthcheck.log"))"
        else
            fail "HEALTHCHECK never passed in 45 s: $(tail -n 2 "$T_TMP/healthcheck.log" | tr '\n' ' ')"
        fi
        closed=$(free_port)
        saved=("${EXTRA_ENV[@]}")
        EXTRA_ENV+=("CDCSINK_HTTP_LISTEN=127.0.0.1:$closed")
        out=$(in_image "${HC[@]}" 2>&1) && rc=0 || rc=$?
        EXTRA_ENV=("${saved[@]}")
        if [[ $rc != 0 ]]; then ok "HEALTHCHECK fails when nothing answers ($out)"; else fail "HEALTHCHECK passed with nothing listening on $closed"; fi
        if kill -0 "$RUN_PID" 2>/dev/null; then
            stop_sink "$RUN_PID" 40 && rc=0 || rc=$?
            check_eq "SIGTERM stops the image's process cleanly (exit code)" "$rc" 0
        else
            wait "$RUN_PID" && rc=0 || rc=$?
            fail "${CMDW[*]} had already exited (rc $rc) before SIGTERM: $(tail -n 3 "$T_TMP/run.log" | tr '\n' ' ')"
        fi
    fi

    # The compose file's connector JSON on the real Debezium 3.6 of the stack:
    # same config, with only the connection, topic prefix, slot and
    # publication pointed at this stack.
    # A new name each run: a standalone worker keeps a removed connector's
    # offsets (by name), which would point into the slot removed with it.
    run_id=$(date +%s)
    name="image-check-compose-$run_id"
    python3 - "$ROOT/docker/compose/shop-source.json" "$T_TMP/connector.json" "$CDC_PG_PORT" "${CDC_SOURCE_DB:-source}" "$run_id" <<'PY'
import json, sys
src, dst, port, db, run = sys.argv[1:6]
c = json.load(open(src))
c.update({"database.hostname": "127.0.0.1", "database.port": port, "database.dbname": db,
          "topic.prefix": "imagecheck", "slot.name": "dbz_image_check_" + run,
          "publication.name": "dbz_pub_image_check_" + run})
json.dump(c, open(dst, "w"), indent=1)
PY
    if CONNECT_URL=$CDC_CONNECT_URL CONNECTOR_NAME=$name CONNECTOR_CONFIG=$T_TMP/connector.json TIMEOUT_S=60 \
        sh "$ROOT/docker/compose/register-connector.sh" >"$T_TMP/register.log" 2>&1; then
        ok "compose's connector JSON, registered by register-connector.sh, runs on the stack's Debezium $(tail -n 1 "$T_TMP/register.log")"
    else
        fail "compose's connector JSON did not run: $(tail -n 3 "$T_TMP/register.log" | tr '\n' ' ')"
    fi
    "$STACK" connector remove "$name" >"$T_TMP/connector-remove.log" 2>&1 || note "could not remove connector $name (see $T_TMP/connector-remove.log)"
fi

# ------------------------------------------------------------ summary

size=$(du -sxm "$RT_DIR" | cut -f1)
base_size=$(cat "$CACHE"/base-*-minbase.tar.mb 2>/dev/null | head -n 1)
base_size=${base_size:-0}
note "runtime rootfs $RT_DIR: ${size} MB (debootstrap minbase base ${base_size} MB, so the stage adds about $((size - base_size)) MB); took $((SECONDS - STARTED)) s"
# tests/lib.sh's finish is written for scripts without -e.
set +e
finish
