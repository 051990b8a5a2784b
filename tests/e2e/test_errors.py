"""Each way of failing to use the cluster or the registry is named for what it is, on the real broker, registry,
engine and `k2` CLI: a refused password is not "cannot reach", a wrong registry path is not "incompatible"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from k2infra.local import PlatformState
from k2infra.local.kafka import KafkaCluster
from k2infra.local.processes import free_ports
from tests.e2e.conftest import PulumiStack, subjects_in_registry, topics_on_cluster

PASSWORD = "kafka-pw-e2e-errors"


def failed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


def k2_plan(stack: PulumiStack, **env: str) -> subprocess.CompletedProcess[str]:
    """`k2 plan --stack <stack>` as a platform engineer runs it beside the project's config files."""
    return subprocess.run([sys.executable, "-m", "k2infra.cli", "plan", "--config", str(stack.project / "topics.yaml"),
                           "--stack", stack.name], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def registry_state(registry) -> dict[str, list[int]]:
    return {s: registry.get_versions(s) for s in subjects_in_registry(registry)}


def test_a_wrong_sasl_password_is_refused_credentials_not_an_unreachable_cluster(new_stack, tmp_path: Path):
    broker, controller, sasl = free_ports(3)
    kafka = KafkaCluster.with_ports(tmp_path / "sasl-kafka", [broker], [controller], [sasl],
                                    sasl_users={"k2": PASSWORD})
    kafka.start()
    try:
        stack = new_stack("wrong-password")
        for key, value in {"k2:bootstrapServers": kafka.sasl_bootstrap_servers, "k2:saslMechanism": "plain",
                           "k2:saslUsername": "k2"}.items():
            stack.run("config", "set", key, value)
        stack.run("config", "set", "--secret", "k2:saslPassword", "not-the-password")
        refused = (f"Kafka at {kafka.sasl_bootstrap_servers} refused the SASL credentials (SASL authentication "
                   "error: Authentication failed: Invalid username or password): check k2:saslMechanism, "
                   "k2:saslUsername and the secret k2:saslPassword")

        # k2 plan: the same broker, the password from the environment.
        plan = k2_plan(stack, K2_KAFKA_USERNAME="k2", K2_KAFKA_PASSWORD="not-the-password")
        assert plan.returncode == 1, plan.stdout + plan.stderr
        assert refused in plan.stderr and "K2_KAFKA_PASSWORD" in plan.stderr
        assert "cannot reach" not in plan.stderr
        right = k2_plan(stack, K2_KAFKA_USERNAME="k2", K2_KAFKA_PASSWORD=PASSWORD)
        assert right.returncode == 0 and right.stdout.count("+ create") == 6, right.stdout + right.stderr

        # pulumi preview and up: stopped before anything is declared.
        preview = failed(stack.run("preview", check=False))
        assert refused in preview and "Nothing was changed" in preview
        assert "cannot reach" not in preview
        failed(stack.up(check=False))
        admin_conf = {"bootstrap.servers": kafka.sasl_bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
                      "sasl.mechanism": "PLAIN", "sasl.username": "k2", "sasl.password": PASSWORD}
        from confluent_kafka.admin import AdminClient

        assert topics_on_cluster(AdminClient(admin_conf)) == {}
    finally:
        kafka.stop()


def test_tls_against_a_plaintext_listener_is_a_tls_failure(new_stack, platform: PlatformState, admin):
    stack = new_stack("tls-mismatch")
    stack.run("config", "set", "k2:tls", "true")
    before = topics_on_cluster(admin)
    tls_failed = f"TLS with Kafka at {platform.bootstrap_servers} failed (SSL handshake failed: "

    plan = k2_plan(stack)
    assert plan.returncode == 1 and tls_failed in plan.stderr and "k2:caCert" in plan.stderr, plan.stderr

    output = failed(stack.up(check=False))
    assert tls_failed in output and "k2:caCert" in output and "Nothing was changed" in output
    assert "cannot reach" not in output
    assert topics_on_cluster(admin) == before


def test_a_registry_path_that_is_not_the_api_is_not_found_naming_the_url(new_stack, platform: PlatformState,
                                                                          admin, registry):
    stack = new_stack("registry-404")
    base = platform.schema_registry_url.removesuffix("/apis/ccompat/v7")
    stack.run("config", "set", "k2:schemaRegistryUrl", base)
    topics, subjects = topics_on_cluster(admin), registry_state(registry)

    preview = failed(stack.run("preview", check=False))
    assert f"no schema registry API at {base} (HTTP 404): check k2:schemaRegistryUrl" in preview
    assert "/apis/ccompat/v7" in preview and "Nothing was changed" in preview
    assert "incompatible" not in preview.lower() and "cannot reach" not in preview

    failed(stack.up(check=False))
    assert topics_on_cluster(admin) == topics and registry_state(registry) == subjects


def test_a_registry_on_a_closed_port_cannot_be_reached(new_stack, platform: PlatformState, registry):
    stack = new_stack("registry-down")
    stack.up()
    subjects = registry_state(registry)
    (closed,) = free_ports(1)
    url = f"http://127.0.0.1:{closed}/apis/ccompat/v7"
    stack.run("config", "set", "k2:schemaRegistryUrl", url)
    cannot_reach = f"cannot reach the schema registry at {url} ("

    # Fail closed: the preview and the update stop before any change, saying the registry cannot be reached
    # (not that a schema is incompatible).
    for command in (("preview",), ("up", "--yes", "--skip-preview")):
        output = failed(stack.run(*command, check=False))
        assert cannot_reach in output and "k2:schemaRegistryUrl" in output and "Nothing was changed" in output
        assert "IncompatibleSchemaError" not in output and "not BACKWARD compatible" not in output
    assert registry_state(registry) == subjects

    stack.run("config", "set", "k2:schemaRegistryUrl", platform.schema_registry_url)
    stack.up()  # a rerun once the registry is back converges
    stack.run("preview", "--expect-no-changes")
    assert registry_state(registry) == subjects
