"""`k2 plan`: the topic plan against a live cluster, without Pulumi, as a platform engineer runs it."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

SHIPPED = (ROOT / "topics.yaml").read_text()


def k2_plan(project, platform, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "k2infra.cli", "plan", "--config", str(project / "topics.yaml"),
                           "--bootstrap-servers", platform.bootstrap_servers, *extra],
                          capture_output=True, text=True, timeout=120)


def test_plan_shows_what_up_would_do_and_refuses_data_loss(new_stack, platform):
    stack = new_stack("k2-plan")
    before = json.loads(k2_plan(stack.project, platform, "--json").stdout)
    assert len(before["create"]) == 6 and not before["refused"]

    stack.up()
    settled = k2_plan(stack.project, platform)
    assert settled.returncode == 0 and "6 unchanged" in settled.stdout

    stack.set_topology(SHIPPED.replace("partitions: 40", "partitions: 20").replace("partitions: 30", "partitions: 31"))
    changed = k2_plan(stack.project, platform, "--json")
    assert changed.returncode == 2
    plan = json.loads(changed.stdout)
    assert sorted(plan["update"]) == ["market.equities.quotes.asx", "market.equities.trades.asx"]
    assert [r.split(":")[0] for r in plan["refused"]] == ["market.crypto.quotes.binance",
                                                          "market.crypto.trades.binance"]
