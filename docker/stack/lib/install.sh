# docker/stack/lib/install.sh: `stack.sh install`. Installs the Debian
# packages that the stack, the build and the tests need (only the missing
# ones), builds the pinned librdkafka (lib/librdkafka.sh) and fetches the
# pinned Kafka jars and Debezium plugins with Maven into the cache folder,
# once: a warm `install` only reads stamp files.
# Sourced by stack.sh, whose helpers and paths it uses; defines functions only.
# shellcheck shell=bash

# Debian packages the stack, the build and the tests need. prometheus brings
# prometheus and promtool for tests/integration/prometheus.sh (the scrape
# config, alert rules and dashboard queries of docker/monitoring/); its
# packaged service is never started (the test runs its own on loopback).
# Not librdkafka-dev: cdcsink links the pinned librdkafka that
# lib/librdkafka.sh builds, and with it (statically) the libraries that
# build is configured with.
PACKAGES=("postgresql-$CDC_PG_MAJOR" redis-server kcat libyajl-dev
    libpq-dev libhiredis-dev maven curl pkg-config clang libclang-rt-14-dev
    prometheus libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev)

have_java17() {
    command -v "$CDC_JAVA" >/dev/null 2>&1 &&
        "$CDC_JAVA" -version 2>&1 | head -n 1 | grep -q 'version "17[."]'
}

# shellcheck source=apt.sh
. "$STACK_SCRIPT_DIR/lib/apt.sh"

install_packages() {
    local jdk=()
    # The JDK package only if no Java 17 is there already (in any form).
    have_java17 || jdk=(openjdk-17-jdk-headless)
    apt_install "for the stack, the build and the tests" "${PACKAGES[@]}" "${jdk[@]}" ||
        die "installing Debian packages failed (see above)"
}

# mvn_dep GOAL ARGS...: one goal of the dependency plugin with the versions
# from env.sh. Its output is shown only if it fails: even with -q, Debian's
# Maven writes stray colour codes to stdout.
mvn_dep() {
    local goal=$1 out rc=0
    shift
    local args=(-B -q -ntp -f "$STACK_SCRIPT_DIR/pom.xml"
        "-Dkafka.version=$CDC_KAFKA_VERSION"
        "-Dscala.binary.version=$CDC_SCALA_BINARY_VERSION"
        "-Dlog4j.version=$CDC_LOG4J_VERSION")
    if [[ -n $CDC_MAVEN_REPO ]]; then args+=("-Dmaven.repo.local=$CDC_MAVEN_REPO"); fi
    out=$(mvn "${args[@]}" "$CDC_MAVEN_DEPENDENCY_PLUGIN:$goal" "$@" 2>&1) || rc=$?
    if ((rc != 0)); then
        printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g' >&2
    fi
    return "$rc"
}

# A folder of the cache is complete when its stamp holds the fingerprint of
# what was fetched into it; the stamp is written last.
stamp_ok() { [[ -f $1/.complete && $(<"$1/.complete") == "$2" ]]; }

# fetch_into DEST FINGERPRINT GOAL ARGS...: run a Maven goal into a fresh
# temporary folder (passed as @TMP@ in ARGS), then move it into place.
fetch_into() {
    local dest=$1 fp=$2 goal=$3 tmp a
    shift 3
    stamp_ok "$dest" "$fp" && return 0
    command -v mvn >/dev/null || die "mvn not found; is the maven package installed?"
    mkdir -p -- "$CDC_CACHE_DIR"
    tmp=$(mktemp -d "$CDC_CACHE_DIR/.fetch.XXXXXX")
    local args=("-Dstack.build.dir=$tmp/build")
    for a in "$@"; do args+=("${a//@TMP@/$tmp}"); done
    note "stack.sh: fetching into $dest"
    if ! mvn_dep "$goal" "${args[@]}"; then
        rm -rf -- "$tmp"
        die "Maven could not fetch $(basename "$dest") (see its output above)"
    fi
    rm -rf -- "$tmp/build" "$dest"
    printf '%s\n' "$fp" >"$tmp/.complete"
    chmod 755 -- "$tmp"
    mv -- "$tmp" "$dest"
}

install_jars() {
    fetch_into "$KAFKA_HOME" \
        "kafka=$CDC_KAFKA_VERSION scala=$CDC_SCALA_BINARY_VERSION log4j=$CDC_LOG4J_VERSION" \
        copy-dependencies -DincludeScope=runtime -DoutputDirectory=@TMP@/lib
    fetch_into "$DBZ_PLUGINS" "debezium-connector-postgres=$CDC_DEBEZIUM_VERSION" \
        unpack "-Dartifact=io.debezium:debezium-connector-postgres:$CDC_DEBEZIUM_VERSION:tar.gz:plugin" \
        -DoutputDirectory=@TMP@
}

install_jdbc_plugin() {
    fetch_into "$JDBC_PLUGINS" "debezium-connector-jdbc=$CDC_DEBEZIUM_JDBC_VERSION" \
        unpack "-Dartifact=io.debezium:debezium-connector-jdbc:$CDC_DEBEZIUM_JDBC_VERSION:tar.gz:plugin" \
        -DoutputDirectory=@TMP@
}

jdbc_installed() { stamp_ok "$JDBC_PLUGINS" "debezium-connector-jdbc=$CDC_DEBEZIUM_JDBC_VERSION"; }

cmd_install() {
    local jdbc=0 arg
    for arg in "$@"; do
        case $arg in
            --jdbc-sink) jdbc=1 ;;
            *) die "install: unknown option $arg" ;;
        esac
    done
    install_packages
    # the pinned librdkafka (docs/librdkafka.md), built once into the cache
    CDC_CACHE_DIR=$CDC_CACHE_DIR "$STACK_SCRIPT_DIR/lib/librdkafka.sh" install
    install_jars
    if ((jdbc)); then install_jdbc_plugin; fi
}

