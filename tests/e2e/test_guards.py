"""No bad edit loses a topic, a message or a schema: checked on the real engine, broker and registry."""

from __future__ import annotations

import json
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from k2infra.local.kafka import KafkaCluster
from k2infra.local.processes import free_ports
from tests.conftest import ROOT, without_apps
from tests.e2e.conftest import PulumiStack, consume_count, subjects_in_registry, topic_configs, topics_on_cluster

SHIPPED = without_apps((ROOT / "topics.yaml").read_text())  # the tests remove exchanges the apps use
BINANCE_TRADES = "market.crypto.trades.binance"


def produce(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(count):
        producer.produce(topic, key=f"SYM{i % 7}", value=f"trade-{i}")
    assert producer.flush(30) == 0


def consume_all(bootstrap: str, topic: str, group: str, expected: int, commit: bool = False) -> int:
    return consume_count(bootstrap, topic, group, expected, 30, batch=expected, commit=commit)


def committed_total(bootstrap: str, topic: str, group: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return sum(max(o.offset, 0) for o in offsets)


def failed(result) -> str:
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


def test_partition_decrease_is_refused_and_data_and_offsets_survive(new_stack, platform, admin):
    stack = new_stack("shrink")
    stack.up()
    produce(platform.bootstrap_servers, BINANCE_TRADES, 500)
    group = f"iceberg-writer-{uuid.uuid4().hex[:6]}"
    assert consume_all(platform.bootstrap_servers, BINANCE_TRADES, group, 500, commit=True) == 500

    stack.set_topology(SHIPPED.replace("partitions: 40", "partitions: 20"))
    output = failed(stack.run("preview", check=False))
    assert f"{BINANCE_TRADES}: partitions 40 -> 20 refused" in output
    assert "Kafka cannot remove partitions" in output
    failed(stack.up(check=False))

    assert topics_on_cluster(admin)[BINANCE_TRADES] == 40
    assert consume_all(platform.bootstrap_servers, BINANCE_TRADES, f"audit-{uuid.uuid4().hex[:6]}", 500) == 500
    assert committed_total(platform.bootstrap_servers, BINANCE_TRADES, group, 40) == 500


def test_removing_an_exchange_deletes_nothing_until_decommissioned(new_stack, admin):
    stack = new_stack("remove-asx")
    stack.up()
    start, end = SHIPPED.index("  equities:"), SHIPPED.index("  crypto:")
    without_asx = SHIPPED[:start] + SHIPPED[end:]
    stack.set_topology(without_asx)
    preview = stack.run("preview")
    assert "market.equities.trades.asx is no longer in topics.yaml; it is kept" in preview.stdout
    up = stack.up()
    assert "environments.dev.decommission" in up.stdout
    assert len(topics_on_cluster(admin)) == 6  # nothing deleted
    outputs = stack.outputs()
    assert outputs["retained_topics"] == ["market.equities.quotes.asx", "market.equities.reference_data.asx",
                                          "market.equities.trades.asx"]
    assert {t["exchange"] for t in outputs["topics"]} == {"binance"}
    stack.up("--expect-no-changes")  # the retained topics settle too

    # The explicit decommission list deletes exactly what it names: the first update releases it from
    # Pulumi's retain_on_delete, the next deletes it.
    stack.set_topology(without_asx.replace(
        "    min_insync_replicas: 1\n  prod:",
        "    min_insync_replicas: 1\n    decommission: [market.equities.trades.asx]\n  prod:"))
    released = stack.up()
    assert "market.equities.trades.asx is listed for decommissioning: this update releases it" in released.stdout
    assert "market.equities.trades.asx" in topics_on_cluster(admin)
    stack.up()
    remaining = topics_on_cluster(admin)
    assert "market.equities.trades.asx" not in remaining and "market.equities.quotes.asx" in remaining


def test_incompatible_schema_fails_the_preview_and_changes_nothing(new_stack, registry, admin):
    stack = new_stack("schema")
    stack.up()
    trade = json.loads((ROOT / "schemas" / "trade.avsc").read_text())
    broken = dict(trade, fields=[dict(f, type="string") if f["name"] == "price" else f for f in trade["fields"]])
    (stack.project / "schemas" / "trade.avsc").write_text(json.dumps(broken))
    # A topic change in the same edit must not be applied either.
    stack.set_topology(SHIPPED.replace("partitions: 30", "partitions: 32"))
    output = failed(stack.run("preview", check=False))
    assert "market.equities.trades-value (schemas/trade.avsc): field 'price' changed type" in output
    failed(stack.up(check=False))
    assert registry.get_versions("market.equities.trades-value") == [1]
    assert topics_on_cluster(admin)["market.equities.trades.asx"] == 30

    # The design's version 2 (a new optional field with a default) goes through as version 2.
    evolved = dict(trade, fields=[*trade["fields"], {"name": "trade_condition", "type": ["null", "string"],
                                                     "default": None}])
    (stack.project / "schemas" / "trade.avsc").write_text(json.dumps(evolved))
    stack.up()
    assert registry.get_versions("market.equities.trades-value") == [1, 2]
    assert topics_on_cluster(admin)["market.equities.trades.asx"] == 32


def test_drift_shows_on_refresh_and_up_puts_it_back(new_stack, admin):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    stack = new_stack("drift")
    stack.up()
    topic = "market.equities.quotes.asx"
    resource = ConfigResource("topic", topic, incremental_configs=[
        ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([resource])[resource].result(timeout=10)
    assert topic_configs(admin, topic)["retention.ms"] == "1000"

    refresh = stack.run("refresh", "--yes", "--diff")
    assert "1000" in refresh.stdout and topic in refresh.stdout
    stack.up()
    assert topic_configs(admin, topic)["retention.ms"] == "604800000"
    stack.run("preview", "--expect-no-changes")


def test_unreachable_broker_is_named_and_a_rerun_converges(new_stack, platform, registry, tmp_path, monkeypatch):
    monkeypatch.setenv("K2_CONNECT_TIMEOUT", "3")  # nothing listens yet: no need to ask it again for 15 s
    broker_port, controller_port = free_ports(2)
    kafka = KafkaCluster.with_ports(tmp_path / "flaky-kafka", [broker_port], [controller_port])
    stack: PulumiStack = new_stack("flaky")
    stack.run("config", "set", "k2:bootstrapServers", kafka.bootstrap_servers)
    registered_before = registered_versions(registry)
    output = failed(stack.up(check=False))
    assert f"cannot reach Kafka at 127.0.0.1:{broker_port}" in output and "Nothing was changed" in output
    # Nothing means nothing: the registry, which was reachable, got no subject or version either.
    assert registered_versions(registry) == registered_before
    kafka.start()
    try:
        stack.up()
        from confluent_kafka.admin import AdminClient

        own_admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        assert len(topics_on_cluster(own_admin)) == 6
        stack.up("--expect-no-changes")
        stack.run("destroy", "--yes")
    finally:
        kafka.stop()


def registered_versions(registry) -> dict[str, list[int]]:
    return {s: registry.get_versions(s) for s in subjects_in_registry(registry)}


def test_a_bad_topics_yaml_fails_the_preview_naming_file_line_and_key(new_stack, admin):
    stack = new_stack("bad-input")
    stack.up()
    bad = SHIPPED.replace("      binance:", "      Binance:")
    bad = bad.replace('compression.type: "lz4"', 'compression.type: "lz5"', 1)
    stack.set_topology(bad)
    output = failed(stack.run("preview", check=False))
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "Binance:" in text)
    assert f"topics.yaml:{line}: asset_classes.crypto.exchanges.Binance: exchange code 'Binance' must be" in output
    assert "data_types.trades.config.compression.type: must be one of" in output
    failed(stack.up(check=False))
    assert len(topics_on_cluster(admin)) == 6
