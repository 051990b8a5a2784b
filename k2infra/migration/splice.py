"""The fast path of a transcode: a legacy record's Avro body rewritten into the shared schema without decoding it.

Avro's binary encoding has no field names or tags: a record is its fields' encodings one after the other. So
once the field boundaries of a legacy body are known (a cheap scan, per writer schema), the shared-schema body
is mostly slices of it in the target's field order: renamed fields are copied as they are, dropped ones left
out, missing ones filled with pre-encoded bytes (their default or the value topics.yaml gives), the exchange
field replaced by the target's code and a record_timestamp field encoded from the record's timestamp.

A field is copied only where its writer type and its target type encode alike (same structure, same logical
type; int as long); a few conversions are done on the bytes: timestamp units scaled up, a string into an enum,
a value into a union that holds its type. Anything else (or a value a conversion refuses) makes the caller take
the slow path (decode, map, encode with RecordEncoder), which refuses with the field named. The unit tests check
that both paths give the same bytes. Varints, named types and pre-encoded values are the app helpers' own
(k2infra.clients.avro.binary), which their generated writers and readers use too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from k2infra.clients.avro.binary import encoded, named_types, read_long, skip_long, zigzag
from k2infra.model.legacy import EXCHANGE_FIELD, TIMESTAMP_UNITS, LegacyTopic, timestamp_unit

Skip = Callable[[bytes, int], int]  # (body, position) -> the position after the value
Convert = Callable[[bytes, int], bytes]  # (body, start of the value) -> its target encoding


class NoSplice(Exception):
    """This writer schema, target schema or value needs the slow path."""


# --- reading -------------------------------------------------------------------------------------------------------


def _skip_sized(body: bytes, i: int) -> int:
    byte = body[i]
    if byte < 0x80:  # one-byte length: most strings
        size = (byte >> 1) ^ -(byte & 1)
        if size < 0:
            raise ValueError("negative length")
        return i + 1 + size
    size, i = read_long(body, i)
    if size < 0:
        raise ValueError("negative length")
    return i + size


def _skip_string(body: bytes, i: int) -> int:
    end = _skip_sized(body, i)
    text = body[skip_long(body, i):end]
    if not text.isascii():
        text.decode("utf-8")  # UnicodeDecodeError: not a string the slow path could decode either
    return end


def _skip_null(body: bytes, i: int) -> int:
    return i


def _fixed(size: int) -> Skip:
    return lambda body, i: i + size


def _union(branches: Sequence[Skip]) -> Skip:
    def skip(body: bytes, i: int) -> int:
        index, i = read_long(body, i)
        return branches[index](body, i)  # IndexError for a branch the schema lacks
    return skip


def _blocks(item: Skip, pairs: bool) -> Skip:
    def skip(body: bytes, i: int) -> int:
        while True:
            count, i = read_long(body, i)
            if count == 0:
                return i
            if count < 0:  # a block with its size in bytes: skip it whole
                size, i = read_long(body, i)
                i += size
                continue
            for _ in range(count):
                if pairs:
                    i = _skip_sized(body, i)
                i = item(body, i)
    return skip


def _record(fields: Sequence[Skip]) -> Skip:
    def skip(body: bytes, i: int) -> int:
        for field in fields:
            i = field(body, i)
        return i
    return skip


PRIMITIVE_SKIPS: dict[str, Skip] = {
    "null": _skip_null, "boolean": _fixed(1), "int": skip_long, "long": skip_long, "float": _fixed(4),
    "double": _fixed(8), "bytes": _skip_sized, "string": _skip_string,
}


def skipper(schema: Any, named: dict[str, Any]) -> Skip:
    """A function skipping one value of `schema` (named types resolved through `named`)."""
    if isinstance(schema, str):
        if schema in PRIMITIVE_SKIPS:
            return PRIMITIVE_SKIPS[schema]
        if schema not in named:
            raise NoSplice(f"unknown type {schema}")
        return skipper(named[schema], named)
    if isinstance(schema, list):
        return _union([skipper(s, named) for s in schema])
    kind = schema.get("type")
    if kind in PRIMITIVE_SKIPS:
        return PRIMITIVE_SKIPS[kind]
    if kind == "enum":
        return skip_long
    if kind == "fixed":
        return _fixed(int(schema["size"]))
    if kind == "array":
        return _blocks(skipper(schema["items"], named), pairs=False)
    if kind == "map":
        return _blocks(skipper(schema["values"], named), pairs=True)
    if kind in ("record", "error"):
        return _record([skipper(f["type"], named) for f in schema["fields"]])
    raise NoSplice(f"unknown type {kind}")


def _resolved(schema: Any, named: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> Any:
    """A type as plain structure for comparing (names, docs and defaults aside; named types inlined)."""
    if isinstance(schema, str):
        if schema in PRIMITIVE_SKIPS:
            return schema
        if schema in seen:
            return ("recursive", schema)
        return _resolved(named[schema], named, seen | {schema})
    if isinstance(schema, list):
        return ("union", *(_resolved(s, named, seen) for s in schema))
    kind = schema.get("type")
    if kind in PRIMITIVE_SKIPS:
        return (kind, schema.get("logicalType"))
    if kind == "enum":
        return ("enum", *schema["symbols"])
    if kind == "fixed":
        return ("fixed", schema["size"], schema.get("logicalType"))
    if kind == "array":
        return ("array", _resolved(schema["items"], named, seen))
    if kind == "map":
        return ("map", _resolved(schema["values"], named, seen))
    inner = seen | {schema.get("name", "")}
    return ("record", *((f["name"], _resolved(f["type"], named, inner)) for f in schema["fields"]))


def _plain(resolved: Any) -> Any:
    """Primitive types written bare or as {"type": ...} compare alike."""
    if isinstance(resolved, tuple) and len(resolved) == 2 and resolved[0] in PRIMITIVE_SKIPS and resolved[1] is None:
        return resolved[0]
    if isinstance(resolved, tuple):
        return tuple(_plain(r) for r in resolved)
    return resolved


# --- the plans -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where each field of a writer schema's records lies, and the legacy-to-shared field names."""

    schema: dict[str, Any]
    named: dict[str, Any]
    fields: tuple[str, ...]  # shared-schema names (renamed), in writer order; "" for dropped fields
    # shared name of a string field that routing reads -> where its UTF-8 starts and ends, as positions in bounds
    texts: Mapping[str, tuple[int, int]]
    # body -> the start of each field, the end of the last, then where the text of each of `texts` starts;
    # IndexError, ValueError, UnicodeDecodeError: not a body of this schema
    bounds: Callable[[bytes], tuple[int, ...]]

    @classmethod
    def of(cls, writer: Any, legacy: LegacyTopic) -> Layout:
        if not isinstance(writer, dict) or writer.get("type") != "record":
            raise NoSplice("not a record schema")
        named = named_types(writer, writer.get("namespace"))
        names = tuple("" if f["name"] in legacy.drop else legacy.rename.get(f["name"], f["name"])
                      for f in writer["fields"])
        types = [_plain(_resolved(f["type"], named)) for f in writer["fields"]]
        routing = {EXCHANGE_FIELD, legacy.partition_key, *legacy.key.fields}
        texts = [i for i, (n, t) in enumerate(zip(names, types, strict=True)) if n in routing and t == "string"]
        positions = {names[i]: (len(types) + 1 + k, i + 1) for k, i in enumerate(texts)}
        return cls(writer, named, names, positions, _scanner(types, [skipper(f["type"], named)
                                                                      for f in writer["fields"]], texts))

    def raw(self, body: bytes, bounds: Sequence[int], name: str) -> bytes:
        """The UTF-8 of string field `name` (KeyError unless one of `texts`; checked to be UTF-8 by the scan)."""
        start, end = self.texts[name]
        return body[bounds[start]:bounds[end]]


def _kind(resolved: Any) -> str:
    if isinstance(resolved, str):
        return resolved
    return str(resolved[0])


def _skip_code(resolved: Any, generic: str, text: str = "") -> list[str]:
    """Python lines advancing `i` over one value in body `v` (straight-line code: no call per field); for a string
    with `text` set, they also set that variable to where its UTF-8 starts."""
    kind = _kind(resolved)
    if kind == "null":
        return []
    if kind in ("boolean", "float", "double"):
        return [f"i += {dict(boolean=1, float=4, double=8)[kind]}"]
    if kind == "fixed":
        return [f"i += {int(resolved[1])}"]
    if kind in ("int", "long", "enum"):
        return ["while v[i] & 128:", "    i += 1", "i += 1"]
    if kind == "bytes":
        return ["x = v[i]", "if x < 128:", "    if x & 1:", "        raise ValueError('negative length')",
                "    i += 1 + (x >> 1)", "else:", "    i = _sized(v, i)"]
    if kind == "string":  # checked to be UTF-8, as decoding would: the copy must decode where it lands
        return ["x = v[i]", "if x < 128:", "    if x & 1:", "        raise ValueError('negative length')",
                "    j = i + 1 + (x >> 1)", "    s = v[i + 1:j]", "    if not s.isascii():", "        s.decode()",
                *([f"    {text} = i + 1"] if text else []), "    i = j", "else:",
                *([f"    {text} = _afterread_long(v, i)"] if text else []), "    i = _string(v, i)"]
    if kind == "union" and all(_kind(b) not in ("union", "array", "map", "record") for b in resolved[1:]) \
            and len(resolved) <= 64:
        lines = ["x = v[i]", "i += 1"]
        for number, branch in enumerate(resolved[1:]):
            lines.append(f"{'if' if number == 0 else 'elif'} x == {2 * number}:")
            lines += ["    " + line for line in (_skip_code(branch, generic) or ["pass"])]
        return [*lines, "else:", "    raise ValueError('no such union branch')"]
    return [f"i = {generic}(v, i)"]


def _scanner(types: Sequence[Any], skips: Sequence[Skip], texts: Sequence[int]) -> Callable[[bytes], tuple[int, ...]]:
    """A function made for one writer schema: the field boundaries of a body (Confluent header included), then
    where the UTF-8 of each of the string fields `texts` starts."""
    lines = ["def bounds(v):", "    i = 5"]
    for number, resolved in enumerate(types):
        lines += ["    " + line for line in _skip_code(resolved, f"S{number}", f"t{number}" if number in texts else "")]
        lines.append(f"    e{number} = i")
    lines += ["    if i != len(v):", "        raise ValueError('bytes left over')",
              f"    return (5, {''.join(f'e{n}, ' for n in range(len(types)))}{''.join(f't{n}, ' for n in texts)})"]
    namespace: dict[str, Any] = {"_sized": _skip_sized, "_string": _skip_string, "_after_varint": skip_long,
                                 **{f"S{n}": skip for n, skip in enumerate(skips)}}
    exec(compile("\n".join(lines), "<k2 migrate: field scanner>", "exec"), namespace)  # generated above
    return namespace["bounds"]  # type: ignore[no-any-return]


def _stamper(unit: int) -> Callable[[int], bytes]:
    """A record timestamp in the field's units, encoded; records close in time share it: the last is kept."""
    last: list[Any] = [None, b""]

    def stamp(timestamp_ms: int) -> bytes:
        if timestamp_ms != last[0]:
            last[0], last[1] = timestamp_ms, zigzag(timestamp_ms * unit)
        return last[1]  # type: ignore[no-any-return]
    return stamp


def _memo(convert: Convert, size: int = 4096) -> Callable[[bytes, int, int], bytes]:
    """A conversion remembered by the field's bytes (a side, a currency: few values, converted once each)."""
    seen: dict[bytes, bytes] = {}

    def converted(body: bytes, start: int, end: int) -> bytes:
        field = body[start:end]
        found = seen.get(field)
        if found is None:
            found = convert(body, start)
            if len(seen) < size:
                seen[field] = found
        return found
    return converted


@dataclass(frozen=True)
class Slice:
    first: int  # field indexes: the bytes from the start of `first` to the start of `end`
    end: int


@dataclass(frozen=True)
class Converted:
    index: int
    convert: Convert
    memo: bool = True  # remember results by the field's bytes


@dataclass(frozen=True)
class Stamp:
    prefix: bytes  # a union branch index, if any
    unit: int  # field units per millisecond


Part = bytes | Slice | Converted | Stamp


class Template:
    """How one writer schema's bodies become one target's: slices, constants, conversions and the timestamp,
    joined by a function made for it."""

    def __init__(self, parts: Sequence[Part]):
        merged: list[Part] = []
        for part in parts:  # adjacent slices of the legacy body become one slice, adjacent constants one constant
            last = merged[-1] if merged else None
            if isinstance(part, Slice) and isinstance(last, Slice) and last.end == part.first:
                merged[-1] = Slice(last.first, part.end)
            elif isinstance(part, bytes) and isinstance(last, bytes):
                merged[-1] = last + part
            else:
                merged.append(part)
        self.parts = tuple(merged)
        namespace: dict[str, Any] = {"_zz": zigzag}
        pieces = []
        for number, part in enumerate(self.parts):
            if isinstance(part, bytes):
                namespace[f"C{number}"] = part
                pieces.append(f"C{number}")
            elif isinstance(part, Slice):
                pieces.append(f"v[b[{part.first}]:b[{part.end}]]")
            elif isinstance(part, Converted):
                if part.memo:
                    namespace[f"F{number}"] = _memo(part.convert)
                    pieces.append(f"F{number}(v, b[{part.index}], b[{part.index + 1}])")
                else:
                    namespace[f"F{number}"] = part.convert
                    pieces.append(f"F{number}(v, b[{part.index}])")
            else:
                namespace[f"C{number}"] = part.prefix
                namespace[f"T{number}"] = _stamper(part.unit)
                pieces.append(f"C{number} + T{number}(ts)")
        source = f"def body(v, b, ts):\n    return b''.join(({''.join(p + ', ' for p in pieces)}))"
        exec(compile(source, "<k2 migrate: body template>", "exec"), namespace)  # generated above
        self.body: Callable[[bytes, Sequence[int], int], bytes] = namespace["body"]
        """(legacy body, its bounds, the record's timestamp in ms) -> the target body; NoSplice where a
        conversion refuses the value."""

    @classmethod
    def build(cls, layout: Layout, target: dict[str, Any], legacy: LegacyTopic, exchange: str) -> Template:
        """NoSplice when a target field cannot be made from the bytes (the slow path then explains why)."""
        named = named_types(target, target.get("namespace"))
        position = {name: i for i, name in enumerate(layout.fields) if name}
        kept = set(position)
        parts: list[Part] = []
        for field in target["fields"]:
            name, kind = field["name"], field["type"]
            if name == EXCHANGE_FIELD:
                parts.append(encoded(kind, exchange, named))
                kept.discard(name)
            elif name in position:
                index = position[name]
                writer = layout.schema["fields"][index]["type"]
                parts.append(_converted(index, writer, layout.named, kind, named))
                kept.discard(name)
            elif name in legacy.values:
                parts.append(encoded(kind, legacy.values[name], named))
            elif name in legacy.record_timestamp:
                parts.append(_timestamp(kind, named))
            elif "default" in field:
                parts.append(encoded(kind, field["default"], named))
            else:
                raise NoSplice(f"{name} is missing and has no default")
        if kept:
            raise NoSplice(f"legacy fields {sorted(kept)} are not in the target schema")
        return cls(parts)


def _converted(index: int, writer: Any, writer_named: Mapping[str, Any], target: Any,
               target_named: Mapping[str, Any]) -> Part:
    """The target encoding of writer field `index`: its slice when both encode alike, else a conversion."""
    writer, target = _plain(_resolved(writer, writer_named)), _plain(_resolved(target, target_named))
    convert = _conversion(writer, target)
    # Timestamps differ from record to record: not worth remembering.
    return Slice(index, index + 1) if convert is None else Converted(index, convert, _scale(writer, target) is None)


def _conversion(writer: Any, target: Any) -> Convert | None:
    """None: copy the bytes. NoSplice: no conversion on the bytes (the slow path decides)."""
    if writer == target or (writer == "int" and target == "long"):
        return None
    if isinstance(target, tuple) and target[0] == "union":
        branches = target[1:]
        if isinstance(writer, tuple) and writer[0] == "union":
            moves = [_into_union(w, branches) for w in writer[1:]]

            def union_to_union(body: bytes, i: int) -> bytes:
                index, i = read_long(body, i)
                return moves[index](body, i)
            return union_to_union
        move = _into_union(writer, branches)
        return lambda body, i: move(body, i)
    if isinstance(target, tuple) and target[0] == "enum" and writer == "string":
        symbols = {s: zigzag(n) for n, s in enumerate(target[1:])}

        def string_to_enum(body: bytes, i: int) -> bytes:
            size, i = read_long(body, i)
            found = symbols.get(body[i:i + size].decode("utf-8"))
            if found is None:
                raise NoSplice("not a symbol of the enum")
            return found
        return string_to_enum
    scale = _scale(writer, target)
    if scale is not None:
        return _scaled(scale)
    raise NoSplice(f"{writer} -> {target}")


def _scaled(scale: int) -> Convert:
    def scaled(body: bytes, i: int) -> bytes:
        value = read_long(body, i)[0] * scale
        if not -(2**63) <= value < 2**63:
            raise NoSplice("out of the range of a long")
        return zigzag(value)
    return scaled


def _into_union(writer: Any, branches: Sequence[Any]) -> Convert:
    """A writer value into the first target branch that takes it as it is, else one it converts into."""
    for number, branch in enumerate(branches):
        if branch == writer or (writer == "int" and branch == "long"):
            return _prefixed_copy(zigzag(number), _skip_resolved(writer))
    for number, branch in enumerate(branches):
        try:
            convert = _conversion(writer, branch)
        except NoSplice:
            continue
        if convert is not None:
            return _prefixed(zigzag(number), convert)
    raise NoSplice(f"{writer} fits no branch of {branches}")


def _prefixed_copy(prefix: bytes, skip: Skip) -> Convert:
    def copy(body: bytes, i: int) -> bytes:
        return prefix + body[i:skip(body, i)]
    return copy


def _prefixed(prefix: bytes, convert: Convert) -> Convert:
    def converted(body: bytes, i: int) -> bytes:
        return prefix + convert(body, i)
    return converted


def _skip_resolved(resolved: Any) -> Skip:
    if isinstance(resolved, str):
        return PRIMITIVE_SKIPS[resolved]
    kind = resolved[0]
    if kind in PRIMITIVE_SKIPS:
        return PRIMITIVE_SKIPS[kind]
    if kind == "union":
        return _union([_skip_resolved(r) for r in resolved[1:]])
    if kind == "enum":
        return skip_long
    if kind == "fixed":
        return _fixed(int(resolved[1]))
    if kind in ("array", "map"):
        return _blocks(_skip_resolved(resolved[1]), pairs=kind == "map")
    if kind == "record":
        return _record([_skip_resolved(r) for _, r in resolved[1:]])
    raise NoSplice(f"cannot skip {kind}")


def _scale(writer: Any, target: Any) -> int | None:
    """A timestamp in coarser units into finer ones (ms -> µs): the factor; None otherwise."""
    if not (isinstance(writer, tuple) and isinstance(target, tuple) and writer[0] == target[0] == "long"):
        return None
    wunit, tunit = TIMESTAMP_UNITS.get(writer[1] or ""), TIMESTAMP_UNITS.get(target[1] or "")
    if wunit is None or tunit is None or tunit % wunit:
        return None
    return tunit // wunit


def _timestamp(schema: Any, named: Mapping[str, Any]) -> Stamp:
    unit = timestamp_unit(schema)
    if unit is None:
        raise NoSplice("not a timestamp field")
    resolved = _plain(_resolved(schema, named))
    prefix = b""
    if isinstance(resolved, tuple) and resolved[0] == "union":
        number = next((n for n, b in enumerate(resolved[1:]) if b == "long" or (isinstance(b, tuple) and
                                                                               b[0] == "long")), None)
        if number is None:
            raise NoSplice("no long branch")
        prefix = zigzag(number)
    return Stamp(prefix, unit)


def layout_of(text: str, legacy: LegacyTopic) -> Layout | None:
    try:
        return Layout.of(json.loads(text), legacy)
    except (NoSplice, ValueError, KeyError, TypeError):
        return None
