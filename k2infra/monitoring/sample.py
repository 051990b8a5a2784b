"""One look at the cluster for the stack's topics and its consumer groups: one batch of admin calls.

A sample is: the cluster's metadata (one request: partitions, leaders, replicas, in-sync replicas),
the latest offset of every partition (one list_offsets call: one request per leader for all its
partitions), the consumer groups (one ListGroups call) and each group's committed offsets (one
OffsetFetch per group: the client takes one group per call, so all of them are sent before any
answer is awaited), all in flight at once. Nothing is asked per partition. The earliest offsets
(kafka_topic_partition_oldest_offset) move only with retention and compaction: they are read in the
same batch every `earliest_every` seconds (and whenever partitions appear), and reused in between.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PartitionState:
    leader: int  # broker id, -1 without a leader
    replicas: int
    in_sync: int

    @property
    def under_replicated(self) -> bool:
        return self.in_sync < self.replicas


@dataclass
class Snapshot:
    """What one sample saw; `error` set (and nothing else) when the cluster did not answer."""

    taken_at: float  # time.monotonic()
    brokers: int = 0
    partitions: dict[str, list[PartitionState]] = field(default_factory=dict)  # expected topics the cluster has
    latest: dict[str, list[int]] = field(default_factory=dict)  # end offsets (-1: unknown)
    earliest: dict[str, list[int]] = field(default_factory=dict)
    committed: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)  # group -> topic -> partition
    error: str | None = None
    problems: list[str] = field(default_factory=list)  # parts that failed (a group, a partition's offsets)

    @property
    def up(self) -> bool:
        return self.error is None

    def lag(self, group: str, topic: str) -> dict[int, int]:
        """Partition -> messages behind, for partitions the group has committed on (never negative)."""
        ends = self.latest.get(topic, [])
        return {p: max(ends[p] - done, 0) for p, done in self.committed.get(group, {}).get(topic, {}).items()
                if p < len(ends) and ends[p] >= 0}


class ClusterSampler:
    """Samples the cluster through one long-lived AdminClient; safe to call from several threads (serialised)."""

    def __init__(self, conf: Mapping[str, Any], timeout: float = 10.0, groups: str | None = None,
                 earliest_every: float = 30.0):
        from confluent_kafka.admin import AdminClient

        self.servers = str(conf.get("bootstrap.servers"))
        self.timeout = timeout
        self.group_filter = re.compile(groups) if groups else None  # only groups whose id matches (search)
        # log_level 0: an unreachable cluster shows as k2_up 0 and one message, not a stream of librdkafka logs.
        self._admin = AdminClient({**conf, "log_level": 0})
        self._lock = threading.Lock()
        self.earliest_every = earliest_every
        self._earliest: dict[str, list[int]] = {}
        self._earliest_at = -math.inf

    def sample(self, topics: Iterable[str]) -> Snapshot:
        with self._lock:
            snapshot = Snapshot(time.monotonic())
            try:
                self._sample(list(topics), snapshot)
            except Exception as err:  # KafkaException, timeouts: the scrape reports k2_up 0
                return Snapshot(snapshot.taken_at, error=f"cannot reach Kafka at {self.servers}: {_reason(err)}")
            return snapshot

    def _sample(self, topics: list[str], out: Snapshot) -> None:
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
        from confluent_kafka.admin import OffsetSpec

        deadline = time.monotonic() + self.timeout
        admin = self._admin
        metadata = admin.list_topics(timeout=self.timeout)
        groups_future = admin.list_consumer_groups(request_timeout=self.timeout)
        out.brokers = len(metadata.brokers)
        for name in topics:
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None or not topic.partitions:
                continue
            out.partitions[name] = [PartitionState(p.leader, len(p.replicas), len(p.isrs))
                                    for _, p in sorted(topic.partitions.items())]
        wanted = [TopicPartition(t, p) for t, states in out.partitions.items() for p in range(len(states))]
        latest = admin.list_offsets({tp: OffsetSpec.latest() for tp in wanted}, request_timeout=self.timeout) \
            if wanted else {}
        known = {t: len(v) for t, v in self._earliest.items()}
        fresh = time.monotonic() - self._earliest_at < self.earliest_every and all(
            known.get(t) == len(states) for t, states in out.partitions.items())
        earliest = {} if fresh or not wanted else \
            admin.list_offsets({tp: OffsetSpec.earliest() for tp in wanted}, request_timeout=self.timeout)
        listing = groups_future.result(timeout=_left(deadline))
        groups = sorted(g.group_id for g in listing.valid
                        if self.group_filter is None or self.group_filter.search(g.group_id))
        offsets = {g: admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)],
                                                        request_timeout=self.timeout)[g] for g in groups}
        for label, futures in (("latest", latest), ("earliest", earliest)):
            table = {t: [-1] * len(states) for t, states in out.partitions.items()}
            for tp, future in futures.items():
                try:
                    table[tp.topic][tp.partition] = future.result(timeout=_left(deadline)).offset
                except Exception as err:
                    out.problems.append(f"{label} offset of {tp.topic}[{tp.partition}]: {_reason(err)}")
            setattr(out, label, table)
        if fresh:
            out.earliest = {t: self._earliest[t] for t in out.partitions}
        elif not any(p.startswith("earliest") for p in out.problems):
            self._earliest, self._earliest_at = out.earliest, time.monotonic()
        expected = set(out.partitions)
        for group, future in offsets.items():
            try:
                result = future.result(timeout=_left(deadline))
            except Exception as err:
                out.problems.append(f"group {group}'s offsets: {_reason(err)}")
                continue
            mine: dict[str, dict[int, int]] = {}
            for tp in result.topic_partitions or []:
                if tp.topic in expected and tp.offset >= 0 and tp.error is None:
                    mine.setdefault(tp.topic, {})[tp.partition] = tp.offset
            if mine:
                out.committed[group] = mine


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.1)


def _reason(err: BaseException) -> str:
    text = str(err.args[0]) if getattr(err, "args", None) else str(err)
    return text or type(err).__name__
