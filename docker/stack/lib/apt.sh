# docker/stack/lib/apt.sh: the one way cdcsink's scripts install Debian
# packages (stack.sh install, lib/librdkafka.sh, docker/image-check.sh,
# bench/e2e/run.sh). Sourced; defines functions only and needs nothing else
# (the image's build stage copies it beside lib/librdkafka.sh).
#
#   apt_get ARGS...          apt-get, non-interactive, that waits for another
#                            apt/dpkg run's lock (up to 10 minutes) instead of
#                            failing on it; its output is shown only when it
#                            fails (and then not with APT_QUIET_FAIL=1)
#   apt_missing PKG...       the PKGs that are not installed, one a line
#   apt_install WHAT PKG...  installs the PKGs that are missing, quietly and
#                            without recommends: nothing to do when none is;
#                            the package index is updated once (per shell)
#                            when apt does not know a package or its file is
#                            gone from the mirror. WHAT says what they are for
#                            ("to build librdkafka") in the messages
#
# Each returns non-zero after a message on stderr that says what failed and
# what to do (run as root, or the apt-get output); callers stop with their
# own die. Messages start with APT_WHO (default: the script's name).
# shellcheck shell=bash

APT_WHO=${APT_WHO:-$(basename "$0")}
APT_UPDATED=0

apt_get() {
    local try out
    for try in $(seq 1 120); do
        if out=$(DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" 2>&1); then
            return 0
        fi
        if [[ $out == *"Could not get lock"* || $out == *"Unable to lock"* ]]; then
            ((try == 1)) && printf '%s: waiting for another apt/dpkg run to release its lock\n' "$APT_WHO" >&2
            sleep 5
            continue
        fi
        [[ -n ${APT_QUIET_FAIL:-} ]] || printf '%s\n' "$out" >&2
        return 1
    done
    printf '%s: apt-get %s: the apt/dpkg lock was not released in 10 minutes\n' "$APT_WHO" "$1" >&2
    return 1
}

apt_missing() {
    local installed pkg
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null || true)
    for pkg in "$@"; do
        grep -q "^$pkg ii" <<<"$installed" || printf '%s\n' "$pkg"
    done
}

apt_install() {
    local what=$1 missing
    shift
    mapfile -t missing < <(apt_missing "$@")
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) != 0 ]]; then
        printf '%s: missing Debian packages %s: %s; run as root (make check-deps) or install them\n' \
            "$APT_WHO" "$what" "${missing[*]}" >&2
        return 1
    fi
    printf '%s: installing %s (%s)\n' "$APT_WHO" "${missing[*]}" "$what" >&2
    # a stale or empty index (a fresh image has none) fails the first try
    if ((APT_UPDATED == 0)) &&
        APT_QUIET_FAIL=1 apt_get install -y -q --no-install-recommends "${missing[@]}"; then
        return 0
    fi
    if ((APT_UPDATED == 0)); then
        apt_get update -q || {
            printf '%s: apt-get update failed (output above)\n' "$APT_WHO" >&2
            return 1
        }
        APT_UPDATED=1
    fi
    apt_get install -y -q --no-install-recommends "${missing[@]}" || {
        printf '%s: could not install %s (apt-get output above)\n' "$APT_WHO" "${missing[*]}" >&2
        return 1
    }
}
