"""How long one scrape of `k2 monitor exporter` takes, against partitions and consumer groups, on a real Kafka.

Starts its own Kafka and registry (k2infra.local.LocalPlatform in a temporary directory, always stopped),
creates up to 3,000 partitions (topics of 100 partitions, 10 messages each), registers the shipped six
subjects, and commits offsets for up to 20 consumer groups on every partition (the worst case: each group
reads everything). For each size it serves the exporter on a free port and times GET /metrics, as Prometheus
does, after two warm-up scrapes; it also times the parts: the Kafka sample (one batch of admin calls), the
registry check (the exporter runs it alongside the Kafka sample), and building the text. Scrapes ask for
gzip, as Prometheus does; the default exporter settings (no per-group-partition current offset; earliest
offsets reread every 30 s, so most scrapes reuse them).

    . scripts/env.sh && python bench/monitoring_scrape.py [--partitions 100 1000 3000] [--groups 0 5 20]

Writes bench/results/monitoring_scrape.json and its section of bench/RESULTS.md, and prints the table.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `k2infra`

import confluent_kafka
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from bench.report import save
from k2infra.contracts.outputs import StackOutputs, SubjectInfo, TopicInfo
from k2infra.local import LocalPlatform, PlatformState
from k2infra.local.processes import free_ports
from k2infra.model import load_topology
from k2infra.monitoring.exporter import K2Collector, metrics, serve
from k2infra.monitoring.exposition import render
from k2infra.monitoring.registry import SubjectChecker
from k2infra.monitoring.sample import ClusterSampler
from k2infra.monitoring.target import Target

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "monitoring_scrape.json"
PER_TOPIC = 100
MESSAGES_PER_PARTITION = 10
SCRAPES = 15  # per size, in ROUNDS interleaved rounds
ROUNDS = 3
BEGIN, END = "<!-- monitoring_scrape: begin -->", "<!-- monitoring_scrape: end -->"


def topic(i: int) -> str:
    return f"market.equities.trades.bx{i:03d}"


def prepare(state: PlatformState, partitions: int, groups: int) -> list[SubjectInfo]:
    admin = AdminClient({"bootstrap.servers": state.bootstrap_servers})
    count = partitions // PER_TOPIC
    for future in admin.create_topics([NewTopic(topic(i), PER_TOPIC, 1) for i in range(count)],
                                      operation_timeout=120).values():
        future.result(timeout=180)
    producer = Producer({"bootstrap.servers": state.bootstrap_servers, "linger.ms": 20, "log_level": 0})
    for i in range(count):
        for p in range(PER_TOPIC):
            for _ in range(MESSAGES_PER_PARTITION):
                producer.produce(topic(i), value=b"x", partition=p)
        producer.poll(0)
    assert producer.flush(120) == 0
    offsets = [TopicPartition(topic(i), p, MESSAGES_PER_PARTITION // 2) for i in range(count) for p in range(PER_TOPIC)]
    for g in range(groups):
        consumer = Consumer({"bootstrap.servers": state.bootstrap_servers, "group.id": f"bench-{g:02d}",
                             "enable.auto.commit": False, "log_level": 0})
        deadline = time.monotonic() + 120
        while True:  # the first commits wait for __consumer_offsets and its coordinator
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
                break
            except confluent_kafka.KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        consumer.close()
    registry = SchemaRegistryClient({"url": state.schema_registry_url})
    subjects = []
    for s in load_topology(ROOT / "topics.yaml", "dev").subjects:
        registry.register_schema(s.subject, Schema(s.schema, "AVRO"))
        latest = registry.get_latest_version(s.subject)
        subjects.append(SubjectInfo.model_validate({**s.to_dict(), "schema_id": latest.schema_id,
                                                    "version": latest.version}))
    return subjects


def target(state: PlatformState, partitions: int, subjects: list[SubjectInfo]) -> Target:
    topics = [TopicInfo(name=topic(i), asset_class="equities", data_type="trades", exchange=f"bx{i:03d}",
                        partitions=PER_TOPIC) for i in range(partitions // PER_TOPIC)]
    return Target(StackOutputs(environment="bench", stack="bench", bootstrap_servers=state.bootstrap_servers,
                               schema_registry_url=state.schema_registry_url, topics=tuple(topics),
                               subjects=tuple(subjects)))


class Exporter:
    """One exporter (collector + HTTP server) for one size, kept up across the rounds."""

    def __init__(self, t: Target, groups: int):
        pattern = "^$" if groups == 0 else "^bench-(" + "|".join(f"{g:02d}" for g in range(groups)) + ")$"
        self.target, self.groups = t, groups
        self.sampler = ClusterSampler(t.kafka_conf(), timeout=30, groups=pattern)
        self.checker = SubjectChecker(t.registry()[0], timeout=30)
        (port,) = free_ports(1)
        self.server = serve(K2Collector(t, self.sampler, self.checker), port, "127.0.0.1")
        self.request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                              headers={"Accept-Encoding": "gzip"})  # as Prometheus asks
        self.times: dict[str, list[float]] = {k: [] for k in ("scrape", "cpu", "kafka", "registry", "text")}
        self.size = (0, 0)

    def scrape(self, keep: bool) -> None:
        cpu, started = time.process_time(), time.perf_counter()
        with urllib.request.urlopen(self.request, timeout=120) as reply:
            body = reply.read()
        took, cpu = time.perf_counter() - started, time.process_time() - cpu  # this process: the exporter
        names = [x.name for x in self.target.topics]
        started = time.perf_counter()
        snapshot = self.sampler.sample(names)
        sampled = time.perf_counter()
        states = self.checker.check(self.target.subjects)
        checked = time.perf_counter()
        text = render(metrics(self.target, snapshot, states, True))
        rendered = time.perf_counter()
        assert snapshot.up and not snapshot.problems, snapshot.error or snapshot.problems
        assert len(snapshot.committed) == self.groups, (len(snapshot.committed), self.groups)
        if keep:
            for key, value in (("scrape", took), ("cpu", cpu), ("kafka", sampled - started),
                               ("registry", checked - sampled), ("text", rendered - checked)):
                self.times[key].append(value)
            self.size = (len(body), sum(1 for line in text.splitlines() if not line.startswith(b"#")))

    def result(self) -> dict[str, Any]:
        return {"scrape_seconds": _summary(self.times["scrape"]), "cpu_seconds": _summary(self.times["cpu"]),
                "kafka_sample_seconds": _summary(self.times["kafka"]),
                "registry_seconds": _summary(self.times["registry"]), "render_seconds": _summary(self.times["text"]),
                "gzipped_bytes": self.size[0], "samples": self.size[1]}

    def close(self) -> None:
        self.server.stop()
        self.checker.close()


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 4), "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 4),
            "max": round(ordered[-1], 4)}


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares seconds per partition."""
    xs, ys = [p for p, _ in points], [s for _, s in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[100, 1000, 2000, 3000])
    parser.add_argument("--groups", type=int, nargs="+", default=[0, 5, 20])
    args = parser.parse_args()
    started, load_before = time.monotonic(), _load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="k2-bench-scrape-") as tmp:
        platform = LocalPlatform(Path(tmp) / "platform")
        state = platform.up(nodes=1, kafka_port=None, registry_port=None)
        try:
            print(f"==> {max(args.partitions):,} partitions, {max(args.groups)} groups", flush=True)
            subjects = prepare(state, max(args.partitions), max(args.groups))
            exporters = [Exporter(target(state, p, subjects), g) for p in args.partitions for g in args.groups]
            try:
                for e in exporters:  # warm-up
                    e.scrape(keep=False)
                    e.scrape(keep=False)
                for round_ in range(ROUNDS):  # interleaved, so that a busy spell of the machine hits every size
                    print(f"==> round {round_ + 1} of {ROUNDS}", flush=True)
                    for e in exporters:
                        for _ in range(SCRAPES // ROUNDS):
                            e.scrape(keep=True)
                rows = [{"partitions": sum(t.partitions for t in e.target.outputs.topics), "groups": e.groups,
                         **e.result()} for e in exporters]
            finally:
                for e in exporters:
                    e.close()
        finally:
            platform.down(wipe=True)
    per_partition = {str(g): {key: round(slope([(r["partitions"], r[key]["median"]) for r in rows
                                                if r["groups"] == g]) * 1e6, 1)
                              for key in ("scrape_seconds", "cpu_seconds")} for g in args.groups}
    results = {"environment": {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(),
                               "python": sys.version.split()[0], "librdkafka": confluent_kafka.libversion()[0],
                               "kafka": os.environ.get("K2_KAFKA_VERSION", "?"), "load_before": load_before,
                               "load_after": _load(), "seconds": round(time.monotonic() - started)},
               "setup": {"partitions_per_topic": PER_TOPIC, "messages_per_partition": MESSAGES_PER_PARTITION,
                         "groups_commit_on_every_partition": True, "subjects": 6, "scrapes": SCRAPES,
                         "rounds": ROUNDS},
               "rows": rows, "microseconds_per_partition": per_partition}
    section = markdown(results)
    md = save(results, RESULTS, section, BEGIN, END)
    print(f"wrote {RESULTS} and {md}\n\n{section}")


def markdown(r: dict[str, Any]) -> str:
    env, rows = r["environment"], r["rows"]
    lines = [
        "## Exporter scrape time (`bench/monitoring_scrape.py`)", "",
        f"`python bench/monitoring_scrape.py` on {env['date']}: {env['cpus']} cores, one Kafka {env['kafka']} broker "
        f"and Apicurio on 127.0.0.1, librdkafka {env['librdkafka']}; load average {env['load_before']} before, "
        f"{env['load_after']} after (shared machine). Topics of {r['setup']['partitions_per_topic']} partitions; each "
        "group has committed offsets on every partition; 6 subjects checked in the registry. One scrape = GET "
        f"/metrics as Prometheus does it (gzip), median of {r['setup']['scrapes']} in {r['setup']['rounds']} "
        "interleaved rounds (p90 in brackets); exporter CPU: the exporter's own CPU time for the scrape. Raw figures: "
        "[results/monitoring_scrape.json](results/monitoring_scrape.json).", "",
        "| partitions | groups | samples exposed | scrape (p90) | exporter CPU | Kafka sample | registry (in parallel) "
        "| text |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(f"| {row['partitions']:,} | {row['groups']} | {row['samples']:,} | "
                     f"{_ms(row['scrape_seconds']['median'])} ({_ms(row['scrape_seconds']['p90'])}) | "
                     f"{_ms(row['cpu_seconds']['median'])} | "
                     f"{_ms(row['kafka_sample_seconds']['median'])} | {_ms(row['registry_seconds']['median'])} | "
                     f"{_ms(row['render_seconds']['median'])} |")
    cost = "; ".join(f"{g} groups: {us['scrape_seconds']} µs of scrape time, {us['cpu_seconds']} µs of exporter CPU"
                     for g, us in r["microseconds_per_partition"].items())
    lines += ["", f"Cost per partition (least-squares slope over the sizes): {cost}.", ""]
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
