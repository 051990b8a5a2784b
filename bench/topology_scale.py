"""How the Pulumi program scales with the number of topics, on the real engine, provider and broker.

Peers' users report plans of minutes to hours at hundreds or thousands of topics, and 5 to 23 minutes
to add one topic to a 16,000-topic state. This measures, in one run and side by side for each size:
deriving the topology (k2 validate's work), a first preview, the first up, a no-change preview, adding
one exchange (three topics) to the existing state, and destroy.

    . scripts/env.sh && python bench/topology_scale.py [--exchanges 10 100 400]

Writes bench/results/topology_scale.json and prints a markdown table. Starts and stops its own
Kafka and registry on free ports; bench topics have 1 partition so the broker stays small.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

from k2infra.local import LocalPlatform
from k2infra.model import load_topology

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "topology_scale.json"


def write_topology(project: Path, exchanges: int) -> None:
    """The shipped topology plus `exchanges` equities exchanges of 1 partition each."""
    yaml = YAML()
    data = yaml.load((ROOT / "topics.yaml").read_text())
    venues = data["asset_classes"]["equities"]["exchanges"]
    for i in range(exchanges):
        venues[f"bx{i:04d}"] = {"name": f"Bench exchange {i}", "partitions": 1, "country": "US",
                                "timezone": "America/New_York"}
    with open(project / "topics.yaml", "w") as out:
        yaml.dump(data, out)


def make_project(directory: Path, exchanges: int) -> Path:
    directory.mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, directory / name)
    shutil.copytree(ROOT / "schemas", directory / "schemas")
    write_topology(directory, exchanges)
    return directory


class Stack:
    def __init__(self, project: Path, backend: Path):
        self.project, self.env = project, {**os.environ, "PULUMI_BACKEND_URL": f"file://{backend}",
                                           "PULUMI_CONFIG_PASSPHRASE": "bench"}
        backend.mkdir(parents=True, exist_ok=True)

    def pulumi(self, *args: str) -> float:
        started = time.monotonic()
        done = subprocess.run(["pulumi", *args, "--stack", "bench", "--non-interactive"], cwd=self.project,
                              env=self.env, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return round(time.monotonic() - started, 2)


def measure(size: int, platform, workdir: Path, parallel: int | None = None) -> dict:
    project = make_project(workdir / f"project-{size}", size)
    topics = len(load_topology(project / "topics.yaml", "dev").topics)
    started = time.monotonic()
    for _ in range(5):
        load_topology(project / "topics.yaml", "dev")
    derive = round((time.monotonic() - started) / 5, 3)

    stack = Stack(project, workdir / f"backend-{size}")
    subprocess.run(["pulumi", "stack", "init", "bench", "--non-interactive"], cwd=project, env=stack.env,
                   check=True, capture_output=True)
    for key, value in {"k2:environment": "dev", "k2:bootstrapServers": platform.bootstrap_servers,
                       "k2:schemaRegistryUrl": platform.schema_registry_url}.items():
        stack.pulumi("config", "set", key, value)
    row = {"exchanges": size + 2, "topics": topics, "derive_s": derive, "parallel": parallel or "default"}
    steps = ("--parallel", str(parallel)) if parallel else ()
    print(f"--- {topics} topics: derive {derive}s", flush=True)
    row["preview_first_s"] = stack.pulumi("preview")
    row["up_create_s"] = stack.pulumi("up", "--yes", "--skip-preview", *steps)
    row["preview_no_change_s"] = stack.pulumi("preview", "--expect-no-changes")
    write_topology(project, size + 1)
    row["up_add_one_exchange_s"] = stack.pulumi("up", "--yes", "--skip-preview", *steps)
    row["destroy_s"] = stack.pulumi("destroy", "--yes", *steps)
    row["up_create_topics_per_s"] = round(topics / row["up_create_s"], 1)
    print(f"    {row}", flush=True)
    return row


def table(rows: list[dict]) -> str:
    head = ("| topics | parallel | derive | first preview | first up | topics/s | no-change preview "
            "| +1 exchange (3 topics) | destroy |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    lines = [f"| {r['topics']} | {r['parallel']} | {r['derive_s']} s | {r['preview_first_s']} s | "
             f"{r['up_create_s']} s | "
             f"{r['up_create_topics_per_s']} | {r['preview_no_change_s']} s | {r['up_add_one_exchange_s']} s | "
             f"{r['destroy_s']} s |" for r in rows]
    return "\n".join([head, *lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, nargs="+", default=[0, 100],
                        help="bench exchanges added to the shipped two (3 topics each)")
    parser.add_argument("--parallel", type=int, nargs="+", default=[0],
                        help="pulumi --parallel values to compare (0: Pulumi's default)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="k2-scale-"))
    local = LocalPlatform(workdir / "platform")
    platform = local.up(nodes=1, kafka_port=None, registry_port=None)
    try:
        rows = [measure(size, platform, workdir / f"p{parallel}", parallel or None)
                for size in args.exchanges for parallel in args.parallel]
    finally:
        local.down(wipe=True)
        shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "pulumi": os.environ.get("K2_PULUMI_VERSION"),
               "kafka": os.environ.get("K2_KAFKA_VERSION")}
    RESULTS.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
