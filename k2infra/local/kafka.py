"""Apache Kafka in KRaft mode on 127.0.0.1, from the Maven Central jars the bootstrap collected."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from k2infra.local.processes import (
    PlatformError,
    ProcessRecord,
    env_path,
    find_java,
    start_process,
    stop_processes,
    wait_until,
)

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
"""


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

    @classmethod
    def with_ports(cls, base_dir: Path, broker_ports: list[int], controller_ports: list[int],
                   sasl_ports: list[int] | None = None, sasl_users: dict[str, str] | None = None) -> KafkaCluster:
        sasl: list[int | None] = list(sasl_ports) if sasl_ports else [None] * len(broker_ports)
        nodes = [KafkaNode(i + 1, b, c, s)
                 for i, (b, c, s) in enumerate(zip(broker_ports, controller_ports, sasl, strict=True))]
        return cls(base_dir=base_dir, nodes=nodes, sasl_users=dict(sasl_users or {}))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.broker_port}" for n in self.nodes)

    @property
    def sasl_bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.sasl_port}" for n in self.nodes if n.sasl_port)

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
        }
        if node.sasl_port and self.sasl_users:
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

    def format(self) -> None:
        """Write each node's config and format its storage (once; an existing cluster is kept)."""
        java = find_java(17)
        cluster_id = None
        for node in self.nodes:
            node_dir = self.base_dir / f"node-{node.node_id}"
            props = node_dir / "server.properties"
            node_dir.mkdir(parents=True, exist_ok=True)
            props.write_text(self._properties(node))
            (node_dir / "log4j2.properties").write_text(LOG4J2)
            if (node_dir / "data" / "meta.properties").exists():
                continue
            if cluster_id is None:
                cluster_id = self._run_tool(java, node_dir, ["random-uuid"]).strip().splitlines()[-1]
            self._run_tool(java, node_dir, ["format", "-t", cluster_id, "-c", str(props)])

    def _run_tool(self, java: str, node_dir: Path, args: list[str]) -> str:
        cmd = [*self._java_args(java, node_dir), "kafka.tools.StorageTool", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise PlatformError(f"kafka storage tool {args[0]} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def start(self, timeout: float = 120) -> None:
        self.format()
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
            admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "socket.timeout.ms": 2000,
                                 "log_level": 0})
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return False
        return len(metadata.brokers) == len(self.nodes)

    def stop(self) -> None:
        stop_processes(self.processes)
        self.processes.clear()
