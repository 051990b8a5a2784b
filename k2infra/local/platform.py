"""The local K2 platform: Kafka (1 or 3 nodes) and a schema registry, started and stopped as one.

A platform directory holds:

- `k2-platform.json`, the marker `up` writes first: this directory is a K2 platform, of this many Kafka nodes
  and this KRaft cluster id. It stays across `down`, so a later `up` cannot turn the directory into a cluster
  of another size, and `down --wipe` removes only directories that carry it;
- `kafka/node-N/` (configs, log, data) and `registry/` (log, and `data/`: the registry's H2 database), kept
  together across `down`/`up` and wiped together;
- `platform.json`, the running platform's ports and processes (pid, start time, command line), so
  `k2 local down` and `status` find it; a process counts only while pid, start time and command line all
  still match, so a pid reused by another program is never signalled;
- with `up --secure`, `security/`: a throwaway CA, the brokers' key and certificate and the platform admin's
  credentials (k2infra.local.security), the registry's certificate and, in `security/registry/`, each registry
  client's secret (0600); and `identity/`, Keycloak's log and database: the realm whose tokens the registry
  trusts (k2infra.local.identity). A platform keeps its mode as it keeps its size.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from k2infra.contracts.failover import BROKER_SETTINGS
from k2infra.contracts.kafka_client import librdkafka_settings
from k2infra.local.identity import (
    AdminApi,
    IdentityFiles,
    Keycloak,
    client_roles,
    ensure_realm,
)
from k2infra.local.kafka import KafkaCluster, new_cluster_id, read_cluster_id
from k2infra.local.processes import (
    PlatformError,
    ProcessRecord,
    free_ports,
    port_open,
    start_process,
    stop_processes,
    wait_until,
)
from k2infra.local.registry import RegistryAuth, SchemaRegistry
from k2infra.local.security import (
    PROTOCOL,
    SCRAM_MECHANISM,
    SecureSettings,
    SecurityFiles,
    read_credentials,
)

MARKER = "k2-platform.json"
STATE = "platform.json"
MARKER_FORMAT = 1
# Everything `up` writes at the top of a platform directory (and the temporary files of its atomic writes).
ENTRIES = frozenset({MARKER, STATE, f"{MARKER}.tmp", f"{STATE}.tmp", "kafka", "registry", "security", "identity"})
SECURITY_DIR = "security"
NODE_COUNTS = (1, 3)


@dataclass(frozen=True)
class PlatformIdentity:
    """What a platform directory is, for as long as it exists: its Kafka node count, cluster id and whether it is
    secure (SASL_SSL, authorizer; a plaintext marker has no `secure` key, as before)."""

    nodes: int
    cluster_id: str
    secure: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"k2_local_platform": MARKER_FORMAT, "nodes": self.nodes, "cluster_id": self.cluster_id}
        return {**data, "secure": True} if self.secure else data

    @classmethod
    def from_json(cls, data: Any) -> PlatformIdentity:
        base = {"k2_local_platform", "nodes", "cluster_id"}
        if (not isinstance(data, dict) or data.get("k2_local_platform") != MARKER_FORMAT
                or set(data) not in (base, base | {"secure"}) or not isinstance(data.get("secure", False), bool)
                or data["nodes"] not in NODE_COUNTS or isinstance(data["nodes"], bool)
                or not isinstance(data["cluster_id"], str) or not data["cluster_id"]):
            raise ValueError(f"not a K2 platform marker (format {MARKER_FORMAT}): {data!r}")
        return cls(data["nodes"], data["cluster_id"], data.get("secure", False))

    @property
    def mode(self) -> str:
        return mode(self.secure)


def mode(secure: bool) -> str:
    return "secure (SASL_SSL)" if secure else "plaintext"


@dataclass(frozen=True)
class StateSecurity:
    """How clients reach a secure platform: paths only; the password stays in the 0600 credentials file."""

    ca_cert: str
    credentials: str
    username: str
    protocol: str = PROTOCOL
    sasl_mechanism: str = SCRAM_MECHANISM
    registry_clients: str = ""  # the directory of the registry clients' 0600 files ("": a platform from before)
    identity_url: str = ""  # Keycloak's realm

    def to_json(self, listeners: list[str]) -> dict[str, Any]:
        data = {"protocol": self.protocol, "sasl_mechanism": self.sasl_mechanism, "listeners": listeners,
                "ca_cert": self.ca_cert, "credentials": self.credentials, "username": self.username}
        registry = {"registry_clients": self.registry_clients, "identity_url": self.identity_url}
        return {**data, **registry} if self.registry_clients else data

    @classmethod
    def from_json(cls, data: Any) -> StateSecurity:
        keys = {"protocol", "sasl_mechanism", "listeners", "ca_cert", "credentials", "username"}
        registry = {"registry_clients", "identity_url"}
        if (not isinstance(data, dict) or set(data) not in (keys, keys | registry)
                or not all(isinstance(data[k], str) and data[k] for k in set(data) - {"listeners"})
                or not all(isinstance(x, str) for x in _list(data["listeners"]))):
            raise ValueError(f"not a platform's security: {data!r}")
        return cls(data["ca_cert"], data["credentials"], data["username"], data["protocol"], data["sasl_mechanism"],
                   data.get("registry_clients", ""), data.get("identity_url", ""))

    def registry_client_file(self, client_id: str) -> Path:
        """The 0600 file with a registry client's id and secret (the deployer's, or an app's)."""
        return Path(self.registry_clients) / f"{client_id}.json"


@dataclass
class PlatformState:
    nodes: int
    broker_ports: list[int]
    controller_ports: list[int]
    registry_port: int
    kafka: list[ProcessRecord] = field(default_factory=list)
    registry: list[ProcessRecord] = field(default_factory=list)
    security: StateSecurity | None = None  # None: plaintext
    identity: list[ProcessRecord] = field(default_factory=list)  # Keycloak, on a secure platform

    @property
    def secure(self) -> bool:
        return self.security is not None

    @property
    def security_protocol(self) -> str:
        return self.security.protocol if self.security else "PLAINTEXT"

    @property
    def listeners(self) -> list[str]:
        """Where clients connect, with the protocol each address speaks."""
        return [f"{self.security_protocol}://127.0.0.1:{p}" for p in self.broker_ports]

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings for the platform's Kafka, as its admin on a secure platform (the password read from
        the credentials file: keep the result out of logs)."""
        if self.security is None:
            return {"bootstrap.servers": self.bootstrap_servers}
        credentials = read_credentials(Path(self.security.credentials))
        return librdkafka_settings(self.bootstrap_servers, self.security.protocol, self.security.sasl_mechanism,
                                   credentials.username, credentials.password, ca_location=self.security.ca_cert)

    @property
    def kafka_pids(self) -> list[int]:
        return [p.pid for p in self.kafka]

    @property
    def registry_pids(self) -> list[int]:
        return [p.pid for p in self.registry]

    @property
    def processes(self) -> list[ProcessRecord]:
        return [*self.kafka, *self.registry, *self.identity]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.broker_ports)

    @property
    def schema_registry_url(self) -> str:
        scheme = "https" if self.security and self.security.registry_clients else "http"
        return f"{scheme}://127.0.0.1:{self.registry_port}/apis/ccompat/v7"

    def complete(self) -> bool:
        """One process per Kafka node, one registry and (secure) one Keycloak: a state without them describes
        nothing running."""
        identity = 1 if self.security and self.security.registry_clients else 0
        return (len(self.kafka) == self.nodes == len(self.broker_ports) and len(self.registry) == 1
                and len(self.identity) == identity)

    def to_json(self) -> dict[str, Any]:
        data = {"nodes": self.nodes, "broker_ports": self.broker_ports, "controller_ports": self.controller_ports,
                "registry_port": self.registry_port, "kafka": [p.to_json() for p in self.kafka],
                "registry": [p.to_json() for p in self.registry]}
        if self.identity:
            data["identity"] = [p.to_json() for p in self.identity]
        return {**data, "security": self.security.to_json(self.listeners)} if self.security else data

    @classmethod
    def from_json(cls, data: Any) -> PlatformState:
        """Raises ValueError unless `data` is what to_json wrote."""
        keys = {"nodes", "broker_ports", "controller_ports", "registry_port", "kafka", "registry"}
        if not isinstance(data, dict) or not keys <= set(data) <= keys | {"security", "identity"}:
            raise ValueError(f"not a platform state: {data!r}")
        ints = [data["nodes"], data["registry_port"], *_list(data["broker_ports"]), *_list(data["controller_ports"])]
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ints):
            raise ValueError(f"not a platform state: {data!r}")
        security = StateSecurity.from_json(data["security"]) if "security" in data else None
        return cls(data["nodes"], data["broker_ports"], data["controller_ports"], data["registry_port"],
                   [ProcessRecord.from_json(p) for p in _list(data["kafka"])],
                   [ProcessRecord.from_json(p) for p in _list(data["registry"])], security,
                   [ProcessRecord.from_json(p) for p in _list(data.get("identity", []))])


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
    def __init__(self, base_dir: Path, echo=print, failure_detection: Mapping[str, int] = BROKER_SETTINGS):
        self.base_dir = Path(base_dir)
        self.failure_detection = dict(failure_detection)
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
        registry = self.base_dir / "registry" / "data"
        return self.kafka_formatted() or (registry.is_dir() and any(registry.iterdir()))

    def kafka_formatted(self) -> bool:
        kafka = self.base_dir / "kafka"
        return kafka.is_dir() and any((n / "data" / "meta.properties").exists() for n in kafka.iterdir())

    # --- up ------------------------------------------------------------------------------------------

    def up(self, nodes: int = 1, kafka_port: int | None = 9092, registry_port: int | None = 8081,
           timeout: float = 180, secure: bool = False, registry_apps: Iterable[str] = (),
           locked_registry: bool = True) -> PlatformState:
        """Start the platform (or find it running). `secure`: Kafka serves SASL_SSL with SCRAM-SHA-512 users and
        an authorizer that denies what no ACL allows (k2infra.local.security); the registry serves HTTPS and
        authenticates against Keycloak, with K2's deployer and a read-only client for each of `registry_apps`
        (k2infra.local.identity). `locked_registry=False`: a secure Kafka beside a plain registry nobody uses, and
        no Keycloak (a home region whose stacks share another region's registry: docs/regions.md)."""
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
            if current.secure != secure:
                raise PlatformError(f"a {mode(current.secure)} platform is running in {self.base_dir}; its mode "
                                    f"cannot change: start it {_mode_hint(current.secure)}, or run `k2 local down "
                                    f"--wipe --dir {self.base_dir}` first to start over {mode(secure)} (this deletes "
                                    "its topics, messages and schemas)")
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
        if identity and identity.secure != secure and self.has_data():
            raise PlatformError(
                f"{self.base_dir} holds a {identity.mode} platform (Kafka cluster {identity.cluster_id}), stopped; "
                f"it cannot be started {mode(secure)}: "
                + ("its data was formatted without the admin's SCRAM credential, so secure brokers could not even "
                   "log in to each other" if secure else
                   "its brokers would run without the authorizer, users and TLS its data was set up with")
                + f". Start it {_mode_hint(identity.secure)}, or run `k2 local down --wipe --dir {self.base_dir}` "
                f"first to start over {mode(secure)} (this deletes its topics, messages and schemas). "
                "Nothing was changed")
        if self.state_file.exists():
            # Stale (processes gone or replaced) or half dead: stop what is still ours, then start clean.
            self.echo(f"==> {self.state_file} records a platform that is not running (processes gone or "
                      "replaced): starting fresh")
            self._stop_recorded(current, quiet=True)
        brokers, controllers, registry = self._ports(nodes, kafka_port, registry_port)
        if identity and not self.marker_file.exists():
            self.echo(f"==> adopting {self.base_dir}, a platform from a k2 that wrote no {MARKER}")
        if identity is None or identity.nodes != nodes or identity.secure != secure:
            identity = PlatformIdentity(nodes, identity.cluster_id if identity else new_cluster_id(), secure)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.marker_file, identity.to_json())  # first: whatever follows lands in a marked directory
        settings, security, keycloak, auth = None, None, None, None
        if secure:
            files = SecurityFiles(self.base_dir / SECURITY_DIR)
            settings = SecureSettings(files, files.ensure(may_create_credentials=not self.kafka_formatted()))
            security = StateSecurity(str(files.ca_cert.resolve()), str(files.credentials.resolve()),
                                     settings.credentials.username)
        if security is not None and locked_registry:
            identity_files = IdentityFiles(files.directory)
            keycloak = Keycloak(self.base_dir / "identity", free_ports(1, avoid=[*brokers, *controllers, registry])[0],
                                identity_files.config)
            security = replace(security, registry_clients=str(identity_files.clients_dir.resolve()),
                               identity_url=keycloak.realm_url)
            auth = RegistryAuth(files.ca_cert, files.registry_cert, files.registry_key, keycloak.realm_url)
        kafka = KafkaCluster.with_ports(self.base_dir / "kafka", brokers, controllers, secure=settings,
                                        failure_detection=self.failure_detection)
        reg = SchemaRegistry(self.base_dir / "registry", registry, auth=auth)
        started = time.monotonic()
        try:
            self.echo(f"==> starting Kafka {nodes} node(s) (KRaft, cluster {identity.cluster_id}"
                      f"{', SASL_SSL + SCRAM-SHA-512, ACLs enforced' if secure else ''}) on {kafka.bootstrap_servers}")
            kafka.start(timeout, cluster_id=identity.cluster_id)
            self.echo(f"    Kafka ready in {time.monotonic() - started:.1f}s")
            if keycloak is not None:
                self._start_identity(keycloak, IdentityFiles(keycloak.config.parent), registry_apps, timeout)
            t = time.monotonic()
            self.echo(f"==> starting schema registry (Apicurio, Confluent API"
                      f"{', HTTPS + OIDC, roles enforced' if secure else ''}, data in {reg.data_dir}) on {reg.url}")
            reg.start(timeout)
            self.echo(f"    registry ready in {time.monotonic() - t:.1f}s")
        except BaseException:
            reg.stop()
            if keycloak is not None:
                keycloak.stop()
            kafka.stop()
            raise
        state = PlatformState(nodes, brokers, controllers, registry, list(kafka.processes), list(reg.processes),
                              security, list(keycloak.processes) if keycloak else [])
        write_json(self.state_file, state.to_json())
        return state

    def _start_identity(self, keycloak: Keycloak, files: IdentityFiles, apps: Iterable[str], timeout: float) -> None:
        """Keycloak, then its realm and the registry's clients brought to what K2 says (every `up`)."""
        t = time.monotonic()
        secret = files.bootstrap_secret()
        self.echo(f"==> starting identity provider (Keycloak, realm data in {keycloak.base_dir}) on {keycloak.url}")
        keycloak.start(timeout)
        clients = files.ensure_clients(client_roles(apps))
        ensure_realm(AdminApi(keycloak.url, secret), clients)
        names = ", ".join(c.client_id for c in clients)
        self.echo(f"    Keycloak ready in {time.monotonic() - t:.1f}s; registry clients {names} "
                  f"(secrets in {files.clients_dir}, mode 0600)")

    # --- failure drills ------------------------------------------------------------------------------

    def kill_node(self, node_id: int, signum: int = signal.SIGKILL, timeout: float = 60) -> ProcessRecord:
        """Signal one Kafka node of the running platform (SIGKILL: a crash, nothing flushed or handed over) and
        wait until it is gone. Only the very process `up` started is signalled. Returns its record."""
        _, record = self._node(node_id)
        if not record.signal(signum):
            raise PlatformError(f"Kafka node {node_id} (pid {record.pid}) is not running: nothing was signalled")
        deadline = time.monotonic() + timeout
        while not record.gone():
            if time.monotonic() > deadline:
                raise PlatformError(f"Kafka node {node_id} (pid {record.pid}) still there {timeout:.0f}s after "
                                    f"signal {signum}")
            time.sleep(0.05)
        return record

    def restart_node(self, node_id: int, timeout: float = 180) -> PlatformState:
        """Start a stopped Kafka node again, with the command line it had (same config, same data), record its new
        process in platform.json and wait until it answers on its own port among all the cluster's brokers."""
        state, record = self._node(node_id)
        if record.running():
            raise PlatformError(f"Kafka node {node_id} (pid {record.pid}) is still running")
        node_dir = self.base_dir / "kafka" / f"node-{node_id}"
        args = list(record.cmdline)
        state.kafka[node_id - 1] = new = ProcessRecord.of_child(start_process(args, node_dir / "kafka.log"), args)
        write_json(self.state_file, state.to_json())
        wait_until(lambda: _answers(state, node_id), timeout, f"Kafka node {node_id}", [new.pid],
                   node_dir / "kafka.log")
        return state

    def _node(self, node_id: int) -> tuple[PlatformState, ProcessRecord]:
        state = self.state()
        if state is None or not state.complete():
            raise PlatformError(f"no local platform recorded in {self.base_dir}: start it with `k2 local up`")
        if not 1 <= node_id <= state.nodes:
            raise PlatformError(f"no Kafka node {node_id}: the platform has node(s) 1 to {state.nodes}")
        return state, state.kafka[node_id - 1]

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
        for what, procs in (("registry", state.registry), ("Keycloak", state.identity), ("Kafka", state.kafka)):
            foreign = [p.pid for p in procs if not p.running()]
            if foreign and not quiet:
                self.echo(f"    {what} pid(s) {foreign}: gone or now another program's, left alone")
        stop_processes(state.registry, grace_seconds=15)
        stop_processes(state.identity, grace_seconds=15)
        stop_processes(state.kafka, grace_seconds=30)
        self.state_file.unlink(missing_ok=True)
        if not quiet:
            self.echo(f"    stopped in {time.monotonic() - started:.1f}s")


def _answers(state: PlatformState, node_id: int) -> bool:
    """Whether node `node_id` answers metadata requests on its own port, and the cluster lists all its brokers."""
    from confluent_kafka.admin import AdminClient

    conf = {**state.client_config(), "bootstrap.servers": f"127.0.0.1:{state.broker_ports[node_id - 1]}",
            "socket.timeout.ms": 2000, "log_level": 0}
    try:
        metadata = AdminClient(conf).list_topics(timeout=2)
    except Exception:
        return False
    return metadata.orig_broker_id == node_id and len(metadata.brokers) == state.nodes


def _mode_hint(secure: bool) -> str:
    return "with --secure" if secure else "without --secure"


def _names(entries: list[str], limit: int = 5) -> str:
    shown = ", ".join(entries[:limit])
    return shown + (f" and {len(entries) - limit} more" if len(entries) > limit else "")
