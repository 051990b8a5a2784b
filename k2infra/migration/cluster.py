"""What the migration asks the cluster: partitions, offsets, committed positions, consumer groups, last writes.

Every call retries what a busy or freshly started broker answers for a while (coordinator loading, no
leader yet) until a deadline, then raises ClusterError naming the address.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from k2infra.observed.cluster import connect_timeout
from k2infra.observed.failures import Unreachable
from k2infra.observed.retry import retrying as retry

T = TypeVar("T")
TP = tuple[str, int]  # (topic, partition)

OFFSETS_TOPIC = "__consumer_offsets"  # created by Kafka at the first consumer group's first coordinator lookup


class ClusterError(RuntimeError):
    """The cluster did not answer (or refused); the message names the address and what was asked."""


def retrying(what: str, call: Callable[[], T], deadline_seconds: float = 30) -> T:
    """`call()`, retried while the broker is busy (k2infra.observed.retry); ClusterError saying `what` failed."""
    return retry(call, deadline_seconds=deadline_seconds,
                 give_up=lambda err, error: ClusterError(f"{what}: {error.str() if error is not None else err}"))


@dataclass(frozen=True)
class GroupUse:
    """A consumer group that reads (or has read) some of the given topics."""

    group: str
    state: str
    assigned: Mapping[str, int]  # topic -> members assigned partitions of it
    topics: tuple[str, ...]  # those topics it has members on or committed offsets for

    def members_on(self, topics: Collection[str]) -> int:
        """How many of the group's members are assigned partitions of any of `topics`."""
        return max((n for t, n in self.assigned.items() if t in topics), default=0)


class Cluster:
    def __init__(self, conf: Mapping[str, Any], timeout: float = 15):
        self.conf = dict(conf)
        self.servers = self.conf["bootstrap.servers"]
        self.timeout = timeout
        self.admin = AdminClient({**self.conf, "log_level": 0})

    def partitions(self, names: Iterable[str] | None = None) -> dict[str, int]:
        """Topic -> partition count, for the topics that exist (all of them when `names` is None)."""
        try:
            wait = connect_timeout(self.timeout)  # $K2_CONNECT_TIMEOUT, as for every other wait on the cluster
        except Unreachable as err:
            raise ClusterError(str(err)) from None
        try:
            metadata = self.admin.list_topics(timeout=wait)
        except KafkaException as err:
            raise ClusterError(f"cannot reach Kafka at {self.servers}: {err.args[0].str()}") from None
        wanted = None if names is None else set(names)
        return {n: len(t.partitions) for n, t in metadata.topics.items()
                if (wanted is None or n in wanted) and t.error is None and t.partitions}

    def offsets(self, partitions: Mapping[str, int], spec: str = "latest") -> dict[TP, int]:
        """(topic, partition) -> its end (read_committed: the last stable offset), or its start ("earliest")."""
        return {tp: info[0] for tp, info in self._list_offsets(partitions, spec).items()}

    def last_writes(self, partitions: Mapping[str, int]) -> dict[TP, int | None]:
        """(topic, partition) -> the newest record timestamp in milliseconds (None: empty partition)."""
        return {tp: (ts if ts >= 0 and offset >= 0 else None)
                for tp, (offset, ts) in self._list_offsets(partitions, "max_timestamp").items()}

    def _list_offsets(self, partitions: Mapping[str, int], spec: str) -> dict[TP, tuple[int, int]]:
        if not partitions:
            return {}
        make = {"latest": OffsetSpec.latest, "earliest": OffsetSpec.earliest,
                "max_timestamp": OffsetSpec.max_timestamp}[spec]
        request = {TopicPartition(t, p): make() for t, n in partitions.items() for p in range(n)}

        def ask() -> dict[TP, tuple[int, int]]:
            futures = self.admin.list_offsets(request, isolation_level=IsolationLevel.READ_COMMITTED,
                                              request_timeout=self.timeout)
            out = {}
            for tp, future in futures.items():
                info = future.result(timeout=self.timeout)
                out[(tp.topic, tp.partition)] = (info.offset, info.timestamp)
            return out

        return retrying(f"cannot read offsets from Kafka at {self.servers}", ask)

    def committed(self, group: str, partitions: Mapping[str, int]) -> dict[TP, int]:
        """(topic, partition) -> the group's committed offset; absent where it committed none. Stable offsets
        only: a transaction still open holds the answer back until it ends.

        Read through a consumer of the group that never subscribes (it joins nothing) with isolation.level
        read_committed, which asks the broker for stable offsets. Not through the AdminClient: its
        list_consumer_group_offsets crashes the process (SIGSEGV) when the coordinator answers NOT_COORDINATOR, as
        on a cluster that has just started (librdkafka 2.16.0; confluentinc/librdkafka#5040).
        """
        wanted = [TopicPartition(t, p) for t, n in partitions.items() for p in range(n)]
        if not wanted or OFFSETS_TOPIC not in self.partitions([OFFSETS_TOPIC]):
            # No group has ever committed here; asking would make Kafka create its offsets topic.
            return {}
        consumer = Consumer({**self.conf, "group.id": group, "enable.auto.commit": False,
                             "isolation.level": "read_committed", "log_level": 0})

        def ask() -> dict[TP, int]:
            out = {}
            for tp in consumer.committed(wanted, timeout=self.timeout):
                if tp.error is not None:
                    raise KafkaException(tp.error)
                if tp.offset >= 0:
                    out[(tp.topic, tp.partition)] = tp.offset
            return out

        try:
            return retrying(f"cannot read group {group}'s offsets from Kafka at {self.servers}", ask)
        finally:
            consumer.close()

    def group_state(self, group: str) -> tuple[str, int]:
        """(state, number of members) of a consumer group ("DEAD" or "EMPTY" with 0 when it has none)."""
        def ask() -> tuple[str, int]:
            description = self.admin.describe_consumer_groups([group], request_timeout=self.timeout)[group]
            found = description.result(timeout=self.timeout)
            return found.state.name, len(found.members)

        return retrying(f"cannot describe group {group} on Kafka at {self.servers}", ask)

    def groups_using(self, partitions: Mapping[str, int], skip: Collection[str] = ()) -> list[GroupUse]:
        """The consumer groups with members on, or committed offsets for, any of the topics of `partitions`."""
        wanted = set(partitions)

        def listing() -> list[str]:
            result = self.admin.list_consumer_groups(request_timeout=self.timeout).result(timeout=self.timeout)
            return sorted(g.group_id for g in result.valid)

        names = [g for g in retrying(f"cannot list consumer groups on Kafka at {self.servers}", listing)
                 if g not in skip]
        if not names:
            return []

        def describe() -> dict[str, Any]:
            futures = self.admin.describe_consumer_groups(names, request_timeout=self.timeout)
            return {g: f.result(timeout=self.timeout) for g, f in futures.items()}

        described = retrying(f"cannot describe consumer groups on Kafka at {self.servers}", describe)
        out = []
        for name in names:
            description = described[name]
            assigned: dict[str, int] = {}
            for member in description.members:
                for topic in {tp.topic for tp in (member.assignment.topic_partitions if member.assignment else [])}:
                    if topic in wanted:
                        assigned[topic] = assigned.get(topic, 0) + 1
            committed = {t for t, _ in self.committed(name, partitions)}
            used = set(assigned) | committed
            if used:
                out.append(GroupUse(name, description.state.name, assigned, tuple(sorted(used))))
        return out

    def set_offsets(self, group: str, offsets: Mapping[TP, int]) -> None:
        """Commit `offsets` for an inactive group (the broker refuses while it has members)."""
        if not offsets:
            return
        request = [ConsumerGroupTopicPartitions(group, [TopicPartition(t, p, o) for (t, p), o in
                                                        sorted(offsets.items())])]

        def ask() -> None:
            result = self.admin.alter_consumer_group_offsets(request, request_timeout=self.timeout)[group]
            for tp in result.result(timeout=self.timeout).topic_partitions:
                if tp.error is not None:
                    raise KafkaException(tp.error)

        retrying(f"cannot set group {group}'s offsets on Kafka at {self.servers}", ask)
