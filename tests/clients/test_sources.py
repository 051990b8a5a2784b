"""Stack outputs from each source, and errors that name what is missing or malformed."""

from __future__ import annotations

import json
import os

import pytest

from k2infra.clients import (
    ENV_VAR,
    LiveStack,
    StackOutputsError,
    get_topic_builder,
    load_stack_outputs,
)
from k2infra.model import load_topology
from tests.clients.conftest import STACK_OUTPUTS
from tests.conftest import ROOT


def test_the_json_of_pulumi_stack_output_gives_the_cluster_and_the_topology(outputs_json):
    outputs = load_stack_outputs(outputs_json)
    assert outputs.bootstrap_servers == "127.0.0.1:9092"
    assert outputs.schema_registry_url == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert outputs.security_protocol == "PLAINTEXT"
    assert {t.name: t.partitions for t in outputs.topics} == \
        {t["name"]: t["partitions"] for t in outputs_json["topics"]}
    trades = next(s for s in outputs.subjects if s.subject == "market.equities.trades-value")
    assert (trades.schema_id, trades.version, trades.partition_key) == (3, 1, "symbol")
    assert trades.topics == ("market.equities.trades.asx", "market.equities.trades.nyse")
    assert {e.code for e in outputs.exchanges} == {"asx", "nyse", "binance", "coinbase"}


def test_json_text_a_file_and_the_environment_variable_give_the_same_outputs(outputs_json, monkeypatch, tmp_path):
    from_mapping = load_stack_outputs(outputs_json)
    monkeypatch.chdir(tmp_path)  # no ./topics.yaml to fall back on
    monkeypatch.setenv(ENV_VAR, str(STACK_OUTPUTS))
    for source in (STACK_OUTPUTS.read_text(), STACK_OUTPUTS, str(STACK_OUTPUTS), None):
        loaded = load_stack_outputs(source)
        assert (loaded.topics, loaded.subjects, loaded.bootstrap_servers) == (
            from_mapping.topics, from_mapping.subjects, from_mapping.bootstrap_servers)
    assert ENV_VAR in load_stack_outputs(None).source


def test_without_the_variable_topics_yaml_in_the_working_directory_is_used(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(ROOT)
    outputs = load_stack_outputs(None, environment="dev")
    model = load_topology(ROOT / "topics.yaml", "dev")
    assert {t.name: t.partitions for t in outputs.topics} == {t.name: t.partitions for t in model.topics}
    assert [s.subject for s in outputs.subjects] == [s.subject for s in model.subjects]
    assert all(s.schema_id is None and s.version is None for s in outputs.subjects)  # latest version is used
    assert outputs.bootstrap_servers is None
    with pytest.raises(StackOutputsError, match="no bootstrap_servers and no schema_registry_url"):
        outputs.require_cluster()
    assert outputs.with_cluster("h:1", "http://r").require_cluster() == ("h:1", "http://r")


def test_no_source_at_all_says_where_outputs_are_looked_for(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StackOutputsError, match=rf"\${ENV_VAR} is not set and there is no ./topics.yaml"):
        get_topic_builder()


def test_the_variable_naming_a_missing_file_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "dev.json"))
    with pytest.raises(StackOutputsError, match=rf"\${ENV_VAR} names .*dev.json, which is not a file"):
        load_stack_outputs()


def test_every_missing_or_malformed_output_is_named(outputs_json):
    del outputs_json["bootstrap_servers"]
    del outputs_json["subjects"]
    outputs_json["topics"][2]["partitions"] = "thirty"
    del outputs_json["topics"][5]["exchange"]
    with pytest.raises(StackOutputsError) as caught:
        load_stack_outputs(outputs_json)
    message = str(caught.value)
    assert "bootstrap_servers is missing" in message
    assert "subjects is missing" in message
    assert "topics[2].partitions must be a whole number, got 'thirty'" in message
    assert "topics[5].exchange is missing" in message
    assert "pulumi stack output --json" in message


@pytest.mark.parametrize(("text", "expected"), [
    ("{}", "no outputs at all: has the stack been deployed"),
    ("[1, 2]", "not a JSON object but list"),
    ('{"topics": ', "not valid JSON (line 1"),
    ('{"topics": 3, "subjects": [], "bootstrap_servers": "h:1", "schema_registry_url": "u"}',
     "topics must be a list, got 3"),
])
def test_malformed_json_is_refused_with_the_reason(tmp_path, text, expected):
    path = tmp_path / "outputs.json"
    path.write_text(text)
    with pytest.raises(StackOutputsError, match=r"outputs\.json") as caught:
        load_stack_outputs(path)
    assert expected in str(caught.value)


def test_a_stack_outputs_file_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "outputs.json"
    os.mkfifo(fifo)  # nothing ever writes to it: reading it would block
    for path in (fifo, "/dev/zero", tmp_path):
        with pytest.raises(StackOutputsError, match=r"cannot read it: is (not a regular file|a directory)"):
            load_stack_outputs(path)


def test_a_stack_outputs_file_that_is_not_utf8_or_too_deep_is_refused(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_bytes(b'{"topics":\n "caf\xe9"}')
    with pytest.raises(StackOutputsError, match=r"outputs\.json: cannot read it \(line 2\): byte 0xe9 at column 6"):
        load_stack_outputs(path)
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(StackOutputsError, match="nested too deeply"):
        load_stack_outputs(path)


def test_keys_a_later_program_adds_are_ignored(outputs_json):
    outputs_json["future_output"] = {"anything": 1}
    outputs_json["topics"][0]["owner"] = "team-a"
    assert len(load_stack_outputs(outputs_json).topics) == len(outputs_json["topics"])


def test_a_broken_topics_yaml_reports_its_file_and_line(tmp_path):
    bad = tmp_path / "topics.yaml"
    bad.write_text("asset_classes:\n  equities:\n    exchanges: {}\ndata_types: {}\n")
    with pytest.raises(StackOutputsError, match=r"topics.yaml:\d+"):
        load_stack_outputs(bad)


def test_a_live_stack_without_pulumi_installed_says_what_to_do_instead(monkeypatch, tmp_path):
    # A live stack is read through the pulumi CLI (k2infra.backend.stack_state): as if it were not installed.
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackOutputsError, match=f"needs the pulumi CLI.*{ENV_VAR}"):
        LiveStack("dev").load()


def test_a_live_stack_that_does_not_exist_is_named(tmp_path, monkeypatch):
    pytest.importorskip("pulumi")
    (tmp_path / "Pulumi.yaml").write_text("name: k2-unit\nruntime: python\n")
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE": "unit"}
    with pytest.raises(StackOutputsError, match=r"pulumi stack 'nope' in .*: cannot read its outputs: "
                                                r"error: no stack named 'nope'"):
        LiveStack("nope", tmp_path, env).load()


def test_outputs_from_a_mapping_round_trip_through_json(outputs_json):
    assert load_stack_outputs(json.dumps(outputs_json)).topics == load_stack_outputs(outputs_json).topics
