"""Avro schema compatibility, checked offline with the Apache avro library's checker.

This is the same reader/writer resolution the registry runs, so a change that would be refused on
apply is refused at preview, even when the registry cannot be reached.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityType,
    SchemaIncompatibilityType,
    lookup_writer_field,
    schema_name_equals,
)
from avro.schema import ArraySchema, EnumSchema, MapSchema, NamedSchema, RecordSchema, UnionSchema

# Which direction(s) each level checks: BACKWARD = the new schema reads data written with the old.
_DIRECTIONS = {
    "BACKWARD": ("new-reads-old",),
    "FORWARD": ("old-reads-new",),
    "FULL": ("new-reads-old", "old-reads-new"),
    "NONE": (),
}


def incompatibilities(new: str, previous: Sequence[str], level: str) -> list[str]:
    """Why `new` may not follow `previous` (oldest first) under `level`; empty when it may.

    Non-transitive levels compare with the latest version only, as the registry does.
    """
    transitive = level.endswith("_TRANSITIVE")
    base = level.removesuffix("_TRANSITIVE")
    against = list(previous) if transitive else list(previous[-1:])
    problems: list[str] = []
    for old in against:
        for direction in _DIRECTIONS[base]:
            reader, writer = (new, old) if direction == "new-reads-old" else (old, new)
            problems += _check(reader, writer, direction)
    if base == "BACKWARD" and previous:
        problems += _removed_required_fields(new, previous[-1])
    return list(dict.fromkeys(problems))


def _removed_required_fields(new: str, old: str) -> list[str]:
    """K2's rule on top of BACKWARD (the design's "cannot remove required fields").

    Avro's BACKWARD alone allows it, but apps still running with the old schema would then fail on
    every new record, so removing a field is allowed only when it has a default.
    """
    new_schema, old_schema = json.loads(new), json.loads(old)
    if not isinstance(new_schema, dict) or not isinstance(old_schema, dict):
        return []  # not records: no fields to remove
    kept = {f["name"] for f in new_schema.get("fields", [])}
    return [
        f"field {f['name']!r} is required (no default) and was removed: apps still reading with the deployed "
        "schema would fail on every new record; keep it, or first give it a default in a release of its own"
        for f in old_schema.get("fields", [])
        if f["name"] not in kept and "default" not in f
    ]


def _check(reader_text: str, writer_text: str, direction: str) -> list[str]:
    reader, writer = avro.schema.parse(reader_text), avro.schema.parse(writer_text)
    who = "the new schema cannot read records written with the deployed one" if direction == "new-reads-old" \
        else "the deployed schema cannot read records written with the new one"
    out = [_describe(p, direction, who) for p in _compare(reader, writer, "", set())]
    whole = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if not out and whole.compatibility is not SchemaCompatibilityType.compatible:
        # Never expected (the walk applies avro's own rules); if it happens, avro's verdict still stands.
        kinds = ", ".join(sorted({k.value for k in whole.incompatibilities}))
        out.append(f"the schema is incompatible ({kinds}: {'; '.join(sorted(whole.messages))}): {who}")
    return out


@dataclass(frozen=True)
class _Problem:
    """One field's incompatibility: `path` is the field (dotted inside nested records, "" for the record
    itself); `reader` and `writer` are its schemas on each side (None: absent from the writer)."""

    path: str
    kinds: tuple[SchemaIncompatibilityType, ...]
    messages: tuple[str, ...]
    reader: avro.schema.Schema
    writer: avro.schema.Schema | None


def _compare(reader: avro.schema.Schema, writer: avro.schema.Schema, path: str,
             seen: set[tuple[str, str]]) -> list[_Problem]:
    """Avro's record rule (match reader fields to writer fields by name or alias; a reader field the
    writer lacks needs a default), applied field by field so each problem keeps its own field; every
    other pair of types is left to avro's checker, asked about that field alone.

    Avro's checker on the whole record returns its reasons and locations as unordered sets, which
    cannot be paired back up once there are two or more.
    """
    if isinstance(reader, RecordSchema) and isinstance(writer, RecordSchema):
        key = (reader.fullname, writer.fullname)
        if key in seen:  # a recursive type: its fields are being compared further up
            return []
        seen = seen | {key}
        out = []
        if not schema_name_equals(reader, writer):
            out.append(_Problem(path, (SchemaIncompatibilityType.name_mismatch,), (), reader, writer))
        for field in reader.fields:
            name = f"{path}.{field.name}" if path else field.name
            writer_field = lookup_writer_field(writer_schema=writer, reader_field=field)
            if writer_field is None:
                if not field.has_default:
                    out.append(_Problem(name, (SchemaIncompatibilityType.reader_field_missing_default_value,), (),
                                        field.type, None))
            else:
                out += _compare(field.type, writer_field.type, name, seen)
        return out
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    if isinstance(reader, UnionSchema) or isinstance(writer, UnionSchema):
        inside = _inside_union(reader, writer, path, seen)
        if inside:
            return inside
    return [_Problem(path, tuple(result.incompatibilities), tuple(sorted(result.messages)), reader, writer)]


def _inside_union(reader: avro.schema.Schema, writer: avro.schema.Schema, path: str,
                  seen: set[tuple[str, str]]) -> list[_Problem]:
    """When a union differs only inside a record both sides carry (["null", Quote]), the fields that
    differ, by their path; empty when the union itself changed (then it is reported whole)."""
    readers = reader.schemas if isinstance(reader, UnionSchema) else [reader]
    records = {s.fullname: s for s in readers if isinstance(s, RecordSchema)}
    out: list[_Problem] = []
    for branch in writer.schemas if isinstance(writer, UnionSchema) else [writer]:
        if _compatible(reader, branch):
            continue
        partner = records.get(branch.fullname) if isinstance(branch, RecordSchema) else None
        found = _compare(partner, branch, path, seen) if partner is not None else []
        if not found:
            return []
        out += found
    return out


def _compatible(reader: avro.schema.Schema, writer: avro.schema.Schema) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    return result.compatibility is SchemaCompatibilityType.compatible


def _describe(problem: _Problem, direction: str, who: str) -> str:
    field = f"field {problem.path!r}" if problem.path else "the schema"
    if problem.writer is None:
        if direction == "new-reads-old":
            return (f"{field} is new and has no default: {who}; give it a default "
                    "(e.g. a nullable type with default null)")
        return f"{field} is required by the deployed schema and missing from the new one: {who}"
    new, old = (problem.reader, problem.writer) if direction == "new-reads-old" else (problem.writer, problem.reader)
    kinds = set(problem.kinds)
    if kinds <= {SchemaIncompatibilityType.type_mismatch, SchemaIncompatibilityType.missing_union_branch} \
            and _render(old) != _render(new):
        return f"{field} changed type from {_render(old)} to {_render(new)}: {who}; add a new field instead"
    if kinds == {SchemaIncompatibilityType.name_mismatch} and not problem.messages:
        return f"{field} changed its name from {_render(old)} to {_render(new)}: {who}"
    if kinds == {SchemaIncompatibilityType.missing_enum_symbols} and isinstance(old, EnumSchema) \
            and isinstance(new, EnumSchema):
        if direction == "new-reads-old":
            return (f"{field} ({_render(new)}) drops the symbols {_symbols(old, new)} and has no enum default: "
                    f"{who}; keep them, or give the enum a default")
        return (f"{field} ({_render(new)}) adds the symbols {_symbols(new, old)}, which the deployed enum "
                f"lacks and has no default for: {who}")
    named = ", ".join(sorted(k.value for k in kinds))
    detail = "; ".join(problem.messages) or named
    if _render(old) == _render(new):
        return f"{field} ({_render(new)}) differs inside ({detail}; {named}): {who}"
    return f"{field} changed from {_render(old)} to {_render(new)} ({detail}; {named}): {who}"


def _symbols(having: EnumSchema, lacking: EnumSchema) -> str:
    return ", ".join(s for s in having.symbols if s not in set(lacking.symbols))


def _render(schema: avro.schema.Schema) -> str:
    """A type as a person reads it: double, Trade, array of string, null or string."""
    if isinstance(schema, UnionSchema):
        return " or ".join(_render(s) for s in schema.schemas)
    if isinstance(schema, ArraySchema):
        return f"array of {_render(schema.items)}"
    if isinstance(schema, MapSchema):
        return f"map of {_render(schema.values)}"
    if isinstance(schema, NamedSchema):
        return f"{schema.type} {schema.fullname}"
    return str(schema.type)
