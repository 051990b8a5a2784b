"""How much a retention cut would delete, measured on the live cluster (no Pulumi).

Messages are counted exactly from each partition's offsets: the earliest offset, and the first offset
whose timestamp is inside the new limit. Bytes are estimated from the payload size of a bounded sample
of those messages (Kafka's log-dir sizes are not in the Python client).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k2infra.model.data_loss import LossChange

SAMPLE = 500  # messages read per topic to estimate bytes


@dataclass(frozen=True)
class RetentionCut:
    topic: str
    messages: int  # older than the new limit: deleted by the cut
    total: int  # on the topic now
    bytes_estimate: int  # payload bytes of those messages, from a sample

    def describe(self) -> str:
        return (f"{self.messages:,} of its {self.total:,} messages (about {byte_size(self.bytes_estimate)}) are older "
                "than the new limit and would be deleted")


def measured(change: LossChange, conf: Mapping[str, Any], partitions: int | None) -> str:
    """': N of its M messages ... would be deleted' for a retention cut on a topic the cluster has, else ''."""
    if change.change != "retention.ms" or int(change.new) < 0 or not partitions:
        return ""
    try:
        return f": {retention_cut(conf, change.topic, partitions, int(change.new)).describe()}"
    except Exception as err:  # the measurement is information: the refusal stands without it
        return f" (could not measure what it deletes: {err})"


def retention_cut(conf: Mapping[str, Any], topic: str, partitions: int, new_retention_ms: int,
                  timeout: float = 15) -> RetentionCut:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient({**conf, "log_level": 0})
    cutoff = int(time.time() * 1000) - new_retention_ms
    specs = {"earliest": OffsetSpec.earliest(), "latest": OffsetSpec.latest(),
             "cutoff": OffsetSpec.for_timestamp(cutoff)}
    offsets: dict[str, list[int]] = {}
    for label, spec in specs.items():
        futures = admin.list_offsets({TopicPartition(topic, p): spec for p in range(partitions)},
                                     request_timeout=timeout)
        offsets[label] = [futures[tp].result(timeout=timeout).offset
                          for tp in sorted(futures, key=lambda tp: tp.partition)]
    older_ranges = []
    for p, (first, last, at_cutoff) in enumerate(zip(offsets["earliest"], offsets["latest"], offsets["cutoff"],
                                                     strict=True)):
        end = last if at_cutoff < 0 else at_cutoff  # -1: no message inside the new limit
        if end > first:
            older_ranges.append((p, first, end))
    older = sum(end - first for _, first, end in older_ranges)
    total = sum(last - first for first, last in zip(offsets["earliest"], offsets["latest"], strict=True))
    return RetentionCut(topic, older, total, _estimate_bytes(conf, topic, older_ranges, older, timeout))


def _estimate_bytes(conf: Mapping[str, Any], topic: str, ranges: list[tuple[int, int, int]], count: int,
                    timeout: float) -> int:
    if not count:
        return 0
    from confluent_kafka import Consumer, TopicPartition

    per_partition = max(1, SAMPLE // len(ranges))
    consumer = Consumer({**conf, "group.id": "k2-measure", "enable.auto.commit": False, "log_level": 0})
    try:
        consumer.assign([TopicPartition(topic, p, first) for p, first, _ in ranges])
        wanted = sum(min(per_partition, end - first) for _, first, end in ranges)
        sizes: list[int] = []
        deadline = time.monotonic() + timeout
        while len(sizes) < wanted and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=wanted - len(sizes), timeout=1):
                if not message.error():
                    sizes.append(len(message.key() or b"") + len(message.value() or b""))
    finally:
        consumer.close()
    return round(sum(sizes) / len(sizes) * count) if sizes else 0


def byte_size(count: float, *, unit: str = "bytes", grouped: bool = True) -> str:
    """`count` bytes for people: "512 bytes", then KB, MB, GB (of 1024) with one decimal. `unit` names the
    smallest (k2 migrate plan's table says B); `grouped`: thousands separated by commas."""
    comma = "," if grouped else ""
    if count < 1024:
        return f"{count:{comma}.0f} {unit}"
    size = float(count)
    for name in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or name == "GB":
            break
    return f"{size:{comma}.1f} {name}"
