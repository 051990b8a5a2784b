"""Safety checks that run before any resource is declared, so a refused change applies nothing.

The plan compares topics.yaml with the live cluster and with what this stack manages (read from its
own state); schemas are checked against the versions the registry holds. Every check fails closed: a
cluster, registry or state that cannot be read stops the update, except the one case where nothing can
exist yet (docker mode, before this stack has created its containers).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pulumi
from pulumi.runtime.sync_await import _sync_await

from k2infra.backend.stack_state import StackStateError, read_state
from k2infra.contracts.containers import EngineNames
from k2infra.contracts.kafka_client import kafka_client_settings
from k2infra.contracts.settings import SettingsError, StackConfigFiles, plain_registry
from k2infra.local.container_engine import engine_problems
from k2infra.model import Topology
from k2infra.model.access_plan import access_changes
from k2infra.model.avro_files import same_schema
from k2infra.model.compat import incompatibilities
from k2infra.model.data_loss import LossChange, floor_problem
from k2infra.model.plan import ObservedTopic, Plan, plan_changes
from k2infra.observed.cluster import ObservedCluster, Unreachable, observe_acls, observe_cluster, registered_versions
from k2infra.observed.measure import measured
from k2infra.observed.stack_record import StackRecord, parse_export
from k2infra.program.regions import FlowSource, check_schema_ids, flow_sources
from k2infra.program.stack_config import StackConfig

NOTHING_CHANGED = "Nothing was changed"
RERUN = "rerun once that is fixed: the update converges from wherever it stopped."


@functools.cache  # one export per run: the guard and the users (k2infra/program/users.py) both read it
def read_stack_state() -> StackRecord:
    """What this stack manages, from its own state (`pulumi stack export`, before this update's changes).

    A failure to read it stops the update: without it a topic that left topics.yaml could not be told from
    one never managed, and would be deleted instead of retained.
    """
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    try:
        return parse_export(read_state(name))
    except (StackStateError, ValueError) as err:
        raise pulumi.RunError(f"cannot read the state of stack {name}, which says which topics and subjects it "
                              f"manages: {err}. {NOTHING_CHANGED}; check the state backend and rerun.") from None


def _reveal(secret: pulumi.Output[str] | None) -> str | None:
    # Needed in memory to talk to the cluster; never exported or logged.
    return _sync_await(secret.future()) if secret is not None else None


def check_changes(config: StackConfig, topology: Topology) -> Plan:
    _check_stack_files(config, topology)
    record = read_stack_state()
    fresh_containers = config.settings.cluster == "docker" and not record.containers
    if config.settings.cluster == "docker":
        _check_engine(config, record, fresh_containers)
    conf = _client_conf(config)
    cluster = ObservedCluster({}, frozenset()) if fresh_containers else _observe(conf)
    observed = cluster.topics
    plan = plan_changes(topology, observed, record.topics, record.subjects,
                        allow_removal=config.settings.allow_topic_deletion, released=record.released,
                        cluster_names=cluster.names)
    schema_problems = [] if fresh_containers else _schema_problems(config, topology)
    if plan.refusing or schema_problems:
        lines = [*plan.refused, *(_loss_refusal(c, conf, observed) for c in plan.losses), *schema_problems]
        raise pulumi.RunError(f"Refused, {NOTHING_CHANGED.lower()}:\n" + "\n".join(f"  - {line}" for line in lines))
    for warning in [*map(str, topology.warnings), *plan.warnings, *_access_warnings(topology, record, conf)]:
        pulumi.log.warn(warning)
    for change, ack in plan.acknowledged:
        pulumi.log.warn(f"acknowledged data loss: {change.describe()}{_measured(change, conf, observed)}. "
                        f"Acknowledged at {ack.where}: {ack.reason}")
    pulumi.log.info(f"topics: {len(plan.create)} to create, {len(plan.update)} to update in place, "
                    f"{len(plan.unchanged)} unchanged, {len(plan.retain)} retained, {len(plan.delete)} to delete; "
                    f"subjects: {len(plan.retain_subjects)} retained, {len(plan.delete_subjects)} to delete")
    return plan


def check_flows(config: StackConfig, topology: Topology) -> list[FlowSource]:
    """Regions: each flow into the stack's region with its home stack's outputs, and its schema ids checked to
    decode in this region's registry (k2infra/program/regions.py)."""
    sources = flow_sources(topology, config.settings.stack, Path.cwd())
    if sources:
        check_schema_ids(sources, config.settings.schema_registry_url, _reveal(config.registry_basic_auth()),
                         _reveal(config.secrets.ca_cert))
    return sources


def _check_stack_files(config: StackConfig, topology: Topology) -> None:
    """The stack's files beside the program: no credential in plain text, and an https registry where the
    environment is protected. Each problem is located (file:line: key)."""
    try:
        files = StackConfigFiles.read(Path.cwd(), config.settings.stack)
    except SettingsError as err:
        raise pulumi.RunError(f"{err}\n{NOTHING_CHANGED}.") from None
    problems = files.plain_credentials()
    if topology.protected:
        problems += filter(None, [plain_registry(config.settings, files)])
    if problems:
        raise pulumi.RunError(f"Refused, {NOTHING_CHANGED.lower()}:\n" + "\n".join(f"  - {p}" for p in problems))


def _check_engine(config: StackConfig, record: StackRecord, fresh_containers: bool) -> None:
    """Docker mode: the engine, the images, free ports and no strays, before anything is created."""
    settings = config.settings
    problems = engine_problems(EngineNames.of(settings.stack), settings.docker, record.engine_objects)
    if fresh_containers and (record.topics or record.subjects):
        problems.append(f"stack {settings.stack} manages topics and subjects on another cluster but has no containers "
                        "yet: a new docker platform starts empty, so the stack's state would not match it. Give docker "
                        "mode a stack of its own (`K2_CLUSTER=docker scripts/dev-up` uses stack dev-docker), or "
                        f"`pulumi destroy --stack {settings.stack}` first (topics and subjects stay on that cluster)")
    if problems:
        raise pulumi.RunError(f"Docker mode cannot go on, {NOTHING_CHANGED.lower()}:\n"
                              + "\n".join(f"  - {line}" for line in problems))


def _access_warnings(topology: Topology, record: StackRecord, conf: dict) -> list[str]:
    if not topology.access_control:
        return []
    try:
        on_cluster = observe_acls(conf)
    except Unreachable as err:  # the topics were observed a moment ago: ACLs are information, not a gate
        return [f"cannot list the cluster's ACLs to look for drift: {err}"]
    if on_cluster is None:
        raise pulumi.RunError(
            f"environment {topology.environment} sets access_control, but the brokers at {conf['bootstrap.servers']} "
            "run no authorizer, so its apps' ACLs cannot be applied (nor enforced). Configure an authorizer "
            "(KRaft: authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer), or set "
            f"environments.{topology.environment}.access_control: false.\n{NOTHING_CHANGED}.")
    return access_changes(topology.apps, record.acls, on_cluster)


def _loss_refusal(change: LossChange, conf: dict, observed: dict[str, ObservedTopic]) -> str:
    where = f" (set at {change.origin})" if change.origin else ""
    refused = f"{change.describe()}{_measured(change, conf, observed)}{where}"
    if floor := floor_problem(change.change, change.new):
        return f"{refused}. No acknowledgement can allow it: {floor}"
    return (f"{refused}. To make it anyway, acknowledge it in topics.yaml in a reviewed change: "
            f"acknowledged_data_loss: [{{topics: [{change.topic}], change: {change.change}, to: \"{change.new}\", "
            f"reason: \"<ticket>: why\"}}]")


def _measured(change: LossChange, conf: dict, observed: dict[str, ObservedTopic]) -> str:
    current = observed.get(change.topic)
    return measured(change, conf, current.partitions if current else None)


def _client_conf(config: StackConfig) -> dict:
    return kafka_client_settings(config.settings, username=config.settings.security.sasl_username,
                                 password=_reveal(config.secrets.sasl_password), ca_pem=_reveal(config.secrets.ca_cert))


def _observe(conf: dict) -> ObservedCluster:
    try:
        return observe_cluster(conf)
    except Unreachable as err:
        raise pulumi.RunError(f"{err}.\n{NOTHING_CHANGED}; {RERUN}") from None  # err says what to do


def _schema_problems(config: StackConfig, topology: Topology) -> list[str]:
    settings, auth = config.settings, _reveal(config.registry_basic_auth())
    try:
        deployed = registered_versions(settings.schema_registry_url, [s.subject for s in topology.subjects], auth,
                                       ca_pem=_reveal(config.secrets.ca_cert))
    except Unreachable as err:  # an outage, or wrong credentials, TLS or URL: err says which
        raise pulumi.RunError(f"{err}.\n{NOTHING_CHANGED}; {RERUN}") from None
    problems = []
    for subject in topology.subjects:
        history = deployed.get(subject.subject, [])
        if not history or same_schema(subject.schema, history[-1]):
            continue
        for reason in incompatibilities(subject.schema, history, subject.compatibility):
            problems.append(f"{subject.subject} ({subject.schema_file}): {reason}")
    return problems
