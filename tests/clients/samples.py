"""Market-data records shaped like the repo's schemas (schemas/*.avsc), for unit and end-to-end tests."""

from __future__ import annotations

from typing import Any

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds


def trade(symbol: str = "BHP", exchange: str = "asx", seq: int = 1, **fields: Any) -> dict[str, Any]:
    record = {
        "symbol": symbol, "exchange": exchange, "trade_id": f"{exchange}-{symbol}-{seq}",
        "price": 45.5 + seq / 100, "quantity": 100.0 + seq, "currency": "AUD" if exchange == "asx" else "USDT",
        "side": "BUY" if seq % 2 else "SELL", "event_time": T0 + seq, "ingest_time": T0 + seq + 250,
        "sequence_number": seq, "trade_conditions": ["XT"] if seq % 3 == 0 else [],
    }
    return {**record, **fields}


def quote(symbol: str = "BHP", exchange: str = "asx", seq: int = 1, **fields: Any) -> dict[str, Any]:
    record = {
        "symbol": symbol, "exchange": exchange, "bid_price": 45.5 + seq / 100, "bid_size": 500.0,
        "ask_price": 45.52 + seq / 100, "ask_size": 300.0, "event_time": T0 + seq, "ingest_time": T0 + seq + 90,
        "sequence_number": seq,
    }
    return {**record, **fields}


def reference_data(symbol: str = "BHP", exchange: str = "asx", **fields: Any) -> dict[str, Any]:
    record = {"symbol": symbol, "exchange": exchange, "name": f"{symbol} Ltd", "instrument_type": "EQUITY",
              "updated_time": T0}
    return {**record, **fields}


SAMPLES = {"trades": trade, "quotes": quote, "reference_data": reference_data}
