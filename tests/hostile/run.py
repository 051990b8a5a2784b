"""Running `k2` as a user or CI would, in a subprocess under a memory and a time limit, and judging what it said.

The limits are the test: an input that makes `k2` hang or grow without bound fails its case by the subprocess
timeout or by the address-space limit (a MemoryError's traceback), never by a timing assertion in-process.
`k2 validate` of the shipped project peaks at about 50 MB of address space (measured 2026-12, Python 3.11:
it needs no threads), so 512 MiB leaves ten times that; K2_HOSTILE_MEMORY_MB and K2_HOSTILE_TIMEOUT override.
K2_HOSTILE_CHECKOUT=/work/wt-x runs the cases against another checkout's k2infra.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

MEMORY_MB = int(os.environ.get("K2_HOSTILE_MEMORY_MB", "512"))
# The checkout whose k2infra the cases run (default: this one), e.g. a fix branch's worktree, same environment.
CHECKOUT = Path(os.environ.get("K2_HOSTILE_CHECKOUT", ROOT))
TIMEOUT = float(os.environ.get("K2_HOSTILE_TIMEOUT", "60"))
# What a crash prints, whatever the exit code: a Python traceback, or the interpreter's own last words.
CRASHES = ("Traceback (most recent call last)", "Fatal Python error", "MemoryError", "RecursionError")


def _limits() -> None:
    """In the child, before it runs Python: bounded address space, no core dump."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_MB << 20, MEMORY_MB << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@dataclass(frozen=True)
class Outcome:
    code: int | None  # None: killed at the timeout
    output: str  # stdout then stderr
    seconds: float


def run_k2(args: list[str], cwd: Path, timeout: float = TIMEOUT) -> Outcome:
    """`python -m k2infra.cli ARGS` (what bin/k2 runs) in `cwd`, under the limits."""
    import time

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CHECKOUT), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "200", "NO_COLOR": "1"}
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "k2infra.cli", *args], cwd=cwd, env=env, preexec_fn=_limits,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:  # subprocess.run has killed the child
        said = (expired.stdout or b"") + (expired.stderr or b"")
        return Outcome(None, said.decode("utf-8", "backslashreplace"), time.monotonic() - started)
    said = done.stdout + done.stderr
    return Outcome(done.returncode, said.decode("utf-8", "backslashreplace"), time.monotonic() - started)


def line_numbers(file: Path, texts: tuple[str, ...]) -> list[int]:
    """1-based numbers of the lines of `file` holding any of `texts` ("" matches every line)."""
    needles = [t.encode("utf-8") for t in texts]
    try:
        lines = file.read_bytes().split(b"\n")
    except OSError:
        return []
    return [n for n, line in enumerate(lines, 1) if any(needle in line for needle in needles)]


def located_lines(output: str, file: str, lines: list[int] | None, any_line: bool = False) -> list[str]:
    """What follows `file` on each line of output that names it: at one of `lines` (file:N:), at any line, or
    without one (the key and the message, not the directory the test runs in)."""
    name = re.escape(file)
    at = f"({'|'.join(map(str, lines))})" if lines else r"\d+" if any_line else None
    pattern = re.compile(rf"{name}:{at}:" if at else rf"{name}\b")
    return [line[found.end():] for line in output.splitlines() if (found := pattern.search(line))]
