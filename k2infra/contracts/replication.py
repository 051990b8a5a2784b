"""MirrorMaker 2's settings for one replication flow, defined once (issue 23).

Both ways K2 runs MirrorMaker take them from here, so they cannot drift: dedicated mode on the local platform
(k2infra.local.mirror writes them per flow into mm2.properties) and Connect mode in prod (the three connectors K2
declares on an existing Kafka Connect cluster, k2infra.components.mirror_connectors). Each connector gets the
settings it reads (checked against the 4.1.1 jars: MirrorSourceConfig, MirrorCheckpointConfig,
MirrorHeartbeatConfig), so a change of topics touches the source and checkpoint connectors, not the heartbeats.

No credentials here: a secured region's login is a reference that a Connect config provider resolves on the
workers (`${file:/etc/kafka-connect/k2.properties:us-east.sasl.jaas.config}`), never the password itself, which
would be stored in Connect's config topic and shown by GET /connectors/<name>/config and in the stack's state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

CONNECTOR_PREFIX = "k2."  # K2 deletes only the connectors it named (a Connect cluster may run other teams')
MIRROR_PACKAGE = "org.apache.kafka.connect.mirror."
IDENTITY_POLICY = MIRROR_PACKAGE + "IdentityReplicationPolicy"
# The records are copied as bytes, whatever converters the Connect workers default to (JSON, Avro): MirrorMaker's
# dedicated mode sets these on its workers, a Connect cluster needs them on each connector.
BYTE_ARRAY_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
# `${provider:key}` or `${provider:path:key}`: what Kafka's config providers resolve (KIP-297).
PROVIDER_REFERENCE = re.compile(r"\$\{[A-Za-z0-9_.-]+:[^{}]+\}")


class Kind(StrEnum):
    """MirrorMaker 2's three connectors of a flow."""

    SOURCE = "source"          # copies the records, writes the offset syncs
    CHECKPOINT = "checkpoint"  # translates the listed groups' offsets, writes them on the target
    HEARTBEAT = "heartbeat"    # liveness and seconds-behind


CONNECTOR_CLASSES = {
    Kind.SOURCE: MIRROR_PACKAGE + "MirrorSourceConnector",
    Kind.CHECKPOINT: MIRROR_PACKAGE + "MirrorCheckpointConnector",
    Kind.HEARTBEAT: MIRROR_PACKAGE + "MirrorHeartbeatConnector",
}


@dataclass(frozen=True)
class ClusterLogin:
    """A secured region's login, as MirrorMaker's clients use it: the JAAS config is a config-provider reference
    resolved on the Connect workers (which must declare that provider, e.g. `config.providers=file`,
    `config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider`)."""

    jaas_config: str                       # ${file:/etc/kafka-connect/k2.properties:us-east.sasl.jaas.config}
    mechanism: str = "SCRAM-SHA-512"
    security_protocol: str = "SASL_SSL"
    truststore_location: str | None = None  # a PEM file of the region's CA on every worker (not a secret)

    def __post_init__(self) -> None:
        if not PROVIDER_REFERENCE.fullmatch(self.jaas_config):
            raise ValueError(
                "a region's login must be a Connect config-provider reference such as "
                "${file:/etc/kafka-connect/k2.properties:us-east.sasl.jaas.config}, not the JAAS config itself: "
                "a connector's config is stored in Connect's config topic, answered by its REST API and kept in "
                "the stack's state")

    def client_settings(self) -> dict[str, str]:
        settings = {"security.protocol": self.security_protocol, "sasl.mechanism": self.mechanism,
                    "sasl.jaas.config": self.jaas_config}
        if self.truststore_location:
            settings |= {"ssl.truststore.type": "PEM", "ssl.truststore.location": self.truststore_location}
        return settings


@dataclass(frozen=True)
class RegionCluster:
    """A region's cluster as MirrorMaker names it: the alias is the region's name."""

    name: str
    bootstrap_servers: str
    login: ClusterLogin | None = None


@dataclass(frozen=True)
class MirrorFlow:
    """Replication of a home region's topics (exact names) into a region that aggregates it. `groups`: the consumer
    groups whose offsets are checkpointed and synced to the target (exact names); None: every group (MirrorMaker's
    default, as on the local platform)."""

    source: RegionCluster
    target: RegionCluster
    topics: tuple[str, ...]
    groups: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return f"{self.source.name}->{self.target.name}"


@dataclass(frozen=True)
class Intervals:
    """How often MirrorMaker looks again. Kafka's defaults (10 min for new topics and groups, 60 s for checkpoints)
    make a failover's offsets a minute old; K2's: a new group within a minute, offsets 10 s fresh, 1 s heartbeats.
    A change of topics needs no refresh: it restarts the connector with the new list."""

    refresh_seconds: int = 60      # refresh.topics / refresh.groups: new partitions and groups
    checkpoint_seconds: int = 10   # emit.checkpoints and sync.group.offsets: a failover's offsets are this fresh
    heartbeat_seconds: int = 1     # emit.heartbeats: the seconds-behind signal's resolution


LOCAL_INTERVALS = Intervals(refresh_seconds=5, checkpoint_seconds=1, heartbeat_seconds=1)


@dataclass(frozen=True)
class Throughput:
    """How a flow's source connector keeps up: its tasks, and (exactly-once) how often it commits."""

    # Source and checkpoint tasks (the heartbeat connector has one): 2 or 4 gained nothing reliable on 2 cores
    # (probe: 4,091-5,286/s of 5,500/s, within the runs' noise), so 1 unless a Connect cluster has the workers.
    tasks_max: int = 1
    # Exactly-once only: commit a transaction every this many ms (KIP-618 `transaction.boundary=interval`, the
    # framework's: MirrorSourceConnector needs no support for it); None: one per poll (Kafka's). The source task
    # spent half its time blocked in commitTransaction per poll; every 1 s: a quarter of the __transaction_state
    # writes (8-9/s vs 33/s) and 4,608-5,178/s of 5,500/s vs 4,069-4,610/s (bench/replication_probe.py).
    transaction_interval_ms: int | None = 1000
    max_poll_records: int | None = None  # the source consumer's records per poll (None: Kafka's 500)


@dataclass(frozen=True)
class MirrorOptions:
    """How a flow is run: exactly-once (KIP-618), the replicas of MirrorMaker's own topics, how often it looks,
    how it keeps up."""

    exactly_once: bool = True
    replication_factor: int = 3    # checkpoints, heartbeats, offset syncs (and the topics MirrorMaker would create)
    intervals: Intervals = field(default_factory=Intervals)
    throughput: Throughput = field(default_factory=Throughput)


def exact_names(names: Iterable[str]) -> str:
    """MirrorMaker's `topics` and `groups` are lists of Java regexes, each matched against the whole name: one per
    name, dots escaped, so `market.equities.trades.asx` matches no other name."""
    return ", ".join(re.escape(n) for n in sorted(set(names)))


def connector_name(flow: MirrorFlow, kind: Kind) -> str:
    """`k2.<source>.<target>.<kind>`: a region name holds no dot, so no two flows share a name."""
    return f"{CONNECTOR_PREFIX}{flow.source.name}.{flow.target.name}.{kind}"


def is_k2_connector(name: str) -> bool:
    return name.startswith(CONNECTOR_PREFIX)


def mirror_topics(flow: MirrorFlow) -> dict[str, str]:
    """MirrorMaker's own topics of a flow, all in the target region (offset syncs there too: K2 sets
    offset-syncs.topic.location=target, so MirrorMaker writes nothing into a home region)."""
    return own_topics(flow.source.name)


def own_topics(source: str) -> dict[str, str]:
    """mirror_topics() by the home region's name (the identity policy's names, as 4.1.1 writes them)."""
    return {"heartbeats": "heartbeats", "checkpoints": f"{source}.checkpoints.internal",
            "offset-syncs": f"mm2-offset-syncs.{source}.internal"}


def mirror_topic_names(source: str) -> tuple[str, ...]:
    return tuple(sorted(own_topics(source).values()))


@dataclass(frozen=True)
class DedicatedWorker:
    """What a dedicated MirrorMaker's Connect workers of one flow use in the target region (MirrorMakerConfig
    .workerConfig in 4.1.1: group `<source>-mm2`, topics `mm2-{configs,offsets,status}.<source>.internal`; with
    exactly-once, the leader's transactional id `connect-cluster-<group>` and each task's
    `<group>-<connector>-<task>`)."""

    source: str
    tasks_max: int = 1

    @property
    def group(self) -> str:
        return f"{self.source}-mm2"

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(f"mm2-{kind}.{self.source}.internal" for kind in ("configs", "offsets", "status"))

    @property
    def status_topic(self) -> str:
        return f"mm2-status.{self.source}.internal"

    @property
    def transactional_ids(self) -> tuple[str, ...]:
        tasks = [f"{self.group}-{CONNECTOR_CLASSES[kind].rsplit('.', 1)[-1]}-{task}"
                 for kind in Kind for task in range(1 if kind is Kind.HEARTBEAT else self.tasks_max)]
        return (f"connect-cluster-{self.group}", *tasks)


def dedicated_worker(source: str) -> DedicatedWorker:
    return DedicatedWorker(source)


def mirror_settings(flow: MirrorFlow, options: MirrorOptions) -> dict[Kind, dict[str, str]]:
    """The MirrorMaker settings each connector of `flow` reads, the same in dedicated and Connect mode."""
    rf, every, pace = str(options.replication_factor), options.intervals, options.throughput
    common = {
        # Mirrored topics keep their names: the subscription patterns read the aggregate unchanged. No cycle is
        # possible because K2 refuses cyclic regions (the identity policy cannot tell a topic's origin).
        "replication.policy.class": IDENTITY_POLICY,
    }
    syncs = {
        # The offset syncs in the aggregating region: MirrorMaker then writes nothing into a home region. The
        # checkpoint connector reads them from where the source connector writes them.
        "offset-syncs.topic.location": "target",
        "topics": exact_names(flow.topics),
    }
    source = {
        **common, **syncs,
        # K2 owns the mirrored topics' configs and ACLs (the target environment's settings), not the home region.
        "sync.topic.configs.enabled": "false",
        "sync.topic.acls.enabled": "false",
        "refresh.topics.interval.seconds": str(every.refresh_seconds),
        "offset-syncs.topic.replication.factor": rf,
        "replication.factor": rf,
        "tasks.max": str(pace.tasks_max),
    }
    if pace.max_poll_records is not None:
        source["source.consumer.max.poll.records"] = str(pace.max_poll_records)
    if options.exactly_once:
        source["source.consumer.isolation.level"] = "read_committed"  # aborted home transactions stay out
        if pace.transaction_interval_ms is not None:
            source["transaction.boundary"] = "interval"
            source["transaction.boundary.interval.ms"] = str(pace.transaction_interval_ms)
    checkpoint = {
        **common, **syncs,
        # Consumer-group failover: checkpoints (offsets translated through the offset syncs) and the groups'
        # offsets written on the target while the group has no members there.
        "emit.checkpoints.enabled": "true",
        "emit.checkpoints.interval.seconds": str(every.checkpoint_seconds),
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": str(every.checkpoint_seconds),
        "refresh.groups.interval.seconds": str(every.refresh_seconds),
        "checkpoints.topic.replication.factor": rf,
        "tasks.max": str(pace.tasks_max),
    }
    if flow.groups is not None:
        checkpoint["groups"] = exact_names(flow.groups)
    heartbeat = {
        **common,
        "emit.heartbeats.enabled": "true",
        "emit.heartbeats.interval.seconds": str(every.heartbeat_seconds),
        "heartbeats.topic.replication.factor": rf,
    }
    return {Kind.SOURCE: source, Kind.CHECKPOINT: checkpoint, Kind.HEARTBEAT: heartbeat}


def connector_configs(flow: MirrorFlow, options: MirrorOptions = MirrorOptions()) -> dict[str, dict[str, str]]:
    """Connector name -> its complete config on a Kafka Connect cluster whose workers write to the target region
    (consume remotely, produce locally, as Kafka's docs advise)."""
    configs = {}
    for kind, settings in mirror_settings(flow, options).items():
        name = connector_name(flow, kind)
        config = {"name": name, "connector.class": CONNECTOR_CLASSES[kind], **_clusters(flow), **settings,
                  **{f"{part}.converter": BYTE_ARRAY_CONVERTER for part in ("key", "value", "header")}}
        if kind is Kind.SOURCE and options.exactly_once:
            # KIP-618: each batch and its source offsets in one transaction on the target, or the connector fails
            # to start (never silently at-least-once); the workers need exactly.once.source.support=enabled.
            config["exactly.once.support"] = "required"
        configs[name] = config
    return configs


def _clusters(flow: MirrorFlow) -> dict[str, str]:
    settings: dict[str, str] = {}
    for side, cluster in (("source", flow.source), ("target", flow.target)):
        settings[f"{side}.cluster.alias"] = cluster.name
        settings[f"{side}.cluster.bootstrap.servers"] = cluster.bootstrap_servers
        if cluster.login is not None:
            settings |= {f"{side}.cluster.{k}": v for k, v in cluster.login.client_settings().items()}
    return settings
