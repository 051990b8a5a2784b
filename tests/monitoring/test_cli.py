"""`k2 monitor rules` and `k2 monitor dashboard` as a user runs them (no cluster needed)."""

from __future__ import annotations

import json
import subprocess
import sys

from ruamel.yaml import YAML

from tests.conftest import ROOT


def k2(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "k2infra.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


def test_k2_monitor_dashboard_writes_the_file(tmp_path):
    out = tmp_path / "k2.json"
    done = k2("monitor", "dashboard", "--stack", "prod", "--config", str(ROOT / "topics.yaml"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["uid"] == "k2-prod"
    assert f"wrote {out}" in done.stderr


def test_k2_monitor_rules_prints_or_writes_a_checked_file(tmp_path, promtool):
    printed = k2("monitor", "rules", "--stack", "dev", "--config", str(ROOT / "topics.yaml"))
    assert printed.returncode == 0, printed.stderr
    assert YAML(typ="safe").load(printed.stdout)["groups"][0]["name"] == "k2-dev"
    out = tmp_path / "k2.rules.yml"
    done = k2("monitor", "rules", "--stack", "prod", "--config", str(ROOT / "topics.yaml"), "--out", str(out),
              "--check")
    assert done.returncode == 0, done.stderr
    assert "SUCCESS: 10 rules found" in done.stdout
    assert out.read_text().startswith("# K2 alerts for prod")


def test_a_topology_with_problems_writes_nothing(tmp_path):
    bad = tmp_path / "topics.yaml"
    bad.write_text((ROOT / "topics.yaml").read_text() + "\nmonitoring:\n  consumer_lag_critical: {for: soon}\n")
    out = tmp_path / "rules.yml"
    done = k2("monitor", "rules", "--config", str(bad), "--out", str(out))
    assert done.returncode == 1 and not out.exists()
    assert "monitoring.consumer_lag_critical.for: must be a Prometheus duration" in done.stderr


def test_k2_monitor_watch_says_when_the_cluster_does_not_answer():
    from k2infra.local.processes import free_ports

    (closed,) = free_ports(1)
    done = k2("monitor", "--config", str(ROOT / "topics.yaml"), "--bootstrap-servers", f"127.0.0.1:{closed}",
              "--watch", "--interval", "1", "--count", "1")
    assert done.returncode == 0, done.stderr
    assert "K2 Kafka Topics - System Overview (default)" in done.stdout
    assert f"cannot reach Kafka at 127.0.0.1:{closed}" in done.stdout and "Status: Degraded" in done.stdout


def test_k2_monitor_lists_its_subcommands():
    done = k2("monitor", "--help")
    assert done.returncode == 0
    for word in ("exporter", "rules", "dashboard", "--watch", "--group", "--interval"):
        assert word in done.stdout
