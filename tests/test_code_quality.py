"""The codebase stays lint-clean and type-checked: ruff and mypy as CI runs them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CODE = ["k2infra", "policy", "bench", "tests", "__main__.py"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    done = run("ruff", "check", "--no-cache", *CODE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing():
    done = run("mypy", "--no-incremental", "k2infra", "policy")
    assert done.returncode == 0, done.stdout + done.stderr


# The rooms: pure code imports neither Pulumi nor the Pulumi-facing components.
PURE = ["k2infra/contracts", "k2infra/model", "k2infra/clients", "k2infra/local", "k2infra/monitoring",
        "k2infra/migration", "k2infra/observe.py", "k2infra/aws_access.py", "k2infra/team_backend.py",
        "k2infra/cli.py", "k2infra/engine.py"]
PULUMI_FACING = ("pulumi", "pulumi_kafka", "pulumi_docker", "pulumi_policy", "k2infra.components")


def imports_of(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_pure_code_imports_no_pulumi():
    files = [f for room in PURE for f in ([ROOT / room] if room.endswith(".py") else (ROOT / room).rglob("*.py"))]
    assert len(files) > 20
    offending = {str(f.relative_to(ROOT)): sorted(m for m in imports_of(f)
                                                   if m.split(".")[0] in PULUMI_FACING or m.startswith(PULUMI_FACING))
                 for f in files}
    # The one exception: reading a live stack's outputs needs the Automation API, imported on demand.
    offending["k2infra/clients/sources.py"] = [m for m in offending["k2infra/clients/sources.py"] if m != "pulumi"]
    assert {f: m for f, m in offending.items() if m} == {}


def test_every_test_under_e2e_is_marked_e2e():
    done = run("pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "not e2e", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(collected) > 100
    assert [line for line in collected if line.startswith("tests/e2e/")] == []
