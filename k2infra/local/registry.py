"""Apicurio Registry (Confluent-compatible API at /apis/ccompat/v7) on 127.0.0.1, keeping its subjects, versions
and schema ids on disk (SQL storage on an embedded H2 database in file mode) so they survive a restart."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from k2infra.local.processes import (
    PlatformError,
    ProcessRecord,
    env_path,
    find_java,
    free_ports,
    start_process,
    stop_processes,
    wait_until,
)

CCOMPAT_PATH = "/apis/ccompat/v7"
# H2 names its files after the last part of the JDBC path: <data dir>/registry.mv.db.
DATABASE_NAME = "registry"


@dataclass
class SchemaRegistry:
    base_dir: Path
    port: int
    home: Path | None = field(default_factory=lambda: env_path("K2_REGISTRY_DIR"))
    processes: list[ProcessRecord] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    @property
    def data_dir(self) -> Path:
        """Where the registry's database lives: everything it knows (subjects, versions, ids, rules)."""
        return self.base_dir / "data"

    @property
    def database_url(self) -> str:
        """The JDBC URL of the registry's H2 database, in file mode (Apicurio's default is in memory,
        `jdbc:h2:mem:`). WRITE_DELAY=0 writes each commit to the file at once: with H2's default delay a registry
        killed right after a registration forgets the schema while Kafka keeps the messages that name its id."""
        path = (self.data_dir / DATABASE_NAME).resolve()  # absolute: Apicurio runs in its own directory
        if ";" in str(path):
            raise PlatformError(f"the platform directory {self.base_dir} contains ';', which a JDBC URL cannot "
                                "carry; choose another --dir")
        return f"jdbc:h2:file:{path};WRITE_DELAY=0"

    def args(self, java: str, jar: Path, management_port: int) -> list[str]:
        return [
            java, "-Xms64m", "-Xmx384m",
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={self.port}",
            # Its management interface is built in and would take port 9000 on every instance.
            "-Dquarkus.management.host=127.0.0.1",
            f"-Dquarkus.management.port={management_port}",
            "-Dquarkus.log.level=WARN",
            "-Dquarkus.banner.enabled=false",
            # Persistent storage: Apicurio 3's SQL storage (already its default kind) on H2 in a file.
            "-Dapicurio.storage.kind=sql",
            "-Dapicurio.storage.sql.kind=h2",
            f"-Dapicurio.datasource.url={self.database_url}",
            "-jar", str(jar),
        ]

    def start(self, timeout: float = 120) -> None:
        if self.home is None:
            raise PlatformError("K2_REGISTRY_DIR is not set, so Apicurio Registry cannot be found: "
                                "run scripts/bootstrap first, then `. scripts/env.sh`")
        jar = self.home / "quarkus-run.jar"
        if not jar.exists():
            raise PlatformError(f"Apicurio Registry not found at {self.home}: run scripts/bootstrap first")
        java = find_java(21)  # Apicurio 3.x is built for Java 21
        args = self.args(java, jar, free_ports(1, avoid=[self.port])[0])
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.processes.append(ProcessRecord.of_child(
            start_process(args, self.base_dir / "registry.log", cwd=self.home), args))
        wait_until(self.ready, timeout, f"Schema registry ({self.url})", self.pids, self.base_dir / "registry.log")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        stop_processes(self.processes, grace_seconds=15)
        self.processes.clear()
