"""Runs __main__.py under Pulumi's mocks and records every resource it declares (no engine, no cluster).

The autouse fixture resets Pulumi's runtime between tests so each runs a fresh program.
"""

from __future__ import annotations

import asyncio
import os
import runpy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from k2infra.model.plan import ObservedTopic
from k2infra.observed.cluster import ObservedCluster, Unreachable
from k2infra.observed.stack_record import StackRecord
from k2infra.program import guard

DYNAMIC = "pulumi-python:dynamic:Resource"


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[MockResourceArgs] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        state = dict(args.inputs)
        if args.typ == DYNAMIC:
            state.update(schema_id=100 + len(self.resources), version=1)
        return f"{args.name}-id", state

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        return {}


@dataclass
class ProgramRun:
    resources: list[MockResourceArgs]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, name: str) -> MockResourceArgs:
        return next(r for r in self.resources if r.name == name)


@pytest.fixture(autouse=True)
def fresh_pulumi_runtime() -> Iterator[None]:
    settings.ROOT.set(None)
    # The SDK runs on the thread's event loop; a test before this one may have ended it (asyncio.run does).
    try:
        ended = asyncio.get_event_loop_policy().get_event_loop().is_closed()
    except RuntimeError:
        ended = True
    if ended:
        asyncio.set_event_loop(asyncio.new_event_loop())
    yield
    settings.ROOT.set(None)


@dataclass
class FakeCluster:
    """What the program's safety checks observe, instead of a live Kafka and registry (unit tests only;
    tests/e2e observe the real ones)."""

    topics: dict[str, ObservedTopic] = field(default_factory=dict)
    schemas: dict[str, list[str]] = field(default_factory=dict)
    state: StackRecord = field(default_factory=StackRecord)  # the stack's own state, as `stack export` gives it
    acls: list[Any] | None = field(default_factory=list)  # the cluster's ACLs; None: its brokers run no authorizer
    other_topics: tuple[str, ...] = ()  # the names of its topics outside market.*
    reachable: bool = True
    seen_configs: list[dict[str, Any]] = field(default_factory=list)

    def observe_cluster(self, conf: dict[str, Any], *args: Any, **kwargs: Any) -> ObservedCluster:
        self.seen_configs.append(dict(conf))
        if not self.reachable:
            raise Unreachable(f"cannot reach Kafka at {conf['bootstrap.servers']}: timed out")
        return ObservedCluster(dict(self.topics), frozenset([*self.topics, *self.other_topics]))

    def registered_versions(self, url: str, subjects: Any, *args: Any, **kwargs: Any) -> dict[str, list[str]]:
        if not self.reachable:
            raise Unreachable(f"cannot reach the schema registry at {url}")
        return {s: v for s, v in self.schemas.items() if s in set(subjects)}


@pytest.fixture(autouse=True)
def cluster(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    fake = FakeCluster()
    monkeypatch.setattr(guard, "observe_cluster", fake.observe_cluster)
    monkeypatch.setattr(guard, "registered_versions", fake.registered_versions)
    monkeypatch.setattr(guard, "read_stack_state", lambda: fake.state)
    monkeypatch.setattr(guard, "observe_acls", lambda *args, **kwargs: fake.acls)
    monkeypatch.setattr(guard, "engine_problems", lambda *args, **kwargs: [])  # tests/e2e: the real engine
    monkeypatch.setattr(guard, "measured", lambda *args: "")  # what a cut deletes is measured in tests/e2e
    return fake


def run_program(project: Path, config: dict[str, str], stack: str = "dev",
                secret_keys: tuple[str, ...] = ()) -> ProgramRun:
    """Run the project's __main__.py with `config` (k2:* keys) under mocks; return what it declared."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="k2", stack=stack, preview=False)
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    run = ProgramRun(mocks.resources)
    cwd = os.getcwd()
    os.chdir(project)
    try:
        def program() -> pulumi.Output[Any]:
            runpy.run_path(str(project / "__main__.py"), run_name="__main__")
            root = settings.get_root_resource()
            return pulumi.Output.all(**root.outputs).apply(run.outputs.update)  # type: ignore[union-attr]

        # As @pulumi.runtime.test does: run the program, await its outputs, then every pending RPC.
        _sync_await(run_pulumi_func(lambda: _sync_await(pulumi.Output.from_input(program()).future())))
    finally:
        os.chdir(cwd)
    return run


LOCAL = {
    "k2:environment": "dev",
    "k2:cluster": "local",
    "k2:bootstrapServers": "127.0.0.1:9092",
    "k2:schemaRegistryUrl": "http://127.0.0.1:8081/apis/ccompat/v7",
}
# A protected environment's stack: its registry must be https (the guard refuses a plain one).
PROD = {**LOCAL, "k2:environment": "prod", "k2:schemaRegistryUrl": "https://127.0.0.1:8081/apis/ccompat/v7"}
