"""Plans as golden files (kafka-gitops style), the refused ones included: what a change would do to a
cluster is reviewed as data before any test of the engine."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from k2infra.model import Topology, load_topology
from k2infra.model.plan import ObservedTopic, plan_topics
from tests.conftest import ROOT, make_project
from tests.model.test_topology import check_golden

SHIPPED = (ROOT / "topics.yaml").read_text()


def observed_from(topology: Topology, change: Callable[[ObservedTopic], ObservedTopic] = lambda t: t):
    return {t.name: change(ObservedTopic(t.name, t.partitions, t.replication_factor, dict(t.config)))
            for t in topology.topics}


def topology_from(tmp_path, text: str = SHIPPED, environment: str = "dev") -> Topology:
    return load_topology(make_project(tmp_path, text) / "topics.yaml", environment)


def names(topology: Topology) -> set[str]:
    return {t.name for t in topology.topics}


def scenario(tmp_path, name: str) -> dict:
    shipped = topology_from(tmp_path / "a")
    match name:
        case "fresh-cluster":
            return plan_topics(shipped, {}, set()).to_dict()
        case "no-change":
            return plan_topics(shipped, observed_from(shipped), names(shipped)).to_dict()
        case "partitions-increase":
            grown = topology_from(tmp_path / "b", SHIPPED.replace("partitions: 30", "partitions: 36"))
            return plan_topics(grown, observed_from(shipped), names(shipped)).to_dict()
        case "partitions-decrease":
            shrunk = topology_from(tmp_path / "b", SHIPPED.replace("partitions: 40", "partitions: 20"))
            return plan_topics(shrunk, observed_from(shipped), names(shipped)).to_dict()
        case "replication-change":
            prod = topology_from(tmp_path / "b", environment="prod")
            return plan_topics(prod, observed_from(shipped), names(shipped)).to_dict()
        case "config-change":
            longer = topology_from(tmp_path / "b", SHIPPED.replace('"604800000"', '"1209600000"', 1))
            return plan_topics(longer, observed_from(shipped), names(shipped)).to_dict()
        case "exchange-removed":
            return plan_topics(without_asx(tmp_path), observed_from(shipped), names(shipped)).to_dict()
        case "exchange-decommissioned":
            text = without_asx_text().replace("    min_insync_replicas: 1\n  prod:", "    min_insync_replicas: 1\n"
                                              "    decommission:\n      - market.equities.trades.asx\n  prod:")
            return plan_topics(topology_from(tmp_path / "b", text), observed_from(shipped), names(shipped)).to_dict()
        case "decommission-in-protected-prod":
            text = without_asx_text().replace("    protected: true",
                                              "    protected: true\n    decommission: [market.equities.trades.asx]")
            prod = topology_from(tmp_path / "b", text, "prod")
            observed = observed_from(shipped, lambda t: ObservedTopic(t.name, t.partitions, 3, t.config))
            return plan_topics(prod, observed, names(shipped)).to_dict()
        case "adopt-existing":
            return plan_topics(shipped, observed_from(shipped), set()).to_dict()
    raise AssertionError(name)


def without_asx_text() -> str:
    start = SHIPPED.index("  equities:")
    end = SHIPPED.index("  crypto:")
    return SHIPPED[:start] + SHIPPED[end:]


def without_asx(tmp_path) -> Topology:
    return topology_from(tmp_path / "b", without_asx_text())


SCENARIOS = ["fresh-cluster", "no-change", "partitions-increase", "partitions-decrease", "replication-change",
             "config-change", "exchange-removed", "exchange-decommissioned", "decommission-in-protected-prod",
             "adopt-existing"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_plan_golden(tmp_path, name):
    check_golden(f"plans/{name}", scenario(tmp_path, name))


def test_a_partition_decrease_is_refused_with_the_reason_and_the_way_out(tmp_path):
    plan = scenario(tmp_path, "partitions-decrease")
    assert len(plan["refused"]) == 2  # binance trades and quotes
    assert "partitions 40 -> 20 refused" in plan["refused"][0]
    assert "Kafka cannot remove partitions" in plan["refused"][0] and "create a new topic" in plan["refused"][0]


def test_a_removed_exchange_is_retained_not_deleted(tmp_path):
    plan = scenario(tmp_path, "exchange-removed")
    assert plan["delete"] == []
    assert plan["retain"] == ["market.equities.quotes.asx", "market.equities.reference_data.asx",
                              "market.equities.trades.asx"]
    assert any("environments.dev.decommission" in w for w in plan["warnings"])


def test_only_decommissioned_topics_are_deleted(tmp_path):
    plan = scenario(tmp_path, "exchange-decommissioned")
    assert plan["delete"] == ["market.equities.trades.asx"]
    assert "market.equities.quotes.asx" in plan["retain"]


def test_protected_environment_refuses_deletion(tmp_path):
    plan = scenario(tmp_path, "decommission-in-protected-prod")
    assert plan["delete"] == [] and "protected environment prod" in plan["refused"][0]


def test_allow_removal_deletes_what_left_the_file(tmp_path):
    shipped = topology_from(tmp_path / "a")
    plan = plan_topics(without_asx(tmp_path), observed_from(shipped), names(shipped), allow_removal=True)
    assert len(plan.delete) == 3 and not plan.retain
