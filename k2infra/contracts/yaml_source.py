"""YAML as K2 reads it (topics.yaml, Pulumi.yaml, Pulumi.<stack>.yaml): plain data plus the 1-based line of every
key, built from the parser's events in one loop, so the time is linear in the file and no nesting can recurse.

Refused, each with its line: anchors and aliases (a few lines of them expand to gigabytes), duplicate keys (YAML
would keep one silently), nesting deeper than MAX_DEPTH, tags other than YAML's own, more than one document.
Scalars resolve as ruamel.yaml resolves them, YAML 1.2: `NO` and `on` are text, `1_000` is 1000.

The events come from libyaml through PyYAML where it is installed (every operator install: Pulumi needs it), about
0.1 s per MB; else from ruamel.yaml's pure-Python parser (an app that installed k2infra alone), about 2 s per MB
(docs/measurements.md). Both give the same data, lines and errors (tests/contracts/test_yaml_source.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.nodes import ScalarNode

from k2infra.contracts.input_files import InputFileError, KeyPath, excerpt, position

try:  # optional: the app helpers' own dependencies are only ruamel.yaml's
    import yaml as _pyyaml

    LIBYAML: Any = _pyyaml.CSafeLoader if _pyyaml.__with_libyaml__ else None
    _PARSE_ERRORS: tuple[type[Exception], ...] = (RuamelYAMLError, _pyyaml.YAMLError)
except ImportError:  # pragma: no cover - exercised by an app install without PyYAML
    LIBYAML, _PARSE_ERRORS = None, (RuamelYAMLError,)

MAX_DEPTH = 64
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep: K2's files need a handful"
# What YAML allows in a stream (ruamel.yaml's reader refuses the rest, without a line).
NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
CORE = "tag:yaml.org,2002:"
SCALAR_TAGS = {f"{CORE}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
Events = Callable[[str], Iterable[Any]]

_RUAMEL = YAML(typ="safe", pure=True)
_RESOLVABLE = {k for k in _RUAMEL.resolver.versioned_resolver if k is not None}  # first characters of non-text


@dataclass
class LocatedYaml:
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)


def ruamel_events(text: str) -> Iterator[Any]:
    return iter(YAML(typ="safe", pure=True).parse(text))


def libyaml_events(text: str) -> Iterator[Any]:
    return iter(_pyyaml.parse(text, Loader=LIBYAML))


DEFAULT_EVENTS: Events = libyaml_events if LIBYAML is not None else ruamel_events


def parse_yaml(file: Path, text: str, events: Events | None = None) -> LocatedYaml:
    """The data of `text` (read from `file`) and the line of each key; InputFileError names the line of a problem."""
    bad = NON_PRINTABLE.search(text)
    if bad:
        line, column = position(text, bad.start())
        raise InputFileError(file, line, f"character U+{ord(bad.group()):04X} at column {column} is not allowed in "
                             "YAML: remove it")
    builder = _Builder(file)
    try:
        for event in (events or DEFAULT_EVENTS)(text):
            builder.add(event)
    except _PARSE_ERRORS as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        what = " ".join(str(x) for x in (getattr(err, "context", None), getattr(err, "problem", None)) if x)
        # libyaml's scanner reads a line ahead of its events and stops at its own depth (1,000) before ours
        message = TOO_DEEP if "maximum nesting depth" in what else f"YAML syntax error: {excerpt(what or str(err))}"
        raise InputFileError(file, mark.line + 1 if mark else None, message) from None
    return LocatedYaml(builder.root, builder.lines)


class _Open:
    """A mapping or sequence being filled, and for a mapping the key waiting for its value."""

    __slots__ = ("has_key", "key", "path", "value")

    def __init__(self, value: dict[Any, Any] | list[Any], path: KeyPath):
        self.value, self.path, self.has_key = value, path, False
        self.key: Any = None


class _Builder:
    def __init__(self, file: Path):
        self.file = file
        self.root: Any = None
        self.lines: dict[KeyPath, int] = {}
        self.stack: list[_Open] = []
        self.documents = 0

    def add(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "ScalarEvent":
            self._refuse_anchor(event)
            self._place(self._scalar(event), event)
        elif kind in ("MappingStartEvent", "SequenceStartEvent"):
            self._start(event, mapping=kind == "MappingStartEvent")
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            self.stack.pop()
        elif kind == "AliasEvent":
            raise self._error(event, f"alias *{excerpt(event.anchor, 40)}: YAML anchors and aliases are not "
                              "accepted (a few lines of them can expand to gigabytes); write the value out in full")
        elif kind == "DocumentStartEvent":
            self.documents += 1
            if self.documents > 1:
                raise self._error(event, "a second YAML document (---): the file must hold exactly one")

    def _start(self, event: Any, mapping: bool) -> None:
        self._refuse_anchor(event)
        own = f"{CORE}{'map' if mapping else 'seq'}"
        if event.tag not in (None, "!", own):
            raise self._error(event, f"the YAML tag {_shown(event.tag)} is not accepted: remove it")
        if len(self.stack) >= MAX_DEPTH:  # named by where the nesting starts, not by its 64 keys
            raise self._error(event, TOO_DEEP, self._next_path()[:3])
        value: dict[Any, Any] | list[Any] = {} if mapping else []
        self.stack.append(_Open(value, self._place(value, event)))

    def _place(self, value: Any, event: Any) -> KeyPath:
        """Put `value` where the document is (root, next item, key or key's value); return its key path."""
        line = event.start_mark.line + 1
        if not self.stack:
            self.root = value
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            path = (*top.path, len(top.value))
            top.value.append(value)
            self.lines[path] = line
            return path
        if top.has_key:
            top.value[top.key] = value
            top.has_key = False
            return (*top.path, top.key)
        if isinstance(value, dict | list):
            raise self._error(event, "a key must be a plain value, not a mapping or a list")
        path = (*top.path, value)
        if value in top.value:
            raise self._error(event, f"duplicate key {value!r}: YAML keeps only one of them; merge the two entries",
                              path)
        top.key, top.has_key = value, True
        self.lines[path] = line
        return path

    def _scalar(self, event: Any) -> Any:
        tag, value = event.tag, event.value
        if tag is None and event.implicit[0]:  # plain: resolved as ruamel.yaml resolves it
            if value and value[0] not in _RESOLVABLE:
                return value  # the usual case, text: no resolver needed
            tag = _implicit_tag(value)
            if tag not in SCALAR_TAGS:
                return value  # ruamel's own `=` and `<<`: text
        elif tag in (None, "!"):
            return value  # quoted: text
        if tag == f"{CORE}str":
            return value
        if tag not in SCALAR_TAGS:
            raise self._error(event, f"the YAML tag {_shown(tag)} is not accepted: remove it")
        try:
            return _RUAMEL.constructor.yaml_constructors[tag](_RUAMEL.constructor, ScalarNode(tag, value))
        except (ValueError, TypeError, OverflowError, RuamelYAMLError):
            raise self._error(event, f"{excerpt(value, 40)!r} is not a valid {tag.removeprefix(CORE)}") from None

    def _refuse_anchor(self, event: Any) -> None:
        if event.anchor is not None:
            raise self._error(event, f"anchor &{excerpt(event.anchor, 40)}: YAML anchors and aliases are not "
                              "accepted (a few lines of them can expand to gigabytes); write the value out in full")

    def _error(self, event: Any, message: str, path: KeyPath | None = None) -> InputFileError:
        return InputFileError(self.file, event.start_mark.line + 1, message, self._next_path() if path is None
                              else path)

    def _next_path(self) -> KeyPath:
        """The key path of the node the document is at: for a key, its mapping's."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        return (*top.path, top.key) if top.has_key else top.path


@lru_cache(maxsize=4096)
def _implicit_tag(value: str) -> str:
    """The tag ruamel.yaml gives a plain scalar (keys such as `name` and `timezone` repeat: cached)."""
    return str(_RUAMEL.resolver.resolve(ScalarNode, value, (True, False)))


def _shown(tag: str) -> str:
    return excerpt(tag.replace(CORE, "!!", 1) if tag.startswith(CORE) else tag, 40)
