"""acl-least-privilege: the ACLs the program derives pass; a wildcard, a topic outside market.* or a
cluster-wide operation fails."""

from __future__ import annotations

import pytest

from k2infra.model import load_topology
from tests.conftest import ROOT
from tests.policy.conftest import app_access, kafka_provider, of, stack_resource
from tests.policy.harness import Analyzer, Resource


def acl(principal: str, resource_type: str, name: str, operation: str, pattern: str = "Literal",
        stack: str = "prod") -> Resource:
    props = {"aclPrincipal": principal, "aclHost": "*", "aclOperation": operation, "aclPermissionType": "Allow",
             "aclResourceType": resource_type, "aclResourceName": name, "resourcePatternTypeFilter": pattern}
    app = Resource("k2:access:AppAccess", principal.removeprefix("User:"), {"environment": "prod"},
                   parent=stack_resource(stack), stack=stack)
    return Resource("kafka:index/acl:Acl", f"{name}/{operation}", props, parent=app,
                    provider=kafka_provider(stack, tls=True), stack=stack)


def test_the_acls_derived_for_the_shipped_apps_pass(analyzer: Analyzer):
    apps = load_topology(ROOT / "topics.yaml", "prod").apps
    resources = [acl(b.principal, b.resource_type, b.name, b.operation, b.pattern) for a in apps for b in a.bindings]
    assert len(resources) > 40
    assert of("acl-least-privilege", analyzer.analyze_all(resources)) == []


@pytest.mark.parametrize(("binding", "problem"), [
    (("User:app", "Topic", "*", "Read"), "is a wildcard"),
    (("User:*", "Topic", "market.equities.trades.asx", "Read"), "is a wildcard"),
    (("User:app", "Topic", "internal.audit", "Read"), "reaches a topic outside market.*"),
    (("User:app", "Topic", "market.", "Read", "Prefixed"), ""),  # every market topic is still market data
    (("User:app", "Cluster", "kafka-cluster", "Alter"), "grants more than an app needs"),
    (("User:app", "Topic", "market.equities.trades.asx", "Delete"), "grants more than an app needs"),
    # Principals: the same rule as `k2 validate` (k2infra.contracts.kafka_names).
    (("User:ANONYMOUS", "Topic", "market.equities.trades.asx", "Read"), "the principal Kafka gives every "
     "unauthenticated client"),
    (("User:app\n", "Topic", "market.equities.trades.asx", "Read"), "has characters no authenticated name has"),
    (("Group:traders", "Topic", "market.equities.trades.asx", "Read"), "has principal type 'Group'"),
    (("User:", "Topic", "market.equities.trades.asx", "Read"), "is not a principal Type:name"),
    (("app", "Topic", "market.equities.trades.asx", "Read"), "is not a principal Type:name"),
    # Groups and transactional ids: literal, and no wildcard or prefix character.
    (("User:app", "Group", "*", "Read"), "is a wildcard"),
    (("User:app", "Group", "app", "Read", "Prefixed"), "grants by Prefixed pattern"),
    (("User:app", "TransactionalID", "app-tx*", "Write"), "the TransactionalID must be letters, digits"),
    (("User:app", "Group", "app\n", "Read"), "the Group must be letters, digits"),
    (("User:app", "Topic", "market.equities.trades.asx\n", "Read"), "names no topic Kafka accepts"),
])
def test_wide_or_foreign_grants_fail(analyzer: Analyzer, binding, problem):
    found = of("acl-least-privilege", analyzer.analyze_all([acl(*binding)]))
    if not problem:
        assert found == []
        return
    [violation] = found
    assert violation.level == "mandatory" and problem in violation.message
    assert violation.message.split("\n", 1)[1].isprintable()  # after the rule's description: one line
    assert "Fix: " in violation.message


def test_every_shipped_prod_app_is_held_to_a_quota(analyzer: Analyzer):
    topology = load_topology(ROOT / "topics.yaml", "prod")
    provider = kafka_provider("prod", tls=True)
    resources = [stack_resource("prod"), provider]
    for app in topology.apps:
        resources += app_access(app, "prod", provider, "prod")
    assert sum(r.type == "kafka:index/quota:Quota" for r in resources) == 8
    assert of("prod-app-quota", analyzer.analyze_stack(resources)) == []


def test_a_prod_app_without_a_quota_is_refused_and_named(analyzer: Analyzer):
    topology = load_topology(ROOT / "topics.yaml", "prod")
    provider = kafka_provider("prod", tls=True)
    resources = [stack_resource("prod"), provider]
    for app in topology.apps:
        resources += app_access(app, "prod", provider, "prod", quota=app.name != "crypto-arbitrage")
    [found] = of("prod-app-quota", analyzer.analyze_stack(resources))
    assert found.level == "mandatory"
    assert "\napp crypto-arbitrage (User:crypto-arbitrage): has no quota in prod: one replay" in found.message
    assert "Fix: give apps.crypto-arbitrage a quota" in found.message and "environments.prod.quotas" in found.message


def test_a_dev_app_needs_no_quota(analyzer: Analyzer):
    app = load_topology(ROOT / "topics.yaml", "dev").apps[3]
    provider = kafka_provider("dev")
    resources = [stack_resource("dev"), provider, *app_access(app, "dev", provider, "dev", quota=False)]
    assert of("prod-app-quota", analyzer.analyze_stack(resources)) == []
