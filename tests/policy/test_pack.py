"""The pack as a whole: its rule table, and the program's own topologies going through every rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from policy.context import Deployment
from policy.pack import RULES, StackRule, k2_policies
from tests.conftest import FIXTURES
from tests.policy.conftest import KMS_PROVIDER, PROD_CLUSTER, derived, kafka_provider, program
from tests.policy.harness import Analyzer

ADVISORY = {"symbols-per-partition", "partitions-for-message-rate"}


def test_every_rule_is_named_once_and_mandatory_unless_it_is_advice(project: Path):
    policies = k2_policies(Deployment(project))
    assert len({p.name for p in policies}) == len(RULES) == 18
    for policy in policies:
        expected = EnforcementLevel.ADVISORY if policy.name in ADVISORY else EnforcementLevel.MANDATORY
        assert policy.enforcement_level == expected, policy.name
        assert policy.description.endswith(".")
    stack_rules = {r.name for r in RULES if isinstance(r, StackRule)}
    assert {p.name for p in policies if isinstance(p, StackValidationPolicy)} == stack_rules
    assert all(isinstance(p, ResourceValidationPolicy) for p in policies if p.name not in stack_rules)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_shipped_topology_passes_every_rule(project: Path, environment: str):
    provider = (kafka_provider("prod", tls=True, servers=PROD_CLUSTER) if environment == "prod"
                else kafka_provider("dev"))
    with (project / "Pulumi.prod.yaml").open("a") as stack_file:  # as `pulumi stack init --secrets-provider` writes
        stack_file.write(f"secretsprovider: {KMS_PROVIDER}\nencryptedkey: AQICAHh0ZXN0\n")
    topology = derived(project, environment)
    resources = program(topology, provider, stack=environment)
    # prod's apps: an AppAccess, its ACLs and its quota each
    apps = sum(2 + len(a.bindings) for a in topology.apps) if environment == "prod" else 0
    assert len(resources) == 2 + 2 + 6 + 1 + 6 + apps  # stack, provider, 2 exchanges with 3 topics, subjects
    assert Analyzer(project).analyze_all(resources) == []


def test_the_three_exchange_fixture_passes_every_rule(project: Path):
    shutil.copy(FIXTURES / "topologies" / "nyse_and_commodities.yaml", project / "topics.yaml")
    resources = program(derived(project, "dev"), kafka_provider("dev"))
    assert Analyzer(project).analyze_all(resources) == []


def test_a_prod_topology_with_one_replica_fails(project: Path):
    text = (project / "topics.yaml").read_text()
    (project / "topics.yaml").write_text(text.replace("replication_factor: 3", "replication_factor: 1")
                                         .replace("min_insync_replicas: 2", "min_insync_replicas: 1"))
    found = Analyzer(project).analyze_all(program(derived(project, "prod"), kafka_provider("prod"), stack="prod"))
    counts = {name: sum(v.policy == name for v in found) for name in {v.policy for v in found}}
    # The shipped Pulumi.prod.yaml names no secrets provider yet: a passphrase, on a file or S3 backend.
    assert counts == {"prod-replication-factor": 6, "prod-min-insync-replicas": 6,
                      "prod-kafka-transport-security": 1, "prod-no-passphrase-secrets": 1}
    assert {v.level for v in found} == {"mandatory"}
