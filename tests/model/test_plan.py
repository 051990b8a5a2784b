"""Plans as golden files (kafka-gitops style), the refused ones included: what a change would do to a
cluster is reviewed as data before any test of the engine."""

from __future__ import annotations

import json

import pytest

from k2infra.model.plan import ManagedSubject, ObservedTopic, Plan, deletable, plan_changes, plan_topics
from tests.golden import check_golden
from tests.model.plans import (
    RETENTION_CUT,
    SCENARIOS,
    SHIPPED,
    WITH_ACK,
    changed,
    names,
    observed_from,
    scenario,
    subjects_of,
    topology_from,
    without_asx,
    without_crypto_text,
)


def test_plan_golden_files_hold_no_machine_paths(tmp_path):
    text = json.dumps(scenario(tmp_path, "retention-cut"))
    assert "topics.yaml:" in text and str(tmp_path) not in text


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


# --- What K2 may touch is K2's: even a crafted state or a throwaway stack deletes nothing else --------------------

def test_an_internal_topic_in_the_state_stops_the_plan(tmp_path):
    plan = scenario(tmp_path, "state-holds-an-internal-topic")
    assert plan["delete"] == [] and plan["release"] == [] and plan["retain"] == []
    [refusal] = plan["refused"]
    assert refusal.startswith("__consumer_offsets: the stack's state holds __consumer_offsets")
    assert "never declares, changes or deletes such a topic" in refusal


@pytest.mark.parametrize("name", ["__consumer_offsets", "__transaction_state", "_schemas", "connect-offsets",
                                  "mm2-offset-syncs.eu.internal", "eu.checkpoints.internal", "heartbeats"])
def test_no_internal_topic_is_ever_deleted_whatever_lists_it(tmp_path, name):
    shipped = topology_from(tmp_path / "a")
    managed = {**names(shipped), name: ObservedTopic(name, 1, 1, {})}
    for plan in (plan_topics(shipped, observed_from(shipped), managed, allow_removal=True),
                 plan_topics(shipped, {**observed_from(shipped), name: managed[name]}, managed,
                             released=frozenset(managed))):
        assert plan.refusing and name not in plan.delete and name not in {t.name for t in plan.release}
        assert name not in deletable(shipped, plan, throwaway=True)


def test_a_throwaway_stack_deletes_no_foreign_topic(tmp_path):
    plan = scenario(tmp_path, "throwaway-stack-holds-a-foreign-topic")
    assert plan["delete"] == []
    assert plan["refused"] == ["orders.v1: deleting this topic is refused: it is not K2's (not named by topics.yaml's "
                               "naming rule, nor a declared legacy topic), so K2 never deletes it. This stack deletes "
                               "what it manages (k2:allowTopicDeletion), so remove it from the stack's state"]


def test_a_foreign_topic_in_the_state_is_kept_and_never_made_deletable(tmp_path):
    shipped = topology_from(tmp_path / "a")
    managed = {**names(shipped), "orders.v1": ObservedTopic("orders.v1", 6, 1, {})}
    plan = plan_topics(shipped, observed_from(shipped), managed, released=frozenset(managed))
    assert not plan.refusing and [t.name for t in plan.retain] == ["orders.v1"] and not plan.vanished
    assert "orders.v1" not in deletable(shipped, plan, throwaway=True)
    # Even a plan put together by hand cannot make it deletable.
    assert "orders.v1" not in deletable(shipped, Plan(release=list(plan.retain)), throwaway=False)


def test_a_foreign_subject_is_never_deleted(tmp_path):
    shipped = topology_from(tmp_path / "a")
    other = ManagedSubject("orders.v1-value", "{}", "BACKWARD")
    plan = plan_changes(shipped, observed_from(shipped), names(shipped),
                        {**subjects_of(shipped), other.subject: other}, allow_removal=True)
    assert plan.delete_subjects == []
    assert any(r.startswith("orders.v1-value: deleting this subject is refused") for r in plan.refused)


def test_an_undeclared_legacy_topic_in_the_state_is_never_deleted(tmp_path):
    shipped = topology_from(tmp_path / "a")
    # Adopted by an earlier decommission, then dropped from legacy_topics: kept, not deleted.
    bare = topology_from(tmp_path / "b", SHIPPED[:SHIPPED.index("legacy_topics:")])
    raw = ObservedTopic("market.trades.raw", 6, 1, {})
    managed = {**names(shipped), raw.name: raw}
    plan = plan_topics(bare, {**observed_from(shipped), raw.name: raw}, managed, allow_removal=True)
    assert plan.delete == [] and any(r.startswith("market.trades.raw: deleting this topic is refused")
                                     for r in plan.refused)


def test_a_topic_that_collides_with_a_cluster_topic_is_refused_not_created(tmp_path):
    plan = scenario(tmp_path, "collides-with-a-cluster-topic")
    assert "market.equities.trades.asx" not in plan["create"] and len(plan["create"]) == 5
    [refusal] = plan["refused"]
    assert refusal.startswith("market.equities.trades.asx: the cluster has the topic market_equities_trades_asx, "
                              "which collides with it in Kafka's metrics")


def test_a_topic_the_cluster_has_under_its_own_name_is_no_collision(tmp_path):
    shipped = topology_from(tmp_path / "a")
    plan = plan_topics(shipped, observed_from(shipped), names(shipped), cluster_names=set(observed_from(shipped)))
    assert not plan.refusing and len(plan.unchanged) == 6
