"""The byte-level fast path gives exactly the bytes of the slow path (decode, map, encode with RecordEncoder), for
random records of several legacy schemas, and is really taken where it applies."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

import pytest

from k2infra.migration.splice import Layout, Template, zigzag
from k2infra.migration.transcode import Copy, Refusal
from k2infra.model import Topology, load_topology
from tests.conftest import ROOT, make_project
from tests.migration.legacy_data import LEGACY_QUOTE, LEGACY_REFERENCE, LEGACY_TRADE, T0_MS, framed, with_mapping
from tests.migration.test_transcode import COINBASE, transcoder_with

SHIPPED = (ROOT / "topics.yaml").read_text()
SHARED_TRADE = json.loads((ROOT / "schemas" / "trade.avsc").read_text())
KEYS = [("ASX", "BHP"), ("asx", "CBA"), ("Binance", "BTCUSDT"), ("COINBASE", "ETH-USD"), ("Binance", "ÉTH€")]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + "é€😀 ") for _ in range(rng.choice([0, 1, 5, 70, 200])))


def _long(rng: random.Random) -> int:
    return rng.choice([0, 1, -1, 63, 64, -65, 2**31, -(2**40), 2**62, rng.randint(-(2**50), 2**50)])


def random_trade(rng: random.Random, exchange: str, symbol: str, **extra: Any) -> dict[str, Any]:
    return {"symbol": symbol, "exchange": exchange, "trade_id": _text(rng), "price": rng.uniform(-1e9, 1e9),
            "qty": rng.random(), "currency": rng.choice([None, "AUD", _text(rng)]),
            "side": rng.choice([None, "BUY", "SELL", "UNKNOWN"]), "event_time": abs(_long(rng)),
            "sequence_number": _long(rng), "venue": rng.choice([None, _text(rng)]), **extra}


def random_quote(rng: random.Random, exchange: str, symbol: str) -> dict[str, Any]:
    maybe = lambda: rng.choice([None, rng.uniform(0, 1e6)])  # noqa: E731
    return {"symbol": symbol, "exchange": exchange, "bid_price": maybe(), "bid_size": maybe(), "ask_price": maybe(),
            "ask_size": maybe(), "event_time": rng.randint(0, 2**40), "sequence_number": _long(rng)}


def random_reference(rng: random.Random, exchange: str, symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "exchange": exchange, "name": _text(rng), "instrument_type": _text(rng),
            "updated_time": abs(_long(rng))}


def random_shared_trade(rng: random.Random, exchange: str, symbol: str) -> dict[str, Any]:
    """A writer that already used the shared trade schema (arrays included), with its own exchange spelling."""
    record = random_trade(rng, exchange, symbol)
    record["quantity"] = record.pop("qty")
    del record["venue"]
    conditions = [_text(rng) for _ in range(rng.randint(0, 3))]
    return {**record, "ingest_time": abs(_long(rng)), "trade_conditions": conditions,
            "isin": rng.choice([None, "AU000000BHP4"]), "company_id": None, "contract_type": rng.choice([None, "SPOT"]),
            "settlement_currency": None, "funding_rate": rng.choice([None, rng.random()])}


SHARED_AS_LEGACY = {**SHARED_TRADE, "name": "OldTrade", "namespace": "k2.legacy"}
REORDERED = {**LEGACY_TRADE, "fields": list(reversed(LEGACY_TRADE["fields"]))}
INT_SEQUENCE = {**LEGACY_TRADE, "fields": [{**f, "type": "int"} if f["name"] == "sequence_number" else f
                                           for f in LEGACY_TRADE["fields"]]}
ENUM_SIDE = {**LEGACY_TRADE, "fields": [{**f, "type": ["null", {"type": "enum", "name": "OldSide",
                                                               "symbols": ["SELL", "BUY", "UNKNOWN"]}]}
                                        if f["name"] == "side" else f for f in LEGACY_TRADE["fields"]]}

WRITERS = [
    # (id, legacy topic, writer schema, record maker, the fast path applies)
    ("legacy-trade", "market.trades.raw", LEGACY_TRADE, random_trade, True),
    ("legacy-quote-millis", "market.quotes.raw", LEGACY_QUOTE, random_quote, True),
    ("legacy-reference", "market.reference_data", LEGACY_REFERENCE, random_reference, True),
    ("shared-schema-as-legacy", "market.trades.raw", SHARED_AS_LEGACY, random_shared_trade, True),
    ("fields-in-another-order", "market.trades.raw", REORDERED, random_trade, True),
    ("int-as-long", "market.trades.raw", INT_SEQUENCE,
     lambda rng, e, s: {**random_trade(rng, e, s), "sequence_number": rng.randint(-(2**31), 2**31 - 1)}, True),
    ("enum-in-another-order", "market.trades.raw", ENUM_SIDE, random_trade, False),  # slow path: by symbol name
]


@pytest.fixture(scope="module")
def topology(tmp_path_factory) -> Topology:
    text = with_mapping(SHIPPED, COINBASE)
    # The shared-schema writer has no qty or venue: its mapping is the shipped one plus record_timestamp.
    return load_topology(Path(make_project(tmp_path_factory.mktemp("splice") / "p", text)) / "topics.yaml", "dev")


@pytest.mark.parametrize(("topic", "schema", "make", "applies"), [w[1:] for w in WRITERS], ids=[w[0] for w in WRITERS])
def test_the_fast_path_gives_the_slow_paths_bytes(topology, topic, schema, make, applies):
    rng = random.Random(f"{topic}-{schema['name']}")
    ids = {7: schema}
    fast, slow = transcoder_with(topology, topic, ids, fast=True), transcoder_with(topology, topic, ids, fast=False)
    spliced = 0
    for n in range(400):
        exchange, symbol = KEYS[n % len(KEYS)]
        record = make(rng, exchange, symbol)
        value = framed(7, schema, record)
        key = f"{exchange}.{symbol}".encode()
        timestamp = T0_MS + rng.randint(0, 10**9)
        expected = slow.transcode(key, value, timestamp)
        assert fast.transcode(key, value, timestamp) == expected, record
        spliced += fast._splice(key, value, timestamp) is not None
        assert isinstance(expected, Copy) or (isinstance(expected, Refusal) and expected.reason == "unfit"), expected
    assert (spliced > 300) if applies else (spliced == 0), spliced


def test_records_the_fast_path_cannot_take_get_the_slow_paths_answer(topology):
    fast = transcoder_with(topology, "market.trades.raw", {7: LEGACY_TRADE}, fast=True)
    slow = transcoder_with(topology, "market.trades.raw", {7: LEGACY_TRADE}, fast=False)
    rng = random.Random(1)
    cases = [
        (b"ASX.BHP", framed(7, LEGACY_TRADE, random_trade(rng, "ASX", "BHP", side="SIDEWAYS"))),  # not an enum symbol
        (b"ASX.BHP", framed(7, LEGACY_TRADE, random_trade(rng, "Binance", "BHP"))),  # key and record disagree
        (b"LSE.VOD", framed(7, LEGACY_TRADE, random_trade(rng, "LSE", "VOD"))),  # unknown exchange
        (b"ASX.BHP", framed(7, LEGACY_TRADE, random_trade(rng, "ASX", "BHP"))[:-3]),  # truncated
        (b"ASX.BHP", framed(7, LEGACY_TRADE, random_trade(rng, "ASX", "BHP")) + b"\x00"),  # bytes left over
        (b"ASX.BHP", b"\x00\x00\x00\x00\x07" + b"\x07" * 30),  # a negative string length
        (b"ASX.BHP", framed(7, LEGACY_TRADE, random_trade(rng, "ASX", "BHP", trade_id="ab")).replace(
            b"\x04ab", b"\x04\xff\xfe")),  # a string that is not UTF-8
        (b"ASX.B\xffP", framed(7, LEGACY_TRADE, random_trade(rng, "ASX", "BHP"))),  # a key that is not UTF-8
    ]
    for key, value in cases:
        result = fast.transcode(key, value, T0_MS)
        assert isinstance(result, Refusal) and result == slow.transcode(key, value, T0_MS), result


def test_templates_are_slices_constants_and_conversions(topology):
    legacy = next(t for t in topology.legacy if t.name == "market.trades.raw")
    layout = Layout.of(LEGACY_TRADE, legacy)
    assert layout.fields == ("symbol", "exchange", "trade_id", "price", "quantity", "currency", "side", "event_time",
                             "sequence_number", "")  # venue dropped
    template = Template.build(layout, SHARED_TRADE, legacy, "asx")
    kinds = [type(p).__name__ for p in template.parts]
    # symbol | exchange code | trade_id..currency | side string->enum | event_time | ingest_time stamp |
    # sequence_number | defaults of the optional fields
    assert kinds == ["Slice", "bytes", "Slice", "Converted", "Slice", "Stamp", "Slice", "bytes"], kinds
    assert template.parts[1] == b"\x06asx"
    assert [zigzag(v) for v in (0, -1, 1, 63, -64, 64)] == [b"\x00", b"\x01", b"\x02", b"\x7e", b"\x7f", b"\x80\x01"]
