# shellcheck shell=bash
# Paths and versions shared by the project's scripts. Source it: `. scripts/env.sh`.
# Everything downloaded or built lives under K2_CACHE (outside the repo), keyed by version, so a
# fresh clone on the same machine reuses it; runtime data (state, local cluster) lives under K2_HOME.

K2_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export K2_ROOT
export K2_CACHE=${K2_CACHE:-$HOME/.cache/k2}
export K2_HOME=${K2_HOME:-$HOME/.k2}

export K2_PULUMI_VERSION=3.274.1          # engine, built from the Go module proxy
export K2_KAFKA_PROVIDER_VERSION=3.13.3   # the version PyPI pulumi-kafka asks for
export K2_DOCKER_PROVIDER_VERSION=4.11.2  # the version PyPI pulumi-docker asks for (bridged from kreuzwerker's TF provider)
export K2_KAFKA_VERSION=4.1.1             # Apache Kafka broker (KRaft), jars from Maven Central
export K2_APICURIO_VERSION=3.3.3          # schema registry with the Confluent API, from Maven Central
export K2_KEYCLOAK_VERSION=26.4.7         # the secure registry's identity provider (OIDC), from Maven Central
export K2_UV_VERSION=0.13.8               # creates the Python environment from uv.lock (uv itself from PyPI)

_k2_hash() { cat "$@" | sha256sum | cut -c1-12; }

# Keys change when the inputs of a build change, so a stale build is never reused.
K2_VENV=$K2_CACHE/venv/py$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')-$(_k2_hash "$K2_ROOT/uv.lock" "$K2_ROOT/pyproject.toml")
K2_PULUMI_BIN=$K2_CACHE/pulumi/v$K2_PULUMI_VERSION-$(_k2_hash "$K2_ROOT"/toolchain/pulumi-cli/go.* "$K2_ROOT"/toolchain/pulumi-cli/cmd/*/*.go)
K2_KAFKA_PROVIDER_BIN=$K2_CACHE/pulumi-resource-kafka/v$K2_KAFKA_PROVIDER_VERSION-$(_k2_hash "$K2_ROOT"/toolchain/pulumi-resource-kafka/go.* "$K2_ROOT"/toolchain/pulumi-resource-kafka/*.go "$K2_ROOT"/toolchain/pulumi-resource-kafka/cmd/*/*.go "$K2_ROOT"/toolchain/pulumi-resource-kafka/cmd/*/schema.json "$K2_ROOT"/toolchain/pulumi-resource-kafka/patches/*)
K2_DOCKER_PROVIDER_BIN=$K2_CACHE/pulumi-resource-docker/v$K2_DOCKER_PROVIDER_VERSION-$(_k2_hash "$K2_ROOT"/toolchain/pulumi-resource-docker/go.* "$K2_ROOT"/toolchain/pulumi-resource-docker/*.go "$K2_ROOT"/toolchain/pulumi-resource-docker/bridge-metadata.json "$K2_ROOT"/toolchain/pulumi-resource-docker/cmd/*/*.go "$K2_ROOT"/toolchain/pulumi-resource-docker/cmd/*/schema.json)
export K2_KAFKA_LIB=$K2_CACHE/kafka/$K2_KAFKA_VERSION-$(_k2_hash "$K2_ROOT/toolchain/kafka/pom.xml")/lib
# MirrorMaker 2 (issue 23): its own pom and key, so the broker jars and the images keyed by the kafka pom stay put.
export K2_MIRROR_LIB=$K2_CACHE/mirrormaker/$K2_KAFKA_VERSION-$(_k2_hash "$K2_ROOT/toolchain/mirrormaker/pom.xml")/lib
export K2_REGISTRY_DIR=$K2_CACHE/apicurio/$K2_APICURIO_VERSION
export K2_KEYCLOAK_DIR=$K2_CACHE/keycloak/$K2_KEYCLOAK_VERSION  # built for `start --optimized` (H2 in a file)
export K2_UV=$K2_CACHE/uv/$K2_UV_VERSION/bin/uv
export K2_VENV K2_PULUMI_BIN K2_KAFKA_PROVIDER_BIN K2_DOCKER_PROVIDER_BIN

# Pulumi, offline: no update checks, no plugin downloads, state in a local file backend unless the
# user chose another (e.g. PULUMI_BACKEND_URL=s3://bucket for shared state).
export PULUMI_HOME=${PULUMI_HOME:-$K2_CACHE/pulumi-home}
export PULUMI_SKIP_UPDATE_CHECK=1
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$K2_HOME/pulumi-state}
# The dev stacks' passphrase: public, so it protects nothing, and for dev and dev-docker only. Scripts give it to
# the one pulumi command that needs it (scripts/dev-up, scripts/dev-pulumi); it is never exported, because a shell
# that has PULUMI_CONFIG_PASSPHRASE would also encrypt a new prod stack with it (`pulumi stack init prod`).
K2_DEV_PASSPHRASE=k2-dev-only
K2_DEV_STACKS="dev dev-docker"
# A self-managed backend rewrites the whole state after every step unless told not to: quadratic, 19 min for
# 3,000 topics (issue 12). Only the final state is written; an update killed midway converges on rerun
# because the guard adopts (imports) what the cluster already has (tests/e2e/test_scale.py, docs/scale.md).
export PULUMI_SKIP_CHECKPOINTS=${PULUMI_SKIP_CHECKPOINTS:-true}

# Go's usual install place, for shells that do not have it on PATH (a bare CI environment).
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH=$PATH:/usr/local/go/bin; fi
export PATH=$K2_ROOT/bin:$K2_PULUMI_BIN:$K2_VENV/bin:$PATH
export PYTHONPATH=$K2_ROOT${PYTHONPATH:+:$PYTHONPATH}
# Bytecode goes under K2_CACHE, never beside the sources: the checkout stays clean, and every Python process (the
# Pulumi program, the policy pack, each k2 command) loads compiled modules instead of compiling the SDK and k2infra
# again. uv installs no bytecode, so a PYTHONDONTWRITEBYTECODE from the shell (this machine kind sets it) would make
# every process compile everything: it doubled the test run's CPU time.
export PYTHONPYCACHEPREFIX=${PYTHONPYCACHEPREFIX:-$K2_CACHE/pycache}
unset PYTHONDONTWRITEBYTECODE
