"""Real MirrorMaker 2 (dedicated mode, exactly-once) between two local regions of their own: a home region where
an exchange's trades are produced and an aggregating region that reads them under the same topic name.

One run drives everything, in the order a region sees it: a group reads the first records in the home region and
commits; MirrorMaker starts; trades keep coming while MirrorMaker is SIGKILLed mid-stream and restarted; then the
aggregate is read (read_committed) and the group resumes there at the offsets MirrorMaker translated. The tests
assert on that run; its measurements are printed (`pytest -s`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from k2infra.local import PlatformState
from k2infra.local.mirror import Flow, MirrorMaker, Region
from tests.conftest import wait_for
from tests.e2e.conftest import two_regions
from tests.e2e.mirrored import end_offsets, read_to_end

DEADLINE = 120.0  # generous: a busy 2-core machine; every wait returns as soon as its condition holds
TOPIC = "market.equities.trades.asx"
PARTITIONS = 6
# Listed in the flow but created in the home region only: shows what MirrorMaker does with a missing target topic.
UNCREATED = "market.crypto.trades.binance"
SYMBOLS = [f"SYM{i:02d}" for i in range(20)]
BEFORE = 25   # trades per symbol the home group reads before MirrorMaker starts
TOTAL = 100   # trades per symbol in all
GROUP = "asx-trades-reader"
INTERNAL = ("__", "mm2-", "heartbeats", "home.checkpoints.internal")


@dataclass
class Run:
    """What the one run saw."""

    home: PlatformState
    aggregate: PlatformState
    mirror: MirrorMaker
    acked: list[tuple[str, int]] = field(default_factory=list)      # (symbol, seq) the home region acknowledged
    committed_read: list[tuple[int, str, int]] = field(default_factory=list)    # (partition, symbol, seq)
    uncommitted_read: int = 0
    failover_read: list[tuple[str, int]] = field(default_factory=list)
    group_offsets: dict[str, dict[int, int]] = field(default_factory=dict)   # region -> partition -> offset
    measured: dict[str, object] = field(default_factory=dict)


def region(state: PlatformState, name: str) -> Region:
    return Region(name, state.bootstrap_servers)


def create_topic(state: PlatformState, topic: str, partitions: int) -> None:
    """As K2 would: the mirrored topic exists in the aggregate before MirrorMaker runs, with the home's count."""
    admin = AdminClient({"bootstrap.servers": state.bootstrap_servers})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=60)


def produce(state: PlatformState, rounds: range, acked: list[tuple[str, int]], pause: float = 0.0) -> None:
    """One trade per symbol per round, keyed by symbol (the per-symbol order to keep), seq in the value."""
    producer = Producer({"bootstrap.servers": state.bootstrap_servers, "enable.idempotence": True,
                         "linger.ms": 5})

    def delivered(error, record) -> None:
        if error is None:
            value = json.loads(record.value())
            acked.append((value["symbol"], value["seq"]))

    for seq in rounds:
        for symbol in SYMBOLS:
            producer.produce(TOPIC, key=symbol, value=json.dumps({"symbol": symbol, "seq": seq}),
                             on_delivery=delivered)
        producer.poll(0)
        if pause:
            time.sleep(pause)  # paces the stream so the SIGKILL lands in its middle; not a wait for a condition
    assert producer.flush(60) == 0


def read_in_home(state: PlatformState, count: int) -> None:
    """The group reads `count` trades in the home region and commits: what it would fail over with."""
    consumer = Consumer({"bootstrap.servers": state.bootstrap_servers, "group.id": GROUP,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, "log_level": 0})
    consumer.subscribe([TOPIC])
    seen = []

    def read_all() -> bool:
        record = consumer.poll(0.5)
        if record is not None and not record.error():
            seen.append(record)
        return len(seen) >= count

    try:
        wait_for(read_all, f"the home group reading {count} trades", timeout=DEADLINE, every=0)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()


def committed_offsets(state: PlatformState) -> dict[int, int]:
    admin = AdminClient({"bootstrap.servers": state.bootstrap_servers})
    from confluent_kafka import ConsumerGroupTopicPartitions

    future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(GROUP)])[GROUP]
    return {tp.partition: tp.offset for tp in future.result(timeout=30).topic_partitions
            if tp.topic == TOPIC and tp.offset >= 0}


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PlatformState, PlatformState, Path]]:
    yield from two_regions(tmp_path_factory, "regions")


@pytest.fixture(scope="module")
def run(regions: tuple[PlatformState, PlatformState, Path]) -> Iterator[Run]:
    home, aggregate, base = regions
    for state in (home, aggregate):
        create_topic(state, TOPIC, PARTITIONS)
    create_topic(home, UNCREATED, 3)
    flow = Flow(region(home, "home"), region(aggregate, "aggregate"), (TOPIC, UNCREATED))
    result = Run(home, aggregate, MirrorMaker(base / "mirrormaker", [flow]))
    produce(home, range(BEFORE), result.acked)
    read_in_home(home, BEFORE * len(SYMBOLS))
    result.group_offsets["home"] = committed_offsets(home)
    try:
        drive(result)
        yield result
    finally:
        result.mirror.stop()


def drive(run: Run) -> None:
    mirror, measured = run.mirror, run.measured
    started = time.monotonic()
    mirror.start(timeout=DEADLINE)
    measured["start_s"] = round(time.monotonic() - started, 1)
    stream = threading.Thread(target=produce, args=(run.home, range(BEFORE, TOTAL), run.acked, 0.1))
    stream.start()
    try:
        # Mid-stream: the aggregate has part of the stream, the home region is still producing.
        wait_for(lambda: sum(end_offsets(run.aggregate.bootstrap_servers, TOPIC, PARTITIONS).values())
                 >= (BEFORE + 20) * len(SYMBOLS), "the first streamed trades in the aggregate", timeout=DEADLINE)
        measured["acked_at_kill"] = len(run.acked)
        measured["stream_running_at_kill"] = stream.is_alive()
        mirror.kill()
        started = time.monotonic()
        mirror.start(timeout=DEADLINE)
        measured["restart_s"] = round(time.monotonic() - started, 1)
    finally:
        stream.join(120)
    everything = len(SYMBOLS) * TOTAL
    started = time.monotonic()
    aggregate = run.aggregate.bootstrap_servers
    wait_for(lambda: len({(s, q) for _, s, q in read_to_end(aggregate, TOPIC, PARTITIONS, "read_committed")})
             >= everything, f"all {everything} trades in the aggregate", timeout=DEADLINE, every=1)
    measured["catch_up_after_stream_s"] = round(time.monotonic() - started, 1)
    run.committed_read = read_to_end(run.aggregate.bootstrap_servers, TOPIC, PARTITIONS, "read_committed")
    run.uncommitted_read = len(read_to_end(run.aggregate.bootstrap_servers, TOPIC, PARTITIONS, "read_uncommitted"))
    # The group's offsets, translated through MirrorMaker's checkpoints and written in the aggregate.
    home_partitions = set(run.group_offsets["home"])  # a partition no symbol hashes to has no offset
    run.group_offsets["aggregate"] = wait_for(
        lambda: (offsets := committed_offsets(run.aggregate)) and set(offsets) == home_partitions and offsets,
        "the group's translated offsets in the aggregate", timeout=DEADLINE, every=0.5)
    run.failover_read = [(s, q) for _, s, q in read_to_end(aggregate, TOPIC, PARTITIONS, "read_committed", group=GROUP)]
    print(f"MEASURED {json.dumps(measured)}")


def test_mirrormaker_writes_the_aggregate_in_transactions(run: Run):
    """Exactly-once really on: the target's partitions hold transaction markers (offsets no record has), and the
    batch the SIGKILL interrupted is visible to read_uncommitted only."""
    ends = end_offsets(run.aggregate.bootstrap_servers, TOPIC, PARTITIONS)
    markers_and_aborted = sum(ends.values()) - run.uncommitted_read
    aborted = run.uncommitted_read - len(run.committed_read)
    print(f"MEASURED aggregate offsets {sum(ends.values())}, read_committed {len(run.committed_read)}, "
          f"read_uncommitted {run.uncommitted_read} (aborted records {aborted}), markers {markers_and_aborted}")
    assert markers_and_aborted > 0
    assert "aggregate.exactly.once.source.support=enabled" in (run.mirror.base_dir / "mm2.properties").read_text()


def test_every_acknowledged_trade_arrives_once_in_per_symbol_order_across_a_sigkill(run: Run):
    assert run.measured["stream_running_at_kill"], "the SIGKILL was meant to land in the middle of the stream"
    assert sorted(run.acked) == sorted((s, q) for s in SYMBOLS for q in range(TOTAL))
    by_symbol: dict[str, list[int]] = {}
    partitions: dict[str, set[int]] = {}
    for partition, symbol, seq in run.committed_read:
        by_symbol.setdefault(symbol, []).append(seq)
        partitions.setdefault(symbol, set()).add(partition)
    duplicates = len(run.committed_read) - len(set(run.committed_read))
    print(f"MEASURED {len(run.committed_read)} trades read in the aggregate, {duplicates} duplicates")
    assert duplicates == 0
    assert by_symbol == {s: list(range(TOTAL)) for s in SYMBOLS}  # nothing lost, per-symbol order kept
    assert all(len(p) == 1 for p in partitions.values())  # a symbol stays on one partition, as at home


def test_a_group_resumes_in_the_aggregate_at_its_translated_offsets(run: Run):
    reread = Counter(q < BEFORE for _, q in run.failover_read)[True]
    resumed = {(s, q) for s, q in run.failover_read if q >= BEFORE}
    print(f"MEASURED group offsets home {run.group_offsets['home']} -> aggregate {run.group_offsets['aggregate']}; "
          f"{len(run.failover_read)} read after failover, {reread} re-read of {BEFORE * len(SYMBOLS)} already read")
    assert resumed == {(s, q) for s in SYMBOLS for q in range(BEFORE, TOTAL)}  # nothing skipped
    assert reread < BEFORE * len(SYMBOLS)  # it did not start over


def test_mirrormaker_itself_creates_a_listed_topic_the_aggregate_lacks(run: Run):
    """No MirrorMaker 4.1 setting turns this off (MirrorSourceConnector.computeAndCreateTopicPartitions runs on
    every refresh): K2 must create the mirrored topics first, and deny the replication principal CREATE."""
    admin = AdminClient({"bootstrap.servers": run.aggregate.bootstrap_servers})
    created = wait_for(lambda: admin.list_topics(timeout=10).topics.get(UNCREATED),
                       f"{UNCREATED} in the aggregate", timeout=DEADLINE, every=0.5)
    assert len(created.partitions) == 3
    ours = {t for t in admin.list_topics(timeout=10).topics if not t.startswith(INTERNAL)}
    assert ours == {TOPIC, UNCREATED}
