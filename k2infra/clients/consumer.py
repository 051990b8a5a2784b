"""A low-latency Avro consumer that commits an offset only after the handler returned for its message.

At-least-once: if the handler raises, the offsets of the records it finished are committed, the
consumer is rewound to the first record it did not finish, and the error propagates; a restart (or
the next call) sees that record again. Commits are batched in time, never ahead of the handler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from k2infra.clients.credentials import follow_source
from k2infra.clients.errors import ConsumeError
from k2infra.clients.profiles import LOW_LATENCY_CONSUMER, Credentials, kafka_config, registry_config
from k2infra.clients.records import RecordDecoder
from k2infra.clients.schema_catalog import SchemaCatalog
from k2infra.contracts.naming import TopicRef, parse_topic_name
from k2infra.contracts.outputs import StackOutputs

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MarketRecord:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict[str, Any] | None  # None: a tombstone (reference data removed)
    timestamp_ms: int | None

    @property
    def ref(self) -> TopicRef:
        """Asset class, data type and exchange, from the topic name."""
        return parse_topic_name(self.topic)


Handler = Callable[[MarketRecord], Any]


class MarketDataConsumer:
    """The design's low-latency consumer: records decoded through the registry, handed to a handler,
    their offsets committed once it returned. Use it from one thread, as a Kafka consumer."""

    def __init__(self, outputs: StackOutputs, group_id: str, topics: Sequence[str] | None = None, *,
                 registry: SchemaRegistryClient | None = None, credentials: Credentials | None = None,
                 auto_offset_reset: str = "latest", config: Mapping[str, Any] | None = None,
                 batch_size: int = 500, commit_interval: float = 1.0):
        credentials = credentials or Credentials.from_env()
        settings = {**kafka_config(outputs, credentials), **LOW_LATENCY_CONSUMER, "group.id": group_id,
                    "auto.offset.reset": auto_offset_reset, "on_commit": _log_failed_commits, **(config or {})}
        self.follower = follow_source(settings, credentials.kafka_source, credentials.login())
        self._consumer = Consumer(settings)
        if self.follower:  # rereads the credential source when the brokers refuse the login (a rotation)
            self.follower.attach(self._consumer)
        catalog = SchemaCatalog(registry or SchemaRegistryClient(registry_config(outputs, credentials)), outputs)
        self._decoder = RecordDecoder(catalog)
        self._batch_size = batch_size
        self._commit_interval = commit_interval
        self._last_commit = time.monotonic()
        self._done: dict[tuple[str, int], int] = {}  # next offset to commit, for handled records only
        self.handled = 0
        if topics:
            self.subscribe(topics)

    def subscribe(self, topics: Sequence[str]) -> None:
        """Topic names and/or '^' regex patterns, e.g. from a SubscriptionBuilder."""
        self._consumer.subscribe(list(topics), on_revoke=self._on_revoke, on_lost=self._on_lost)

    def assignment(self) -> list[TopicPartition]:
        return self._consumer.assignment()

    def process(self, handler: Handler, timeout: float = 1.0, max_records: int | None = None) -> int:
        """Hand the records that have arrived (waiting up to `timeout` for the first) to `handler`."""
        messages = self._fetch(timeout, min(self._batch_size, max_records or self._batch_size))
        handled = 0
        try:
            for message in messages:
                record = self._record(message)
                handler(record)
                self._done[(record.topic, record.partition)] = record.offset + 1
                handled += 1
        except BaseException:
            self._rewind(messages[handled:])
            self.commit(asynchronous=False)
            raise
        finally:
            self.handled += handled
        if time.monotonic() - self._last_commit >= self._commit_interval:
            self.commit()
        return handled

    def run(self, handler: Handler, *, max_records: int | None = None, idle_timeout: float | None = None,
            poll_timeout: float = 0.5) -> int:
        """process() until `max_records` were handled or nothing arrived for `idle_timeout` seconds."""
        handled, idle_since = 0, time.monotonic()
        while max_records is None or handled < max_records:
            count = self.process(handler, poll_timeout, None if max_records is None else max_records - handled)
            handled += count
            if count:
                idle_since = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                break
        return handled

    def commit(self, asynchronous: bool = True) -> None:
        """Commit the offsets after the records handled so far."""
        self._last_commit = time.monotonic()
        if not self._done:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._done.items()]
        self._done.clear()
        try:
            if asynchronous:
                self._consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as err:
            if err.args[0].code() != KafkaError._NO_OFFSET:
                raise

    def skip(self, error: ConsumeError) -> None:
        """Step over a record that cannot be consumed (it stays in Kafka): for a poison message the
        caller has logged or parked elsewhere, which would otherwise be seen again and again."""
        if error.topic is None or error.partition is None or error.offset is None or error.offset < 0:
            raise ValueError(f"the error names no record to skip: {error}")
        self._done[(error.topic, error.partition)] = error.offset + 1
        self._consumer.seek(TopicPartition(error.topic, error.partition, error.offset + 1))

    def committed(self, partitions: Iterable[TopicPartition], timeout: float = 10.0) -> list[TopicPartition]:
        return self._consumer.committed(list(partitions), timeout=timeout)

    def close(self) -> None:
        try:
            self.commit(asynchronous=False)
        finally:
            self._consumer.close()

    def __enter__(self) -> MarketDataConsumer:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def _fetch(self, timeout: float, limit: int) -> list[Message]:
        # consume() waits for a full batch or the timeout: take what has arrived without waiting,
        # and when nothing has, block in poll() for just the next message.
        messages = self._consumer.consume(limit, 0)
        if not messages:
            first = self._consumer.poll(timeout)
            messages = [first] if first is not None else []
        return messages

    def _record(self, message: Message) -> MarketRecord:
        topic, partition, offset = _position(message)
        error = message.error()
        if error is not None:
            raise ConsumeError(error.str(), topic, partition, offset)
        try:
            value = self._decoder.decode(topic, message.value())
        except ConsumeError as err:
            raise ConsumeError(str(err), topic, partition, offset) from None
        key = message.key()
        return MarketRecord(topic, partition, offset, key.decode("utf-8", "replace") if key is not None else None,
                            value, message.timestamp()[1])

    def _rewind(self, unhandled: list[Message]) -> None:
        """Seek each partition back to its first unhandled record, so it is not skipped."""
        first: dict[tuple[str, int], int] = {}
        for message in unhandled:
            if message.error() is None:
                topic, partition, offset = _position(message)
                first.setdefault((topic, partition), offset)
        for (topic, partition), offset in first.items():
            self._consumer.seek(TopicPartition(topic, partition, offset))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Hand over the partitions with their handled offsets committed, so the next owner starts there.
        revoked = {(p.topic, p.partition) for p in partitions}
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._done.items() if (t, p) in revoked]
        for tp in revoked:
            self._done.pop(tp, None)
        if offsets:
            consumer.commit(offsets=offsets, asynchronous=False)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for p in partitions:  # another member owns them now: committing would overwrite its progress
            self._done.pop((p.topic, p.partition), None)


def _position(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset; librdkafka leaves them unset only on some error events."""
    partition, offset = message.partition(), message.offset()
    return message.topic() or "", -1 if partition is None else partition, -1 if offset is None else offset


def _log_failed_commits(err: KafkaError | None, partitions: list[TopicPartition]) -> None:
    # Logged, not raised: a failed commit leaves the group's offset behind, so after a restart those
    # records are seen again, never lost; the next commit of the partition moves it on.
    failed = [f"{p.topic}[{p.partition}]: {p.error}" for p in partitions if p.error is not None]
    if (err is not None and err.code() != KafkaError._NO_OFFSET) or failed:
        log.warning("offset commit failed: %s %s", err.str() if err else "", failed)
