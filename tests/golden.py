"""Golden files (kafka-gitops style): what a change does to the derived topology, a plan or what a command prints
is reviewed as a diff of these files.

With K2_UPDATE_GOLDEN set, a check writes the file and then fails, so the new text is never taken on trust: review
`git diff tests/`, then rerun without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

MODEL = ROOT / "tests" / "model" / "golden"
CLI = ROOT / "tests" / "cli" / "golden"


def check_golden(name: str, data: Any, directory: Path = MODEL) -> None:
    """`data` as JSON equals tests/model/golden/<name>.json (compared as data, not text)."""
    file = directory / f"{name}.json"
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    _update(file, text)
    assert json.loads(file.read_text()) == json.loads(text)


def check_golden_text(name: str, text: str, directory: Path = CLI) -> None:
    """`text` equals tests/cli/golden/<name>.txt, to the character."""
    file = directory / f"{name}.txt"
    _update(file, text)
    assert file.read_text() == text


def _update(file: Path, text: str) -> None:
    if os.environ.get("K2_UPDATE_GOLDEN"):
        file.parent.mkdir(parents=True, exist_ok=True)
        unchanged = file.exists() and file.read_text() == text
        file.write_text(text)
        if not unchanged:
            pytest.fail(f"K2_UPDATE_GOLDEN: wrote {file.relative_to(ROOT)}: review its diff, then rerun without "
                        "K2_UPDATE_GOLDEN")
    assert file.exists(), f"no golden file {file}: run with K2_UPDATE_GOLDEN=1 and review it"
