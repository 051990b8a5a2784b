"""`k2 regions failover`: move a consumer group from its home region to the aggregating region, at the offsets
MirrorMaker 2 translated for it (its checkpoints in `<home>.checkpoints.internal`), as `k2 migrate cutover` moves a
group between topics.

The translated offset never skips: MirrorMaker maps the group's home position through the latest offset sync at
or before it, so it may land a little earlier (up to `offset.lag.max` records, 100 by default). The re-reads are
counted exactly, per partition: the last record the group read at home (the one before its committed offset) is
found in the mirror by its key, value and timestamp, and the mirror's records from the translated offset up to
it are the ones it will read again. Where that record is not found within SCAN records (compacted away, or
MirrorMaker far behind), the count falls back to offset arithmetic, (aggregate end - translated) - (home end -
home committed), which also counts the transaction markers of an exactly-once MirrorMaker (one per transaction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from k2infra.observed.failures import ReportedErrors, Unreachable, kafka_calls
from k2infra.observed.mirror import Checkpoint, checkpoints_topic, client_settings, read_checkpoints

SCAN = 10_000  # mirror records read at most per partition to find the group's last record


class FailoverError(RuntimeError):
    """The failover cannot be done; `code` 2 when refused for the group's state (members), 1 otherwise."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Record:
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int

    def same(self, other: Record) -> bool:
        return (self.key, self.value, self.timestamp) == (other.key, other.value, other.timestamp)


@dataclass(frozen=True)
class PartitionMove:
    topic: str
    partition: int
    home_committed: int | None  # the group's offset in the home region now
    upstream: int               # the home offset MirrorMaker translated (the checkpoint's)
    translated: int             # the offset to commit in the aggregate
    aggregate_committed: int | None  # what the aggregate had (MirrorMaker's offset sync writes it too)
    rereads: int                # records the group will read again in the aggregate
    exact: bool                 # counted by finding its last record in the mirror, not by arithmetic
    skipped: int = 0            # records it would never read (MirrorMaker's translation never does this)


@dataclass
class FailoverPlan:
    group: str
    source: str
    target: str
    moves: list[PartitionMove] = field(default_factory=list)
    committed: bool = False

    def by_topic(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for m in self.moves:
            t = out.setdefault(m.topic, {"partitions": 0, "rereads": 0, "skipped": 0, "exact": True})
            t["partitions"] += 1
            t["rereads"] += m.rereads
            t["skipped"] += m.skipped
            t["exact"] = t["exact"] and m.exact
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "from": self.source, "to": self.target, "committed": self.committed,
                "topics": self.by_topic(), "partitions": [asdict(m) for m in self.moves]}


def count_rereads(last_read: Record | None, mirror: Sequence[Record], translated: int) -> tuple[int, int] | None:
    """(re-reads, skipped): mirror records from `translated` up to the group's last record read at home, and those
    after it but before `translated` (pure); None when that record is not among `mirror` (records from a little
    before `translated`). (0, 0) when the group read nothing yet."""
    if last_read is None:
        return 0, 0
    found = next((r for r in reversed(mirror) if r.same(last_read)), None)
    if found is None:
        return None
    return (sum(1 for r in mirror if translated <= r.offset <= found.offset),
            sum(1 for r in mirror if found.offset < r.offset < translated))


def members(conf: Mapping[str, Any], group: str, timeout: float) -> int:
    from confluent_kafka.admin import AdminClient

    servers, reported = str(conf["bootstrap.servers"]), ReportedErrors()
    with kafka_calls(servers, reported, f"group {group}"):
        admin = AdminClient(client_settings(conf, reported))
        description = admin.describe_consumer_groups([group], request_timeout=timeout)[group].result(timeout=timeout)
    return len(description.members or [])


def committed(conf: Mapping[str, Any], group: str, timeout: float) -> dict[tuple[str, int], int]:
    from confluent_kafka import ConsumerGroupTopicPartitions
    from confluent_kafka.admin import AdminClient

    servers, reported = str(conf["bootstrap.servers"]), ReportedErrors()
    with kafka_calls(servers, reported, f"group {group}'s offsets"):
        admin = AdminClient(client_settings(conf, reported))
        result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                   request_timeout=timeout)[group].result(timeout=timeout)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or [] if tp.offset >= 0}


def read_range(conf: Mapping[str, Any], topic: str, partition: int, start: int, end: int,
               timeout: float) -> list[Record]:
    """The committed records of one partition in [start, end) (read_committed; markers and aborted ones skipped)."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    if start >= end:
        return []
    consumer = Consumer({**conf, "group.id": "k2-failover-reader", "enable.auto.commit": False,
                         "isolation.level": "read_committed", "log_level": 0})
    out: list[Record] = []
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in consumer.consume(500, timeout=0.2):
                offset = r.offset()
                if not r.error() and offset is not None and offset < end:
                    out.append(Record(offset, r.key(), r.value(), r.timestamp()[1]))
            (position,) = consumer.position([TopicPartition(topic, partition)])
            if position.offset >= end or (out and out[-1].offset >= end - 1):
                return out
        raise Unreachable(f"{conf['bootstrap.servers']}: reading {topic}[{partition}] {start}..{end} did not end "
                          f"in {timeout:.0f}s")
    finally:
        consumer.close()


def end_offset(conf: Mapping[str, Any], topic: str, partition: int, timeout: float) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**conf, "group.id": "k2-failover-reader", "log_level": 0})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)[1]
    finally:
        consumer.close()


def plan(home: Mapping[str, Any], aggregate: Mapping[str, Any], source: str, target: str, topics: Sequence[str],
         group: str, timeout: float = 60) -> FailoverPlan:
    """What the failover of `group` from `source` would commit in the aggregate, and the re-reads; refused (code 2)
    while the group has members in either region."""
    for region, conf in ((source, home), (target, aggregate)):
        count = members(conf, group, timeout)
        if count:
            raise FailoverError(f"refused: group {group} has {count} member(s) in {region}: stop its consumers "
                                "there first (offsets cannot move under a live group)", code=2)
    checkpoints = {k: c for k, c in read_checkpoints(aggregate, source, group, timeout).items() if k[0] in topics}
    if not checkpoints:
        raise FailoverError(f"no checkpoints for group {group} in {checkpoints_topic(source)} on {target} for the "
                            f"flow's topics ({', '.join(topics)}): has the group committed offsets in {source}, and "
                            "has MirrorMaker run since (emit.checkpoints.interval.seconds)?")
    at_home, here = committed(home, group, timeout), committed(aggregate, group, timeout)
    out = FailoverPlan(group, source, target)
    for (topic, partition), c in sorted(checkpoints.items()):
        out.moves.append(_move(home, aggregate, c, at_home.get((topic, partition)), here.get((topic, partition)),
                               timeout))
    return out


def _move(home: Mapping[str, Any], aggregate: Mapping[str, Any], c: Checkpoint, home_committed: int | None,
          aggregate_committed: int | None, timeout: float) -> PartitionMove:
    position = c.upstream if home_committed is None else home_committed
    last = read_range(home, c.topic, c.partition, max(position - 64, 0), position, timeout) if position > 0 else []
    mirror_end = end_offset(aggregate, c.topic, c.partition, timeout)
    mirror = read_range(aggregate, c.topic, c.partition, max(c.downstream - 64, 0),
                        min(c.downstream + SCAN, mirror_end), timeout) if last else []
    # Nothing read at home (position 0) re-reads nothing; a last record not found (compacted) cannot be matched.
    counted = count_rereads(last[-1] if last else None, mirror, c.downstream) if last or position == 0 else None
    if counted is not None:
        return PartitionMove(c.topic, c.partition, home_committed, c.upstream, c.downstream, aggregate_committed,
                             counted[0], True, counted[1])
    home_end = end_offset(home, c.topic, c.partition, timeout)
    estimate = max((mirror_end - c.downstream) - (home_end - position), 0)
    return PartitionMove(c.topic, c.partition, home_committed, c.upstream, c.downstream, aggregate_committed,
                         estimate, False)


def commit(aggregate: Mapping[str, Any], failover: FailoverPlan, timeout: float = 60) -> None:
    """Commit the translated offsets for the group in the aggregate (AdminClient: no consumer joins it)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    servers, reported = str(aggregate["bootstrap.servers"]), ReportedErrors()
    offsets = [TopicPartition(m.topic, m.partition, m.translated) for m in failover.moves]
    with kafka_calls(servers, reported, f"group {failover.group}'s offsets"):
        admin = AdminClient(client_settings(aggregate, reported))
        result = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(failover.group, offsets)],
                                                    request_timeout=timeout)[failover.group].result(timeout=timeout)
    failed = [f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in result.topic_partitions or [] if tp.error]
    if failed:
        raise FailoverError(f"committing group {failover.group}'s offsets in {failover.target} failed: "
                            + "; ".join(failed))
    failover.committed = True
