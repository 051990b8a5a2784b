"""Topic configs the design fixes per data type: reference data compacted (the latest value per symbol
survives), trades and quotes expiring after a stated retention and compressed with a fast codec; and every
value one Kafka accepts for its key (the table `k2 validate` checks topics.yaml with).

A key left unset takes the broker's default, which no review of topics.yaml would see: unset is a violation.
"""

from __future__ import annotations

from collections.abc import Iterator

from k2infra.model.kafka_configs import ConfigValueError, conflicts, normalise_config
from policy.context import Deployment
from policy.design import ALLOWED_COMPRESSION, MARKET_EVENTS, REFERENCE_DATA
from policy.resources import TopicResource, as_int, violation


def reference_data_compacted(topic: TopicResource, _deployment: Deployment) -> Iterator[str]:
    if topic.data_type != REFERENCE_DATA:
        return
    policy = topic.config.get("cleanup.policy")
    if policy != "compact":
        yield violation(topic.name, f"cleanup.policy is {_shown(policy)}; reference data keeps the latest "
                        "record per symbol only on a compacted topic (delete would expire instruments)",
                        f"set cleanup.policy: compact in data_types.{REFERENCE_DATA}.config of topics.yaml, "
                        f"and in no overrides.{REFERENCE_DATA}.config of an exchange")


def market_events_retention(topic: TopicResource, _deployment: Deployment) -> Iterator[str]:
    if topic.data_type not in MARKET_EVENTS:
        return
    retention = topic.config.get("retention.ms")
    millis = as_int(retention)
    if millis is None or millis <= 0:
        problem = "retention is unbounded (-1)" if millis == -1 else f"retention.ms is {_shown(retention)}"
        yield violation(topic.name, f"{problem}; {topic.data_type} must expire after a stated retention",
                        f"set retention.ms (e.g. 7d) in data_types.{topic.data_type}.config of topics.yaml, "
                        f"or in {topic.exchange_key}.overrides.{topic.data_type}.config for this exchange")


def market_events_compression(topic: TopicResource, _deployment: Deployment) -> Iterator[str]:
    if topic.data_type not in MARKET_EVENTS:
        return
    codec = topic.config.get("compression.type")
    if codec not in ALLOWED_COMPRESSION:
        allowed = ", ".join(ALLOWED_COMPRESSION)
        yield violation(topic.name, f"compression.type is {_shown(codec)}, not one of {allowed}",
                        f"set compression.type: lz4 (the design's default) in data_types.{topic.data_type}."
                        f"config of topics.yaml, or another allowed codec in {topic.exchange_key}.overrides."
                        f"{topic.data_type}.config")


def values_kafka_accepts(topic: TopicResource, _deployment: Deployment) -> Iterator[str]:
    where = (f"data_types.{topic.data_type}.config of topics.yaml, or {topic.exchange_key}.overrides."
             f"{topic.data_type}.config" if topic.data_type else "the topic's config in topics.yaml")
    normalised = {}
    for key, value in sorted(topic.config.items()):
        try:
            normalised[key] = normalise_config(key, value)
        except ConfigValueError as err:
            yield violation(topic.name, f"{key}: {err}", f"give {key} a value Kafka accepts in {where}")
    for key, message in conflicts(normalised):
        yield violation(topic.name, message, f"correct {key} in {where}")


def _shown(value: str | None) -> str:
    return "unset (the broker's default)" if value is None else repr(value)
