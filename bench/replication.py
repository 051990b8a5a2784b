"""MirrorMaker 2 between two local regions: replication latency, throughput per flow and re-reads at failover.

    . scripts/env.sh && nice -n 5 python bench/replication.py [--seconds 30] [--backlog 300000]

Two one-node Kafka clusters on 127.0.0.1 (a home region and an aggregating region; no registry: the records are
bytes, bench/replication_clients.py) and MirrorMaker 2 in dedicated mode as K2 runs it (k2infra/local/mirror.py:
identity names, one flow home -> aggregate with both topics, K2's local Timings). The topics are
market.equities.trades.asx (30 partitions) and market.crypto.trades.binance (40), in both regions, K2's configs.
All rows come from one run, in this order, first with MirrorMaker exactly-once, then at-least-once:

1. Latency: two producer processes (K2's trades profile) send ASX and Binance at once, paced, at the design's rates
   and at 10x; a consumer in the home region (the baseline) and one in the aggregate (read_committed, K2's
   low-latency profile) read the same records. Latency: the consumer's clock when the record's batch arrived minus
   the send time in the value (one machine clock). The first --warm-up seconds of each run are not counted, and
   one run at the design's rates before the first row is not counted at all.
2. Throughput: with MirrorMaker stopped, a backlog of --backlog trades (ASX and Binance in the design's ratio) is
   produced at home; then MirrorMaker starts and a consumer in the aggregate times the copy (first to last
   record). The comparison row: a plain confluent-kafka consumer -> idempotent producer copy of another backlog.
3. Failover: two groups consume part of the backlog at home (half of it, and all of it) and commit; once
   MirrorMaker's checkpoints have written their offsets in the aggregate, bench/replication_failover.py counts
   per partition what each would re-read there.

CPU busy (the machine, both brokers, MirrorMaker or the copy, the clients) is taken over each run from /proc.
Writes bench/results/replication.json and a section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `bench` and `k2infra`

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic

from bench import cpu, replication_failover
from bench.hot_path import DESIGN_RATES
from bench.latency import cpu_while_sending, latency_ms, percentile
from bench.replication_clients import (
    EXCHANGES,
    PARTITIONS,
    count_arrivals,
    paced_produce,
    produce_backlog,
    python_copy,
    timing_consume,
)
from bench.report import save
from k2infra.contracts.kafka_client import librdkafka_settings
from k2infra.contracts.replication import Throughput
from k2infra.local import free_ports
from k2infra.local.kafka import KafkaCluster
from k2infra.local.mirror import Flow, MirrorMaker, Region, Timings
from k2infra.model import load_topology
from k2infra.observed.cluster import end_offsets

HERE = Path(__file__).parent
RESULTS_JSON = HERE / "results" / "replication.json"
BEGIN, END = "<!-- replication: begin -->", "<!-- replication: end -->"
RATES = {"design": DESIGN_RATES, "10x": {k: 10 * v for k, v in DESIGN_RATES.items()}}
MODES = {"exactly-once": True, "at-least-once": False}
ISOLATION = "read_committed"  # K2's consumer profile, in every row (no transactions at-least-once: reads at once)
CTX = mp.get_context("spawn")


class Regions:
    """The two regions' clusters, the flow between them and where MirrorMaker logs."""

    def __init__(self, base: Path) -> None:
        ports = free_ports(4)
        self.base = base
        self.home = KafkaCluster.with_ports(base / "home", [ports[0]], [ports[1]])
        self.aggregate = KafkaCluster.with_ports(base / "aggregate", [ports[2]], [ports[3]])
        self.flow = Flow(Region("home", self.home.bootstrap_servers),
                         Region("aggregate", self.aggregate.bootstrap_servers), tuple(PARTITIONS))
        self.mirrors: list[MirrorMaker] = []

    def up(self) -> None:
        configs = {t.name: dict(t.config) for t in load_topology(HERE / "topology.yaml", None,
                                                                    schemas_dir=HERE.parent / "schemas").topics}
        for cluster in (self.home, self.aggregate):
            cluster.start(timeout=180)
            admin = AdminClient(librdkafka_settings(cluster.bootstrap_servers))
            new = [NewTopic(t, n, 1, config=configs[t]) for t, n in PARTITIONS.items()]
            for future in admin.create_topics(new).values():
                future.result(timeout=60)

    def down(self) -> None:
        for mirror in self.mirrors:  # stopped already, unless a row failed
            mirror.stop()
        for cluster in (self.home, self.aggregate):
            cluster.stop()

    @property
    def broker_pids(self) -> list[int]:
        return [*self.home.pids, *self.aggregate.pids]

    def ends(self, cluster: KafkaCluster) -> dict[str, list[int]]:
        return end_offsets(librdkafka_settings(cluster.bootstrap_servers), PARTITIONS)

    def mirror(self, mode: str, throughput: Throughput | None = None, name: str = "") -> tuple[MirrorMaker, float]:
        """MirrorMaker started in `mode` (K2's throughput settings unless given); the seconds from start to every
        source task RUNNING."""
        mirror = MirrorMaker(self.base / f"mirrormaker-{name or mode}", [self.flow], exactly_once=MODES[mode],
                             throughput=throughput or Throughput())
        self.mirrors.append(mirror)
        started = time.monotonic()
        mirror.start(timeout=240)
        return mirror, round(time.monotonic() - started, 1)


# --- 1. latency ----------------------------------------------------------------------------------


def latency_run(regions: Regions, mirror: MirrorMaker, rates: dict[str, int], phase: int, seconds: float,
                warm_up: float) -> dict[str, Any]:
    """One paced run of both exchanges, timed by a consumer at home and one in the aggregate."""
    queues = {side: CTX.Queue() for side in ("home", "aggregate", "producers")}
    ready = {side: CTX.Event() for side in ("home", "aggregate")}
    done, expected = CTX.Event(), CTX.Value("q", -1)
    drain = {"home": (30.0, 5.0), "aggregate": (180.0, 15.0)}  # (most seconds, idle seconds) after the producers
    clusters = {"home": regions.home, "aggregate": regions.aggregate}
    consumers = {side: CTX.Process(target=timing_consume, args=(
        clusters[side].bootstrap_servers, ISOLATION, phase, ready[side], done, expected, *drain[side], queues[side]))
        for side in ready}
    for p in consumers.values():
        p.start()
    for side, event in ready.items():
        if not event.wait(90):
            raise RuntimeError(f"the {side} consumer did not get its partitions within 90 s")
    start = time.time() + 1.0  # both producers on the same tick
    producers = [CTX.Process(target=paced_produce, args=(
        regions.home.bootstrap_servers, i, rates[name], start, seconds, phase, queues["producers"]))
        for i, name in enumerate(EXCHANGES)]
    for p in producers:
        p.start()
    assert mirror.process is not None
    usage = cpu_while_sending(start, seconds, regions.broker_pids, {
        "mirrormaker": [mirror.process.pid], "producers": [p.pid or 0 for p in producers],
        "consumers": [p.pid or 0 for p in consumers.values()]})
    reports = [queues["producers"].get(timeout=seconds + 120) for _ in producers]
    sent = sum(r["sent"] for r in reports)
    expected.value = sent
    done.set()
    read = {side: queues[side].get(timeout=drain[side][0] + 120) for side in consumers}
    for p in (*producers, *consumers.values()):
        p.join(30)
    window = usage["window_s"]
    share = {role: round(100 * usage[f"{role}_cpu_s"] / window, 1) for role in ("mirrormaker", "producers",
                                                                                "consumers")}
    cpu_use = {"machine_busy_percent": usage["machine_busy_percent"],
               "brokers_percent_of_one_core": usage["broker_percent_of_one_core"],
               **{f"{role}_percent_of_one_core": v for role, v in share.items()}}
    return {"rates": rates, "seconds": seconds, "warm_up_s": warm_up, "producers": reports, "sent": sent,
            "cpu": cpu_use, **{side: _latencies(read[side], start, warm_up, sent) for side in read}}


def _latencies(read: dict[str, Any], start: float, warm_up: float, sent: int, step: float = 5.0) -> dict[str, Any]:
    """The counted records' latencies; and whether the copy kept up: the median per `step` seconds of sending
    (growing when records arrive slower than they are sent) and the rate they arrived at."""
    pairs = [(at, lat) for at, lat in zip(read["stamps"], read["latencies"], strict=True) if at >= start + warm_up]
    windows: dict[int, list[float]] = {}
    for at, lat in pairs:
        windows.setdefault(int((at - start - warm_up) // step), []).append(lat)
    arrived_for = read["last_arrival"] - start
    return {"received_unique": read["unique"], "duplicates": read["duplicates"], "missing": sent - read["unique"],
            "counted_after_warm_up": len(pairs), "latency_ms": latency_ms(sorted(lat for _, lat in pairs)),
            f"p50_ms_per_{step:.0f}_s_sent": [percentile(sorted(w), 50) for _, w in sorted(windows.items())],
            "arrived_per_second": round(read["unique"] / arrived_for) if arrived_for > 0 else None}


# --- 2. throughput -------------------------------------------------------------------------------


def backlog_counts(total: int) -> dict[str, int]:
    """`total` trades split as the design's rates are."""
    asx = round(total * DESIGN_RATES["asx"] / sum(DESIGN_RATES.values()))
    return {"asx": asx, "binance": total - asx}


def timed_copy(regions: Regions, phase: int, counts: dict[str, int], copier: Any) -> dict[str, Any]:
    """A backlog produced at home, then `copier(home_starts, home_ends)` started (returning the pids that copy)
    while a consumer in the aggregate times the records' arrival."""
    home_starts = regions.ends(regions.home)
    backlog = produce_backlog(regions.home.bootstrap_servers, counts, phase)
    home_ends, aggregate_starts = regions.ends(regions.home), regions.ends(regions.aggregate)
    ready, arrivals = CTX.Event(), CTX.Queue()
    counter = CTX.Process(target=count_arrivals, args=(
        regions.aggregate.bootstrap_servers, ISOLATION, phase, backlog["records"], aggregate_starts, 600.0, ready,
        arrivals))
    counter.start()
    ready.wait(60)
    launched = time.time()
    pids, started_s = copier(home_starts, home_ends)
    before, t0 = {"brokers": cpu.snapshot(regions.broker_pids), "copier": cpu.snapshot(pids)}, time.monotonic()
    seen = arrivals.get(timeout=660)
    after, wall = {"brokers": cpu.snapshot(regions.broker_pids), "copier": cpu.snapshot(pids)}, time.monotonic() - t0
    counter.join(30)
    if seen["last"] is None:
        raise RuntimeError(f"only {seen['unique']:,} of {backlog['records']:,} backlog trades reached the aggregate")
    copy_s = seen["last"] - seen["first"]
    return {"backlog": backlog, "start_s": started_s, "copy_s": round(copy_s, 2),
            "launch_to_all_s": round(seen["last"] - launched, 1), "duplicates": seen["duplicates"],
            "records_per_second": round(backlog["records"] / copy_s),
            "mb_per_second": round(backlog["bytes"] / copy_s / 1e6, 1),
            "cpu_after_start": {"machine_busy_percent": cpu.machine_busy(before["brokers"], after["brokers"]),
                                "brokers_percent_of_one_core": cpu.process_share(before["brokers"], after["brokers"],
                                                                                 wall),
                                "copier_percent_of_one_core": cpu.process_share(before["copier"], after["copier"],
                                                                                wall), "window_s": round(wall, 1)},
            "home_starts": home_starts, "home_ends": home_ends}


def mirror_copier(regions: Regions, mode: str, holder: dict[str, MirrorMaker]) -> Any:
    def start(_starts: Any, _ends: Any) -> tuple[list[int], float]:
        mirror, took = regions.mirror(mode)
        holder["mirror"] = mirror
        assert mirror.process is not None
        return [mirror.process.pid], took
    return start


def python_copier(regions: Regions, holder: dict[str, Any]) -> Any:
    def start(starts: dict[str, list[int]], ends: dict[str, list[int]]) -> tuple[list[int], float]:
        holder["result"] = result = CTX.Queue()
        holder["process"] = process = CTX.Process(target=python_copy, args=(
            regions.home.bootstrap_servers, regions.aggregate.bootstrap_servers, starts, ends, result))
        process.start()
        return [process.pid or 0], 0.0
    return start


# --- 3. failover ---------------------------------------------------------------------------------


def failover(regions: Regions, mode: str, copy: dict[str, Any]) -> list[dict[str, Any]]:
    """Two groups over the copied backlog: one that consumed half of it at home, one that consumed all of it."""
    starts, ends = copy["home_starts"], copy["home_ends"]
    half = {t: [s + (e - s) // 2 for s, e in zip(starts[t], ends[t], strict=True)] for t in starts}
    rows = []
    for name, targets in (("half of the backlog", half), ("all of it (caught up)", ends)):
        group = f"failover-{mode}-{len(rows)}"
        rows.append({"consumed": name, **replication_failover.measure(
            regions.home.bootstrap_servers, regions.aggregate.bootstrap_servers, ISOLATION, group, starts, targets,
            ends)})
        print("    " + failover_row(mode, rows[-1]), flush=True)
    return rows


# --- the run -------------------------------------------------------------------------------------


def run(regions: Regions, args: argparse.Namespace) -> dict[str, Any]:
    counts = backlog_counts(args.backlog)
    latency_rows, throughput, failovers, starts = [], [], [], {}
    phase = 10
    for mode in MODES:
        mirror, starts[mode] = regions.mirror(mode)
        print(f"==> MirrorMaker {mode}: ready in {starts[mode]} s", flush=True)
        if not latency_rows:
            print("==> warm-up run (not counted)", flush=True)
            latency_run(regions, mirror, DESIGN_RATES, 1, min(args.seconds, 15), 0)
        for rate_name, rates in RATES.items():
            phase += 1
            print(f"==> latency, {mode}, {rate_name} rates, {args.seconds:.0f} s", flush=True)
            latency_rows.append({"mirrormaker": mode, "rate": rate_name,
                                 **latency_run(regions, mirror, rates, phase, args.seconds, args.warm_up)})
            for line in latency_rows_md([latency_rows[-1]]):
                print("    " + line, flush=True)
        mirror.stop()
        phase += 1
        print(f"==> throughput, {mode}: {args.backlog:,} trades while MirrorMaker is stopped", flush=True)
        holder: dict[str, MirrorMaker] = {}
        throughput.append({"copy": f"MirrorMaker 2, {mode}",
                           **timed_copy(regions, phase, counts, mirror_copier(regions, mode, holder))})
        print("    " + throughput_row(throughput[-1]), flush=True)
        print(f"==> failover, {mode}", flush=True)
        failovers += [{"mirrormaker": mode, **row} for row in failover(regions, mode, throughput[-1])]
        holder["mirror"].stop()
    phase += 1
    print(f"==> throughput, plain Python copy: {args.backlog:,} trades", flush=True)
    copier: dict[str, Any] = {}
    throughput.append({"copy": "Python: confluent-kafka consumer -> idempotent producer",
                       **timed_copy(regions, phase, counts, python_copier(regions, copier))})
    copier["process"].join(60)
    throughput[-1]["copier_report"] = copier["result"].get(timeout=10)
    print("    " + throughput_row(throughput[-1]), flush=True)
    return {"mirrormaker_start_s": starts, "latency": latency_rows, "throughput": throughput, "failover": failovers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="sending time of each latency run")
    parser.add_argument("--warm-up", type=float, default=5.0, help="first seconds of each latency run not counted")
    parser.add_argument("--backlog", type=int, default=300_000, help="trades per throughput row")
    parser.add_argument("--report", action="store_true", help="rewrite the tables from results/replication.json")
    args = parser.parse_args()
    if args.report:
        results = json.loads(RESULTS_JSON.read_text())
        write(results)
        print(markdown(results))
        return
    load = lambda: " ".join(f"{x:.2f}" for x in os.getloadavg())  # noqa: E731
    timings = Timings()
    env = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "kafka": os.environ.get(
        "K2_KAFKA_VERSION", "?"), "librdkafka": confluent_kafka.libversion()[0], "load_before": load(),
        "seconds_each": args.seconds, "warm_up_s": args.warm_up, "backlog": args.backlog,
        "checkpoint_interval_s": timings.checkpoint_seconds, "offset_lag_max": 100,
        "throughput": dataclasses.asdict(Throughput()),
        "nice": os.nice(0)}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="k2-replication-") as tmp:
        regions = Regions(Path(tmp))
        try:
            regions.up()
            results = {"environment": env, **run(regions, args)}
        finally:
            regions.down()
    env["load_after"] = load()
    env["seconds"] = round(time.monotonic() - started)
    write(results)
    print(markdown(results))


# --- the report ----------------------------------------------------------------------------------


def _rates(rates: dict[str, int]) -> str:
    return " + ".join(f"{rates[e]:,}" for e in EXCHANGES)


def latency_rows_md(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        use = r["cpu"]
        busy = (f"{use['machine_busy_percent']:.0f}% / {use['brokers_percent_of_one_core']:.0f}% / "
                f"{use['mirrormaker_percent_of_one_core']:.0f}% / "
                f"{use['producers_percent_of_one_core'] + use['consumers_percent_of_one_core']:.0f}%")
        sent = _rates({p["exchange"]: p["per_second"] for p in r["producers"]})
        for side, label in (("home", "home (baseline)"), ("aggregate", "aggregate (via MirrorMaker)")):
            s, ms = r[side], r[side]["latency_ms"]
            trend = s["p50_ms_per_5_s_sent"]
            out.append(f"| {r['mirrormaker']} | {r['rate']}: {_rates(r['rates'])} | {label} | {sent} | "
                       f"{r['sent']:,} / {s['counted_after_warm_up']:,} | {_ms(ms['p50'])} | {_ms(ms['p99'])} | "
                       f"{_ms(ms['p99_9'])} | {_ms(ms['max'])} | {_ms(trend[0])} -> {_ms(trend[-1])} | "
                       f"{s['arrived_per_second']:,} | {s['missing']:,} / {s['duplicates']:,} | {busy} |")
    return out


def _ms(value: float | None) -> str:
    """Milliseconds as read: 3 significant figures, thousands separated."""
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def throughput_row(r: dict[str, Any]) -> str:
    b, use = r["backlog"], r["cpu_after_start"]
    return (f"| {r['copy']} | {b['records']:,} ({b['mean_record_bytes']} B) | {r['copy_s']} | "
            f"**{r['records_per_second']:,}** | {r['mb_per_second']} | {r['launch_to_all_s']} | {r['duplicates']:,} | "
            f"{use['machine_busy_percent']:.0f}% / {use['brokers_percent_of_one_core']:.0f}% / "
            f"{use['copier_percent_of_one_core']:.0f}% |")


def failover_row(mode: str, r: dict[str, Any]) -> str:
    return (f"| {mode} | {r['consumed']} ({r['consumed_at_home']:,} records) | {r['rereads_total']:,} | "
            f"{r['rereads_max_per_partition']:,} | {r['partitions_rereading']} of {r['partitions']} | "
            f"{r['partitions_skipped']} | {r['translated_visible_after_s']} |")


def markdown(r: dict[str, Any]) -> str:
    env = r["environment"]
    lines = [
        "## Replication (`bench/replication.py`)",
        "",
        f"`nice -n 5 python bench/replication.py` on {env['date']}: {env['cpus']} cores shared by two one-node Kafka "
        f"{env['kafka']} clusters (a home region and an aggregating one), MirrorMaker 2 in dedicated mode as "
        f"k2infra/local/mirror.py runs it (one flow, both topics, {_throughput(env)}, K2's local timings) and the "
        f"client processes, librdkafka {env['librdkafka']}; load average {env['load_before']} before, "
        f"{env['load_after']} after; {env['seconds']} s in all, every row from this one run. Raw figures: "
        "[results/replication.json](results/replication.json).",
        "",
        f"### Latency: produce at home -> consume ({env['seconds_each']:.0f} s per run, the first "
        f"{env['warm_up_s']:.0f} s not counted)",
        "",
        "ASX (30 partitions) and Binance (40) at once, K2's trades producer profile; each run timed by a consumer at "
        "home (the baseline) and one in the aggregate, both read_committed with K2's low-latency profile. Latency: "
        "the consumer's clock when the record's batch arrived minus the send time in the record.",
        "",
        "| MirrorMaker | Target rate/s (ASX + Binance) | Consumer | Sent/s | Sent / counted | p50 ms | p99 ms | "
        "p99.9 ms | max ms | p50 first -> last 5 s | Arrived/s | Missing / duplicates | "
        "CPU busy: machine / brokers / MirrorMaker / clients |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        *latency_rows_md(r["latency"]),
        "",
        "p50 first -> last 5 s: the median of the records sent in the first and in the last 5 s counted (growing: "
        "the copy falls behind the stream). Arrived/s: the records received over the time from the first send to "
        "the last arrival. CPU: the machine in percent of all cores (other tenants included), the rest in percent "
        "of one core, over the sending time.",
        "",
        _kept_up(r["latency"]),
        "",
        f"### Throughput per flow: a backlog of {env['backlog']:,} trades copied home -> aggregate",
        "",
        "| Copy | Records (mean size) | Copy s (first -> last record in the aggregate) | Records/s | MB/s | "
        "Start -> all copied s | Duplicates | CPU busy: machine / brokers / copy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        *(throughput_row(t) for t in r["throughput"]),
        "",
        "Start -> all copied: from launching the copy (MirrorMaker's JVM start included) to the last record's "
        "arrival. CPU from MirrorMaker's ready (or the copy's start) to the last arrival.",
        "",
        f"### Re-reads at failover (checkpoints every {env['checkpoint_interval_s']} s, `offset.lag.max` "
        f"{env['offset_lag_max']})",
        "",
        "A group consumed part of the backlog at home and committed; once MirrorMaker had written its translated "
        "offsets in the aggregate, each partition was read there from them: the records met before the first one "
        "the group had not consumed are what it would re-read.",
        "",
        "| MirrorMaker | Group consumed | Re-reads total | Max per partition | Partitions re-reading | Skipped | "
        "Offsets in the aggregate after s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        *(failover_row(f["mirrormaker"], f) for f in r["failover"]),
        "",
        f"Doubtful: the two cores also ran other sessions' work (load average {env['load_before']} before) while "
        f"this ran at nice {env['nice']} with three JVMs of its own, so every figure is a lower bound of what "
        "MirrorMaker does on its own cores, and the baseline rows show the same machine's queueing (compare "
        f"bench/hot_path.py). MirrorMaker ran K2's throughput settings ({_throughput(env)}) for all 70 partitions; "
        "bench/replication_probe.py compares them with the others side by side (docs/regions.md).",
        "",
    ]
    return "\n".join(lines) + "\n"


def _throughput(env: dict[str, Any]) -> str:
    """K2's MirrorMaker throughput settings as run (Throughput); runs before they were recorded had Kafka's."""
    pace = env.get("throughput", {"tasks_max": 1, "transaction_interval_ms": None, "max_poll_records": None})
    every = pace["transaction_interval_ms"]
    return (f"`tasks.max` {pace['tasks_max']}, exactly-once "
            + (f"`transaction.boundary=interval` every {every} ms" if every else "one transaction per poll")
            + f", `max.poll.records` {pace['max_poll_records'] or 500}")


def _kept_up(rows: list[dict[str, Any]]) -> str:
    """Which runs MirrorMaker kept up with (records arriving in the aggregate at 98% of the sending rate or
    better): only there is the latency a latency; elsewhere it is the backlog growing over the run's length."""
    def label(row: dict[str, Any]) -> str:
        return f"{row['mirrormaker']} at the {row['rate']} rates"

    kept = [label(x) for x in rows if x["aggregate"]["arrived_per_second"] >= 0.98 * x["sent"] / x["seconds"]]
    behind = [f"{label(x)} ({x['aggregate']['arrived_per_second']:,}/s of {x['sent'] / x['seconds']:,.0f}/s)"
              for x in rows if label(x) not in kept]
    return (f"MirrorMaker kept up with the stream: {', '.join(kept) or 'in no run'}. It fell behind: "
            f"{', '.join(behind) or 'in no run'}; there the aggregate's latency grows with the run's length "
            "(see p50 first -> last) and measures the backlog, not the path.")


def write(results: dict[str, Any]) -> None:
    save(results, RESULTS_JSON, markdown(results), BEGIN, END)


if __name__ == "__main__":
    main()
