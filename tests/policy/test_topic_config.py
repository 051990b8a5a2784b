"""reference-data-compacted, market-events-retention, market-events-compression."""

from __future__ import annotations

import pytest

from tests.policy.conftest import of, topic
from tests.policy.harness import Analyzer

EVENTS = {"compression.type": "lz4", "retention.ms": "604800000", "cleanup.policy": "delete"}
REFERENCE = {"compression.type": "lz4", "cleanup.policy": "compact"}


def without(config: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in config.items() if k != key}


def test_compacted_reference_data_passes(analyzer: Analyzer):
    assert of("reference-data-compacted", analyzer.analyze(
        topic("market.equities.reference_data.asx", 1, config=REFERENCE))) == []


@pytest.mark.parametrize(("config", "shown"), [
    ({**REFERENCE, "cleanup.policy": "delete"}, "'delete'"),
    ({**REFERENCE, "cleanup.policy": "compact,delete"}, "'compact,delete'"),
    (without(REFERENCE, "cleanup.policy"), "unset (the broker's default)"),
])
def test_reference_data_that_is_not_compacted_fails(analyzer: Analyzer, config, shown):
    [found] = of("reference-data-compacted", analyzer.analyze(
        topic("market.crypto.reference_data.binance", 1, config=config)))
    assert found.level == "mandatory"
    assert f"market.crypto.reference_data.binance: cleanup.policy is {shown}" in found.message
    assert "Fix: set cleanup.policy: compact in data_types.reference_data.config of topics.yaml" in found.message


def test_compaction_is_asked_of_reference_data_only(analyzer: Analyzer):
    assert of("reference-data-compacted", analyzer.analyze(topic("market.equities.trades.asx", config=EVENTS))) == []


@pytest.mark.parametrize("data_type", ["trades", "quotes"])
def test_market_events_with_retention_and_lz4_pass(analyzer: Analyzer, data_type: str):
    found = analyzer.analyze(topic(f"market.equities.{data_type}.asx", config=EVENTS))
    assert of("market-events-retention", found) == of("market-events-compression", found) == []


@pytest.mark.parametrize(("config", "problem"), [
    (without(EVENTS, "retention.ms"), "retention.ms is unset (the broker's default)"),
    ({**EVENTS, "retention.ms": "-1"}, "retention is unbounded (-1)"),
    ({**EVENTS, "retention.ms": "0"}, "retention.ms is '0'"),
])
@pytest.mark.parametrize("data_type", ["trades", "quotes"])
def test_market_events_without_a_bounded_retention_fail(analyzer: Analyzer, config, problem, data_type):
    name = f"market.crypto.{data_type}.binance"
    [found] = of("market-events-retention", analyzer.analyze(topic(name, 40, config=config)))
    assert found.level == "mandatory"
    assert f"{name}: {problem}; {data_type} must expire after a stated retention" in found.message
    assert (f"Fix: set retention.ms (e.g. 7d) in data_types.{data_type}.config of topics.yaml, or in "
            f"asset_classes.crypto.exchanges.binance.overrides.{data_type}.config") in found.message


def test_reference_data_needs_no_retention(analyzer: Analyzer):
    assert of("market-events-retention", analyzer.analyze(
        topic("market.equities.reference_data.asx", 1, config=REFERENCE))) == []


@pytest.mark.parametrize("codec", ["lz4", "snappy", "zstd"])
def test_allowed_codecs_pass(analyzer: Analyzer, codec: str):
    config = {**EVENTS, "compression.type": codec}
    assert of("market-events-compression", analyzer.analyze(topic("market.equities.quotes.asx", config=config))) == []


@pytest.mark.parametrize(("config", "shown"), [
    ({**EVENTS, "compression.type": "gzip"}, "'gzip'"),
    ({**EVENTS, "compression.type": "producer"}, "'producer'"),
    ({**EVENTS, "compression.type": "uncompressed"}, "'uncompressed'"),
    (without(EVENTS, "compression.type"), "unset (the broker's default)"),
])
def test_other_codecs_fail(analyzer: Analyzer, config, shown):
    [found] = of("market-events-compression", analyzer.analyze(topic("market.equities.trades.asx", config=config)))
    assert found.level == "mandatory"
    assert f"market.equities.trades.asx: compression.type is {shown}, not one of lz4, snappy, zstd" in found.message
    assert "Fix: set compression.type: lz4 (the design's default) in data_types.trades.config" in found.message


def test_values_kafka_accepts_pass(analyzer: Analyzer):
    config = {**EVENTS, "min.insync.replicas": "2", "segment.bytes": "2147483647",
              "retention.ms": "9223372036854775807"}
    assert of("topic-config-values", analyzer.analyze(topic("market.equities.trades.asx", config=config))) == []


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("segment.bytes", "4294967296", "segment.bytes: must be a whole number from 1048576 to 2147483647 (Kafka's INT); "
     "got 4294967296"),
    ("retention.ms", "60479999999999395200000", "retention.ms: must be a whole number from -1 to 9223372036854775807"),
    ("compression.type", "LZ4", "compression.type: must be one of uncompressed"),
    ("retention.msx", "1", "retention.msx: unknown topic config 'retention.msx' (did you mean 'retention.ms'?)"),
    ("min.compaction.lag.ms", "9000000000000000000", "min.compaction.lag.ms 9000000000000000000 is above "
     "max.compaction.lag.ms"),
])
def test_values_kafka_refuses_fail(analyzer: Analyzer, key, value, problem):
    config = {**EVENTS, key: value}
    if key == "min.compaction.lag.ms":
        config["max.compaction.lag.ms"] = "1000"
    [found] = of("topic-config-values", analyzer.analyze(topic("market.equities.trades.asx", config=config)))
    assert found.level == "mandatory"
    assert f"market.equities.trades.asx: {problem}" in found.message
    assert "in data_types.trades.config of topics.yaml, or asset_classes.equities.exchanges.asx.overrides." \
           "trades.config" in found.message
