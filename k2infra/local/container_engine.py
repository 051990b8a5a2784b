"""The container engine of docker mode, through its Docker-compatible API (Docker, or K2's podman service):
checks that run before the program declares anything, so that a missing engine or image, a port held by
another program or an object left by an interrupted run stops the update with what to do, before anything
is created. Also the few calls the end-to-end tests use (inspect, restart).

The engine is the one pulumi-docker uses: $DOCKER_HOST, else Docker's default socket.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from contextlib import suppress
from typing import Any
from urllib.parse import quote

from k2infra.contracts.containers import EngineNames
from k2infra.contracts.settings import DockerSettings

DEFAULT_HOST = "unix:///var/run/docker.sock"
SET_UP = ('run `eval "$(scripts/container-engine up)"` (K2\'s podman and images; `K2_CLUSTER=docker scripts/dev-up` '
          "does it too), or export DOCKER_HOST=<your Docker engine>")


class EngineError(RuntimeError):
    """The engine did not answer, or answered with an error."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _path(name: str) -> str:
    return quote(name, safe="/:@")


class Engine:
    def __init__(self, host: str | None = None, timeout: float = 10):
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.timeout = timeout

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.host.startswith("unix://"):
            return _UnixConnection(self.host[len("unix://"):], timeout)
        if self.host.startswith("tcp://"):
            host, _, port = self.host[len("tcp://"):].partition(":")
            return http.client.HTTPConnection(host, int(port or 2375), timeout=timeout)
        raise EngineError(f"DOCKER_HOST={self.host}: only unix:// and tcp:// engines are supported")

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> tuple[int, Any]:
        """(HTTP status, decoded JSON or text); EngineError when the engine cannot be reached."""
        connection = self._connection(timeout or self.timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = connection.getresponse()
            raw = response.read().decode("utf-8", "replace")
        except OSError as err:
            raise EngineError(f"no container engine answers at {self.host} ({err})") from None
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw

    def _get(self, path: str) -> Any:
        """The object at `path`, or None when the engine says it does not exist (404)."""
        status, data = self.call("GET", path)
        if status == 404:
            return None
        if status >= 400:
            raise EngineError(f"the engine at {self.host} answered {status} to GET {path}: {data}")
        return data

    def ping(self) -> None:
        status, data = self.call("GET", "/_ping", timeout=5)
        if status != 200:
            raise EngineError(f"the engine at {self.host} answered {status} to /_ping: {data}")

    @property
    def cli(self) -> str:
        """The command line tool to name in messages: podman for a podman service, else docker."""
        with suppress(EngineError):
            version = self._get("/version") or {}
            if any("podman" in str(c.get("Name", "")).lower() for c in version.get("Components") or []):
                return "podman"
        return "docker"

    def image(self, name: str) -> dict[str, Any] | None:
        return self._get(f"/images/{_path(name)}/json")

    def container(self, name: str) -> dict[str, Any] | None:
        return self._get(f"/containers/{_path(name)}/json")

    def volume(self, name: str) -> dict[str, Any] | None:
        return self._get(f"/volumes/{_path(name)}")

    def network(self, name: str) -> dict[str, Any] | None:
        return self._get(f"/networks/{_path(name)}")

    def health(self, name: str) -> str | None:
        """A running container's health status (starting, healthy, unhealthy), else None."""
        info = self.container(name) or {}
        state = info.get("State") or {}
        return (state.get("Health") or {}).get("Status") if state.get("Running") else None

    def start(self, name: str) -> None:
        status, data = self.call("POST", f"/containers/{_path(name)}/start", timeout=60)
        if status >= 400:
            raise EngineError(f"starting container {name} failed ({status}): {data}")

    def restart(self, name: str, grace_seconds: int = 30) -> None:
        status, data = self.call("POST", f"/containers/{_path(name)}/restart?t={grace_seconds}",
                                 timeout=grace_seconds + 60)
        if status >= 400:
            raise EngineError(f"restarting container {name} failed ({status}): {data}")


def engine_problems(names: EngineNames, settings: DockerSettings, recorded: frozenset[str],
                    engine: Engine | None = None) -> list[str]:
    """What stops docker mode before anything is created, each with what to do; [] when nothing does.

    `recorded`: the engine objects the stack's state holds. Before the stack has containers, its ports must be
    free and no object of its names may exist unrecorded (left by an interrupted run or by another program)."""
    engine = engine or Engine()
    try:
        engine.ping()
    except EngineError as err:
        return [f"{err}: {SET_UP}"]
    cli = engine.cli
    problems = [f"image {image} is not in the engine at {engine.host}: build it with `scripts/container-engine up` "
                f"(or {key} names another image there)"
                for image, key in ((settings.kafka_image, "k2:dockerKafkaImage"),
                                   (settings.registry_image, "k2:dockerRegistryImage"))
                if engine.image(image) is None]
    fresh = not any(name in recorded for name in names.containers)
    if fresh:
        ports = ((settings.kafka_port, "k2:dockerKafkaPort"), (settings.registry_port, "k2:dockerRegistryPort"))
        for port, key in ports:
            holder = port_holder(port)
            if holder is not None:
                problems.append(f"port {port} on 127.0.0.1 ({key}) is already in use by {holder}: stop it"
                                f"{_hint(holder)}, or choose another port: pulumi config set {key} <port>")
    for name in names.containers:
        info = engine.container(name)
        if name not in recorded and info is not None:
            problems.append(f"a container named {name} exists but this stack did not create it (left by an "
                            f"interrupted run or another program): remove it with `{cli} rm -f {name}` and rerun")
        elif name in recorded and info is None:
            problems.append(f"container {name} is in this stack's state but not in the engine at {engine.host} "
                            "(removed outside Pulumi): run `pulumi refresh`, then `pulumi up` creates it again")
        elif name in recorded and info is not None and not (info.get("State") or {}).get("Running"):
            problems.append(f"container {name} is stopped: start it with `{cli} start {name}` and rerun")
    stray = [v for v in names.volumes if v not in recorded and engine.volume(v) is not None]
    if stray:
        problems.append(f"volume(s) {', '.join(stray)} exist but this stack did not create them (data of an earlier "
                        f"platform of this name): remove both together, `{cli} volume rm -f {' '.join(names.volumes)}`,"
                        " and rerun")
    if names.network not in recorded and engine.network(names.network) is not None:
        problems.append(f"a network named {names.network} exists but this stack did not create it: remove it with "
                        f"`{cli} network rm {names.network}` and rerun")
    return problems


def _hint(holder: str) -> str:
    if "kafka.Kafka" in holder or "quarkus-run.jar" in holder:
        return " (K2's local platform: bin/k2 local down)"
    return ""


def port_holder(port: int, host: str = "127.0.0.1") -> str | None:
    """Who listens on `port` ("pid 42 (java -cp ... kafka.Kafka ...)", or "another program"), None if it is free."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) != 0:
            return None
    import psutil

    try:
        listening = [c.pid for c in psutil.net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid]
    except psutil.Error:  # not allowed to see other users' sockets
        listening = []
    for pid in listening:
        try:
            command = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            command = "?"
        return f"pid {pid} ({command[:160]})"
    return "another program"


def start_stopped(stack: str, engine: Engine | None = None, timeout: float = 240) -> list[str]:
    """Start the stack's containers that exist but are stopped (after an engine or machine restart, or a
    `podman stop`): their volumes still hold the data. Waits until they are healthy; returns the ones started."""
    engine = engine or Engine()
    started = []
    for name in EngineNames.of(stack).containers:
        info = engine.container(name)
        if info is not None and not (info.get("State") or {}).get("Running"):
            engine.start(name)
            started.append(name)
    deadline = time.monotonic() + timeout
    for name in started:
        while engine.health(name) != "healthy":
            if time.monotonic() > deadline:
                raise EngineError(f"container {name} is not healthy {timeout:.0f}s after its start: see "
                                  f"`{engine.cli} logs {name}`")
            time.sleep(1)
    return started
