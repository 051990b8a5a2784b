"""Avro trades per second: the helpers vs confluent-kafka producing the same records pre-serialized.

All variants use the trades profile (acks=all, idempotent, lz4) on the same topic and records, run
in interleaved rounds so that a noisy neighbour affects each alike; each rate counts from the first
produce to the end of flush(), so it is delivered records per second.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer, SerializingProducer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import StringSerializer

from bench.data import trades
from k2infra.clients import (
    TRADES,
    DataType,
    MarketDataProducer,
    RecordEncoder,
    SchemaCatalog,
    SharedSubjectStrategy,
    StackOutputs,
    kafka_config,
    registry_config,
)

TOPIC = "market.equities.trades.asx"


def measure(outputs: StackOutputs, count: int = 150_000, rounds: int = 3) -> dict[str, Any]:
    records = trades("asx", count)
    registry = SchemaRegistryClient(registry_config(outputs))
    encoder = RecordEncoder(SchemaCatalog(registry, outputs).for_topic(TOPIC))
    encoded = [(r["symbol"], encoder.encode(r)) for r in records]
    variants: dict[str, Callable[[], float]] = {
        "ceiling_pre_serialized": lambda: _raw(outputs, encoded),
        "helpers": lambda: _helpers(outputs, records),
        "helpers_in_flight_1": lambda: _helpers(outputs, records, {"max.in.flight.requests.per.connection": 1}),
        "confluent_avro_serializer": lambda: _stock(outputs, registry, records),
        "encode_only": lambda: _encode_only(encoder, records),
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            rates[name].append(run())
    ratios = [h / c for h, c in zip(rates["helpers"], rates["ceiling_pre_serialized"], strict=True)]
    return {
        "topic": TOPIC, "records_per_run": count, "rounds": rounds, "record_bytes_avro": _mean_size(encoded),
        "rates_per_second": {name: [round(r) for r in values] for name, values in rates.items()},
        "median_per_second": {name: round(statistics.median(values)) for name, values in rates.items()},
        "helpers_vs_ceiling": round(statistics.median(ratios), 3),
        "helpers_vs_ceiling_per_round": [round(r, 3) for r in ratios],
    }


def _timed(produce_all: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    produce_all()
    return count / (time.perf_counter() - started)


def _raw(outputs: StackOutputs, encoded: list[tuple[str, bytes]]) -> float:
    failed = []
    producer = Producer({**kafka_config(outputs), **TRADES.config, "delivery.report.only.error": True,
                         "on_delivery": lambda err, msg: failed.append(err)})
    _warm_up(lambda: producer.produce(TOPIC, encoded[0][1], encoded[0][0]), producer.flush)

    def run() -> None:
        produce, poll = producer.produce, producer.poll
        for key, value in encoded:
            while True:
                try:
                    produce(TOPIC, value, key)
                    break
                except BufferError:
                    poll(0.005)
            poll(0)
        producer.flush(60)

    rate = _timed(run, len(encoded))
    assert not failed and len(producer) == 0, failed[:3]
    return rate


def _helpers(outputs: StackOutputs, records: list[dict[str, Any]], config: dict[str, Any] | None = None) -> float:
    producer = MarketDataProducer(outputs, DataType.TRADES, config=config)
    _warm_up(lambda: producer.produce(TOPIC, records[0]), producer.flush)

    def run() -> None:
        for record in records:
            producer.produce(TOPIC, record)
        producer.flush(60)

    rate = _timed(run, len(records))
    stats = producer.close()
    assert stats.failed == 0 and stats.pending == 0, stats
    return rate


def _stock(outputs: StackOutputs, registry: SchemaRegistryClient, records: list[dict[str, Any]]) -> float:
    """confluent-kafka's own Avro path: SerializingProducer + AvroSerializer with the shared subjects."""
    serializer = AvroSerializer(registry, conf={"auto.register.schemas": False, "use.latest.version": True,
                                                "subject.name.strategy": SharedSubjectStrategy(outputs)})
    producer = SerializingProducer({**kafka_config(outputs), **TRADES.config, "key.serializer": StringSerializer(),
                                    "value.serializer": serializer})
    _warm_up(lambda: producer.produce(TOPIC, records[0]["symbol"], records[0]), producer.flush)

    def run() -> None:
        for record in records:
            while True:
                try:
                    producer.produce(TOPIC, record["symbol"], record)
                    break
                except BufferError:
                    producer.poll(0.005)
            producer.poll(0)
        producer.flush(60)

    return _timed(run, len(records))


def _encode_only(encoder: RecordEncoder, records: list[dict[str, Any]]) -> float:
    """The bound for this producer: the helpers' checks and encoding alone."""
    return _timed(lambda: [encoder.encode(r) for r in records], len(records))


def _warm_up(produce_one: Callable[[], None], flush: Callable[..., int]) -> None:
    # Connection, metadata and the idempotent producer id are set up before the clock starts.
    produce_one()
    flush(30)


def _mean_size(encoded: list[tuple[str, bytes]]) -> float:
    return round(sum(len(v) for _, v in encoded) / len(encoded), 1)
