"""Plans as golden files (kafka-gitops style), the refused ones included: what a change would do to a
cluster is reviewed as data before any test of the engine."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from k2infra.model import Topology, load_topology
from k2infra.model.plan import ManagedSubject, ObservedTopic, Plan, deletable, plan_changes, plan_topics
from tests.conftest import ROOT, make_project, without_apps
from tests.model.test_topology import check_golden

SHIPPED = without_apps((ROOT / "topics.yaml").read_text())  # the tests remove exchanges the apps use


def observed_from(topology: Topology, change: Callable[[ObservedTopic], ObservedTopic] = lambda t: t):
    return {t.name: change(ObservedTopic(t.name, t.partitions, t.replication_factor, dict(t.config)))
            for t in topology.topics}


def topology_from(tmp_path, text: str = SHIPPED, environment: str = "dev") -> Topology:
    return load_topology(make_project(tmp_path, text) / "topics.yaml", environment)


def names(topology: Topology) -> dict[str, ObservedTopic]:
    """What a stack that deployed `topology` manages (its state), as the plan reads it."""
    return observed_from(topology)


def subjects_of(topology: Topology) -> dict[str, ManagedSubject]:
    return {s.subject: ManagedSubject(s.subject, s.schema, s.compatibility) for s in topology.subjects}


def changed(tmp_path, text: str, environment: str = "dev", released=frozenset()) -> Plan:
    """The plan for `text` on a cluster and stack that hold the shipped topology."""
    shipped = topology_from(tmp_path / "a")
    return plan_changes(topology_from(tmp_path / "b", text, environment), observed_from(shipped), names(shipped),
                        subjects_of(shipped), released=released)


WITH_ACK = """
acknowledged_data_loss:
  - topics: [market.*.trades.*, market.equities.quotes.asx]
    change: retention.ms
    to: 1h
    reason: "K2-142: trades are archived to Iceberg within minutes"
"""
RETENTION_CUT = SHIPPED.replace('retention.ms: "604800000"   # 7 days', 'retention.ms: 1h')


def raw_scenario(tmp_path, name: str) -> dict:
    shipped = topology_from(tmp_path / "a")
    match name:
        case "fresh-cluster":
            return plan_topics(shipped, {}, set()).to_dict()
        case "no-change":
            return plan_topics(shipped, observed_from(shipped), names(shipped)).to_dict()
        case "partitions-increase":
            grown = topology_from(tmp_path / "b", SHIPPED.replace("partitions: 30", "partitions: 36"))
            return plan_topics(grown, observed_from(shipped), names(shipped)).to_dict()
        case "partitions-increase-interrupted":  # Kafka applied it; the killed update recorded nothing
            grown = topology_from(tmp_path / "b", SHIPPED.replace("partitions: 30", "partitions: 36"))
            return plan_topics(grown, observed_from(grown), names(shipped)).to_dict()
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
            return plan_topics(shipped, observed_from(shipped), {}).to_dict()
        case "retention-cut":
            return changed(tmp_path, RETENTION_CUT).to_dict()
        case "retention-cut-acknowledged":
            return changed(tmp_path, RETENTION_CUT + WITH_ACK).to_dict()
        case "cleanup-policy-change":
            return changed(tmp_path, SHIPPED.replace('cleanup.policy: "compact"', 'cleanup.policy: "delete"')).to_dict()
        case "asset-class-removed":
            return changed(tmp_path, without_crypto_text()).to_dict()
        case "asset-class-decommissioned":
            listed = ("    decommission: [market.crypto.trades.binance, market.crypto.quotes.binance, "
                      "market.crypto.reference_data.binance,\n                   market.crypto.trades-value]\n  prod:")
            text = without_crypto_text().replace("    min_insync_replicas: 1\n  prod:",
                                                 "    min_insync_replicas: 1\n" + listed)
            return changed(tmp_path, text).to_dict()
        case "asset-class-decommissioned-released":
            listed = ("    decommission: [market.crypto.trades.binance, market.crypto.trades-value]\n  prod:")
            text = without_crypto_text().replace("    min_insync_replicas: 1\n  prod:",
                                                 "    min_insync_replicas: 1\n" + listed)
            return changed(tmp_path, text, released={"market.crypto.trades.binance", "market.crypto.trades-value"}
                           ).to_dict()
        case "managed-topic-vanished":
            shipped_names = names(shipped)
            observed = {k: v for k, v in observed_from(shipped).items() if k != "market.equities.quotes.asx"}
            return plan_topics(without_asx(tmp_path), observed, shipped_names).to_dict()
    raise AssertionError(name)


def test_plan_golden_files_hold_no_machine_paths(tmp_path):
    text = json.dumps(scenario(tmp_path, "retention-cut"))
    assert "topics.yaml:" in text and str(tmp_path) not in text


def without_asx_text() -> str:
    start = SHIPPED.index("  equities:")
    end = SHIPPED.index("  crypto:")
    return SHIPPED[:start] + SHIPPED[end:]


def without_crypto_text() -> str:
    start = SHIPPED.index("  crypto:")
    end = SHIPPED.index("data_types:")
    return SHIPPED[:start] + SHIPPED[end:]


def without_asx(tmp_path) -> Topology:
    return topology_from(tmp_path / "b", without_asx_text())


SCENARIOS = ["fresh-cluster", "no-change", "partitions-increase", "partitions-increase-interrupted",
             "partitions-decrease", "replication-change",
             "config-change", "exchange-removed", "exchange-decommissioned", "decommission-in-protected-prod",
             "adopt-existing", "retention-cut", "retention-cut-acknowledged", "cleanup-policy-change",
             "asset-class-removed", "asset-class-decommissioned", "asset-class-decommissioned-released",
             "managed-topic-vanished"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_plan_golden(tmp_path, name):
    check_golden(f"plans/{name}", scenario(tmp_path, name))


def scenario(tmp_path, name: str) -> dict:
    """A scenario's plan, with the temporary project directory shown as <project>."""
    return json.loads(json.dumps(raw_scenario(tmp_path, name)).replace(f"{tmp_path}/", "<project>/"))


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


def test_a_retention_cut_is_refused_naming_the_line_to_edit(tmp_path):
    plan = changed(tmp_path, RETENTION_CUT)
    assert plan.refusing and not plan.refused
    assert {c.topic for c in plan.losses} == {t for t in names(topology_from(tmp_path / "c")) if ".quotes." in t
                                              or ".trades." in t}
    trades = next(c for c in plan.losses if c.topic == "market.equities.trades.asx")
    assert (trades.change, trades.old, trades.new) == ("retention.ms", "604800000", "3600000")
    line = next(i for i, text in enumerate(RETENTION_CUT.splitlines(), 1) if "retention.ms: 1h" in text)
    assert trades.origin.endswith(f"topics.yaml:{line}: data_types.trades.config.retention.ms")


def test_an_acknowledgement_covers_exactly_the_topics_and_value_it_names(tmp_path):
    plan = changed(tmp_path, RETENTION_CUT + WITH_ACK)
    assert sorted(c.topic for c, _ in plan.acknowledged) == ["market.crypto.trades.binance",
                                                             "market.equities.quotes.asx", "market.equities.trades.asx"]
    assert [c.topic for c in plan.losses] == ["market.crypto.quotes.binance"]  # not named: still refused
    assert all(a.reason.startswith("K2-142") for _, a in plan.acknowledged)
    further = changed(tmp_path, RETENTION_CUT.replace("retention.ms: 1h", "retention.ms: 30m") + WITH_ACK)
    assert not further.acknowledged and len(further.losses) == 4  # a deeper cut is not the one acknowledged


def test_an_acknowledgement_with_nothing_left_to_change_is_reported_as_stale(tmp_path):
    plan = changed(tmp_path, SHIPPED + WITH_ACK)
    assert not plan.refusing
    assert any("which no topic of this stack is about to change" in w for w in plan.warnings)


def test_raising_a_limit_is_not_a_loss(tmp_path):
    plan = changed(tmp_path, SHIPPED.replace('retention.ms: "604800000"   # 7 days', "retention.ms: 14d"))
    assert not plan.refusing and len(plan.update) == 4


def test_a_subject_is_retained_while_its_topics_are(tmp_path):
    plan = changed(tmp_path, without_crypto_text())
    assert [t.name for t in plan.retain] == ["market.crypto.quotes.binance", "market.crypto.reference_data.binance",
                                             "market.crypto.trades.binance"]
    assert [s.subject for s in plan.retain_subjects] == ["market.crypto.quotes-value",
                                                         "market.crypto.reference_data-value",
                                                         "market.crypto.trades-value"]
    assert plan.retain_subjects[2].topics == ("market.crypto.trades.binance",)
    shipped = {s.subject: s for s in topology_from(tmp_path / "c").subjects}
    assert plan.retain_subjects[2].schema == shipped["market.crypto.trades-value"].schema  # as last declared
    assert not plan.delete_subjects and not plan.refusing


def test_a_subject_listed_while_its_topic_is_retained_is_kept(tmp_path):
    text = without_crypto_text().replace("    min_insync_replicas: 1\n  prod:",
                                         "    min_insync_replicas: 1\n    decommission: [market.crypto.trades-value]"
                                         "\n  prod:")
    plan = changed(tmp_path, text)
    assert "market.crypto.trades-value" in [s.subject for s in plan.retain_subjects]
    assert any("retained topics still use it (market.crypto.trades.binance)" in w for w in plan.warnings)


def test_decommissioning_takes_a_release_then_a_delete(tmp_path):
    first = scenario(tmp_path / "1", "asset-class-decommissioned")
    assert first["release"] == ["market.crypto.quotes.binance", "market.crypto.reference_data.binance",
                                "market.crypto.trades.binance"]
    assert first["release_subjects"] == ["market.crypto.trades-value"] and first["delete"] == []
    second = scenario(tmp_path / "2", "asset-class-decommissioned-released")
    assert second["delete"] == ["market.crypto.trades.binance"]
    assert second["delete_subjects"] == ["market.crypto.trades-value"]  # softly, together with its last topic
    # The subject goes only with its last topic: quotes and reference data are still retained.
    both = changed(tmp_path / "3", without_crypto_text().replace(
        "    min_insync_replicas: 1\n  prod:",
        "    min_insync_replicas: 1\n    decommission: [market.crypto.trades.binance, market.crypto.trades-value,"
        " market.crypto.quotes-value]\n  prod:"), released={"market.crypto.trades.binance",
                                                          "market.crypto.trades-value", "market.crypto.quotes-value"})
    assert both.delete_subjects == ["market.crypto.trades-value"]
    assert "market.crypto.quotes-value" in [s.subject for s in both.retain_subjects]


def test_a_protected_environment_never_deletes_a_subject(tmp_path):
    shipped = topology_from(tmp_path / "a")
    text = without_crypto_text().replace("    protected: true",
                                         "    protected: true\n    decommission: [market.crypto.trades-value]")
    prod = topology_from(tmp_path / "b", text, "prod")
    observed = observed_from(shipped, lambda t: ObservedTopic(t.name, t.partitions, 3, t.config))
    managed = {n: o for n, o in observed.items() if "crypto" not in n}  # topics long gone; subject still managed
    plan = plan_changes(prod, observed, managed, subjects_of(shipped))
    assert plan.delete_subjects == [] and any("deleting a subject in the protected environment prod" in r
                                               for r in plan.refused)


def test_a_vanished_managed_topic_is_reported_and_still_declared(tmp_path):
    plan = scenario(tmp_path, "managed-topic-vanished")
    assert plan["vanished"] == ["market.equities.quotes.asx"]
    assert "market.equities.quotes.asx" in plan["retain"]


def test_only_released_or_throwaway_resources_lose_retain_on_delete(tmp_path):
    shipped = topology_from(tmp_path / "a")
    first = changed(tmp_path / "x", without_crypto_text().replace(
        "    min_insync_replicas: 1\n  prod:", "    min_insync_replicas: 1\n    decommission: "
        "[market.crypto.trades.binance]\n  prod:"))
    assert deletable(shipped, first, throwaway=False) == {"market.crypto.trades.binance"}
    everything = deletable(shipped, Plan(), throwaway=True)
    assert everything == {t.name for t in shipped.topics} | {s.subject for s in shipped.subjects}
    prod = topology_from(tmp_path / "p", environment="prod")
    assert deletable(prod, first, throwaway=True) == set()
