"""Legacy records as the old producers wrote them: their own schemas (not the shared ones), exchange values in
any case (ASX, Binance), keys EXCHANGE.SYMBOL. Shared by the unit tests and tests/e2e/test_migration.py."""

from __future__ import annotations

import io
from typing import Any

from fastavro import parse_schema, schemaless_writer

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z

# The old trade: `qty` instead of quantity, no ingest_time (taken from the record timestamp), a `venue` the
# shared schema does not have (dropped), side as plain text; the optional fields of the shared schema absent.
LEGACY_TRADE = {
    "type": "record", "name": "RawTrade", "namespace": "k2.legacy",
    "fields": [
        {"name": "symbol", "type": "string"},
        {"name": "exchange", "type": "string"},
        {"name": "trade_id", "type": "string"},
        {"name": "price", "type": "double"},
        {"name": "qty", "type": "double"},
        {"name": "currency", "type": ["null", "string"], "default": None},
        {"name": "side", "type": ["null", "string"], "default": None},
        {"name": "event_time", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "sequence_number", "type": "long"},
        {"name": "venue", "type": ["null", "string"], "default": None},
    ],
}
# The old quote: event_time in milliseconds (the shared schema has microseconds), no ingest_time.
LEGACY_QUOTE = {
    "type": "record", "name": "RawQuote", "namespace": "k2.legacy",
    "fields": [
        {"name": "symbol", "type": "string"},
        {"name": "exchange", "type": "string"},
        {"name": "bid_price", "type": ["null", "double"], "default": None},
        {"name": "bid_size", "type": ["null", "double"], "default": None},
        {"name": "ask_price", "type": ["null", "double"], "default": None},
        {"name": "ask_size", "type": ["null", "double"], "default": None},
        {"name": "event_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "sequence_number", "type": "long"},
    ],
}
# The old reference data: what the shared schema needs and nothing more.
LEGACY_REFERENCE = {
    "type": "record", "name": "RawReferenceData", "namespace": "k2.legacy",
    "fields": [
        {"name": "symbol", "type": "string"},
        {"name": "exchange", "type": "string"},
        {"name": "name", "type": "string"},
        {"name": "instrument_type", "type": "string"},
        {"name": "updated_time", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    ],
}
LEGACY_SCHEMAS = {"market.trades.raw": LEGACY_TRADE, "market.quotes.raw": LEGACY_QUOTE,
                  "market.reference_data": LEGACY_REFERENCE}

# What topics.yaml says about these records, added to the shipped declarations.
MAPPING = {
    "market.trades.raw": "    rename: {qty: quantity}\n    drop: [venue]\n    record_timestamp: [ingest_time]\n",
    "market.quotes.raw": "    record_timestamp: [ingest_time]\n",
    "market.reference_data": "",
}


def with_mapping(shipped: str, extra_exchanges: str = "") -> str:
    """The shipped topics.yaml with the legacy mapping above (and, optionally, more exchanges for crypto)."""
    text = shipped
    for topic, mapping in MAPPING.items():
        head = f'  {topic}:\n'
        start = text.index(head)
        end = text.index('key: "{exchange}.{symbol}"\n', start) + len('key: "{exchange}.{symbol}"\n')
        text = text[:end] + mapping + text[end:]
    if extra_exchanges:
        marker = '        trading_hours: "24/7"\n'
        text = text.replace(marker, marker + extra_exchanges, 1)
    return text


def legacy_trade(symbol: str, exchange: str, seq: int, **fields: Any) -> dict[str, Any]:
    record = {"symbol": symbol, "exchange": exchange, "trade_id": f"{exchange}-{symbol}-{seq}",
              "price": 40.0 + seq / 100, "qty": 100.0 + seq, "currency": "AUD" if exchange.upper() == "ASX" else "USDT",
              "side": "BUY" if seq % 2 else "SELL", "event_time": (T0_MS + seq) * 1000, "sequence_number": seq,
              "venue": "XASX" if exchange.upper() == "ASX" else None}
    return {**record, **fields}


def legacy_quote(symbol: str, exchange: str, seq: int, **fields: Any) -> dict[str, Any]:
    record = {"symbol": symbol, "exchange": exchange, "bid_price": 40.0 + seq / 100, "bid_size": 500.0,
              "ask_price": 40.02 + seq / 100, "ask_size": 300.0, "event_time": T0_MS + seq, "sequence_number": seq}
    return {**record, **fields}


def legacy_reference(symbol: str, exchange: str, seq: int = 0, **fields: Any) -> dict[str, Any]:
    record = {"symbol": symbol, "exchange": exchange, "name": f"{symbol} v{seq}",
              "instrument_type": "EQUITY" if exchange.upper() == "ASX" else "SPOT", "updated_time": T0_MS * 1000 + seq}
    return {**record, **fields}


LEGACY_RECORDS = {"market.trades.raw": legacy_trade, "market.quotes.raw": legacy_quote,
                  "market.reference_data": legacy_reference}


def framed(schema_id: int, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    """The Confluent wire format, as the old producers' AvroSerializer wrote it."""
    out = io.BytesIO()
    out.write(b"\x00" + schema_id.to_bytes(4, "big"))
    schemaless_writer(out, parse_schema(schema), record)
    return out.getvalue()
