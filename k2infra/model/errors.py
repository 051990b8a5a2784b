"""Errors that point at the exact place in a file where the topology is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One problem in one file: where it is and what to do about it."""

    file: Path
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        key = f" {one_line(self.key)}:" if self.key else ""
        return f"{where}:{key} {one_line(self.message)}"


def one_line(text: str) -> str:
    """One line whatever the file holds: a key or value with a newline or another control character is shown
    escaped, as it could otherwise forge lines of the report (a CI comment, say). The policy pack's too."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class TopologyError(Exception):
    """The topology cannot be built; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        # A shared schema file's problem is found once per asset class: report it once.
        self.problems = problems = list(dict.fromkeys(problems))
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the K2 topology:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))
