"""TopicBuilder and DataType as in the design's "Partition Key Best Practice" and naming sections."""

from __future__ import annotations

import pytest

from k2infra.clients import DataType, TopicBuilder, UnknownNameError, get_topic_builder, parse_topic_name


@pytest.fixture
def builder(outputs) -> TopicBuilder:
    return TopicBuilder(outputs)


def test_the_designs_example(outputs_json):
    assert get_topic_builder(outputs_json).build_topic_name("equities", DataType.TRADES, "asx") == \
        "market.equities.trades.asx"


def test_data_types_are_strings_with_the_design_names():
    assert [str(d) for d in DataType] == ["trades", "quotes", "reference_data"]
    assert DataType("quotes") is DataType.QUOTES


def test_plain_strings_work_like_data_types(builder):
    assert builder.build_topic_name("crypto", "quotes", "coinbase") == "market.crypto.quotes.coinbase"


def test_the_topic_carries_its_partition_count_from_the_stack(builder, outputs_json):
    expected = next(t["partitions"] for t in outputs_json["topics"] if t["name"] == "market.equities.trades.nyse")
    assert builder.topic("equities", DataType.TRADES, "nyse").partitions == expected


@pytest.mark.parametrize(("args", "message"), [
    (("commodities", "trades", "cme"), "unknown asset class 'commodities'; known: crypto, equities"),
    (("equities", "orderbook", "asx"), "unknown data type 'orderbook'; known: quotes, reference_data, trades"),
    (("equities", "trades", "lse"), "unknown exchange 'lse' for asset class 'equities'; known: asx, nyse"),
    (("equities", "trades", "binance"), "unknown exchange 'binance' for asset class 'equities'; known: asx, nyse"),
    (("equities", "trades", "ASX"),
     "unknown exchange 'ASX' for asset class 'equities' (did you mean 'asx'?); known: asx, nyse"),
    (("equity", "trades", "asx"), "unknown asset class 'equity' (did you mean 'equities'?)"),
])
def test_names_the_topology_does_not_have_are_refused_with_the_known_ones(builder, args, message):
    with pytest.raises(UnknownNameError) as caught:
        builder.build_topic_name(*args)
    assert message in str(caught.value)


def test_a_combination_never_deployed_is_refused(outputs_json):
    outputs_json["topics"] = [t for t in outputs_json["topics"] if t["name"] != "market.crypto.quotes.coinbase"]
    builder = get_topic_builder(outputs_json)
    with pytest.raises(UnknownNameError) as caught:
        builder.build_topic_name("crypto", DataType.QUOTES, "coinbase")
    assert str(caught.value).startswith("unknown topic 'market.crypto.quotes.coinbase'")
    assert str(caught.value).endswith("known: market.crypto.reference_data.coinbase, market.crypto.trades.coinbase")


def test_topic_names_parse_back():
    ref = parse_topic_name("market.crypto.reference_data.binance")
    assert (ref.asset_class, ref.data_type, ref.exchange) == ("crypto", "reference_data", "binance")
    assert ref.name == "market.crypto.reference_data.binance"


@pytest.mark.parametrize("name", ["market.trades", "market.equities.trades.asx.enriched", "equities.trades.asx",
                                  "market.Equities.trades.asx"])
def test_other_names_do_not_parse(name):
    with pytest.raises(ValueError, match="not a market-data topic name"):
        parse_topic_name(name)
