"""An Avro producer for one data type's topics, with the data type's profile and the symbol as key.

A record is checked and encoded before it reaches librdkafka, so a record that does not fit is
refused with the field named and nothing is sent. Every delivery report is counted; a failure
goes to the caller's callback, or is raised by close() when no callback took it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from k2infra.clients.credentials import follow_source
from k2infra.clients.errors import DeliveryError, RecordError
from k2infra.clients.profiles import Credentials, ProducerProfile, kafka_config, producer_profile, registry_config
from k2infra.clients.records import RecordEncoder
from k2infra.clients.schema_catalog import SchemaCatalog
from k2infra.clients.topic_builder import DataType, TopicBuilder
from k2infra.contracts.outputs import StackOutputs

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[KafkaError | None, Message], None]


@dataclass(frozen=True)
class DeliveryFailure:
    topic: str
    partition: int | None
    key: str | None
    error: KafkaError

    def __str__(self) -> str:
        return f"{self.topic} key {self.key!r}: {self.error.str()}"


@dataclass(frozen=True)
class DeliveryStats:
    produced: int  # accepted by produce()
    delivered: int  # acknowledged by the cluster, per the profile's acks
    failed: int
    # Queued, in flight or with a report not yet served; all exact once flush() returned 0. Until
    # then, with delivery_reports="errors", `delivered` is a lower bound.
    pending: int


class _TopicWriter:
    """Encoder and key extraction for one topic, with the record-to-topic consistency checks."""

    def __init__(self, topic: str, exchange: str, encoder: RecordEncoder):
        self.topic, self.exchange, self.encoder = topic, exchange, encoder
        self.key_field = encoder.partition_key
        self.checks_exchange = "exchange" in encoder.field_names

    def encode(self, record: Mapping[str, Any]) -> tuple[str, bytes]:
        value = self.encoder.encode(record)
        key = record.get(self.key_field)
        if not key:  # the writer has checked it is a string; an empty one would hash like no symbol
            raise RecordError(self.encoder.subject, self.key_field, "the partition key is empty")
        if self.checks_exchange and record["exchange"] != self.exchange:
            raise RecordError(self.encoder.subject, "exchange",
                              f"is {record['exchange']!r} but the topic is {self.topic}")
        return key, value


class MarketDataProducer:
    """Avro records onto one data type's topics. librdkafka is thread-safe; the counters here are
    kept for one producing thread (share a producer between threads and they may undercount)."""

    def __init__(self, outputs: StackOutputs, data_type: DataType | str, *, profile: ProducerProfile | None = None,
                 registry: SchemaRegistryClient | None = None, credentials: Credentials | None = None,
                 on_delivery_failure: Callable[[DeliveryFailure], None] | None = None,
                 delivery_reports: Literal["errors", "all"] = "errors", config: Mapping[str, Any] | None = None,
                 queue_full_timeout: float = 10.0):
        self.topics = TopicBuilder(outputs)
        self.data_type = self.topics.check_data_type(data_type)
        self.profile = profile or producer_profile(self.data_type)
        if delivery_reports not in ("errors", "all"):
            raise ValueError(f"delivery_reports must be 'errors' or 'all', got {delivery_reports!r}")
        # "errors": librdkafka reports only failures to Python, which saves a callback per message
        # (about 3 µs, a third of the helper's cost); successes are counted from the queue length.
        self._all_reports = delivery_reports == "all"
        self._produced = self._delivered = self._failed = 0
        self._catalog = SchemaCatalog(registry or SchemaRegistryClient(registry_config(outputs, credentials)), outputs)
        self._on_failure = on_delivery_failure
        self._unreported_count = 0  # failures no callback saw: close() raises them
        self._first_unreported: DeliveryFailure | None = None
        self._queue_full_timeout = queue_full_timeout
        self._writers: dict[str, _TopicWriter] = {}
        credentials = credentials or Credentials.from_env()
        settings = {**kafka_config(outputs, credentials), **self.profile.config, **(config or {}),
                    "delivery.report.only.error": not self._all_reports, "on_delivery": self._on_delivery}
        self.follower = follow_source(settings, credentials.kafka_source, credentials.login())
        self._producer = Producer(settings)
        if self.follower:  # rereads the credential source when the brokers refuse the login (a rotation)
            self.follower.attach(self._producer)
        self._final: DeliveryStats | None = None  # set by close()

    def topic(self, asset_class: str, exchange: str) -> str:
        """This producer's data type's topic for an exchange."""
        return self.topics.build_topic_name(asset_class, self.data_type, exchange)

    def produce(self, topic: str, record: Mapping[str, Any], *, on_delivery: DeliveryCallback | None = None,
                headers: Mapping[str, str | bytes] | None = None) -> None:
        """Check, encode and queue one record, keyed by its symbol. RecordError: nothing was sent."""
        extra: dict[str, Any] = {}
        if on_delivery is not None:
            if not self._all_reports:
                raise ValueError("a per-message on_delivery callback needs delivery_reports='all'; "
                                 "failures alone reach on_delivery_failure")
            extra["on_delivery"] = self._with_stats(on_delivery)
        writer = self._writers.get(topic) or self._writer_for(topic)
        key, value = writer.encode(record)
        if headers:
            extra["headers"] = dict(headers)
        try:
            self._producer.produce(topic, value, key, **extra)
        except BufferError:
            self._produce_when_room(topic, value, key, extra)
        self._produced += 1
        self._producer.poll(0)  # serve delivery reports as they arrive

    @property
    def stats(self) -> DeliveryStats:
        if self._final is not None:
            return self._final
        return self._stats_with(len(self._producer))

    def _stats_with(self, queued: int) -> DeliveryStats:
        """The counters, given librdkafka's queue length (len(), or what flush() returned)."""
        if self._all_reports:
            pending = self._produced - self._delivered - self._failed
            return DeliveryStats(self._produced, self._delivered, self._failed, pending)
        # The queue length also counts events not served yet (an error event of an unreachable broker, say):
        # never more messages are pending than were produced and have not failed.
        pending = min(queued, self._produced - self._failed)
        return DeliveryStats(self._produced, max(0, self._produced - self._failed - pending), self._failed, pending)

    def poll(self, timeout: float = 0) -> int:
        return self._producer.poll(timeout)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for delivery reports; returns how many messages are still unacknowledged."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 30.0) -> DeliveryStats:
        """Flush, then raise DeliveryError if a message is undelivered or failed without a callback."""
        if self._final is not None:
            return self._final
        self._final = stats = self._stats_with(self.flush(timeout))
        self._producer.close()
        problems = []
        if stats.pending:
            problems.append(f"{stats.pending} message(s) still undelivered after {timeout}s")
        if self._unreported_count:
            problems.append(f"{self._unreported_count} delivery failure(s), first: {self._first_unreported}")
        if problems:
            raise DeliveryError(f"{self.data_type} producer closed with {'; '.join(problems)} ({stats})")
        return stats

    def __enter__(self) -> MarketDataProducer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is None:
            self.close()
            return
        try:  # an exception is already on its way out: don't hide it behind a DeliveryError
            self.close()
        except DeliveryError as err:
            log.error("%s", err)

    def _writer_for(self, topic: str) -> _TopicWriter:
        if self._final is not None:
            raise RuntimeError("the producer is closed")
        info = self.topics.describe(topic)
        if info.data_type != self.data_type:
            raise ValueError(f"{topic} holds {info.data_type}; this producer has the {self.profile.name} profile "
                             f"for {self.data_type}: use get_producer({info.data_type!r}) for it")
        writer = _TopicWriter(topic, info.exchange, RecordEncoder(self._catalog.for_topic(topic)))
        self._writers[topic] = writer
        return writer

    def _produce_when_room(self, topic: str, value: bytes, key: str, extra: dict[str, Any]) -> None:
        """The local queue is full: serve delivery reports until there is room, for a bounded time."""
        deadline = time.monotonic() + self._queue_full_timeout
        while True:
            self._producer.poll(0.05)
            try:
                self._producer.produce(topic, value, key, **extra)
                return
            except BufferError:
                if time.monotonic() > deadline:
                    raise BufferError(f"{topic}: the local queue stayed full for {self._queue_full_timeout}s: "
                                      f"the cluster is not keeping up ({self.stats})") from None

    def _on_delivery(self, err: KafkaError | None, msg: Message, reported: bool = False) -> None:
        if err is None:
            self._delivered += 1
            return
        self._failed += 1
        key = msg.key()
        failure = DeliveryFailure(msg.topic() or "", msg.partition(), key.decode("utf-8", "replace") if key else None,
                                  err)
        if self._on_failure is not None:
            self._on_failure(failure)
        elif not reported:
            log.error("delivery failed: %s", failure)
            self._first_unreported = self._first_unreported or failure
            self._unreported_count += 1

    def _with_stats(self, callback: DeliveryCallback) -> DeliveryCallback:
        def both(err: KafkaError | None, msg: Message) -> None:
            self._on_delivery(err, msg, reported=True)  # the caller's own callback sees the error
            callback(err, msg)
        return both
