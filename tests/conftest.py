"""Shared test helpers. Tests mirror the source tree: tests/model for k2infra/model, and so on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def make_project(directory: Path, topology: Path | str | None = None) -> Path:
    """A copy of the Pulumi project (program inputs only) in `directory`, optionally with another
    topics.yaml; the k2infra package itself is imported from the checkout."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, directory / name)
    shutil.copytree(ROOT / "schemas", directory / "schemas", dirs_exist_ok=True)
    if topology is None:
        shutil.copy(ROOT / "topics.yaml", directory / "topics.yaml")
    elif isinstance(topology, Path):
        shutil.copy(topology, directory / "topics.yaml")
    else:
        (directory / "topics.yaml").write_text(topology)
    return directory


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")
