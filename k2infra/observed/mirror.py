"""What MirrorMaker 2 keeps in the aggregating region, read back: how far it has copied each home partition, and the
consumer groups' translated offsets (its checkpoints).

- Connect's source offsets (`mm2-offsets.<source>.internal` for a dedicated MirrorMaker, the Connect cluster's
  offsets topic otherwise): key `["<connector>", {"cluster": "<source>", "partition": 0, "topic": "<topic>"}]`,
  value `{"offset": N}`, N the upstream offset of the last record copied (MirrorSourceTask resumes at N + 1).
  With exactly-once (KIP-618) it is written in the same transaction as the copied records: read_committed, it is
  exactly what the aggregate holds; at-least-once, it trails by up to `offset.flush.interval.ms`.
- Checkpoints (`<source>.checkpoints.internal`): MirrorMaker's Checkpoint records, in Kafka's protocol types
  (connect-mirror-client 4.1.1, Checkpoint.KEY_SCHEMA and VALUE_SCHEMA_V0): key = group STRING, topic STRING,
  partition INT32; value = version INT16 (0), upstreamOffset INT64, offset INT64 (the translated downstream
  offset), metadata STRING; a STRING is an INT16 length then UTF-8.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from k2infra.observed.failures import ReportedErrors, Unreachable, kafka_calls


def connect_offsets_topic(source: str) -> str:
    """A dedicated MirrorMaker's Connect offsets topic for the flows from `source` (in the target region)."""
    return f"mm2-offsets.{source}.internal"


def checkpoints_topic(source: str) -> str:
    return f"{source}.checkpoints.internal"


@dataclass(frozen=True)
class SourceOffset:
    """One Connect offset record of a MirrorSourceConnector: `copied` is the last upstream offset it copied
    (None: a tombstone, the offset was reset)."""

    source: str
    topic: str
    partition: int
    copied: int | None


def source_offset(key: bytes | None, value: bytes | None) -> SourceOffset | None:
    """A Connect offsets record of MirrorMaker's source connector, else None (another connector's, or garbage)."""
    try:
        name, where = json.loads(key or b"")
        cluster, topic, partition = where["cluster"], where["topic"], where["partition"]
        copied = None if value is None else json.loads(value)["offset"]
    except (ValueError, TypeError, KeyError):
        return None
    if not (isinstance(name, str) and isinstance(cluster, str) and isinstance(topic, str)
            and isinstance(partition, int) and (copied is None or isinstance(copied, int))):
        return None
    return SourceOffset(cluster, topic, partition, copied)


@dataclass(frozen=True)
class Checkpoint:
    group: str
    topic: str
    partition: int
    upstream: int    # the group's committed offset in the home region when MirrorMaker looked
    downstream: int  # the same position translated into the aggregate (never past it: it may go back a little)


def _string(data: bytes, at: int) -> tuple[str, int]:
    (length,) = struct.unpack_from(">h", data, at)
    if length < 0 or at + 2 + length > len(data):
        raise ValueError("string past the end")
    return data[at + 2:at + 2 + length].decode(), at + 2 + length


def checkpoint(key: bytes | None, value: bytes | None) -> Checkpoint | None:
    """A checkpoint record, decoded; None for a tombstone or a record that is not one (version other than 0)."""
    if not key or not value:
        return None
    try:
        group, at = _string(key, 0)
        topic, at = _string(key, at)
        (partition,) = struct.unpack_from(">i", key, at)
        version, upstream, downstream = struct.unpack_from(">hqq", value, 0)
    except (struct.error, ValueError, UnicodeDecodeError):
        return None
    return Checkpoint(group, topic, partition, upstream, downstream) if version == 0 else None


def encode_checkpoint(c: Checkpoint, metadata: str = "") -> tuple[bytes, bytes]:
    """The record MirrorMaker writes for `c` (for tests of the decoder)."""
    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack(">h", len(raw)) + raw

    return (string(c.group) + string(c.topic) + struct.pack(">i", c.partition),
            struct.pack(">hqq", 0, c.upstream, c.downstream) + string(metadata))


def client_settings(conf: Mapping[str, Any], reported: ReportedErrors) -> dict[str, Any]:
    """A client's settings with K2's quiet logging and `reported` as its error callback."""
    return {**conf, "log_level": 0, "error_cb": reported}


def read_checkpoints(conf: Mapping[str, Any], source: str, group: str, timeout: float = 60) -> dict[tuple[str, int],
                                                                                                  Checkpoint]:
    """(topic, partition) -> the latest checkpoint of `group` in `<source>.checkpoints.internal`, read whole once
    (a compacted one-partition topic: one record per group and partition once compacted; MirrorMaker's own
    RemoteClusterUtils.translateOffsets reads it the same way). An operator's command, not a scrape."""
    found: dict[tuple[str, int], Checkpoint] = {}
    topic = checkpoints_topic(source)
    for key, value in read_topic(conf, topic, timeout):
        c = checkpoint(key, value)
        if c is not None and c.group == group:
            found[(c.topic, c.partition)] = c
    return found


def read_topic(conf: Mapping[str, Any], topic: str, timeout: float,
               start: Mapping[int, int] | None = None) -> Iterable[tuple[bytes | None, bytes | None]]:
    """(key, value) of every committed record of `topic` from `start` (partition -> offset; default: the
    beginning) up to its last stable offset when called. Unreachable if the topic is not there."""
    from confluent_kafka import Consumer, IsolationLevel, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    servers, reported = str(conf["bootstrap.servers"]), ReportedErrors()
    with kafka_calls(servers, reported, f"topic {topic}"):
        admin = AdminClient(client_settings(conf, reported))
        metadata = admin.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise Unreachable(f"{servers} has no topic {topic}")
        parts = [TopicPartition(topic, p) for p in metadata.partitions]
        ask = {tp: OffsetSpec.latest() for tp in parts}
        ends = {tp.partition: f.result(timeout=timeout).offset for tp, f in admin.list_offsets(
            ask, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=timeout).items()}
        first = {tp.partition: f.result(timeout=timeout).offset for tp, f in admin.list_offsets(
            {tp: OffsetSpec.earliest() for tp in parts}, request_timeout=timeout).items()}
    begin = {p: max(first[p], (start or {}).get(p, first[p])) for p in ends}
    wanted = [TopicPartition(topic, p, begin[p]) for p in ends if begin[p] < ends[p]]
    if not wanted:
        return []
    consumer = Consumer({**client_settings(conf, reported), "group.id": "k2-mirror-reader",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    records: list[tuple[bytes | None, bytes | None]] = []
    try:
        consumer.assign(wanted)
        left, deadline = {tp.partition for tp in wanted}, time.monotonic() + timeout
        while left:
            if time.monotonic() > deadline:
                raise Unreachable(f"{servers}: reading {topic} did not reach its end in {timeout:.0f}s")
            for record in consumer.consume(500, timeout=0.5):
                partition, offset = record.partition(), record.offset()
                if record.error() or partition is None or offset is None:
                    continue
                if offset < ends[partition]:
                    records.append((record.key(), record.value()))
            positions = consumer.position([TopicPartition(topic, p) for p in left])
            left = {tp.partition for tp in positions if tp.offset < ends[tp.partition]}
    finally:
        consumer.close()
    return records
