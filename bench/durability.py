"""Durability under failure on a three-node KRaft cluster with the prod settings (replication 3, min ISR 2).

    . scripts/env.sh && python bench/durability.py [--trades-rate 2000] [--quotes-rate 2000]

The trades profile (acks=all, idempotent) and the quotes profile (acks=1) produce steadily through the app
helpers (get_producer on load_stack_outputs(topics.yaml).with_cluster(...)), each record numbered per symbol,
the symbols Zipf-weighted so a few partitions are the busiest. In each run the broker that leads the busiest
trades partitions is killed with SIGKILL, producing goes on, the broker is restarted and the cluster waits
until every partition is fully replicated again; the next run kills a different broker. A consumer then reads
both topics back and every acknowledged record is looked up: present, once, in per-symbol order. The producer's
stall at failover is the longest time without any acknowledgement after the kill, and the failover the time
until a partition the killed broker led acknowledged a record sent after the kill (its new leader's first).

Writes bench/results/durability.json and a section of bench/RESULTS.md. tests/e2e/test_three_nodes.py runs the same
drill, smaller, and asserts that no acknowledged trade is lost, duplicated or out of order.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `bench` and `k2infra`

from confluent_kafka import KafkaError, Message
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from bench.data import record
from bench.report import save
from k2infra.clients import DataType, MarketRecord, StackOutputs, get_consumer, get_producer, load_stack_outputs
from k2infra.clients.partitioner import partition_for
from k2infra.contracts.failover import BROKER_SETTINGS, KAFKA_DEFAULTS
from k2infra.local import LocalPlatform, PlatformState
from k2infra.model import load_topology
from k2infra.observed.cluster import end_offsets

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent
RESULTS_JSON = HERE / "results" / "durability.json"
BEGIN, END = "<!-- durability: begin -->", "<!-- durability: end -->"
ASSET_CLASS, EXCHANGE = "equities", "asx"
PROFILES = (DataType.TRADES, DataType.QUOTES)
Log = Callable[[str], None]


# --- the cluster ---------------------------------------------------------------------------------


def prepare(state: PlatformState, environment: str = "prod") -> StackOutputs:
    """The ASX trades and quotes topics as the environment derives them (prod: replication 3, min ISR 2) and
    their subjects, without Pulumi; the stack outputs the helpers read, from topics.yaml on this cluster."""
    topology = load_topology(ROOT / "topics.yaml", environment)
    wanted = {f"market.{ASSET_CLASS}.{dt}.{EXCHANGE}" for dt in PROFILES}
    topics = [t for t in topology.topics if t.name in wanted]
    admin = AdminClient(state.client_config())
    new = [NewTopic(t.name, t.partitions, t.replication_factor, config=dict(t.config)) for t in topics]
    for future in admin.create_topics(new, operation_timeout=60).values():
        future.result(timeout=120)
    registry = SchemaRegistryClient({"url": state.schema_registry_url})
    for s in topology.subjects:
        if any(t in wanted for t in s.topics):
            registry.register_schema(s.subject, Schema(s.schema, "AVRO"))
            registry.set_compatibility(s.subject, s.compatibility)
    outputs = load_stack_outputs(ROOT / "topics.yaml", environment=environment)
    return outputs.with_cluster(state.bootstrap_servers, state.schema_registry_url)


def topic_of(data_type: DataType) -> str:
    return f"market.{ASSET_CLASS}.{data_type}.{EXCHANGE}"


def leaders(admin: AdminClient, topic: str) -> dict[int, int]:
    """Partition -> its leader's node id (-1: none right now)."""
    metadata = admin.list_topics(topic, timeout=30)
    return {p: info.leader for p, info in metadata.topics[topic].partitions.items()}


def under_replicated(admin: AdminClient, topics: Iterable[str]) -> int:
    """Partitions whose in-sync replicas are fewer than their replicas (or that have no leader)."""
    metadata = admin.list_topics(timeout=30)
    return sum(1 for t in topics for p in metadata.topics[t].partitions.values()
               if p.leader < 0 or len(p.isrs) < len(p.replicas))


def wait_for(condition: Callable[[], bool], what: str, timeout: float, step: float = 0.5) -> float:
    """Poll until `condition` holds; the seconds it took. A bounded wait: raises TimeoutError naming `what`."""
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except Exception:  # a broker failing over: ask again
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(step)


# --- load ----------------------------------------------------------------------------------------


def symbol_weights(count: int, skew: float = 1.1) -> dict[str, float]:
    """ASX-like symbols, Zipf-weighted: the first few take most trades (BHP, CBA ... in real life)."""
    return {f"AX{i:03d}": 1 / (i + 1) ** skew for i in range(count)}


def partition_load(weights: dict[str, float], partitions: int) -> dict[int, float]:
    """Each partition's share of the records, from the symbols' weights and the helpers' partitioner."""
    load: dict[int, float] = defaultdict(float)
    for symbol, weight in weights.items():
        load[partition_for(symbol, partitions)] += weight / sum(weights.values())
    return dict(load)


@dataclass
class Ack:
    partition: int
    offset: int
    at: float  # monotonic time the acknowledgement was served
    sent_at: float  # monotonic time the record was given to produce()


@dataclass
class SteadyProducer:
    """One profile's producer (the helpers' MarketDataProducer, used from its own thread), sending `rate`
    records/s, each numbered per symbol; every delivery report is kept."""

    outputs: StackOutputs
    data_type: DataType
    rate: int
    weights: dict[str, float]
    seed: int = 7
    sent: list[tuple[str, int, float]] = field(default_factory=list)  # (symbol, seq, monotonic time sent)
    acked: dict[tuple[str, int], Ack] = field(default_factory=dict)
    failed: dict[tuple[str, int], str] = field(default_factory=dict)
    error: BaseException | None = None
    stats: Any = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"produce-{self.data_type}", daemon=True)

    def start(self) -> SteadyProducer:
        self._thread.start()
        return self

    def stop(self, flush_seconds: float = 180) -> None:
        self._flush_seconds = flush_seconds
        self._stop.set()
        self._thread.join(flush_seconds + 60)
        if self._thread.is_alive():
            raise RuntimeError(f"the {self.data_type} producer did not stop within {flush_seconds + 60:.0f}s")
        if self.error is not None:
            raise RuntimeError(f"the {self.data_type} producer failed: {self.error!r}") from self.error

    def acks_after(self, moment: float) -> list[Ack]:
        return [a for a in list(self.acked.values()) if a.at > moment]

    def _run(self) -> None:
        try:
            rng = random.Random(self.seed)
            symbols, weights = list(self.weights), list(self.weights.values())
            seq: Counter[str] = Counter()
            topic = topic_of(self.data_type)
            with get_producer(self.data_type, self.outputs, delivery_reports="all") as producer:
                started = time.monotonic()
                while not self._stop.is_set():
                    due = int((time.monotonic() - started) * self.rate) - len(self.sent)
                    for symbol in rng.choices(symbols, weights, k=max(0, min(due, self.rate // 10 or 1))):
                        seq[symbol] += 1
                        key = (symbol, seq[symbol])
                        body = record(str(self.data_type), symbol, EXCHANGE, seq[symbol])
                        now = time.monotonic()
                        producer.produce(topic, body, on_delivery=self._report(key, now))
                        self.sent.append((symbol, seq[symbol], now))
                    producer.poll(0.005)
                left = producer.flush(getattr(self, "_flush_seconds", 180))
                if left:
                    raise RuntimeError(f"{left} record(s) still unacknowledged after the final flush")
                self.stats = producer.stats
        except BaseException as err:  # surfaced by stop()
            self.error = err

    def _report(self, key: tuple[str, int], sent_at: float) -> Callable[[KafkaError | None, Message], None]:
        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                self.acked[key] = Ack(msg.partition() or 0, msg.offset() or 0, time.monotonic(), sent_at)
            else:
                self.failed[key] = err.str()
        return on_delivery


# --- the drill -----------------------------------------------------------------------------------


@dataclass
class Drill:
    """Kill the busiest leader, keep producing, restart it, wait until fully replicated: `runs` times, each time
    another broker."""

    platform: LocalPlatform
    state: PlatformState
    outputs: StackOutputs
    rates: dict[DataType, int]
    runs: int = 2
    warm_up: float = 3.0  # seconds of steady producing before each kill
    after: float = 2.0  # seconds of producing once acknowledgements resumed, and again after the restart
    symbols: int = 200
    timeout: float = 180.0  # bound of every wait on the cluster
    log: Log = print

    def run(self) -> dict[str, Any]:
        weights = symbol_weights(self.symbols)
        admin = AdminClient({**self.state.client_config(), "log_level": 0})
        topics = [topic_of(dt) for dt in self.rates]
        load = partition_load(weights, len(leaders(admin, topic_of(DataType.TRADES))))
        busiest = sorted(load, key=load.__getitem__, reverse=True)[:5]
        producers = {dt: SteadyProducer(self.outputs, dt, rate, weights, seed=7 + i).start()
                     for i, (dt, rate) in enumerate(self.rates.items())}
        kills: list[dict[str, Any]] = []
        try:
            for run in range(1, self.runs + 1):
                time.sleep(self.warm_up)
                kills.append(self._kill_and_restart(run, admin, topics, load, busiest, producers,
                                                    [k["killed_node"] for k in kills]))
        finally:
            for producer in producers.values():
                producer.stop()
        self.log("==> reading both topics back")
        read, read_seconds = read_back(self.outputs, self.state, topics, self.timeout)
        profiles = {str(dt): analyse(p, read[topic_of(dt)], kills, dt) for dt, p in producers.items()}
        for kill in kills:  # monotonic clock readings: meaningless outside this process
            del kill["killed_at"], kill["restarted_at"]
        return {"runs": kills, "profiles": profiles, "read_back_seconds": round(read_seconds, 1),
                "busiest_trades_partitions": busiest, "symbols": self.symbols}

    def _kill_and_restart(self, run: int, admin: AdminClient, topics: list[str], load: dict[int, float],
                          busiest: list[int], producers: dict[DataType, SteadyProducer],
                          killed_before: list[int]) -> dict[str, Any]:
        led = leaders(admin, topic_of(DataType.TRADES))
        share: dict[int, float] = defaultdict(float)  # node -> the share of the trades it leads
        for partition, node in led.items():
            share[node] += load.get(partition, 0.0)
        victim = max((n for n in share if n > 0 and n not in killed_before), key=share.__getitem__)
        controller = admin.describe_cluster(request_timeout=30).result(timeout=60).controller
        led_by_victim = {str(dt): sorted(p for p, n in leaders(admin, topic_of(dt)).items() if n == victim)
                         for dt in producers}
        self.log(f"==> run {run}: SIGKILL node {victim} (leads {len(led_by_victim[str(DataType.TRADES)])} trades "
                 f"partitions with {share[victim]:.0%} of the trades, {sum(led[p] == victim for p in busiest)} of "
                 f"the {len(busiest)} busiest"
                 f"{'; the active KRaft controller' if controller and controller.id == victim else ''})")
        self.platform.kill_node(victim)  # returns once the process is gone
        killed_at = time.monotonic()  # from here on no record can reach it
        # Producing goes on; wait until every profile is acknowledged again at a steady pace.
        for dt, producer in producers.items():
            wait_for(_acknowledged_again(producer, killed_at, self.rates[dt]),
                     f"{dt} acknowledgements after node {victim} was killed", self.timeout)
        resumed = time.monotonic() - killed_at
        time.sleep(self.after)
        lagging = under_replicated(admin, topics)  # the killed broker's replicas, out of the ISR
        self.log(f"    acknowledged again within {resumed:.1f}s ({lagging} partitions under-replicated); "
                 f"restarting node {victim}")
        restart_at = time.monotonic()
        self.state = self.platform.restart_node(victim, timeout=self.timeout)
        restarted = time.monotonic() - restart_at
        replicated = wait_for(lambda: under_replicated(admin, topics) == 0,
                              f"every partition fully replicated after node {victim} restarted", self.timeout)
        self.log(f"    node {victim} back in {restarted:.1f}s, every partition fully replicated "
                 f"{replicated:.1f}s later")
        time.sleep(self.after)
        return {"run": run, "killed_node": victim, "was_controller": bool(controller and controller.id == victim),
                "killed_at": killed_at, "restarted_at": restart_at,
                "led_partitions": led_by_victim, "busiest_led": sum(led[p] == victim for p in busiest),
                "trades_share_by_node": {n: round(v, 3) for n, v in sorted(share.items())},
                "acks_resumed_within_s": round(resumed, 2), "under_replicated_while_down": lagging,
                "restart_s": round(restarted, 1),
                "replicated_after_restart_s": round(replicated, 1)}


def _acknowledged_again(producer: SteadyProducer, since: float, count: int) -> Callable[[], bool]:
    """Whether `count` records (a second's worth) were acknowledged since `since`."""
    return lambda: len(producer.acks_after(since)) >= count


def read_back(outputs: StackOutputs, state: PlatformState, topics: list[str],
              timeout: float) -> tuple[dict[str, list[MarketRecord]], float]:
    """Everything in the topics, read through the helpers' consumer: topic -> records in (partition, offset)
    order. Reads until every partition's end offset is reached (a bounded wait)."""
    started = time.monotonic()
    partitions = {t: len(leaders(AdminClient(state.client_config()), t)) for t in topics}
    ends = end_offsets(state.client_config(), partitions)
    expected = sum(sum(v) for v in ends.values())
    records: list[MarketRecord] = []
    with get_consumer(f"durability-{uuid.uuid4().hex[:8]}", topics, outputs, auto_offset_reset="earliest",
                      config={"fetch.max.bytes": 8 * 1024 * 1024}) as consumer:
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            consumer.process(records.append, timeout=0.5)
        consumer.run(records.append, idle_timeout=1.0)  # anything beyond the end offsets would show here
    if len(records) < expected:
        raise TimeoutError(f"read {len(records)} of {expected} records within {timeout:.0f}s")
    out: dict[str, list[MarketRecord]] = {t: [] for t in topics}
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        out[r.topic].append(r)
    return out, time.monotonic() - started


def analyse(producer: SteadyProducer, read: list[MarketRecord], kills: list[dict[str, Any]],
            data_type: DataType) -> dict[str, Any]:
    """Every acknowledged record looked up in what was read back; per-symbol order; the stalls."""
    found = Counter((r.value["symbol"], r.value["sequence_number"]) for r in read if r.value)
    acked = producer.acked
    lost = sorted(k for k in acked if found[k] == 0)
    out_of_order = 0
    last: dict[str, int] = {}
    for r in read:  # a symbol lives on one partition: its records in offset order
        if r.value is None:
            continue
        symbol, seq = r.value["symbol"], r.value["sequence_number"]
        if seq <= last.get(symbol, 0):
            out_of_order += 1
        last[symbol] = max(seq, last.get(symbol, 0))
    ack_times = sorted(a.at for a in acked.values())
    stalls = []
    for kill in kills:
        window = [t for t in ack_times if kill["killed_at"] - 5 <= t <= kill["restarted_at"]]
        gaps = [b - a for a, b in itertools.pairwise(window) if b > kill["killed_at"]]
        led = set(kill["led_partitions"][str(data_type)])
        # The first record sent after the kill that a partition the killed broker led acknowledged: its new leader.
        first = min((a.at for a in acked.values() if a.partition in led and a.sent_at > kill["killed_at"]),
                    default=None)
        stalls.append({"run": kill["run"], "killed_node": kill["killed_node"],
                       "stall_s": round(max(gaps, default=0.0), 2),
                       "failover_s": round(first - kill["killed_at"], 2) if first else None,
                       "partitions_led_by_killed_node": len(led)})
    sent_seconds = (producer.sent[-1][2] - producer.sent[0][2]) if len(producer.sent) > 1 else 0.0
    return {
        "profile": str(data_type), "topic": topic_of(data_type), "target_per_second": producer.rate,
        "sent": len(producer.sent), "sent_per_second": round(len(producer.sent) / sent_seconds) if sent_seconds else 0,
        "acknowledged": len(acked), "failed": len(producer.failed),
        "failures": sorted(Counter(producer.failed.values()).items()),
        "read_back": len(read), "distinct_read": len(found),
        "lost": len(lost), "lost_examples": [list(k) for k in lost[:10]],
        "duplicated": sum(c - 1 for c in found.values() if c > 1),
        "duplicated_acknowledged": sum(found[k] - 1 for k in acked if found[k] > 1),
        "read_not_acknowledged": sum(1 for k in found if k not in acked),
        "out_of_order": out_of_order,
        "stalls": stalls,
    }


# --- the script ----------------------------------------------------------------------------------


SETTINGS = {"k2": BROKER_SETTINGS, "kafka-defaults": KAFKA_DEFAULTS}


def markdown(r: dict[str, Any]) -> str:
    env = r["environment"]
    lines = [
        "## Durability under failure (`bench/durability.py`)",
        "",
        f"`python bench/durability.py` on {env['date']}: {env['cpus']} cores, three Kafka {env['kafka']} nodes "
        f"(KRaft, combined broker and controller) on 127.0.0.1 with the prod settings (replication 3, min ISR 2), "
        f"librdkafka {env['librdkafka']}; load average {env['load_before']} before, {env['load_after']} after. "
        f"{r['symbols']} Zipf-weighted ASX symbols, both profiles producing at once through the helpers; in each "
        "run the broker leading the largest share of the trades is killed with SIGKILL, restarted, and the cluster "
        "waits until every partition is fully replicated; the next run kills another broker. The same drill runs "
        "on a cluster with K2's failure-detection settings (k2infra/contracts/failover.py) and on one with Kafka's "
        "defaults, one after the other. Raw figures: [results/durability.json](results/durability.json).",
        "",
        "| Brokers | Profile | Sent/s | Sent | Acknowledged | Read back | Lost (acknowledged, not read) | "
        "Duplicated | Out of order | Stall after each kill | Failover of the killed leader's partitions |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name, drill in r["drills"].items():
        for p in drill["profiles"].values():
            stalls = ", ".join(f"{s['stall_s']} s (node {s['killed_node']})" for s in p["stalls"])
            failovers = ", ".join(f"{s['failover_s']} s" for s in p["stalls"])
            lines.append(f"| {name} | {p['profile']} "
                         f"({'acks=all, idempotent' if p['profile'] == 'trades' else 'acks=1'}) | "
                         f"{p['sent_per_second']:,} | {p['sent']:,} | {p['acknowledged']:,} | {p['read_back']:,} | "
                         f"{p['lost']:,} | {p['duplicated']:,} | {p['out_of_order']:,} | {stalls} | {failovers} |")
    lines += ["", "| Brokers | " + " | ".join(BROKER_SETTINGS) + " |",
              "| --- |" + " ---: |" * len(BROKER_SETTINGS)]
    lines += [f"| {name} | " + " | ".join(f"{v:,}" for v in drill["failure_detection"].values()) + " |"
              for name, drill in r["drills"].items()]
    for name, drill in r["drills"].items():
        runs = "; ".join(
            f"run {k['run']}: node {k['killed_node']}{' (active controller)' if k['was_controller'] else ''}"
            f" led {k['trades_share_by_node'][k['killed_node']]:.0%} of the trades ({k['busiest_led']} of "
            "the 5 busiest partitions), acknowledgements resumed within "
            f"{k['acks_resumed_within_s']} s ({k['under_replicated_while_down']} partitions under-replicated "
            f"while it was down), restart {k['restart_s']} s, fully replicated "
            f"{k['replicated_after_restart_s']} s later" for k in drill["runs"])
        lines += ["", f"{name}: {runs}."]
    lines += ["", "The stall is the longest time without any acknowledgement after the kill (with acks=all every "
              "partition waits while the dead broker is still in its ISR, i.e. until KRaft fences it: "
              "broker.session.timeout.ms); the failover is the time until a partition the killed broker led "
              "acknowledged a record sent after the kill. Quotes (acks=1) lose what a leader acknowledged before "
              "its followers fetched it, which the design accepts."]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any]) -> None:
    save(results, RESULTS_JSON, markdown(results), BEGIN, END)


def drill_on_new_cluster(failure_detection: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="k2-durability-") as tmp:
        platform = LocalPlatform(Path(tmp) / "platform", failure_detection=failure_detection)
        state = platform.up(nodes=3, kafka_port=None, registry_port=None)
        try:
            outputs = prepare(state)
            drill = Drill(platform, state, outputs, {DataType.TRADES: args.trades_rate,
                                                     DataType.QUOTES: args.quotes_rate},
                          runs=args.runs, warm_up=args.warm_up, after=args.after)
            return {"failure_detection": failure_detection, **drill.run()}
        finally:
            platform.down(wipe=True)


def main() -> None:
    import confluent_kafka

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades-rate", type=int, default=2000)
    parser.add_argument("--quotes-rate", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument("--after", type=float, default=5.0)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
                        help="the brokers' failure-detection settings to drill with, each on a cluster of its own")
    args = parser.parse_args()
    load = lambda: " ".join(f"{x:.2f}" for x in os.getloadavg())  # noqa: E731
    env = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "kafka": os.environ.get(
        "K2_KAFKA_VERSION", "?"), "librdkafka": confluent_kafka.libversion()[0], "load_before": load()}
    started = time.monotonic()
    drills = {}
    for name in args.settings:
        print(f"==> the drill with {name} failure-detection settings")
        drills[name] = drill_on_new_cluster(SETTINGS[name], args)
    env["load_after"] = load()
    env["seconds"] = round(time.monotonic() - started)
    results = {"environment": env, "symbols": next(iter(drills.values()))["symbols"], "drills": drills}
    write(results)
    print(markdown(results))


if __name__ == "__main__":
    main()
