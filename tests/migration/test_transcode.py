"""Routing and mapping of legacy records, one by one: where each goes, what it becomes, and why some cannot go."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_reader

from k2infra.migration.context import planned_schema
from k2infra.migration.transcode import (
    SOURCE_OFFSET,
    Copy,
    Refusal,
    SchemaUnavailable,
    Transcoder,
    headers_for,
    source_of,
)
from k2infra.model import Topology, load_topology
from tests.conftest import ROOT, make_project
from tests.migration.legacy_data import (
    LEGACY_QUOTE,
    LEGACY_REFERENCE,
    LEGACY_TRADE,
    T0_MS,
    framed,
    legacy_quote,
    legacy_reference,
    legacy_trade,
    with_mapping,
)

SHIPPED = (ROOT / "topics.yaml").read_text()
COINBASE = '      coinbase:\n        name: "Coinbase"\n        partitions: 8\n'
IDS = {1: LEGACY_TRADE, 2: LEGACY_QUOTE, 3: LEGACY_REFERENCE}
STAMP = T0_MS + 5_000  # the legacy record's Kafka timestamp (ms)


@pytest.fixture(scope="module")
def topology(tmp_path_factory) -> Topology:
    project = make_project(tmp_path_factory.mktemp("legacy") / "p", with_mapping(SHIPPED, COINBASE))
    return load_topology(Path(project) / "topics.yaml", "dev")


def transcoder_with(topology: Topology, name: str, ids: dict[int, dict], fast: bool = True) -> Transcoder:
    """A transcoder whose registry holds `ids` and whose target subjects have schema id 42."""
    legacy = next(t for t in topology.legacy if t.name == name)
    subjects = {s.subject: s for s in topology.subjects}

    def writer_schemas(schema_id: int) -> str:
        if schema_id not in ids:
            raise SchemaUnavailable(f"schema id {schema_id} is not in the registry")
        return json.dumps(ids[schema_id])

    def target(topic: str):
        subject = subjects[topology.subject_of(topology.topic(topic))]
        return planned_schema(subject.subject, subject.schema, subject.partition_key, {subject.subject: 42})

    return Transcoder(legacy, writer_schemas, target, fast=fast)


def transcoder(topology: Topology, name: str, fast: bool = True) -> Transcoder:
    return transcoder_with(topology, name, IDS, fast)


def decoded(topology: Topology, copy: Copy) -> dict:
    subject = next(s for s in topology.subjects if s.subject == copy.target.subject)
    assert copy.value is not None and copy.value[:5] == b"\x00" + (42).to_bytes(4, "big")
    return schemaless_reader(io.BytesIO(copy.value[5:]), parse_schema(json.loads(subject.schema)), None)


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "slow-path"])
def test_a_trade_goes_to_its_exchange_topic_keyed_by_symbol_in_the_shared_shape(topology, fast):
    copy = transcoder(topology, "market.trades.raw", fast).transcode(
        b"ASX.BHP", framed(1, LEGACY_TRADE, legacy_trade("BHP", "ASX", 7)), STAMP)
    assert isinstance(copy, Copy)
    assert (copy.target.topic, copy.target.subject, copy.key) == (
        "market.equities.trades.asx", "market.equities.trades-value", b"BHP")
    record = decoded(topology, copy)
    assert record["exchange"] == "asx"  # the code, as the topic names it
    assert record["quantity"] == 107.0  # renamed from qty
    assert "venue" not in record and "qty" not in record  # dropped / renamed
    assert record["event_time"].timestamp() * 1_000_000 == pytest.approx((T0_MS + 7) * 1000)
    assert record["ingest_time"].timestamp() * 1000 == pytest.approx(STAMP)  # from the record timestamp
    assert record["side"] == "BUY" and record["trade_conditions"] == [] and record["isin"] is None  # defaults


def test_exchange_values_match_codes_in_any_case(topology):
    trades = transcoder(topology, "market.trades.raw")
    for key, exchange, topic in ((b"Binance.BTCUSDT", "Binance", "market.crypto.trades.binance"),
                                 (b"COINBASE.ETH-USD", "Coinbase", "market.crypto.trades.coinbase"),
                                 (b"asx.CBA", "asx", "market.equities.trades.asx")):
        symbol = key.decode().split(".", 1)[1]
        copy = trades.transcode(key, framed(1, LEGACY_TRADE, legacy_trade(symbol, exchange, 1)), STAMP)
        assert isinstance(copy, Copy) and copy.target.topic == topic and copy.key == symbol.encode()


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "slow-path"])
def test_millisecond_timestamps_become_microseconds(topology, fast):
    copy = transcoder(topology, "market.quotes.raw", fast).transcode(
        b"ASX.BHP", framed(2, LEGACY_QUOTE, legacy_quote("BHP", "ASX", 3)), STAMP)
    assert isinstance(copy, Copy) and copy.target.topic == "market.equities.quotes.asx"
    record = decoded(topology, copy)
    assert round(record["event_time"].timestamp() * 1000) == T0_MS + 3


def test_a_tombstone_is_routed_by_its_key(topology):
    copy = transcoder(topology, "market.reference_data").transcode(b"Binance.BTCUSDT", None, STAMP)
    assert isinstance(copy, Copy) and copy.value is None
    assert (copy.target.topic, copy.key) == ("market.crypto.reference_data.binance", b"BTCUSDT")
    copy = transcoder(topology, "market.reference_data").transcode(
        b"ASX.BHP", framed(3, LEGACY_REFERENCE, legacy_reference("BHP", "ASX")), STAMP)
    assert isinstance(copy, Copy) and decoded(topology, copy)["name"] == "BHP v0"


REFUSALS = [
    ("unknown-exchange", b"LSE.VOD", lambda: framed(1, LEGACY_TRADE, legacy_trade("VOD", "LSE", 1)),
     "unknown_exchange", "'LSE'"),
    ("key-and-exchange-disagree", b"ASX.BHP", lambda: framed(1, LEGACY_TRADE, legacy_trade("BHP", "Binance", 1)),
     "key_mismatch", "names exchange 'ASX', the record 'Binance'"),
    ("key-and-symbol-disagree", b"ASX.BHP", lambda: framed(1, LEGACY_TRADE, legacy_trade("CBA", "ASX", 1)),
     "key_mismatch", "has symbol 'BHP', the record 'CBA'"),
    ("no-key", None, lambda: framed(1, LEGACY_TRADE, legacy_trade("BHP", "ASX", 1)), "bad_key", "no key"),
    ("key-without-exchange", b"BHP", lambda: framed(1, LEGACY_TRADE, legacy_trade("BHP", "ASX", 1)), "bad_key",
     "does not follow {exchange}.{symbol}"),
    ("key-not-text", b"\xff\xfe.X", lambda: framed(1, LEGACY_TRADE, legacy_trade("BHP", "ASX", 1)), "bad_key",
     "not UTF-8"),
    ("not-framed", b"ASX.BHP", lambda: b'{"symbol": "BHP"}', "undecodable", "not in the schema-registry wire format"),
    ("unknown-schema-id", b"ASX.BHP", lambda: framed(99, LEGACY_TRADE, legacy_trade("BHP", "ASX", 1)), "undecodable",
     "schema id 99 is not in the registry"),
    ("truncated", b"ASX.BHP", lambda: framed(1, LEGACY_TRADE, legacy_trade("BHP", "ASX", 1))[:20], "undecodable",
     "does not decode with schema id 1"),
    ("written-with-another-schema", b"ASX.BHP",
     lambda: framed(1, LEGACY_REFERENCE, legacy_reference("BHP", "ASX")) + b"\x02\x04", "undecodable", ""),
    ("enum-value-the-shared-schema-lacks", b"ASX.BHP",
     lambda: framed(1, LEGACY_TRADE, legacy_trade("BHP", "ASX", 1, side="SIDEWAYS")), "unfit", "'side'"),
    ("empty-symbol", b"ASX.", lambda: framed(1, LEGACY_TRADE, legacy_trade("", "ASX", 1)), "bad_key", ""),
]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "slow-path"])
@pytest.mark.parametrize(("key", "value", "reason", "detail"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_records_that_cannot_be_routed_say_why(topology, key, value, reason, detail, fast):
    result = transcoder(topology, "market.trades.raw", fast).transcode(key, value(), STAMP)
    assert isinstance(result, Refusal), result
    assert result.reason == reason and detail in result.detail, result


def test_a_legacy_field_not_mapped_does_not_fit(topology):
    """A legacy record with a field the shared schema lacks, neither renamed nor dropped: refused, not lost."""
    schema = {**LEGACY_QUOTE, "fields": [*LEGACY_QUOTE["fields"], {"name": "mid", "type": "double"}]}
    ids = {**IDS, 7: schema}
    trans = transcoder_with(topology, "market.quotes.raw", ids)
    result = trans.transcode(b"ASX.BHP", framed(7, schema, {**legacy_quote("BHP", "ASX", 1), "mid": 1.0}), STAMP)
    assert isinstance(result, Refusal) and result.reason == "unfit" and "'mid'" in result.detail


def test_a_field_the_legacy_schema_lacks_and_no_mapping_fills(tmp_path):
    """Without record_timestamp for ingest_time (required, no default), quotes do not fit the shared schema."""
    text = with_mapping(SHIPPED).replace("    record_timestamp: [ingest_time]\n", "")
    topology = load_topology(make_project(tmp_path, text) / "topics.yaml", "dev")
    result = transcoder(topology, "market.quotes.raw").transcode(
        b"ASX.BHP", framed(2, LEGACY_QUOTE, legacy_quote("BHP", "ASX", 1)), STAMP)
    assert isinstance(result, Refusal) and result.reason == "unfit"
    assert "'ingest_time'" in result.detail and "no default" in result.detail


def test_source_headers_round_trip():
    headers = [("trace", b"x"), *headers_for("market.trades.raw", 3, 1234)]
    assert source_of(headers) == ("market.trades.raw", 3, 1234)
    assert source_of(None) is None and source_of([("trace", b"x")]) is None
    assert source_of([*headers[:-1], (SOURCE_OFFSET, b"nope")]) is None
