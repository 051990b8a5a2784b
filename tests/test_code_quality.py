"""The codebase stays lint-clean and type-checked: ruff and mypy as CI runs them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
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


def test_the_import_contracts_hold():
    """The layers and the rooms (pure code imports no Pulumi; the app helpers neither Pulumi nor the components),
    as pyproject.toml's [tool.importlinter] contracts state them, checked by import-linter over every module."""
    done = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_every_package_of_k2infra_is_in_the_layers_contract():
    """No module outside the contracts: each package (and the two shim modules) at k2infra's top is a layer."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["id"] == "layers")["layers"]
    named = {name.strip() for line in layers for name in line.split("#")[0].split("|")}
    top = {p.stem for p in (ROOT / "k2infra").iterdir()
           if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").is_file())}
    assert top == named
    assert not [p for p in (ROOT / "k2infra").iterdir() if p.is_dir() and p.name != "__pycache__"
                and not (p / "__init__.py").is_file()], "a folder of k2infra that is no package escapes the contracts"


def test_every_test_under_e2e_is_marked_e2e():
    done = run("pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "not e2e", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(collected) > 100
    assert [line for line in collected if line.startswith("tests/e2e/")] == []
