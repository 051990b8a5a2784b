"""Apache Kafka in KRaft mode on 127.0.0.1, from the Maven Central jars the bootstrap collected."""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2infra.contracts.failover import BROKER_SETTINGS
from k2infra.local.processes import (
    PlatformError,
    ProcessRecord,
    env_path,
    find_java,
    log4j2_config,
    start_process,
    stop_processes,
    wait_until,
)
from k2infra.local.security import SecureSettings, broker_properties, client_config, scram_argument, write_private

LOG4J2 = log4j2_config({"kafka.server.KafkaRaftServer": "server"})


def new_cluster_id() -> str:
    """A KRaft cluster id as `kafka-storage random-uuid` makes one: a random UUID, URL-safe base64, no padding,
    never starting with '-' (Kafka's Uuid.randomUuid rule: such ids would read as command-line options)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _quoted(argument: str) -> str:
    """An argument as a java argument file writes it inside double quotes."""
    return argument.replace("\\", "\\\\").replace('"', '\\"')


def read_cluster_id(node_data: Path) -> str | None:
    """The cluster id a formatted node's data directory belongs to (its meta.properties), else None."""
    try:
        text = (node_data / "meta.properties").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None


@dataclass
class KafkaNode:
    node_id: int
    broker_port: int
    controller_port: int
    sasl_port: int | None = None  # a SASL_PLAINTEXT (PLAIN) listener, to exercise credentials end to end


@dataclass
class KafkaCluster:
    """One node (broker and controller) by default; three on loopback for replication tests."""

    base_dir: Path
    nodes: list[KafkaNode]
    lib: Path | None = field(default_factory=lambda: env_path("K2_KAFKA_LIB"))
    processes: list[ProcessRecord] = field(default_factory=list)
    sasl_users: dict[str, str] = field(default_factory=dict)  # username -> password, for the SASL listener
    # Secure mode: the broker ports serve SASL_SSL (SCRAM-SHA-512) only, with an authorizer (k2infra.local.security).
    secure: SecureSettings | None = None
    # How fast a dead broker is fenced: K2's settings; bench/durability.py compares them with Kafka's defaults.
    failure_detection: dict[str, int] = field(default_factory=lambda: dict(BROKER_SETTINGS))

    @classmethod
    def with_ports(cls, base_dir: Path, broker_ports: list[int], controller_ports: list[int],
                   sasl_ports: list[int] | None = None, sasl_users: dict[str, str] | None = None,
                   secure: SecureSettings | None = None,
                   failure_detection: Mapping[str, int] = BROKER_SETTINGS) -> KafkaCluster:
        if secure and (sasl_ports or sasl_users):
            raise ValueError("a secure cluster has no extra SASL_PLAINTEXT listener: its broker ports are SASL_SSL")
        sasl: list[int | None] = list(sasl_ports) if sasl_ports else [None] * len(broker_ports)
        nodes = [KafkaNode(i + 1, b, c, s)
                 for i, (b, c, s) in enumerate(zip(broker_ports, controller_ports, sasl, strict=True))]
        return cls(base_dir=base_dir, nodes=nodes, sasl_users=dict(sasl_users or {}), secure=secure,
                   failure_detection=dict(failure_detection))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.broker_port}" for n in self.nodes)

    @property
    def sasl_bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.sasl_port}" for n in self.nodes if n.sasl_port)

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings for the broker ports: the platform admin's, on a secure cluster."""
        if self.secure:
            return client_config(self.bootstrap_servers, self.secure.files, self.secure.credentials)
        return {"bootstrap.servers": self.bootstrap_servers}

    def _classpath(self) -> str:
        if self.lib is None:
            raise PlatformError("K2_KAFKA_LIB is not set, so the Kafka jars cannot be found: "
                                "run scripts/bootstrap first, then `. scripts/env.sh`")
        if not self.lib.is_dir():
            raise PlatformError(f"Kafka jars not found at {self.lib!s}: run scripts/bootstrap first")
        return f"{self.lib}/*"

    def _properties(self, node: KafkaNode) -> str:
        replicas = len(self.nodes)
        min_isr = 2 if replicas >= 3 else 1
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        lines = {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL:SASL_PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.quorum.voters": voters,
            "log.dirs": self.base_dir / f"node-{node.node_id}" / "data",
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "default.replication.factor": replicas,
            "min.insync.replicas": 1,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "false",
            "num.partitions": 1,
            # A laptop cluster: keep heap and segment preallocation small.
            "log.segment.bytes": 16 * 1024 * 1024,
            "log.index.size.max.bytes": 1024 * 1024,
            # With replicas to fail over to, a dead broker is fenced within 2 s, not 9 (k2infra.contracts.failover).
            # A single node has none: there a short session only risks fencing the one broker when it is busy.
            **(self.failure_detection if replicas > 1 else {}),
        }
        if self.secure:
            listeners = f"SASL_SSL://127.0.0.1:{node.broker_port},CONTROLLER://127.0.0.1:{node.controller_port}"
            lines.update({
                "listeners": listeners,
                "advertised.listeners": f"SASL_SSL://127.0.0.1:{node.broker_port}",
                "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL",
                "inter.broker.listener.name": "SASL_SSL",
                **broker_properties(self.secure.files, self.secure.credentials, "SASL_SSL", "CONTROLLER"),
            })
        elif node.sasl_port and self.sasl_users:
            lines["listeners"] = f"{lines['listeners']},SASL://127.0.0.1:{node.sasl_port}"
            lines["advertised.listeners"] = f"{lines['advertised.listeners']},SASL://127.0.0.1:{node.sasl_port}"
            lines["sasl.enabled.mechanisms"] = "PLAIN"
            users = " ".join(f'user_{u}="{p}"' for u, p in self.sasl_users.items())
            lines["listener.name.sasl.plain.sasl.jaas.config"] = (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};")
        return "".join(f"{k}={v}\n" for k, v in lines.items())

    def _java_args(self, java: str, node_dir: Path) -> list[str]:
        log_config = node_dir / "log4j2.properties"
        return [java, "-Xms128m", "-Xmx512m", "-XX:+UseG1GC", f"-Dlog4j2.configurationFile={log_config}",
                "-cp", self._classpath()]

    def node_data(self, node: KafkaNode) -> Path:
        return self.base_dir / f"node-{node.node_id}" / "data"

    def cluster_ids(self) -> dict[int, str]:
        """Node id -> the cluster id its storage was formatted with, for the nodes already formatted."""
        found = {n.node_id: read_cluster_id(self.node_data(n)) for n in self.nodes}
        return {node_id: cid for node_id, cid in found.items() if cid}

    def format(self, cluster_id: str | None = None) -> str:
        """Write each node's config and format the storage of the nodes not formatted yet, all with one
        cluster id: `cluster_id`, else the one the formatted nodes share, else a new one. Formatted nodes are
        kept; nodes of another cluster are refused before anything is formatted. Returns the cluster id."""
        existing = self.cluster_ids()
        wanted = cluster_id or next(iter(existing.values()), None) or new_cluster_id()
        strangers = {node_id: cid for node_id, cid in existing.items() if cid != wanted}
        if strangers:
            listed = ", ".join(f"node-{n} belongs to cluster {cid}" for n, cid in sorted(strangers.items()))
            raise PlatformError(f"Kafka storage in {self.base_dir} is not all cluster {wanted}: {listed}. "
                                "Nodes of two clusters cannot form one; wipe the platform to start over")
        java = find_java(17)
        for node in self.nodes:
            node_dir = self.base_dir / f"node-{node.node_id}"
            props = node_dir / "server.properties"
            node_dir.mkdir(parents=True, exist_ok=True)
            # Owner-only from its creation on: it holds the admin's password (secure) or the SASL users' (not).
            write_private(props, self._properties(node))
            (node_dir / "log4j2.properties").write_text(LOG4J2)
            if node.node_id not in existing:
                args = ["format", "-t", wanted, "-c", str(props)]
                if self.secure:  # the admin's SCRAM credential, in the metadata before any broker needs it
                    args += ["--add-scram", scram_argument(self.secure.credentials)]
                self._run_tool(java, node_dir, args)
        return wanted

    def _run_tool(self, java: str, node_dir: Path, args: list[str]) -> str:
        """Kafka's storage tool. Its arguments go through a 0600 argument file that the java launcher expands
        (`java @file`), so a password among them never shows on a command line that `ps` lists."""
        argfile = node_dir / "storage-tool.args"
        write_private(argfile, "".join(f'"{_quoted(a)}"\n' for a in ["kafka.tools.StorageTool", *args]))
        try:
            cmd = [*self._java_args(java, node_dir), f"@{argfile}"]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        finally:
            argfile.unlink(missing_ok=True)
        if done.returncode != 0:
            stderr = done.stderr[-2000:]
            if self.secure:
                stderr = stderr.replace(self.secure.credentials.password, "***")
            raise PlatformError(f"kafka storage tool {args[0]} failed:\n{stderr}")
        return done.stdout

    def start(self, timeout: float = 120, cluster_id: str | None = None) -> None:
        self.format(cluster_id)
        java = find_java(17)
        for node in self.nodes:
            node_dir = self.base_dir / f"node-{node.node_id}"
            args = [*self._java_args(java, node_dir), "kafka.Kafka", str(node_dir / "server.properties")]
            self.processes.append(ProcessRecord.of_child(start_process(args, node_dir / "kafka.log"), args))
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        wait_until(self.ready, timeout, f"Kafka ({self.bootstrap_servers})", self.pids,
                   self.base_dir / "node-1" / "kafka.log")

    def ready(self) -> bool:
        """Every broker registered and answering metadata requests."""
        from confluent_kafka.admin import AdminClient

        try:
            # log_level 0: a probe of a broker that is still starting should not flood the terminal.
            admin = AdminClient({**self.client_config(), "socket.timeout.ms": 2000, "log_level": 0})
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return False
        return len(metadata.brokers) == len(self.nodes)

    def stop(self) -> None:
        stop_processes(self.processes)
        self.processes.clear()
