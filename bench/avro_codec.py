"""Avro encoding and decoding through the app helpers, before and after the generated codecs, against fastavro.

    . scripts/env.sh && nice -n 19 python bench/avro_codec.py

Pure CPU, no Kafka: the shipped trade and quote schemas, records as bench/data.py makes them. Per schema and
direction, side by side in interleaved rounds (a noisy neighbour slows each alike), the median of the rounds:
- fastavro alone: schemaless_writer into a BytesIO, schemaless_reader from one (what the helpers called before);
- the helpers before: RecordEncoder.encode (checks, then fastavro) and RecordDecoder.decode with fastavro;
- the helpers now: the same calls on the schema's generated writer and reader (k2infra.clients.avro).
Writes bench/results/avro_codec.json and its section of bench/RESULTS.md. About a minute on 2 cores.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `bench` and `k2infra`

import fastavro
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from bench.data import quotes, trades
from bench.report import save
from k2infra.clients import RecordDecoder, RecordEncoder
from k2infra.clients.avro import fastavro_reader
from k2infra.clients.schema_catalog import SubjectSchema

HERE = Path(__file__).parent
BEGIN, END = "<!-- avro_codec: begin -->", "<!-- avro_codec: end -->"
SCHEMA_ID = 7
TOPICS = {"trade": "market.equities.trades.asx", "quote": "market.equities.quotes.asx"}
VARIANTS = {"encode": ["fastavro", "helpers_before", "helpers"], "decode": ["fastavro", "helpers_before", "helpers"]}


class Catalog:
    """The two lookups RecordDecoder makes, without a registry."""

    def __init__(self, schema: SubjectSchema, topic: str):
        self.schema, self.topic = schema, topic

    def writer_schema(self, schema_id: int) -> Any:
        return self.schema.parsed

    def for_topic(self, topic: str) -> SubjectSchema:
        return self.schema


Jobs = dict[str, dict[str, Callable[[], None]]]


def runs(name: str, records: list[dict[str, Any]]) -> tuple[Jobs, float]:
    """Per direction and variant, a function doing the whole job once for every record; the mean value size."""
    parsed = parse_schema(json.loads((HERE.parent / "schemas" / f"{name}.avsc").read_text()))
    subject = SubjectSchema(f"market.equities.{name}s-value", SCHEMA_ID, 1, parsed, "symbol")
    topic = TOPICS[name]
    encoder, before = RecordEncoder(subject), RecordEncoder(subject)
    before._write = None  # the helpers' encoding before the generated writers: checks, then fastavro
    values = [encoder.encode(r) for r in records]
    assert values == [before.encode(r) for r in records]
    decoder, old_decoder = RecordDecoder(Catalog(subject, topic)), RecordDecoder(Catalog(subject, topic))
    old_decoder._plans[topic] = {values[0][:5]: fastavro_reader(parsed)}  # BytesIO + schemaless_reader, as before
    assert [decoder.decode(topic, v) for v in values] == [old_decoder.decode(topic, v) for v in values]

    # Each run drops what it makes, as a producer or consumer does: a list of 20,000 decoded records would cost
    # the cyclic garbage collector more than the decoding.
    def fastavro_encode() -> None:
        for record in records:
            out = io.BytesIO()
            schemaless_writer(out, parsed, record)
            out.getvalue()

    def fastavro_decode() -> None:
        for value in values:
            body = io.BytesIO(value)
            body.seek(5)
            schemaless_reader(body, parsed, None)

    def encode(with_encoder: RecordEncoder) -> Callable[[], None]:
        def run() -> None:
            for record in records:
                with_encoder.encode(record)
        return run

    def decode(with_decoder: RecordDecoder) -> Callable[[], None]:
        def run() -> None:
            for value in values:
                with_decoder.decode(topic, value)
        return run

    return {
        "encode": {"fastavro": fastavro_encode, "helpers_before": encode(before), "helpers": encode(encoder)},
        "decode": {"fastavro": fastavro_decode, "helpers_before": decode(old_decoder), "helpers": decode(decoder)},
    }, round(sum(map(len, values)) / len(values), 1)


def measure(count: int = 20_000, rounds: int = 7) -> dict[str, Any]:
    data = {"trade": trades("asx", count), "quote": quotes("asx", count)}
    made = {name: runs(name, records) for name, records in data.items()}
    jobs = {name: job for name, (job, _) in made.items()}
    seconds: dict[str, dict[str, dict[str, list[float]]]] = {
        name: {d: {v: [] for v in variants} for d, variants in VARIANTS.items()} for name in jobs}
    for _ in range(rounds):
        for name, directions in jobs.items():
            for direction, variants in directions.items():
                for variant, run in variants.items():
                    started = time.perf_counter()
                    run()
                    seconds[name][direction][variant].append(time.perf_counter() - started)
    results: dict[str, Any] = {}
    for name, directions in seconds.items():
        results[name] = {}
        for direction, variants in directions.items():
            median = {v: statistics.median(s) for v, s in variants.items()}
            results[name][direction] = {
                "records_per_second": {v: round(count / m) for v, m in median.items()},
                "microseconds_per_record": {v: round(m / count * 1e6, 2) for v, m in median.items()},
                "per_round_records_per_second": {v: [round(count / x) for x in s] for v, s in variants.items()},
                "helpers_vs_fastavro": round(median["fastavro"] / median["helpers"], 2),
                "helpers_vs_before": round(median["helpers_before"] / median["helpers"], 2),
            }
    return {"records_per_run": count, "rounds": rounds, "mean_value_bytes": {n: size for n, (_, size) in made.items()},
            "results": results}


def environment() -> dict[str, Any]:
    return {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
            "fastavro": fastavro.__version__, "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


LABELS = {
    "encode": {"fastavro": "fastavro alone: `schemaless_writer` into a BytesIO",
               "helpers_before": "helpers before: `RecordEncoder.encode`, checks then fastavro",
               "helpers": "**helpers now: `RecordEncoder.encode`, generated writer**"},
    "decode": {"fastavro": "fastavro alone: `schemaless_reader` from a BytesIO",
               "helpers_before": "helpers before: `RecordDecoder.decode` with fastavro",
               "helpers": "**helpers now: `RecordDecoder.decode`, generated reader**"},
}


def markdown(r: dict[str, Any]) -> str:
    env = r["environment"]
    lines = ["## Avro encoding and decoding (`bench/avro_codec.py`)", "",
             f"`nice -n 19 python bench/avro_codec.py` on {env['date']}: {env['cpus']} cores, Python "
             f"{env['python']}, fastavro {env['fastavro']}; load average {env['load']} before, {env['load_after']} "
             f"after (shared machine). No Kafka: {r['records_per_run']:,} records per run of the shipped trade and "
             f"quote schemas (bench/data.py; mean value {r['mean_value_bytes']['trade']} and "
             f"{r['mean_value_bytes']['quote']} bytes), median of {r['rounds']} interleaved rounds. Raw figures: "
             "[results/avro_codec.json](results/avro_codec.json).",
             "", "| Schema | Direction | Path | Records/s | µs per record |", "| --- | --- | --- | ---: | ---: |"]
    for name, directions in r["results"].items():
        for direction, figures in directions.items():
            for variant, label in LABELS[direction].items():
                lines.append(f"| {name} | {direction} | {label} | {figures['records_per_second'][variant]:,} | "
                             f"{figures['microseconds_per_record'][variant]} |")
    lines += ["", "The helpers now against fastavro alone, and against themselves before: " + "; ".join(
        f"{name} {direction} {f['helpers_vs_fastavro']}× and {f['helpers_vs_before']}×"
        for name, directions in r["results"].items() for direction, f in directions.items()) + ".", ""]
    return "\n".join(lines)


def main() -> None:
    env = environment()
    results = measure()
    env["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results = {"environment": env, **results}
    json_path = HERE / "results" / "avro_codec.json"
    section = markdown(results)
    md_path = save(results, json_path, section, BEGIN, END)
    print(f"wrote {json_path} and {md_path}\n\n{section}")


if __name__ == "__main__":
    main()
