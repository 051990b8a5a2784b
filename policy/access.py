"""App ACLs stay least-privilege: no wildcard, nothing outside the market data, no cluster-wide power; and in
production every app is held to a quota, so no one app can take the brokers' capacity from the others."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pulumi_policy import PolicyResource

from k2infra.contracts.kafka_names import client_id_problem, principal_problem, topic_name_problem
from k2infra.contracts.naming import APP_ACCESS_TYPE, TOPIC_PREFIX
from k2infra.model import TopologyError
from k2infra.model.users import username_of
from policy.context import Deployment
from policy.declared import DeclaredTopology
from policy.production import StackViolation, protected_stack
from policy.resources import QUOTA, AclResource, stack_of, violation

ALLOWED_TYPES = ("Topic", "Group", "TransactionalID")
ALLOWED_OPERATIONS = ("Read", "Write", "Describe")


def least_privilege(acl: AclResource, deployment: Deployment) -> Iterator[str]:
    what = f"ACL {acl.principal} {acl.operation} on {acl.resource_type} {acl.pattern} {acl.name!r}"
    topology = deployment.topology
    if topology is not None and acl.principal in topology.replication_principals:
        yield from _replication_grant(acl, what, deployment, topology)
        return
    fix = ("declare the app's produces/consumes in topics.yaml with the design's subscription patterns and let "
           "the program derive its ACLs")
    if acl.name in ("*", "") or acl.principal in ("User:*", "*"):
        yield violation(what, "is a wildcard: it grants every resource or every user", fix)
    elif (wrong := principal_problem(acl.principal)) is not None:
        yield violation(what, f"its principal {wrong}", "give the app its own principal in topics.yaml, such as "
                        "User:<app>")
    elif acl.resource_type not in ALLOWED_TYPES or acl.operation not in ALLOWED_OPERATIONS:
        yield violation(what, f"grants more than an app needs (allowed: {', '.join(ALLOWED_OPERATIONS)} on "
                        f"{', '.join(ALLOWED_TYPES)})", fix)
    elif acl.resource_type == "Topic" and not acl.name.startswith(f"{TOPIC_PREFIX}."):
        yield violation(what, f"reaches a topic outside {TOPIC_PREFIX}.*", fix)
    elif acl.resource_type == "Topic" and acl.pattern == "Literal" and (wrong := topic_name_problem(acl.name)):
        yield violation(what, f"names no topic Kafka accepts: it {wrong}", fix)
    elif acl.resource_type != "Topic" and acl.pattern != "Literal":
        yield violation(what, f"grants by {acl.pattern} pattern: an app has one {acl.resource_type} of its own, "
                        "granted literally", fix)
    elif acl.resource_type != "Topic" and (wrong := client_id_problem(acl.name)):
        yield violation(what, f"the {acl.resource_type} {wrong}", "give the app its own group and transactional "
                        "id in topics.yaml")


def _replication_grant(acl: AclResource, what: str, deployment: Deployment,
                       topology: DeclaredTopology) -> Iterator[str]:
    """MirrorMaker's principal: exactly the grants the program derives for it (its mirrors, its own topics, the
    checkpointed groups, its workers' group and transactional ids), nothing else."""
    region = topology.replication_principals[acl.principal]
    environment = deployment.environment(acl.urn)
    stack_region = topology.region_of(stack_of(acl.urn))  # a home region's stack: only what it reads there
    fix = ("let the program derive the replication principal's ACLs from topics.yaml's regions "
           "(docs/regions.md, who may write a mirror)")
    try:
        grants = topology.replication_grants(environment, stack_region).get(acl.principal, frozenset())
    except TopologyError as err:
        yield violation(what, f"is for region {region}'s replication principal, whose grants cannot be derived "
                        f"in {environment}: {err}", "fix topics.yaml")
        return
    if (acl.resource_type, acl.pattern, acl.name, acl.operation) not in grants:
        where = f"{stack_region}'s cluster" if stack_region else environment
        yield violation(what, f"is not one of the grants MirrorMaker needs in {where} as region {region}'s "
                        "replication principal", fix)


def prod_app_quotas(resources: Sequence[PolicyResource], deployment: Deployment) -> Iterator[StackViolation]:
    """Every app of a protected stack has a kafka.Quota for its user (its own or its environment's default)."""
    environment, _stack = protected_stack(resources, deployment)
    if environment is None:
        return
    held = {str(r.props.get("entityName")) for r in resources
            if r.resource_type == QUOTA and r.props.get("entityType") == "user"}
    for resource in resources:
        if resource.resource_type != APP_ACCESS_TYPE:
            continue
        app, principal = str(resource.props.get("app")), str(resource.props.get("principal"))
        if username_of(principal) not in held:
            yield violation(f"app {app} ({principal})", f"has no quota in {environment}: one replay or runaway "
                            "consumer could take the brokers' network and request capacity from every other app",
                            f"give apps.{app} a quota (produce: 10MB/s, fetch: 50MB/s) in topics.yaml, or "
                            f"environments.{environment}.quotas a default"), resource.urn
