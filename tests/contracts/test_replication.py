"""MirrorMaker 2's settings per flow (k2infra.contracts.replication): each connector's complete config on a
Connect cluster, the names, MirrorMaker's own topics, and logins only as config-provider references. The real
connectors run in tests/e2e/test_connect_mirror.py, the same settings in dedicated mode in test_mirror_maker.py."""

from __future__ import annotations

import re

import pytest

from k2infra.contracts.replication import (
    BYTE_ARRAY_CONVERTER,
    IDENTITY_POLICY,
    ClusterLogin,
    Kind,
    MirrorFlow,
    MirrorOptions,
    RegionCluster,
    Throughput,
    connector_configs,
    connector_name,
    is_k2_connector,
    mirror_topics,
)

REFERENCE = "${file:/etc/kafka-connect/k2.properties:us-east.sasl.jaas.config}"
FLOW = MirrorFlow(RegionCluster("us-east", "use-1:9092"), RegionCluster("apac", "apac-1:9092"),
                  ("market.crypto.trades.binance", "market.equities.trades.nyse"), groups=("risk-engine",))
NAMES = {kind: f"k2.us-east.apac.{kind}" for kind in Kind}


def configs(flow: MirrorFlow = FLOW, **options) -> dict[Kind, dict[str, str]]:
    made = connector_configs(flow, MirrorOptions(**options))
    return {kind: made[NAMES[kind]] for kind in Kind}


def test_three_connectors_named_by_their_flow():
    assert set(connector_configs(FLOW)) == set(NAMES.values())
    assert all(is_k2_connector(name) for name in NAMES.values())
    assert connector_name(FLOW, Kind.SOURCE) == "k2.us-east.apac.source"
    made = configs()
    assert {kind: made[kind]["connector.class"].rsplit(".", 1)[-1] for kind in Kind} == {
        Kind.SOURCE: "MirrorSourceConnector", Kind.CHECKPOINT: "MirrorCheckpointConnector",
        Kind.HEARTBEAT: "MirrorHeartbeatConnector"}
    assert all(made[kind]["name"] == NAMES[kind] for kind in Kind)


def test_every_connector_names_both_regions_and_copies_bytes_with_identity_names():
    for config in configs().values():
        assert config["source.cluster.alias"] == "us-east" and config["target.cluster.alias"] == "apac"
        assert config["source.cluster.bootstrap.servers"] == "use-1:9092"
        assert config["target.cluster.bootstrap.servers"] == "apac-1:9092"
        assert config["replication.policy.class"] == IDENTITY_POLICY
        assert {config[f"{p}.converter"] for p in ("key", "value", "header")} == {BYTE_ARRAY_CONVERTER}


def test_the_source_copies_the_exact_topics_only_and_syncs_no_configs_or_acls():
    source = configs()[Kind.SOURCE]
    patterns = [p.strip() for p in source["topics"].split(",")]
    assert patterns == [r"market\.crypto\.trades\.binance", r"market\.equities\.trades\.nyse"]
    assert not any(re.fullmatch(p, "marketXcrypto.trades.binance") for p in patterns)
    assert not any(re.fullmatch(p, "market.crypto.trades.binance2") for p in patterns)
    assert source["sync.topic.configs.enabled"] == source["sync.topic.acls.enabled"] == "false"
    assert source["offset-syncs.topic.location"] == "target"


def test_the_checkpoints_follow_the_listed_groups_and_read_the_offset_syncs_where_they_are_written():
    checkpoint = configs()[Kind.CHECKPOINT]
    assert checkpoint["groups"] == r"risk\-engine"
    assert checkpoint["emit.checkpoints.enabled"] == checkpoint["sync.group.offsets.enabled"] == "true"
    assert checkpoint["offset-syncs.topic.location"] == "target"
    assert checkpoint["topics"] == configs()[Kind.SOURCE]["topics"]
    every_group = MirrorFlow(FLOW.source, FLOW.target, FLOW.topics)  # the local platform's: MirrorMaker's default
    assert "groups" not in configs(every_group)[Kind.CHECKPOINT]


def test_a_change_of_topics_leaves_the_heartbeats_alone():
    grown = MirrorFlow(FLOW.source, FLOW.target, (*FLOW.topics, "market.equities.trades.asx"), FLOW.groups)
    before, after = configs(), configs(grown)
    changed = {kind: sorted(k for k in after[kind] if after[kind][k] != before[kind].get(k)) for kind in Kind}
    assert changed == {Kind.SOURCE: ["topics"], Kind.CHECKPOINT: ["topics"], Kind.HEARTBEAT: []}


def test_exactly_once_is_required_of_the_source_connector_only():
    made = configs()
    assert made[Kind.SOURCE]["exactly.once.support"] == "required"
    assert made[Kind.SOURCE]["source.consumer.isolation.level"] == "read_committed"
    assert "exactly.once.support" not in made[Kind.CHECKPOINT]  # MirrorMaker's checkpoints cannot
    assert "exactly.once.support" not in made[Kind.HEARTBEAT]
    assert "exactly.once.support" not in configs(exactly_once=False)[Kind.SOURCE]


def test_exactly_once_commits_a_transaction_every_second_not_every_poll():
    source = configs()[Kind.SOURCE]
    assert source["transaction.boundary"] == "interval"
    assert source["transaction.boundary.interval.ms"] == "1000"
    assert source["tasks.max"] == configs()[Kind.CHECKPOINT]["tasks.max"] == "1"
    assert "source.consumer.max.poll.records" not in source  # Kafka's 500
    assert "transaction.boundary" not in configs()[Kind.CHECKPOINT]
    at_least_once = configs(exactly_once=False)[Kind.SOURCE]
    assert not {"transaction.boundary", "transaction.boundary.interval.ms"} & set(at_least_once)
    per_poll = configs(throughput=Throughput(tasks_max=4, transaction_interval_ms=None, max_poll_records=2000))
    assert "transaction.boundary" not in per_poll[Kind.SOURCE]
    assert per_poll[Kind.SOURCE]["tasks.max"] == per_poll[Kind.CHECKPOINT]["tasks.max"] == "4"
    assert per_poll[Kind.SOURCE]["source.consumer.max.poll.records"] == "2000"


def test_mirrormakers_own_topics_are_named_after_the_source_and_sized_by_the_options():
    assert mirror_topics(FLOW) == {"heartbeats": "heartbeats", "checkpoints": "us-east.checkpoints.internal",
                                   "offset-syncs": "mm2-offset-syncs.us-east.internal"}
    made = configs(replication_factor=1)
    assert made[Kind.SOURCE]["offset-syncs.topic.replication.factor"] == "1"
    assert made[Kind.CHECKPOINT]["checkpoints.topic.replication.factor"] == "1"
    assert made[Kind.HEARTBEAT]["heartbeats.topic.replication.factor"] == "1"


def test_a_login_is_a_config_provider_reference_on_every_client_of_its_region():
    login = ClusterLogin(REFERENCE, truststore_location="/etc/kafka-connect/us-east-ca.pem")
    secured = MirrorFlow(RegionCluster("us-east", "use-1:9093", login), FLOW.target, FLOW.topics)
    for config in configs(secured).values():
        assert config["source.cluster.sasl.jaas.config"] == REFERENCE
        assert config["source.cluster.security.protocol"] == "SASL_SSL"
        assert config["source.cluster.ssl.truststore.location"] == "/etc/kafka-connect/us-east-ca.pem"
        assert not any(k.startswith("target.cluster.sasl") for k in config)


@pytest.mark.parametrize("jaas", [
    'org.apache.kafka.common.security.scram.ScramLoginModule required username="mm2" password="s3cret";',
    "${file:/etc/k2.properties:jaas} trailing", "", "$file:/etc/k2.properties:jaas"])
def test_a_login_written_in_plain_text_is_refused(jaas):
    with pytest.raises(ValueError, match="config-provider reference"):
        ClusterLogin(jaas)
