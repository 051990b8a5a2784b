"""Short latency probes on one platform: client, topic and broker settings side by side (exploration, not a report).

    . scripts/env.sh && python bench/latency_probe.py [--seconds 20] [--broker num.io.threads=2 ...] SPEC...

SPEC is `q|t:design|RATE[:key=value...]`: quotes or trades, the design's rates (ASX 2,500/s, Binance 3,000/s) or
RATE per exchange, then settings: `c.KEY=V` for the consumer, `t.KEY=V` for the two topics (set before the run, and
`compression.type` set back to lz4 when a spec does not name it), anything else for the producers. Runs the specs
in order on one platform (repeat a spec to see the run-to-run spread; the first run warms the broker's JIT and
should not be counted) and prints one line per run. `--pin-broker` gives the broker a CPU of its own. `--broker`
adds server.properties lines (the local platform has no such option: this patches KafkaCluster for the probe
only). Nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `bench` and `k2infra`

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from bench import latency
from bench.hot_path import DESIGN_RATES
from bench.stack import deploy
from k2infra.clients import DataType
from k2infra.local import LocalPlatform
from k2infra.local import kafka as local_kafka


def _value(text: str) -> Any:
    return int(text) if text.isdigit() else text


def parse(spec: str) -> tuple[DataType, dict[str, int], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(data type, rates, producer, consumer, topic settings) of one SPEC."""
    kind, rate, *pairs = spec.split(":")
    producer: dict[str, Any] = {}
    consumer: dict[str, Any] = {}
    topic: dict[str, Any] = {"compression.type": "lz4"}
    for pair in pairs:
        key, value = pair.split("=", 1)
        target = {"c.": consumer, "t.": topic}.get(key[:2], producer)
        target[key[2:] if target is not producer else key] = _value(value)
    rates = DESIGN_RATES if rate == "design" else {exchange: int(rate) for exchange in DESIGN_RATES}
    return (DataType.QUOTES if kind == "q" else DataType.TRADES), rates, producer, consumer, topic


def set_topics(bootstrap: str, data_type: DataType, settings: dict[str, Any]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for name in (f"market.equities.{data_type}.asx", f"market.crypto.{data_type}.binance"):
        entries = [ConfigEntry(k, str(v), incremental_operation=AlterConfigOpType.SET) for k, v in settings.items()]
        resource = ConfigResource("topic", name, incremental_configs=entries)
        admin.incremental_alter_configs([resource])[resource].result()


def patch_broker(extra: list[str]) -> None:
    lines = "".join(f"{line}\n" for line in extra)
    original = local_kafka.KafkaCluster._properties
    local_kafka.KafkaCluster._properties = lambda self, node: original(self, node) + lines  # type: ignore[method-assign]


def pin(broker_pids: list[int]) -> None:
    """The broker's threads on the last CPU; this process (and the clients it starts later) on the others."""
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cpus[:-1])
    for pid in broker_pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), {cpus[-1]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--broker", action="append", default=[], help="a server.properties line, key=value")
    parser.add_argument("--pin-broker", action="store_true",
                        help="the broker on the last CPU, this probe and its clients on the others")
    parser.add_argument("specs", nargs="+")
    args = parser.parse_args()
    patch_broker(args.broker)
    with tempfile.TemporaryDirectory(prefix="k2-latency-probe-") as tmp:
        platform = LocalPlatform(Path(tmp) / "platform")
        state = platform.up(nodes=1, kafka_port=None, registry_port=None)
        try:
            outputs = deploy(state, {})
            if args.pin_broker:
                pin(state.kafka_pids)
            for spec in args.specs:
                data_type, rates, producer, consumer, topic = parse(spec)
                set_topics(state.bootstrap_servers, data_type, topic)
                run = latency.measure(outputs, data_type, state.kafka_pids, rate=rates, seconds=args.seconds,
                                      producer_config=producer, consumer_config=consumer)
                ms, cpu = run["latency_ms"], run["cpu"]
                print(f"{spec}  p50 {ms['p50']} p99 {ms['p99']} p99.9 {ms['p99_9']} max {ms['max']} ms; "
                      f"busy {cpu['machine_busy_percent']}%; CPU ms/1,000 records {cpu['cpu_ms_per_1000_records']}",
                      flush=True)
        finally:
            platform.down(wipe=True)


if __name__ == "__main__":
    main()
