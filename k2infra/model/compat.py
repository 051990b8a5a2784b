"""Avro schema compatibility, checked offline with the Apache avro library's checker.

This is the same reader/writer resolution the registry runs, so a change that would be refused on
apply is refused at preview, even when the registry cannot be reached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType, SchemaIncompatibilityType

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
    kept = {f["name"] for f in json.loads(new).get("fields", [])}
    return [
        f"field {f['name']!r} is required (no default) and was removed: apps still reading with the deployed "
        "schema would fail on every new record; keep it, or first give it a default in a release of its own"
        for f in json.loads(old).get("fields", [])
        if f["name"] not in kept and "default" not in f
    ]


def _check(reader_text: str, writer_text: str, direction: str) -> list[str]:
    reader, writer = avro.schema.parse(reader_text), avro.schema.parse(writer_text)
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    reader_fields = [f.get("name") for f in json.loads(reader_text).get("fields", [])]
    who = "the new schema cannot read records written with the deployed one" if direction == "new-reads-old" \
        else "the deployed schema cannot read records written with the new one"
    out = []
    for kind, location, message in zip(result.incompatibilities, sorted(result.locations, key=len, reverse=True),
                                       sorted(result.messages), strict=False):
        field = _field_at(location, reader_fields) or message
        if kind is SchemaIncompatibilityType.reader_field_missing_default_value and direction == "new-reads-old":
            out.append(f"field {message!r} is new and has no default: {who}; give it a default "
                       "(e.g. a nullable type with default null)")
        elif kind is SchemaIncompatibilityType.reader_field_missing_default_value:
            out.append(f"field {message!r} is required by the deployed schema and missing from the new one: {who}")
        elif kind is SchemaIncompatibilityType.type_mismatch:
            out.append(f"field {field!r} changed type ({message}): {who}; add a new field instead")
        else:
            out.append(f"field {field!r}: {message} ({kind.value}): {who}")
    return out


def _field_at(location: str, fields: list[str | None]) -> str | None:
    match = re.match(r"^/fields/(\d+)", location)
    if match and int(match.group(1)) < len(fields):
        return fields[int(match.group(1))]
    return None
