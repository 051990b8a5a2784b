"""The design's alerts on a real Prometheus: `k2 monitor exporter` scrapes a real stack on the real broker and
registry, Prometheus evaluates `k2 monitor rules`' file (short durations from topics.yaml's monitoring section),
and its HTTP API shows the alerts go pending, fire and resolve as a consumer falls behind and catches up, a
one-symbol feed raises the imbalance alert, and drift (a subject's new version, a deleted topic) is caught."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema

from k2infra.local.processes import free_ports
from k2infra.monitoring.dashboard import dashboard, expressions
from tests.conftest import ROOT, stop, wait_for
from tests.e2e.conftest import consume_and_commit

SHIPPED = (ROOT / "topics.yaml").read_text()
# Seconds instead of the design's minutes, for this test only: topics.yaml's monitoring section, as a user would.
SHORT = """
monitoring:
  environments:
    dev:
      consumer_lag_critical: {for: 6s}
      consumer_lag_warning: {for: 6s}
      partition_imbalance: {window: 20s, for: 6s}
      topic_missing: {for: 3s}
      schema_mismatch: {for: 3s}
      cluster_unreachable: {for: 30s}
"""
QUOTES, HOT, EVEN = "market.crypto.quotes.binance", "market.equities.trades.asx", "market.equities.quotes.asx"
GROUP = "iceberg-writer"


def k2(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "k2infra.cli", *args], capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 120), **kwargs)


def http_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.loads(reply.read())


class Prometheus:
    """A real Prometheus server on a free loopback port, with its own config, rules and storage."""

    def __init__(self, directory: Path, exporter_port: int, rules: Path):
        if not shutil.which("prometheus"):
            pytest.fail("prometheus is not on PATH: scripts/bootstrap test installs it (apt-get install prometheus)")
        (self.port,) = free_ports(1)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(rules, directory / "rules.yml")
        # Scrape every 2s, rules every 1s (a scrape of this stack takes milliseconds; a failed scrape would
        # make its series stale and restart the alerts' `for`, so the timeout leaves room on a busy machine).
        (directory / "prometheus.yml").write_text(
            "global: {scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            f"scrape_configs:\n  - job_name: k2\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n")
        self.url = f"http://127.0.0.1:{self.port}"

    @contextmanager
    def running(self) -> Iterator[Prometheus]:
        log = open(self.directory / "prometheus.log", "w")  # noqa: SIM115 (closed below)
        process = subprocess.Popen(["prometheus", f"--config.file={self.directory / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={self.directory / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{self.port}"], stdout=log, stderr=log)
        try:
            wait_for(lambda: process.poll() is None and self._ready(), "Prometheus ready", 60, every=0.25,
                     ignoring=(OSError,))
            yield self
        finally:
            stop(process)
            log.close()

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=5) as reply:
                return reply.status == 200
        except OSError:
            return False

    def alerts(self) -> list[dict[str, Any]]:
        return http_json(f"{self.url}/api/v1/alerts")["data"]["alerts"]

    def find(self, name: str, **labels: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts() if a["labels"]["alertname"] == name
                and all(a["labels"].get(k) == v for k, v in labels.items())]

    def query(self, expr: str) -> list[dict[str, Any]]:
        reply = http_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert reply["status"] == "success", reply
        return reply["data"]["result"]

    def history(self, expr: str, since: float) -> list[tuple[float, str]]:
        """(timestamp, value) of `expr` every second since `since` (wall-clock seconds)."""
        query = urllib.parse.urlencode({"query": expr, "start": since, "end": time.time(), "step": 1})
        result = http_json(f"{self.url}/api/v1/query_range?{query}")["data"]["result"]
        return sorted((float(t), v) for series in result for t, v in series["values"])


@contextmanager
def exporter(stack, port: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "k2infra.cli", "monitor", "exporter", "--config", str(stack.project / "topics.yaml"),
         "--stack", stack.name, "--port", str(port), "--address", "127.0.0.1", "--timeout", "5"],
        cwd=stack.project, env=stack.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        stop(process)


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
        return reply.read().decode()


def produce(servers: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, key=f"S{i % 50}", value=b"x")
    assert producer.flush(30) == 0


class Feeds:
    """ASX trades all for one symbol (a hot partition) and ASX quotes spread evenly over every partition."""

    def __init__(self, servers: str, partitions: int):
        self.servers, self.partitions = servers, partitions
        self.stop, self.flowing = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        producer = Producer({"bootstrap.servers": self.servers, "linger.ms": 5})
        while not self.stop.is_set():
            for _ in range(200):
                producer.produce(HOT, key="BHP", value=b"x")
            for i in range(10 * self.partitions):
                producer.produce(EVEN, key=f"S{i}", value=b"x", partition=i % self.partitions)
            producer.flush(30)
            self.flowing.set()
            self.stop.wait(0.1)  # pacing only: the feeds run until the test is done with them
        producer.flush(30)

    def __enter__(self) -> Feeds:
        self.thread.start()
        assert self.flowing.wait(60), "the feeds never delivered"
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def test_alerts_go_pending_fire_and_resolve_on_a_real_prometheus(new_stack, platform, admin, registry, tmp_path):
    stack = new_stack("monitoring", topology=SHIPPED + SHORT)
    stack.up()
    servers = platform.bootstrap_servers
    rules = tmp_path / "rules.yml"
    done = k2("monitor", "rules", "--config", str(stack.project / "topics.yaml"), "--stack", stack.name,
              "--out", str(rules), "--check", cwd=stack.project)
    assert done.returncode == 0, done.stderr
    assert "for: 6s" in rules.read_text()

    (port,) = free_ports(1)
    with exporter(stack, port) as process, Prometheus(tmp_path / "prometheus", port, rules).running() as prom:
        wait_for(lambda: process.poll() is None and "\nk2_up 1\n" in metrics(port), "the exporter serving k2_up 1", 90,
                 every=0.25, ignoring=(OSError,))
        wait_for(lambda: prom.query('k2_up{job="k2"} == 1'), "Prometheus scraping the exporter", 60, every=0.25,
                 ignoring=(OSError,))
        assert len(prom.query("k2_topic_info")) == 6
        assert prom.find("K2ConsumerLagCritical") == [] and prom.find("K2PartitionImbalance") == []

        # A consumer falls 6,000 messages behind: pending first, then firing, with the design's labels.
        produce(servers, QUOTES, 2000)
        consume_and_commit(servers, QUOTES, GROUP, 2000, timeout=90)
        behind_since = time.time() - 1
        produce(servers, QUOTES, 6000)
        fired = wait_for(lambda: [
            a for a in prom.find("K2ConsumerLagCritical", topic=QUOTES, consumergroup=GROUP)
            if a["state"] == "firing"], "K2ConsumerLagCritical firing", 120, every=0.25, ignoring=(OSError,))
        # Prometheus's own record of the alert's states (the ALERTS series), second by second.
        def recorded(state: str) -> list[float]:
            series = f'ALERTS{{alertname="K2ConsumerLagCritical",alertstate="{state}",consumergroup="{GROUP}"}}'
            return [t for t, _ in prom.history(series, behind_since)]

        firing = wait_for(lambda: recorded("firing"), "the firing state recorded", 30, every=0.25, ignoring=(OSError,))
        pending = [t for t in recorded("pending") if t < min(firing)]
        assert pending, (recorded("pending"), firing)
        assert min(firing) - min(pending) >= 5  # pending first, for the `for: 6s` of topics.yaml's monitoring section
        (alert,) = fired
        assert alert["labels"] | {"severity": "critical", "exchange": "binance", "asset_class": "crypto"} == \
            alert["labels"]
        assert alert["annotations"]["summary"].startswith(f"{GROUP} is 6k messages behind on {QUOTES}")
        assert "scale consumers or investigate slow processing" in alert["annotations"]["summary"]
        assert float(alert["value"]) == 6000
        warning = wait_for(lambda: [
            a for a in prom.find("K2ConsumerLagWarning", topic=QUOTES) if a["state"] == "firing"],
                           "K2ConsumerLagWarning firing", 60, every=0.25, ignoring=(OSError,))
        assert warning[0]["labels"]["severity"] == "warning"

        # The terminal view shows the same lag, from the cluster directly.
        watched = k2("monitor", "--config", str(stack.project / "topics.yaml"), "--stack", stack.name, "--watch",
                     "--interval", "1", "--count", "1", cwd=stack.project, env={**stack.env(), "COLUMNS": "100"})
        assert watched.returncode == 0, watched.stderr
        assert f"Consumer Lag: 6,000 messages ({GROUP}: 6,000)" in watched.stdout
        assert f"! critical: group {GROUP} is 6000 messages behind" in watched.stdout

        # It catches up: the alerts resolve.
        consume_and_commit(servers, QUOTES, GROUP, 6000, timeout=90)
        wait_for(lambda: not prom.find("K2ConsumerLagCritical", topic=QUOTES), "K2ConsumerLagCritical resolved", 120,
                 every=0.25, ignoring=(OSError,))
        wait_for(lambda: not prom.find("K2ConsumerLagWarning", topic=QUOTES), "K2ConsumerLagWarning resolved", 60,
                 every=0.25, ignoring=(OSError,))
        assert prom.query(f'kafka_consumergroup_lag_sum{{topic="{QUOTES}"}}')[0]["value"][1] == "0"

        # A one-symbol feed makes one ASX trades partition hot; ASX quotes, spread evenly, stays balanced.
        feeding_since = time.time() - 1
        with Feeds(servers, 30):
            hot = wait_for(lambda: [
                a for a in prom.find("K2PartitionImbalance", topic=HOT) if a["state"] == "firing"],
                           "K2PartitionImbalance firing for the one-symbol feed", 180, every=0.25, ignoring=(OSError,))
            assert hot[0]["labels"] | {"severity": "critical", "exchange": "asx"} == hot[0]["labels"]
            assert float(hot[0]["value"]) > 20  # all of it on one of 30 partitions: about 29 (2900%) over the mean
            assert "review the partition key distribution" in hot[0]["annotations"]["summary"]
            assert prom.history(f'ALERTS{{alertname="K2PartitionImbalance",topic="{EVEN}"}}', feeding_since) == []
            # Every dashboard query runs on this Prometheus, and the per-topic ones find their series.
            check_dashboard_queries(prom, stack)

        # Drift: a subject gets a version the stack did not register, a topic disappears from the cluster.
        subject = "market.crypto.trades-value"
        schema = json.loads(registry.get_latest_version(subject).schema.schema_str)
        schema["fields"].append({"name": "venue_note", "type": ["null", "string"], "default": None})
        registry.register_schema(subject, Schema(json.dumps(schema), "AVRO"))
        admin.delete_topics(["market.equities.reference_data.asx"])["market.equities.reference_data.asx"].result(60)
        drift = wait_for(lambda: [
            a for a in prom.find("K2SchemaRegistrationFailure", subject=subject) if a["state"] == "firing"],
                         "K2SchemaRegistrationFailure firing", 90, every=0.25, ignoring=(OSError,))
        assert {a["labels"]["topic"] for a in drift} == {"market.crypto.trades.binance"}
        missing = wait_for(lambda: [
            a for a in prom.find("K2TopicCreationFailure") if a["state"] == "firing"],
                           "K2TopicCreationFailure firing", 90, every=0.25, ignoring=(OSError,))
        assert [(a["labels"]["topic"], a["labels"]["exchange"]) for a in missing] == [
            ("market.equities.reference_data.asx", "asx")]


def check_dashboard_queries(prom: Prometheus, stack) -> None:
    from k2infra.model import load_topology

    topology = load_topology(stack.project / "topics.yaml", "dev")
    for expr in expressions(dashboard(topology)):
        if expr.startswith("label_values("):
            continue
        result = prom.query(expr.replace("$__rate_interval", "20s").replace("$consumergroup", ".*"))
        if "kafka_consumergroup_lag_sum{topic=" in expr and QUOTES not in expr:
            continue  # no consumer group reads that topic
        assert result, f"no data for {expr}"
    assert prom.query("count(max by (topic) (k2_topic_info))")[0]["value"][1] == "6"
    (partitions,) = prom.query('kafka_topic_partitions{topic="market.crypto.trades.binance"}')
    assert partitions["value"][1] == "40"


def test_a_stack_without_outputs_is_named(new_stack):
    stack = new_stack("never-deployed")
    done = k2("monitor", "exporter", "--config", str(stack.project / "topics.yaml"), "--stack", stack.name,
              "--port", "1", cwd=stack.project, env=stack.env())
    assert done.returncode == 1
    assert "no outputs at all: has the stack been deployed (`pulumi up`)?" in done.stderr
    unknown = k2("monitor", "exporter", "--config", str(stack.project / "topics.yaml"), "--stack", "nope",
                 "--port", "1", cwd=stack.project, env=stack.env())
    assert unknown.returncode == 1 and "stack nope" in unknown.stderr and "cannot read its outputs" in unknown.stderr
