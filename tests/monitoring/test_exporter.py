"""The exporter's metrics from what a scrape saw, and its behaviour when the cluster, the registry or its port
are not there (no Kafka needed: the cluster side is on the real broker in tests/e2e/test_monitoring.py)."""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from k2infra.contracts.outputs import StackOutputs
from k2infra.local.processes import free_ports
from k2infra.monitoring.exporter import K2Collector, metrics, registry_for
from k2infra.monitoring.exposition import MetricsServer, PortInUse, render
from k2infra.monitoring.registry import SubjectChecker, SubjectState
from k2infra.monitoring.sample import ClusterSampler, PartitionState, Snapshot
from k2infra.monitoring.target import Target, TargetError, load_target
from tests.conftest import ROOT, wait_for

OUTPUTS = json.loads((ROOT / "tests" / "clients" / "stack_outputs.json").read_text())
ASX_TRADES, BINANCE_QUOTES = "market.equities.trades.asx", "market.crypto.quotes.binance"


def target(**changes) -> Target:
    return Target(StackOutputs.parse({**OUTPUTS, **changes}, "test outputs"))


class FixedSampler:
    def __init__(self, snapshot: Snapshot):
        self.snapshot, self.asked = snapshot, []

    def sample(self, topics):
        self.asked.append(list(topics))
        return self.snapshot


def scrape(collector: K2Collector) -> dict[str, list]:
    """Name -> samples, parsed back from the text Prometheus would read."""
    text = generate_latest(registry_for(collector)).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(samples: list, **labels) -> float:
    (found,) = [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return found


def a_snapshot() -> Snapshot:
    t = target()
    snapshot = Snapshot(time.monotonic(), brokers=3)
    for topic in t.topics:
        if topic.name == "market.equities.quotes.asx":
            continue  # missing from the cluster
        count = next(x.partitions for x in t.outputs.topics if x.name == topic.name)
        snapshot.partitions[topic.name] = [PartitionState(1, 3, 3)] * count
        snapshot.latest[topic.name] = [100] * count
        snapshot.earliest[topic.name] = [10] * count
    snapshot.partitions[ASX_TRADES][2] = PartitionState(2, 3, 2)  # under-replicated
    snapshot.latest[ASX_TRADES][0] = 5000
    snapshot.committed = {"iceberg-writer": {ASX_TRADES: {0: 1000, 1: 100, 2: 150}},  # 150 > end: lag 0, not -50
                          "risk": {BINANCE_QUOTES: {p: 40 for p in range(40)}}}
    return snapshot


def test_a_scrape_reports_kafka_exporters_metrics_and_k2s_for_the_stacks_topics():
    t = target()
    subjects = [SubjectState(s.subject, s.asset_class, s.data_type, s.version, s.schema_id, s.version, s.schema_id)
                for s in t.subjects]
    subjects[0] = SubjectState(subjects[0].subject, subjects[0].asset_class, subjects[0].data_type, 1, 1, 2, 9)
    subjects[1] = SubjectState(subjects[1].subject, subjects[1].asset_class, subjects[1].data_type, 1, 2)
    checker = type("Checker", (), {"check": lambda self, _: subjects})()
    sampler = FixedSampler(a_snapshot())
    m = scrape(K2Collector(t, sampler, checker, group_offsets=True))
    assert sampler.asked == [[x.name for x in t.outputs.topics]]
    assert value(m["k2_up"]) == 1 and value(m["k2_registry_up"]) == 1 and value(m["kafka_brokers"]) == 3
    assert len(m["k2_topic_info"]) == 12
    assert value(m["k2_topic_info"], topic=ASX_TRADES) == 1
    assert m["k2_topic_info"][0].labels.keys() >= {"topic", "asset_class", "data_type", "exchange"}
    assert value(m["k2_topic_missing"], topic="market.equities.quotes.asx") == 1
    assert value(m["k2_topic_missing"], topic=ASX_TRADES) == 0
    assert value(m["kafka_topic_partitions"], topic=ASX_TRADES) == 30
    assert not [s for s in m["kafka_topic_partitions"] if s.labels["topic"] == "market.equities.quotes.asx"]
    assert value(m["kafka_topic_partition_current_offset"], topic=ASX_TRADES, partition="0") == 5000
    assert value(m["kafka_topic_partition_oldest_offset"], topic=ASX_TRADES, partition="0") == 10
    under = m["kafka_topic_partition_under_replicated_partition"]
    assert [(s.labels["topic"], s.labels["partition"]) for s in under if s.value] == [(ASX_TRADES, "2")]
    lag = m["kafka_consumergroup_lag"]
    assert value(lag, consumergroup="iceberg-writer", topic=ASX_TRADES, partition="0") == 4000
    assert value(lag, consumergroup="iceberg-writer", topic=ASX_TRADES, partition="2") == 0
    assert len([s for s in lag if s.labels["consumergroup"] == "iceberg-writer"]) == 3  # committed partitions only
    lag_sum = m["kafka_consumergroup_lag_sum"]
    assert value(lag_sum, consumergroup="iceberg-writer", topic=ASX_TRADES) == 4000
    assert value(lag_sum, consumergroup="risk", topic=BINANCE_QUOTES) == 40 * 60
    assert value(m["kafka_consumergroup_current_offset"], consumergroup="risk", topic=BINANCE_QUOTES,
                 partition="39") == 40
    in_sync = {s.labels["subject"]: s.value for s in m["k2_subject_in_sync"]}
    assert in_sync.pop(subjects[0].subject) == 0 and in_sync.pop(subjects[1].subject) == 0
    assert set(in_sync.values()) == {1}
    assert value(m["k2_subject_registered"], subject=subjects[1].subject) == 0
    assert value(m["k2_subject_latest_version"], subject=subjects[0].subject) == 2
    assert value(m["k2_subject_expected_version"], subject=subjects[0].subject) == 1
    assert 0 <= value(m["k2_scrape_duration_seconds"]) < 5


def test_the_exporters_text_is_prometheus_clients_text_faster():
    t = target()
    subjects = [SubjectState(s.subject, s.asset_class, s.data_type, s.version, s.schema_id, s.version, s.schema_id)
                for s in t.subjects]
    snapshot = a_snapshot()
    snapshot.committed["quote\"d\\group\nname"] = {ASX_TRADES: {0: 1}}  # label values that need escaping
    families = list(metrics(t, snapshot, subjects, True, group_offsets=True))
    ours = render(families).decode()
    theirs = generate_latest(registry_for(type("C", (), {"collect": lambda self: iter(families)})())).decode()
    assert parsed(ours) == parsed(theirs)
    assert parsed(ours)["kafka_consumergroup_lag_sum"][("quote\"d\\group\nname", ASX_TRADES)] == 4999
    assert "kafka_consumergroup_current_offset" not in parsed(render(metrics(t, snapshot, subjects, True)).decode())


def parsed(text: str) -> dict[str, dict[tuple[str, ...], float]]:
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(v for _, v in sorted(s.labels.items()))] = s.value
    return out


def test_the_server_gzips_for_prometheus_and_names_a_port_in_use():
    families = list(metrics(target(), a_snapshot(), [], None))
    server = MetricsServer(lambda: iter(families), 0, "127.0.0.1").start()
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}/metrics",
                                         headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert reply.headers["Content-Encoding"] == "gzip"
            assert reply.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            text = gzip.decompress(reply.read()).decode()
        assert parsed(text)["k2_up"] == {(): 1.0}
        with pytest.raises(PortInUse, match=f"port {server.port} on 127.0.0.1 is already in use"):
            MetricsServer(lambda: iter(families), server.port, "127.0.0.1")
    finally:
        server.stop()


def closed_port() -> int:
    (port,) = free_ports(1)
    return port


def test_a_cluster_and_registry_that_do_not_answer_make_k2_up_0_not_a_failed_scrape():
    kafka, registry = closed_port(), closed_port()
    t = target(bootstrap_servers=f"127.0.0.1:{kafka}",
               schema_registry_url=f"http://127.0.0.1:{registry}/apis/ccompat/v7")
    log = io.StringIO()
    collector = K2Collector(t, ClusterSampler(t.kafka_conf(), timeout=1.0),
                            SubjectChecker(t.registry()[0], timeout=1.0), log=log)
    started = time.monotonic()
    for _ in range(2):
        m = scrape(collector)
    assert time.monotonic() - started < 30
    assert value(m["k2_up"]) == 0 and value(m["k2_registry_up"]) == 0
    assert len(m["k2_topic_info"]) == 12  # what the stack expects is still known
    assert "kafka_topic_partition_current_offset" not in m and "k2_subject_in_sync" not in m
    assert "k2_topic_missing" not in m  # unknown, not missing
    lines = log.getvalue().splitlines()
    assert len(lines) == 2, lines  # said once each, not once per scrape
    assert f"cannot reach Kafka at 127.0.0.1:{kafka}" in lines[0]
    assert f"cannot reach the schema registry at http://127.0.0.1:{registry}" in lines[1]


def run_k2(*args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "k2infra.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, **kwargs)


def test_the_exporter_serves_k2_up_0_while_the_cluster_is_away(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({**OUTPUTS, "bootstrap_servers": f"127.0.0.1:{closed_port()}",
                                   "schema_registry_url": f"http://127.0.0.1:{closed_port()}/apis/ccompat/v7"}))
    (port,) = free_ports(1)
    exporter = subprocess.Popen([sys.executable, "-m", "k2infra.cli", "monitor", "exporter", "--outputs", str(outputs),
                                 "--port", str(port), "--address", "127.0.0.1", "--timeout", "1"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def scraped() -> str:
            if exporter.poll() is not None:
                return "exited"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
                text = reply.read().decode()
            return text if "k2_up" in text else ""

        text = wait_for(scraped, "the exporter's first scrape", 60, every=0.2, ignoring=(OSError,), fail=False) or ""
        assert "\nk2_up 0\n" in text and "\nk2_registry_up 0\n" in text
    finally:
        exporter.terminate()
        _, err = exporter.communicate(timeout=30)
    assert exporter.returncode == 0, err  # SIGTERM: a clean stop
    assert "cannot reach Kafka at" in err and "reporting it as down" in err


def test_a_port_in_use_is_named(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(OUTPUTS))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_k2("monitor", "exporter", "--outputs", str(outputs), "--port", str(port), "--address", "127.0.0.1")
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read it"),
    ("{}", "no outputs at all: has the stack been deployed (`pulumi up`)?"),
    ("not json", "not valid JSON"),
    (json.dumps({**OUTPUTS, "bootstrap_servers": None}), "bootstrap_servers is missing"),
])
def test_outputs_that_are_not_a_deployed_stacks_are_refused_with_what_to_do(tmp_path, content, message):
    outputs = tmp_path / "outputs.json"
    if content is not None:
        outputs.write_text(content)
    done = run_k2("monitor", "exporter", "--outputs", str(outputs), "--port", "1")
    assert done.returncode == 1
    assert message in done.stderr


def test_the_stack_outputs_come_from_pulumi_when_no_file_is_given(tmp_path):
    with pytest.raises(TargetError, match="which stack"):
        load_target(None, tmp_path)
    env = {**os.environ, "PATH": "/nonexistent"}
    done = subprocess.run([sys.executable, "-m", "k2infra.cli", "monitor", "exporter", "--stack", "dev"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert done.returncode == 1 and "the pulumi CLI is not on PATH" in done.stderr


def test_retained_topics_are_watched_too():
    t = target(retained_topics=["market.equities.trades.lse"])
    watched = {w.name: w for w in t.topics}
    assert watched["market.equities.trades.lse"].retained and watched["market.equities.trades.lse"].exchange == "lse"
    assert not watched[ASX_TRADES].retained


def test_registry_reads_whether_each_subject_is_at_the_stacks_version():
    for expected, latest, in_sync in (((1, 3), (1, 3), True), ((1, 3), (2, 4), False), ((1, 3), None, False),
                                      ((None, None), (5, 7), True)):
        got = latest or (None, None)
        assert SubjectState("s", "a", "d", *expected, *got).in_sync is in_sync
