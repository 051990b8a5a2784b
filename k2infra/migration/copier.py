"""`k2 migrate run`: every legacy record, exactly once, onto its exchange topic.

Exactly once through Kafka transactions: the copies of a batch of legacy records and the migration group's
offsets after them are committed in one transaction (send_offsets_to_transaction), so a run killed at any
moment leaves either the whole batch (copies and position) or none of it, and the next run, whose
init_transactions() fences and aborts what the killed one left open, starts at the committed position.
Readers of the exchange topics use isolation.level=read_committed (the K2 consumer profile does).

Per-symbol order holds: a legacy partition is read in order and every record of one symbol lands on one
exchange-topic partition (the symbol is the key, placed by Kafka's Java partitioner, as apps place it).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from k2infra.clients.profiles import TRADES
from k2infra.migration.cluster import TP, ClusterError
from k2infra.migration.context import Context, MigrationError
from k2infra.migration.dry_run import Tally
from k2infra.migration.reading import Progress
from k2infra.migration.transcode import (
    REFUSED_DETAIL,
    REFUSED_REASON,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
    Copy,
    Refusal,
    Transcoder,
    headers_for,
)
from k2infra.observed.retry import retrying

# The producer: the trades profile (acks=all, idempotent, lz4, Java's partitioner) with room for big batches.
PRODUCER = {**TRADES.config, "linger.ms": 5, "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576}
COMMIT_DEADLINE = 120.0  # seconds a commit may keep failing with retriable errors


@dataclass
class RunResult:
    copied: dict[str, Tally] = field(default_factory=dict)  # target topic -> committed copies
    dead_lettered: dict[str, int] = field(default_factory=dict)  # reason -> records sent to the dead-letter topic
    stopped_at: str | None = None  # the refused record that stopped the run
    transactions: int = 0
    aborted: int = 0
    seconds: float = 0.0
    lag: int = 0  # legacy records after the migration's position when the run ended

    @property
    def records(self) -> int:
        return sum(t.records for t in self.copied.values()) + sum(self.dead_lettered.values())

    def to_dict(self) -> dict[str, Any]:
        return {"copied": {t: vars(n) for t, n in sorted(self.copied.items())},
                "dead_lettered": dict(self.dead_lettered), "stopped_at": self.stopped_at,
                "records": self.records, "transactions": self.transactions, "aborted": self.aborted,
                "seconds": round(self.seconds, 3), "records_per_second": round(self.records / max(self.seconds, 1e-9)),
                "lag": self.lag}


@dataclass
class _Batch:
    """What the open transaction holds, so that an abort can be undone and a commit counted."""

    positions: dict[TP, int] = field(default_factory=dict)
    copied: dict[str, Tally] = field(default_factory=dict)
    dead: dict[str, int] = field(default_factory=dict)
    records: int = 0
    started: float = 0.0
    begun: bool = False


class Copier:
    def __init__(self, ctx: Context, partitions: Mapping[str, int], transcoders: Mapping[str, Transcoder], *,
                 dead_letter: str | None = None, follow: bool = False, max_rate: float | None = None,
                 transactional: bool = True, txn_records: int = 50_000, txn_seconds: float = 0.5,
                 progress_every: float = 2.0, out: TextIO | None = None):
        self.ctx, self.partitions, self.transcoders = ctx, dict(partitions), dict(transcoders)
        self.dead_letter, self.follow, self.max_rate = dead_letter, follow, max_rate
        self.transactional, self.txn_records, self.txn_seconds = transactional, txn_records, txn_seconds
        self.progress_every = progress_every
        self.out = out if out is not None else sys.stderr

    def run(self, stop: threading.Event | None = None) -> RunResult:
        stop = stop or threading.Event()
        ctx, result = self.ctx, RunResult()
        cluster = ctx.cluster()
        producer = Producer({**ctx.conf, **PRODUCER, "log_level": 0,
                             **({"transactional.id": ctx.group, "transaction.timeout.ms": 60_000}
                                if self.transactional else {})})
        if self.transactional:
            # Fences a run of the same group still alive and aborts what a killed one left open: only then are
            # the committed offsets final.
            _retry("start the transactional producer", lambda: producer.init_transactions(30))
        try:
            starts = cluster.offsets(self.partitions, "earliest")
            committed = cluster.committed(ctx.group, self.partitions)
            ends = cluster.offsets(self.partitions, "latest")
        except ClusterError as err:
            raise MigrationError(str(err)) from None
        position = {tp: max(committed.get(tp, 0), starts[tp]) for tp in starts}
        consumer = Consumer({**ctx.conf, "group.id": ctx.group, "enable.auto.commit": False,
                             "isolation.level": "read_committed", "enable.partition.eof": True,
                             "auto.offset.reset": "earliest", "log_level": 0,
                             "fetch.max.bytes": 52_428_800, "queued.min.messages": 200_000})
        consumer.assign([TopicPartition(t, p, o) for (t, p), o in position.items()])
        done = {tp for tp, offset in position.items() if offset >= ends[tp]}
        progress = Progress("copied", None if self.follow else sum(max(ends[tp] - o, 0) for tp, o in position.items()),
                            self.out, self.progress_every)
        batch = _Batch()
        transcoders, produce = self.transcoders, producer.produce
        sources: dict[TP, tuple[tuple[str, bytes], tuple[str, bytes]]] = {}  # the first two source headers
        started = time.monotonic()
        try:
            while not stop.is_set() and (self.follow or len(done) < len(position)) and result.stopped_at is None:
                messages = consumer.consume(num_messages=self._batch_size, timeout=0.2)
                positions, copied = batch.positions, batch.copied
                for message in messages:  # the hot loop: one pass per record, kept lean
                    error = message.error()
                    if error is not None:
                        self._on_error(error, message, done)
                        continue
                    topic, partition, offset = message.topic() or "", message.partition() or 0, message.offset() or 0
                    timestamp, tp = message.timestamp()[1], (topic, partition)
                    outcome = transcoders[topic].transcode(message.key(), message.value(), timestamp)
                    if isinstance(outcome, Copy):
                        if not batch.begun:
                            self._begin(producer, batch)
                        source = sources.get(tp)
                        if source is None:
                            source = sources[tp] = ((SOURCE_TOPIC, topic.encode()),
                                                    (SOURCE_PARTITION, _number(partition)))
                        headers: list[Any] = [*source, (SOURCE_OFFSET, _number(offset))]
                        original = message.headers()
                        if original:  # the legacy record's own headers come first
                            headers = [*original, *headers]
                        target, value, key = outcome.target.topic, outcome.value, outcome.key
                        try:
                            produce(target, value, key, timestamp=timestamp if timestamp > 0 else 0, headers=headers)
                        except BufferError:
                            _produce(producer, target, value, key, timestamp if timestamp > 0 else 0, headers)
                        tally = copied.get(target)
                        if tally is None:
                            tally = copied[target] = Tally()
                        tally.records += 1
                        tally.bytes += len(key) + (len(value) if value is not None else 0)
                        batch.records += 1
                    else:
                        refusal = self._refused(producer, message, outcome, batch)
                        if refusal is not None:
                            result.stopped_at = (f"{topic}[{partition}]@{offset}: {refusal}. Records before it are "
                                                 "copied; rerun with --dead-letter TOPIC, or fix the mapping under "
                                                 f"legacy_topics in {ctx.topology.source}")
                            break
                    positions[tp] = offset + 1
                    if offset + 1 >= ends[tp]:
                        done.add(tp)
                if batch.begun and (result.stopped_at or batch.records >= self.txn_records or not messages
                                    or time.monotonic() - batch.started >= self.txn_seconds):
                    self._finish(producer, consumer, batch, position, ends, done, result, progress)
                    batch = _Batch()
                self._throttle(result.records + batch.records, started)
            if batch.begun:
                self._finish(producer, consumer, batch, position, ends, done, result, progress)
            producer.flush(30)
            try:
                ends_now = cluster.offsets(self.partitions, "latest")
                result.lag = sum(max(ends_now[tp] - o, 0) for tp, o in position.items())
            except ClusterError:
                result.lag = self._lag(consumer, position)
        finally:
            consumer.close()
        result.seconds = time.monotonic() - started
        progress.done = result.records
        progress.show(result.lag, final=True)
        return result

    def _begin(self, producer: Producer, batch: _Batch) -> None:
        batch.started, batch.begun = time.monotonic(), True
        if self.transactional:
            producer.begin_transaction()

    def _finish(self, producer: Producer, consumer: Consumer, batch: _Batch, position: dict[TP, int],
                ends: Mapping[TP, int], done: set[TP], result: RunResult, progress: Progress) -> None:
        if self._commit(producer, consumer, batch, position, result):
            progress.add(batch.records, self._lag(consumer, position) if self.follow else None)
            return
        self._rewind(consumer, position)  # copied again from the last committed position
        done.intersection_update(tp for tp, offset in position.items() if offset >= ends[tp])

    def _refused(self, producer: Producer, message: Message, refusal: Refusal, batch: _Batch) -> Refusal | None:
        """A record that routes nowhere: to the dead-letter topic (None), else back to the caller, which stops."""
        if not self.dead_letter:
            return refusal
        if not batch.begun:
            self._begin(producer, batch)
        topic, partition, offset = message.topic() or "", message.partition() or 0, message.offset() or 0
        timestamp = message.timestamp()[1]
        headers: list[Any] = [*(message.headers() or []), *headers_for(topic, partition, offset),
                              (REFUSED_REASON, refusal.reason.encode()), (REFUSED_DETAIL, refusal.detail.encode())]
        _produce(producer, self.dead_letter, message.value(), message.key(), timestamp if timestamp > 0 else 0,
                 headers)
        batch.dead[refusal.reason] = batch.dead.get(refusal.reason, 0) + 1
        batch.records += 1
        return None

    def _commit(self, producer: Producer, consumer: Consumer, batch: _Batch, position: dict[TP, int],
                result: RunResult) -> bool:
        """Commit the batch's copies and positions together; False if the transaction had to be aborted."""
        offsets = [TopicPartition(t, p, o) for (t, p), o in batch.positions.items()]
        if self.transactional:
            try:
                if offsets:
                    _retry("send the offsets to the transaction", lambda: producer.send_offsets_to_transaction(
                        offsets, consumer.consumer_group_metadata(), 30))
                _retry("commit the transaction", lambda: producer.commit_transaction(30))
            except _Abortable as err:
                print(f"k2 migrate: transaction aborted ({err}); its records are copied again", file=self.out)
                _retry("abort the transaction", lambda: producer.abort_transaction(30))
                result.aborted += 1
                return False
        else:  # at least once (bench/migration.py's comparison only): flush, then commit the offsets
            if producer.flush(60):
                raise MigrationError("records still undelivered after 60 s; nothing more was committed")
            if offsets:
                _retry("commit the offsets", lambda: consumer.commit(offsets=offsets, asynchronous=False))
        position.update(batch.positions)
        for topic, tally in batch.copied.items():
            total = result.copied.setdefault(topic, Tally())
            total.records += tally.records
            total.bytes += tally.bytes
        for reason, count in batch.dead.items():
            result.dead_lettered[reason] = result.dead_lettered.get(reason, 0) + count
        result.transactions += 1
        return True

    def _rewind(self, consumer: Consumer, position: Mapping[TP, int]) -> None:
        for (topic, partition), offset in position.items():
            _retry("seek back after an abort", lambda t=topic, p=partition, o=offset: consumer.seek(
                TopicPartition(t, p, o)))

    def _on_error(self, error: KafkaError, message: Message, done: set[TP]) -> None:
        tp = (message.topic() or "", message.partition() or 0)
        if error.code() == KafkaError._PARTITION_EOF:
            done.add(tp)
        elif error.fatal() or error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED):
            raise MigrationError(f"reading {tp[0]}[{tp[1]}]: {error.str()}")
        else:  # transient (a broker restarting): librdkafka retries; say so
            print(f"k2 migrate: {tp[0]}[{tp[1]}]: {error.str()} (retrying)", file=self.out)

    def _lag(self, consumer: Consumer, position: Mapping[TP, int]) -> int:
        lag = 0
        for (topic, partition), offset in position.items():
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            if high >= 0:
                lag += max(high - offset, 0)
        return lag

    @property
    def _batch_size(self) -> int:
        """Records per consume call: about a tenth of a second's worth when the rate is capped."""
        return 10_000 if not self.max_rate else max(1, min(10_000, int(self.max_rate / 10)))

    def _throttle(self, records: int, started: float) -> None:
        if self.max_rate:
            ahead = records / self.max_rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(min(ahead, 0.5))  # rate limiting, not a wait for a condition


class _Abortable(Exception):
    pass


def _retry(what: str, call: Any) -> Any:
    """Call until it succeeds or fails for good: retriable errors are retried until COMMIT_DEADLINE, a transaction
    that must be aborted raises _Abortable, a fatal error (fenced: another run took over) MigrationError."""
    def give_up(err: Exception, error: Any) -> Exception:
        if error is None:
            return MigrationError(f"cannot {what}: {err}")
        if error.fatal():
            fenced = error.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH)
            return MigrationError(f"cannot {what}: {error.str()}" + (
                ": another `k2 migrate run` for this environment took over (only one runs at a time); this "
                "one stops, its open transaction is aborted" if fenced else ""))
        if error.txn_requires_abort():
            return _Abortable(error.str())
        return MigrationError(f"cannot {what}: {error.str()}. Nothing after the last committed transaction "
                              "counts as copied: rerun to continue")

    return retrying(call, deadline_seconds=COMMIT_DEADLINE, give_up=give_up,
                    retry_if=lambda error: error is not None and not error.fatal()
                    and not error.txn_requires_abort() and error.retriable())


def _produce(producer: Producer, topic: str, value: bytes | None, key: bytes | None, timestamp: int,
             headers: list[Any]) -> None:
    while True:
        try:
            producer.produce(topic, value, key, timestamp=timestamp, headers=headers)
            return
        except BufferError:
            producer.poll(0.05)


_NUMBERS = [str(n).encode() for n in range(1024)]


def _number(value: int) -> bytes:
    return _NUMBERS[value] if value < 1024 else str(value).encode()
