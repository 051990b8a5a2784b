"""The codebase stays lint-clean and type-checked: ruff and mypy as CI runs them."""

from __future__ import annotations

import subprocess
import sys

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
