"""The naming rule, defined once: every layer builds and reads names through it."""

from __future__ import annotations

import pytest

from k2infra.contracts.naming import (
    BACKWARD_OR_STRICTER,
    COMPATIBILITY_LEVELS,
    SUBJECT_NAME,
    SUBJECT_PATTERN,
    TOPIC_PATTERN,
    TopicRef,
    is_market_topic,
    parse_topic_name,
    subject_name,
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
                                  "market.equities.trades.1asx"])
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
