"""Safety checks that run before any resource is declared, so a refused change applies nothing.

The plan compares topics.yaml with the live cluster and with what this stack managed before (its
own previous outputs); schemas are checked against the registered versions (or, when the registry
cannot be reached, against the versions this stack last deployed).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from k2infra.components.stack_config import StackConfig
from k2infra.model import Topology
from k2infra.model.avro_files import same_schema
from k2infra.model.compat import incompatibilities
from k2infra.model.plan import Plan, plan_topics
from k2infra.observe import Misconfigured, Unreachable, client_config, observe_topics, registered_versions

NOTHING_CHANGED = "Nothing was changed; rerun once that is fixed: the update converges from wherever it stopped."


def previous_outputs() -> dict[str, Any]:
    """This stack's outputs from its last update (values are None on its first one).

    A failure to read them stops the update: without them a topic that left topics.yaml could not be
    told from one never managed, and would be deleted instead of retained.
    """
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    ref = pulumi.StackReference(name)
    try:
        # _sync_await: the plan must be known before any resource is declared (Pulumi's own tests use it).
        return {n: _sync_await(ref.get_output_details(n)).value for n in ("managed_topics", "topics", "subjects")}
    except Exception as err:
        raise pulumi.RunError(f"cannot read the last outputs of stack {name}, which say which topics it "
                              f"manages: {err}. Nothing was changed; check the state backend and rerun.") from None


def _reveal(secret: pulumi.Output[str] | None) -> str | None:
    # Needed in memory to talk to the cluster; never exported or logged.
    return _sync_await(secret.future()) if secret is not None else None


def check_changes(config: StackConfig, topology: Topology) -> Plan:
    previous = previous_outputs()
    managed = set(previous.get("managed_topics") or [t["name"] for t in previous.get("topics") or []])
    plan = plan_topics(topology, _observe(config), managed, allow_removal=config.settings.allow_topic_deletion)
    schema_problems = _schema_problems(config, topology, previous)
    if plan.refused or schema_problems:
        lines = [*plan.refused, *schema_problems]
        raise pulumi.RunError("Refused, nothing was changed:\n" + "\n".join(f"  - {line}" for line in lines))
    for warning in plan.warnings:
        pulumi.log.warn(warning)
    pulumi.log.info(f"topics: {len(plan.create)} to create, {len(plan.update)} to update in place, "
                    f"{len(plan.unchanged)} unchanged, {len(plan.retain)} retained, {len(plan.delete)} to delete")
    return plan


def _observe(config: StackConfig) -> dict:
    settings, security = config.settings, config.settings.security
    conf = client_config(",".join(settings.bootstrap_servers), security.protocol, security.sasl_mechanism,
                         security.sasl_username, _reveal(config.secrets.sasl_password), _reveal(config.secrets.ca_cert))
    try:
        return observe_topics(conf)
    except Unreachable as err:
        if settings.cluster == "docker" and not isinstance(err, Misconfigured):
            return {}  # the containers may not exist yet: this update creates them
        raise pulumi.RunError(f"{err}.\n{NOTHING_CHANGED}") from None


def _schema_problems(config: StackConfig, topology: Topology, previous: dict[str, Any]) -> list[str]:
    settings, auth = config.settings, _reveal(config.registry_basic_auth())
    try:
        deployed = registered_versions(settings.schema_registry_url, [s.subject for s in topology.subjects], auth)
    except Misconfigured as err:  # wrong credentials, TLS or URL: falling back would only fail later, mid-update
        raise pulumi.RunError(f"{err}.\n{NOTHING_CHANGED}") from None
    except Unreachable as err:
        if settings.cluster == "docker" or not previous.get("subjects"):
            return []  # nothing deployed yet to be compatible with
        pulumi.log.warn(f"{err}; checking schemas against the versions this stack last deployed")
        deployed = {s["subject"]: [s["schema"]] for s in previous["subjects"] if s.get("schema")}
    problems = []
    for subject in topology.subjects:
        history = deployed.get(subject.subject, [])
        if not history or same_schema(subject.schema, history[-1]):
            continue
        for reason in incompatibilities(subject.schema, history, subject.compatibility):
            problems.append(f"{subject.subject} ({subject.schema_file}): {reason}")
    return problems

