"""Replication lag per MirrorMaker 2 flow and topic, for the aggregating region's stack (its outputs' `replication`).

Records behind, per home partition: the home topic's end offset minus the next offset MirrorMaker copies. That
position is Connect's own: the source offset MirrorSourceTask commits in the target region's Connect offsets topic
(k2infra.observed.mirror), written in the same transaction as the copied records when exactly-once is on, so it is
exactly what a read_committed reader of the mirror can see. The offset syncs are not: MirrorMaker writes one
only every `offset.lag.max` records (100) or on a commit, and the checkpoints follow groups, not the topic.

Seconds behind: the newest record timestamp in the home partition minus the newest in the mirror (MirrorMaker
keeps the records' timestamps), 0 when nothing is behind. Both come from one ListOffsets MAX_TIMESTAMP request
per leader (KIP-734), no record is read. Heartbeats would need MirrorMaker's workers in the home region too
(the local platform runs them in the target only, docs/regions.md), so they are not used.

The cost of a scrape, per flow: metadata and three ListOffsets batches in the home region (latest, earliest,
max timestamp: one request per leader each), one in the target, and the records Connect wrote into its offsets
topic since the last scrape (the first scrape reads at most `tail` records per partition of it). Nothing scans
a topic. Until a partition's offset record has been seen (the first tail did not reach it: MirrorMaker has not
committed it recently), its records behind are unknown and left out, and counted in `unknown`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from k2infra.contracts.outputs import FlowInfo
from k2infra.observed.mirror import connect_offsets_topic, source_offset

TAIL = 2_000        # records per offsets-topic partition the first scrape reads back from its end
MAX_GAP = 100_000   # more new records than this since the last scrape: start again from the tail


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    home_end: int
    next_copy: int | None     # the next home offset MirrorMaker copies; None: not known yet
    home_newest_ms: int = -1  # the newest record timestamp (-1: the partition holds none)
    mirror_newest_ms: int = -1

    @property
    def records_behind(self) -> int | None:
        return None if self.next_copy is None else max(self.home_end - self.next_copy, 0)

    @property
    def seconds_behind(self) -> float | None:
        if self.records_behind == 0 or self.home_newest_ms < 0:
            return 0.0
        if self.mirror_newest_ms < 0:
            return None  # nothing copied yet: no mirror time to compare with
        return max(self.home_newest_ms - self.mirror_newest_ms, 0) / 1000


@dataclass(frozen=True)
class TopicLag:
    topic: str
    partitions: tuple[PartitionLag, ...]

    @property
    def records_behind(self) -> int | None:
        known = [p.records_behind for p in self.partitions if p.records_behind is not None]
        return sum(known) if known else None

    @property
    def seconds_behind(self) -> float | None:
        known = [s for p in self.partitions if (s := p.seconds_behind) is not None]
        return max(known) if known else None

    @property
    def unknown(self) -> int:
        return sum(p.next_copy is None for p in self.partitions)


@dataclass
class FlowLag:
    flow: str
    source: str
    target: str
    topics: list[TopicLag] = field(default_factory=list)
    error: str | None = None

    @property
    def up(self) -> bool:
        return self.error is None


@dataclass
class HomeRead:
    """What one look at the home region and the mirror saw, per topic and partition."""

    ends: dict[str, list[int]] = field(default_factory=dict)
    starts: dict[str, list[int]] = field(default_factory=dict)
    newest_ms: dict[str, list[int]] = field(default_factory=dict)
    mirror_newest_ms: dict[str, list[int]] = field(default_factory=dict)


def flow_lag(flow: FlowInfo, home: HomeRead, copied: Mapping[tuple[str, int], int | None], whole: bool) -> FlowLag:
    """The flow's lag from one look (pure). `copied`: (topic, partition) -> the last home offset MirrorMaker copied
    (None: reset); `whole`: the offsets topic was read from its start, so a partition it never names was never
    copied (MirrorMaker starts such a partition at its earliest offset)."""
    out = FlowLag(f"{flow.source}->{flow.target}", flow.source, flow.target)
    for topic in flow.topics:
        ends = home.ends.get(topic)
        if ends is None:
            continue
        mirror = home.mirror_newest_ms.get(topic, [])
        parts = []
        for p, end in enumerate(ends):
            key, next_copy = (topic, p), None
            if key in copied:
                last = copied[key]
                next_copy = home.starts[topic][p] if last is None else last + 1
            elif whole:
                next_copy = home.starts[topic][p]
            mirror_ms = mirror[p] if p < len(mirror) else -1
            parts.append(PartitionLag(p, end, next_copy, home.newest_ms[topic][p], mirror_ms))
        out.topics.append(TopicLag(topic, tuple(parts)))
    return out


class SourceOffsets:
    """Follows the target region's Connect offsets topic for one source region: the last home offset copied per
    home partition, from the records written since the previous look (one long-lived read_committed consumer)."""

    def __init__(self, conf: Mapping[str, Any], source: str, topic: str, tail: int = TAIL):
        self.conf, self.source, self.topic, self.tail = dict(conf), source, topic, tail
        self.copied: dict[tuple[str, int], int | None] = {}
        self.whole = False
        self._positions: dict[int, int] = {}
        self._consumer: Any = None

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        found = source_offset(key, value)
        if found is not None and found.source == self.source:
            self.copied[(found.topic, found.partition)] = found.copied

    def refresh(self, admin: Any, timeout: float) -> None:
        """Reads what was written since the last refresh (the tail at first); raises LookupError when the topic
        is not there (MirrorMaker never ran for this flow)."""
        from confluent_kafka import Consumer, IsolationLevel, TopicPartition
        from confluent_kafka.admin import OffsetSpec

        metadata = admin.list_topics(self.topic, timeout=timeout).topics.get(self.topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise LookupError(f"no {self.topic} in the target region: has MirrorMaker run for this flow?")
        parts = [TopicPartition(self.topic, p) for p in sorted(metadata.partitions)]
        ends = _offsets(admin.list_offsets({tp: OffsetSpec.latest() for tp in parts},
                                           isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=timeout),
                        timeout)
        firsts = _offsets(admin.list_offsets({tp: OffsetSpec.earliest() for tp in parts}, request_timeout=timeout),
                          timeout)
        if self._consumer is None:
            self._consumer = Consumer({**self.conf, "group.id": "k2-exporter-mirror", "enable.auto.commit": False,
                                       "isolation.level": "read_committed", "log_level": 0})
        starts, whole = {}, self.whole or not self._positions
        for p, end in ends.items():
            at = self._positions.get(p)
            if at is None or at < firsts[p] or end - at > MAX_GAP:
                at = max(firsts[p], end - self.tail)
                whole = whole and at == firsts[p] and p not in self._positions
            starts[p] = at
        self._consumer.assign([TopicPartition(self.topic, p, at) for p, at in starts.items()])
        left = {p for p, at in starts.items() if at < ends[p]}
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            for record in self._consumer.consume(500, timeout=0.2):
                if not record.error():
                    self.apply(record.key(), record.value())
            positions = self._consumer.position([TopicPartition(self.topic, p) for p in left])
            for tp in positions:
                if tp.offset >= 0:
                    self._positions[tp.partition] = tp.offset
            left = {tp.partition for tp in positions if tp.offset < ends[tp.partition]}
        for p in ends:
            self._positions.setdefault(p, starts[p])
        if left:
            raise TimeoutError(f"reading {self.topic} did not reach its end in {timeout:.0f}s")
        self.whole = whole

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def _offsets(futures: Mapping[Any, Any], timeout: float) -> dict[int, int]:
    return {tp.partition: f.result(timeout=timeout).offset for tp, f in futures.items()}


def home_conf(target_conf: Mapping[str, Any], flow: FlowInfo) -> dict[str, Any]:
    """The home region's client settings: its bootstrap servers (the flow's), the aggregate's login (one
    environment's regions share their security settings and operator credentials)."""
    if not flow.source_bootstrap_servers:
        raise LookupError(f"flow {flow.source}->{flow.target} names no source_bootstrap_servers in the stack "
                          f"outputs: deploy the {flow.source} region's stack, then this one again")
    return {**target_conf, "bootstrap.servers": flow.source_bootstrap_servers}


class ReplicationSampler:
    """One look at every flow into the stack's region per sample(); clients are kept between looks."""

    def __init__(self, target_conf: Mapping[str, Any], flows: Sequence[FlowInfo], timeout: float = 10.0,
                 offsets_topic: Callable[[str], str] = connect_offsets_topic, tail: int = TAIL):
        self.target_conf, self.flows, self.timeout = dict(target_conf), list(flows), timeout
        self._offsets = {s: SourceOffsets(target_conf, s, offsets_topic(s), tail) for s in {f.source for f in flows}}
        self._admins: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _admin(self, conf: Mapping[str, Any]) -> Any:
        from confluent_kafka.admin import AdminClient

        servers = str(conf["bootstrap.servers"])
        if servers not in self._admins:
            self._admins[servers] = AdminClient({**conf, "log_level": 0})
        return self._admins[servers]

    def sample(self) -> list[FlowLag]:
        with self._lock:
            return [self._flow(flow) for flow in self.flows]

    def _flow(self, flow: FlowInfo) -> FlowLag:
        name = f"{flow.source}->{flow.target}"
        try:
            home_admin, target_admin = self._admin(home_conf(self.target_conf, flow)), self._admin(self.target_conf)
            home = read_home(home_admin, target_admin, flow.topics, self.timeout)
            offsets = self._offsets[flow.source]
            offsets.refresh(target_admin, self.timeout)
        except Exception as err:  # the region or MirrorMaker's topics away: the flow is down, the scrape goes on
            return FlowLag(name, flow.source, flow.target, error=f"flow {name}: {_reason(err)}")
        return flow_lag(flow, home, offsets.copied, offsets.whole)

    def close(self) -> None:
        for offsets in self._offsets.values():
            offsets.close()


def read_home(home_admin: Any, target_admin: Any, topics: Sequence[str], timeout: float) -> HomeRead:
    """End and earliest offsets and the newest timestamps of the flow's home partitions, and the mirror's newest."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    metadata = home_admin.list_topics(timeout=timeout).topics
    counts = {t: len(metadata[t].partitions) for t in topics if t in metadata and metadata[t].partitions}
    wanted = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
    out = HomeRead()
    if not wanted:
        return out
    asks = {"ends": (home_admin, OffsetSpec.latest()), "starts": (home_admin, OffsetSpec.earliest()),
            "newest_ms": (home_admin, OffsetSpec.max_timestamp()),
            "mirror_newest_ms": (target_admin, OffsetSpec.max_timestamp())}
    futures = {what: admin.list_offsets({tp: spec for tp in wanted}, request_timeout=timeout)
               for what, (admin, spec) in asks.items()}  # all four batches in flight at once
    for what, batch in futures.items():
        table = {t: [-1] * n for t, n in counts.items()}
        for tp, future in batch.items():
            info = future.result(timeout=timeout)
            table[tp.topic][tp.partition] = info.timestamp if what.endswith("_ms") else info.offset
        setattr(out, what, table)
    return out


def _reason(err: BaseException) -> str:
    text = str(err.args[0]) if getattr(err, "args", None) else str(err)
    return text or type(err).__name__


def replication_metrics(flows: Sequence[FlowLag]) -> Iterator[Metric]:
    """k2_replication_up{flow,source_region}, k2_replication_records_behind and k2_replication_seconds_behind
    {flow,source_region,topic}, k2_replication_partitions_unknown{flow,source_region,topic}."""
    labels = ["flow", "source_region", "topic"]
    up = GaugeMetricFamily("k2_replication_up", "1 if this scrape reached the flow's home region and MirrorMaker's "
                           "offsets in this region.", labels=["flow", "source_region"])
    records = GaugeMetricFamily("k2_replication_records_behind", "Home-topic records MirrorMaker has not copied "
                                "into this region yet (end offset minus its committed source position).",
                                labels=labels)
    seconds = GaugeMetricFamily("k2_replication_seconds_behind", "Newest record timestamp in the home topic minus "
                                "the newest in its mirror, 0 when caught up.", labels=labels)
    unknown = GaugeMetricFamily("k2_replication_partitions_unknown", "Home partitions whose copied position has not "
                                "been seen yet (left out of records behind).", labels=labels)
    for flow in flows:
        up.add_metric([flow.flow, flow.source], int(flow.up))
        for t in flow.topics:
            key = [flow.flow, flow.source, t.topic]
            if t.records_behind is not None:
                records.add_metric(key, t.records_behind)
            if t.seconds_behind is not None:
                seconds.add_metric(key, t.seconds_behind)
            unknown.add_metric(key, t.unknown)
    yield from (up, records, seconds, unknown)


def lag_alerts(flow: FlowLag, thresholds: Callable[[str], Any]) -> list[str]:
    """The K2ReplicationLag alerts `k2 monitor` raises for a flow (`thresholds(topic)`: its exchange's
    replication_lag), and one when the flow could not be seen; the same thresholds as the rules."""
    if not flow.up:
        return [f"critical: {flow.error}"]
    out = []
    for t in flow.topics:
        s = thresholds(t.topic)
        records, seconds = t.records_behind or 0, t.seconds_behind or 0.0
        if seconds > s.seconds or records > s.above:
            out.append(f"critical: {t.topic} is {records:,} records and {seconds:,.1f}s behind {flow.source} (over "
                       f"{s.seconds:g}s or {s.above:,} records): check MirrorMaker's workers and the link to "
                       f"{flow.source}")
    return out


def describe(t: TopicLag) -> str:
    records = "unknown" if t.records_behind is None else f"{t.records_behind:,}"
    seconds = "unknown" if t.seconds_behind is None else f"{t.seconds_behind:,.1f}s"
    unknown = f" ({t.unknown} partitions not seen yet)" if t.unknown else ""
    return f"{records} records, {seconds} behind{unknown}"


def to_dict(flow: FlowLag) -> dict[str, Any]:
    return {"flow": flow.flow, "source_region": flow.source, "target_region": flow.target, "error": flow.error,
            "topics": [{"topic": t.topic, "records_behind": t.records_behind, "seconds_behind": t.seconds_behind,
                        "partitions_unknown": t.unknown} for t in flow.topics]}


def replication_thresholds(topology: Any) -> Callable[[str], Any]:
    """topic -> its exchange's replication_lag thresholds (topics.yaml's monitoring section)."""
    from k2infra.contracts.naming import parse_topic_name

    def of(topic: str) -> Any:
        try:
            exchange = parse_topic_name(topic).exchange
        except ValueError:
            return topology.monitoring.default.replication_lag
        return topology.monitoring.for_exchange(exchange).replication_lag

    return of
