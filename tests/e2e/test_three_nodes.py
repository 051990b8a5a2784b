"""Tests on one real three-node KRaft cluster, shared by the module (its start is a fifth of the module's time):

- the prod environment's settings: replication 3, min ISR 2;
- durability under failure, with the prod settings: the trades profile (acks=all, idempotent) and the quotes profile
  (acks=1) produce steadily through the app helpers while the broker leading the busiest trades partitions is killed
  with SIGKILL and restarted, then a different broker the same way (bench/durability.py's drill, smaller). A
  consumer reads everything back: every acknowledged trade is there exactly once and in per-symbol order; the
  quotes lost are counted (the design accepts them); the producer's stall at each failover is measured. The
  figures are printed (`pytest -s` shows them).

The prod-settings test runs first and leaves the cluster whole and empty of market.* topics and subjects, as the
drill expects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from bench.durability import Drill, prepare, topic_of
from k2infra.clients import DataType
from k2infra.contracts.failover import BROKER_SETTINGS, slow_failover_warning
from k2infra.local import LocalPlatform, PlatformState
from k2infra.observed.cluster import observe_cluster
from k2infra.observed.stack_record import parse_export
from tests.conftest import ROOT
from tests.e2e.conftest import empty_platform, topic_configs, topics_on_cluster

SHIPPED = (ROOT / "topics.yaml").read_text()


@dataclass
class Cluster:
    platform: LocalPlatform
    state: PlatformState


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    platform = LocalPlatform(tmp_path_factory.mktemp("three-nodes") / "platform")
    state = platform.up(nodes=3, kafka_port=None, registry_port=None)
    try:
        yield Cluster(platform, state)
    finally:
        platform.down(wipe=True)


def test_prod_settings_apply_on_three_nodes(cluster: Cluster, new_stack):
    state = cluster.state
    admin = AdminClient({"bootstrap.servers": state.bootstrap_servers})
    try:
        assert len(admin.list_topics(timeout=10).brokers) == 3
        # K2's brokers fence a dead one within 2 s, as the brokers themselves report (what `k2 plan` reads).
        detection = observe_cluster(cluster.state.client_config(), timeout=60, brokers=True).failure_detection
        assert detection == BROKER_SETTINGS and slow_failover_warning(detection) is None
        stack = new_stack("three-nodes")
        for key, value in {"k2:environment": "prod", "k2:bootstrapServers": state.bootstrap_servers,
                           "k2:schemaRegistryUrl": state.schema_registry_url}.items():
            stack.run("config", "set", key, value)
        # These brokers run no authorizer: prod's ACLs could not be applied, so nothing is.
        refused = stack.up(check=False)
        assert refused.returncode != 0 and "run no authorizer" in refused.stdout + refused.stderr
        assert topics_on_cluster(admin) == {}
        stack.set_topology(SHIPPED.replace("    access_control: true", "    access_control: false"))
        stack.up()
        topics = admin.list_topics(timeout=10).topics
        assert len(topics_on_cluster(admin)) == 6
        for name in topics_on_cluster(admin):
            assert {len(p.replicas) for p in topics[name].partitions.values()} == {3}, name
            assert topic_configs(admin, name)["min.insync.replicas"] == "2"
        # Prod resources are protected: destroy refuses until they are unprotected on purpose...
        assert stack.run("destroy", "--yes", check=False).returncode != 0
        assert len(topics_on_cluster(admin)) == 6
        stack.run("state", "unprotect", "--all", "--yes")
        stack.run("destroy", "--yes")
        # ...and even then Pulumi only forgets them: retain_on_delete keeps every topic and its data.
        assert len(topics_on_cluster(admin)) == 6
        assert parse_export(json.loads(stack.run("stack", "export").stdout)).empty
    finally:  # the drill below starts from an empty cluster
        registry = SchemaRegistryClient({"url": state.schema_registry_url, "timeout": 30})
        empty_platform(admin, registry, state.schema_registry_url)


RATE = 400  # records/s per profile: steady, and light enough for 2 busy cores beside three brokers


@pytest.fixture(scope="module")
def drill(cluster: Cluster) -> dict[str, Any]:
    """The failover drill on the module's cluster, after the prod-settings test left it empty."""
    outputs = prepare(cluster.state)
    admin = AdminClient(cluster.state.client_config())
    metadata = admin.list_topics(timeout=30)
    settings = {t: ({len(p.replicas) for p in metadata.topics[t].partitions.values()},
                    topic_configs(admin, t)["min.insync.replicas"])
                for t in (topic_of(DataType.TRADES), topic_of(DataType.QUOTES))}
    results = Drill(cluster.platform, cluster.state, outputs, {DataType.TRADES: RATE, DataType.QUOTES: RATE},
                    runs=2, warm_up=3.0, after=2.0).run()
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}, indent=1))
    return {**results, "settings": settings}


def test_the_topics_have_the_prod_settings(drill: dict[str, Any]):
    assert drill["settings"] == {topic_of(dt): ({3}, "2") for dt in (DataType.TRADES, DataType.QUOTES)}


def test_each_run_killed_the_busiest_leader_another_broker_each_time(drill: dict[str, Any]):
    first, second = drill["runs"]
    assert first["killed_node"] != second["killed_node"]
    for run, spared in ((first, set()), (second, {first["killed_node"]})):
        shares = {n: v for n, v in run["trades_share_by_node"].items() if n > 0 and n not in spared}
        assert run["killed_node"] == max(shares, key=shares.__getitem__), run  # it led the most trades
        assert run["led_partitions"]["trades"] and run["under_replicated_while_down"] > 0, run
    for run in drill["runs"]:
        print(f"run {run['run']}: node {run['killed_node']} killed, acknowledgements resumed within "
              f"{run['acks_resumed_within_s']}s, restarted in {run['restart_s']}s")


def test_every_acknowledged_trade_is_read_back_exactly_once_in_per_symbol_order(drill: dict[str, Any]):
    trades = drill["profiles"]["trades"]
    assert trades["sent"] > RATE * 10
    assert (trades["failed"], trades["acknowledged"]) == (0, trades["sent"]), trades["failures"]
    assert trades["lost"] == 0, trades["lost_examples"]
    assert trades["duplicated"] == 0  # idempotence: retries after the failover wrote nothing twice
    assert trades["out_of_order"] == 0
    assert trades["read_back"] == trades["distinct_read"] == trades["acknowledged"]  # nothing else either


def test_the_producer_stall_at_each_failover_is_measured(drill: dict[str, Any]):
    for profile in ("trades", "quotes"):
        stalls = drill["profiles"][profile]["stalls"]
        assert [s["run"] for s in stalls] == [1, 2]
        for stall in stalls:
            assert 0 < stall["stall_s"] < 180 and 0 < (stall["failover_s"] or 0) < 180, stall
            print(f"{profile}: node {stall['killed_node']} killed, longest time without an acknowledgement "
                  f"{stall['stall_s']}s, its partitions failed over in {stall['failover_s']}s")


def test_quotes_lost_at_failover_are_counted(drill: dict[str, Any]):
    quotes = drill["profiles"]["quotes"]
    assert quotes["sent"] > RATE * 10
    assert quotes["acknowledged"] + quotes["failed"] == quotes["sent"]
    assert quotes["read_back"] == quotes["distinct_read"] + quotes["duplicated"]
    assert 0 <= quotes["lost"] <= quotes["acknowledged"]
    print(f"quotes (acks=1): {quotes['sent']} sent, {quotes['acknowledged']} acknowledged, "
          f"{quotes['read_back']} read back, {quotes['lost']} acknowledged quotes lost, "
          f"{quotes['duplicated']} duplicated, {quotes['out_of_order']} out of order")
