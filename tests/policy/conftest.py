"""Resources shaped as the program declares them (see __main__.py and k2infra/components), and a
project directory (topics.yaml, Pulumi.yaml, stack config) for the pack to read, as in a real run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from k2infra.contracts.naming import APP_ACCESS_TYPE
from k2infra.model import Topology, load_topology
from k2infra.model.access import App
from k2infra.model.users import username_of
from tests.conftest import ROOT
from tests.policy.harness import STACK, Analyzer, Resource, Violation

SHIPPED_TOPICS = (ROOT / "topics.yaml").read_text()
PROD_CLUSTER = ("kafka-1.prod.k2.internal:9093", "kafka-2.prod.k2.internal:9093")
KMS_PROVIDER = "awskms://alias/k2-team-a?region=eu-west-1"


def stack_resource(stack: str = "dev", outputs: dict[str, Any] | None = None) -> Resource:
    return Resource(STACK, f"k2-{stack}", outputs or {}, stack=stack)


def kafka_provider(stack: str = "dev", *, tls: bool = False, sasl_username: str | None = None,
                   sasl_password: str | None = None, servers: tuple[str, ...] = ("127.0.0.1:9092",)) -> Resource:
    # The engine hands a provider's inputs over JSON-encoded, as strings.
    props: dict[str, Any] = {"bootstrapServers": json.dumps(list(servers)), "tlsEnabled": json.dumps(tls),
                             "saslMechanism": "plain", "skipTlsVerify": "false", "timeout": "120",
                             "version": "3.13.3"}
    if sasl_username:
        props["saslUsername"] = sasl_username
    if sasl_password:
        props["saslPassword"] = sasl_password
    return Resource("pulumi:providers:kafka", "kafka", props, parent=stack_resource(stack), stack=stack)


def exchange_topics(asset_class: str, exchange: str, environment: str = "dev", stack: str = "dev") -> Resource:
    return Resource("k2:market:ExchangeTopics", f"{asset_class}.{exchange}",
                    {"asset_class": asset_class, "exchange": exchange, "environment": environment},
                    parent=stack_resource(stack), stack=stack)


def topic(name: str, partitions: int = 30, replication: int = 1, config: dict[str, str] | None = None, *,
          parent: Resource | None = None, provider: Resource | None = None, stack: str = "dev") -> Resource:
    if config is None:
        config = {"compression.type": "lz4", "retention.ms": "604800000", "cleanup.policy": "delete",
                  "min.insync.replicas": "1"}
    props = {"name": name, "partitions": partitions, "replicationFactor": replication, "config": config}
    return Resource("kafka:index/topic:Topic", name, props, parent=parent or stack_resource(stack),
                    provider=provider or kafka_provider(stack), stack=stack)


def schema_subjects(environment: str = "dev", stack: str = "dev") -> Resource:
    return Resource("k2:market:SchemaSubjects", "schemas", {"environment": environment},
                    parent=stack_resource(stack), stack=stack)


def subject(name: str, compatibility: str = "BACKWARD", *, parent: Resource | None = None,
            basic_auth: str | None = None, secret_outputs: tuple[str, ...] = ("basic_auth",),
            stack: str = "dev") -> Resource:
    props: dict[str, Any] = {"subject": name, "schema": '{"type": "record", "name": "Trade", "fields": []}',
                             "compatibility": compatibility, "registry_url": "http://127.0.0.1:8081"}
    if basic_auth:
        props["basic_auth"] = basic_auth
    return Resource("pulumi-python:dynamic:Resource", name, props, parent=parent or schema_subjects(stack=stack),
                    secret_outputs=list(secret_outputs), stack=stack)


def program(topology: Topology, provider: Resource, stack: str = "dev",
            outputs: dict[str, Any] | None = None) -> list[Resource]:
    """Every resource __main__.py declares for `topology`, in registration order (parents first)."""
    root = stack_resource(stack, outputs)
    resources = [root, provider]
    for (asset_class, exchange), topics in topology.by_exchange().items():
        group = exchange_topics(asset_class, exchange, topology.environment, stack)
        resources.append(group)
        resources += [topic(t.name, t.partitions, t.replication_factor, dict(t.config), parent=group,
                            provider=provider, stack=stack) for t in topics]
    subjects = schema_subjects(topology.environment, stack)
    resources.append(subjects)
    resources += [subject(s.subject, s.compatibility, parent=subjects, stack=stack) for s in topology.subjects]
    if topology.access_control:
        for app in topology.apps:
            resources += app_access(app, topology.environment, provider, stack)
    return resources


def app_access(app: App, environment: str, provider: Resource, stack: str = "dev",
               quota: bool = True) -> list[Resource]:
    """An app's AppAccess component, its ACLs and (where it has one, unless `quota` is False) its Quota."""
    props = {"app": app.name, "principal": app.principal, "environment": environment}
    access = Resource(APP_ACCESS_TYPE, app.name, props, parent=stack_resource(stack), stack=stack)
    acls = [Resource("kafka:index/acl:Acl", b.key, {
        "aclPrincipal": b.principal, "aclHost": "*", "aclOperation": b.operation, "aclPermissionType": b.permission,
        "aclResourceType": b.resource_type, "aclResourceName": b.name, "resourcePatternTypeFilter": b.pattern},
        parent=access, provider=provider, stack=stack) for b in app.bindings]
    quotas = [Resource("kafka:index/quota:Quota", f"{app.name}/quota", {
        "entityType": "user", "entityName": username_of(app.principal), "config": app.quota.config()},
        parent=access, provider=provider, stack=stack)] if app.quota and quota else []
    return [access, *acls, *quotas]


def of(policy: str, violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.policy == policy]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project directory like the one `pulumi preview` runs the pack in."""
    directory = tmp_path / "project"
    directory.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "topics.yaml"):
        shutil.copy(ROOT / name, directory / name)
    shutil.copytree(ROOT / "schemas", directory / "schemas")
    return directory


@pytest.fixture
def analyzer(project: Path) -> Analyzer:
    return Analyzer(project)


@pytest.fixture
def analyzer_for(project: Path) -> Callable[[str], Analyzer]:
    """An analyzer whose project has another topics.yaml."""

    def make(topics_yaml: str) -> Analyzer:
        (project / "topics.yaml").write_text(topics_yaml)
        return Analyzer(project)

    return make


def derived(project: Path, environment: str) -> Topology:
    """The topology the program would build from the project's topics.yaml."""
    return load_topology(project / "topics.yaml", environment)
