"""acl-least-privilege for the replication principal: exactly the grants the program derives for MirrorMaker pass
(its mirrors, its own topics, the checkpointed groups, its workers' group and transactional ids), in each region's
stack; anything beyond them fails, and the same shapes for any other principal still fail."""

from __future__ import annotations

import pytest

from k2infra.model import load_topology
from tests.policy.conftest import SHIPPED_TOPICS, exchange_topics, of
from tests.policy.test_access import acl

REGIONS = """
regions:
  us-east:
    exchanges: [crypto.binance]
  apac:
    exchanges: [equities.asx]
    aggregates: [us-east]
"""
MIRROR = "User:k2-mirror-apac"


@pytest.fixture
def regional(analyzer_for, project):
    return analyzer_for(SHIPPED_TOPICS + REGIONS)


def in_stack(stack: str, *resources):
    """The resources after a K2 component, which tells the pack the stack's environment (prod)."""
    return [exchange_topics("equities", "asx", "prod", stack), *resources]


def derived(project, region: str):
    [app] = [a for a in load_topology(project / "topics.yaml", "prod", region=region).apps
             if a.principal == MIRROR]
    return app


@pytest.mark.parametrize("region", ["apac", "us-east"])
def test_the_derived_grants_pass_in_each_regions_stack(regional, project, region):
    bindings = derived(project, region).bindings
    resources = [acl(b.principal, b.resource_type, b.name, b.operation, b.pattern, stack=f"prod-{region}")
                 for b in bindings]
    assert of("acl-least-privilege", regional.analyze_all(in_stack(f"prod-{region}", *resources))) == []
    assert {b.operation for b in bindings} == ({"Create", "Describe", "Read", "Write"} if region == "apac"
                                               else {"Describe", "Read"})


@pytest.mark.parametrize(("stack", "binding", "problem"), [
    # Nothing it could write at home: its writes belong to the aggregate's cluster.
    ("prod-us-east", (MIRROR, "Topic", "market.crypto.trades.binance", "Write"), "MirrorMaker needs in us-east"),
    ("prod-us-east", (MIRROR, "Topic", "heartbeats", "Create"), "MirrorMaker needs in us-east"),
    # No creating a mirror (K2 creates it), no cluster power, no prefix, no other group or transactional id.
    ("prod-apac", (MIRROR, "Topic", "market.crypto.trades.binance", "Create"), "MirrorMaker needs in apac"),
    ("prod-apac", (MIRROR, "Topic", "market.equities.trades.asx", "Write"), "MirrorMaker needs in apac"),
    ("prod-apac", (MIRROR, "Cluster", "kafka-cluster", "Describe"), "MirrorMaker needs"),
    ("prod-apac", (MIRROR, "Topic", "market.", "Write", "Prefixed"), "MirrorMaker needs"),
    ("prod-apac", (MIRROR, "Topic", "mm2-status.us-east.internal", "Delete"), "MirrorMaker needs"),
    ("prod-apac", (MIRROR, "Group", "asx-market-maker", "Read"), "MirrorMaker needs"),  # reads no crypto
    ("prod-apac", (MIRROR, "TransactionalID", "us-east-mm2-other-0", "Write"), "MirrorMaker needs"),
    # The same shapes for an app's principal: refused as before.
    ("prod-apac", ("User:asx-feed", "Topic", "heartbeats", "Write"), "reaches a topic outside market.*"),
    ("prod-apac", ("User:asx-feed", "Topic", "us-east.checkpoints.internal", "Create"), "grants more than"),
    ("prod-apac", ("User:asx-feed", "Topic", "market.crypto.trades.binance", "Create"), "grants more than"),
])
def test_beyond_the_derived_grants_fails(regional, stack, binding, problem):
    [violation] = of("acl-least-privilege", regional.analyze_all(in_stack(stack, acl(*binding, stack=stack))))
    assert violation.level == "mandatory" and problem in violation.message, violation.message


def test_a_stack_named_for_no_region_is_held_to_every_regions_grants(regional, project):
    grants = [b for r in ("apac", "us-east") for b in derived(project, r).bindings]
    resources = [acl(b.principal, b.resource_type, b.name, b.operation, b.pattern) for b in grants]
    assert of("acl-least-privilege", regional.analyze_all(in_stack("prod", *resources))) == []
    [found] = of("acl-least-privilege", regional.analyze_all(in_stack("prod", acl(
        MIRROR, "Topic", "market.crypto.trades.binance", "Create"))))
    assert "MirrorMaker needs in prod" in found.message
