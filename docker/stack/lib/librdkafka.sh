#!/usr/bin/env bash
# docker/stack/lib/librdkafka.sh: builds the librdkafka that cdcsink links,
# once, into the cache folder, from Debian's own source package of a later
# Debian release (docs/librdkafka.md says which fixes this brings and why).
#
#   librdkafka.sh install [CACHE_DIR]   build it unless CACHE_DIR already has it
#   librdkafka.sh prefix [CACHE_DIR]    print the folder it goes to
#
# CACHE_DIR defaults to $CDC_CACHE_DIR, then to <repo>/.cache. The result is
# CACHE_DIR/librdkafka-VERSION/{include/librdkafka,lib/librdkafka.a,
# lib/pkgconfig/rdkafka.pc}: a static library only, so the Makefile links it
# into the binary and nothing searches for it at run time. It is complete
# when its .complete stamp holds the fingerprint below (written last), so a
# warm `install` only reads that file and needs neither root nor apt.
#
# A cold install, as root: installs the missing build packages (compiler,
# dpkg-dev, and the -dev packages of the libraries librdkafka is configured
# with), adds a deb-src entry for $CDC_LIBRDKAFKA_SUITE in
# /etc/apt/sources.list.d/cdcsink-librdkafka-src.sources (source packages
# only, so no binary package of that release can be installed from it; the
# mirror is the one the system's own Debian entry names), fetches the source
# package with `apt-get source` (apt checks its files against the signed
# Sources index), unpacks it with Debian's patches and builds librdkafka.a.
#
# Run by `stack.sh install` (so `make check-deps` and `make test`) and by the
# build stage of docker/Dockerfile, so the tests, the local stack and the
# image link the same library. Self-contained on purpose but for lib/apt.sh
# (the one apt-get helper): the image's build context has these two files
# and not the rest of docker/stack.
set -euo pipefail

# ---- pinned version ----
# The upstream version; any Debian revision of it in the suite is taken
# (a stable suite replaces 2.8.0-1 by 2.8.0-1+deb13uN for a security fix,
# and the older revision leaves the archive). The Makefile reads this line.
CDC_LIBRDKAFKA_VERSION=2.8.0
CDC_LIBRDKAFKA_SUITE=trixie
# What cdcsink needs: the consumer and producer, TLS, SASL (PLAIN, SCRAM and
# OAUTHBEARER built in; GSSAPI through Cyrus), every compression codec a
# producer may have used (gzip, snappy built in, lz4, zstd). Not the HTTP
# client (libcurl; only for sasl.oauthbearer.method=oidc).
RDKAFKA_CONFIGURE=(--disable-curl --enable-ssl --enable-gssapi --enable-zlib
    --enable-zstd --enable-lz4-ext)
RDKAFKA_BUILD_PACKAGES=(build-essential pkg-config dpkg-dev libssl-dev libsasl2-dev
    zlib1g-dev libzstd-dev liblz4-dev)
SRC_LIST=/etc/apt/sources.list.d/cdcsink-librdkafka-src.sources

note() { printf '%s\n' "$*" >&2; }
die() { printf 'librdkafka.sh: error: %s\n' "$*" >&2; exit 1; }

fingerprint() { printf 'librdkafka=%s suite=%s configure=%s\n' \
    "$CDC_LIBRDKAFKA_VERSION" "$CDC_LIBRDKAFKA_SUITE" "${RDKAFKA_CONFIGURE[*]}"; }

built() { [[ -f $1/.complete && $(head -n 1 "$1/.complete") == "$(fingerprint)" ]]; }

# shellcheck source-path=SCRIPTDIR source=apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

need_root() { [[ $(id -u) == 0 ]] || die "$1; run as root (or \`make check-deps\` as root) once"; }

install_build_packages() {
    apt_install "to build librdkafka" "${RDKAFKA_BUILD_PACKAGES[@]}" ||
        die "the build packages of librdkafka could not be installed (see above)"
}

# debian_mirror: the mirror of the system's own Debian entry (deb822 or
# one-line format), so the project names no mirror of its own.
debian_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f && $f != "$SRC_LIST" ]] || continue
        uri=$(awk 'tolower($1) == "uris:" { u = $2 } tolower($1) == "suites:" && / bookworm( |$)/ { print u; exit }' "$f")
        [[ -n $uri ]] && { printf '%s\n' "$uri"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' "$f")
        [[ -n $uri ]] && { printf '%s\n' "$uri"; return 0; }
    done
    return 1
}

# source_version: the newest Debian revision of the pinned upstream version
# that apt knows a source package of (empty if none).
source_version() {
    apt-cache showsrc librdkafka 2>/dev/null |
        awk -v v="$CDC_LIBRDKAFKA_VERSION" '$1 == "Version:" && index($2, v "-") == 1 { print $2 }' |
        sort -V | tail -n 1
}

# ensure_source_entry: the deb-src entry, and apt's lists updated for it.
ensure_source_entry() {
    local mirror want
    [[ -n $(source_version) ]] && return 0
    need_root "apt has no source package librdkafka $CDC_LIBRDKAFKA_VERSION"
    mirror=$(debian_mirror) || die "no Debian bookworm entry in /etc/apt/sources.list*; cannot tell which mirror to take the $CDC_LIBRDKAFKA_SUITE source package from"
    want=$(printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" "$CDC_LIBRDKAFKA_SUITE")
    if [[ ! -f $SRC_LIST || $(<"$SRC_LIST") != "$want" ]]; then
        note "librdkafka.sh: adding $SRC_LIST (deb-src $CDC_LIBRDKAFKA_SUITE)"
        printf '%s\n' "# written by cdcsink's docker/stack/lib/librdkafka.sh: source packages only" "$want" >"$SRC_LIST"
    fi
    apt_get update -q || die "apt-get update failed (see above)"
    [[ -n $(source_version) ]] || die "apt has no source package librdkafka $CDC_LIBRDKAFKA_VERSION-* in $CDC_LIBRDKAFKA_SUITE (apt-cache showsrc librdkafka)"
}

# build_into TMP PREFIX: fetch, unpack, configure for PREFIX, build, and
# lay the result out in TMP/out.
build_into() {
    local tmp=$1 prefix=$2 debver src log=$1/build.log
    debver=$(source_version)
    note "librdkafka.sh: building librdkafka $debver ($CDC_LIBRDKAFKA_SUITE source package) into $prefix; log $log"
    (cd "$tmp" && apt_get source --download-only "librdkafka=$debver") || die "apt-get source librdkafka=$debver failed"
    (cd "$tmp" && dpkg-source --no-check -x ./*.dsc src >>"$log" 2>&1) || die "dpkg-source -x failed (see $log)"
    src=$tmp/src
    (cd "$src" && ./configure --prefix="$prefix" "${RDKAFKA_CONFIGURE[@]}" >>"$log" 2>&1) ||
        { tail -n 30 "$log" >&2; die "librdkafka's configure failed"; }
    make -C "$src/src" -j"$(nproc)" librdkafka.a rdkafka.pc >>"$log" 2>&1 ||
        { tail -n 30 "$log" >&2; die "building librdkafka failed"; }
    install -d "$tmp/out/include/librdkafka" "$tmp/out/lib/pkgconfig"
    install -m 0644 "$src/src/rdkafka.h" "$src/src/rdkafka_mock.h" "$tmp/out/include/librdkafka/"
    install -m 0644 "$src/src/librdkafka.a" "$tmp/out/lib/"
    install -m 0644 "$src/src/rdkafka.pc" "$tmp/out/lib/pkgconfig/"
    install -m 0644 "$src/LICENSE" "$tmp/out/LICENSE"
    printf '%s\n' "$debver" >"$tmp/out/debian-version"
}

BUILD_TMP=
cmd_install() {
    local prefix=$1 tmp started=$SECONDS
    built "$prefix" && return 0
    install_build_packages
    ensure_source_entry
    mkdir -p -- "$(dirname "$prefix")"
    tmp=$(mktemp -d "$(dirname "$prefix")/.librdkafka.XXXXXX")
    # apt-get source downloads as the _apt user where it can
    chmod 755 -- "$tmp"
    BUILD_TMP=$tmp
    trap 'if [[ -n $BUILD_TMP ]]; then rm -rf -- "$BUILD_TMP"; fi' EXIT
    build_into "$tmp" "$prefix"
    fingerprint >"$tmp/out/.complete"
    rm -rf -- "$prefix"
    mv -- "$tmp/out" "$prefix"
    note "librdkafka.sh: librdkafka $(<"$prefix/debian-version") built in $((SECONDS - started)) s: $prefix"
}

main() {
    local cmd=${1:-} cache=${2:-${CDC_CACHE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd -P)/.cache}}
    cache=$(realpath -m -- "$cache")
    case $cmd in
        install) cmd_install "$cache/librdkafka-$CDC_LIBRDKAFKA_VERSION" ;;
        prefix) printf '%s\n' "$cache/librdkafka-$CDC_LIBRDKAFKA_VERSION" ;;
        *) die "usage: librdkafka.sh install|prefix [CACHE_DIR]" ;;
    esac
}

main "$@"
