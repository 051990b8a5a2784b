"""Reading fixed offset ranges of partitions (the dry run, verify and cutover), with progress, committing nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from k2infra.migration.cluster import TP, ClusterError

# Reads never join or commit for this group: it only names the client to the broker.
READER_GROUP = "k2-migrate-reader"


class Progress:
    """records/s, lag and ETA on stderr, at most every `every` seconds (and once at the end)."""

    def __init__(self, what: str, total: int | None, out: TextIO | None = None, every: float = 2.0):
        self.what, self.total, self.every = what, total, every
        self.out = out if out is not None else sys.stderr
        self.done = 0
        self.started = self._last = time.monotonic()

    def add(self, count: int = 1, lag: int | None = None) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.show(lag)

    @property
    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-9)

    def show(self, lag: int | None = None, final: bool = False) -> None:
        if lag is None and self.total is not None:
            lag = max(self.total - self.done, 0)
        rate = self.rate
        line = f"k2 migrate: {self.what} {self.done:,} records, {rate:,.0f} records/s"
        if lag is not None:
            eta = "-" if rate <= 0 else _duration(lag / rate)
            line += f", lag {lag:,}" + ("" if final else f", ETA {eta}")
        print(line, file=self.out, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def read_ranges(conf: Mapping[str, Any], ranges: Mapping[TP, tuple[int, int]], on_message: Callable[[Message], None],
                progress: Progress | None = None, deadline_seconds: float = 120) -> None:
    """Feed every committed record at [start, end) of each partition to `on_message`, partition order kept.

    read_committed: `end` should be a last stable offset. A partition is done at its end or when the broker
    says there is nothing more (aborted records and transaction markers take offsets but are never delivered).
    `deadline_seconds` bounds a wait without any record, not the whole read.
    """
    todo = {tp: (start, end) for tp, (start, end) in ranges.items() if end > start}
    if not todo:
        return
    consumer = Consumer({**conf, "group.id": READER_GROUP, "enable.auto.commit": False,
                         "isolation.level": "read_committed", "enable.partition.eof": True,
                         "auto.offset.reset": "earliest", "log_level": 0})
    try:
        consumer.assign([TopicPartition(t, p, start) for (t, p), (start, _) in todo.items()])
        quiet_since = time.monotonic()
        while todo:
            batch = consumer.consume(num_messages=5000, timeout=0.5)
            if batch:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > deadline_seconds:
                raise ClusterError(f"no record from Kafka at {conf['bootstrap.servers']} for {deadline_seconds:.0f}s "
                                   f"while {len(todo)} partition(s) had more to read: {sorted(todo)[:3]}")
            finished: list[TP] = []
            for message in batch:
                tp = (message.topic() or "", message.partition() or 0)
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        finished.append(tp)
                        continue
                    raise ClusterError(f"reading {tp[0]}[{tp[1]}] from {conf['bootstrap.servers']}: {error.str()}")
                span, offset = todo.get(tp), message.offset() or 0
                if span is None or offset >= span[1]:
                    continue  # past the range (or a partition already finished)
                on_message(message)
                if progress is not None:
                    progress.add()
                if offset + 1 >= span[1]:
                    finished.append(tp)
            for tp in finished:
                if tp in todo:
                    del todo[tp]
                    consumer.incremental_unassign([TopicPartition(*tp)])
    finally:
        consumer.close()
