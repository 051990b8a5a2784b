"""Apicurio Registry (Confluent-compatible API at /apis/ccompat/v7) on 127.0.0.1, in-memory storage."""

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

    def start(self, timeout: float = 120) -> None:
        if self.home is None:
            raise PlatformError("K2_REGISTRY_DIR is not set, so Apicurio Registry cannot be found: "
                                "run scripts/bootstrap first, then `. scripts/env.sh`")
        jar = self.home / "quarkus-run.jar"
        if not jar.exists():
            raise PlatformError(f"Apicurio Registry not found at {self.home}: run scripts/bootstrap first")
        java = find_java(21)  # Apicurio 3.x is built for Java 21
        self.base_dir.mkdir(parents=True, exist_ok=True)
        args = [
            java, "-Xms64m", "-Xmx384m",
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={self.port}",
            # Its management interface is built in and would take port 9000 on every instance.
            "-Dquarkus.management.host=127.0.0.1",
            f"-Dquarkus.management.port={free_ports(1, avoid=[self.port])[0]}",
            "-Dquarkus.log.level=WARN",
            "-Dquarkus.banner.enabled=false",
            "-jar", str(jar),
        ]
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
