"""The program's safety checks under mocks: a refused change declares nothing at all."""

from __future__ import annotations

import json

import pytest

from k2infra.model import load_topology
from k2infra.model.plan import ManagedSubject, ObservedTopic
from k2infra.observed.stack_record import StackRecord
from tests.conftest import ROOT, without_apps
from tests.program.conftest import DYNAMIC, LOCAL, PROD, run_program

TOPIC = "kafka:index/topic:Topic"
SHIPPED = without_apps((ROOT / "topics.yaml").read_text())  # the tests remove exchanges the apps use


def deployed(cluster, project, change=None, released=()):
    """Make the fake cluster and the stack's state hold the shipped topology, as a previous `pulumi up` left it."""
    topo = load_topology(project / "topics.yaml", "dev")
    for t in topo.topics:
        observed = ObservedTopic(t.name, t.partitions, t.replication_factor, dict(t.config))
        cluster.topics[t.name] = change(observed) if change else observed
    for s in topo.subjects:
        cluster.schemas[s.subject] = [s.schema]
    cluster.state = StackRecord(dict(cluster.topics), {s.subject: ManagedSubject(s.subject, s.schema, s.compatibility)
                                                        for s in topo.subjects}, released=frozenset(released))


def test_partition_decrease_is_refused_before_anything_is_declared(project, cluster):
    deployed(cluster, project)
    (project / "topics.yaml").write_text(SHIPPED.replace("partitions: 40", "partitions: 12"))
    with pytest.raises(Exception, match=r"market.crypto.trades.binance: partitions 40 -> 12 refused") as raised:
        run_program(project, LOCAL)
    assert "Refused, nothing was changed" in str(raised.value)


def test_replication_change_is_refused(project, cluster):
    deployed(cluster, project)
    config = PROD
    with pytest.raises(Exception, match="replication factor 1 -> 3 refused"):
        run_program(project, config)


def test_an_exchange_removed_from_topics_yaml_keeps_its_topics(project, cluster):
    deployed(cluster, project)
    start, end = SHIPPED.index("  equities:"), SHIPPED.index("  crypto:")
    (project / "topics.yaml").write_text(SHIPPED[:start] + SHIPPED[end:])
    run = run_program(project, LOCAL)
    declared = {r.name for r in run.of_type(TOPIC)}
    assert {"market.equities.trades.asx", "market.equities.quotes.asx",
            "market.equities.reference_data.asx"} <= declared  # still declared: Pulumi deletes nothing
    assert run.outputs["retained_topics"] == ["market.equities.quotes.asx", "market.equities.reference_data.asx",
                                              "market.equities.trades.asx"]
    assert all(t["exchange"] != "asx" for t in run.outputs["topics"])  # apps no longer see them
    assert "market.equities.trades.asx" in run.outputs["managed_topics"]


def test_decommissioned_topics_are_the_only_ones_dropped(project, cluster):
    deployed(cluster, project)
    start, end = SHIPPED.index("  equities:"), SHIPPED.index("  crypto:")
    text = (SHIPPED[:start] + SHIPPED[end:]).replace(
        "    min_insync_replicas: 1\n  prod:",
        "    min_insync_replicas: 1\n    decommission: [market.equities.trades.asx]\n  prod:")
    (project / "topics.yaml").write_text(text)
    # First the listing releases the topic (declared still, without retain_on_delete)...
    run = run_program(project, LOCAL)
    assert "market.equities.trades.asx" in {r.name for r in run.of_type(TOPIC)}
    # ...then, once the state says it is released, it is the only topic dropped.
    deployed(cluster, project, released={"market.equities.trades.asx"})
    run = run_program(project, LOCAL)
    declared = {r.name for r in run.of_type(TOPIC)}
    assert "market.equities.trades.asx" not in declared
    assert "market.equities.quotes.asx" in declared


def test_existing_unmanaged_topics_are_imported(project, cluster):
    deployed(cluster, project)
    cluster.state = StackRecord()  # on the cluster, but this stack never managed them
    run = run_program(project, LOCAL)
    imported = {r.name: r.resource_id for r in run.of_type(TOPIC)}
    assert imported["market.equities.trades.asx"] == "market.equities.trades.asx"


def test_incompatible_schema_is_refused_naming_the_field(project, cluster):
    deployed(cluster, project)
    schema = json.loads((project / "schemas" / "trade.avsc").read_text())
    schema["fields"][3]["type"] = "string"  # price: double -> string
    (project / "schemas" / "trade.avsc").write_text(json.dumps(schema))
    with pytest.raises(Exception, match=r"market.equities.trades-value \(schemas/trade.avsc\): field 'price'"):
        run_program(project, LOCAL)


def test_compatible_schema_change_goes_through(project, cluster):
    deployed(cluster, project)
    schema = json.loads((project / "schemas" / "trade.avsc").read_text())
    schema["fields"].append({"name": "venue", "type": ["null", "string"], "default": None})
    (project / "schemas" / "trade.avsc").write_text(json.dumps(schema))
    run = run_program(project, LOCAL)
    subject = next(r for r in run.of_type(DYNAMIC) if r.inputs["subject"] == "market.crypto.trades-value")
    assert "venue" in subject.inputs["schema"]


def test_an_unreachable_registry_stops_the_update_before_anything_is_declared(project, cluster, monkeypatch):
    deployed(cluster, project)
    from k2infra.observed.cluster import Unreachable
    from k2infra.program import guard

    def unreachable(url, *args, **kwargs):
        raise Unreachable(f"cannot reach the schema registry at {url}")

    monkeypatch.setattr(guard, "registered_versions", unreachable)
    with pytest.raises(Exception, match=r"(?s)cannot reach the schema registry at http://127.0.0.1:8081.*"
                                        "Nothing was changed"):
        run_program(project, LOCAL)


def test_unreachable_kafka_names_the_bootstrap_servers(project, cluster):
    cluster.reachable = False
    with pytest.raises(Exception, match=r"(?s)cannot reach Kafka at 127.0.0.1:9092.*Nothing was changed"):
        run_program(project, LOCAL)


def test_checks_use_the_stack_credentials(project, cluster):
    config = {**PROD, "k2:tls": "true", "k2:saslMechanism": "scram-sha512",
              "k2:saslUsername": "k2", "k2:saslPassword": "s3cret"}
    run_program(project, config, stack="prod", secret_keys=("k2:saslPassword",))
    (conf,) = cluster.seen_configs
    assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.password"] == "s3cret"


def test_first_deploy_to_a_fresh_stack_is_not_blocked_by_an_empty_cluster(project, cluster):
    run = run_program(project, LOCAL)
    assert len(run.of_type(TOPIC)) == 6
    assert not any(r.resource_id for r in run.of_type(TOPIC))  # created, not imported


def test_docker_mode_treats_the_cluster_as_empty_only_before_its_containers_exist(project, cluster):
    cluster.reachable = False
    docker = {"k2:environment": "dev", "k2:cluster": "docker"}
    run = run_program(project, docker)  # first deploy: this update creates the containers, nothing can exist yet
    assert len(run.of_type(TOPIC)) == 6
    cluster.state = StackRecord(containers=("urn:pulumi:dev::k2::docker:index/container:Container::k2-dev-kafka",))
    with pytest.raises(Exception, match=r"(?s)cannot reach Kafka at 127.0.0.1:9092.*Nothing was changed"):
        run_program(project, docker)


def test_subjects_of_a_removed_asset_class_stay_declared_as_deployed(project, cluster):
    deployed(cluster, project)
    crypto_trades = cluster.state.subjects["market.crypto.trades-value"].schema
    (project / "topics.yaml").write_text(SHIPPED[:SHIPPED.index("  crypto:")] + SHIPPED[SHIPPED.index("data_types:"):])
    run = run_program(project, LOCAL)
    subjects = {r.inputs["subject"]: r.inputs for r in run.of_type(DYNAMIC)}
    assert len(subjects) == 6 and subjects["market.crypto.trades-value"]["schema"] == crypto_trades
    assert run.outputs["retained_subjects"] == ["market.crypto.quotes-value", "market.crypto.reference_data-value",
                                                "market.crypto.trades-value"]
    assert {s["subject"] for s in run.outputs["subjects"]} == {"market.equities.quotes-value",
                                                               "market.equities.reference_data-value",
                                                               "market.equities.trades-value"}


def test_a_retention_cut_is_refused_under_mocks_too(project, cluster):
    deployed(cluster, project)
    (project / "topics.yaml").write_text(SHIPPED.replace('retention.ms: "604800000"   # 7 days', "retention.ms: 1d"))
    with pytest.raises(Exception, match=r"(?s)Refused, nothing was changed.*market.crypto.quotes.binance: "
                                        r"retention.ms 604800000 -> 86400000 deletes every message older"):
        run_program(project, LOCAL)


def test_a_retention_cut_below_the_floor_says_no_acknowledgement_can_allow_it(project, cluster):
    deployed(cluster, project)
    (project / "topics.yaml").write_text(SHIPPED.replace('retention.ms: "604800000"   # 7 days', "retention.ms: 30m"))
    with pytest.raises(Exception, match=r"retention.ms 604800000 -> 1800000 deletes every message older than the new "
                                        r"limit.*No acknowledgement can allow it: retention.ms 1800000 is below "
                                        r"3600000 \(1 hour\)"):
        run_program(project, LOCAL)


def test_access_control_on_brokers_without_an_authorizer_is_refused(project, cluster):
    cluster.acls = None  # as observe_acls reports a cluster without an authorizer
    with pytest.raises(Exception, match=r"(?s)environment prod sets access_control, but the brokers at "
                                        r"127.0.0.1:9092 run no authorizer.*Nothing was changed"):
        run_program(project, {**PROD, "k2:tls": "true"}, stack="prod")


def test_a_crafted_state_cannot_make_the_program_delete_an_internal_topic(project, cluster):
    # Released (no retain_on_delete) and left undeclared, Pulumi would delete it: the guard stops first.
    deployed(cluster, project, released=("__consumer_offsets",))
    cluster.state.topics["__consumer_offsets"] = ObservedTopic("__consumer_offsets", 50, 1, {})
    with pytest.raises(Exception, match=r"__consumer_offsets: the stack's state holds __consumer_offsets") as raised:
        run_program(project, LOCAL)
    assert "Refused, nothing was changed" in str(raised.value)


def test_a_topic_colliding_with_one_on_the_cluster_is_refused_before_anything_is_declared(project, cluster):
    cluster.other_topics = ("market_crypto_trades_binance",)
    with pytest.raises(Exception, match=r"market.crypto.trades.binance: the cluster has the topic "
                                        r"market_crypto_trades_binance") as raised:
        run_program(project, LOCAL)
    assert "Refused, nothing was changed" in str(raised.value)
