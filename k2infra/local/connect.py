"""A real Kafka Connect distributed worker (`ConnectDistributed`, from the MirrorMaker jars in K2_MIRROR_LIB):
what prod's existing Connect cluster is to K2, on one region's cluster (the target of the flows whose connectors
run on it). K2 declares the MirrorMaker connectors on it through its REST API (k2infra.providers.mirror_connector);
tests/e2e/test_connect_mirror.py runs them so."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from k2infra.local.mirror import LOG4J2, Timings, java_command, kill_process, properties_text
from k2infra.local.processes import (
    PlatformError,
    ProcessRecord,
    env_path,
    free_ports,
    start_process,
    stop_processes,
    wait_until,
)
from k2infra.local.security import write_private

MAIN_CLASS = "org.apache.kafka.connect.cli.ConnectDistributed"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
FILE_CONFIG_PROVIDER = "org.apache.kafka.common.config.provider.FileConfigProvider"
# The worker logs when it joins its group and starts connectors and tasks: what a failed start is read from.
CONNECT_LOG4J2 = LOG4J2 + """\
logger.herder.name = org.apache.kafka.connect.runtime.distributed.DistributedHerder
logger.herder.level = INFO
logger.worker.name = org.apache.kafka.connect.runtime.Worker
logger.worker.level = INFO
"""


def worker_properties(bootstrap_servers: str, rest_port: int, group_id: str, replication_factor: int = 1,
                      timings: Timings | None = None) -> dict[str, str]:
    """A distributed worker's config: the settings prod's Connect cluster needs for K2's connectors
    (exactly-once source support, a file config provider for the regions' logins), and local sizes."""
    timings = timings or Timings()
    props = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "listeners": f"http://127.0.0.1:{rest_port}",
        "rest.advertised.host.name": "127.0.0.1",
        "rest.advertised.port": str(rest_port),
        # KIP-618: what `exactly.once.support=required` on K2's source connectors asks of every worker.
        "exactly.once.source.support": "enabled",
        # Connect's usual defaults; K2's connectors set ByteArrayConverter themselves, which this checks.
        "key.converter": JSON_CONVERTER,
        "value.converter": JSON_CONVERTER,
        # A region's login is referenced as ${file:<path>:<key>} in a connector config, resolved here.
        "config.providers": "file",
        "config.providers.file.class": FILE_CONFIG_PROVIDER,
        **{f"{store}.storage.topic": f"{group_id}-{topic}" for store, topic in (
            ("config", "configs"), ("offset", "offsets"), ("status", "status"))},
        **{f"{store}.storage.replication.factor": str(replication_factor) for store in ("config", "offset", "status")},
        "offset.storage.partitions": "5",   # Kafka's 25 and 5 are for a fleet of connectors
        "status.storage.partitions": "1",
        "plugin.discovery": "service_load",  # every jar has its manifest: no scan of the classpath at start
        **timings.worker_settings(),
        # A killed task's open transaction holds back read_committed readers until it times out (60 s by default).
        "producer.transaction.timeout.ms": str(timings.transaction_timeout_ms),
    }
    return props


@dataclass
class ConnectWorker:
    """One Connect worker for the region whose cluster is at `bootstrap_servers`, its REST API on a free port of
    127.0.0.1, logging under `base_dir`."""

    base_dir: Path
    bootstrap_servers: str
    group_id: str = "k2-connect"
    replication_factor: int = 1
    timings: Timings = field(default_factory=Timings)
    lib: Path | None = field(default_factory=lambda: env_path("K2_MIRROR_LIB"))
    port: int = 0
    process: ProcessRecord | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.base_dir / "connect.log"

    def _write_config(self) -> Path:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_ports(1)[0]
        config = self.base_dir / "connect-distributed.properties"
        write_private(config, properties_text(worker_properties(self.bootstrap_servers, self.port, self.group_id,
                                                                self.replication_factor, self.timings)))
        (self.base_dir / "log4j2.properties").write_text(CONNECT_LOG4J2)
        return config

    def start(self, timeout: float = 180) -> None:
        """Start the worker; returns once its REST API answers and it has joined its group. A restart keeps the
        port (the connectors' URL)."""
        if self.process is not None and self.process.running():
            raise PlatformError(f"the Connect worker already runs (pid {self.process.pid})")
        config = self._write_config()
        args = [*java_command(self.base_dir / "log4j2.properties", self.lib), MAIN_CLASS, str(config)]
        self.process = ProcessRecord.of_child(start_process(args, self.log), args)
        wait_until(self.ready, timeout, f"the Kafka Connect worker at {self.url}", [self.process.pid], self.log)

    def ready(self) -> bool:
        """GET / answers (the REST server is up) and GET /health says healthy (KIP-1017: the worker has joined
        its group and read its config topic), so connector requests are served."""
        import httpx

        try:
            with httpx.Client(timeout=5) as http:
                if http.get(self.url + "/").status_code != 200:
                    return False
                health = http.get(self.url + "/health")
                return health.status_code == 200 and health.json().get("status") == "healthy"
        except (httpx.HTTPError, ValueError):
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_processes([self.process])
            self.process = None

    def kill(self, timeout: float = 30) -> None:
        kill_process(self.process, "the Connect worker", timeout)
        self.process = None

