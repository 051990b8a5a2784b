"""The plan scenarios of tests/model/test_plan.py, built from the shipped topics.yaml: each a topology, what a
cluster holds and what a stack manages. Shared with the golden files of `k2 plan`'s output (tests/cli)."""

from __future__ import annotations

import json
from collections.abc import Callable

from k2infra.model import Topology, load_topology
from k2infra.model.plan import ManagedSubject, ObservedTopic, Plan, plan_changes, plan_topics
from tests.conftest import ROOT, make_project, without_apps

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
        case "state-holds-an-internal-topic":  # a crafted or damaged state: released, so Pulumi would delete it
            managed = {**names(shipped), "__consumer_offsets": ObservedTopic("__consumer_offsets", 50, 1, {})}
            return plan_topics(shipped, observed_from(shipped), managed, released=frozenset(managed)).to_dict()
        case "throwaway-stack-holds-a-foreign-topic":
            managed = {**names(shipped), "orders.v1": ObservedTopic("orders.v1", 6, 1, {})}
            return plan_topics(shipped, observed_from(shipped), managed, allow_removal=True).to_dict()
        case "foreign-topic-in-state-retained":  # not listed: kept, never deleted
            managed = {**names(shipped), "orders.v1": ObservedTopic("orders.v1", 6, 1, {})}
            return plan_topics(shipped, observed_from(shipped), managed).to_dict()
        case "collides-with-a-cluster-topic":
            return plan_topics(shipped, {}, {}, cluster_names={"market_equities_trades_asx", "orders.v1"}).to_dict()
    raise AssertionError(name)


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
             "managed-topic-vanished", "state-holds-an-internal-topic", "throwaway-stack-holds-a-foreign-topic",
             "foreign-topic-in-state-retained", "collides-with-a-cluster-topic"]


def scenario(tmp_path, name: str) -> dict:
    """A scenario's plan, with the temporary project directory shown as <project>."""
    return json.loads(json.dumps(raw_scenario(tmp_path, name)).replace(f"{tmp_path}/", "<project>/"))
