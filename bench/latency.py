"""Produce -> consume latency through the helpers, for the quotes and the trades profile.

Two producer processes (ASX and Binance) each send 10,000 records/s, paced in ~0.5 ms steps; one
consumer process with the low-latency profile reads both topics. Latency is the consumer's clock
when the handler gets the decoded record minus the record's ingest_time, stamped just before
produce() (one machine, one clock). The first second is warm-up and not counted. CPU use of the
machine, the broker and the three client processes is taken over the sending time.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from array import array
from typing import Any

from bench import cpu
from bench.data import record, symbols
from k2infra.clients import DataType, MarketDataConsumer, MarketRecord, StackOutputs, get_producer

EXCHANGES = {"asx": "equities", "binance": "crypto"}


def measure(outputs: StackOutputs, data_type: DataType, broker_pids: list[int], rate: int | dict[str, int] = 10_000,
            seconds: float = 6.0, warm_up: float = 1.0, producer_config: dict[str, Any] | None = None,
            consumer_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """`rate`: records/s for each exchange, or exchange -> records/s (the design's: asx 2,500, binance 3,000)."""
    rates = rate if isinstance(rate, dict) else dict.fromkeys(EXCHANGES, rate)
    ctx = mp.get_context("spawn")
    results, ready, producers_done = ctx.Queue(), ctx.Event(), ctx.Event()
    topics = [f"market.{ac}.{data_type}.{ex}" for ex, ac in EXCHANGES.items()]
    consumer = ctx.Process(target=_consume, args=(outputs, topics, ready, producers_done, results,
                                                  consumer_config or {}))
    consumer.start()
    if not ready.wait(60):
        raise RuntimeError("the latency consumer did not get its partitions within 60 s")
    start = time.time() + 1.0  # both producers start on the same tick
    producers = [ctx.Process(target=_produce, args=(outputs, data_type, ex, ac, rates[ex], start, seconds, results,
                                                    producer_config or {})) for ex, ac in EXCHANGES.items()]
    for p in producers:
        p.start()
    usage: dict[str, Any] = cpu_while_sending(start, seconds, broker_pids, {
        "consumer": [consumer.pid or 0], "producers": [p.pid or 0 for p in producers]})
    reports = [results.get(timeout=seconds + 60) for _ in producers]
    producers_done.set()
    stamps, latencies = results.get(timeout=120)
    for p in (*producers, consumer):
        p.join(30)
    counted = sorted(lat for at, lat in zip(stamps, latencies, strict=True) if at >= start + warm_up)
    sent = sum(r["sent"] for r in reports)
    window = usage.pop("window_s")
    in_window = max(sent * window / seconds, 1)  # records sent while the CPU was measured
    usage["cpu_ms_per_1000_records"] = {role: round(usage.pop(f"{role}_cpu_s") * 1e6 / in_window, 1)
                                        for role in ("producers", "consumer", "broker")}
    return {
        "profile": str(data_type), "producer_config": producer_config or {},
        "consumer_config": consumer_config or {}, "topics": topics,
        "target_per_second": rates, "seconds": seconds, "producers": reports,
        "sent": sent, "received": len(latencies), "counted_after_warm_up": len(counted),
        "latency_ms": latency_ms(counted),
        "cpu": usage,
    }


def cpu_while_sending(start: float, seconds: float, broker: list[int],
                       clients: dict[str, list[int]]) -> dict[str, float]:
    while time.time() < start:
        time.sleep(0.01)
    window = seconds - 0.5  # the sending time, without the clients' exits
    watched = {"broker": broker, **clients}
    before = {role: cpu.snapshot(pids) for role, pids in watched.items()}
    time.sleep(window)
    after = {role: cpu.snapshot(pids) for role, pids in watched.items()}
    everyone = [pid for pids in clients.values() for pid in pids]
    return {"machine_busy_percent": cpu.machine_busy(before["broker"], after["broker"]),
            "broker_percent_of_one_core": cpu.process_share(before["broker"], after["broker"], window),
            "clients_percent_of_one_core": round(sum(cpu.process_share(before[r], after[r], window)
                                                     for r in clients), 1),
            "window_s": window, "client_pids": len(everyone),
            **{f"{role}_cpu_s": after[role].processes - before[role].processes for role in watched}}


def latency_ms(ordered: list[float]) -> dict[str, float | None]:
    """p50 / p99 / p99.9 / max of sorted latencies."""
    return {"p50": percentile(ordered, 50), "p99": percentile(ordered, 99), "p99_9": percentile(ordered, 99.9),
            "max": round(ordered[-1], 3) if ordered else None}


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * p / 100))], 3)


def _produce(outputs: StackOutputs, data_type: DataType, exchange: str, asset_class: str, rate: int,
             start: float, seconds: float, results: Any, config: dict[str, Any]) -> None:
    names = symbols(exchange, 500)
    producer = get_producer(data_type, outputs, config=config)
    topic = producer.topic(asset_class, exchange)
    producer.produce(topic, record(str(data_type), names[0], exchange, 0))  # connect before the clock starts
    producer.flush(30)
    while time.time() < start:
        time.sleep(0.001)
    sent, end = 0, start + seconds
    while (now := time.time()) < end:
        due = int((now - start) * rate)
        while sent < due:
            values = record(str(data_type), names[sent % len(names)], exchange, sent // len(names) + 1)
            values["ingest_time"] = time.time_ns() // 1000
            producer.produce(topic, values)
            sent += 1
        time.sleep(0.0005)
    stats = producer.close()
    results.put({"exchange": exchange, "sent": sent, "per_second": round(sent / seconds), "failed": stats.failed})


def _consume(outputs: StackOutputs, topics: list[str], ready: Any, producers_done: Any, results: Any,
             config: dict[str, Any]) -> None:
    stamps, latencies = array("d"), array("d")

    def handle(record: MarketRecord) -> None:
        ingest = record.value["ingest_time"].timestamp()  # type: ignore[index]  # never a tombstone here
        latencies.append((time.time() - ingest) * 1000)
        stamps.append(ingest)

    consumer = MarketDataConsumer(outputs, f"latency-{uuid.uuid4().hex[:8]}", topics, auto_offset_reset="latest",
                                  config=config)
    while len(consumer.assignment()) < 2:
        consumer.process(handle, 0.1)
    for _ in range(5):  # let the start offsets resolve before the producers begin
        consumer.process(handle, 0.1)
    ready.set()
    while not producers_done.is_set():
        consumer.process(handle, 0.1)
    consumer.run(handle, idle_timeout=2.0, poll_timeout=0.1)
    consumer.close()
    results.put((list(stamps), list(latencies)))
