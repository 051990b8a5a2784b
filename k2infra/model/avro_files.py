"""Avro schema files (.avsc): parsed with fastavro, kept as compact JSON for the registry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastavro.schema import SchemaParseException, parse_schema

from k2infra.contracts.input_files import MB, InputFileError, MissingFile, excerpt, read_text
from k2infra.model.errors import Problem

# Generous: the shipped schemas are under 2 KB each.
SCHEMA_LIMIT = 1 * MB


@dataclass(frozen=True)
class AvroSchema:
    file: Path
    # Compact JSON in the file's own key order: what the registry receives. The same file always
    # gives the same text, so re-registering an unchanged schema creates no new version.
    text: str
    source: str = field(default="", compare=False, repr=False)  # the file's own text, for the lines of fields

    @property
    def parsed(self) -> dict[str, Any]:
        return json.loads(self.text)

    @property
    def full_name(self) -> str:
        parsed = self.parsed
        namespace = parsed.get("namespace")
        return f"{namespace}.{parsed['name']}" if namespace else parsed["name"]

    def field(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.parsed.get("fields", []) if f.get("name") == name), None)


class SchemaFileError(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def load_avro(file: Path) -> AvroSchema:
    """Read and check one .avsc file; SchemaFileError names the file and line of any problem."""
    try:
        stat = file.stat()
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = (0, -1)  # the read below says why
    # Asset classes share schema files: parse each once, but see an edit made since.
    return _load_avro(file, *version)


@cache
def _load_avro(file: Path, _mtime_ns: int, _size: int) -> AvroSchema:
    try:
        text = read_text(file, SCHEMA_LIMIT)
    except MissingFile:
        raise SchemaFileError(Problem(file, None, "", "schema file not found")) from None
    except InputFileError as err:
        raise SchemaFileError(Problem(file, err.line, "", err.message)) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise SchemaFileError(Problem(file, err.lineno, "", f"not valid JSON: {err.msg}")) from None
    except RecursionError:
        raise SchemaFileError(Problem(file, None, "", "nested too deeply to read")) from None
    if not isinstance(document, dict) or document.get("type") != "record":
        raise SchemaFileError(Problem(file, 1, "type", "a market-data schema must be an Avro record"))
    try:
        parse_schema(document, _write_hint=False)
    except RecursionError:
        raise SchemaFileError(Problem(file, None, "", "invalid Avro schema: nested too deeply")) from None
    except (SchemaParseException, ValueError, TypeError, KeyError) as err:
        # The message may quote the schema (a field's dict, a default): only an excerpt of it.
        raise SchemaFileError(Problem(file, _line_of(text, str(err)), "",
                                      f"invalid Avro schema: {excerpt(str(err))}")) from None
    return AvroSchema(file=file, text=json.dumps(document, separators=(",", ":")), source=text)


def same_schema(a: str | None, b: str | None) -> bool:
    """Equal as JSON documents: whitespace and formatting are not a schema change."""
    if a is None or b is None:
        return a == b
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def field_line(schema: AvroSchema, name: str | None = None) -> int | None:
    """The line of a field's name in the file (or of "fields"), for error messages."""
    return _line_of(schema.source, f'"{name}"' if name else '"fields"')


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle and needle in line:
            return number
    return None
