"""End-to-end fixtures: a real Kafka (KRaft) and Apicurio registry on free ports, and the real Pulumi
CLI, Python host and kafka provider that scripts/bootstrap built, on a throwaway file backend.

The platform is started once per test session in a temporary directory and always stopped, also
when a test fails; a developer's own dev platform (ports 9092/8081) is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from k2infra.local import LocalPlatform, PlatformState
from tests.conftest import make_project, wait_for

# The design's initial deployment (topics.yaml as shipped): topic -> partitions, and its subjects.
DESIGN_TOPICS = {
    "market.equities.trades.asx": 30,
    "market.equities.quotes.asx": 30,
    "market.equities.reference_data.asx": 1,
    "market.crypto.trades.binance": 40,
    "market.crypto.quotes.binance": 40,
    "market.crypto.reference_data.binance": 1,
}
DESIGN_SUBJECTS = sorted(f"market.{ac}.{dt}-value" for ac in ("equities", "crypto")
                         for dt in ("trades", "quotes", "reference_data"))


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformState]:
    if not shutil.which("pulumi"):
        pytest.fail("pulumi is not on PATH: run the tests through scripts/test, which builds it")
    local = LocalPlatform(tmp_path_factory.mktemp("platform"))
    state = local.up(nodes=1, kafka_port=None, registry_port=None)
    try:
        yield state
    finally:
        keep_logs(local.base_dir, tmp_path_factory.getbasetemp() / "platform-logs")
        local.down(wipe=True)


def keep_logs(platform_dir: Path, into: Path) -> None:
    """Copy the platform's Kafka and registry logs out before it is wiped: pytest keeps its last three runs'
    directories, so a failure that only the server's side explains can still be read."""
    for log in [*platform_dir.glob("registry/registry.log"), *platform_dir.glob("kafka/node-*/kafka.log")]:
        target = into / log.relative_to(platform_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, target)


def two_regions(tmp_path_factory: pytest.TempPathFactory,
                name: str) -> Iterator[tuple[PlatformState, PlatformState, Path]]:
    """A module's home and aggregating regions, each a one-node local platform on free ports: (home, aggregate, the
    directory they live in), for a fixture to `yield from`. Their logs are kept; both are stopped and wiped."""
    base = tmp_path_factory.mktemp(name)
    platforms = {region: LocalPlatform(base / region) for region in ("home", "aggregate")}
    try:
        started = time.monotonic()
        states = {region: p.up(nodes=1, kafka_port=None, registry_port=None) for region, p in platforms.items()}
        print(f"MEASURED two regions up in {time.monotonic() - started:.1f}s")
        yield states["home"], states["aggregate"], base
    finally:
        for region, p in platforms.items():
            keep_logs(p.base_dir, tmp_path_factory.getbasetemp() / f"{name}-{region}-logs")
            p.down(wipe=True)


@pytest.fixture(scope="session")
def admin(platform: PlatformState):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": platform.bootstrap_servers})


@pytest.fixture(scope="session")
def registry(platform: PlatformState):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": platform.schema_registry_url, "timeout": 30})  # a hang fails, not waits


class PulumiError(AssertionError):
    pass


@dataclass
class PulumiStack:
    """The real `pulumi` CLI on a copy of the project, with its own file backend."""

    project: Path
    backend: Path
    name: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "PULUMI_BACKEND_URL": f"file://{self.backend}",
                "PULUMI_CONFIG_PASSPHRASE": "e2e-only", "PULUMI_SKIP_CONFIRMATIONS": "true"}

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = subprocess.run(["pulumi", *args, "--stack", self.name, "--non-interactive"], cwd=self.project,
                              env=self.env(), capture_output=True, text=True, timeout=timeout)
        print(f"$ pulumi {' '.join(args)}  ({time.monotonic() - started:.1f}s, exit {done.returncode})")
        if check and done.returncode != 0:
            raise PulumiError(f"pulumi {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def init(self, config: dict[str, str]) -> PulumiStack:
        self.backend.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pulumi", "stack", "init", self.name, "--non-interactive"], cwd=self.project,
                       env=self.env(), check=True, capture_output=True, text=True)
        for key, value in config.items():
            self.run("config", "set", key, value)
        return self

    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", "--skip-preview", *extra, check=check)

    def preview_steps(self, *extra: str) -> list[dict[str, Any]]:
        """The steps `pulumi preview --json` plans (op, urn, ...)."""
        return list(json.loads(self.run("preview", "--json", *extra).stdout).get("steps", []))

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)

    def set_topology(self, text: str) -> None:
        (self.project / "topics.yaml").write_text(text)


def stack_config(platform: PlatformState) -> dict[str, str]:
    return {
        "k2:environment": "dev",
        "k2:cluster": "local",
        "k2:bootstrapServers": platform.bootstrap_servers,
        "k2:schemaRegistryUrl": platform.schema_registry_url,
    }


@pytest.fixture
def new_stack(tmp_path: Path, platform: PlatformState, admin, registry):
    """A factory of fresh stacks; every stack it made is destroyed afterwards, pass or fail, and the shared
    cluster and registry are emptied (destroy keeps what is not a throwaway stack's), so tests stay apart. They are
    emptied first as well: a test then does not depend on every earlier file of the session having cleaned up (under
    two workers, test_pulumi_up once found a subject at version 2 after another file's test on its worker)."""
    empty_platform(admin, registry, platform.schema_registry_url)
    made: list[PulumiStack] = []

    def make(name: str = "e2e", topology: Path | str | None = None, throwaway: bool = False) -> PulumiStack:
        project = make_project(tmp_path / f"project-{name}", topology)
        config = {**stack_config(platform), **({"k2:allowTopicDeletion": "true"} if throwaway else {})}
        stack = PulumiStack(project, tmp_path / "backend", name).init(config)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.run("destroy", "--yes", check=False)
    empty_platform(admin, registry, platform.schema_registry_url)


def empty_platform(admin, registry, registry_url: str, deadline_seconds: float = 180) -> None:
    """Delete every market.* topic and purge every market.* subject (soft, then permanent).

    A topic still listed 30 s after its delete is deleted again, so one lost delete does not fail the next test.
    If one outlives the deadline, the message says whether it is the topic that was deleted (same topic id) or a
    new one of the same name, which only another client can have created (CI once found two topics back after
    120 s, and nothing on record to tell which)."""
    before = topic_ids(admin)
    _delete_topics(admin, list(before))
    for subject in registry.get_subjects():
        if subject.startswith("market."):
            registry.delete_subject(subject, permanent=False)
    for subject in deleted_subjects(registry_url):
        registry.delete_subject(subject, permanent=True)
    deadline = time.monotonic() + deadline_seconds
    while (left := topics_on_cluster(admin)) and time.monotonic() < deadline:
        # Deletion completes asynchronously: wait, then delete again what is still listed.
        wait_for(lambda: not topics_on_cluster(admin), "market.* topics deleted", 30, every=0.2, fail=False)
        _delete_topics(admin, list(topics_on_cluster(admin)))
    left = topics_on_cluster(admin)
    now = topic_ids(admin, list(left)) if left else {}
    recreated = sorted(t for t in now if t in before and now[t] != before[t])
    assert left == {}, f"market.* topics still there after {deadline_seconds:.0f}s: {left}; recreated by another " \
                       f"client since the first delete: {recreated or 'none'}"


def topic_ids(admin, names: list[str] | None = None) -> dict[str, str]:
    """market.* topic -> its topic id (a topic deleted and created again gets a new one)."""
    from confluent_kafka import TopicCollection

    names = list(topics_on_cluster(admin)) if names is None else names
    if not names:
        return {}
    found: dict[str, str] = {}
    for name, future in admin.describe_topics(TopicCollection(names), request_timeout=30).items():
        try:
            found[name] = str(future.result(timeout=60).topic_id)
        except Exception:  # deleted meanwhile
            continue
    return found


def _delete_topics(admin, names: list[str]) -> None:
    from confluent_kafka import KafkaError, KafkaException

    if not names:
        return
    for future in admin.delete_topics(names, operation_timeout=60).values():
        try:
            future.result(timeout=90)
        except KafkaException as err:  # deleted meanwhile: that is what was wanted
            if err.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise


def consume_count(bootstrap: str, topic: str, group: str, expected: int, timeout: float, *, batch: int = 1000,
                  commit: bool = True) -> int:
    """How many records of `topic` a consumer of `group` reads from the earliest, until `expected` (or `timeout`
    seconds: bounded, so a missing record fails the caller's count, not the run); then commits them if asked."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen = [0]

    def read_all() -> bool:
        if seen[0] < expected:
            seen[0] += sum(1 for m in consumer.consume(num_messages=batch, timeout=0.5) if not m.error())
        return seen[0] >= expected

    try:
        wait_for(read_all, f"{expected} records of {topic}", timeout, every=0, fail=False)
        if commit:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return seen[0]


def consume_and_commit(bootstrap: str, topic: str, group: str, count: int, timeout: float) -> None:
    """Read exactly `count` records of `topic` as `group` (within `timeout` seconds), then commit them."""
    assert consume_count(bootstrap, topic, group, count, timeout) == count


def first_message(consumer, timeout: float, accept=lambda message: True):
    """The first record `consumer.poll` returns that `accept` takes, within `timeout` seconds; else the last
    one polled (None if none came), for the caller's assertion to name."""
    polled: list[Any] = [None]

    def accepted() -> bool:
        polled[0] = consumer.poll(0.5)
        return polled[0] is not None and accept(polled[0])

    wait_for(accepted, "a record", timeout, every=0, fail=False)
    return polled[0]


def deleted_subjects(registry_url: str) -> list[str]:
    """market.* subjects, the soft-deleted included (the Confluent API's ?deleted=true listing)."""
    import urllib.request

    with urllib.request.urlopen(f"{registry_url}/subjects?deleted=true", timeout=10) as reply:
        return [s for s in json.loads(reply.read()) if s.startswith("market.")]


def topics_on_cluster(admin, prefix: str = "market.") -> dict[str, int]:
    """Topic -> partition count, as Kafka itself reports them."""
    metadata = admin.list_topics(timeout=10)
    return {name: len(t.partitions) for name, t in metadata.topics.items() if name.startswith(prefix)}


def topic_configs(admin, name: str) -> dict[str, str]:
    """The configs set on the topic itself (not broker defaults), as the broker reports them."""
    from confluent_kafka.admin import ConfigResource, ConfigSource

    resource = ConfigResource("topic", name)
    entries = admin.describe_configs([resource])[resource].result(timeout=10)
    return {k: v.value for k, v in entries.items() if v.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}


def subjects_in_registry(registry, prefix: str = "market.") -> list[str]:
    return sorted(s for s in registry.get_subjects() if s.startswith(prefix))
