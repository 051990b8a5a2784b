"""Benchmark the app helpers on a local Kafka + registry it starts and always stops.

    . scripts/env.sh && python bench/clients_bench.py

Writes bench/results/clients.json and bench/RESULTS.md. Takes about two minutes on 2 cores.
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `bench` and `k2infra`

import confluent_kafka

from bench import latency, report, selective, throughput
from bench.stack import deploy
from k2infra.clients import DataType
from k2infra.local import LocalPlatform

# The design's two profiles at the asked rate; then quotes with a 5 ms linger, because on 2 cores the
# broker's cost per batch decides the latency and linger 0 means about one record per batch and
# partition; and quotes at a tenth of the rate, where the machine is not saturated.
LATENCY_RUNS = [(DataType.QUOTES, 10_000, None), (DataType.TRADES, 10_000, None),
                (DataType.QUOTES, 10_000, {"linger.ms": 5}), (DataType.QUOTES, 1_000, None)]


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="k2-bench-") as tmp:
        platform = LocalPlatform(Path(tmp) / "platform")
        state = platform.up(nodes=1, kafka_port=None, registry_port=None)
        try:
            outputs = deploy(state, {selective.FLAT_TOPIC: selective.FLAT_PARTITIONS})
            env = environment()
            step("selective consumption")  # first: its consumers read the ASX trades topic from the start
            selective_result = selective.measure(outputs)
            step("throughput")
            throughput_result = throughput.measure(outputs)
            latencies = []
            for data_type, rate, variant in LATENCY_RUNS:
                step(f"latency, {data_type} profile, {rate:,}/s per exchange {variant or ''}")
                latencies.append(latency.measure(outputs, data_type, state.kafka_pids, rate=rate,
                                                 producer_config=variant))
            env["load_after"] = load()
        finally:
            platform.down(wipe=True)
    env["seconds"] = round(time.monotonic() - started)
    results = {"environment": env, "throughput": throughput_result, "latency": latencies,
               "selective": selective_result}
    for path in report.write(results):
        print(f"wrote {path}")
    print(report.markdown(results))


def step(name: str) -> None:
    print(f"==> {name}", flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def environment() -> dict[str, object]:
    return {
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "confluent_kafka": confluent_kafka.version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "kafka": os.environ.get("K2_KAFKA_VERSION", "?"),
        "load_before": load(),
    }


if __name__ == "__main__":
    main()
