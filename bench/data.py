"""Market-data records for the benchmarks, shaped like schemas/trade.avsc and quote.avsc."""

from __future__ import annotations

import random
from typing import Any

T0 = 1_767_225_600_000_000


def symbols(exchange: str, count: int) -> list[str]:
    return [f"{exchange[:3].upper()}{i:04d}" for i in range(count)]


def trades(exchange: str, count: int, seed: int = 7, universe: int = 2000) -> list[dict[str, Any]]:
    """`count` realistic trade records for one exchange, cycling over `universe` symbols."""
    rng = random.Random(seed)
    names = symbols(exchange, universe)
    crypto = exchange in ("binance", "coinbase")
    out = []
    for i in range(count):
        out.append({
            "symbol": names[i % universe], "exchange": exchange, "trade_id": f"{seed}-{i}",
            "price": round(rng.uniform(1, 500), 2), "quantity": float(rng.randint(1, 5000)),
            "currency": "USDT" if crypto else "AUD", "side": rng.choice(("BUY", "SELL")),
            "event_time": T0 + i * 100, "ingest_time": T0 + i * 100 + 250, "sequence_number": i // universe + 1,
            "trade_conditions": [], "contract_type": "SPOT" if crypto else None,
        })
    return out


def quotes(exchange: str, count: int, seed: int = 7, universe: int = 2000) -> list[dict[str, Any]]:
    """`count` realistic quote records for one exchange; one in twenty has an empty side (a one-sided market)."""
    rng = random.Random(seed)
    names = symbols(exchange, universe)
    crypto = exchange in ("binance", "coinbase")
    out = []
    for i in range(count):
        bid = round(rng.uniform(1, 500), 2)
        side = rng.random()
        out.append({
            "symbol": names[i % universe], "exchange": exchange,
            "bid_price": None if side < 0.025 else bid,
            "bid_size": None if side < 0.025 else float(rng.randint(1, 9000)),
            "ask_price": None if 0.025 <= side < 0.05 else round(bid + 0.01, 2),
            "ask_size": None if 0.025 <= side < 0.05 else float(rng.randint(1, 9000)),
            "currency": "USDT" if crypto else "AUD", "event_time": T0 + i * 50, "ingest_time": T0 + i * 50 + 90,
            "sequence_number": i // universe + 1, "contract_type": "SPOT" if crypto else None,
        })
    return out


def record(data_type: str, symbol: str, exchange: str, seq: int) -> dict[str, Any]:
    """One trade or quote for the latency runs (ingest_time is set by the caller)."""
    base = {"symbol": symbol, "exchange": exchange, "event_time": T0 + seq, "ingest_time": T0 + seq,
            "sequence_number": seq}
    if data_type == "quotes":
        return {**base, "bid_price": 45.5, "bid_size": 500.0, "ask_price": 45.52, "ask_size": 300.0}
    return {**base, "trade_id": f"{exchange}-{seq}", "price": 45.5, "quantity": 100.0, "side": "BUY"}
