"""The client processes of bench/replication.py: a paced trades producer, a timing consumer, a backlog producer,
a counting consumer and a plain consumer -> producer copy. Each runs in a process of its own (spawned), so none
shares a GIL with another.

Every record's value starts with HEADER: the send time (time.time(), one machine clock), the exchange's index, the
phase (which row of the run wrote it) and a sequence number per exchange and phase; a compact JSON trade follows
(~200 bytes in all). Consumers tell the rows apart by the phase and count duplicates by (exchange, seq).
"""

from __future__ import annotations

import json
import struct
import time
import uuid
from array import array
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.data import trades
from k2infra.clients.profiles import LOW_LATENCY_CONSUMER, producer_profile
from k2infra.contracts.kafka_client import librdkafka_settings

HEADER = struct.Struct(">dBBI")  # send time (s), exchange index, phase, seq
EXCHANGES = ("asx", "binance")
TOPICS = {"asx": "market.equities.trades.asx", "binance": "market.crypto.trades.binance"}
PARTITIONS = {"market.equities.trades.asx": 30, "market.crypto.trades.binance": 40}


def payloads(exchange: str, count: int = 2000) -> list[tuple[bytes, bytes]]:
    """(key, JSON body) of realistic trades, the symbol as key; fields without a value left out."""
    out = []
    for t in trades(exchange, count):
        body = {k: v for k, v in t.items() if v not in (None, [])}
        out.append((t["symbol"].encode(), json.dumps(body, separators=(",", ":")).encode()))
    return out


def trades_producer(bootstrap: str, overrides: dict[str, Any] | None = None) -> Producer:
    """K2's trades profile (acks=all, idempotent, lz4, linger 1 ms), with `overrides`."""
    return Producer({**librdkafka_settings(bootstrap), **producer_profile("trades").config, **(overrides or {}),
                     "log_level": 3})


class Seen:
    """Which (exchange, seq) a consumer has had: one byte per seq, grown as needed."""

    def __init__(self) -> None:
        self.marks = [bytearray(1 << 16) for _ in EXCHANGES]
        self.unique = self.duplicates = 0

    def add(self, exchange: int, seq: int) -> None:
        marks = self.marks[exchange]
        if seq >= len(marks):
            marks.extend(bytearray(max(seq + 1 - len(marks), len(marks))))
        if marks[seq]:
            self.duplicates += 1
        else:
            marks[seq] = 1
            self.unique += 1


def paced_produce(bootstrap: str, exchange: int, rate: int, start: float, seconds: float, phase: int,
                  results: Any) -> None:
    """`rate` trades/s of one exchange into the home region from `start` for `seconds`, due records sent every
    ~0.5 ms (as bench/latency.py paces); the send time stamped just before produce()."""
    name = EXCHANGES[exchange]
    topic, bodies = TOPICS[name], payloads(name)
    failed = [0]

    def delivered(error: Any, _msg: Any) -> None:
        if error is not None:
            failed[0] += 1

    producer = trades_producer(bootstrap)
    producer.produce(topic, HEADER.pack(time.time(), exchange, 0, 0) + bodies[0][1], bodies[0][0])  # connect first
    producer.flush(30)
    while time.time() < start:
        time.sleep(0.001)
    sent, end, size = 0, start + seconds, 0
    while (now := time.time()) < end:
        due = int((now - start) * rate)
        while sent < due:
            key, body = bodies[sent % len(bodies)]
            value = HEADER.pack(time.time(), exchange, phase, sent) + body
            try:
                producer.produce(topic, value, key, on_delivery=delivered)
            except BufferError:
                producer.poll(0.01)
                continue
            size += len(key) + len(value)
            sent += 1
        producer.poll(0)
        time.sleep(0.0005)
    left = producer.flush(60)
    results.put({"exchange": name, "sent": sent, "per_second": round(sent / seconds), "failed": failed[0] + left,
                 "mean_record_bytes": round(size / max(sent, 1))})


def timing_consume(bootstrap: str, isolation: str, phase: int, ready: Any, producers_done: Any, expected: Any,
                   drain_seconds: float, idle_seconds: float, results: Any) -> None:
    """Reads both topics from their end, assigned (no group), with K2's low-latency profile: each record of
    `phase` gives a latency, the consumer's clock when its batch arrived minus the send time. After the
    producers are done it reads on until it has `expected` records, or `idle_seconds` brought nothing, or
    `drain_seconds` passed."""
    consumer = Consumer({**librdkafka_settings(bootstrap), **LOW_LATENCY_CONSUMER, "isolation.level": isolation,
                         "group.id": f"replication-latency-{uuid.uuid4().hex[:8]}", "log_level": 3})
    consumer.assign([TopicPartition(t, p, -1) for t, n in PARTITIONS.items() for p in range(n)])  # -1: the end
    for _ in range(10):  # resolve the start offsets before the producers begin
        consumer.consume(500, 0.1)
    ready.set()
    stamps, latencies, seen, other = array("d"), array("d"), Seen(), 0
    drain_until, last_record, last_arrival = None, time.monotonic(), 0.0
    while True:
        batch = consumer.consume(1000, 0.05)
        now = time.time()
        for msg in batch:
            if msg.error():
                continue
            sent_at, exchange, record_phase, seq = HEADER.unpack_from(msg.value())
            if record_phase != phase:
                other += 1
                continue
            seen.add(exchange, seq)
            stamps.append(sent_at)
            latencies.append((now - sent_at) * 1000)
            last_arrival = now
        if batch:
            last_record = time.monotonic()
        if drain_until is None and producers_done.is_set():
            drain_until = time.monotonic() + drain_seconds
        if drain_until is not None and (0 <= expected.value <= seen.unique or time.monotonic() > drain_until
                                        or time.monotonic() - last_record > idle_seconds):
            break
    consumer.close()
    results.put({"stamps": stamps, "latencies": latencies, "unique": seen.unique, "duplicates": seen.duplicates,
                 "other_phases": other, "last_arrival": last_arrival})


def produce_backlog(bootstrap: str, counts: dict[str, int], phase: int) -> dict[str, Any]:
    """`counts` trades per exchange into the home region, as fast as the trades profile (lingering 5 ms) goes."""
    producer = trades_producer(bootstrap, {"linger.ms": 5, "batch.size": 262144})
    started, size = time.monotonic(), 0
    for exchange, name in enumerate(EXCHANGES):
        bodies = payloads(name)
        for seq in range(counts[name]):
            key, body = bodies[seq % len(bodies)]
            value = HEADER.pack(time.time(), exchange, phase, seq) + body
            while True:
                try:
                    producer.produce(TOPICS[name], value, key)
                    break
                except BufferError:
                    producer.poll(0.05)
            size += len(key) + len(value)
            if seq % 1000 == 0:
                producer.poll(0)
    left = producer.flush(120)
    if left:
        raise RuntimeError(f"{left} backlog trades not acknowledged within 120 s")
    return {"records": sum(counts.values()), "bytes": size, "mean_record_bytes": round(size / sum(counts.values())),
            "produce_s": round(time.monotonic() - started, 1)}


def count_arrivals(bootstrap: str, isolation: str, phase: int, expected: int, starts: dict[str, list[int]],
                   deadline_s: float, ready: Any, results: Any) -> None:
    """Counts the records of `phase` that reach the aggregate from `starts` (topic -> offset per partition): the
    arrival time of the first and of the one that completes `expected` distinct records."""
    consumer = Consumer({**librdkafka_settings(bootstrap), "isolation.level": isolation, "log_level": 3,
                         "group.id": f"replication-count-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 100, "max.partition.fetch.bytes": 1048576})
    consumer.assign([TopicPartition(t, p, o) for t, offsets in starts.items() for p, o in enumerate(offsets)])
    ready.set()
    seen, first, last = Seen(), None, None
    deadline = time.monotonic() + deadline_s
    while seen.unique < expected and time.monotonic() < deadline:
        batch = consumer.consume(5000, 0.1)
        now = time.time()
        for msg in batch:
            if msg.error():
                continue
            _, exchange, record_phase, seq = HEADER.unpack_from(msg.value())
            if record_phase == phase:
                seen.add(exchange, seq)
                first = first or now
        if seen.unique >= expected:
            last = now
    consumer.close()
    results.put({"first": first, "last": last, "unique": seen.unique, "duplicates": seen.duplicates})


def python_copy(home: str, aggregate: str, starts: dict[str, list[int]], ends: dict[str, list[int]],
                results: Any) -> None:
    """The comparison: a plain confluent-kafka consumer (home, from `starts` to `ends`) -> idempotent producer
    (aggregate, the same partition, key, value and timestamp; the trades profile lingering 5 ms)."""
    consumer = Consumer({**librdkafka_settings(home), "group.id": f"replication-copy-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "isolation.level": "read_committed", "log_level": 3,
                         "max.partition.fetch.bytes": 1048576})
    producer = trades_producer(aggregate, {"linger.ms": 5, "batch.size": 262144})
    consumer.assign([TopicPartition(t, p, o) for t, offsets in starts.items() for p, o in enumerate(offsets)])
    left = {(t, p): end - starts[t][p] for t, offsets in ends.items() for p, end in enumerate(offsets)
            if end > starts[t][p]}
    copied = 0
    while left:
        for msg in consumer.consume(10000, 0.5):
            if msg.error():
                continue
            topic, partition = msg.topic(), msg.partition()
            while True:
                try:
                    producer.produce(topic, msg.value(), msg.key(), partition=partition, timestamp=msg.timestamp()[1])
                    break
                except BufferError:
                    producer.poll(0.05)
            copied += 1
            key = (topic, partition)
            if key in left and msg.offset() + 1 >= ends[topic][partition]:
                del left[key]
        producer.poll(0)
    unacknowledged = producer.flush(120)
    consumer.close()
    results.put({"copied": copied, "unacknowledged": unacknowledged})
