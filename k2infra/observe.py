"""What the cluster and the registry hold right now (no Pulumi): the other half of a plan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from k2infra.contracts.naming import is_market_topic
from k2infra.contracts.settings import librdkafka_mechanism
from k2infra.model.plan import ObservedTopic


class Unreachable(RuntimeError):
    """The cluster or registry did not answer; the message names the address."""


def client_config(bootstrap_servers: str, protocol: str = "PLAINTEXT", sasl_mechanism: str | None = None,
                  sasl_username: str | None = None, sasl_password: str | None = None,
                  ca_pem: str | None = None) -> dict[str, Any]:
    """librdkafka settings for the stack's cluster (the same values the kafka provider gets)."""
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "security.protocol": protocol}
    if sasl_mechanism:
        conf |= {"sasl.mechanism": librdkafka_mechanism(sasl_mechanism),
                 "sasl.username": sasl_username or "", "sasl.password": sasl_password or ""}
    if ca_pem:
        conf["ssl.ca.pem"] = ca_pem
    return conf


def _admin(conf: Mapping[str, Any]) -> Any:
    from confluent_kafka.admin import AdminClient

    # log_level 0: an unreachable cluster is reported once, as Unreachable, not as a stream of logs.
    return AdminClient({**conf, "log_level": 0})


def observe_topics(conf: Mapping[str, Any], timeout: float = 15) -> dict[str, ObservedTopic]:
    """Every market-data topic, with partitions, replication factor and its own config."""
    from confluent_kafka.admin import ConfigResource, ConfigSource

    admin = _admin(conf)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception as err:
        raise Unreachable(f"cannot reach Kafka at {conf['bootstrap.servers']}: {err}") from None
    names = sorted(n for n in metadata.topics if is_market_topic(n))
    resources = [ConfigResource("topic", n) for n in names]
    configs = admin.describe_configs(resources, request_timeout=timeout) if resources else {}
    observed = {}
    for name, resource in zip(names, resources, strict=True):
        topic = metadata.topics[name]
        entries = configs[resource].result(timeout=timeout)
        own = {k: v.value for k, v in entries.items() if v.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}
        replicas = len(topic.partitions[0].replicas) if topic.partitions else 0
        observed[name] = ObservedTopic(name, len(topic.partitions), replicas, own)
    return observed


def registered_versions(url: str, subjects: Iterable[str], basic_auth: str | None = None,
                        timeout: float = 10) -> dict[str, list[str]]:
    """Subject -> its registered schemas, oldest first (absent: never registered)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    conf: dict[str, Any] = {"url": url, "timeout": timeout}
    if basic_auth:
        conf["basic.auth.user.info"] = basic_auth
    client = SchemaRegistryClient(conf)
    out: dict[str, list[str]] = {}
    try:
        existing = set(client.get_subjects())
    except Exception as err:
        raise Unreachable(f"cannot reach the schema registry at {url}: {err}") from None
    for subject in subjects:
        if subject in existing:
            versions = [client.get_version(subject, v).schema.schema_str for v in client.get_versions(subject)]
            out[subject] = [v for v in versions if v is not None]
    return out


def end_offsets(conf: Mapping[str, Any], partitions: Mapping[str, int], timeout: float = 15) -> dict[str, list[int]]:
    """Topic -> the end (high watermark) offset of each partition."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    admin = _admin(conf)
    request = {TopicPartition(t, p): OffsetSpec.latest() for t, n in partitions.items() for p in range(n)}
    out: dict[str, list[int]] = {t: [0] * n for t, n in partitions.items()}
    try:
        for tp, future in admin.list_offsets(request, request_timeout=timeout).items():
            out[tp.topic][tp.partition] = future.result(timeout=timeout).offset
    except Exception as err:
        raise Unreachable(f"cannot read offsets from Kafka at {conf['bootstrap.servers']}: {err}") from None
    return out


def committed_offsets(conf: Mapping[str, Any], group: str, partitions: Mapping[str, int],
                      timeout: float = 15) -> dict[str, list[int]]:
    """Topic -> a consumer group's committed offset per partition (-1: nothing committed).

    Read through a consumer of that group that never subscribes (so it joins nothing): the plain
    committed() path, which is sturdier here than the admin API's group-offsets call.
    """
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**conf, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        wanted = [TopicPartition(t, p) for t, n in partitions.items() for p in range(n)]
        result = consumer.committed(wanted, timeout=timeout)
    except Exception as err:
        raise Unreachable(f"cannot read group {group}'s offsets from {conf['bootstrap.servers']}: {err}") from None
    finally:
        consumer.close()
    out: dict[str, list[int]] = {t: [-1] * n for t, n in partitions.items()}
    for tp in result:
        out[tp.topic][tp.partition] = tp.offset if tp.offset >= 0 else -1
    return out
