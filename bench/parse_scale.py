"""Parse time and peak memory of topics.yaml against its size (issue 20): 1 MB and 10 MB of comments, 1 MB and 10 MB
of exchanges, and 300 environments in a small file.

    nice -n 19 python bench/parse_scale.py [--before a97aabc]

Each figure is one fresh process (so peak memory is the process's own): `parse` reads and checks the file's shape
(load_yaml + parse_spec, timed inside the process), `validate` is `k2 validate` end to end (every environment: names,
configs, schemas), wall time and peak RSS. `--before REF` runs the same on the k2infra of a git revision (from
`git archive`, in a temporary directory) for comparison. Writes bench/results/parse_scale.json and its section of
bench/RESULTS.md, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo, for `bench`

from bench.report import save  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "parse_scale.json"
MB = 1024 * 1024
TIMEOUT = 900
BEGIN, END = "<!-- parse_scale: begin -->", "<!-- parse_scale: end -->"

EXCHANGE = ('      x{i}:\n        name: "Exchange {i}"\n        partitions: 3\n        country: "AU"\n'
            '        timezone: "Australia/Sydney"\n        trading_hours: "10:00-16:00 AEST"\n        symbols: 2000\n')

# Each measured process records its own peak RSS (VmHWM) at exit: wait4's ru_maxrss would include this process's
# RSS at fork time.
PEAK = """
import atexit, os
def _peak():
    with open("/proc/self/status") as status, open(os.environ["K2_BENCH_PEAK"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(_peak)
"""
# The parse alone: `events` picks the parser (the default, or ruamel.yaml's pure-Python one).
PARSE = PEAK + """
import sys, time
from pathlib import Path
from k2infra.model.source import load_yaml
from k2infra.model.parse import parse_spec
if sys.argv[2] == "ruamel":
    from k2infra.contracts import yaml_source
    yaml_source.DEFAULT_EVENTS = yaml_source.ruamel_events
start = time.perf_counter()
parse_spec(load_yaml(Path(sys.argv[1])))
print(time.perf_counter() - start)
"""
# `k2 validate --config FILE`, as the command runs it.
VALIDATE = PEAK + """
import runpy, sys
sys.argv = ["k2", "validate", "--config", sys.argv[1]]
runpy.run_module("k2infra.cli", run_name="__main__")
"""


def shipped() -> str:
    return (ROOT / "topics.yaml").read_text()


def comments(size: int) -> str:
    line = "# " + "x" * 76 + "\n"
    return shipped() + line * (size // len(line))


def exchanges(size: int) -> str:
    count = size // len(EXCHANGE.format(i=10_000))
    extra = "".join(EXCHANGE.format(i=i) for i in range(count))
    return shipped().replace("    exchanges:\n      asx:\n", "    exchanges:\n" + extra + "      asx:\n", 1)


def environments(count: int) -> str:
    extra = "".join(f"  env{i}:\n    replication_factor: 1\n    min_insync_replicas: 1\n" for i in range(count))
    return shipped().replace("\nenvironments:\n", "\nenvironments:\n" + extra, 1)


CASES = {
    "shipped topics.yaml": shipped,
    "1 MB of comments": lambda: comments(MB),
    "10 MB of comments": lambda: comments(10 * MB),
    "1 MB of exchanges": lambda: exchanges(MB),
    "10 MB of exchanges": lambda: exchanges(10 * MB),
    "300 environments": lambda: environments(300),
}


def run(args: list[str], code_dir: Path, work: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and stdout (or the failure) of one process."""
    peak = work / "peak"
    env = {**os.environ, "PYTHONPATH": str(code_dir), "PYTHONDONTWRITEBYTECODE": "1", "K2_BENCH_PEAK": str(peak)}
    peak.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        # cwd outside the checkout: `python -c` puts the working directory first on sys.path
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False, cwd=work)
    except subprocess.TimeoutExpired:
        return float("nan"), float("nan"), f"timed out after {TIMEOUT} s"
    wall = time.perf_counter() - start
    stdout = done.stdout if done.returncode == 0 else \
        f"exit {done.returncode}: {' '.join(done.stderr.strip().splitlines()[-1:])}"
    return wall, int(peak.read_text()) / 1024 if peak.exists() else float("nan"), stdout


def measure(name: str, text: str, code_dir: Path, work: Path, parsers: list[str]) -> dict[str, Any]:
    project = work / name.replace(" ", "-")
    project.mkdir()
    shutil.copytree(ROOT / "schemas", project / "schemas")
    topics = project / "topics.yaml"
    topics.write_text(text)
    row: dict[str, Any] = {"case": name, "bytes": topics.stat().st_size}
    for parser in parsers:
        _, peak, out = run([sys.executable, "-c", PARSE, str(topics), parser], code_dir, work)
        row[f"parse_s_{parser}"] = _seconds(out)
        row[f"parse_peak_mb_{parser}"] = round(peak, 1)
    wall, peak, out = run([sys.executable, "-c", VALIDATE, str(topics)], code_dir, work)
    row["validate_s"], row["validate_peak_mb"] = round(wall, 2), round(peak, 1)
    row["validate_ok"] = out.count(": OK for ")
    print(json.dumps(row), flush=True)
    return row


def _seconds(out: str) -> float | str:
    try:
        return round(float(out.strip()), 3)
    except ValueError:
        return out.strip()[:200]


def before_code(ref: str, work: Path) -> Path:
    target = work / f"k2infra-{ref}"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "k2infra"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def markdown(results: dict[str, Any]) -> str:
    lines = ["## topics.yaml parse time against size (`bench/parse_scale.py`)", "",
             f"`nice -n 19 python bench/parse_scale.py` on {results['date']} ({os.cpu_count()} cores, shared machine). "
             "parse: load_yaml + parse_spec in one fresh process, timed inside it (libyaml: the k2 command and the "
             "program; ruamel: an app that installed k2infra without PyYAML); validate: `k2 validate` end to end, "
             "every environment. Raw figures: [results/parse_scale.json](results/parse_scale.json).", "",
             f"| file | size | parse, libyaml | parse, ruamel.yaml | k2 validate | its peak memory | "
             f"before ({results.get('before_ref', '-')}): parse | before: k2 validate (peak memory) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    before = {r["case"]: r for r in results.get("before", [])}
    for r in results["after"]:
        b = before.get(r["case"], {})
        size = f"{r['bytes'] / MB:.1f} MB" if r["bytes"] > MB / 10 else f"{r['bytes'] / 1024:.0f} KB"
        lines.append(f"| {r['case']} | {size} | {_s(r.get('parse_s_libyaml'))} | "
                     f"{_s(r.get('parse_s_ruamel'))} | {_s(r['validate_s'])} | {r['validate_peak_mb']:.0f} MB | "
                     f"{_s(b.get('parse_s_default'))} | {_s(b.get('validate_s'))}"
                     + (f" ({b['validate_peak_mb']:.0f} MB)" if b else "") + " |")
    return "\n".join(lines) + "\n"


def _s(value: Any) -> str:
    return f"{value:.2f} s" if isinstance(value, float) else ("" if value is None else str(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="a git revision to measure too (e.g. a97aabc, before issue 20)")
    parser.add_argument("--report", action="store_true", help="only rewrite the table from the JSON")
    args = parser.parse_args()
    if args.report:
        write(json.loads(RESULTS.read_text()))
        return
    results: dict[str, Any] = {"date": date.today().isoformat(), "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory(prefix="k2-parse-scale-") as tmp:
        work = Path(tmp)
        (work / "after").mkdir()
        results["after"] = [measure(n, make(), ROOT, work / "after", ["libyaml", "ruamel"])
                            for n, make in CASES.items()]
        if args.before:
            results["before_ref"] = args.before
            code = before_code(args.before, work)
            (work / "before").mkdir()
            results["before"] = [measure(n, make(), code, work / "before", ["default"]) for n, make in CASES.items()]
    write(results)


def write(results: dict[str, Any]) -> None:
    section = markdown(results)
    save(results, RESULTS, section, BEGIN, END)
    print(section)


if __name__ == "__main__":
    main()
