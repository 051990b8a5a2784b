"""A large update killed midway (kill -9, so Pulumi writes nothing) converges when rerun.

The project skips Pulumi's per-step checkpoints (PULUMI_SKIP_CHECKPOINTS, scripts/env.sh): only the final
state is written. This is safe because the guard adopts, by import, every declared topic the cluster
already has; here that is checked where it lands: the state, through `pulumi stack export`, and the
cluster, through Kafka's AdminClient.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess

import psutil
from ruamel.yaml import YAML

from k2infra.observed.stack_record import parse_export
from tests.conftest import ROOT, wait_for, without_apps
from tests.e2e.conftest import topics_on_cluster

EXTRA_EXCHANGES = 100  # 300 more topics of one partition: long enough to kill midway, short for CI


def large_topology(exchanges: int) -> str:
    yaml = YAML()
    data = yaml.load(without_apps((ROOT / "topics.yaml").read_text()))
    venues = data["asset_classes"]["equities"]["exchanges"]
    for i in range(exchanges):
        venues[f"kx{i:04d}"] = {"name": f"Kill test exchange {i}", "partitions": 1, "country": "US",
                                "timezone": "America/New_York"}
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def state_topics(stack) -> list[str]:
    """Every kafka Topic resource in the stack's state, one entry per resource (duplicates kept)."""
    export = json.loads(stack.run("stack", "export").stdout)
    resources = export.get("deployment", {}).get("resources") or []
    return [r["id"] for r in resources if r["type"] == "kafka:index/topic:Topic"]


def test_an_up_killed_midway_converges_on_rerun_with_every_topic_in_the_state_once(new_stack, admin):
    assert os.environ.get("PULUMI_SKIP_CHECKPOINTS") == "true", "scripts/env.sh sets it; the test checks that setting"
    stack = new_stack("killed", topology=large_topology(EXTRA_EXCHANGES))
    desired = 6 + 3 * EXTRA_EXCHANGES

    up = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--parallel", "16", "--stack", stack.name,
                           "--non-interactive"], cwd=stack.project, env=stack.env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: len(topics_on_cluster(admin)) >= desired // 3 or up.poll() is not None,
                 "a third of the topics to exist", timeout=600, every=0.2)
        assert up.poll() is None, "the update finished before it could be killed: make the topology larger"
        # The engine, the program and the plugins (which Pulumi starts in process groups of their own): all at once.
        tree = psutil.Process(up.pid).children(recursive=True)
        os.killpg(up.pid, signal.SIGKILL)
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
    finally:
        up.wait(timeout=60)
    created_before_rerun = topics_on_cluster(admin)
    assert desired // 3 <= len(created_before_rerun) < desired
    assert state_topics(stack) == [], "no checkpoint: the killed update wrote no state"
    locked = stack.up(check=False)
    assert locked.returncode != 0 and "locked" in locked.stdout + locked.stderr  # the killed CLI's lock is left
    unlock = subprocess.run(["k2", "unlock", "--stack", stack.name], cwd=stack.project, env=stack.env(),
                            capture_output=True, text=True, timeout=60)
    assert unlock.returncode == 0 and "removed stale lock" in unlock.stdout, unlock.stdout + unlock.stderr

    rerun = stack.up("--parallel", "16")
    assert "deleted" not in rerun.stdout.split("Resources:")[-1]

    in_state = state_topics(stack)
    assert len(in_state) == len(set(in_state)) == desired, "every topic in the state, exactly once"
    on_cluster = topics_on_cluster(admin)
    assert set(on_cluster) == set(in_state)
    assert set(created_before_rerun) <= set(on_cluster), "nothing the killed update created was deleted"
    record = parse_export(json.loads(stack.run("stack", "export").stdout))
    assert set(record.topics) == set(in_state)
    stack.run("preview", "--expect-no-changes")


def test_a_partition_increase_applied_but_not_recorded_is_refused_until_refreshed(new_stack, admin):
    """What an update killed between Kafka's increase and the final state leaves: the cluster ahead of the state.
    Pulumi would ask Kafka for the same increase again (which Kafka refuses); the guard names the refresh."""
    from confluent_kafka.admin import NewPartitions

    shipped = without_apps((ROOT / "topics.yaml").read_text())
    stack = new_stack("behind", topology=shipped)
    stack.up()
    topic = "market.equities.trades.asx"
    admin.create_partitions([NewPartitions(topic, 36)])[topic].result(timeout=60)
    stack.set_topology(shipped.replace("partitions: 30", "partitions: 36"))

    refused = stack.up(check=False)
    assert refused.returncode != 0
    assert f"{topic}: the stack's state records 30 partitions, but the cluster already has 36" in refused.stdout
    assert topics_on_cluster(admin)["market.equities.quotes.asx"] == 30, "refused before anything was applied"

    stack.run("refresh", "--yes", "--target", f"**::{topic}")
    stack.up()
    assert topics_on_cluster(admin)["market.equities.quotes.asx"] == 36
    stack.run("preview", "--expect-no-changes")
