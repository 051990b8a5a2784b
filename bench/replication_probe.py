"""MirrorMaker 2's throughput settings probed side by side, at the design's rates, in one run (issue 23).

    . scripts/env.sh && nice -n 5 python bench/replication_probe.py [--seconds 20] [--profile VARIANT]

The two regions, the flow, the clients and the latency run are bench/replication.py's. Each variant starts its own
MirrorMaker (one after the other, on the same clusters), runs an uncounted --settle run, then sends ASX 2,500/s +
Binance 3,000/s for --seconds (the first --warm-up not counted) and prints one line: what arrived in the aggregate
against what was sent, the latency, the transaction markers written into the mirrored topics and
__transaction_state's records per second (how many transactions it committed), and the CPU of MirrorMaker and the
brokers. One uncounted run warms the machine first. --profile records the named variant's MirrorMaker with Java
Flight Recorder (jcmd JFR.start) and prints where its threads ran (jdk.ExecutionSample) and where the source task
waited (jdk.ThreadPark). Writes nothing but its output.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `bench` and `k2infra`

from confluent_kafka.admin import AdminClient

from bench.hot_path import DESIGN_RATES
from bench.replication import Regions, latency_run
from bench.replication_clients import PARTITIONS
from k2infra.contracts.kafka_client import librdkafka_settings
from k2infra.contracts.replication import Throughput
from k2infra.observed.cluster import end_offsets

# name -> (MirrorMaker's mode, its throughput settings)
VARIANTS: dict[str, tuple[str, Throughput]] = {
    "at-least-once, 1 task": ("at-least-once", Throughput()),
    "exactly-once, 1 task, per poll": ("exactly-once", Throughput()),
    "exactly-once, 2 tasks, per poll": ("exactly-once", Throughput(tasks_max=2)),
    "exactly-once, 4 tasks, per poll": ("exactly-once", Throughput(tasks_max=4)),
    "exactly-once, 1 task, poll 2000 records": ("exactly-once", Throughput(max_poll_records=2000)),
    "exactly-once, 1 task, every 200 ms": ("exactly-once", Throughput(transaction_interval_ms=200)),
    "exactly-once, 1 task, every 1000 ms": ("exactly-once", Throughput(transaction_interval_ms=1000)),
    "exactly-once, 2 tasks, every 200 ms": ("exactly-once", Throughput(tasks_max=2, transaction_interval_ms=200)),
}
TRANSACTION_STATE = "__transaction_state"


def offsets(bootstrap: str, topics: dict[str, int]) -> int:
    """The sum of the end offsets of `topics` (records and transaction markers alike)."""
    return sum(sum(ends) for ends in end_offsets(librdkafka_settings(bootstrap), topics).values())


def state_partitions(bootstrap: str) -> dict[str, int]:
    """__transaction_state and its partition count, once the aggregate has it (after the first exactly-once
    start); empty before."""
    found = AdminClient(librdkafka_settings(bootstrap)).list_topics(TRANSACTION_STATE, timeout=10).topics
    meta = found.get(TRANSACTION_STATE)
    return {TRANSACTION_STATE: len(meta.partitions)} if meta and meta.error is None and meta.partitions else {}


def probe(regions: Regions, name: str, phase: int, args: argparse.Namespace) -> dict[str, Any]:
    mode, throughput = VARIANTS[name]
    mirror, took = regions.mirror(mode, throughput, name=f"probe-{phase}")
    # A just-started exactly-once MirrorMaker stalls for seconds first (fencing, its first transactions): not
    # counted, so each line is the variant's steady state.
    latency_run(regions, mirror, DESIGN_RATES, phase + 100, args.settle, 0)
    state = state_partitions(regions.aggregate.bootstrap_servers)
    before = {"home": offsets(regions.home.bootstrap_servers, PARTITIONS),
              "data": offsets(regions.aggregate.bootstrap_servers, PARTITIONS),
              "state": offsets(regions.aggregate.bootstrap_servers, state)}
    recording = start_recording(mirror.process.pid, args.seconds, regions.base / f"probe-{phase}.jfr") \
        if name == args.profile and mirror.process else None
    started = time.monotonic()
    row = latency_run(regions, mirror, DESIGN_RATES, phase, args.seconds, args.warm_up)
    elapsed = time.monotonic() - started  # sending and draining: the markers and transactions were made in it
    copied = offsets(regions.home.bootstrap_servers, PARTITIONS) - before["home"]
    markers = offsets(regions.aggregate.bootstrap_servers, PARTITIONS) - before["data"] - copied
    state_records = offsets(regions.aggregate.bootstrap_servers, state) - before["state"]
    mirror.stop()
    agg = row["aggregate"]
    return {"variant": name, "start_s": took, "sent_per_second": round(row["sent"] / args.seconds),
            "arrived_per_second": agg["arrived_per_second"], "missing": agg["missing"],
            "duplicates": agg["duplicates"], "latency_ms": agg["latency_ms"],
            "p50_first_last": [agg["p50_ms_per_5_s_sent"][i] for i in (0, -1)] if agg["p50_ms_per_5_s_sent"] else [],
            "markers_per_second": round(max(markers, 0) / elapsed),
            "transaction_state_records_per_second": round(state_records / elapsed),
            "cpu": row["cpu"], "profile": summarise(recording) if recording else None}


def start_recording(pid: int, seconds: float, path: Path) -> Path:
    subprocess.run(["jcmd", str(pid), "JFR.start", "settings=profile", f"duration={seconds:.0f}s",
                    f"filename={path}"], check=True, capture_output=True, timeout=60)
    return path


def summarise(path: Path, top: int = 12, depth: int = 3) -> dict[str, Any]:
    """Execution samples per thread and by their innermost `depth` Kafka/Connect frames, and the source task
    threads' parked time by the Kafka frames that waited."""
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:  # JFR writes it when the duration ends
        time.sleep(0.5)
    command = ["jfr", "print", "--json", "--stack-depth", "64", "--events", "jdk.ExecutionSample,jdk.ThreadPark",
               str(path)]
    events = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    samples, threads, frames, parked = 0, collections.Counter(), collections.Counter(), collections.Counter()
    for event in events["recording"]["events"]:
        values = event["values"]
        thread = (values.get("sampledThread") or values.get("eventThread") or {}).get("javaName", "?")
        stack = [f"{f['method']['type']['name'].rsplit('/', 1)[-1]}.{f['method']['name']}"
                 for f in (values.get("stackTrace") or {}).get("frames", [])
                 if f["method"]["type"]["name"].startswith("org/apache/kafka") and "$$Lambda" not in
                 f["method"]["type"]["name"]]
        where = " < ".join(stack[:depth]) if stack else "(JDK only)"
        if event["type"] == "jdk.ExecutionSample":
            samples += 1
            threads[_thread_kind(thread)] += 1
            frames[where] += 1
        elif thread.startswith("task-thread-MirrorSourceConnector"):
            parked[where] += _seconds(values.get("duration", "PT0S"))
    return {"samples": samples, "threads": threads.most_common(top), "frames": frames.most_common(top),
            "source_task_parked_s": [(k, round(v, 1)) for k, v in parked.most_common(top)]}


def _thread_kind(name: str) -> str:
    """A thread's name without its numbers: one line per kind of thread."""
    return "".join(c for c in name if not c.isdigit()).rstrip("-#")


def _seconds(iso: str) -> float:
    """JFR's ISO-8601 durations as `jfr print --json` writes them (PT0.012345S, PT1M2S)."""
    body, total = iso.removeprefix("PT"), 0.0
    for unit, scale in (("H", 3600), ("M", 60), ("S", 1)):
        if unit in body:
            value, body = body.split(unit, 1)
            total += float(value) * scale
    return total


def line(r: dict[str, Any]) -> str:
    ms, use, first_last = r["latency_ms"], r["cpu"], r["p50_first_last"]
    trend = " -> ".join(f"{x:,.0f}" for x in first_last) if first_last else "-"
    return (f"{r['variant']:<42} arrived {r['arrived_per_second']:>6,}/s of {r['sent_per_second']:,}/s  "
            f"p50 {ms['p50'] or 0:>7,.0f} p99 {ms['p99'] or 0:>7,.0f} ms (p50 {trend})  "
            f"markers {r['markers_per_second']:>6,}/s  txn-state {r['transaction_state_records_per_second']:>5,}/s  "
            f"MM {use['mirrormaker_percent_of_one_core']:.0f}% brokers {use['brokers_percent_of_one_core']:.0f}% "
            f"machine {use['machine_busy_percent']:.0f}%  missing/dup {r['missing']:,}/{r['duplicates']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="sending time of each variant")
    parser.add_argument("--warm-up", type=float, default=5.0, help="first seconds of each variant not counted")
    parser.add_argument("--settle", type=float, default=10.0, help="uncounted run after each variant's start")
    parser.add_argument("--only", action="append", choices=VARIANTS, help="probe only these variants")
    parser.add_argument("--profile", choices=VARIANTS, help="record this variant's MirrorMaker with JFR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="k2-replication-probe-") as tmp:
        regions = Regions(Path(tmp))
        try:
            regions.up()
            mirror, _ = regions.mirror("exactly-once", name="warm-up")
            print("==> warm-up run (not counted)", flush=True)
            latency_run(regions, mirror, DESIGN_RATES, 1, 15, 0)
            mirror.stop()
            for phase, name in enumerate(args.only or VARIANTS, start=10):
                row = probe(regions, name, phase, args)
                print(line(row), flush=True)
                if row["profile"]:
                    print(json.dumps(row["profile"], indent=1), flush=True)
        finally:
            regions.down()


if __name__ == "__main__":
    main()
