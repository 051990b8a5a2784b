"""The local K2 platform: Kafka (1 or 3 nodes) and a schema registry, started and stopped as one.

Its state (ports, pids) is kept in <dir>/platform.json so `k2 local down` and `status` find a
platform started earlier, and `k2 local up` on a running, healthy platform changes nothing.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from k2infra.local.kafka import KafkaCluster
from k2infra.local.processes import PlatformError, alive, free_ports, port_open, stop_processes
from k2infra.local.registry import SchemaRegistry


@dataclass
class PlatformState:
    nodes: int
    broker_ports: list[int]
    controller_ports: list[int]
    registry_port: int
    kafka_pids: list[int]
    registry_pids: list[int]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.broker_ports)

    @property
    def schema_registry_url(self) -> str:
        return f"http://127.0.0.1:{self.registry_port}/apis/ccompat/v7"


class LocalPlatform:
    def __init__(self, base_dir: Path, echo=print):
        self.base_dir = Path(base_dir)
        self.state_file = self.base_dir / "platform.json"
        self.echo = echo

    def state(self) -> PlatformState | None:
        try:
            return PlatformState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def running(self) -> bool:
        state = self.state()
        return bool(state) and all(alive(p) for p in state.kafka_pids + state.registry_pids)  # type: ignore[union-attr]

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
        if current:
            self.down(quiet=True)  # a half-dead platform: stop what is left, then start clean
        brokers, controllers, registry = self._ports(nodes, kafka_port, registry_port)
        kafka = KafkaCluster.with_ports(self.base_dir / "kafka", brokers, controllers)
        reg = SchemaRegistry(self.base_dir / "registry", registry)
        started = time.monotonic()
        try:
            self.echo(f"==> starting Kafka {nodes} node(s) (KRaft) on {kafka.bootstrap_servers}")
            kafka.start(timeout)
            self.echo(f"    Kafka ready in {time.monotonic() - started:.1f}s")
            t = time.monotonic()
            self.echo(f"==> starting schema registry (Apicurio, Confluent API) on {reg.url}")
            reg.start(timeout)
            self.echo(f"    registry ready in {time.monotonic() - t:.1f}s")
        except BaseException:
            kafka.stop()
            reg.stop()
            raise
        state = PlatformState(nodes, brokers, controllers, registry, kafka.pids, reg.pids)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(asdict(state), indent=2))
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
        state = self.state()
        if state:
            if not quiet:
                self.echo(f"==> stopping local platform (Kafka {state.bootstrap_servers})")
            stop_processes(state.registry_pids, grace_seconds=15)
            stop_processes(state.kafka_pids, grace_seconds=30)
            self.state_file.unlink(missing_ok=True)
        elif not quiet:
            self.echo("no local platform running")
        if wipe and self.base_dir.exists():
            shutil.rmtree(self.base_dir)
