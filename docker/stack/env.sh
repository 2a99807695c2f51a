# docker/stack/env.sh: pinned versions and overridable defaults of the local
# stack. Sourced by stack.sh (which sets CDC_REPO_DIR first); not executable
# on its own.
#
# The versions below are the one place where the stack's Java parts are
# pinned. They are plain assignments on purpose: bump them here, and the
# next `stack.sh install` notices the changed fingerprint and fetches again.
# Everything after them can be overridden from the environment, so that two
# stacks (say a demo stack and a test stack) can run side by side.
# shellcheck shell=bash
# The variables are used by stack.sh, which sources this file.
# shellcheck disable=SC2034

# ---- pinned versions (see shared/reference/local-stack.md) ----
CDC_KAFKA_VERSION=4.3.1
CDC_SCALA_BINARY_VERSION=2.13
CDC_LOG4J_VERSION=2.25.4
CDC_DEBEZIUM_VERSION=3.6.1.Final
# The JDBC sink is only the benchmark's baseline; 3.6.1.Final of it is not
# published, 3.6.0.Final is.
CDC_DEBEZIUM_JDBC_VERSION=3.6.0.Final
# Named in full so that Debian's Maven does not fall back to an old default.
CDC_MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
CDC_PG_MAJOR=15

# ---- folders ----
# Run folder: data, generated configs, logs/ and pids/ of one stack.
: "${CDC_STACK_DIR:=$CDC_REPO_DIR/.stack}"
# Download cache: jars and connector plugins, shared by all stacks.
: "${CDC_CACHE_DIR:=$CDC_REPO_DIR/.cache}"
# Maven's local repository; empty means Maven's own default (~/.m2).
: "${CDC_MAVEN_REPO:=}"
# Where the PostgreSQL cluster goes when the postgres OS user cannot reach
# the run folder (e.g. a run folder under /root); see pg_prepare_base.
: "${CDC_PG_FALLBACK_DIR:=/var/tmp}"

# ---- loopback ports ----
# Below 32768, out of Linux's ephemeral range (32768-60999 by default):
# a listener on a port in that range can find it taken by the local end of
# an outgoing connection (the broker's own, a readiness probe's), and the
# stack then fails at random ("Address already in use").
: "${CDC_PG_PORT:=24432}"
: "${CDC_REDIS_PORT:=24379}"
: "${CDC_KAFKA_PORT:=24092}"
: "${CDC_KAFKA_CONTROLLER_PORT:=24093}"
# the broker's SASL/PLAIN listener (see kafka-server.properties.in)
: "${CDC_KAFKA_SASL_PORT:=$((CDC_KAFKA_PORT + 2))}"
: "${CDC_KAFKA_SASL_USER:=cdcsink}"
: "${CDC_KAFKA_SASL_PASSWORD:=cdcsink-secret}"
: "${CDC_CONNECT_PORT:=24083}"

# ---- timeouts and JVM options ----
# Seconds to wait for each service (and each connector) to become ready.
: "${CDC_STACK_TIMEOUT:=60}"
: "${CDC_KAFKA_HEAP:=-Xmx512m}"
: "${CDC_CONNECT_HEAP:=-Xmx512m}"
# Extra JVM flags for both JVMs (e.g. -XX:+UseSerialGC); empty by default.
: "${CDC_JAVA_OPTS:=}"
: "${CDC_JAVA:=java}"

# ---- the default source connector that `up` registers ----
# Set CDC_SOURCE_CONNECTOR to the empty string for a stack without one.
: "${CDC_SOURCE_CONNECTOR=cdc-source}"
: "${CDC_SOURCE_PREFIX:=cdc}"
: "${CDC_SOURCE_DB:=source}"
