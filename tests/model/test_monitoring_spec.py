"""topics.yaml's optional `monitoring:` section: the design's thresholds by default, later layers win, and every
mistake is reported with its file, line and key, like the rest of the file."""

from __future__ import annotations

import pytest

from k2infra.model import TopologyError, load_topology
from k2infra.model.monitoring_spec import DESIGN, Disk, Imbalance, Lag
from tests.conftest import ROOT
from tests.monitoring.conftest import SHIPPED, topology_with


def test_without_a_monitoring_section_every_environment_has_the_designs_thresholds():
    for environment in ("dev", "prod"):
        settings = load_topology(ROOT / "topics.yaml", environment).monitoring
        assert settings.default == DESIGN and settings.exchanges == {}
    assert DESIGN.consumer_lag_critical == Lag(5000, "5m") and DESIGN.consumer_lag_warning.above == 1000
    assert DESIGN.partition_imbalance.above == 0.5 and DESIGN.message_rate_spike.factor == 3
    assert DESIGN.broker_disk_usage.above == 0.7


LAYERED = """monitoring:
  consumer_lag_critical: {above: 8000}
  partition_imbalance: {window: 10m}
  exchanges:
    binance:
      consumer_lag_critical: {above: 20000, for: 10m}
  environments:
    dev:
      consumer_lag_critical: {for: 30s}
      broker_disk_usage: {above: 0.9, selector: 'job="dev-brokers"'}
      exchanges:
        asx:
          partition_imbalance: {above: 1.5, min_partition_rate: 0}
"""


def test_later_layers_win_key_by_key(tmp_path):
    dev = topology_with(tmp_path, LAYERED, "dev").monitoring
    # design < monitoring < monitoring.exchanges.X < monitoring.environments.E < ...environments.E.exchanges.X
    assert dev.default.consumer_lag_critical == Lag(8000, "30s")
    assert dev.for_exchange("binance").consumer_lag_critical == Lag(20000, "30s")
    assert dev.for_exchange("asx").partition_imbalance == Imbalance(1.5, "5m", "10m", 0)
    assert dev.default.partition_imbalance == Imbalance(0.5, "5m", "10m", 1)
    assert dev.default.broker_disk_usage == Disk(0.9, "15m", 'job="dev-brokers"')
    assert dev.for_exchange("nyse") == dev.default  # an exchange topics.yaml does not name yet
    prod = topology_with(tmp_path, LAYERED, "prod").monitoring
    assert prod.default.consumer_lag_critical == Lag(8000, "5m")
    assert prod.for_exchange("binance").consumer_lag_critical == Lag(20000, "10m")
    assert prod.for_exchange("asx") == prod.default


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[occurrence - 1]


@pytest.mark.parametrize(("section", "needle", "key", "message"), [
    ("monitoring:\n  consumer_lag_critical: {above: 5000, for: 5 minutes}\n", "5 minutes",
     "monitoring.consumer_lag_critical.for", "must be a Prometheus duration such as 30s"),
    ("monitoring:\n  consumer_lag_critical: {abov: 5000}\n", "abov", "monitoring.consumer_lag_critical.abov",
     "unknown key (did you mean 'above'?); allowed: above, for"),
    ("monitoring:\n  consumer_lag_warning: {above: -1}\n", "above: -1", "monitoring.consumer_lag_warning.above",
     "must be 0 or more"),
    ("monitoring:\n  consumer_lag_warning: {above: many}\n", "above: many", "monitoring.consumer_lag_warning.above",
     "must be a whole number"),
    ("monitoring:\n  broker_disk_usage:\n    above: 70\n", "above: 70", "monitoring.broker_disk_usage.above",
     "must be a fraction between 0 and 1"),
    ("monitoring:\n  broker_disk_usage:\n    selector: '{job=\"x\"}'\n", "selector:",
     "monitoring.broker_disk_usage.selector", "PromQL label matchers without braces"),
    ("monitoring:\n  exchanges:\n    asx:\n      broker_disk_usage: {above: 0.5}\n", "broker_disk_usage",
     "monitoring.exchanges.asx.broker_disk_usage", "unknown key"),
    ("monitoring:\n  exchanges:\n    nyse: {consumer_lag_critical: {above: 1}}\n", "nyse:",
     "monitoring.exchanges.nyse", "no exchange 'nyse' in asset_classes; known: asx, binance"),
    ("monitoring:\n  environments:\n    staging: {}\n", "staging:", "monitoring.environments.staging",
     "no environment 'staging' under environments; known: dev, prod"),
    ("monitoring:\n  environments:\n    dev:\n      exchanges:\n        nyse: {}\n", "nyse:",
     "monitoring.environments.dev.exchanges.nyse", "no exchange 'nyse'"),
    ("monitoring:\n  consumer_lag_warning: {above: 6000}\n", "monitoring:", "monitoring",
     "consumer_lag_warning.above (6000) must be below consumer_lag_critical.above (5000) in dev"),
    ("monitoring: [5000]\n", "monitoring:", "monitoring", "must be a mapping of keys to values"),
    ("monitoring:\n  message_rate_spike: {factor: 0}\n", "factor: 0", "monitoring.message_rate_spike.factor",
     "must be more than 0"),
])
def test_mistakes_name_file_line_and_key(tmp_path, section, needle, key, message):
    with pytest.raises(TopologyError) as raised:
        topology_with(tmp_path, section)
    (problem,) = raised.value.problems
    text = SHIPPED + "\n" + section
    assert (problem.line, problem.key) == (line_of(text, needle), key), str(problem)
    assert message in problem.message, str(problem)
    assert str(problem).startswith(f"{tmp_path / 'topics.yaml'}:{problem.line}: {key}: ")


def test_k2_validate_reports_monitoring_mistakes(tmp_path):
    from typer.testing import CliRunner

    from k2infra.cli import app

    topology_with(tmp_path, "")  # a valid file first
    (tmp_path / "topics.yaml").write_text(SHIPPED + "\nmonitoring:\n  exchanges:\n    nyse: {}\n")
    result = CliRunner().invoke(app, ["validate", "--config", str(tmp_path / "topics.yaml")])
    assert result.exit_code == 1
    assert "monitoring.exchanges.nyse: no exchange 'nyse'" in result.output
