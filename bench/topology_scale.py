"""How the Pulumi program scales with the number of topics, on the real engine, provider and broker.

For each size, side by side in one run: `k2 validate` and `k2 plan`, a first preview, the first `up`, a
no-change preview, adding one exchange (three topics) to the existing state, and destroy (which, for a
kept stack, forgets the topics and deletes none). Each Pulumi step reports its wall time and the peak
memory and CPU time of each process: the engine (`pulumi`), the Python program, the kafka provider.

Two modes, so before and after are measured on the same machine in the same run:
- `tuned`: the project as shipped (scripts/env.sh: only the final state is written; the program's SDK
  tuning, k2infra/program/sdk_tuning.py);
- `baseline`: Pulumi's per-step checkpoints and the SDK as shipped (PULUMI_SKIP_CHECKPOINTS=false,
  K2_PULUMI_SDK_TUNING=off). Its first up is quadratic: keep its sizes small.

    . scripts/env.sh && python bench/topology_scale.py --exchanges 100 1000 3333 --baseline 100 333

Writes bench/results/topology_scale.json and bench/results/topology_scale.png (time and memory against
topics) and prints a markdown table. Starts and stops its own Kafka and registry on free ports; bench
topics have 1 partition so the broker stays small, and are deleted between sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from ruamel.yaml import YAML

from k2infra.local import LocalPlatform

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "topology_scale.json"
PLOT = ROOT / "bench" / "results" / "topology_scale.png"
PARALLEL = "64"
MODES = {
    "tuned": {"PULUMI_SKIP_CHECKPOINTS": "true"},
    "baseline": {"PULUMI_SKIP_CHECKPOINTS": "false", "K2_PULUMI_SDK_TUNING": "off"},
}


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


def role(process: psutil.Process) -> str | None:
    """Which part of a Pulumi run a process is: engine, program or provider (others are not reported)."""
    try:
        cmdline = " ".join(process.cmdline())
    except psutil.Error:
        return None
    if "pulumi-resource-kafka" in cmdline:
        return "provider"
    if "pulumi-language-python-exec" in cmdline:
        return "program"
    if process.name() == "pulumi":
        return "engine"
    return None


@dataclass
class Sampled:
    """Peak RSS (MB) and CPU seconds per role, over every process of one command."""

    peak_mb: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    _cpu: dict[int, tuple[str, float]] = field(default_factory=dict)

    def sample(self, root: psutil.Process) -> None:
        try:
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        for process in processes:
            name = role(process)
            if name is None:
                continue
            try:
                with process.oneshot():
                    rss, times = process.memory_info().rss, process.cpu_times()
            except psutil.Error:
                continue
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), round(rss / 2**20, 1))
            self._cpu[process.pid] = (name, times.user + times.system)

    def finish(self) -> None:
        for name, cpu in self._cpu.values():
            self.cpu_s[name] = round(self.cpu_s.get(name, 0.0) + cpu, 1)


class Stack:
    def __init__(self, project: Path, backend: Path, mode: str):
        self.project, self.backend = project, backend
        self.env = {**os.environ, "PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": "bench",
                    **MODES[mode]}
        backend.mkdir(parents=True, exist_ok=True)

    def pulumi(self, *args: str) -> dict:
        """Run one pulumi command; its wall time and each process's peak memory and CPU time."""
        started = time.monotonic()
        command = subprocess.Popen(["pulumi", *args, "--stack", "bench", "--non-interactive"], cwd=self.project,
                                   env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output: list[str] = []
        reader = threading.Thread(target=lambda: output.extend(command.stdout or []), daemon=True)
        reader.start()
        sampled, root = Sampled(), psutil.Process(command.pid)
        while command.poll() is None:
            sampled.sample(root)
            time.sleep(0.2)
        reader.join(timeout=30)
        sampled.finish()
        if command.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{''.join(output)[-4000:]}")
        return {"s": round(time.monotonic() - started, 1), "peak_mb": sampled.peak_mb, "cpu_s": sampled.cpu_s}

    def state_mb(self) -> float:
        files = list(self.backend.glob(".pulumi/stacks/**/bench.json"))
        return round(sum(f.stat().st_size for f in files) / 2**20, 2)


def timed_k2(*args: str, cwd: Path) -> float:
    started = time.monotonic()
    subprocess.run(["k2", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=600)
    return round(time.monotonic() - started, 2)


def measure(exchanges: int, mode: str, platform, workdir: Path) -> dict:
    project = make_project(workdir / f"{mode}-{exchanges}", exchanges)
    stack = Stack(project, workdir / f"backend-{mode}-{exchanges}", mode)
    subprocess.run(["pulumi", "stack", "init", "bench", "--non-interactive"], cwd=project, env=stack.env,
                   check=True, capture_output=True)
    for key, value in {"k2:environment": "dev", "k2:bootstrapServers": platform.bootstrap_servers,
                       "k2:schemaRegistryUrl": platform.schema_registry_url}.items():
        subprocess.run(["pulumi", "config", "set", key, value, "--stack", "bench"], cwd=project, env=stack.env,
                       check=True, capture_output=True)
    topics = 6 + 3 * exchanges
    row: dict = {"mode": mode, "topics": topics, "exchanges": exchanges + 2}
    print(f"--- {mode}, {topics} topics", flush=True)
    row["k2_validate_s"] = timed_k2("validate", cwd=project)  # every environment
    steps = [("preview_first", ("preview",)),
             ("up_create", ("up", "--yes", "--skip-preview", "--parallel", PARALLEL)),
             ("preview_no_change", ("preview", "--expect-no-changes")),
             ("up_add_one_exchange", None),
             ("destroy", ("destroy", "--yes", "--parallel", PARALLEL))]
    for name, args in steps:
        if args is None:  # one more exchange, three more topics
            write_topology(project, exchanges + 1)
            args = ("up", "--yes", "--skip-preview", "--parallel", PARALLEL)
        row[name] = stack.pulumi(*args)
        print(f"    {name}: {row[name]}", flush=True)
        if name == "up_create":
            row["state_mb"] = stack.state_mb()
            row["k2_plan_s"] = timed_k2("plan", "--bootstrap-servers", platform.bootstrap_servers, cwd=project)
    return row


def delete_bench_topics(bootstrap_servers: str) -> None:
    """Empty the broker between sizes (destroy of a kept stack forgets topics, deletes none)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    names = [n for n in admin.list_topics(timeout=30).topics if n.startswith("market.")]
    for start in range(0, len(names), 500):
        for future in admin.delete_topics(names[start:start + 500], operation_timeout=120).values():
            future.result(timeout=180)
    deadline = time.monotonic() + 600
    while any(n.startswith("market.") for n in admin.list_topics(timeout=30).topics):
        if time.monotonic() > deadline:
            raise RuntimeError("bench topics still being deleted after 10 minutes")
        time.sleep(1)


def table(rows: list[dict]) -> str:
    head = ("| mode | topics | k2 validate | k2 plan | first preview | first up | no-change preview "
            "| +1 exchange | destroy (forgets) | state | peak memory: engine / program / provider |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    lines = []
    for r in rows:
        peak = {k: max(r[s]["peak_mb"].get(k, 0) for s in ("preview_first", "up_create", "preview_no_change",
                                                            "up_add_one_exchange"))
                for k in ("engine", "program", "provider")}
        lines.append(f"| {r['mode']} | {r['topics']:,} | {r['k2_validate_s']} s | {r['k2_plan_s']} s | "
                     f"{r['preview_first']['s']} s | {r['up_create']['s']} s | {r['preview_no_change']['s']} s | "
                     f"{r['up_add_one_exchange']['s']} s | {r['destroy']['s']} s | {r['state_mb']} MB | "
                     f"{peak['engine']:.0f} / {peak['program']:.0f} / {peak['provider']:.0f} MB |")
    return "\n".join([head, *lines])


def plot(rows: list[dict], path: Path) -> None:
    """Time and memory against topics, per mode: straight lines mean linear growth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode, style in (("tuned", "-o"), ("baseline", "--s")):
        chosen = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["topics"])
        if not chosen:
            continue
        x = [r["topics"] for r in chosen]
        for step, label in (("up_create", "first up"), ("preview_no_change", "no-change preview"),
                            ("up_add_one_exchange", "+1 exchange")):
            left.plot(x, [r[step]["s"] for r in chosen], style, label=f"{label} ({mode})")
        for process in ("engine", "program", "provider"):
            right.plot(x, [r["up_create"]["peak_mb"].get(process, 0) for r in chosen], style,
                       label=f"{process} ({mode})")
    left.set(title="Time (s)", xlabel="topics")
    right.set(title="Peak memory during the first up (MB)", xlabel="topics")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, nargs="+", default=[100, 1000, 3333],
                        help="bench exchanges added to the shipped two (3 topics each), tuned mode")
    parser.add_argument("--baseline", type=int, nargs="*", default=[100, 333],
                        help="the same for the baseline mode (quadratic first up: keep these small)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="k2-scale-"))
    local = LocalPlatform(workdir / "platform")
    platform = local.up(nodes=1, kafka_port=None, registry_port=None)
    load_before = os.getloadavg()[0]
    machine = {"cpus": os.cpu_count(), "pulumi": os.environ.get("K2_PULUMI_VERSION"),
               "kafka": os.environ.get("K2_KAFKA_VERSION"), "date": time.strftime("%Y-%m-%d"),
               "load_before": round(load_before, 1), "parallel": int(PARALLEL)}
    rows: list[dict] = []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        for mode, sizes in (("baseline", args.baseline), ("tuned", args.exchanges)):
            for exchanges in sizes:
                rows.append(measure(exchanges, mode, platform, workdir))
                row_load = round(os.getloadavg()[0], 1)
                rows[-1]["load_after"] = row_load  # other work on the machine shows here
                RESULTS.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")  # so far
                delete_bench_topics(platform.bootstrap_servers)
    finally:
        local.down(wipe=True)
        shutil.rmtree(workdir, ignore_errors=True)
    plot(rows, PLOT)
    print(table(rows))


if __name__ == "__main__":
    main()
