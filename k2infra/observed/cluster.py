"""What the cluster and the registry hold right now (no Pulumi): the other half of a plan.

A failure is raised as k2infra.observed.failures.Unreachable (re-exported here, the class callers catch) or one of
its subclasses, naming the address and what to do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from k2infra.contracts.failover import BROKER_SETTINGS
from k2infra.contracts.naming import is_market_topic
from k2infra.contracts.registry_client import registry_client_settings
from k2infra.model.access import Binding
from k2infra.model.plan import ObservedTopic
from k2infra.observed.failures import ReportedErrors, Unreachable, kafka_calls, kafka_failure, registry_failure
from k2infra.observed.retry import retrying

__all__ = ["ObservedCluster", "Unreachable", "committed_offsets", "end_offsets", "observe_acls", "observe_cluster",
           "observe_topics", "registered_versions"]


CONNECT_TIMEOUT = "K2_CONNECT_TIMEOUT"


def connect_timeout(default: float) -> float:
    """How long a cluster that does not answer is asked again before it counts as unreachable: $K2_CONNECT_TIMEOUT
    seconds if set (a slow network; the tests of unreachable clusters, which need not wait 15 s), else `default`."""
    value = os.environ.get(CONNECT_TIMEOUT, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise Unreachable(f"${CONNECT_TIMEOUT}={value!r} is not a number of seconds from 0 to 3600: "
                          "correct or unset it")
    return seconds


# What to do, per failure; the messages use the stack config keys (the k2 CLI adds its own hints).
def _connect(client: Any, servers: str, reported: ReportedErrors, timeout: float) -> Any:
    """The cluster's metadata, asked for until `timeout` (or $K2_CONNECT_TIMEOUT); a refused login or TLS
    handshake ends the wait at once (librdkafka would keep retrying it silently)."""
    seconds = connect_timeout(timeout)
    deadline = time.monotonic() + seconds

    def undecided(_error: Any) -> bool:
        client.poll(0)  # serves error_cb
        return not reported.decisive()

    return retrying(lambda: client.list_topics(timeout=max(0.1, min(1.0, deadline - time.monotonic()))),
                    deadline_seconds=seconds, retry_if=undecided, sleep=lambda wait: client.poll(wait),
                    give_up=lambda err, _error: kafka_failure(servers, err, reported.errors))


def _admin(conf: Mapping[str, Any], reported: ReportedErrors) -> Any:
    from confluent_kafka.admin import AdminClient

    # log_level 0: a failure is reported once, as Unreachable, not as a stream of logs.
    settings: dict[str, Any] = {**conf, "log_level": 0, "error_cb": reported}
    return AdminClient(settings)


# Topics per DescribeConfigs request. One request for all 10,005 topics of bench/topology_scale.py made a
# broker with a 512 MB heap fail with OutOfMemoryError building the reply (every config of every topic).
CONFIGS_PER_REQUEST = 500


@dataclass(frozen=True)
class ObservedCluster:
    topics: dict[str, ObservedTopic]  # the market-data topics, with their settings
    names: frozenset[str]  # every topic's name, whatever its prefix (a new topic may collide with any)
    # The brokers' failure-detection settings (k2infra.contracts.failover), the slowest broker's of each; empty
    # when not asked for or not readable.
    failure_detection: dict[str, int] = field(default_factory=dict)


def observe_topics(conf: Mapping[str, Any], timeout: float = 15) -> dict[str, ObservedTopic]:
    """Every market-data topic, with partitions, replication factor and its own config."""
    return observe_cluster(conf, timeout).topics


def observe_cluster(conf: Mapping[str, Any], timeout: float = 15, *, brokers: bool = False) -> ObservedCluster:
    """The market-data topics in full, and the names of all topics, from one metadata request; with `brokers`, also
    the brokers' failure-detection settings."""
    from confluent_kafka.admin import ConfigResource, ConfigSource

    servers, reported = conf["bootstrap.servers"], ReportedErrors()
    with kafka_calls(servers, reported):
        admin = _admin(conf, reported)
        metadata = _connect(admin, servers, reported, timeout)
    names = sorted(n for n in metadata.topics if is_market_topic(n))
    observed = {}
    for start in range(0, len(names), CONFIGS_PER_REQUEST):  # one request at a time: the broker builds each reply whole
        chunk = names[start:start + CONFIGS_PER_REQUEST]
        resources = [ConfigResource("topic", n) for n in chunk]
        with kafka_calls(servers, reported):
            configs = admin.describe_configs(resources, request_timeout=timeout)
        for name, resource in zip(chunk, resources, strict=True):
            topic = metadata.topics[name]
            with kafka_calls(servers, reported, f"topic {name}"):  # deleted meanwhile: not found
                entries = configs[resource].result(timeout=timeout)
            own = {k: v.value for k, v in entries.items() if v.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}
            replicas = len(topic.partitions[0].replicas) if topic.partitions else 0
            observed[name] = ObservedTopic(name, len(topic.partitions), replicas, own)
    detection = _failure_detection(admin, metadata, timeout) if brokers else {}
    return ObservedCluster(observed, frozenset(metadata.topics), detection)


def _failure_detection(admin: Any, metadata: Any, timeout: float) -> dict[str, int]:
    """The slowest value of each failure-detection setting the brokers report; none for a single broker (nothing to
    fail over to). What a broker does not let K2 read (no DescribeConfigs on the cluster) is left out: the advice
    needs facts, not guesses."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource

    found: dict[str, int] = {}
    if len(metadata.brokers) < 2:
        return found
    for broker_id in metadata.brokers:  # librdkafka asks each broker for its own configs: one resource per call
        resource = ConfigResource("broker", str(broker_id))
        try:
            entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout=timeout)
        except KafkaException:
            continue
        for key in BROKER_SETTINGS:
            value = entries[key].value if key in entries else None
            if value is not None and value.isdigit():
                found[key] = max(found.get(key, 0), int(value))
    return found


def registered_versions(url: str, subjects: Iterable[str], basic_auth: str | None = None,
                        timeout: float = 10, ca_pem: str | None = None) -> dict[str, list[str]]:
    """Subject -> its registered schemas, oldest first (absent: never registered)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    client = SchemaRegistryClient(registry_client_settings(url, basic_auth, ca_pem, timeout))
    out: dict[str, list[str]] = {}
    try:
        existing = set(client.get_subjects())
        for subject in subjects:
            if subject in existing:
                versions = [client.get_version(subject, v).schema.schema_str for v in client.get_versions(subject)]
                out[subject] = [v for v in versions if v is not None]
    except Exception as err:
        failure = registry_failure(url, err)
        if failure is None:
            raise
        raise failure from None
    return out


def schemas_by_id(url: str, ids: Iterable[int], basic_auth: str | None = None, timeout: float = 10,
                  ca_pem: str | None = None) -> dict[int, str | None]:
    """Schema id -> the schema the registry holds under it (None: no such id)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    client = SchemaRegistryClient(registry_client_settings(url, basic_auth, ca_pem, timeout))
    out: dict[int, str | None] = {}
    for schema_id in sorted(set(ids)):
        try:
            out[schema_id] = client.get_schema(schema_id).schema_str
        except Exception as err:
            if getattr(err, "http_status_code", None) == 404 and getattr(err, "error_code", 0) // 100 == 404:
                out[schema_id] = None
                continue
            failure = registry_failure(url, err)
            if failure is None:
                raise
            raise failure from None
    return out


def end_offsets(conf: Mapping[str, Any], partitions: Mapping[str, int], timeout: float = 15) -> dict[str, list[int]]:
    """Topic -> the end (high watermark) offset of each partition."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    servers, reported = conf["bootstrap.servers"], ReportedErrors()
    out: dict[str, list[int]] = {t: [0] * n for t, n in partitions.items()}
    with kafka_calls(servers, reported):
        admin = _admin(conf, reported)
        _connect(admin, servers, reported, timeout)
        request = {TopicPartition(t, p): OffsetSpec.latest() for t, n in partitions.items() for p in range(n)}
        futures = admin.list_offsets(request, request_timeout=timeout).items() if request else []
    for tp, future in futures:
        with kafka_calls(servers, reported, f"topic {tp.topic} partition {tp.partition}"):
            out[tp.topic][tp.partition] = future.result(timeout=timeout).offset
    return out


def committed_offsets(conf: Mapping[str, Any], group: str, partitions: Mapping[str, int],
                      timeout: float = 15) -> dict[str, list[int]]:
    """Topic -> a consumer group's committed offset per partition (-1: nothing committed).

    Read through a consumer of that group that never subscribes (so it joins nothing): the plain
    committed() path, which is sturdier here than the admin API's group-offsets call.
    """
    from confluent_kafka import Consumer, TopicPartition

    servers, reported = conf["bootstrap.servers"], ReportedErrors()
    settings: dict[str, Any] = {**conf, "group.id": group, "enable.auto.commit": False, "log_level": 0,
                                "error_cb": reported}
    with kafka_calls(servers, reported):
        consumer = Consumer(settings)
    try:
        with kafka_calls(servers, reported, f"offsets for group {group}"):
            _connect(consumer, servers, reported, timeout)
            wanted = [TopicPartition(t, p) for t, n in partitions.items() for p in range(n)]
            result = consumer.committed(wanted, timeout=timeout) if wanted else []
        for tp in result:
            if tp.error:
                raise kafka_failure(servers, tp.error, reported.errors, f"topic {tp.topic} partition {tp.partition}")
    finally:
        consumer.close()
    out: dict[str, list[int]] = {t: [-1] * n for t, n in partitions.items()}
    for tp in result:
        out[tp.topic][tp.partition] = tp.offset if tp.offset >= 0 else -1
    return out


def observe_acls(conf: Mapping[str, Any], timeout: float = 15) -> list[Binding] | None:
    """Every ACL on the cluster, in K2's Binding form; None when the brokers run no authorizer.

    librdkafka drops DescribeAcls' error code (up to 2.16 at least), so a broker without an authorizer
    (SECURITY_DISABLED) answers like one with no ACLs: an empty listing is told apart by the broker's own
    `authorizer.class.name`.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    servers, reported = conf["bootstrap.servers"], ReportedErrors()
    admin = _admin(conf, reported)
    # None matches any name, principal or host (the type stubs say str).
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]
                                  AclOperation.ANY, AclPermissionType.ANY)
    try:
        found = admin.describe_acls(everything, request_timeout=timeout).result(timeout=timeout)
    except KafkaException as err:
        if err.args and getattr(err.args[0], "code", lambda: None)() == KafkaError.SECURITY_DISABLED:
            return None
        raise kafka_failure(servers, err, reported.errors, "its ACLs") from None
    if not found and not _authorizer(admin, servers, reported, timeout):
        return None
    return [Binding("", b.principal, _spelling(b.restype.name), _spelling(b.resource_pattern_type.name), b.name,
                    _spelling(b.operation.name), _spelling(b.permission_type.name)) for b in found]


def _authorizer(admin: Any, servers: str, reported: ReportedErrors, timeout: float) -> str:
    """The authorizer class a broker of the cluster runs ('' for none)."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    with kafka_calls(servers, reported, "its broker configs"):
        broker = min(_connect(admin, servers, reported, timeout).brokers)
        resource = ConfigResource(ResourceType.BROKER, str(broker))
        entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout=timeout)
    entry = entries.get("authorizer.class.name")
    return (entry.value or "") if entry is not None else ""


def _spelling(name: str) -> str:
    """Kafka's enum names (TRANSACTIONAL_ID, IDEMPOTENT_WRITE) in the kafka provider's (TransactionalID, ...)."""
    return "TransactionalID" if name == "TRANSACTIONAL_ID" else "".join(p.title() for p in name.split("_"))
