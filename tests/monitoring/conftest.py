"""Helpers for the monitoring tests: topologies with a `monitoring:` section, and promtool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from k2infra.model import Topology, load_topology
from tests.conftest import ROOT

SHIPPED = (ROOT / "topics.yaml").read_text()
# The override rules_test.yaml is written against.
BINANCE_PAGES_LATER = "monitoring:\n  exchanges:\n    binance:\n      consumer_lag_critical: {above: 20000}\n"


def topology_with(tmp_path: Path, monitoring: str = "", environment: str = "dev") -> Topology:
    """The shipped topology plus a `monitoring:` section (YAML text), for one environment."""
    path = tmp_path / "topics.yaml"
    path.write_text(SHIPPED + "\n" + monitoring)
    return load_topology(path, environment, schemas_dir=ROOT / "schemas")


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool is not on PATH: scripts/bootstrap test installs Prometheus (apt-get install prometheus)")
    return found
