"""The stack-output contract: one definition that the program exports and the app helpers read."""

from __future__ import annotations

import json

import pytest

from k2infra.contracts.outputs import OUTPUTS_VERSION, REGIONLESS_VERSION, StackOutputs, StackOutputsError
from tests.clients.conftest import STACK_OUTPUTS


@pytest.fixture
def data() -> dict:
    return json.loads(STACK_OUTPUTS.read_text())


def test_the_client_fixture_is_exactly_what_the_contract_exports(data):
    # The fixture cannot drift from the contract: parsed and exported again, it is unchanged.
    assert StackOutputs.parse(data, "fixture").to_json_data() == data
    assert data["outputs_version"] == REGIONLESS_VERSION  # a stack without regions: 1.1's keys exactly


def test_a_compatible_newer_version_is_read_and_its_new_keys_ignored(data):
    major = OUTPUTS_VERSION.split(".")[0]
    data |= {"outputs_version": f"{major}.7", "consumer_groups": ["x"]}
    data["subjects"][0]["owner"] = "team-a"
    outputs = StackOutputs.parse(data, "newer")
    assert outputs.outputs_version == f"{major}.7" and len(outputs.subjects) == len(data["subjects"])


def test_an_incompatible_version_is_refused_with_what_to_do(data):
    data["outputs_version"] = "2.0"
    with pytest.raises(StackOutputsError, match=r"newer: outputs_version is 2\.0, which this k2infra cannot read "
                                                r"\(it reads 1\.x\)"):
        StackOutputs.parse(data, "newer")


def test_outputs_of_stacks_older_than_the_version_field_are_read(data):
    del data["outputs_version"], data["exchanges"], data["managed_topics"], data["retained_topics"]
    outputs = StackOutputs.parse(data, "old")
    # Exchanges are implied by the topics.
    assert {(e.code, e.asset_class) for e in outputs.exchanges} == {(t.exchange, t.asset_class) for t in outputs.topics}


def test_a_deployed_stack_must_name_its_cluster_but_a_topology_view_need_not(data):
    data["schema_registry_url"] = None
    with pytest.raises(StackOutputsError, match="schema_registry_url is missing"):
        StackOutputs.parse(data, "deployed")
    view = StackOutputs.model_validate({**data, "bootstrap_servers": None}).from_source("topics.yaml")
    with pytest.raises(StackOutputsError, match=r"topics\.yaml: no bootstrap_servers and no schema_registry_url"):
        view.require_cluster()


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["topics"][0].update(partitions=True), "topics[0].partitions must be a whole number, got True"),
    (lambda d: d["topics"][0].update(partitions=-1), "topics[0].partitions must be a whole number, got -1"),
    (lambda d: d["subjects"][1].update(subject=""), "subjects[1].subject must be non-empty text, got ''"),
    (lambda d: d["subjects"][1].update(topics="x"), "subjects[1].topics must be a list, got 'x'"),
    (lambda d: d.update(exchanges=[3]), "exchanges[0] must be an object, got 3"),
])
def test_malformed_values_are_named_with_their_place(data, change, expected):
    change(data)
    with pytest.raises(StackOutputsError) as caught:
        StackOutputs.parse(data, "outputs.json")
    assert expected in str(caught.value)


def test_secrets_have_no_place_in_the_contract():
    fields = set(StackOutputs.model_fields)
    assert not {f for f in fields if "password" in f or "secret" in f or "cert" in f}


def test_a_stack_with_regions_publishes_the_version_that_has_them(data):
    flow = {"source": "us-east", "target": "apac", "topics": ["market.a.b.c"]}
    data |= {"outputs_version": OUTPUTS_VERSION, "region": "apac", "replication": [flow]}
    exported = StackOutputs.parse(data, "regions").to_json_data()
    assert exported["outputs_version"] == OUTPUTS_VERSION and exported["region"] == "apac"
    assert exported["replication"][0]["topics"] == ["market.a.b.c"]
