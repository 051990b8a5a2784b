"""The guard stops on every failure to use the cluster or the registry, saying which failure it was and that
nothing was changed; only docker mode before its containers exist (nothing can exist yet) goes on."""

from __future__ import annotations

from typing import Any

import pytest

from k2infra.model.plan import ObservedTopic
from k2infra.observed.failures import AuthenticationFailed, NotAuthorized, NotFound, TlsFailed, Unreachable
from k2infra.observed.stack_record import StackRecord
from k2infra.program import guard
from tests.program.conftest import LOCAL, PROD, run_program
from tests.program.test_guard import deployed

TOPIC = "kafka:index/topic:Topic"
DOCKER = {"k2:environment": "dev", "k2:cluster": "docker"}
KAFKA_FAILURES = [
    AuthenticationFailed("Kafka at 127.0.0.1:9092 refused the SASL credentials (SASL authentication error: "
                         "Authentication failed: Invalid username or password): check k2:saslMechanism, "
                         "k2:saslUsername and the secret k2:saslPassword"),
    NotAuthorized("Kafka at 127.0.0.1:9092 denied access (Broker: Topic authorization failed)"),
    TlsFailed("TLS with Kafka at 127.0.0.1:9092 failed (SSL handshake failed): check k2:caCert"),
    NotFound("Kafka at 127.0.0.1:9092 has no topic market.equities.trades.asx"),
    Unreachable("cannot reach Kafka at 127.0.0.1:9092 (Connection refused): start the cluster"),
]


def failing(error: Exception):
    def call(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    return call


@pytest.mark.parametrize("error", KAFKA_FAILURES, ids=lambda e: type(e).__name__)
def test_each_kafka_failure_stops_the_update_with_its_own_message(project, monkeypatch, error):
    monkeypatch.setattr(guard, "observe_cluster", failing(error))
    with pytest.raises(Exception) as raised:
        run_program(project, LOCAL)
    assert f"{error}.\nNothing was changed; rerun once that is fixed" in str(raised.value)


def test_docker_mode_does_not_look_for_a_kafka_it_has_not_created_yet(project, monkeypatch):
    monkeypatch.setattr(guard, "observe_cluster", failing(AssertionError("observed a cluster that cannot exist")))
    run = run_program(project, DOCKER)
    assert len(run.of_type(TOPIC)) == 6


@pytest.mark.parametrize("error", KAFKA_FAILURES, ids=lambda e: type(e).__name__)
def test_docker_mode_stops_on_any_failure_once_its_containers_exist(project, cluster, monkeypatch, error):
    cluster.state = StackRecord(containers=("urn:pulumi:dev::k2::docker:index/container:Container::k2-dev-kafka",))
    monkeypatch.setattr(guard, "observe_cluster", failing(error))
    with pytest.raises(Exception, match="Nothing was changed"):
        run_program(project, DOCKER)


@pytest.mark.parametrize("error", [
    AuthenticationFailed("the schema registry at http://127.0.0.1:8081/apis/ccompat/v7 refused the credentials "
                         "(HTTP 401): check k2:schemaRegistryUsername and the secret k2:schemaRegistryPassword"),
    TlsFailed("TLS with the schema registry at https://127.0.0.1:8081/apis/ccompat/v7 failed"),
    NotFound("no schema registry API at http://127.0.0.1:8081 (HTTP 404): check k2:schemaRegistryUrl"),
], ids=lambda e: type(e).__name__)
def test_a_registry_that_refuses_stops_the_update(project, cluster, monkeypatch, error):
    deployed(cluster, project)
    monkeypatch.setattr(guard, "registered_versions", failing(error))
    with pytest.raises(Exception) as raised:
        run_program(project, LOCAL)
    assert f"{error}.\nNothing was changed; rerun once that is fixed" in str(raised.value)


def test_docker_mode_stops_before_anything_when_the_engine_is_not_ready(project, monkeypatch):
    monkeypatch.setattr(guard, "engine_problems", lambda *args: ["image localhost/k2/kafka:4.1.1 is not in the engine"])
    with pytest.raises(Exception, match=r"(?s)Docker mode cannot go on, nothing was changed:\n  - image localhost"):
        run_program(project, DOCKER)


def test_docker_mode_refuses_a_stack_that_manages_another_clusters_topics(project, cluster):
    cluster.state = StackRecord(topics={"market.crypto.trades.binance": ObservedTopic("market.crypto.trades.binance",
                                                                                       40, 1, {})})
    with pytest.raises(Exception, match=r"stack dev manages topics and subjects on another cluster but has no"):
        run_program(project, DOCKER)


def test_a_password_in_plain_text_in_the_stack_file_stops_the_update_at_its_line(project, cluster):
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  k2:environment: dev\n  k2:saslPassword: hunter2\n")
    with pytest.raises(Exception) as raised:
        run_program(project, LOCAL)
    message = str(raised.value)
    assert "Refused, nothing was changed" in message
    assert "Pulumi.dev.yaml:3: k2:saslPassword: a credential written in plain text" in message
    assert cluster.seen_configs == []  # refused before the cluster was asked anything


def test_a_protected_environment_with_a_plain_registry_stops_the_update_at_its_line(project, cluster):
    url = "http://registry.prod:8081/apis/ccompat/v7"
    (project / "Pulumi.prod.yaml").write_text(f"config:\n  k2:environment: prod\n  k2:schemaRegistryUrl: {url}\n")
    with pytest.raises(Exception) as raised:
        run_program(project, {**PROD, "k2:schemaRegistryUrl": url}, stack="prod")
    assert f"Pulumi.prod.yaml:3: k2:schemaRegistryUrl: '{url}' is not https, and environment prod is protected" \
        in str(raised.value)
    run_program(project, PROD, stack="prod")  # https: goes on
