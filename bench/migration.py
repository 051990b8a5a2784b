"""Benchmark `k2 migrate run` against a plain byte copy, on a local Kafka + registry it starts and always stops.

    . scripts/env.sh && python bench/migration.py [--records 100000] [--rounds 7]

The same copy loop (k2infra.migration.copier.Copier: consume, produce, commit) runs four ways on the same legacy
trades (Confluent-framed Avro under market.trades.raw-value, the old schema with `qty`, keys EXCHANGE.SYMBOL):

- byte copy: each record's key and value copied as they are (no decoding), to one topic;
- migration: decoded, mapped (rename, drop, the record's timestamp), routed by exchange and re-encoded under the
  shared subject, to the exchange topics;

each with Kafka transactions (the offsets in the same transaction: exactly once) and without (the offsets
committed after a flush: at least once), in interleaved rounds so that a noisy neighbour affects each alike.
Rates count from the first consume to the last commit. Writes bench/results/migration.json and its section of
bench/RESULTS.md. Not part of the test run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `bench`, `k2infra` and `tests`

import confluent_kafka
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from bench.report import save
from k2infra.contracts.outputs import ExchangeInfo, StackOutputs, SubjectInfo, TopicInfo
from k2infra.local import LocalPlatform, PlatformState
from k2infra.migration import Context, Copier, Copy
from k2infra.model import Topology, load_topology
from k2infra.model.legacy import LegacyTarget
from tests.conftest import make_project
from tests.migration.legacy_data import LEGACY_TRADE, framed, legacy_trade, with_mapping

HERE = Path(__file__).parent
ROOT = HERE.parent
LEGACY = "market.trades.raw"
BYTES_TOPIC = "bench.byte-copy"
SYMBOLS = {"ASX": [f"A{i:03d}" for i in range(200)], "Binance": [f"B{i:03d}USDT" for i in range(100)],
           "Coinbase": [f"C{i:03d}-USD" for i in range(50)]}
COINBASE = '      coinbase:\n        name: "Coinbase"\n        partitions: 8\n'
BEGIN, END = "<!-- migration_bench: begin -->", "<!-- migration_bench: end -->"
VARIANTS = ("byte_copy", "byte_copy_transactions", "migration", "migration_transactions")
MINIMAL = "byte_copy_minimal_loop"


class ByteCopy:
    """A transcoder that decodes nothing: the record's key and value, to one topic."""

    target = LegacyTarget(BYTES_TOPIC, "", "", "")

    def transcode(self, key: bytes | None, value: bytes | None, timestamp_ms: int) -> Copy:
        return Copy(self.target, key or b"", value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="k2-bench-migration-") as tmp:
        platform = LocalPlatform(Path(tmp) / "platform")
        state = platform.up(nodes=1, kafka_port=None, registry_port=None)
        try:
            topology = load_topology(make_project(Path(tmp) / "project", with_mapping(
                (ROOT / "topics.yaml").read_text(), COINBASE)) / "topics.yaml", "dev")
            outputs = deploy(state, topology)
            env = environment()
            step(f"legacy trades: {args.records:,}")
            record_bytes = produce_legacy(state, args.records)
            result = measure(topology, outputs, args.records, args.rounds)
            result["record_bytes"] = record_bytes
            env["load_after"] = load()
        finally:
            platform.down(wipe=True)
    env["seconds"] = round(time.monotonic() - started)
    results = {"environment": env, **result}
    write(results)
    print(markdown(results))


def deploy(platform: PlatformState, topology: Topology) -> StackOutputs:
    """What `pulumi up` would make: the exchange topics and subjects; plus the legacy and byte-copy topics."""
    admin = AdminClient({"bootstrap.servers": platform.bootstrap_servers})
    new = [NewTopic(t.name, t.partitions, 1, config=dict(t.config)) for t in topology.topics]
    new += [NewTopic(LEGACY, 6, 1), NewTopic(BYTES_TOPIC, 30, 1, config={"compression.type": "lz4"})]
    for future in admin.create_topics(new).values():
        future.result(timeout=60)
    registry = SchemaRegistryClient({"url": platform.schema_registry_url})
    subjects = []
    for s in topology.subjects:
        registry.register_schema(s.subject, Schema(s.schema, "AVRO"))
        latest = registry.get_latest_version(s.subject)
        subjects.append(SubjectInfo.model_validate({**s.to_dict(), "schema_id": latest.schema_id,
                                                    "version": latest.version}))
    return StackOutputs(
        environment=topology.environment, stack="bench", bootstrap_servers=platform.bootstrap_servers,
        schema_registry_url=platform.schema_registry_url,
        topics=tuple(TopicInfo.model_validate(t.to_dict()) for t in topology.topics),
        subjects=tuple(subjects), exchanges=tuple(ExchangeInfo.model_validate(e.to_dict()) for e in topology.exchanges),
    ).from_source("bench deployment")


def produce_legacy(platform: PlatformState, count: int) -> float:
    """Legacy trades as the old producers wrote them (framed under the legacy subject's id)."""
    registry = SchemaRegistryClient({"url": platform.schema_registry_url})
    schema_id = registry.register_schema(f"{LEGACY}-value", Schema(json.dumps(LEGACY_TRADE), "AVRO"))
    keys = [(exchange, symbol) for exchange, symbols in SYMBOLS.items() for symbol in symbols]
    producer = Producer({"bootstrap.servers": platform.bootstrap_servers, "linger.ms": 20,
                         "compression.type": "lz4", "queue.buffering.max.messages": 1_000_000})
    size = 0
    for i in range(count):
        exchange, symbol = keys[i % len(keys)]
        value = framed(schema_id, LEGACY_TRADE, legacy_trade(symbol, exchange, i // len(keys)))
        size += len(value)
        while True:
            try:
                producer.produce(LEGACY, value, f"{exchange}.{symbol}".encode())
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(120) == 0
    return round(size / count, 1)


def measure(topology: Topology, outputs: StackOutputs, count: int, rounds: int) -> dict[str, Any]:
    rates: dict[str, list[float]] = {v: [] for v in (*VARIANTS, MINIMAL)}
    transactions: dict[str, list[int]] = {v: [] for v in VARIANTS}
    for number in range(rounds):
        step(f"round {number + 1}: {MINIMAL}")
        rates[MINIMAL].append(minimal_copy(outputs, count, f"bench-minimal-{number}"))
        for variant in VARIANTS:
            step(f"round {number + 1}: {variant}")
            ctx = Context.deployed(topology, "bench", outputs, group=f"bench-{variant}-{number}")
            legacy = next(t for t in ctx.legacy if t.name == LEGACY)
            transcoders: Any = ({LEGACY: ByteCopy()} if variant.startswith("byte_copy")
                                else {LEGACY: ctx.transcoders()[LEGACY]})
            copier = Copier(ctx, {legacy.name: 6}, transcoders, transactional=variant.endswith("transactions"),
                            progress_every=5.0)
            result = copier.run()
            assert result.records == count and result.stopped_at is None, result
            rates[variant].append(result.records / result.seconds)
            transactions[variant].append(result.transactions)
    median = {v: round(statistics.median(r)) for v, r in rates.items()}
    per_round = [m / c for m, c in zip(rates["migration_transactions"], rates["byte_copy"], strict=True)]
    return {
        "records_per_run": count, "rounds": rounds,
        "rates_per_second": {v: [round(r) for r in values] for v, values in rates.items()},
        "transactions_per_run": transactions,
        "median_per_second": median,
        "migration_vs_byte_copy": round(median["migration_transactions"] / median["byte_copy"], 3),
        "migration_vs_byte_copy_transactions": round(median["migration_transactions"]
                                                      / median["byte_copy_transactions"], 3),
        "migration_vs_minimal_loop": round(median["migration_transactions"] / median[MINIMAL], 3),
        "migration_vs_byte_copy_per_round": [round(r, 3) for r in per_round],
        "migration_vs_byte_copy_median_of_rounds": round(statistics.median(per_round), 3),
        "transaction_overhead_byte_copy": round(1 - median["byte_copy_transactions"] / median["byte_copy"], 3),
        "transaction_overhead_migration": round(1 - median["migration_transactions"] / median["migration"], 3),
        "transcode_only_per_second": transcode_only(topology, outputs, count),
    }


def minimal_copy(outputs: StackOutputs, count: int, group: str) -> float:
    """The plainest byte copy: consume, produce key, value and timestamp (no headers, no accounting), the offsets
    committed after a flush every 0.5 s; the same producer settings as the copier."""
    from confluent_kafka import Consumer, TopicPartition

    from k2infra.clients.profiles import kafka_config
    from k2infra.migration.copier import PRODUCER

    conf = kafka_config(outputs)
    producer = Producer({**conf, **PRODUCER})
    consumer = Consumer({**conf, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "isolation.level": "read_committed", "fetch.max.bytes": 52_428_800,
                         "queued.min.messages": 200_000})
    consumer.assign([TopicPartition(LEGACY, p, 0) for p in range(6)])
    copied, positions, started = 0, {}, time.monotonic()
    last_commit = started
    produce = producer.produce
    while copied < count:
        for message in consumer.consume(10_000, 0.2):
            if message.error():
                continue
            try:
                produce(BYTES_TOPIC, message.value(), message.key(), timestamp=message.timestamp()[1])
            except BufferError:
                producer.poll(0.05)
                produce(BYTES_TOPIC, message.value(), message.key(), timestamp=message.timestamp()[1])
            positions[message.partition()] = message.offset() + 1
            copied += 1
        if time.monotonic() - last_commit >= 0.5 or copied >= count:
            producer.flush(60)
            consumer.commit(offsets=[TopicPartition(LEGACY, p, o) for p, o in positions.items()], asynchronous=False)
            last_commit = time.monotonic()
    seconds = time.monotonic() - started
    consumer.close()
    return copied / seconds


def transcode_only(topology: Topology, outputs: StackOutputs, count: int) -> int:
    """Decode, map and encode alone, no Kafka: the bound for the migration in Python."""
    ctx = Context.deployed(topology, "bench", outputs)
    transcoder = ctx.transcoders()[LEGACY]
    schema_id = SchemaRegistryClient({"url": outputs.schema_registry_url}).get_latest_version(
        f"{LEGACY}-value").schema_id
    keys = [(e, s) for e, symbols in SYMBOLS.items() for s in symbols]
    values = [(f"{e}.{s}".encode(), framed(schema_id, LEGACY_TRADE, legacy_trade(s, e, i)))
              for i, (e, s) in enumerate(keys * 20)][: min(count, 7000)]
    transcoder.transcode(*values[0], 0)
    started = time.perf_counter()
    for key, value in values * 5:
        transcoder.transcode(key, value, 1_767_225_600_000)
    return round(5 * len(values) / (time.perf_counter() - started))


def environment() -> dict[str, Any]:
    return {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "kafka": os.environ.get(
            "K2_KAFKA_VERSION", "?"), "librdkafka": confluent_kafka.libversion()[0], "load_before": load()}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def write(results: dict[str, Any]) -> None:
    json_path = HERE / "results" / "migration.json"
    md_path = save(results, json_path, markdown(results), BEGIN, END)
    print(f"wrote {json_path} and {md_path}")


def markdown(r: dict[str, Any]) -> str:
    env, rate = r["environment"], r["median_per_second"]
    labels = {
        "byte_copy": "**byte copy**: consume + produce in the copier (source headers, no decoding), offsets "
                     "committed after a flush",
        "byte_copy_transactions": "byte copy, Kafka transactions (offsets in the transaction)",
        "migration": "migration: route, check, rewrite into the shared schema; offsets committed after a flush",
        "migration_transactions": "**migration, Kafka transactions: `k2 migrate run`** (exactly once)",
    }
    base = rate["byte_copy"]

    def ratio(baseline: str) -> float:
        return rate["migration_transactions"] / rate[baseline]

    lines = [
        "## Legacy migration (`bench/migration.py`)",
        "",
        f"`python bench/migration.py` on {env['date']}: {env['cpus']} cores, one Kafka {env['kafka']} broker and "
        f"Apicurio on 127.0.0.1, librdkafka {env['librdkafka']}; load average {env['load_before']} before, "
        f"{env['load_after']} after (the machine is shared with other work). {r['records_per_run']:,} legacy trades "
        f"(Avro, {r['record_bytes']} bytes each, 350 symbols of ASX, Binance and Coinbase) per run, median of "
        f"{r['rounds']} interleaved rounds; the same copy loop in each. Raw figures: "
        "[results/migration.json](results/migration.json).",
        "",
        "| Copy | Records/s | vs byte copy |",
        "| --- | ---: | ---: |",
    ]
    lines.append(f"| the plainest loop: consume, produce key, value, timestamp; no headers, no accounting | "
                 f"{rate[MINIMAL]:,} | {rate[MINIMAL] / base:.0%} |")
    for variant in VARIANTS:
        lines.append(f"| {labels[variant]} | {rate[variant]:,} | {rate[variant] / base:.0%} |")
    lines += [
        f"| transcoding alone, no Kafka (the fast path; the bound for the migration in Python) | "
        f"{r['transcode_only_per_second']:,} | |",
        "",
        f"Migration with transactions against the plain byte copy: **{ratio('byte_copy'):.0%}** (goal: 50% "
        f"or better); against the byte copy with transactions: {ratio('byte_copy_transactions'):.0%}; "
        f"against the plainest loop: {ratio(MINIMAL):.0%}. Per round (against the byte copy of the "
        f"same round): {', '.join(f'{x:.0%}' for x in r['migration_vs_byte_copy_per_round'])}. "
        f"Transaction overhead: {r['transaction_overhead_byte_copy']:.0%} for the byte copy, "
        f"{r['transaction_overhead_migration']:.0%} for the migration (a transaction commits every 0.5 s or 50,000 "
        "records).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
