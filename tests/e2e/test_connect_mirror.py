"""MirrorMaker 2 on a real Kafka Connect cluster, declared through K2's connector provider (prod's way, issue 23).

Two local regions of their own (home, aggregate) and a real distributed Connect worker on the aggregate's cluster.
The provider's own create, diff, update and delete are called as the Pulumi engine would call them (no engine
needed): the flow's three connectors are created, trades produced in the home region arrive once and in
per-symbol order in the aggregate (read_committed), a new exchange's topic added to the flow's topics arrives too,
and after delete Connect no longer lists the connectors and replication stops. One run drives it all; the tests
assert on it and print its measurements (`pytest -s`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from k2infra.contracts.replication import (
    LOCAL_INTERVALS,
    Kind,
    MirrorFlow,
    MirrorOptions,
    RegionCluster,
    connector_configs,
    connector_name,
)
from k2infra.local import PlatformState
from k2infra.local.connect import ConnectWorker
from k2infra.model.regions import ReplicationFlow
from k2infra.providers.mirror_connector import MirrorConnectorProvider, config_changes
from tests.conftest import wait_for
from tests.e2e.conftest import two_regions
from tests.e2e.mirrored import end_offsets, read_to_end

DEADLINE = 120.0  # generous: a busy 2-core machine; every wait returns as soon as its condition holds
TOPIC, PARTITIONS = "market.equities.trades.asx", 6
NEW_TOPIC, NEW_PARTITIONS = "market.crypto.trades.binance", 3   # the exchange added to the home region
SYMBOLS = [f"SYM{i:02d}" for i in range(20)]
ROUNDS = 50          # trades per symbol on each topic
AFTER_DELETE = 10    # rounds produced once the connectors are deleted: none may arrive
OPTIONS = MirrorOptions(exactly_once=True, replication_factor=1, intervals=LOCAL_INTERVALS)


@dataclass
class Run:
    """What the one run saw."""

    home: PlatformState
    aggregate: PlatformState
    worker: ConnectWorker
    read: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)   # topic -> (partition, symbol, seq)
    uncommitted: dict[str, int] = field(default_factory=dict)                    # topic -> records read so
    diffs: dict[str, tuple[bool, list[str], list[str]]] = field(default_factory=dict)  # name -> changes, keys, replaces
    listed_after_delete: list[str] = field(default_factory=list)
    ends_before_delete: dict[int, int] = field(default_factory=dict)
    ends_after_delete: dict[int, int] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)


def create_topic(state: PlatformState, topic: str, partitions: int) -> None:
    """As K2 would: the mirrored topic exists in the aggregate (and the home topic at home) before replication."""
    admin = AdminClient({"bootstrap.servers": state.bootstrap_servers})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=60)


def produce(state: PlatformState, topic: str, rounds: range) -> int:
    """One trade per symbol per round, keyed by symbol (the per-symbol order to keep), seq in the value; returns
    how many the home region acknowledged."""
    producer = Producer({"bootstrap.servers": state.bootstrap_servers, "enable.idempotence": True, "linger.ms": 5})
    acked = []
    for seq in rounds:
        for symbol in SYMBOLS:
            producer.produce(topic, key=symbol, value=json.dumps({"symbol": symbol, "seq": seq}),
                             on_delivery=lambda err, _record: acked.append(err is None))
        producer.poll(0)
    assert producer.flush(60) == 0
    return sum(acked)


def wait_replicated(run: Run, topic: str, partitions: int, expected: int) -> float:
    """Seconds until the aggregate holds `expected` distinct trades of `topic` (read_committed)."""
    started = time.monotonic()
    wait_for(lambda: len({(s, q) for _, s, q in read_to_end(run.aggregate.bootstrap_servers, topic, partitions,
                                                            "read_committed")}) >= expected,
             f"{expected} trades of {topic} in the aggregate", timeout=DEADLINE, every=0.5)
    took = time.monotonic() - started
    run.read[topic] = read_to_end(run.aggregate.bootstrap_servers, topic, partitions, "read_committed")
    run.uncommitted[topic] = len(read_to_end(run.aggregate.bootstrap_servers, topic, partitions, "read_uncommitted"))
    return took


def mirror_flow(run: Run, flow: ReplicationFlow) -> MirrorFlow:
    return MirrorFlow(RegionCluster(flow.source, run.home.bootstrap_servers),
                      RegionCluster(flow.target, run.aggregate.bootstrap_servers), flow.topics, groups=())


def props_of(run: Run, flow: ReplicationFlow) -> dict[str, dict[str, Any]]:
    """Each connector's provider inputs, as the component declares them."""
    return {name: {"connect_url": run.worker.url, "name": name, "config": config}
            for name, config in connector_configs(mirror_flow(run, flow), OPTIONS).items()}


def listed(run: Run) -> list[str]:
    return httpx.get(f"{run.worker.url}/connectors", timeout=10).json()


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PlatformState, PlatformState, Path]]:
    yield from two_regions(tmp_path_factory, "connect-regions")


@pytest.fixture(scope="module")
def run(regions: tuple[PlatformState, PlatformState, Path]) -> Iterator[Run]:
    home, aggregate, base = regions
    for state in (home, aggregate):
        create_topic(state, TOPIC, PARTITIONS)
    worker = ConnectWorker(base / "connect", aggregate.bootstrap_servers)
    result = Run(home, aggregate, worker)
    started = time.monotonic()
    try:
        worker.start(timeout=DEADLINE)
        result.measured["worker_start_s"] = round(time.monotonic() - started, 1)
        drive(result)
        yield result
    finally:
        worker.stop()


def drive(run: Run) -> None:
    provider, measured = MirrorConnectorProvider(), run.measured
    flow = ReplicationFlow("home", "aggregate", (TOPIC,))
    created = {}
    started = time.monotonic()
    for name, props in props_of(run, flow).items():
        assert not provider.check({}, props).failures
        created[name] = provider.create(props).outs
    measured["create_three_s"] = round(time.monotonic() - started, 1)

    acked = produce(run.home, TOPIC, range(ROUNDS))
    measured["first_topic_s"] = round(wait_replicated(run, TOPIC, PARTITIONS, acked), 1)

    # A new exchange in the home region: its trades topic exists in both regions (K2's two stacks create it),
    # then the flow's topics name it and the connectors' configs follow.
    for state in (run.home, run.aggregate):
        create_topic(state, NEW_TOPIC, NEW_PARTITIONS)
    grown = ReplicationFlow("home", "aggregate", (TOPIC, NEW_TOPIC))
    started = time.monotonic()
    for name, news in props_of(run, grown).items():
        diff = provider.diff(name, created[name], news)
        run.diffs[name] = (bool(diff.changes), config_changes(created[name]["config"], news["config"]),
                           diff.replaces or [])
        if diff.changes:
            created[name] = provider.update(name, created[name], news).outs or news
    measured["update_s"] = round(time.monotonic() - started, 1)
    new_acked = produce(run.home, NEW_TOPIC, range(ROUNDS))
    measured["new_topic_s"] = round(wait_replicated(run, NEW_TOPIC, NEW_PARTITIONS, new_acked), 1)

    run.ends_before_delete = end_offsets(run.aggregate.bootstrap_servers, TOPIC, PARTITIONS)
    started = time.monotonic()
    for name, props in created.items():
        provider.delete(name, props)
    measured["delete_three_s"] = round(time.monotonic() - started, 1)
    run.listed_after_delete = listed(run)
    produce(run.home, TOPIC, range(ROUNDS, ROUNDS + AFTER_DELETE))
    # Nothing may arrive: watched for three times what the new topic's records took to arrive, at least 10 s.
    window = max(10.0, 3 * measured["new_topic_s"])
    moved = wait_for(lambda: end_offsets(run.aggregate.bootstrap_servers, TOPIC, PARTITIONS) != run.ends_before_delete,
                     "records arriving after the delete", timeout=window, every=0.5, fail=False)
    run.ends_after_delete = end_offsets(run.aggregate.bootstrap_servers, TOPIC, PARTITIONS)
    measured["watched_after_delete_s"] = round(window, 1)
    measured["moved_after_delete"] = bool(moved)
    print(f"MEASURED {json.dumps(measured)}")


def assert_once_in_order(records: list[tuple[int, str, int]]) -> None:
    by_symbol: dict[str, list[int]] = {}
    partitions: dict[str, set[int]] = {}
    for partition, symbol, seq in records:
        by_symbol.setdefault(symbol, []).append(seq)
        partitions.setdefault(symbol, set()).add(partition)
    assert len(records) == len(set(records)), "duplicates"
    assert by_symbol == {s: list(range(ROUNDS)) for s in SYMBOLS}  # nothing lost, per-symbol order kept
    assert all(len(p) == 1 for p in partitions.values())  # a symbol stays on one partition, as at home


def test_the_connectors_copy_every_trade_once_in_per_symbol_order_in_transactions(run: Run):
    records = run.read[TOPIC]
    markers = sum(end_offsets(run.aggregate.bootstrap_servers, TOPIC, PARTITIONS).values()) - run.uncommitted[TOPIC]
    print(f"MEASURED {len(records)} trades read_committed in the aggregate, {run.uncommitted[TOPIC]} "
          f"read_uncommitted, {markers} offsets of transaction markers")
    assert_once_in_order(records)
    assert markers > 0  # exactly-once really on: the source task writes in transactions (KIP-618)


def test_a_new_topic_changes_only_the_topics_of_the_source_and_checkpoint_connectors(run: Run):
    source, checkpoint, heartbeat = (connector_name(mirror_flow(run, ReplicationFlow("home", "aggregate", ())), k)
                                     for k in (Kind.SOURCE, Kind.CHECKPOINT, Kind.HEARTBEAT))
    assert run.diffs[source] == (True, ["topics"], [])
    assert run.diffs[checkpoint] == (True, ["topics"], [])
    assert run.diffs[heartbeat] == (False, [], [])


def test_the_new_exchanges_trades_arrive_after_the_update(run: Run):
    by_symbol = {s: [q for _, sym, q in run.read[NEW_TOPIC] if sym == s] for s in SYMBOLS}
    assert len(run.read[NEW_TOPIC]) == len(set(run.read[NEW_TOPIC])) == ROUNDS * len(SYMBOLS)
    assert by_symbol == {s: list(range(ROUNDS)) for s in SYMBOLS}


def test_delete_removes_the_connectors_and_replication_stops(run: Run):
    assert not [name for name in run.listed_after_delete if name.startswith("k2.")]
    assert not run.measured["moved_after_delete"]
    assert run.ends_after_delete == run.ends_before_delete
