"""A region's stack under mocks: it declares its home and mirrored topics only, reads each flow's source from the
home region's stack outputs, publishes the flows, and refuses (nothing declared) a flow whose home stack is not
deployed or whose schema ids would not decode in this region's registry. The real CLI and clusters:
tests/e2e/test_regions.py."""

from __future__ import annotations

from typing import Any

import pytest

from k2infra.backend.stack_state import StackStateError
from k2infra.model import load_topology
from k2infra.program import regions
from tests.conftest import make_project
from tests.model.test_regions import REGIONAL
from tests.program.conftest import LOCAL, run_program

TOPIC = "kafka:index/topic:Topic"
SCHEMA = '{"type": "record", "name": "Trade", "fields": []}'


def home_outputs(project, region: str, schema_id: int = 7) -> dict[str, Any]:
    topology = load_topology(project / "topics.yaml", "dev", region=region)
    return {"outputs_version": "1.2", "stack": f"dev-{region}", "environment": "dev", "region": region,
            "bootstrap_servers": f"{region}.kafka:9092", "schema_registry_url": "http://registry:8081",
            "topics": [{"name": t.name, "asset_class": t.asset_class, "data_type": t.data_type,
                        "exchange": t.exchange, "partitions": t.partitions} for t in topology.topics],
            "subjects": [{"subject": s.subject, "asset_class": s.asset_class, "data_type": s.data_type,
                          "schema_id": schema_id, "version": 1, "topics": list(s.topics), "schema": SCHEMA}
                         for s in topology.subjects]}


@pytest.fixture
def regional(tmp_path):
    return make_project(tmp_path / "regional", REGIONAL)


@pytest.fixture
def homes(regional, monkeypatch):
    """The home stacks' outputs as `pulumi stack output` would give them; the registry here knows id 7."""
    deployed = {f"dev-{r}": home_outputs(regional, r) for r in ("us-east", "eu-west")}
    asked: list[str] = []

    def read_outputs(stack: str, **_: Any) -> dict[str, Any]:
        asked.append(stack)
        if stack not in deployed:
            raise StackStateError(f"no stack named '{stack}' found", "failed")
        return deployed[stack]

    monkeypatch.setattr(regions, "read_outputs", read_outputs)
    monkeypatch.setattr(regions, "schemas_by_id", lambda url, ids, *a, **k: {i: SCHEMA if i == 7 else None
                                                                             for i in ids})
    return deployed, asked


def test_the_aggregate_declares_home_and_mirrored_topics_and_publishes_its_flows(regional, homes):
    run = run_program(regional, {**LOCAL, "k2:region": "apac"}, stack="dev-apac")
    every = load_topology(regional / "topics.yaml", "dev")
    assert {r.inputs["name"] for r in run.of_type(TOPIC)} == {t.name for t in every.topics}
    flows = {f["source"]: f for f in run.outputs["replication"]}
    assert set(flows) == {"us-east", "eu-west"} and sorted(homes[1]) == ["dev-eu-west", "dev-us-east"]
    assert flows["us-east"]["source_bootstrap_servers"] == "us-east.kafka:9092"
    assert flows["eu-west"]["topics"] == sorted(t.name for t in every.topics if t.exchange == "lse")
    assert run.outputs["region"] == "apac"
    mirrored = {t["name"] for t in run.outputs["topics"] if t.get("mirrored")}
    assert mirrored == {t.name for t in every.topics if t.exchange != "asx"}


def test_a_home_region_declares_its_own_topics_and_reads_no_other_stack(regional, homes):
    run = run_program(regional, {**LOCAL, "k2:region": "us-east"}, stack="dev-us-east")
    assert {r.inputs["name"] for r in run.of_type(TOPIC)} == {f"market.crypto.{dt}.binance"
                                                              for dt in ("trades", "quotes", "reference_data")}
    assert run.outputs["replication"] == [] and homes[1] == []


def test_a_home_stack_not_deployed_refuses_the_aggregate(regional, homes):
    del homes[0]["dev-eu-west"]
    with pytest.raises(Exception) as raised:
        run_program(regional, {**LOCAL, "k2:region": "apac"}, stack="dev-apac")
    assert "flow eu-west->apac: cannot read the outputs of eu-west's stack dev-eu-west" in str(raised.value)
    assert "pulumi up --stack dev-eu-west" in str(raised.value)


def test_a_home_stack_missing_a_copied_topic_refuses_the_aggregate(regional, homes):
    homes[0]["dev-eu-west"]["topics"] = homes[0]["dev-eu-west"]["topics"][1:]
    with pytest.raises(Exception, match=r"has not deployed market\.equities\..*\.lse yet"):
        run_program(regional, {**LOCAL, "k2:region": "apac"}, stack="dev-apac")


def test_schema_ids_that_would_not_decode_here_refuse_the_flow(regional, homes):
    for subject in homes[0]["dev-us-east"]["subjects"]:
        subject["schema_id"] = 8  # another registry's numbering: this registry has no id 8
    with pytest.raises(Exception) as raised:
        run_program(regional, {**LOCAL, "k2:region": "apac"}, stack="dev-apac")
    message = str(raised.value)
    assert "flow us-east->apac: records of market.crypto." in message and "carry schema id 8" in message
    assert "Refused, nothing was changed" in message


def test_a_stack_of_another_region_is_named(regional, homes):
    homes[0]["dev-us-east"]["region"] = "eu-west"
    with pytest.raises(Exception, match=r"stack dev-us-east is region 'eu-west''s, not us-east's"):
        run_program(regional, {**LOCAL, "k2:region": "apac"}, stack="dev-apac")


def test_with_a_connect_cluster_each_flow_becomes_three_connectors_after_its_mirrors(regional, homes):
    run = run_program(regional, {**LOCAL, "k2:region": "apac", "k2:connectUrl": "http://connect:8083"},
                      stack="dev-apac")
    connectors = {r.name: r for r in run.of_type("pulumi-python:dynamic:Resource") if r.name.startswith("k2.")}
    assert sorted(connectors) == sorted(f"k2.{src}.apac.{kind}" for src in ("us-east", "eu-west")
                                        for kind in ("source", "checkpoint", "heartbeat"))
    source = connectors["k2.eu-west.apac.source"].inputs
    assert source["connect_url"] == "http://connect:8083"
    assert source["config"]["topics"] == r"market\.equities\.quotes\.lse, market\.equities\.reference_data\.lse, " \
                                         r"market\.equities\.trades\.lse"
    assert source["config"]["source.cluster.bootstrap.servers"] == "eu-west.kafka:9092"
    checkpoint = connectors["k2.us-east.apac.checkpoint"].inputs["config"]
    assert checkpoint["groups"] == r"compliance\-monitor, crypto\-arbitrage, iceberg\-writer, reference\-loader"


def test_without_a_connect_cluster_no_connector_is_declared(regional, homes):
    run = run_program(regional, {**LOCAL, "k2:region": "apac"}, stack="dev-apac")
    assert not [r for r in run.of_type("pulumi-python:dynamic:Resource") if r.name.startswith("k2.")]
