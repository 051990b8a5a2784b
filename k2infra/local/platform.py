"""The local K2 platform: Kafka (1 or 3 nodes) and a schema registry, started and stopped as one.

A platform directory holds:

- `k2-platform.json`, the marker `up` writes first: this directory is a K2 platform, of this many Kafka nodes
  and this KRaft cluster id. It stays across `down`, so a later `up` cannot turn the directory into a cluster
  of another size, and `down --wipe` removes only directories that carry it;
- `kafka/node-N/` (configs, log, data) and `registry/` (log, and `data/`: the registry's H2 database), kept
  together across `down`/`up` and wiped together;
- `platform.json`, the running platform's ports and processes (pid, start time, command line), so
  `k2 local down` and `status` find it; a process counts only while pid, start time and command line all
  still match, so a pid reused by another program is never signalled.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2infra.local.kafka import KafkaCluster, new_cluster_id, read_cluster_id
from k2infra.local.processes import PlatformError, ProcessRecord, free_ports, port_open, stop_processes
from k2infra.local.registry import SchemaRegistry

MARKER = "k2-platform.json"
STATE = "platform.json"
MARKER_FORMAT = 1
# Everything `up` writes at the top of a platform directory (and the temporary files of its atomic writes).
ENTRIES = frozenset({MARKER, STATE, f"{MARKER}.tmp", f"{STATE}.tmp", "kafka", "registry"})
NODE_COUNTS = (1, 3)


@dataclass(frozen=True)
class PlatformIdentity:
    """What a platform directory is, for as long as it exists: its Kafka node count and cluster id."""

    nodes: int
    cluster_id: str

    def to_json(self) -> dict[str, Any]:
        return {"k2_local_platform": MARKER_FORMAT, "nodes": self.nodes, "cluster_id": self.cluster_id}

    @classmethod
    def from_json(cls, data: Any) -> PlatformIdentity:
        if (not isinstance(data, dict) or data.get("k2_local_platform") != MARKER_FORMAT
                or set(data) != {"k2_local_platform", "nodes", "cluster_id"}
                or data["nodes"] not in NODE_COUNTS or isinstance(data["nodes"], bool)
                or not isinstance(data["cluster_id"], str) or not data["cluster_id"]):
            raise ValueError(f"not a K2 platform marker (format {MARKER_FORMAT}): {data!r}")
        return cls(data["nodes"], data["cluster_id"])


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


class NotAPlatform(PlatformError):
    """The directory holds something that is not (only) a K2 platform."""


class LocalPlatform:
    def __init__(self, base_dir: Path, echo=print):
        self.base_dir = Path(base_dir)
        self.state_file = self.base_dir / STATE
        self.marker_file = self.base_dir / MARKER
        self.echo = echo

    # --- what is there -------------------------------------------------------------------------------

    def state(self) -> PlatformState | None:
        try:
            return PlatformState.from_json(json.loads(self.state_file.read_text()))
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        """Whether every process of the recorded platform still runs: the very processes `up` started."""
        state = self.state()
        return state is not None and state.complete() and all(p.running() for p in state.processes)

    def identity(self) -> PlatformIdentity | None:
        """What the directory is (its marker, or what an older k2 left without one); None for a new or empty
        directory. Raises NotAPlatform, saying why, for a directory that is not (only) a K2 platform."""
        if not self.base_dir.exists():
            return None
        if not self.base_dir.is_dir():
            raise NotAPlatform(f"{self.base_dir} is a file, not a directory")
        entries = sorted(e.name for e in self.base_dir.iterdir())
        if not entries:
            return None
        strangers = [e for e in entries if e not in ENTRIES]
        if self.marker_file.exists():
            try:
                identity = PlatformIdentity.from_json(json.loads(self.marker_file.read_text()))
            except (OSError, ValueError) as error:
                raise NotAPlatform(f"its marker {self.marker_file} is unreadable ({error})") from None
            if strangers:
                raise NotAPlatform(f"besides a K2 platform it holds {_names(strangers)}, which k2 did not write")
            return identity
        legacy = self._legacy_identity(entries)
        if legacy is None:
            raise NotAPlatform(f"it has no {MARKER} and holds {_names(entries)}")
        return legacy

    def _legacy_identity(self, entries: list[str]) -> PlatformIdentity | None:
        """A platform started by a k2 that wrote no marker: only its own entries, and 1 or 3 Kafka nodes
        formatted with one cluster id."""
        if "kafka" not in entries or not set(entries) <= {STATE, "kafka", "registry"}:
            return None
        kafka = self.base_dir / "kafka"
        nodes = sorted(e.name for e in kafka.iterdir()) if kafka.is_dir() else []
        for count in NODE_COUNTS:
            if nodes == [f"node-{i}" for i in range(1, count + 1)]:
                ids = {read_cluster_id(kafka / n / "data") for n in nodes}
                if len(ids) == 1 and None not in ids:
                    return PlatformIdentity(count, ids.pop())  # type: ignore[arg-type]
        return None

    def has_data(self) -> bool:
        """Whether Kafka or the registry ever stored anything here (a formatted node, a registry database)."""
        kafka = self.base_dir / "kafka"
        formatted = kafka.is_dir() and any((n / "data" / "meta.properties").exists() for n in kafka.iterdir())
        registry = self.base_dir / "registry" / "data"
        return formatted or (registry.is_dir() and any(registry.iterdir()))

    # --- up ------------------------------------------------------------------------------------------

    def up(self, nodes: int = 1, kafka_port: int | None = 9092, registry_port: int | None = 8081,
           timeout: float = 180) -> PlatformState:
        if nodes not in NODE_COUNTS:
            raise PlatformError("nodes must be 1 or 3")
        try:
            identity = self.identity()
        except NotAPlatform as error:
            raise PlatformError(f"refusing to start a platform in {self.base_dir}: {error}. "
                                "Choose another --dir (a new or empty directory)") from None
        current = self.state()
        if current and self.running():
            if current.nodes != nodes:
                raise PlatformError(f"a {current.nodes}-node platform is running in {self.base_dir}; its size "
                                    f"cannot change: keep --nodes {current.nodes}, or run `k2 local down --wipe "
                                    f"--dir {self.base_dir}` first to start over with {nodes} (this deletes its "
                                    "topics, messages and schemas)")
            self.echo(f"local platform already running: Kafka {current.bootstrap_servers}, "
                      f"registry {current.schema_registry_url}")
            return current
        if identity and identity.nodes != nodes and self.has_data():
            raise PlatformError(
                f"{self.base_dir} holds a {identity.nodes}-node platform (Kafka cluster {identity.cluster_id}), "
                f"stopped; it cannot be started with {nodes} node(s): new nodes would be formatted as a second "
                f"cluster beside its data. Start it with --nodes {identity.nodes}, or run `k2 local down --wipe "
                f"--dir {self.base_dir}` first to start over with {nodes} (this deletes its topics, messages and "
                "schemas). Nothing was changed")
        if self.state_file.exists():
            # Stale (processes gone or replaced) or half dead: stop what is still ours, then start clean.
            self.echo(f"==> {self.state_file} records a platform that is not running (processes gone or "
                      "replaced): starting fresh")
            self._stop_recorded(current, quiet=True)
        brokers, controllers, registry = self._ports(nodes, kafka_port, registry_port)
        if identity and not self.marker_file.exists():
            self.echo(f"==> adopting {self.base_dir}, a platform from a k2 that wrote no {MARKER}")
        if identity is None or identity.nodes != nodes:
            identity = PlatformIdentity(nodes, identity.cluster_id if identity else new_cluster_id())
        self.base_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.marker_file, identity.to_json())  # first: whatever follows lands in a marked directory
        kafka = KafkaCluster.with_ports(self.base_dir / "kafka", brokers, controllers)
        reg = SchemaRegistry(self.base_dir / "registry", registry)
        started = time.monotonic()
        try:
            self.echo(f"==> starting Kafka {nodes} node(s) (KRaft, cluster {identity.cluster_id}) "
                      f"on {kafka.bootstrap_servers}")
            kafka.start(timeout, cluster_id=identity.cluster_id)
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

    # --- down ----------------------------------------------------------------------------------------

    def down(self, quiet: bool = False, wipe: bool = False) -> None:
        """Stop the platform's processes (only those still the ones `up` started); with `wipe`, also delete
        the directory: Kafka's logs and the registry's database together. A directory that is not a K2
        platform is refused before anything is stopped or removed."""
        if wipe:
            try:
                self.identity()
            except NotAPlatform as error:
                raise PlatformError(f"refusing to wipe {self.base_dir}: {error}. It does not look like a K2 local "
                                    "platform directory, so nothing was stopped or removed; check --dir") from None
        self._stop_recorded(self.state(), quiet)
        if wipe and self.base_dir.exists():
            started = time.monotonic()
            if not quiet:
                self.echo(f"==> wiping {self.base_dir} (Kafka logs and registry database)")
            shutil.rmtree(self.base_dir)
            if not quiet:
                self.echo(f"    wiped in {time.monotonic() - started:.1f}s")

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


def _names(entries: list[str], limit: int = 5) -> str:
    shown = ", ".join(entries[:limit])
    return shown + (f" and {len(entries) - limit} more" if len(entries) > limit else "")
