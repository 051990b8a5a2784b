"""MirrorMaker 2 in dedicated mode, as a real process, from the Maven Central jars the bootstrap collected
(K2_MIRROR_LIB, toolchain/mirrormaker/pom.xml): it replicates each region's listed topics into the regions that
aggregate it (issue 23)."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from k2infra.contracts.kafka_client import librdkafka_settings
from k2infra.contracts.replication import (
    IDENTITY_POLICY,
    LOCAL_INTERVALS,
    ClusterLogin,
    Intervals,
    MirrorFlow,
    MirrorOptions,
    RegionCluster,
    Throughput,
    dedicated_worker,
    exact_names,
    mirror_settings,
)
from k2infra.local.processes import (
    PlatformError,
    ProcessRecord,
    env_path,
    find_java,
    free_ports,
    log4j2_config,
    start_process,
    stop_processes,
    wait_until,
)
from k2infra.local.security import write_private

MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"
SOURCE_CONNECTOR = "MirrorSourceConnector"
SECRETS_FILE = "mm2-secrets.properties"  # the logins' JAAS configs, read by Kafka's FileConfigProvider (0600)
FILE_PROVIDER = "org.apache.kafka.common.config.provider.FileConfigProvider"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"

# MirrorMaker says at INFO when its tasks start and what they replicate; its Scheduler's every run stays quiet.
LOG4J2 = log4j2_config({"org.apache.kafka.connect.mirror": "mm2"}) + \
    "logger.scheduler.name = org.apache.kafka.connect.mirror.Scheduler\nlogger.scheduler.level = WARN\n"


# The local platform's regions and flows are the contract's (k2infra.contracts.replication): one definition of
# the settings for dedicated mode here and for the connectors K2 declares on a Kafka Connect cluster in prod.
Region = RegionCluster
Flow = MirrorFlow
exact_topics = exact_names


@dataclass(frozen=True)
class Timings:
    """How often MirrorMaker looks again, and how fast a restarted worker rejoins. Kafka's defaults (10 min for new
    topics and groups, 60 s for checkpoints) suit a fleet; a local platform and its tests want seconds."""

    refresh_seconds: int = LOCAL_INTERVALS.refresh_seconds        # new topics, partitions and groups
    checkpoint_seconds: int = LOCAL_INTERVALS.checkpoint_seconds  # a failover's offsets are this fresh
    heartbeat_seconds: int = LOCAL_INTERVALS.heartbeat_seconds    # the seconds-behind signal's resolution
    offset_flush_ms: int = 2_000    # at-least-once only: how much a crash re-sends (exactly-once commits with the data)
    # A restarted worker joins under a new member id: the killed member must leave the group first (Connect's
    # defaults: 60 s rebalance timeout, 10 s session; tasks of a lost worker held up to 5 min).
    rebalance_timeout_ms: int = 10_000
    session_timeout_ms: int = 6_000   # the broker's minimum (group.min.session.timeout.ms)
    lost_task_delay_ms: int = 5_000   # scheduled.rebalance.max.delay.ms: a lost worker's tasks move in 5 s, not 5 min
    transaction_timeout_ms: int = 10_000  # a killed task's open transaction holds back readers this long (60 s)

    @property
    def intervals(self) -> Intervals:
        return Intervals(self.refresh_seconds, self.checkpoint_seconds, self.heartbeat_seconds)

    def worker_settings(self) -> dict[str, str]:
        """A Connect worker's group and offset timings (MirrorMaker's dedicated workers, k2infra.local.connect)."""
        return {"offset.flush.interval.ms": str(self.offset_flush_ms),
                "rebalance.timeout.ms": str(self.rebalance_timeout_ms),
                "session.timeout.ms": str(self.session_timeout_ms),
                "heartbeat.interval.ms": str(self.session_timeout_ms // 3),
                "scheduled.rebalance.max.delay.ms": str(self.lost_task_delay_ms)}


@dataclass(frozen=True)
class ScramLogin:
    """A secured region's login for MirrorMaker (SASL_SSL, SCRAM-SHA-512, the region's CA as a PEM file). The
    password goes to the 0600 secrets file only; mm2.properties holds a config-provider reference to it."""

    username: str
    password: str = field(repr=False)
    ca_location: str
    mechanism: str = "SCRAM-SHA-512"

    def jaas_config(self) -> str:
        def quoted(value: str) -> str:
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{SCRAM_LOGIN_MODULE} required username={quoted(self.username)} password={quoted(self.password)};"

    def reference(self, region: str, secrets: Path) -> ClusterLogin:
        return ClusterLogin(f"${{file:{secrets}:{region}.sasl.jaas.config}}", self.mechanism,
                            truststore_location=self.ca_location)

    def client_settings(self, bootstrap_servers: str) -> dict[str, object]:
        """librdkafka settings for the same login (K2's own reads of MirrorMaker's status topic)."""
        return librdkafka_settings(bootstrap_servers, "SASL_SSL", self.mechanism, self.username, self.password,
                                   ca_location=self.ca_location)


def secrets_text(logins: dict[str, ScramLogin]) -> str:
    return properties_text({f"{region}.sasl.jaas.config": login.jaas_config() for region, login in logins.items()})


def with_logins(flows: list[Flow], logins: dict[str, ScramLogin], secrets: Path) -> list[Flow]:
    """The flows with each secured region's login as a reference into `secrets`."""
    def region(r: Region) -> Region:
        return replace(r, login=logins[r.name].reference(r.name, secrets)) if r.name in logins else r
    return [replace(f, source=region(f.source), target=region(f.target)) for f in flows]


def flow_properties(flow: Flow, options: MirrorOptions) -> dict[str, str]:
    """A flow's settings, as its three connectors get them on a Connect cluster, prefixed `<source>-><target>.`:
    MirrorMaker gives each connector of the flow those keys (its own and the others', which it ignores)."""
    merged: dict[str, str] = {}
    for settings in mirror_settings(flow, options).values():
        for key, value in settings.items():
            assert merged.setdefault(key, value) == value, f"two connectors of a flow disagree on {key}"
    return {f"{flow.name}.{key}": value for key, value in merged.items()}


def mm2_properties(flows: list[Flow], rest_port: int, exactly_once: bool = True, replication_factor: int = 1,
                   timings: Timings = Timings(), throughput: Throughput | None = None) -> dict[str, str]:
    """The mm2.properties of a dedicated MirrorMaker for `flows`: each flow's settings from the contract, and
    what only a dedicated process needs (its clusters, workers and internal REST server)."""
    regions = {r.name: r for f in flows for r in (f.source, f.target)}
    wanted = {f.name for f in flows}
    options = MirrorOptions(exactly_once, replication_factor, timings.intervals, throughput or Throughput())
    props: dict[str, object] = {
        "clusters": ", ".join(regions),
        # Also the default of every pair the flows leave off (their heartbeats), and what the workers' MirrorClient
        # reads: the same identity names as each flow's connectors.
        "replication.policy.class": IDENTITY_POLICY,
        **timings.worker_settings(),
        # KIP-710: the workers' internal REST server (follower -> leader task configs); KIP-618 needs it.
        "dedicated.mode.enable.internal.rest": "true",
        "listeners": f"http://127.0.0.1:{rest_port}",
        # The workers' own topics (Connect's configs/offsets/status): as many replicas as the region has brokers
        # (1 on a one-node local cluster).
        **{f"{topic}.replication.factor": replication_factor for topic in (
            "config.storage", "offset.storage", "status.storage")},
    }
    for region in regions.values():
        props[f"{region.name}.bootstrap.servers"] = region.bootstrap_servers
        if region.login is not None:  # its clients, and the workers' own when it is a target
            props |= {f"{region.name}.{key}": value for key, value in region.login.client_settings().items()}
    if any(r.login is not None for r in regions.values()):
        # The logins are references (${file:...}): MirrorMaker resolves them for its workers and hands them on
        # unresolved in the connectors' configs, which the workers resolve when a task starts.
        props |= {"config.providers": "file", "config.providers.file.class": FILE_PROVIDER}
    for source in regions:
        for target in regions:
            pair = f"{source}->{target}"
            if source != target and pair not in wanted:  # every other pair off, heartbeats included (MirrorMaker
                props[f"{pair}.enabled"] = "false"        # runs a pair's heartbeats even when it is disabled)
                props[f"{pair}.emit.heartbeats.enabled"] = "false"
            elif source != target:
                props[f"{pair}.enabled"] = "true"
    for flow in flows:
        props |= flow_properties(flow, options)
        if exactly_once:
            # KIP-618 on the target's workers: each batch and its source offsets in one transaction.
            props[f"{flow.target.name}.exactly.once.source.support"] = "enabled"
            # A killed worker's open transaction holds back read_committed readers of its topics (the worker's
            # own offsets/configs included) until it times out: 60 s by default, 10 s here.
            props[f"{flow.target.name}.producer.transaction.timeout.ms"] = timings.transaction_timeout_ms
            props[f"{flow.target.name}.transaction.timeout.ms"] = timings.transaction_timeout_ms
    return {k: str(v) for k, v in props.items()}


def properties_text(props: dict[str, str]) -> str:
    """java.util.Properties syntax: a backslash is an escape there, so the regexes' `\\.` is written `\\\\.`."""
    return "".join(f"{k}={v.replace(chr(92), chr(92) * 2)}\n" for k, v in props.items())


def mirror_classpath(lib: Path | None) -> str:
    """The classpath of MirrorMaker's and Connect's jars (K2_MIRROR_LIB), or an error saying how to get them."""
    if lib is None:
        raise PlatformError("K2_MIRROR_LIB is not set, so the MirrorMaker jars cannot be found: "
                            "run scripts/bootstrap first, then `. scripts/env.sh`")
    if not lib.is_dir():
        raise PlatformError(f"MirrorMaker jars not found at {lib!s}: run scripts/bootstrap first")
    return f"{lib}/*"


def java_command(log4j2: Path, lib: Path | None) -> list[str]:
    """java and its options for a Connect process (MirrorMaker, a Connect worker), before the main class."""
    return [find_java(17), "-Xms64m", "-Xmx384m", "-XX:+UseG1GC", f"-Dlog4j2.configurationFile={log4j2}",
            "-cp", mirror_classpath(lib)]


def kill_process(process: ProcessRecord | None, what: str, timeout: float) -> None:
    """SIGKILL, as a crash would, and wait until the process is gone (its connections closed)."""
    if process is None or not process.signal(signal.SIGKILL):
        raise PlatformError(f"{what} is not running")
    deadline = time.monotonic() + timeout
    while not process.gone():
        if time.monotonic() > deadline:
            raise PlatformError(f"{what} (pid {process.pid}) still there {timeout:.0f}s after SIGKILL")
        time.sleep(0.05)


@dataclass
class MirrorMaker:
    """One dedicated MirrorMaker 2 process for `flows`, logging under `base_dir`. It runs the Connect workers of
    the target regions only (`--clusters`): consume remotely, produce locally, as Kafka's docs advise."""

    base_dir: Path
    flows: list[Flow]
    exactly_once: bool = True
    replication_factor: int = 1
    timings: Timings = field(default_factory=Timings)
    throughput: Throughput = field(default_factory=Throughput)
    lib: Path | None = field(default_factory=lambda: env_path("K2_MIRROR_LIB"))
    logins: dict[str, ScramLogin] = field(default_factory=dict)  # region -> its login, for a secured region
    process: ProcessRecord | None = None
    started_at_ms: int = 0

    @property
    def log(self) -> Path:
        return self.base_dir / "mirrormaker.log"

    @property
    def targets(self) -> list[str]:
        return sorted({f.target.name for f in self.flows})

    def _write_config(self) -> Path:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        secrets = (self.base_dir / SECRETS_FILE).resolve()
        if self.logins:
            write_private(secrets, secrets_text(self.logins))
        props = mm2_properties(with_logins(self.flows, self.logins, secrets), free_ports(1)[0], self.exactly_once,
                               self.replication_factor, self.timings, self.throughput)
        config = self.base_dir / "mm2.properties"
        write_private(config, properties_text(props))  # owner-only: it names where the logins are
        (self.base_dir / "log4j2.properties").write_text(LOG4J2)
        return config

    def start(self, timeout: float = 180) -> None:
        if self.process is not None and self.process.running():
            raise PlatformError(f"MirrorMaker already runs (pid {self.process.pid})")
        config = self._write_config()
        args = [*java_command(self.base_dir / "log4j2.properties", self.lib), MAIN_CLASS, str(config),
                "--clusters", *self.targets]
        self.started_at_ms = int(time.time() * 1000)
        self.process = ProcessRecord.of_child(start_process(args, self.log), args)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        """Until every flow's source task reports RUNNING in its worker's status topic, written by this process."""
        assert self.process is not None
        wait_until(self.ready, timeout, f"MirrorMaker ({', '.join(f.name for f in self.flows)})",
                   [self.process.pid], self.log)

    def ready(self) -> bool:
        return all(self.running_tasks(flow) for flow in self.flows)

    def running_tasks(self, flow: Flow) -> set[str]:
        """The flow's source tasks whose latest status since this start is RUNNING. Connect's status topic is
        `mm2-status.<source>.internal` in the target region (one worker group per flow in dedicated mode)."""
        login = self.logins.get(flow.target.name)
        client: dict[str, object] = login.client_settings(flow.target.bootstrap_servers) if login else {
            "bootstrap.servers": flow.target.bootstrap_servers}
        states = read_status(client, dedicated_worker(flow.source.name).status_topic, self.started_at_ms)
        return {key for key, state in states.items()
                if key.startswith(f"status-task-{SOURCE_CONNECTOR}-") and state == "RUNNING"}

    def stop(self) -> None:
        if self.process is not None:
            stop_processes([self.process])
            self.process = None

    def kill(self, timeout: float = 30) -> None:
        """SIGKILL, as a crash would, and wait until the process is gone (its connections closed)."""
        kill_process(self.process, "MirrorMaker", timeout)
        self.process = None


def read_status(client: dict[str, object], topic: str, since_ms: int) -> dict[str, str]:
    """Key -> latest `state` of the records in a Connect status topic written at or after `since_ms` (records of
    an earlier, killed process say nothing about this one). Empty while the topic does not exist yet."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({**client, "group.id": "k2-mirror-status", "enable.auto.commit": False, "log_level": 0})
    try:
        metadata = consumer.list_topics(topic, timeout=5).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return {}
        partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=5)[1] for p in partitions}
        consumer.assign([p for p in partitions if ends[p.partition] > 0])
        states: dict[str, str] = {}
        left = {p for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + 10
        while left and time.monotonic() < deadline:
            record = consumer.poll(0.5)
            if record is None or record.error():
                continue
            partition, offset, key, value = record.partition(), record.offset(), record.key(), record.value()
            if partition is not None and offset is not None and offset + 1 >= ends[partition]:
                left.discard(partition)
            if record.timestamp()[1] >= since_ms and key and value:  # a deleted key's tombstone has no value
                states[key.decode()] = json.loads(value).get("state", "")
        return states
    except Exception:  # a region still starting, or the topic being created: not ready yet
        return {}
    finally:
        consumer.close()
