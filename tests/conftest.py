"""Shared test helpers. Tests mirror the source tree: tests/model for k2infra/model, and so on."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
E2E = ROOT / "tests" / "e2e"
T = TypeVar("T")

# Hypothesis keeps its caches (character tables, the constants it found in the code) under K2_CACHE, not in a
# .hypothesis directory of the checkout; its tests keep no example database (derandomized settings).
set_hypothesis_home_dir(Path(os.environ.get("K2_CACHE", Path.home() / ".cache" / "k2")) / "hypothesis")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (scripts/test runs two workers), each worker picks free ports from a range of its own,
    below the ephemeral range: two workers never hand the same port to two servers (k2infra.local.processes)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    if worker.startswith("gw") and worker[2:].isdigit():
        low = 20000 + 2000 * (int(worker[2:]) % 6)  # up to 31999: the ephemeral range starts at 32768
        os.environ.setdefault("K2_PORT_RANGE", f"{low}-{low + 1999}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an end-to-end test, marked from its directory: a new file there
    cannot run unmarked (a `pytestmark` in a conftest.py would be ignored by pytest)."""
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)


def stop(process: subprocess.Popen[Any], grace_seconds: float = 30) -> None:
    """SIGTERM a server a test started, SIGKILL it if it outlives the grace period; reap it either way."""
    process.terminate()
    try:
        process.communicate(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=grace_seconds)


def without_apps(text: str) -> str:
    """topics.yaml without its `apps:` section: for tests that remove an exchange or asset class, which the
    shipped apps subscribe to (a subscription that matches nothing is refused)."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("apps:"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "#", "\n")), len(lines))
    return "".join(lines[:start] + lines[end:])


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


def wait_for(condition: Callable[[], T], what: str, timeout: float = 30.0, every: float = 0.02, *,
             ignoring: tuple[type[BaseException], ...] = (), fail: bool = True) -> T:
    """The one polling helper of the tests: call `condition` until it returns something truthy, and return that.

    After `timeout` seconds the test fails naming `what` (and the last error `ignoring` let pass); with
    fail=False the last (falsy) result is returned instead, so that the caller's own assertion says what is
    missing. `ignoring`: exceptions that mean "not yet" (a server still starting). `every`: seconds between
    calls (0 when the condition itself waits, as a consumer's poll does).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        result: Any
        try:
            result = condition()
        except ignoring as err:
            result, last_error = None, err
        if result:
            return result
        if time.monotonic() > deadline:
            if fail:
                pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}"
                            + (f" (last error: {last_error})" if last_error else ""))
            return result
        time.sleep(every)
