"""Docker mode (k2:cluster: docker) on a real container engine: pulumi-docker creates the network, the two volumes
and the Kafka and Apicurio containers from K2's locally built images, then the topics and subjects on them.

One platform for the whole module (tests run in order): preview, up, an idempotent up, a message through the
published port, a container restart that keeps the data, destroy. The engine and images come from the project's
own script (scripts/container-engine), as scripts/test and CI run it; this module stops nothing it did not start.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from k2infra.contracts.containers import KAFKA_IMAGE, REGISTRY_IMAGE, EngineNames
from k2infra.local.container_engine import Engine
from k2infra.local.processes import free_ports
from tests.conftest import ROOT, make_project, wait_for
from tests.e2e.conftest import PulumiStack, first_message, subjects_in_registry, topics_on_cluster

STACK = "e2edocker"  # its engine objects are k2-e2edocker-*, apart from a developer's dev-docker stack
NAMES = EngineNames.of(STACK)
TOPIC = "market.crypto.trades.binance"


def remove_leftovers(engine: Engine) -> None:
    """This module's own engine objects, left by an interrupted earlier run."""
    for name in NAMES.containers:
        engine.call("DELETE", f"/containers/{name}?force=true&v=false")
    for name in NAMES.volumes:
        engine.call("DELETE", f"/volumes/{name}?force=true")
    engine.call("DELETE", f"/networks/{NAMES.network}")


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """The engine scripts/container-engine sets up (scripts/test already did: then this is seconds)."""
    started = False
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get("DOCKER_HOST"):
            done = subprocess.run([str(ROOT / "scripts" / "container-engine"), "up"], capture_output=True, text=True,
                                  timeout=1200)
            if done.returncode != 0:
                pytest.fail(f"scripts/container-engine up failed:\n{done.stderr[-3000:]}")
            for assignment in done.stdout.split("export", 1)[1].split():
                key, _, value = assignment.partition("=")
                patch.setenv(key, value)
            started = os.environ.get("K2_ENGINE_STARTED") == "1"
        engine = Engine()
        engine.ping()
        yield engine
    if started:
        subprocess.run([str(ROOT / "scripts" / "container-engine"), "down"], check=False, timeout=60)


@pytest.fixture(scope="module")
def stack(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulumiStack]:
    remove_leftovers(engine)
    kafka_port, registry_port = free_ports(2, avoid=[9092, 8081, 29092, 28081])
    base = tmp_path_factory.mktemp("docker-mode")
    project = make_project(base / "project")
    stack = PulumiStack(project, base / "backend", STACK).init({
        "k2:environment": "dev", "k2:cluster": "docker",
        "k2:dockerKafkaPort": str(kafka_port), "k2:dockerRegistryPort": str(registry_port),
    })
    try:
        yield stack
    finally:
        stack.run("destroy", "--yes", check=False, timeout=600)
        remove_leftovers(engine)


@pytest.fixture(scope="module")
def endpoints(stack: PulumiStack) -> dict[str, str]:
    config = {k: stack.run("config", "get", k).stdout.strip() for k in ("k2:dockerKafkaPort", "k2:dockerRegistryPort")}
    return {"bootstrap": f"127.0.0.1:{config['k2:dockerKafkaPort']}",
            "registry": f"http://127.0.0.1:{config['k2:dockerRegistryPort']}/apis/ccompat/v7"}


def admin(endpoints):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": endpoints["bootstrap"], "socket.timeout.ms": 5000})


def registry(endpoints):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": endpoints["registry"], "timeout": 30})


def test_preview_plans_the_platform_before_it_exists(stack: PulumiStack):
    steps = stack.preview_steps()
    created = {s["urn"].rsplit("::", 1)[-1] for s in steps if s["op"] == "create"}
    assert {NAMES.network, *NAMES.volumes, *NAMES.containers} <= created
    assert {"k2-e2edocker-kafka-image", "k2-e2edocker-registry-image", TOPIC} <= created


def test_up_creates_the_containers_then_the_topics_and_subjects(stack: PulumiStack, engine: Engine, endpoints):
    stack.up()
    for name in NAMES.containers:
        assert engine.health(name) == "healthy"  # `wait`: the update went on only once both answered
    assert stack.outputs()["bootstrap_servers"] == endpoints["bootstrap"]
    assert len(topics_on_cluster(admin(endpoints))) == 6
    assert len(subjects_in_registry(registry(endpoints))) == 6


def test_a_second_up_changes_nothing(stack: PulumiStack):
    done = stack.up("--expect-no-changes")
    assert done.returncode == 0


def produce(endpoints, value: bytes) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": endpoints["bootstrap"], "acks": "all"})
    producer.produce(TOPIC, key=b"BTCUSDT", value=value)
    assert producer.flush(60) == 0


def consume(endpoints, value: bytes) -> bool:
    """Whether `value` is on the topic, read from the beginning through the published port."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": endpoints["bootstrap"], "group.id": f"e2e-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    try:
        message = first_message(consumer, 60, lambda m: not m.error() and m.value() == value)
        return message is not None and not message.error() and message.value() == value
    finally:
        consumer.close()


MESSAGE = b"trade-" + uuid.uuid4().hex.encode()


def test_a_message_goes_through_the_published_port(endpoints):
    produce(endpoints, MESSAGE)
    assert consume(endpoints, MESSAGE)


def test_a_container_restart_keeps_topics_subjects_and_messages(stack: PulumiStack, engine: Engine, endpoints):
    schema_ids = {s: registry(endpoints).get_latest_version(s).schema_id
                  for s in subjects_in_registry(registry(endpoints))}
    for name in NAMES.containers:
        engine.restart(name)
    for name in NAMES.containers:
        wait_for(lambda n=name: engine.health(n) == "healthy", f"{name} healthy again after its restart", 240,
                 every=0.5, ignoring=(Exception,))
    wait_for(lambda: len(topics_on_cluster(admin(endpoints))) == 6, "the six topics after the restart", 240, every=0.5,
             ignoring=(Exception,))
    assert {s: registry(endpoints).get_latest_version(s).schema_id
            for s in subjects_in_registry(registry(endpoints))} == schema_ids
    assert consume(endpoints, MESSAGE)
    assert stack.up("--expect-no-changes").returncode == 0


def test_destroy_removes_the_containers_network_and_volumes(stack: PulumiStack, engine: Engine):
    stack.run("destroy", "--yes", timeout=600)
    assert [n for n in NAMES.containers if engine.container(n) is not None] == []
    assert engine.network(NAMES.network) is None
    assert [v for v in NAMES.volumes if engine.volume(v) is not None] == []  # wiped together


def test_images_are_kept(engine: Engine):
    assert engine.image(KAFKA_IMAGE) is not None and engine.image(REGISTRY_IMAGE) is not None

