"""The Pulumi program under mocks: every resource, name, partition count, config and output."""

from __future__ import annotations

import json

import pytest

from k2infra.contracts.outputs import REGIONLESS_VERSION, StackOutputs
from k2infra.model import load_topology
from tests.conftest import FIXTURES, ROOT, make_project
from tests.program.conftest import DYNAMIC, LOCAL, PROD, run_program

TOPIC = "kafka:index/topic:Topic"


def expected_topics(project, environment="dev"):
    return {t.name: t for t in load_topology(project / "topics.yaml", environment).topics}


def test_shipped_topology_declares_every_topic_and_subject(project):
    run = run_program(project, LOCAL)
    topics = {r.name: r.inputs for r in run.of_type(TOPIC)}
    expected = expected_topics(project)
    assert set(topics) == set(expected) and len(topics) == 6
    for name, spec in expected.items():
        assert topics[name]["name"] == name
        assert topics[name]["partitions"] == spec.partitions
        assert topics[name]["replicationFactor"] == 1
        assert topics[name]["config"] == dict(spec.config)
    subjects = {r.inputs["subject"]: r.inputs for r in run.of_type(DYNAMIC)}
    assert sorted(subjects) == [f"market.{ac}.{dt}-value" for ac in ("crypto", "equities")
                                for dt in ("quotes", "reference_data", "trades")]
    trade = subjects["market.equities.trades-value"]
    assert trade["compatibility"] == "BACKWARD"
    assert trade["registry_url"] == LOCAL["k2:schemaRegistryUrl"]
    assert json.loads(trade["schema"]) == json.loads((ROOT / "schemas" / "trade.avsc").read_text())
    # Local mode declares no containers.
    assert not [r for r in run.resources if r.typ.startswith("docker:")]


def test_topics_use_an_explicit_plaintext_kafka_provider(project):
    run = run_program(project, LOCAL)
    (provider,) = run.of_type("pulumi:providers:kafka")
    # Provider inputs reach the engine JSON-encoded, as strings.
    assert json.loads(provider.inputs["bootstrapServers"]) == ["127.0.0.1:9092"]
    assert provider.inputs["tlsEnabled"] == "false"
    assert all(r.provider and "pulumi:providers:kafka::kafka" in r.provider for r in run.of_type(TOPIC))


def test_outputs_are_plain_json_for_apps(project):
    run = run_program(project, LOCAL)
    out = run.outputs
    assert out["environment"] == "dev" and out["stack"] == "dev"
    assert out["bootstrap_servers"] == "127.0.0.1:9092"
    assert out["schema_registry_url"] == LOCAL["k2:schemaRegistryUrl"]
    assert out["security_protocol"] == "PLAINTEXT"
    json.dumps(out)  # nothing but JSON values
    by_name = {t["name"]: t for t in out["topics"]}
    assert by_name["market.equities.trades.asx"] == {
        "name": "market.equities.trades.asx", "asset_class": "equities", "data_type": "trades",
        "exchange": "asx", "partitions": 30, "replication_factor": 1}
    subjects = {s["subject"]: s for s in out["subjects"]}
    assert subjects["market.crypto.quotes-value"]["topics"] == ["market.crypto.quotes.binance"]
    assert all(isinstance(s["schema_id"], int) and s["version"] == 1 for s in out["subjects"])
    assert {e["code"] for e in out["exchanges"]} == {"asx", "binance"}
    # Exactly the contract apps read: every output it defines, nothing else, in its shape.
    assert out["outputs_version"] == REGIONLESS_VERSION and "region" not in out  # no regions: 1.1's outputs
    assert StackOutputs.parse(out, "program").to_json_data() == out


def test_nyse_and_commodities(tmp_path):
    project = make_project(tmp_path, FIXTURES / "topologies" / "nyse_and_commodities.yaml")
    run = run_program(project, LOCAL)
    topics = {r.name: r.inputs for r in run.of_type(TOPIC)}
    assert len(topics) == 15
    assert topics["market.equities.trades.nyse"]["partitions"] == 100
    assert topics["market.equities.trades.nyse"]["config"]["retention.ms"] == "3600000"
    assert topics["market.equities.reference_data.nyse"]["partitions"] == 1
    assert topics["market.commodities.quotes.cme"]["partitions"] == 40
    assert topics["market.equities.quotes.smallx"]["config"]["compression.type"] == "snappy"
    assert len(run.of_type(DYNAMIC)) == 9


def test_prod_stack_uses_replication_three_and_protects_resources(project):
    config = {**PROD, "k2:cluster": "existing", "k2:tls": "true",
              "k2:saslMechanism": "scram-sha512", "k2:saslUsername": "k2", "k2:saslPassword": "s3cret",
              "k2:schemaRegistryUsername": "k2", "k2:schemaRegistryPassword": "r3g"}
    run = run_program(project, config, stack="prod", secret_keys=("k2:saslPassword", "k2:schemaRegistryPassword"))
    topics = run.of_type(TOPIC)
    assert {t.inputs["replicationFactor"] for t in topics} == {3}
    assert {t.inputs["config"]["min.insync.replicas"] for t in topics} == {"2"}
    assert run.outputs["security_protocol"] == "SASL_SSL"
    (provider,) = run.of_type("pulumi:providers:kafka")
    assert provider.inputs["tlsEnabled"] == "true"
    assert provider.inputs["saslUsername"] == "k2"
    # Secrets never reach the outputs apps read.
    assert "s3cret" not in json.dumps(run.outputs) and "r3g" not in json.dumps(run.outputs)


def test_docker_mode_declares_kafka_and_registry_containers(project):
    config = {"k2:environment": "dev", "k2:cluster": "docker", "k2:dockerKafkaPort": "29092"}
    run = run_program(project, config)
    (network,) = run.of_type("docker:index/network:Network")
    assert network.inputs["name"] == "k2-dev-net"
    images = {r.inputs["name"]: r.inputs for r in run.of_type("docker:index/remoteImage:RemoteImage")}
    assert set(images) == {"localhost/k2/kafka:4.1.1", "localhost/k2/apicurio:3.3.3"}  # K2's own, built locally
    assert all(i["keepLocally"] is True for i in images.values())
    volumes = {r.inputs["name"] for r in run.of_type("docker:index/volume:Volume")}
    assert volumes == {"k2-dev-kafka-data", "k2-dev-registry-data"}
    containers = {r.name: r.inputs for r in run.of_type("docker:index/container:Container")}
    kafka, registry = containers["k2-dev-kafka"], containers["k2-dev-registry"]
    assert "KAFKA_PROCESS_ROLES=broker,controller" in kafka["envs"]
    assert "KAFKA_ADVERTISED_LISTENERS=INTERNAL://kafka:19092,HOST://127.0.0.1:29092" in kafka["envs"]
    assert kafka["ports"] == [{"internal": 29092, "external": 29092, "ip": "127.0.0.1"}]
    assert kafka["volumes"] == [{"volumeName": "k2-dev-kafka-data", "containerPath": "/var/lib/kafka/data"}]
    assert registry["volumes"] == [{"volumeName": "k2-dev-registry-data", "containerPath": "/var/lib/apicurio/data"}]
    assert "APICURIO_DATASOURCE_URL=jdbc:h2:file:/var/lib/apicurio/data/registry;WRITE_DELAY=0" in registry["envs"]
    for container in (kafka, registry):  # the update goes on to topics and subjects only once both answer
        assert container["wait"] is True and container["healthcheck"]["tests"][0] == "CMD"
    assert kafka["healthcheck"]["tests"] == ["CMD", "/opt/kafka/bin/healthcheck", "19092"]
    assert registry["ports"][0]["internal"] == 8080 and registry["ports"][0]["external"] == 8081
    assert kafka["networksAdvanced"][0]["name"] == network.inputs["name"]
    assert run.outputs["bootstrap_servers"] == "127.0.0.1:29092"
    assert run.outputs["schema_registry_url"] == "http://127.0.0.1:8081/apis/ccompat/v7"
    # The provider waits for the containers.
    assert len(run.of_type(TOPIC)) == 6


def test_docker_mode_names_the_engine_objects_after_the_stack(project):
    run = run_program(project, {"k2:environment": "dev", "k2:cluster": "docker"}, stack="dev-docker")
    names = {r.inputs["name"] for r in run.resources if r.typ.startswith("docker:index/") and "Image" not in r.typ}
    assert names == {"k2-dev-docker-net", "k2-dev-docker-kafka-data", "k2-dev-docker-registry-data",
                     "k2-dev-docker-kafka", "k2-dev-docker-registry"}


def test_a_bad_topology_stops_the_program_with_the_problems(tmp_path):
    text = (ROOT / "topics.yaml").read_text().replace("partitions: 30", "partitions: 0")
    project = make_project(tmp_path, text)
    with pytest.raises(Exception, match=r"topics.yaml:\d+: asset_classes.equities.exchanges.asx.partitions"):
        run_program(project, LOCAL)


def test_prod_declares_each_apps_acls_and_dev_none(project):
    acl = "kafka:index/acl:Acl"
    assert run_program(project, LOCAL).of_type(acl) == []  # dev brokers have no authorizer
    config = {**PROD, "k2:tls": "true"}
    run = run_program(project, config, stack="prod")
    acls = run.of_type(acl)
    expected = [b for a in load_topology(project / "topics.yaml", "prod").apps for b in a.bindings]
    assert sorted(r.name for r in acls) == sorted(b.key for b in expected)
    compliance = {(r.inputs["aclResourceType"], r.inputs["resourcePatternTypeFilter"], r.inputs["aclResourceName"],
                   r.inputs["aclOperation"]) for r in acls if r.inputs["aclPrincipal"] == "User:compliance-monitor"}
    assert compliance == {("Topic", "Prefixed", "market.crypto.trades.", "Read"),
                          ("Topic", "Prefixed", "market.crypto.trades.", "Describe"),
                          ("Topic", "Prefixed", "market.equities.trades.", "Read"),
                          ("Topic", "Prefixed", "market.equities.trades.", "Describe"),
                          ("Group", "Literal", "compliance-monitor", "Read")}
    assert all(r.provider and "pulumi:providers:kafka::kafka" in r.provider for r in acls)
