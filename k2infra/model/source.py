"""Reading topics.yaml into plain data while remembering the line of every key.

ruamel.yaml is used (not PyYAML) because it refuses duplicate keys instead of silently keeping the
last one, and because its round-trip nodes carry line numbers, which every error message needs.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from k2infra.model.errors import Problem, TopologyError

KeyPath = tuple[str | int, ...]


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
    """Parse `file`; raise TopologyError naming the line of any syntax error or duplicate key."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise TopologyError([Problem(file, None, "", f"cannot read the file: {err.strerror}")]) from err
    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except DuplicateKeyError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else None
        key = _duplicate_key_name(err)
        message = f"duplicate key {key!r}: YAML keeps only one of them; merge the two entries"
        raise TopologyError([Problem(file, line, key, message)]) from err
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(str(x) for x in (err.context, err.problem) if x)
        raise TopologyError([Problem(file, line, "", f"YAML syntax error: {what}")]) from err
    doc = SourceDoc(file=file, data=None)
    doc.data = _to_plain_data(raw, (), doc.lines)
    return doc


def _duplicate_key_name(err: DuplicateKeyError) -> str:
    problem = str(err.problem or "")
    # ruamel says: found duplicate key "asx" with value ... (original value: ...)
    if '"' in problem:
        return problem.split('"')[1]
    return problem


def _to_plain_data(node: Any, path: KeyPath, lines: dict[KeyPath, int]) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            child = (*path, key)
            with contextlib.suppress(KeyError, TypeError):
                lines[child] = node.lc.key(key)[0] + 1
            out[key] = _to_plain_data(value, child, lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            with contextlib.suppress(KeyError, TypeError, IndexError):
                lines[child] = node.lc.item(index)[0] + 1
            items.append(_to_plain_data(value, child, lines))
        return items
    if isinstance(node, str):
        return str(node)  # drop ruamel's scalar string subclasses
    return node
