"""Produce -> consume latency at the design's rates: K2's client profiles beside batched settings, interleaved.

    . scripts/env.sh && python bench/hot_path.py [--seconds 60]

On one local broker and registry (the same 2 cores as the clients), for each scenario of issue 21 (quotes at the
design's rates, ASX 2,500/s and Binance 3,000/s; quotes at 10,000/s per exchange; trades at the design's rates) it
runs bench/latency.py's measurement twice: with the helpers' profiles (k2infra.clients.profiles, the design's
values) and with BATCHED, fewer and larger requests for the same records, `--seconds` each after a warm-up run that
is not counted (the broker's JIT). Reports p50 / p99 / p99.9 / max and CPU per 1,000 records of the producers, the
consumer and the broker.

Writes bench/results/hot_path.json and a section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `bench` and `k2infra`

import confluent_kafka

from bench import latency
from bench.report import save
from bench.stack import deploy
from k2infra.clients import DataType
from k2infra.clients.profiles import LOW_LATENCY_CONSUMER, producer_profile
from k2infra.local import LocalPlatform

HERE = Path(__file__).parent
RESULTS_JSON = HERE / "results" / "hot_path.json"
BEGIN, END = "<!-- hot_path: begin -->", "<!-- hot_path: end -->"
DESIGN_RATES = {"asx": 2_500, "binance": 3_000}
SCENARIOS = [("quotes at the design's rates", DataType.QUOTES, DESIGN_RATES),
             ("quotes at 10,000/s per exchange", DataType.QUOTES, {"asx": 10_000, "binance": 10_000}),
             ("trades at the design's rates (acks=all)", DataType.TRADES, DESIGN_RATES)]


# Fewer requests for the same records: the producers put a few partitions' batches in each request (at these
# rates a partition batch holds one record either way), and the consumer's fetch waits up to 2 ms for more data
# instead of returning with the first record (each fetch walks all 70 partitions: librdkafka has no incremental
# fetch sessions).
BATCHED = ({"linger.ms": 1}, {"fetch.min.bytes": 65536, "fetch.wait.max.ms": 2})
VARIANTS = ("profiles", "batched")


def settings(which: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(producer overrides, consumer overrides) for the helpers: none (their profiles), or BATCHED."""
    return (dict(BATCHED[0]), dict(BATCHED[1])) if which == "batched" else ({}, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--report", action="store_true", help="rewrite the table from results/hot_path.json only")
    args = parser.parse_args()
    if args.report:
        results = json.loads(RESULTS_JSON.read_text())
        write(results)
        print(markdown(results))
        return
    load = lambda: " ".join(f"{x:.2f}" for x in os.getloadavg())  # noqa: E731
    env = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "kafka": os.environ.get(
        "K2_KAFKA_VERSION", "?"), "librdkafka": confluent_kafka.libversion()[0], "load_before": load(),
        "seconds_each": args.seconds}
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="k2-hot-path-") as tmp:
        platform = LocalPlatform(Path(tmp) / "platform")
        state = platform.up(nodes=1, kafka_port=None, registry_port=None)
        try:
            outputs = deploy(state, {})
            print("==> warm-up (not counted)", flush=True)
            latency.measure(outputs, DataType.QUOTES, state.kafka_pids, rate=DESIGN_RATES, seconds=15)
            for name, data_type, rates in SCENARIOS:
                for which in VARIANTS:
                    producer, consumer = settings(which)
                    print(f"==> {name}: {which} settings, {args.seconds:.0f} s", flush=True)
                    result = latency.measure(outputs, data_type, state.kafka_pids, rate=rates, seconds=args.seconds,
                                             producer_config=producer, consumer_config=consumer)
                    runs.append({"scenario": name, "settings": which, **result,
                                 "producer_profile": {**producer_profile(str(data_type)).config, **producer},
                                 "consumer_profile": {**LOW_LATENCY_CONSUMER, **consumer}})
                    print("    " + row(runs[-1]), flush=True)
        finally:
            platform.down(wipe=True)
    env["load_after"] = load()
    env["seconds"] = round(time.monotonic() - started)
    results = {"environment": env, "runs": runs}
    write(results)
    print(markdown(results))


def row(run: dict[str, Any]) -> str:
    ms, use = run["latency_ms"], run["cpu"]
    per = use["cpu_ms_per_1000_records"]
    return (f"| {run['scenario']} | {run['settings']} | {run['sent'] / run['seconds']:,.0f} | "
            f"{run['counted_after_warm_up']:,} | {ms['p50']} | {ms['p99']} | {ms['p99_9']} | {ms['max']} | "
            f"{per['producers']} | {per['consumer']} | {per['broker']} | {use['machine_busy_percent']:.0f}% |")


def markdown(r: dict[str, Any]) -> str:
    env = r["environment"]
    lines = [
        "## Hot path: produce -> consume latency at the design's rates (`bench/hot_path.py`)",
        "",
        f"`python bench/hot_path.py` on {env['date']}: {env['cpus']} cores shared by one Kafka {env['kafka']} broker, "
        f"the registry and the three client processes (two producers, one consumer), librdkafka {env['librdkafka']}; "
        f"{env['seconds_each']:.0f} s per run after a warm-up run; load average {env['load_before']} before, "
        f"{env['load_after']} after. Latency: the consumer's clock when the handler has the decoded record minus the "
        "record's ingest_time, stamped just before produce(). Raw figures: "
        "[results/hot_path.json](results/hot_path.json).",
        "",
        "| Scenario | Client settings | Sent/s | Counted | p50 ms | p99 ms | p99.9 ms | max ms | "
        "CPU ms / 1,000 records: producers | consumer | broker | machine busy |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(row(run) for run in r["runs"]),
        "",
        "batched: " + ", ".join(f"`{k}` {v}" for k, v in {**BATCHED[0], **BATCHED[1]}.items())
        + " (the profiles: quotes `linger.ms` 0, trades 1; `fetch.min.bytes` 1, `fetch.wait.max.ms` 100).",
    ]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any]) -> None:
    save(results, RESULTS_JSON, markdown(results), BEGIN, END)


if __name__ == "__main__":
    main()
