"""Avro records in the Confluent wire format (byte 0, 4-byte schema id, Avro body).

Encoding is fastavro's writer plus checks for the few things it lets through: it truncates 1.5
into a long, takes True as a number and writes the string "abc" into an array as three items.
Everything else it refuses, and then fastavro's validator names the field. The hot path is the
schema's generated writer (k2infra.clients.avro): the same bytes, checks included, for the records it
takes as they are; any other record goes the way just described. Decoding is the generated reader of
the writer schema, or fastavro's schema resolution when the subject's deployed version differs.
Confluent's AvroSerializer does the same framing, but its per-record rule machinery costs about three
times fastavro's encoding (bench/RESULTS.md).
"""

from __future__ import annotations

import datetime
import io
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastavro import schemaless_writer
from fastavro.validation import ValidationError, validate

from k2infra.clients.avro import Reader, reader_for, writer_for
from k2infra.clients.errors import ConsumeError, RecordError
from k2infra.clients.schema_catalog import SchemaCatalog, SubjectSchema

MAGIC = b"\x00"
_ABSENT = object()
Check = tuple[str, frozenset[type], Callable[[Any], str | None]]


class _Never:
    """The usual type of a field that always takes the full check (int: its range)."""


_USUAL = {frozenset({int}): int, frozenset({float, int}): float, frozenset({bool}): bool,
          frozenset({list}): list, frozenset({dict}): dict}


class RecordEncoder:
    """Checks and encodes the records of one subject."""

    def __init__(self, schema: SubjectSchema):
        self.subject = schema.subject
        self.partition_key = schema.partition_key
        self._parsed = schema.parsed
        self._header = MAGIC + schema.schema_id.to_bytes(4, "big")
        self._fields = {f["name"]: f for f in schema.parsed["fields"]}
        self._checks = [check for f in schema.parsed["fields"] if (check := _check_for(f))]
        # The fast path compares the checked fields' types with their usual ones in one pass of C
        # (about 0.3 µs); any difference, such as an int price or a datetime, takes the full check.
        self._checked = tuple(name for name, _, _ in self._checks)
        self._usual = tuple(_USUAL.get(frozenset(fine), _Never) for _, fine, _ in self._checks)
        self._write = writer_for(schema.parsed)

    @property
    def field_names(self) -> list[str]:
        return list(self._fields)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        if self._write is not None and type(record) is dict:
            value = self._write(record, self._header)
            if value is not None:
                return value
        if type(record) is not dict and not isinstance(record, Mapping):  # the ABC check is slow for dicts
            raise RecordError(self.subject, None, f"must be a mapping of field names to values, got "
                              f"{type(record).__name__}")
        if not self._fields.keys() >= record.keys():
            unknown = sorted(record.keys() - self._fields.keys())
            raise RecordError(self.subject, unknown[0], f"not in the schema (fields: {', '.join(self._fields)})")
        if tuple(map(type, map(record.get, self._checked))) != self._usual:
            self._check(record)
        out = io.BytesIO()
        out.write(self._header)
        try:
            schemaless_writer(out, self._parsed, record)
        except Exception as err:  # fastavro raises TypeError, ValueError, OverflowError, AttributeError...
            raise self._explain(record, err) from None
        return out.getvalue()

    def _check(self, record: Mapping[str, Any]) -> None:
        for name, fine, explain in self._checks:
            value = record.get(name, _ABSENT)
            if value is not _ABSENT and type(value) not in fine:
                problem = explain(value)
                if problem:
                    raise RecordError(self.subject, name, problem)

    def _explain(self, record: Mapping[str, Any], err: Exception) -> RecordError:
        try:
            validate(record, self._parsed, raise_errors=True)
        except ValidationError as invalid:
            field = _field_named(self._parsed["name"], invalid.errors, self._fields)
            if field is not None:
                expected = describe(self._fields[field]["type"])
                if field not in record:
                    return RecordError(self.subject, field, f"is missing and has no default (expects {expected})")
                value = record[field]
                return RecordError(self.subject, field, f"expects {expected}, got {type(value).__name__} {value!r}")
            return RecordError(self.subject, None, "; ".join(map(str, invalid.errors)))
        return RecordError(self.subject, _field_named("", [str(err)], self._fields), str(err))


class RecordDecoder:
    """Decodes values by their writer schema into the reader schema of the topic's subject."""

    def __init__(self, catalog: SchemaCatalog):
        self._catalog = catalog
        self._plans: dict[str, dict[bytes, Reader]] = {}  # topic -> a value's first five bytes -> its reader

    def decode(self, topic: str, value: bytes | None) -> dict[str, Any] | None:
        if value is None:  # a tombstone on a compacted topic
            return None
        plans = self._plans.get(topic)
        read = plans.get(value[:5]) if plans is not None else None  # known headers are in the wire format
        if read is None:
            read = self._plan(topic, value)
        record: dict[str, Any] = read(value, 5)[0]  # a record schema reads as a dict
        return record

    def _plan(self, topic: str, value: bytes) -> Reader:
        if len(value) < 5 or value[0] != 0:
            raise ConsumeError(f"value of {len(value)} bytes is not in the schema-registry wire format "
                               "(byte 0, schema id, Avro)")
        schema_id = int.from_bytes(value[1:5], "big")
        writer = self._catalog.writer_schema(schema_id)
        try:
            reader = self._catalog.for_topic(topic)
        except ValueError:  # not a market topic, or no subject for it: decode as written
            plan = reader_for(writer)
        else:
            # The subject's deployed version: records keep the shape the app was written against
            # while producers move to newer, compatible versions.
            plan = reader_for(writer, None if reader.schema_id == schema_id else reader.parsed)
        self._plans.setdefault(topic, {})[value[:5]] = plan
        return plan


def describe(schema: Any) -> str:
    """A field's type as a reader would say it: 'double', 'null or string', 'one of BUY, SELL'."""
    if isinstance(schema, list):
        return " or ".join(describe(s) for s in schema)
    if isinstance(schema, dict):
        kind = schema.get("type")
        if schema.get("logicalType"):
            return f"{kind} ({schema['logicalType']})"
        if kind == "enum":
            return "one of " + ", ".join(schema["symbols"])
        if kind == "array":
            return f"array of {describe(schema['items'])}"
        if kind == "map":
            return f"map of {describe(schema['values'])}"
        return str(schema.get("name", kind))
    return str(schema)


def _field_named(record_name: str, errors: Sequence[Any], fields: Mapping[str, Any]) -> str | None:
    """The first field an error message of fastavro's names (…Trade.price is <x>…, on field price)."""
    for error in errors:
        for match in re.finditer(rf"(?:{re.escape(record_name)}\.|on field |for )(\w+)", str(error)):
            if match.group(1) in fields:
                return match.group(1)
    return None


def _check_for(field: Mapping[str, Any]) -> Check | None:
    """A check for a field whose type fastavro's writer coerces; None where the writer is strict."""
    schema = field["type"]
    kind = schema.get("type") if isinstance(schema, dict) else schema
    logical = schema.get("logicalType", "") if isinstance(schema, dict) else ""
    name = field["name"]
    if kind in ("int", "long") and logical.startswith("timestamp"):
        return name, frozenset({int}), _timestamp
    if kind == "int":
        return name, frozenset(), _int32
    if kind == "long":
        return name, frozenset({int}), _integer
    if kind in ("float", "double"):
        return name, frozenset({float, int}), _number
    if kind == "boolean":
        return name, frozenset({bool}), lambda v: f"expects boolean, got {type(v).__name__} {v!r}"
    if kind in ("array", "map"):
        container = list if kind == "array" else dict
        return name, frozenset({container}), lambda v: _container(v, kind)
    return None  # strings, bytes, enums, unions, records: the writer refuses a mismatch itself


def _integer(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    return f"expects long (a whole number), got {type(value).__name__} {value!r}"


def _int32(value: Any) -> str | None:
    return _integer(value) or (None if -(2**31) <= value < 2**31 else f"expects int (32 bits), got {value}")


def _timestamp(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        return None if value.tzinfo is not None else "expects UTC: got a naive datetime (no tzinfo)"
    return _integer(value)


def _number(value: Any) -> str | None:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return None
    return f"expects a number, got {type(value).__name__} {value!r}"


def _container(value: Any, kind: str) -> str | None:
    if kind == "array" and isinstance(value, list | tuple):
        return None
    if kind == "map" and isinstance(value, Mapping):
        return None
    return f"expects {kind}, got {type(value).__name__} {value!r}"
