"""Operating MirrorMaker 2 between two real local regions: the exporter's replication lag (records and seconds
behind) as MirrorMaker stops and restarts, K2ReplicationLag on a real Prometheus, and `k2 regions failover` moving
a consumer group from the home region to the aggregate at MirrorMaker's translated offsets.

The aggregate's stack outputs (1.2, one flow) are written by the test: no Pulumi here. One run drives it all in
order (module fixture `run`); the tests assert on what it saw, and it prints its measurements (`pytest -s`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from k2infra.local import LocalPlatform, PlatformState
from k2infra.local.mirror import Flow, MirrorMaker
from k2infra.local.processes import free_ports
from k2infra.observed.mirror import checkpoint, read_topic, source_offset
from tests.conftest import ROOT, make_project, stop, wait_for
from tests.e2e.conftest import keep_logs
from tests.e2e.test_mirror_maker import create_topic, region
from tests.e2e.test_monitoring import Prometheus, k2, metrics

DEADLINE = 120.0
TOPIC = "market.equities.trades.asx"
PARTITIONS = 6
SYMBOLS = [f"SYM{i:02d}" for i in range(20)]
FIRST, READ_AT_HOME, WHILE_STOPPED = 50, 600, 500   # rounds of 20 symbols; records the group reads; records
GROUP = "asx-risk"
FLOW = "home->aggregate"
# Short durations for the test only, in topics.yaml's monitoring section as a user would set them.
SHORT = "\nmonitoring:\n  replication_lag: {above: 100, seconds: 1, for: 3s}\n"


@dataclass
class Run:
    home: PlatformState
    aggregate: PlatformState
    outputs: Path
    samples: dict[str, dict[str, float]] = field(default_factory=dict)   # moment -> metric -> value
    alert_states: list[str] = field(default_factory=list)
    refused: Any = None
    dry_run: dict[str, Any] = field(default_factory=dict)
    failover: dict[str, Any] = field(default_factory=dict)
    home_committed: dict[int, int] = field(default_factory=dict)
    home_records: list[tuple[int, int, str, int]] = field(default_factory=list)   # partition, offset, symbol, seq
    resumed: list[tuple[str, int]] = field(default_factory=list)
    measured: dict[str, object] = field(default_factory=dict)
    raw: dict[str, list[tuple[bytes | None, bytes | None]]] = field(default_factory=dict)  # MirrorMaker's records


def produce(state: PlatformState, rounds: range) -> None:
    producer = Producer({"bootstrap.servers": state.bootstrap_servers, "enable.idempotence": True, "linger.ms": 5})
    for seq in rounds:
        for symbol in SYMBOLS:
            producer.produce(TOPIC, key=symbol, value=json.dumps({"symbol": symbol, "seq": seq}))
        producer.poll(0)
    assert producer.flush(60) == 0


def read_and_commit(state: PlatformState, count: int) -> None:
    """The group reads exactly `count` trades in the home region (poll returns one at a time) and commits them."""
    consumer = Consumer({"bootstrap.servers": state.bootstrap_servers, "group.id": GROUP, "log_level": 0,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    seen = [0]

    def read() -> bool:
        record = consumer.poll(0.5)
        seen[0] += record is not None and not record.error()
        return seen[0] >= count

    try:
        wait_for(read, f"the home group reading {count} trades", DEADLINE, every=0)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()


def records(bootstrap: str, group: str | None = None) -> list[tuple[int, int, str, int]]:
    """(partition, offset, symbol, seq) of TOPIC up to its end: from the start, or from `group`'s committed offsets."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group or "k2-test-reader", "log_level": 0,
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    parts = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
    ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
    consumer.assign(consumer.committed(parts, timeout=30) if group else [TopicPartition(TOPIC, p, 0)
                                                                         for p in range(PARTITIONS)])
    out: list[tuple[int, int, str, int]] = []

    def at_end() -> bool:
        for r in consumer.consume(500, timeout=0.5):
            if not r.error():
                value = json.loads(r.value())
                out.append((r.partition(), r.offset(), value["symbol"], value["seq"]))
        return all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in consumer.position(parts))

    try:
        wait_for(at_end, f"reading {TOPIC} to its end in {bootstrap}", DEADLINE, every=0)
        return out
    finally:
        consumer.close()


def lag(port: int) -> dict[str, float]:
    """The exporter's replication samples for the flow's topic, by metric name."""
    found = {}
    for family in text_string_to_metric_families(metrics(port)):
        for s in family.samples:
            if s.name.startswith("k2_replication_") and s.labels.get("flow") == FLOW:
                found[s.name] = s.value
    return found


def outputs_for(home: PlatformState, aggregate: PlatformState) -> dict[str, Any]:
    """The aggregate region's stack outputs (1.2) as its program would export them, with the one flow."""
    return {"outputs_version": "1.2", "stack": "dev-aggregate", "environment": "dev", "region": "aggregate",
            "bootstrap_servers": aggregate.bootstrap_servers, "schema_registry_url": aggregate.schema_registry_url,
            "topics": [{"name": TOPIC, "asset_class": "equities", "data_type": "trades", "exchange": "asx",
                        "partitions": PARTITIONS, "home_region": "home", "mirrored": True}],
            "subjects": [],
            "replication": [{"source": "home", "target": "aggregate", "topics": [TOPIC],
                             "source_bootstrap_servers": home.bootstrap_servers}]}


def failover(run: Run, *extra: str) -> Any:
    return k2("regions", "failover", "--outputs", str(run.outputs), "--group", GROUP, "--from", "home", *extra,
              cwd=ROOT)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    base = tmp_path_factory.mktemp("replication-ops")
    platforms = {name: LocalPlatform(base / name) for name in ("home", "aggregate")}
    mirror: MirrorMaker | None = None
    try:
        started = time.monotonic()
        states = {name: p.up(nodes=1, kafka_port=None, registry_port=None) for name, p in platforms.items()}
        home, aggregate = states["home"], states["aggregate"]
        for state in (home, aggregate):
            create_topic(state, TOPIC, PARTITIONS)
        outputs = base / "outputs.json"
        outputs.write_text(json.dumps(outputs_for(home, aggregate)))
        result = Run(home, aggregate, outputs)
        result.measured["regions_up_s"] = round(time.monotonic() - started, 1)
        mirror = MirrorMaker(base / "mirrormaker", [Flow(region(home, "home"), region(aggregate, "aggregate"),
                                                         (TOPIC,))])
        drive(result, mirror, base)
        yield result
    finally:
        if mirror is not None:
            mirror.stop()
        for name, p in platforms.items():
            keep_logs(p.base_dir, tmp_path_factory.getbasetemp() / f"{name}-logs")
            p.down(wipe=True)


def drive(run: Run, mirror: MirrorMaker, base: Path) -> None:
    produce(run.home, range(FIRST))
    read_and_commit(run.home, READ_AT_HOME)
    project = make_project(base / "project", (ROOT / "topics.yaml").read_text() + SHORT)
    rules = base / "rules.yml"
    done = k2("monitor", "rules", "--config", str(project / "topics.yaml"), "--out", str(rules), cwd=project)
    assert done.returncode == 0, done.stderr
    mirror.start(timeout=DEADLINE)
    (port,) = free_ports(1)
    exporter = k2_exporter(run.outputs, port)
    try:
        with Prometheus(base / "prometheus", port, rules).running() as prom:
            drive_lag(run, mirror, port, prom)
        drive_failover(run)
    finally:
        stop(exporter)
    print(f"MEASURED {json.dumps(run.measured)}")


def k2_exporter(outputs: Path, port: int) -> Any:
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "k2infra.cli", "monitor", "exporter", "--outputs", str(outputs),
                             "--port", str(port), "--address", "127.0.0.1", "--timeout", "5"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def caught_up(port: int) -> dict[str, float] | None:
    now = lag(port)
    return now if now.get("k2_replication_records_behind") == 0 and now.get("k2_replication_seconds_behind") == 0 \
        else None


def drive_lag(run: Run, mirror: MirrorMaker, port: int, prom: Prometheus) -> None:
    run.samples["running"] = wait_for(lambda: caught_up(port), "the exporter seeing the flow caught up", DEADLINE,
                                      every=0.25, ignoring=(OSError,))
    mirror.stop()
    stopped_at = time.monotonic()
    produce(run.home, range(FIRST, FIRST + WHILE_STOPPED // len(SYMBOLS)))
    run.samples["stopped"] = wait_for(
        lambda: (now := lag(port)).get("k2_replication_records_behind") == WHILE_STOPPED and now,
        f"records behind reaching the {WHILE_STOPPED} produced", DEADLINE, every=0.25, ignoring=(OSError,))

    def alert_state() -> str:
        found = prom.find("K2ReplicationLag", flow=FLOW, topic=TOPIC)
        state = found[0]["state"] if found else "inactive"
        if not run.alert_states or run.alert_states[-1] != state:
            run.alert_states.append(state)
        return state

    wait_for(lambda: alert_state() == "firing", "K2ReplicationLag firing", DEADLINE, every=0.25, ignoring=(OSError,))
    run.measured["stopped_to_firing_s"] = round(time.monotonic() - stopped_at, 1)
    (alert,) = prom.find("K2ReplicationLag", flow=FLOW, topic=TOPIC)
    run.measured["alert"] = {"labels": alert["labels"], "summary": alert["annotations"]["summary"]}
    restarted = time.monotonic()
    mirror.start(timeout=DEADLINE)
    run.samples["restarted"] = wait_for(lambda: caught_up(port), "the lag falling to 0 after the restart", DEADLINE,
                                        every=0.25, ignoring=(OSError,))
    run.measured["restart_to_caught_up_s"] = round(time.monotonic() - restarted, 1)
    wait_for(lambda: alert_state() == "inactive", "K2ReplicationLag resolved", DEADLINE, every=0.25,
             ignoring=(OSError,))


def drive_failover(run: Run) -> None:
    # A live member in the home region: refused.
    member = Consumer({"bootstrap.servers": run.home.bootstrap_servers, "group.id": GROUP, "log_level": 0,
                       "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    member.subscribe([TOPIC])
    try:
        wait_for(lambda: member.poll(0.5) is not None or member.assignment(), "a member joining in home", DEADLINE,
                 every=0)
        run.refused = failover(run, "--dry-run")
    finally:
        member.close()
    committed = records(run.home.bootstrap_servers)
    run.home_records = committed
    consumer = Consumer({"bootstrap.servers": run.home.bootstrap_servers, "group.id": GROUP, "log_level": 0})
    try:
        offsets = consumer.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=30)
    finally:
        consumer.close()
    run.home_committed = {tp.partition: tp.offset for tp in offsets if tp.offset >= 0}

    def dry_run() -> dict[str, Any] | None:
        done = failover(run, "--dry-run", "--json")
        if done.returncode != 0:
            return None
        plan = json.loads(done.stdout)
        return plan if {m["partition"] for m in plan["partitions"]} == set(run.home_committed) else None

    # A member's close leaves the group after the broker's rebalance; MirrorMaker checkpoints every second.
    run.dry_run = wait_for(dry_run, "a dry run with every partition's checkpoint", DEADLINE, every=1)
    done = failover(run, "--json")
    assert done.returncode == 0, done.stderr
    run.failover = json.loads(done.stdout)
    run.resumed = [(s, q) for _, _, s, q in records(run.aggregate.bootstrap_servers, group=GROUP)]
    run.measured["rereads"] = run.failover["topics"][TOPIC]["rereads"]
    conf = {"bootstrap.servers": run.aggregate.bootstrap_servers}
    run.raw = {topic: read_topic(conf, topic, DEADLINE)
               for topic in ("mm2-offsets.home.internal", "home.checkpoints.internal")}


def test_records_behind_grow_to_what_was_produced_while_mirrormaker_was_stopped(run: Run):
    print(f"MEASURED samples {json.dumps(run.samples)}")
    assert run.samples["running"]["k2_replication_up"] == 1
    assert run.samples["stopped"]["k2_replication_records_behind"] == WHILE_STOPPED
    assert run.samples["stopped"]["k2_replication_seconds_behind"] > 0
    assert run.samples["stopped"]["k2_replication_partitions_unknown"] == 0
    assert run.samples["restarted"]["k2_replication_records_behind"] == 0
    assert run.samples["restarted"]["k2_replication_seconds_behind"] == 0


def test_k2_replication_lag_goes_pending_fires_and_resolves_on_a_real_prometheus(run: Run):
    assert run.alert_states[-3:] == ["pending", "firing", "inactive"] or \
        run.alert_states[-4:] == ["inactive", "pending", "firing", "inactive"], run.alert_states
    alert = run.measured["alert"]
    assert isinstance(alert, dict)
    assert alert["labels"] | {"severity": "critical", "exchange": "asx", "source_region": "home"} == alert["labels"]
    assert "behind its home region home" in alert["summary"]


def test_failover_is_refused_while_the_group_has_members(run: Run):
    assert run.refused.returncode == 2, run.refused.stderr
    assert f"refused: group {GROUP} has 1 member(s) in home" in run.refused.stderr


def test_a_failed_over_group_resumes_in_the_aggregate_with_nothing_skipped_and_the_rereads_reported(run: Run):
    consumed = {(s, q) for p, o, s, q in run.home_records if o < run.home_committed.get(p, 0)}
    everything = {(s, q) for _, _, s, q in run.home_records}
    assert len(consumed) == READ_AT_HOME
    reread = [x for x in run.resumed if x in consumed]
    print(f"MEASURED failover {json.dumps(run.failover['topics'])}; home committed {run.home_committed}; "
          f"{len(run.resumed)} read after failover, {len(reread)} re-read")
    assert set(run.resumed) == everything - consumed | set(reread)   # nothing skipped
    assert len(run.resumed) == len(set(run.resumed))
    assert run.failover["committed"] and not run.dry_run["committed"]
    topic = run.failover["topics"][TOPIC]
    assert topic["exact"] and topic["skipped"] == 0
    assert topic["rereads"] == len(reread) == run.dry_run["topics"][TOPIC]["rereads"]


def test_bad_arguments_are_located(run: Run, tmp_path):
    wrong = k2("regions", "failover", "--outputs", str(run.outputs), "--group", GROUP, "--from", "eu-west", cwd=ROOT)
    assert wrong.returncode == 1 and "--from 'eu-west'" in wrong.stderr and "come from home" in wrong.stderr
    nobody = k2("regions", "failover", "--outputs", str(run.outputs), "--group", "never-ran", "--from", "home",
                cwd=ROOT)
    assert nobody.returncode == 1 and "no checkpoints for group never-ran in home.checkpoints.internal" in \
        nobody.stderr
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({**json.loads(run.outputs.read_text()), "replication": []}))
    none = k2("regions", "failover", "--outputs", str(flat), "--group", GROUP, "--from", "home", cwd=ROOT)
    assert none.returncode == 1 and f"{flat}: no replication flows" in none.stderr


def test_mirrormakers_own_records_decode_as_k2_reads_them(run: Run):
    """Connect's source offsets and the checkpoints, as MirrorMaker 4.1.1 wrote them (samples printed for the unit
    tests' recordings)."""
    offsets = [(k, v) for k, v in run.raw["mm2-offsets.home.internal"] if k and b"MirrorSourceConnector" in k]
    decoded = [source_offset(k, v) for k, v in offsets]
    assert offsets and all(d is not None and d.source == "home" and d.topic == TOPIC for d in decoded)
    checkpoints = [(k, v) for k, v in run.raw["home.checkpoints.internal"] if v]
    groups = {c.group for k, v in checkpoints if (c := checkpoint(k, v)) is not None}
    assert GROUP in groups
    print(f"MEASURED recorded offsets {offsets[-2:]!r} checkpoints {checkpoints[-2:]!r}")
