"""The checks docker mode makes on the engine before declaring anything, against a fake engine API."""

from __future__ import annotations

import socket
from typing import Any

from k2infra.contracts.containers import EngineNames
from k2infra.contracts.settings import DockerSettings
from k2infra.local.container_engine import Engine, EngineError, engine_problems, port_holder
from k2infra.local.processes import free_ports

NAMES = EngineNames.of("dev")


class FakeEngine(Engine):
    def __init__(self, objects: dict[str, dict[str, Any]] | None = None, up: bool = True):
        super().__init__("unix:///nowhere/engine.sock")
        self.objects, self.up = objects or {}, up

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> tuple[int, Any]:
        if not self.up:
            raise EngineError(f"no container engine answers at {self.host} (connection refused)")
        if path == "/_ping":
            return 200, "OK"
        if path == "/version":
            return 200, {"Components": [{"Name": "Podman Engine"}]}
        key = path.removesuffix("/json")
        return (200, self.objects[key]) if key in self.objects else (404, {"message": "no such object"})


def images(settings: DockerSettings) -> dict[str, dict[str, Any]]:
    return {f"/images/{settings.kafka_image}": {},
            f"/images/{settings.registry_image}": {}}


def free_settings() -> DockerSettings:
    kafka, registry = free_ports(2)
    return DockerSettings(kafka_port=kafka, registry_port=registry)


def test_a_ready_engine_has_no_problems():
    settings = free_settings()
    assert engine_problems(NAMES, settings, frozenset(), FakeEngine(images(settings))) == []


def test_no_engine_says_how_to_get_one():
    (problem,) = engine_problems(NAMES, free_settings(), frozenset(), FakeEngine(up=False))
    assert "no container engine answers at unix:///nowhere/engine.sock" in problem
    assert "scripts/container-engine up" in problem and "DOCKER_HOST" in problem


def test_a_missing_image_says_how_to_build_it():
    settings = free_settings()
    (problem,) = engine_problems(NAMES, settings, frozenset(), FakeEngine())[:1]
    assert problem.startswith("image localhost/k2/kafka:4.1.1 is not in the engine")
    assert "scripts/container-engine up" in problem


def test_a_port_in_use_names_its_holder_before_the_containers_exist():
    settings = free_settings()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.kafka_port))
        holder.listen()
        (problem,) = engine_problems(NAMES, settings, frozenset(), FakeEngine(images(settings)))
        # Once the stack has its containers, the port is theirs.
        running = {f"/containers/{n}": {"State": {"Running": True}} for n in NAMES.containers}
        assert engine_problems(NAMES, settings, frozenset(NAMES.containers),
                               FakeEngine({**images(settings), **running})) == []
    assert f"port {settings.kafka_port} on 127.0.0.1 (k2:dockerKafkaPort) is already in use by pid " in problem
    assert "pulumi config set k2:dockerKafkaPort <port>" in problem


def test_objects_the_stack_did_not_create_are_named_with_how_to_remove_them():
    settings = free_settings()
    strays = {"/containers/k2-dev-kafka": {"State": {"Running": True}}, "/volumes/k2-dev-registry-data": {},
              "/networks/k2-dev-net": {}}
    problems = engine_problems(NAMES, settings, frozenset(), FakeEngine({**images(settings), **strays}))
    assert problems == [
        "a container named k2-dev-kafka exists but this stack did not create it (left by an interrupted run or "
        "another program): remove it with `podman rm -f k2-dev-kafka` and rerun",
        "volume(s) k2-dev-registry-data exist but this stack did not create them (data of an earlier platform of this "
        "name): remove both together, `podman volume rm -f k2-dev-kafka-data k2-dev-registry-data`, and rerun",
        "a network named k2-dev-net exists but this stack did not create it: remove it with "
        "`podman network rm k2-dev-net` and rerun"]


def test_recorded_containers_that_are_gone_or_stopped():
    settings = free_settings()
    engine = FakeEngine({**images(settings), "/containers/k2-dev-registry": {"State": {"Running": False}}})
    problems = engine_problems(NAMES, settings, frozenset(NAMES.containers), engine)
    assert "container k2-dev-kafka is in this stack's state but not in the engine" in problems[0]
    assert "pulumi refresh" in problems[0]
    assert problems[1] == "container k2-dev-registry is stopped: start it with `podman start k2-dev-registry` and rerun"


def test_port_holder():
    (port,) = free_ports(1)
    assert port_holder(port) is None
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        assert port_holder(port).startswith("pid ")
