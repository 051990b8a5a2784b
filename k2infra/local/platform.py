"""The local K2 platform: Kafka (1 or 3 nodes) and a schema registry, started and stopped as one.

Its state (ports, and each process's pid, start time and command line) is kept in <dir>/platform.json so
`k2 local down` and `status` find a platform started earlier, and `k2 local up` on a running, healthy platform
changes nothing. A process counts only while pid, start time and command line all still match, so a pid reused
by another program is never signalled.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2infra.local.kafka import KafkaCluster
from k2infra.local.processes import PlatformError, ProcessRecord, free_ports, port_open, stop_processes
from k2infra.local.registry import SchemaRegistry


@dataclass
class PlatformState:
    nodes: int
    broker_ports: list[int]
    controller_ports: list[int]
    registry_port: int
    kafka: list[ProcessRecord] = field(default_factory=list)
    registry: list[ProcessRecord] = field(default_factory=list)

    @property
    def kafka_pids(self) -> list[int]:
        return [p.pid for p in self.kafka]

    @property
    def registry_pids(self) -> list[int]:
        return [p.pid for p in self.registry]

    @property
    def processes(self) -> list[ProcessRecord]:
        return [*self.kafka, *self.registry]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.broker_ports)

    @property
    def schema_registry_url(self) -> str:
        return f"http://127.0.0.1:{self.registry_port}/apis/ccompat/v7"

    def complete(self) -> bool:
        """One process per Kafka node and one registry: a state without them describes nothing running."""
        return len(self.kafka) == self.nodes == len(self.broker_ports) and len(self.registry) == 1

    def to_json(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "broker_ports": self.broker_ports, "controller_ports": self.controller_ports,
                "registry_port": self.registry_port, "kafka": [p.to_json() for p in self.kafka],
                "registry": [p.to_json() for p in self.registry]}

    @classmethod
    def from_json(cls, data: Any) -> PlatformState:
        """Raises ValueError unless `data` is what to_json wrote."""
        keys = {"nodes", "broker_ports", "controller_ports", "registry_port", "kafka", "registry"}
        if not isinstance(data, dict) or set(data) != keys:
            raise ValueError(f"not a platform state: {data!r}")
        ints = [data["nodes"], data["registry_port"], *_list(data["broker_ports"]), *_list(data["controller_ports"])]
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ints):
            raise ValueError(f"not a platform state: {data!r}")
        return cls(data["nodes"], data["broker_ports"], data["controller_ports"], data["registry_port"],
                   [ProcessRecord.from_json(p) for p in _list(data["kafka"])],
                   [ProcessRecord.from_json(p) for p in _list(data["registry"])])


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"not a list: {value!r}")
    return value


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader (or a crash) never sees half a file."""
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


class LocalPlatform:
    def __init__(self, base_dir: Path, echo=print):
        self.base_dir = Path(base_dir)
        self.state_file = self.base_dir / "platform.json"
        self.echo = echo

    def state(self) -> PlatformState | None:
        try:
            return PlatformState.from_json(json.loads(self.state_file.read_text()))
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        """Whether every process of the recorded platform still runs: the very processes `up` started."""
        state = self.state()
        return state is not None and state.complete() and all(p.running() for p in state.processes)

    def up(self, nodes: int = 1, kafka_port: int | None = 9092, registry_port: int | None = 8081,
           timeout: float = 180) -> PlatformState:
        if nodes not in (1, 3):
            raise PlatformError("nodes must be 1 or 3")
        current = self.state()
        if current and self.running():
            if current.nodes != nodes:
                raise PlatformError(f"a {current.nodes}-node platform is running in {self.base_dir}; "
                                    "run `k2 local down` first to change its size")
            self.echo(f"local platform already running: Kafka {current.bootstrap_servers}, "
                      f"registry {current.schema_registry_url}")
            return current
        if self.state_file.exists():
            # Stale (processes gone or replaced) or half dead: stop what is still ours, then start clean.
            self.echo(f"==> {self.state_file} records a platform that is not running (processes gone or "
                      "replaced): starting fresh")
            self._stop_recorded(current, quiet=True)
        brokers, controllers, registry = self._ports(nodes, kafka_port, registry_port)
        kafka = KafkaCluster.with_ports(self.base_dir / "kafka", brokers, controllers)
        reg = SchemaRegistry(self.base_dir / "registry", registry)
        started = time.monotonic()
        try:
            self.echo(f"==> starting Kafka {nodes} node(s) (KRaft) on {kafka.bootstrap_servers}")
            kafka.start(timeout)
            self.echo(f"    Kafka ready in {time.monotonic() - started:.1f}s")
            t = time.monotonic()
            self.echo(f"==> starting schema registry (Apicurio, Confluent API, data in {reg.data_dir}) on {reg.url}")
            reg.start(timeout)
            self.echo(f"    registry ready in {time.monotonic() - t:.1f}s")
        except BaseException:
            reg.stop()
            kafka.stop()
            raise
        state = PlatformState(nodes, brokers, controllers, registry, list(kafka.processes), list(reg.processes))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.state_file, state.to_json())
        return state

    def _ports(self, nodes: int, kafka_port: int | None, registry_port: int | None) -> tuple[list[int], list[int], int]:
        given: list[tuple[str, int]] = []
        if kafka_port:
            given += [(f"broker {i + 1}", kafka_port + i) for i in range(nodes)]
            given += [(f"controller {i + 1} (Kafka port + 100)", kafka_port + 100 + i) for i in range(nodes)]
        if registry_port:
            given.append(("the registry", registry_port))
        bad = [f"{role}: {port}" for role, port in given if not 0 < port < 65536]
        if bad:
            raise PlatformError(f"ports out of range ({', '.join(bad)}); choose ports from 1 to 65535")
        roles: dict[int, str] = {}
        for role, port in given:
            if port in roles:
                raise PlatformError(f"port {port} would serve both {roles[port]} and {role}; choose a Kafka port "
                                    "and a registry port whose ranges do not overlap")
            roles[port] = role
        picked = iter(free_ports(2 * nodes + 1, avoid=roles))
        if kafka_port:
            brokers = [kafka_port + i for i in range(nodes)]
            controllers = [kafka_port + 100 + i for i in range(nodes)]
        else:
            brokers = [next(picked) for _ in range(nodes)]
            controllers = [next(picked) for _ in range(nodes)]
        registry = registry_port or next(picked)
        busy = [p for p in [*brokers, *controllers, registry] if port_open(p)]
        if busy:
            raise PlatformError(f"ports already in use: {busy}. Stop what uses them, or choose other ports")
        return brokers, controllers, registry

    def down(self, quiet: bool = False, wipe: bool = False) -> None:
        """Stop the platform's processes (only those still the ones `up` started); with `wipe`, also delete
        the directory."""
        self._stop_recorded(self.state(), quiet)
        if wipe and self.base_dir.exists():
            shutil.rmtree(self.base_dir)

    def _unverifiable_pids(self) -> list[int]:
        """The bare pids an older k2's platform.json named (kafka_pids, registry_pids), for the user to check."""
        try:
            data = json.loads(self.state_file.read_text())
            return [p for key in ("kafka_pids", "registry_pids") for p in data.get(key, [])
                    if isinstance(p, int) and not isinstance(p, bool)]
        except (OSError, ValueError, AttributeError, TypeError):
            return []

    def _stop_recorded(self, state: PlatformState | None, quiet: bool) -> None:
        if state is None:
            if self.state_file.exists():
                # Said even when quiet: the file goes, and with it the only note of what may still run.
                pids = self._unverifiable_pids()
                self.echo(f"{self.state_file} is unreadable (written by an older k2?): no process signalled"
                          + (f"; it names pid(s) {pids}, which cannot be checked (no start time or command "
                             "line): if they are still Kafka or the registry, stop them with `kill PID`" if pids
                             else ""))
                self.state_file.unlink()
            elif not quiet:
                self.echo("no local platform running")
            return
        started = time.monotonic()
        if not quiet:
            self.echo(f"==> stopping local platform (Kafka {state.bootstrap_servers})")
        for what, procs in (("registry", state.registry), ("Kafka", state.kafka)):
            foreign = [p.pid for p in procs if not p.running()]
            if foreign and not quiet:
                self.echo(f"    {what} pid(s) {foreign}: gone or now another program's, left alone")
        stop_processes(state.registry, grace_seconds=15)
        stop_processes(state.kafka, grace_seconds=30)
        self.state_file.unlink(missing_ok=True)
        if not quiet:
            self.echo(f"    stopped in {time.monotonic() - started:.1f}s")
