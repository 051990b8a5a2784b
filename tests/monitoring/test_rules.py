"""The design's alerts as a Prometheus rule file: promtool accepts it, and promtool's own unit tests
(rules_test.yaml) show every alert firing and not firing on the design's thresholds."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from k2infra.model import load_topology
from k2infra.monitoring.rules import ALERTS, rules, rules_yaml
from tests.conftest import ROOT
from tests.monitoring.conftest import BINANCE_PAGES_LATER, topology_with

HERE = Path(__file__).parent
DESIGN_ALERTS = {"K2ConsumerLagCritical", "K2ConsumerLagWarning", "K2PartitionImbalance", "K2MessageRateSpike",
                 "K2BrokerDiskUsage", "K2TopicCreationFailure", "K2SchemaRegistrationFailure"}


def promtool_run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_unit_tests_fire_and_hold_every_alert(tmp_path, promtool):
    (tmp_path / "rules.yml").write_text(rules_yaml(topology_with(tmp_path, BINANCE_PAGES_LATER)))
    shutil.copy(HERE / "rules_test.yaml", tmp_path / "rules_test.yaml")
    done = promtool_run(promtool, "test", "rules", "rules_test.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_unit_tests_cover_every_alert_firing_and_not_firing():
    tests = YAML(typ="safe").load((HERE / "rules_test.yaml").read_text())["tests"]
    checks = [c for t in tests for c in t["alert_rule_test"]]
    fired = {c["alertname"] for c in checks if c["exp_alerts"]}
    held = {c["alertname"] for c in checks if not c["exp_alerts"]}
    names = {a.name for a in ALERTS}
    assert names >= DESIGN_ALERTS
    assert fired == names and held == names


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_shipped_topology_rules_pass_promtool_check(tmp_path, promtool, environment):
    (tmp_path / "rules.yml").write_text(rules_yaml(load_topology(ROOT / "topics.yaml", environment)))
    done = promtool_run(promtool, "check", "rules", "rules.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


def test_every_rule_has_severity_exchange_topic_and_an_action():
    for rule in rules(load_topology(ROOT / "topics.yaml", "dev"))["groups"][0]["rules"]:
        alert = next(a for a in ALERTS if a.name == rule["alert"])
        assert rule["labels"]["severity"] in ("critical", "warning")
        if alert.per_exchange:  # exchange and topic come from the k2_topic_info join
            assert "group_left (asset_class, data_type, exchange)" in rule["expr"] or \
                "max by (topic, asset_class, data_type, exchange) (k2_topic_info)" in rule["expr"]
        else:
            assert rule["labels"]["exchange"] == rule["labels"]["topic"] == "all"
        assert ": " in rule["annotations"]["summary"]  # what happened: what to do


def test_the_design_severities():
    severity = {a.name: a.severity for a in ALERTS}
    assert {n for n, s in severity.items() if s == "critical"} >= {
        "K2ConsumerLagCritical", "K2PartitionImbalance", "K2TopicCreationFailure", "K2SchemaRegistrationFailure"}
    assert {n for n, s in severity.items() if s == "warning"} == {
        "K2ConsumerLagWarning", "K2MessageRateSpike", "K2BrokerDiskUsage"}


def test_an_exchange_with_its_own_threshold_gets_its_own_rule_and_the_rest_keep_the_default(tmp_path):
    topo = topology_with(tmp_path, "monitoring:\n  exchanges:\n    binance: {consumer_lag_critical: {above: 20000}}\n"
                         "  environments:\n    dev: {consumer_lag_critical: {for: 30s}}\n")
    lag = [r for r in rules(topo)["groups"][0]["rules"] if r["alert"] == "K2ConsumerLagCritical"]
    assert [(r["for"], r["expr"].splitlines()[-1]) for r in lag] == [("30s", "> 5000"), ("30s", "> 20000")]
    assert 'k2_topic_info{exchange!~"binance"}' in lag[0]["expr"]  # every other exchange, new ones included
    assert 'k2_topic_info{exchange=~"binance"}' in lag[1]["expr"]
    warning = [r for r in rules(topo)["groups"][0]["rules"] if r["alert"] == "K2ConsumerLagWarning"]
    assert len(warning) == 1 and "exchange" not in warning[0]["expr"].split("k2_topic_info")[1][:3]
