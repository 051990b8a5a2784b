"""The MirrorConnectors component under Pulumi's mocks: one flow's three connectors, named and configured by the
contract, each on the given Connect cluster."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from k2infra.components.mirror_connectors import MirrorConnectors
from k2infra.contracts.replication import ClusterLogin
from k2infra.model.regions import ReplicationFlow
from tests.program.conftest import DYNAMIC, RecordingMocks, fresh_pulumi_runtime  # noqa: F401 (autouse fixture)

FLOW = ReplicationFlow("us-east", "apac", ("market.crypto.trades.binance",))
REFERENCE = "${file:/etc/kafka-connect/k2.properties:us-east.sasl.jaas.config}"


def declare(**kwargs: Any) -> list[Any]:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="k2", stack="prod-apac", preview=False)

    def program() -> None:
        MirrorConnectors("us-east-to-apac", FLOW, source_bootstrap_servers=pulumi.Output.from_input("use-1:9093"),
                         target_bootstrap_servers="apac-1:9092", connect_url="http://connect.apac:8083", **kwargs)

    _sync_await(run_pulumi_func(program))
    return [r for r in mocks.resources if r.typ == DYNAMIC]


def test_a_flow_declares_its_three_connectors_on_the_connect_cluster():
    connectors = {r.name: r.inputs for r in declare(groups=["risk-engine"])}
    assert set(connectors) == {"k2.us-east.apac.source", "k2.us-east.apac.checkpoint", "k2.us-east.apac.heartbeat"}
    for name, inputs in connectors.items():
        assert inputs["name"] == name == inputs["config"]["name"]
        assert inputs["connect_url"] == "http://connect.apac:8083"
        assert inputs["config"]["source.cluster.bootstrap.servers"] == "use-1:9093"
    assert connectors["k2.us-east.apac.source"]["config"]["topics"] == r"market\.crypto\.trades\.binance"
    assert connectors["k2.us-east.apac.source"]["config"]["exactly.once.support"] == "required"
    assert connectors["k2.us-east.apac.checkpoint"]["config"]["groups"] == r"risk\-engine"


def test_at_least_once_and_a_referenced_login():
    connectors = {r.name: r.inputs for r in declare(exactly_once=False, source_login=ClusterLogin(REFERENCE))}
    source = connectors["k2.us-east.apac.source"]["config"]
    assert "exactly.once.support" not in source
    assert source["source.cluster.sasl.jaas.config"] == REFERENCE
