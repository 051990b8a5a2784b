"""Every pattern of the design's "Subscription Patterns", with its documented, sorted results."""

from __future__ import annotations

import pytest

from k2infra.clients import DataType, SubscriptionBuilder, UnknownNameError, get_subscription_builder, topics_matching


@pytest.fixture
def builder(outputs) -> SubscriptionBuilder:
    return SubscriptionBuilder(outputs)


def test_pattern_1_single_exchange(outputs_json):
    builder = get_subscription_builder(outputs_json)
    assert builder.subscribe_to_exchange("equities", "asx") == [
        "market.equities.quotes.asx", "market.equities.reference_data.asx", "market.equities.trades.asx"]


def test_pattern_2_asset_class_is_every_crypto_topic(builder, outputs_json):
    crypto = sorted(t["name"] for t in outputs_json["topics"] if t["asset_class"] == "crypto")
    assert len(crypto) == 6
    assert builder.subscribe_to_asset_class("crypto") == crypto


def test_pattern_3_data_type_is_every_trades_topic(builder):
    assert builder.subscribe_to_data_type(DataType.TRADES) == [
        "market.crypto.trades.binance", "market.crypto.trades.coinbase",
        "market.equities.trades.asx", "market.equities.trades.nyse"]


def test_pattern_4_filtered(builder):
    topics = builder.subscribe_to_asset_class("equities", data_types=[DataType.TRADES, DataType.QUOTES],
                                              exchanges=["asx", "nyse"])
    assert topics == ["market.equities.quotes.asx", "market.equities.quotes.nyse",
                      "market.equities.trades.asx", "market.equities.trades.nyse"]


def test_pattern_4_narrows_by_either_filter_alone(builder):
    assert builder.subscribe_to_asset_class("equities", exchanges=["nyse"]) == [
        "market.equities.quotes.nyse", "market.equities.reference_data.nyse", "market.equities.trades.nyse"]
    assert builder.subscribe_to_asset_class("crypto", data_types=["quotes"]) == [
        "market.crypto.quotes.binance", "market.crypto.quotes.coinbase"]


def test_pattern_5_custom_list(builder):
    topics = builder.subscribe_to_specific_topics([
        ("equities", DataType.TRADES, "asx"),
        ("crypto", DataType.QUOTES, "binance"),
        ("equities", DataType.TRADES, "asx"),  # a duplicate is listed once
    ])
    assert topics == ["market.crypto.quotes.binance", "market.equities.trades.asx"]


@pytest.mark.parametrize(("call", "message"), [
    (lambda b: b.subscribe_to_exchange("equities", "binance"), "unknown exchange 'binance' for asset class 'equities'"),
    (lambda b: b.subscribe_to_asset_class("fx"), "unknown asset class 'fx'; known: crypto, equities"),
    (lambda b: b.subscribe_to_asset_class("equities", data_types=["trade"]),
     r"unknown data type 'trade' \(did you mean 'trades'\?\)"),
    (lambda b: b.subscribe_to_asset_class("crypto", exchanges=["kraken"]), "unknown exchange 'kraken'"),
    (lambda b: b.subscribe_to_data_type("orderbook"), "unknown data type 'orderbook'"),
    (lambda b: b.subscribe_to_specific_topics([("crypto", "trades", "asx")]), "known: binance, coinbase"),
    (lambda b: b.subscribe_to_pattern("fx"), "unknown asset class 'fx'"),
])
def test_unknown_names_are_refused_with_the_known_ones(builder, call, message):
    with pytest.raises(UnknownNameError, match=message):
        call(builder)


CANDIDATES = [
    "market.crypto.trades.binance", "market.crypto.trades.kraken",  # kraken: added after the app started
    "market.crypto.quotes.binance", "market.crypto.quotes.kraken", "market.crypto.reference_data.kraken",
    "market.equities.trades.asx", "market.equities.trades.asx.enriched", "market.trades", "other.crypto.trades.x",
]


def test_the_regex_pattern_also_matches_exchanges_added_later(builder):
    pattern = builder.subscribe_to_pattern("crypto", [DataType.TRADES, DataType.QUOTES])
    assert len(pattern) == 1 and pattern[0].startswith("^")  # Kafka clients read '^' names as regexes
    assert topics_matching(pattern, CANDIDATES) == [
        "market.crypto.quotes.binance", "market.crypto.quotes.kraken",
        "market.crypto.trades.binance", "market.crypto.trades.kraken"]


def test_the_regex_pattern_without_filters_is_every_market_topic_but_derived_ones(builder):
    assert topics_matching(builder.subscribe_to_pattern(), CANDIDATES) == sorted(
        t for t in CANDIDATES if t.count(".") == 3 and t.startswith("market."))


def test_the_regex_uses_only_posix_extended_syntax(builder):
    # librdkafka compiles subscriptions as POSIX ERE: no (?:…), \d, \w or lazy quantifiers.
    pattern = builder.subscribe_to_pattern("equities", ["trades", "reference_data"])[0]
    assert pattern == r"^market\.equities\.(reference_data|trades)\.[a-z][a-z0-9_]*$"
