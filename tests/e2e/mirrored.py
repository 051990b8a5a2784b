"""Reading what MirrorMaker wrote, for the MirrorMaker e2e tests: end offsets, and every record of a topic to its
current end (JSON values with `symbol` and `seq`), read_committed or not, from the start or a group's offsets."""

from __future__ import annotations

import json

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from tests.conftest import wait_for

DEADLINE = 120.0  # generous: two regions and MirrorMaker on a busy 2-core machine


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "k2-test-ends", "log_level": 0})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
    finally:
        consumer.close()


def read_to_end(bootstrap: str, topic: str, partitions: int, isolation: str, group: str | None = None,
                deadline: float = DEADLINE) -> list[tuple[int, str, int]]:
    """(partition, symbol, seq) of every record up to the current end of each partition, in partition order: from
    the beginning, or (with `group`) from the group's committed offsets."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group or "k2-test-reader",
                         "isolation.level": isolation, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "log_level": 0})
    ends = end_offsets(bootstrap, topic, partitions)
    if group:
        start = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
    else:
        start = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
    consumer.assign(start)
    records: list[tuple[int, str, int]] = []

    def at_end() -> bool:
        record = consumer.poll(0.5)
        if record is not None and not record.error():
            value = json.loads(record.value())
            records.append((record.partition(), value["symbol"], value["seq"]))
        positions = consumer.position([TopicPartition(topic, p) for p in range(partitions)])
        # A partition's position passes its transactions' commit markers too, so it reaches the end offset.
        return all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in positions)

    try:
        wait_for(at_end, f"reading {topic} to its end in {bootstrap}", timeout=deadline, every=0)
        return records
    finally:
        consumer.close()
