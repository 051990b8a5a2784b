"""Reading topics.yaml into plain data while remembering the line of every key.

The file is read and parsed by k2infra.contracts (input_files, yaml_source), as every YAML file K2 reads: a regular
file of at most TOPICS_LIMIT, UTF-8, no anchors or aliases, no duplicate keys, one loop over the parser's events
(linear in the file's size); every problem is a TopologyError naming the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2infra.contracts.input_files import MB, InputFileError, KeyPath, read_text
from k2infra.contracts.yaml_source import parse_yaml
from k2infra.model.errors import Problem, TopologyError

# Generous: 10,000 exchanges take about 2 MB (docs/measurements.md, bench/parse_scale.py).
TOPICS_LIMIT = 16 * MB


@dataclass
class SourceDoc:
    """Plain YAML data plus the 1-based line of each key path."""

    file: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of the key at `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def problem(self, path: KeyPath, message: str) -> Problem:
        return Problem(self.file, self.line_of(path), dotted(path), message)

    def where(self, path: KeyPath) -> str:
        """file:line: key, the place messages point at."""
        return str(self.problem(path, "")).rstrip(": ")


def dotted(path: KeyPath) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path)


def load_yaml(file: Path) -> SourceDoc:
    """Parse `file`; raise TopologyError naming the line of any syntax error, duplicate key or unreadable byte."""
    try:
        located = parse_yaml(file, read_text(file, TOPICS_LIMIT))
    except InputFileError as err:
        raise TopologyError([problem_of(err)]) from None
    return SourceDoc(file=file, data=located.data, lines=located.lines)


def problem_of(err: InputFileError) -> Problem:
    return Problem(err.file, err.line, dotted(err.path), err.message)
