"""The MirrorMaker connector provider without a Connect cluster: what its diff reports (what a preview shows),
what check refuses, when a connector counts as running as declared, how a failed task and an unreachable cluster
are worded. The real Connect worker is in tests/e2e/test_connect_mirror.py."""

from __future__ import annotations

import pickle

import pytest

from k2infra.contracts.replication import Kind, MirrorFlow, RegionCluster, connector_configs, connector_name
from k2infra.observed.failures import NotFound, Unreachable, connect_failure
from k2infra.providers import mirror_connector
from k2infra.providers.mirror_connector import (
    ConnectorFailed,
    MirrorConnectorProvider,
    _NotYet,
    config_changes,
    running_as_declared,
    summarise_trace,
)

URL = "http://127.0.0.1:8083"
FLOW = MirrorFlow(RegionCluster("us-east", "use-1:9092"), RegionCluster("apac", "apac-1:9092"),
                  ("market.crypto.trades.binance",))
SOURCE = connector_name(FLOW, Kind.SOURCE)
CONFIG = connector_configs(FLOW)[SOURCE]
PROPS = {"connect_url": URL, "name": SOURCE, "config": CONFIG}
TRACE = """org.apache.kafka.connect.errors.ConnectException: Failed to create producer
\tat org.apache.kafka.connect.runtime.Worker.buildWorkerTask(Worker.java:700)
\t... 5 more
Caused by: org.apache.kafka.common.KafkaException: Failed to construct kafka producer
\tat org.apache.kafka.clients.producer.KafkaProducer.<init>(KafkaProducer.java:473)
Caused by: org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed for user mm2
\tat org.apache.kafka.common.security.authenticator.SaslClientAuthenticator.handle(SaslClientAuthenticator.java:1)
"""


def with_topics(*topics: str) -> dict:
    grown = MirrorFlow(FLOW.source, FLOW.target, topics)
    return {**PROPS, "config": connector_configs(grown)[SOURCE]}


def test_a_new_topic_is_an_update_of_the_topics_key():
    news = with_topics("market.crypto.trades.binance", "market.crypto.trades.coinbase")
    diff = MirrorConnectorProvider().diff(SOURCE, PROPS, news)
    assert diff.changes and not diff.replaces
    assert config_changes(PROPS["config"], news["config"]) == ["topics"]


def test_the_same_config_is_no_change():
    diff = MirrorConnectorProvider().diff(SOURCE, PROPS, {**PROPS, "config": dict(CONFIG)})
    assert not diff.changes


def test_a_key_removed_or_added_is_a_change():
    fewer = {k: v for k, v in CONFIG.items() if k != "tasks.max"}
    assert config_changes(CONFIG, fewer) == ["tasks.max"]
    assert config_changes(fewer, CONFIG) == ["tasks.max"]


@pytest.mark.parametrize("key", ["name", "connect_url"])
def test_another_name_or_connect_cluster_replaces_the_old_connector_first(key):
    news = {**PROPS, key: "k2.x.y.source" if key == "name" else "http://other:8083"}
    diff = MirrorConnectorProvider().diff(SOURCE, PROPS, news)
    assert diff.changes and diff.replaces == [key] and diff.delete_before_replace


def test_check_refuses_a_connector_k2_did_not_name_and_a_config_naming_another():
    provider = MirrorConnectorProvider()
    assert not provider.check({}, PROPS).failures
    refused = provider.check({}, {**PROPS, "name": "mm2-source"}).failures
    assert [f.property for f in refused] == ["name", "config"]
    assert [f.property for f in provider.check({}, {**PROPS, "connect_url": "127.0.0.1:8083"}).failures] == [
        "connect_url"]


def test_delete_refuses_another_teams_connector():
    with pytest.raises(ConnectorFailed, match="only the connectors it named"):
        MirrorConnectorProvider().delete("mm2-source", PROPS)


def status(*task_states: str, connector: str = "RUNNING", trace: str = "") -> dict:
    tasks = [{"id": i, "state": s, "worker_id": "w1:8083", "trace": trace} for i, s in enumerate(task_states)]
    return {"name": SOURCE, "connector": {"state": connector, "worker_id": "w1:8083"}, "tasks": tasks}


def tasks(count: int, config: dict = CONFIG) -> list[dict]:
    return [{"id": {"connector": SOURCE, "task": i}, "config": {**config, "task.index": str(i)}} for i in range(count)]


def test_running_means_the_connector_and_every_task_with_the_declared_config():
    running_as_declared(SOURCE, CONFIG, status("RUNNING"), tasks(1))
    with pytest.raises(_NotYet, match="task 0 UNASSIGNED"):
        running_as_declared(SOURCE, CONFIG, status("UNASSIGNED"), tasks(1))
    with pytest.raises(_NotYet, match="no task yet"):
        running_as_declared(SOURCE, CONFIG, status(), [])
    with pytest.raises(_NotYet, match="earlier config"):  # the tasks from before an update, still running
        running_as_declared(SOURCE, with_topics("a", "b")["config"], status("RUNNING"), tasks(1))
    with pytest.raises(_NotYet, match="not list it"):
        running_as_declared(SOURCE, CONFIG, None, None)


def test_a_checkpoint_connector_may_run_without_tasks():
    name = connector_name(FLOW, Kind.CHECKPOINT)
    running_as_declared(name, connector_configs(FLOW)[name], status(), [])


def test_a_failed_task_is_reported_with_its_trace_summarised():
    with pytest.raises(ConnectorFailed) as failed:
        running_as_declared(SOURCE, CONFIG, status("FAILED", trace=TRACE), tasks(1))
    message = str(failed.value)
    assert "task 0 FAILED on w1:8083" in message
    assert "Failed to create producer" in message and "Authentication failed for user mm2" in message
    assert "KafkaProducer.java" not in message and "Failed to construct" not in message


def test_a_trace_summary_is_bounded():
    assert summarise_trace("") == "(no trace)"
    assert len(summarise_trace("x" * 5000)) == mirror_connector.TRACE_CHARS


def test_an_unreachable_connect_cluster_says_what_to_do(monkeypatch: pytest.MonkeyPatch):
    from k2infra.local import free_ports

    monkeypatch.setattr(mirror_connector, "REQUEST_SECONDS", 0.5)
    url = f"http://127.0.0.1:{free_ports(1)[0]}"  # nothing listens there
    with pytest.raises(Unreachable, match=rf"cannot reach Kafka Connect at {url} .*REST API answers"):
        MirrorConnectorProvider().read(SOURCE, {**PROPS, "connect_url": url})


def test_connects_errors_are_worded_by_status():
    assert isinstance(connect_failure(URL, RuntimeError(), 404, "HTTP 404 Not Found"), NotFound)
    assert "denied access" in str(connect_failure(URL, RuntimeError(), 403, "forbidden"))
    assert "failed the request (HTTP 500: Request timed out)" in str(
        connect_failure(URL, RuntimeError(), 500, "Request timed out"))


def test_a_refused_exactly_once_config_says_how_to_enable_it():
    said = mirror_connector._refused(URL, f"/connectors/{SOURCE}/config", "Connector configuration is invalid "
                                     "and contains the following 1 error(s):\nThis worker does not have exactly-once "
                                     "source support enabled.")
    assert "exactly.once.source.support=enabled" in said and "exactly_once=False" in said and SOURCE in said


def test_the_provider_holds_nothing_when_pickled_into_state():
    assert b"8083" not in pickle.dumps(MirrorConnectorProvider())
