"""acl-least-privilege: the ACLs the program derives pass; a wildcard, a topic outside market.* or a
cluster-wide operation fails."""

from __future__ import annotations

import pytest

from k2infra.model import load_topology
from tests.conftest import ROOT
from tests.policy.conftest import kafka_provider, of, stack_resource
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
])
def test_wide_or_foreign_grants_fail(analyzer: Analyzer, binding, problem):
    found = of("acl-least-privilege", analyzer.analyze_all([acl(*binding)]))
    if not problem:
        assert found == []
        return
    [violation] = found
    assert violation.level == "mandatory" and problem in violation.message
    assert "Fix: declare the app's produces/consumes in topics.yaml" in violation.message
