"""Helpers for K2 apps: stack outputs -> topic names, subscriptions, Avro producers and consumers.

Apps never hard-code topic names or broker addresses: they read the stack outputs (see
docs/clients.md). Importing this package needs confluent-kafka, fastavro and the pure topology
model only; Pulumi is imported solely to read a live stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from k2infra.clients.consumer import MarketDataConsumer, MarketRecord
from k2infra.clients.errors import (
    ClientError,
    ConsumeError,
    DeliveryError,
    RecordError,
    StackOutputsError,
    UnknownNameError,
)
from k2infra.clients.partitioner import murmur2, partition_for
from k2infra.clients.producer import DeliveryFailure, DeliveryStats, MarketDataProducer
from k2infra.clients.profiles import (
    LOW_LATENCY_CONSUMER,
    QUOTES,
    REFERENCE_DATA,
    TRADES,
    Credentials,
    ProducerProfile,
    kafka_config,
    producer_profile,
    registry_config,
)
from k2infra.clients.records import RecordDecoder, RecordEncoder
from k2infra.clients.schema_catalog import SchemaCatalog
from k2infra.clients.sources import ENV_VAR, LiveStack, Source, load_stack_outputs, load_topology_file
from k2infra.clients.subject_strategy import SharedSubjectStrategy
from k2infra.clients.subscriptions import SubscriptionBuilder, topics_matching
from k2infra.clients.topic_builder import DataType, TopicBuilder
from k2infra.contracts.naming import TopicRef, parse_topic_name
from k2infra.contracts.outputs import ExchangeInfo, StackOutputs, SubjectInfo, TopicInfo


def get_topic_builder(source: Source = None) -> TopicBuilder:
    return TopicBuilder(load_stack_outputs(source))


def get_subscription_builder(source: Source = None) -> SubscriptionBuilder:
    return SubscriptionBuilder(load_stack_outputs(source))


def get_producer(data_type: DataType | str, source: Source = None, **options: Any) -> MarketDataProducer:
    """A producer with the data type's profile (quotes: fast; trades and reference data: durable)."""
    return MarketDataProducer(load_stack_outputs(source), data_type, **options)


def get_consumer(group_id: str, topics: Sequence[str], source: Source = None, **options: Any) -> MarketDataConsumer:
    """A low-latency consumer subscribed to `topics` (names or a '^' pattern from a SubscriptionBuilder)."""
    return MarketDataConsumer(load_stack_outputs(source), group_id, topics, **options)


__all__ = [
    "ENV_VAR",
    "LOW_LATENCY_CONSUMER",
    "QUOTES",
    "REFERENCE_DATA",
    "TRADES",
    "ClientError",
    "ConsumeError",
    "Credentials",
    "DataType",
    "DeliveryError",
    "DeliveryFailure",
    "DeliveryStats",
    "ExchangeInfo",
    "LiveStack",
    "MarketDataConsumer",
    "MarketDataProducer",
    "MarketRecord",
    "ProducerProfile",
    "RecordDecoder",
    "RecordEncoder",
    "RecordError",
    "SchemaCatalog",
    "SharedSubjectStrategy",
    "Source",
    "StackOutputs",
    "StackOutputsError",
    "SubjectInfo",
    "SubscriptionBuilder",
    "TopicBuilder",
    "TopicInfo",
    "TopicRef",
    "UnknownNameError",
    "get_consumer",
    "get_producer",
    "get_subscription_builder",
    "get_topic_builder",
    "kafka_config",
    "load_stack_outputs",
    "load_topology_file",
    "murmur2",
    "parse_topic_name",
    "partition_for",
    "producer_profile",
    "registry_config",
    "topics_matching",
]
