"""Re-reads at failover, for bench/replication.py: a group consumes part of the home topics and commits; once
MirrorMaker's checkpoints have written its translated offsets in the aggregate, each partition is read there from
the translated offset, and the records met before the first one the group has not consumed at home are counted:
what the group would re-read after failing over. The records are told apart by their HEADER bytes (exchange,
phase, seq), so transaction markers (exactly-once) and duplicates (at-least-once) are counted right."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from bench.durability import wait_for
from bench.replication_clients import PARTITIONS
from k2infra.contracts.kafka_client import librdkafka_settings
from k2infra.observed.cluster import committed_offsets

Offsets = dict[str, list[int]]  # topic -> offset per partition
ID = slice(8, 14)  # the HEADER's exchange, phase and seq: a record's identity


def consume_part(bootstrap: str, group: str, starts: Offsets, targets: Offsets, timeout: float = 120) -> None:
    """`group` consumes each home partition from `starts` up to `targets` (a subscription, so the group is a real
    consumer group MirrorMaker finds) and commits `targets`."""
    consumer = Consumer({**librdkafka_settings(bootstrap), "group.id": group, "enable.auto.commit": False,
                         "log_level": 3})

    def on_assign(c: Any, partitions: list[TopicPartition]) -> None:
        c.assign([TopicPartition(tp.topic, tp.partition, starts[tp.topic][tp.partition]) for tp in partitions])

    consumer.subscribe(list(PARTITIONS), on_assign=on_assign)
    wanted = {(t, p) for t, ends in targets.items() for p, end in enumerate(ends) if end > starts[t][p]}
    deadline = time.monotonic() + timeout
    while wanted and time.monotonic() < deadline:
        for msg in consumer.consume(5000, 0.5):
            key = (msg.topic(), msg.partition())
            if not msg.error() and key in wanted and msg.offset() + 1 >= targets[key[0]][key[1]]:
                wanted.discard(key)
                consumer.pause([TopicPartition(*key)])
    if wanted:
        raise TimeoutError(f"group {group}: {len(wanted)} partitions not consumed to their targets in {timeout:.0f}s")
    consumer.commit(offsets=[TopicPartition(t, p, o) for t, offs in targets.items() for p, o in enumerate(offs)],
                    asynchronous=False)
    consumer.close()


def translated(bootstrap: str, group: str, timeout: float) -> tuple[Offsets, float]:
    """The group's offsets in the aggregate once MirrorMaker has written one for every partition; the wait."""
    found: dict[str, Offsets] = {}

    def complete() -> bool:
        found["offsets"] = committed_offsets(librdkafka_settings(bootstrap), group, PARTITIONS)
        return all(o >= 0 for offs in found["offsets"].values() for o in offs)

    waited = wait_for(complete, f"group {group}'s translated offsets in the aggregate", timeout, step=0.5)
    return found["offsets"], waited


def home_ids(bootstrap: str, targets: Offsets, ends: Offsets) -> dict[tuple[str, int], tuple[bytes, bytes | None]]:
    """Per partition: the identity of the last record the group consumed and of the first it did not (None at
    the end)."""
    consumer = Consumer({**librdkafka_settings(bootstrap), "group.id": f"replication-ids-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "log_level": 3})
    consumer.assign([TopicPartition(t, p, o - 1) for t, offs in targets.items() for p, o in enumerate(offs)])
    want = {(t, p): 2 if o < ends[t][p] else 1 for t, offs in targets.items() for p, o in enumerate(offs)}
    got: dict[tuple[str, int], list[bytes]] = {key: [] for key in want}
    deadline = time.monotonic() + 60
    while any(len(got[k]) < n for k, n in want.items()) and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.5):
            key = (msg.topic(), msg.partition())
            if not msg.error() and len(got[key]) < want[key]:
                got[key].append(msg.value()[ID])
    consumer.close()
    return {key: (ids[0], ids[1] if len(ids) > 1 else None) for key, ids in got.items()}


def rereads(bootstrap: str, isolation: str, start: Offsets,
            ids: dict[tuple[str, int], tuple[bytes, bytes | None]]) -> dict[tuple[str, int], int | None]:
    """Per partition, read in the aggregate from `start`: how many records come before the first one the group
    has not consumed (0: the translation is exact); None when that record is not after `start` (a skip)."""
    consumer = Consumer({**librdkafka_settings(bootstrap), "group.id": f"replication-scan-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "isolation.level": isolation, "enable.partition.eof": True,
                         "log_level": 3, "max.partition.fetch.bytes": 1048576})
    consumer.assign([TopicPartition(t, p, o) for t, offs in start.items() for p, o in enumerate(offs)])
    counts: dict[tuple[str, int], int] = dict.fromkeys(ids, 0)
    found: dict[tuple[str, int], int | None] = {}
    deadline = time.monotonic() + 120
    while len(found) < len(ids) and time.monotonic() < deadline:
        for msg in consumer.consume(5000, 0.5):
            key = (msg.topic(), msg.partition())
            if key in found:
                continue
            last, following = ids[key]
            if msg.error():  # the partition's end (enable.partition.eof)
                found[key] = 0 if following is None and counts[key] == 0 else None
                continue
            identity = msg.value()[ID]
            if identity == following and counts[key] == 0:
                found[key] = 0
            elif identity == last:
                found[key] = counts[key] + 1  # everything up to and including the last one consumed
            else:
                counts[key] += 1
    consumer.close()
    return found


def measure(home: str, aggregate: str, isolation: str, group: str, starts: Offsets, targets: Offsets,
            ends: Offsets, timeout: float = 180) -> dict[str, Any]:
    """One group's failover: consumed at home, translated, re-reads per partition."""
    consume_part(home, group, starts, targets)
    offsets, waited = translated(aggregate, group, timeout)
    per_partition = rereads(aggregate, isolation, offsets, home_ids(home, targets, ends))
    counted = [n for n in per_partition.values() if n is not None]
    partitions = sum(PARTITIONS.values())
    consumed = sum(t - s for tp, ts in targets.items() for t, s in zip(ts, starts[tp], strict=True))
    return {
        "group": group, "consumed_at_home": consumed, "translated_visible_after_s": round(waited, 1),
        "partitions": partitions, "rereads_total": sum(counted), "rereads_max_per_partition": max(counted, default=0),
        "partitions_rereading": sum(1 for n in counted if n > 0), "partitions_skipped": partitions - len(counted),
        "home_offsets": targets, "translated_offsets": offsets,
        "rereads_per_partition": {t: [per_partition.get((t, p)) for p in range(n)] for t, n in PARTITIONS.items()},
    }
