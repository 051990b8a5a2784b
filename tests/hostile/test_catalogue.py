"""Every case of the hostile-input catalogue, through the real `k2` command under the memory and time limits."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import make_project
from tests.hostile.catalogue import ANY_LINE, CASES, CLASSES, Case
from tests.hostile.inputs import OUTSIDE
from tests.hostile.run import CRASHES, MEMORY_MB, Outcome, _limits, line_numbers, located_lines, run_k2


def build(tmp_path: Path, case: Case) -> tuple[Path, Path]:
    project, outside = make_project(tmp_path / "project"), tmp_path / "outside"
    outside.mkdir()
    for step in case.build:
        step.apply(project, outside)
    return project, outside


def answer(case: Case, project: Path) -> Outcome:
    """The case's command on the project, with --config, as a user runs it."""
    config = case.config if case.config.startswith("/") else str(project / case.config)
    return run_k2([*case.command, "--config", config], cwd=project, timeout=case.timeout)


def judge(case: Case, outcome: Outcome, project: Path, outside: Path) -> list[str]:
    """What is wrong with the command's answer to the case (nothing: it passes)."""
    if outcome.code is None:
        return [f"no answer within {case.timeout:.0f} s: killed"]
    wrong = []
    if outcome.code not in case.exit:
        wrong.append(f"exit {outcome.code}, expected {' or '.join(map(str, case.exit))}")
    wrong += [f"printed {crash!r}" for crash in CRASHES if crash in outcome.output]
    if case.file and (outcome.code != 0 or case.located_when_accepted):
        wrong += _location(case, outcome.output, project)
    said = outcome.output.replace(str(project.parent), "")  # the test's own directory names say nothing
    wrong += [f"does not say /{pattern}/" for pattern in case.says if not re.search(pattern, said, re.IGNORECASE)]
    wrong += [f"echoes {text!r}" for text in case.never if text in outcome.output]
    if case.not_created and Path(case.not_created.replace(OUTSIDE, str(outside))).exists():
        wrong.append(f"created {case.not_created}")
    return wrong


def _location(case: Case, output: str, project: Path) -> list[str]:
    assert case.file is not None
    lines: list[int] | None = None
    if case.line and case.line != ANY_LINE:
        lines = line_numbers(project / case.file, case.line)
        assert lines, f"case {case.id}: {case.file} has no line with {case.line}"
    located = located_lines(output, case.file, lines, any_line=case.line == ANY_LINE)
    where = (f"{case.file}:{'|'.join(map(str, lines))}:" if lines else
             f"{case.file}:N:" if case.line else case.file)
    if not located:
        return [f"no line of output names {where}"]
    if case.key and not any(re.search(case.key, line) for line in located):
        return [f"no line naming {where} names the key /{case.key}/"]
    return []


# Each case is its own k2 process, independent of the others: two at a time keep both cores busy.
WORKERS = int(os.environ.get("K2_HOSTILE_WORKERS", "2"))


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    wrong: list[str]  # empty: the case passes


def try_case(case: Case, directory: Path) -> Verdict:
    """Build the case's project in `directory`, run its command and judge the answer."""
    project, outside = build(directory, case)
    outcome = answer(case, project)
    wrong = judge(case, outcome, project, outside)
    if case.slow and not wrong:
        shutil.rmtree(directory)  # the large files of a passing case are not kept for pytest's last three runs
    return Verdict(outcome, wrong)


def try_all(cases: list[Case], directory: Path) -> tuple[ThreadPoolExecutor, list[Future[Verdict]]]:
    """Every case tried by WORKERS threads, in order, each in a directory of its own under `directory`; the
    caller shuts the pool down."""
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="hostile")
    return pool, [pool.submit(try_case, case, directory / case.id) for case in cases]


def _param(case: Case) -> object:
    return pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.slow else [])


@pytest.fixture(scope="module")
def verdicts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future]]:
    """The verdict on every case this session selected, worked out ahead of the tests that read them."""
    selected = [params["case"] for item in request.session.items if getattr(item, "module", None) is request.module
                and "case" in (params := getattr(getattr(item, "callspec", None), "params", {}))]
    pool, futures = try_all(selected, tmp_path_factory.mktemp("hostile"))
    try:
        yield {case.id: future for case, future in zip(selected, futures, strict=True)}
    finally:
        pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_input(verdicts: dict[str, Future], case: Case) -> None:
    verdict = verdicts[case.id].result()  # bounded: each case's process has its own timeout
    outcome, wrong = verdict.outcome, verdict.wrong
    command = " ".join(["k2", *case.command])
    assert not wrong, (f"{case.id} ({case.kind}): {command}: " + "; ".join(wrong)
                       + f" ({outcome.seconds:.1f} s)\n--- output (end) ---\n{outcome.output[-3000:]}")


def test_the_catalogue_covers_every_class_and_accepts_what_is_valid() -> None:
    assert len(CASES) >= 70
    ids = Counter(c.id for c in CASES)
    assert [i for i, n in ids.items() if n > 1] == []
    kinds = Counter(c.kind for c in CASES)
    assert set(kinds) == set(CLASSES) and min(kinds.values()) >= 3, kinds
    assert sum(c.exit == (0,) for c in CASES) >= 15  # a catalogue that refused everything would fail these


def test_the_memory_limit_holds() -> None:
    """The limit the cases run under is real: a child that asks for more than it gets a MemoryError."""
    done = subprocess.run([sys.executable, "-c", f"bytearray({MEMORY_MB} << 20)"], preexec_fn=_limits,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "MemoryError" in done.stderr
