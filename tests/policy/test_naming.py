"""topic-name and subject-name: the design's patterns, with codes that topics.yaml declares."""

from __future__ import annotations

import pytest

from tests.policy.conftest import SHIPPED_TOPICS, of, subject, topic
from tests.policy.harness import Analyzer


@pytest.mark.parametrize("name", ["market.equities.trades.asx", "market.crypto.reference_data.binance",
                                  "market.crypto.quotes.binance"])
def test_declared_topic_names_pass(analyzer: Analyzer, name: str):
    assert of("topic-name", analyzer.analyze(topic(name))) == []


@pytest.mark.parametrize(("name", "hint"), [
    ("Market.Equities.Trades.ASX", "here: market.equities.trades.asx"),
    ("market.equities.trades", None),
    ("market-equities-trades-asx", None),
    ("equities.trades.asx.market", None),
    ("market.equities.trades.asx.extra", None),
])
def test_names_off_the_pattern_are_mandatory_violations(analyzer: Analyzer, name: str, hint: str | None):
    [found] = of("topic-name", analyzer.analyze(topic(name)))
    assert found.level == "mandatory"
    assert found.message.startswith("Topics are named market.{asset_class}.{data_type}.{exchange}")
    assert f"{name}: the name does not follow market.{{asset_class}}.{{data_type}}.{{exchange}}" in found.message
    assert "Fix: declare the exchange in topics.yaml" in found.message
    if hint:
        assert hint in found.message


@pytest.mark.parametrize(("name", "problem", "fix"), [
    ("market.bonds.trades.asx", "asset class 'bonds' is not declared in topics.yaml (declared: equities, crypto)",
     "add asset_classes.bonds to topics.yaml"),
    ("market.equities.orders.asx", "data type 'orders' is not declared in topics.yaml",
     "add data_types.orders to topics.yaml"),
    ("market.equities.trades.nyse", "exchange 'nyse' is not declared under asset class 'equities' in topics.yaml "
     "(declared: asx)", "add asset_classes.equities.exchanges.nyse to topics.yaml"),
    ("market.crypto.trades.asx", "exchange 'asx' is not declared under asset class 'crypto'",
     "add asset_classes.crypto.exchanges.asx"),
])
def test_codes_unknown_to_topics_yaml_are_named_with_the_fix(analyzer: Analyzer, name: str, problem: str, fix: str):
    [found] = of("topic-name", analyzer.analyze(topic(name)))
    assert found.level == "mandatory"
    assert f"{name}: {problem}" in found.message
    assert f"Fix: {fix}" in found.message


def test_a_topology_that_cannot_be_read_fails_the_name_check(analyzer_for):
    analyzer = analyzer_for("asset_classes: [not, a, mapping")
    [found] = of("topic-name", analyzer.analyze(topic("market.equities.trades.asx")))
    assert "market.equities.trades.asx: its codes cannot be checked against topics.yaml" in found.message
    assert "YAML syntax error" in found.message


def test_the_topology_file_can_be_pointed_at(project, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text((project / "topics.yaml").read_text().replace("binance:", "kraken:"))
    analyzer = Analyzer(project, other)
    assert of("topic-name", analyzer.analyze(topic("market.crypto.trades.kraken"))) == []
    assert of("topic-name", analyzer.analyze(topic("market.crypto.trades.binance")))


@pytest.mark.parametrize("name", ["market.equities.trades-value", "market.crypto.reference_data-value"])
def test_declared_subject_names_pass(analyzer: Analyzer, name: str):
    assert of("subject-name", analyzer.analyze(subject(name))) == []


@pytest.mark.parametrize("name", ["market.equities.trades", "Market.Equities.Trades-value",
                                  "market.equities.trades.asx-value", "equities-trades-value",
                                  "market.equities.trades-key"])
def test_subject_names_off_the_pattern_fail(analyzer: Analyzer, name: str):
    [found] = of("subject-name", analyzer.analyze(subject(name)))
    assert found.level == "mandatory"
    assert f"{name}: the subject does not follow market.{{asset_class}}.{{data_type}}-value" in found.message
    assert 'Fix: set schema_registry.subject_pattern: "market.{asset_class}.{data_type}-value"' in found.message


def test_subject_codes_must_be_declared(analyzer: Analyzer):
    [found] = of("subject-name", analyzer.analyze(subject("market.bonds.trades-value")))
    assert "market.bonds.trades-value: asset class 'bonds' is not declared" in found.message


def test_name_rules_ignore_other_resources(analyzer: Analyzer):
    assert of("subject-name", analyzer.analyze(topic("market.equities.trades.asx"))) == []
    assert of("topic-name", analyzer.analyze(subject("whatever"))) == []


@pytest.mark.parametrize("name", ["market.equities.trades.asx\n", "market.equities.trades.asx\r",
                                  "market.equities.trades\n.asx"])
def test_a_control_character_is_no_part_of_a_name_and_is_shown_escaped(analyzer: Analyzer, name: str):
    [found] = of("topic-name", analyzer.analyze(topic(name)))
    assert "the name does not follow" in found.message and found.message.split("\n", 1)[1].isprintable()
    assert repr(name)[1:-1] in found.message


def test_a_name_over_kafkas_limit_fails(analyzer_for):
    code = "x" * 240
    analyzer = analyzer_for(SHIPPED_TOPICS.replace("      binance:\n", f"      {code}:\n", 1))
    [found] = of("topic-name", analyzer.analyze(topic(f"market.crypto.trades.{code}")))
    assert "characters long: Kafka allows at most 249 in a topic name" in found.message


def test_a_name_mirrormaker_takes_for_its_own_fails(analyzer_for):
    analyzer = analyzer_for(SHIPPED_TOPICS.replace("      binance:\n", "      internal:\n", 1))
    [found] = of("topic-name", analyzer.analyze(topic("market.crypto.trades.internal")))
    assert "is named as the topics of Kafka's tools are" in found.message


def test_two_declared_names_that_collide_in_kafkas_metrics_fail(analyzer_for):
    text = SHIPPED_TOPICS.replace("  crypto:\n", "  crypto_trades:\n    exchanges:\n      kraken: {name: K, "
                                  "partitions: 40}\n  crypto:\n", 1).replace(
        "      binance:\n", "      quotes_kraken: {name: Q, partitions: 40}\n      binance:\n", 1)
    analyzer = analyzer_for(text)
    [found] = of("topic-name", analyzer.analyze(topic("market.crypto.trades.quotes_kraken")))
    assert ("it and market.crypto_trades.quotes.kraken collide in Kafka's metrics "
            "(market_crypto_trades_quotes_kraken") in found.message
    assert of("topic-name", analyzer.analyze(topic("market.crypto.trades.binance"))) == []
