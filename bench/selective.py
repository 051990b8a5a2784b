"""The design's headline claim: what a consumer fetches to process only ASX trades.

The same trades, for six exchanges in a stated mix, are written twice: to the exchange-level topics
(market.{asset_class}.trades.{exchange}) and to one flat topic holding every exchange's trades
(the design's rejected "Approach 1"). One consumer reads market.equities.trades.asx; another reads
the flat topic and keeps the records whose exchange is asx, as the design's old code does. Bytes are
librdkafka's own count of what the consumer received from the brokers (statistics rxbytes).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from bench.data import trades
from k2infra.clients import (
    MarketDataConsumer,
    MarketRecord,
    RecordEncoder,
    SchemaCatalog,
    StackOutputs,
    get_subscription_builder,
    kafka_config,
    registry_config,
)

FLAT_TOPIC = "market.trades"
FLAT_PARTITIONS = 100
MIX = {"nyse": 0.30, "nasdaq": 0.25, "lse": 0.15, "binance": 0.15, "coinbase": 0.10, "asx": 0.05}
ASSET_CLASS = {"asx": "equities", "nyse": "equities", "nasdaq": "equities", "lse": "equities",
               "binance": "crypto", "coinbase": "crypto"}


def measure(outputs: StackOutputs, total: int = 200_000) -> dict[str, Any]:
    stream = _stream(outputs, total)
    _write(outputs, [(f"market.{ASSET_CLASS[ex]}.trades.{ex}", key, value) for ex, key, value in stream])
    _write(outputs, [(FLAT_TOPIC, key, value) for _, key, value in stream])
    asx = sum(1 for ex, _, _ in stream if ex == "asx")

    topics = get_subscription_builder(outputs).subscribe_to_specific_topics([("equities", "trades", "asx")])
    exchange_level = _consume(outputs, topics, expected=asx, keep=lambda r: True)
    flat = _consume(outputs, [FLAT_TOPIC], expected=total, keep=lambda r: r.value["exchange"] == "asx")
    assert exchange_level["kept"] == flat["kept"] == asx, (exchange_level, flat, asx)
    return {
        "mix": MIX, "trades_total": total, "asx_trades": asx, "flat_topic_partitions": FLAT_PARTITIONS,
        "exchange_level": exchange_level, "flat_topic_filtered": flat,
        "bytes_ratio": round(flat["bytes_fetched"] / exchange_level["bytes_fetched"], 1),
        "records_decoded_ratio": round(flat["records_decoded"] / exchange_level["records_decoded"], 1),
        "cpu_ratio": round(flat["cpu_seconds"] / exchange_level["cpu_seconds"], 1),
        "design_claim": "10-100x",
    }


def _stream(outputs: StackOutputs, total: int) -> list[tuple[str, str, bytes]]:
    """(exchange, key, Avro value) in a shuffled arrival order, encoded once for both layouts."""
    catalog = SchemaCatalog(SchemaRegistryClient(registry_config(outputs)), outputs)
    out = []
    for seed, (exchange, share) in enumerate(MIX.items()):
        encoder = RecordEncoder(catalog.for_topic(f"market.{ASSET_CLASS[exchange]}.trades.{exchange}"))
        out += [(exchange, r["symbol"], encoder.encode(r)) for r in trades(exchange, int(total * share), seed)]
    random.Random(11).shuffle(out)
    return out


def _write(outputs: StackOutputs, messages: list[tuple[str, str, bytes]]) -> None:
    # One batching setting for both layouts: lz4, 5 ms linger, keyed by symbol as the helpers do.
    producer = Producer({**kafka_config(outputs), "compression.type": "lz4", "linger.ms": 5,
                         "partitioner": "murmur2_random"})
    for topic, key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    assert producer.flush(60) == 0


def _consume(outputs: StackOutputs, topics: list[str], expected: int, keep: Any) -> dict[str, Any]:
    latest: dict[str, Any] = {}

    def stats(text: str) -> None:
        latest.update(json.loads(text))

    consumer = MarketDataConsumer(outputs, f"selective-{uuid.uuid4().hex[:8]}", topics,
                                  auto_offset_reset="earliest", config={"statistics.interval.ms": 200,
                                                                        "stats_cb": stats})
    counts = {"decoded": 0, "kept": 0}

    def handle(record: MarketRecord) -> None:
        counts["decoded"] += 1
        counts["kept"] += keep(record)

    cpu, wall = time.process_time(), time.perf_counter()
    deadline = time.monotonic() + 120
    while counts["decoded"] < expected and time.monotonic() < deadline:
        consumer.process(handle, 0.5)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    latest.clear()
    while not latest:  # statistics taken after the last record
        consumer.process(handle, 0.1)
    consumer.close()
    fetched = sum(b["rxbytes"] for b in latest["brokers"].values())
    payload = sum(p["rxbytes"] for t in latest["topics"].values() for p in t["partitions"].values())
    return {"topics": topics, "records_decoded": counts["decoded"], "kept": counts["kept"],
            "bytes_fetched": fetched, "message_bytes": payload, "cpu_seconds": round(cpu, 3),
            "wall_seconds": round(wall, 3)}
