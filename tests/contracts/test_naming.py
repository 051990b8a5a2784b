"""The naming rule, defined once: every layer builds and reads names through it."""

from __future__ import annotations

import pytest

from k2infra.contracts.naming import (
    BACKWARD_OR_STRICTER,
    CODE,
    COMPATIBILITY_LEVELS,
    SUBJECT_NAME,
    SUBJECT_PATTERN,
    TOPIC_NAME,
    TOPIC_PATTERN,
    TopicRef,
    in_k2_namespace,
    is_k2_topic_name,
    is_legacy_topic_name,
    is_market_topic,
    legacy_names_for,
    parse_topic_name,
    subject_name,
    subject_regex,
    topic_name,
)
from k2infra.model import load_topology
from k2infra.model.spec import SchemaRegistrySpec
from tests.conftest import ROOT


def test_topic_names_round_trip():
    name = topic_name("equities", "reference_data", "asx")
    assert name == "market.equities.reference_data.asx"
    assert TOPIC_PATTERN.format(asset_class="equities", data_type="reference_data", exchange="asx") == name
    assert parse_topic_name(name) == TopicRef("equities", "reference_data", "asx")
    assert parse_topic_name(name).name == name


@pytest.mark.parametrize("name", ["market.equities.trades", "market.equities.trades.asx.enriched",
                                  "market.Equities.trades.asx", "market.trades.raw", "other.equities.trades.asx",
                                  "market.equities.trades.1asx", "market.equities.trades.asx\n",
                                  "market.equities.trades.asx\r", "\nmarket.equities.trades.asx"])
def test_other_names_are_not_market_data_topics(name):
    with pytest.raises(ValueError, match="is not a market-data topic name"):
        parse_topic_name(name)


def test_the_prefix_selects_market_topics_whatever_their_shape():
    assert is_market_topic("market.trades.raw") and not is_market_topic("marketing.x") and not is_market_topic("x")


def test_subjects_are_per_asset_class_and_data_type():
    assert subject_name("crypto", "quotes") == "market.crypto.quotes-value"
    assert SUBJECT_NAME.match("market.crypto.quotes-value")["data_type"] == "quotes"  # type: ignore[index]
    assert SUBJECT_NAME.match("market.crypto.quotes.binance-value") is None


def test_the_model_derives_names_with_the_rule():
    topology = load_topology(ROOT / "topics.yaml", "dev")
    assert all(parse_topic_name(t.name) == TopicRef(t.asset_class, t.data_type, t.exchange) for t in topology.topics)
    assert [s.subject for s in topology.subjects] == sorted(subject_name(s.asset_class, s.data_type)
                                                            for s in topology.subjects)
    assert SchemaRegistrySpec().subject_pattern == SUBJECT_PATTERN


def test_compatibility_levels():
    assert len(COMPATIBILITY_LEVELS) == 7 and "BACKWARD" in COMPATIBILITY_LEVELS
    assert set(BACKWARD_OR_STRICTER) < set(COMPATIBILITY_LEVELS)
    assert "FORWARD" not in BACKWARD_OR_STRICTER and "NONE" not in BACKWARD_OR_STRICTER


@pytest.mark.parametrize("text", ["kraken\n", "kraken\r\n", "kraken ", " kraken", "kra\nken", ""])
def test_codes_match_the_whole_string(text):
    assert CODE.fullmatch(text) is None
    assert TOPIC_NAME.fullmatch(f"market.crypto.trades.{text}") is None
    assert SUBJECT_NAME.fullmatch(f"market.crypto.{text}-value") is None


def test_legacy_topics_have_the_designs_shapes_named_after_their_data_type():
    assert legacy_names_for("trades") == ("market.trades.raw", "market.trades")
    assert is_legacy_topic_name("market.trades.raw", "trades") and is_legacy_topic_name("market.reference_data")
    for name in ("market.trades.raw\n", "market.trades.raw.v2", "orders.v1", "__consumer_offsets",
                 "market.equities.trades.asx", "market.heartbeats", "market.Trades.raw"):
        assert not is_legacy_topic_name(name), name
    assert not is_legacy_topic_name("market.quotes.raw", "trades")


def test_k2_namespace_is_the_naming_rule_and_the_declared_legacy_topics():
    assert is_k2_topic_name("market.crypto.trades.binance") and in_k2_namespace("market.crypto.trades.binance", ())
    assert not is_k2_topic_name("market.crypto.trades.internal")  # MirrorMaker's, whatever its shape
    assert not is_k2_topic_name("market.crypto.trades." + "x" * 230)  # over Kafka's 249 characters
    assert in_k2_namespace("market.trades.raw", {"market.trades.raw"})
    assert not in_k2_namespace("market.trades.raw", set())  # not declared
    for name in ("__consumer_offsets", "_schemas", "orders.v1", "connect-offsets"):
        assert not in_k2_namespace(name, {name}), name  # declared or not


def test_subject_patterns_name_subjects_with_codes():
    assert subject_regex().fullmatch("market.crypto.trades-value")["data_type"] == "trades"  # type: ignore[index]
    for name in ("market.crypto.trades-value\n", "market.crypto.trades.binance-value", "_schemas", "x-value"):
        assert subject_regex().fullmatch(name) is None, name
    assert subject_regex("k2.{data_type}.{asset_class}").fullmatch("k2.trades.crypto")
    assert subject_regex("{asset_class}.{asset_class}.{data_type}").fullmatch("a.a.t")
    assert not subject_regex("{asset_class}.{asset_class}.{data_type}").fullmatch("a.b.t")
