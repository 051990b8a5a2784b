"""A record schema's writer as generated Python: straight-line code per field, compiled once.

The function takes a record (a dict) and the Confluent header and returns the framed value, exactly the bytes
fastavro.schemaless_writer gives; or None for any value it does not take as it is (a subclass of str, a tuple, an
int out of range, an unknown field, a missing one...): the caller then takes fastavro, which writes or refuses it
as it always did. So the fast path never decides anything fastavro would decide differently. At the top level it
takes no more than RecordEncoder's checks let through (no naive datetimes, no bools as numbers, no floats in
longs), and it counts the fields it found so that an unknown one is noticed without comparing key sets.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable, Mapping
from typing import Any

from fastavro.write import LOGICAL_WRITERS

from k2infra.clients.avro.binary import HIGH_BYTES, THREE_BYTES, encoded, zigzag
from k2infra.clients.avro.source import Source, Unsupported, indent, kind_of, logical_key

Writer = Callable[[Mapping[str, Any], bytes], bytes | None]
Emitted = tuple[list[str], list[str]]  # (lines, the expressions of the pieces the value's bytes are joined from)

# The logical types whose fastavro conversion we know: it leaves an int, float, str, bytes, list, dict, bool or
# None as it is, except int-date, which parses a str (so a str in a union with a date takes fastavro).
KNOWN_LOGICAL = frozenset(LOGICAL_WRITERS) & {
    "long-timestamp-millis", "long-local-timestamp-millis", "long-timestamp-micros", "long-local-timestamp-micros",
    "int-date", "bytes-decimal", "fixed-decimal", "string-uuid", "int-time-millis", "long-time-micros"}
_LENGTHS: dict[bytes, tuple[bytes, ...]] = {}  # prefix -> the prefix and the varint of 0..1023, for strings


def compile_writer(schema: Any) -> Writer:
    """Unsupported for a construct the generated code does not handle."""
    if kind_of(schema) != "record":
        raise Unsupported("not a record schema")
    source = Source(schema)
    for key in _logical_keys(schema, source, set()):
        if key in LOGICAL_WRITERS and key not in KNOWN_LOGICAL:
            raise Unsupported(f"logical type {key}")
    source.names.update(MISSING=_MISSING, DATETIME=datetime.datetime, NUMBER=(float, int), LONG=zigzag,
                        HIGH_BYTES=HIGH_BYTES, THREE_BYTES=THREE_BYTES)
    return source.compile(_WriterSource(source).function(schema), "write", f"writer of {schema.get('name')}")


_MISSING = object()


def _logical_keys(schema: Any, source: Source, seen: set[str]) -> set[str]:
    schema = source.resolve(schema)
    kind = kind_of(schema)
    found = {key} if (key := logical_key(schema)) else set()
    if kind == "union":
        return found.union(*(_logical_keys(s, source, seen) for s in schema))
    if kind in ("array", "map"):
        return found | _logical_keys(schema["items" if kind == "array" else "values"], source, seen)
    if kind == "record" and schema["name"] not in seen:
        seen.add(schema["name"])
        return found.union(*(_logical_keys(f["type"], source, seen) for f in schema["fields"]))
    return found


def _lengths(prefix: bytes) -> tuple[bytes, ...]:
    found = _LENGTHS.get(prefix)
    if found is None:
        found = _LENGTHS[prefix] = tuple(prefix + zigzag(n) for n in range(1024))
    return found


def _plain_number(schema: Any) -> bool:
    kind = kind_of(schema)
    return kind in ("float", "double") and logical_key(schema) is None


class _WriterSource:
    def __init__(self, source: Source):
        self.s = source

    def function(self, schema: dict[str, Any]) -> list[str]:
        self.s.enter(schema)
        lines, pieces, required, optional = self.fields(schema["fields"], "r", top=True)
        self.s.leave()
        count = f"{required} + k" if optional else str(required)
        return ["def write(r, h):", "    try:", *(["        k = 0"] if optional else []), *indent(lines, 2),
                f"        if len(r) != {count}:", "            return None  # a field the schema does not have",
                f"        return b''.join((h, {''.join(p + ', ' for p in pieces)}))",
                "    except Exception:  # a value the fast path does not take as it is: fastavro decides",
                "        return None"]

    def fields(self, fields: list[dict[str, Any]], record: str, top: bool) -> tuple[list[str], list[str], int, int]:
        """Lines and pieces of a record's fields, and how many fields are required and optional."""
        lines: list[str] = []
        pieces: list[str] = []
        required = optional = 0
        run: list[tuple[str, Any]] = []  # consecutive required floats and doubles: packed in one call

        def flush() -> None:
            if run:
                fmt = "<" + "".join("d" if kind_of(t) == "double" else "f" for _, t in run)
                packed, pack = self.s.var("p"), self.s.const(struct.Struct(fmt).pack, "PACK")
                lines.append(f"{packed} = {pack}({', '.join(v for v, _ in run)})")
                pieces.append(packed)
                run.clear()

        for field in fields:
            name, kind = field["name"], field["type"]
            value = self.s.var("x")
            if "default" not in field and "null" not in kind:  # fastavro's own test for a field it needs
                required += 1
                lines.append(f"{value} = {record}[{name!r}]")  # KeyError: missing, fastavro explains
                if _plain_number(kind):
                    lines.append(f"if type({value}) not in NUMBER: return None")
                    run.append((value, kind))
                    continue
                flush()
                field_lines, field_pieces = self.value(kind, value, b"", top)
                lines += field_lines
                pieces += field_pieces
                continue
            flush()
            optional += 1
            field_lines, field_pieces = self.value(kind, value, b"", top)
            targets = [self.s.var("f") for _ in range(max(len(field_pieces), 1))]
            lines += [f"{value} = {record}.get({name!r}, MISSING)", f"if {value} is MISSING:",
                      *indent(self.default(field, targets)), "else:",
                      *indent([*(["k += 1"] if top else []), *field_lines, *_assign(targets, field_pieces)])]
            pieces += targets
        flush()
        return lines, pieces, required, optional

    def default(self, field: dict[str, Any], targets: list[str]) -> list[str]:
        """A missing field's bytes: its default (or null) as fastavro writes it, computed once."""
        try:
            constant = encoded(field["type"], field.get("default"), self.s.named)
        except Exception:  # no valid default: fastavro refuses the record
            return ["return None"]
        return _assign(targets, [repr(constant)])

    def value(self, schema: Any, v: str, prefix: bytes, top: bool = False, known: type | None = None) -> Emitted:
        """Lines checking and encoding the value in variable v (after the constant prefix, a union's index);
        `known`: its type, already checked by a union."""
        schema = self.s.resolve(schema)
        kind = kind_of(schema)
        if kind == "union":
            return self.union(schema, v)
        emit = getattr(self, f"_{kind}", None)
        if emit is None:
            raise Unsupported(f"type {kind}")
        return emit(schema, v, prefix, top, known)  # type: ignore[no-any-return]

    def _null(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        return ([] if known is type(None) else [f"if {v} is not None: return None"]), _constant(prefix)

    def _boolean(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        p = self.s.var("p")
        true, false = prefix + b"\x01", prefix + b"\x00"
        return [f"if {v} is True: {p} = {true!r}", f"elif {v} is False: {p} = {false!r}", "else: return None"], [p]

    def _int(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        lines = [] if known is int else self.converted(schema, v, int, top)
        if kind_of(schema) == "int":
            lines.append(f"if not -2147483648 <= {v} <= 2147483647: return None")
        small = self.s.const(tuple(prefix + zigzag(n) for n in range(-64, 64)), "SMALL")
        p = self.s.var("p")
        large = f"{prefix!r} + LONG({v})" if prefix else f"LONG({v})"  # LONG: ValueError out of a long's range
        if kind_of(schema) == "int":
            return [*lines, f"{p} = {small}[{v} + 64] if -65 < {v} < 64 else {large}"], [p]
        # binary.zigzag inline for a positive long of five bytes or more whose high bytes were seen (a timestamp)
        high, low = self.s.var("hb"), self.s.var("lo")
        three = f"THREE_BYTES({low} & 127 | 128, {low} >> 7 & 127 | 128, {low} >> 14 | 128) + {high}"
        return [*lines, f"if -65 < {v} < 64: {p} = {small}[{v} + 64]",
                f"elif 0x8000000 <= {v} < 0x4000000000000000 and ({high} := HIGH_BYTES.get({v} >> 20)) is not None:",
                f"    {low} = ({v} & 0xFFFFF) << 1",
                f"    {p} = {prefix!r} + {three}" if prefix else f"    {p} = {three}", f"else: {p} = {large}"], [p]

    _long = _int

    def _double(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        p = self.s.var("p")
        pack = self.s.const(struct.Struct("<d" if kind_of(schema) == "double" else "<f").pack, "PACK")
        check = [] if known in (float, int) else [f"if type({v}) not in NUMBER: return None"]
        return [*check, f"{p} = {pack}({v})"], [*_constant(prefix), p]  # OverflowError for a float: fastavro's

    _float = _double

    def _string(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        b, p = self.s.var("b"), self.s.var("p")
        lines = [] if known is str else self.converted(schema, v, str, top)
        return [*lines, f"{b} = {v}.encode()", *self.length(b, prefix, p)], [p, b]

    def _bytes(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        p = self.s.var("p")
        lines = [] if known is bytes else self.converted(schema, v, bytes, top)
        return [*lines, *self.length(v, prefix, p)], [p, v]

    def _fixed(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        lines = [] if known is bytes else self.converted(schema, v, bytes, top, also=bytearray)
        return [*lines, f"if len({v}) != {int(schema['size'])}: return None"], [*_constant(prefix), v]

    def _enum(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        symbols: dict[str, bytes] = {}
        for index, symbol in enumerate(schema["symbols"]):
            symbols.setdefault(symbol, prefix + zigzag(index))  # fastavro writes the first one's index
        p = self.s.var("p")
        return [f"{p} = {self.s.const(symbols, 'SYMBOLS')}.get({v})", f"if {p} is None: return None"], [p]

    def _array(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        x = self.s.var("x")
        item_lines, item_pieces = self.value(schema["items"], x, b"")
        return self.blocks(v, list, prefix, f"for {x} in {v}:", item_lines, item_pieces, known)

    def _map(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        key, x, kb, kp = self.s.var("y"), self.s.var("x"), self.s.var("b"), self.s.var("p")
        item_lines, item_pieces = self.value(schema["values"], x, b"")
        item_lines = [f"if type({key}) is not str: return None", f"{kb} = {key}.encode()",
                      *self.length(kb, b"", kp), *item_lines]
        return self.blocks(v, dict, prefix, f"for {key}, {x} in {v}.items():", item_lines, [kp, kb, *item_pieces],
                           known)

    def _record(self, schema: Any, v: str, prefix: bytes, top: bool, known: type | None) -> Emitted:
        self.s.enter(schema)
        lines, pieces, _, _ = self.fields(schema["fields"], v, top=False)  # like fastavro: other keys are ignored
        self.s.leave()
        return [*([] if known is dict else [f"if type({v}) is not dict: return None"]), *lines], \
            [*_constant(prefix), *pieces]

    def blocks(self, v: str, container: type, prefix: bytes, loop: str, item_lines: list[str], item_pieces: list[str],
               known: type | None) -> Emitted:
        """An array or map as fastavro writes it: one block of all items (if any), then the empty block."""
        q, p = self.s.var("q"), self.s.var("p")
        add = (f"{q}.append({item_pieces[0]})" if len(item_pieces) == 1 else
               f"{q} += ({''.join(i + ', ' for i in item_pieces)})" if item_pieces else "pass")
        count = f"{prefix!r} + LONG(len({v}))" if prefix else f"LONG(len({v}))"
        check = [] if known is container else [f"if type({v}) is not {container.__name__}: return None"]
        empty = prefix + b"\x00"
        return [*check, f"if {v}:", f"    {q} = [{count}]", f"    {loop}", *indent(item_lines, 2),
                f"        {add}", f"    {q}.append(b'\\x00')", f"    {p} = b''.join({q})", "else:",
                f"    {p} = {empty!r}"], [p]

    def length(self, b: str, prefix: bytes, p: str) -> list[str]:
        table = self.s.const(_lengths(prefix), "LENGTHS")
        large = f"{prefix!r} + LONG(len({b}))" if prefix else f"LONG(len({b}))"
        return ["try:", f"    {p} = {table}[len({b})]", "except IndexError:", f"    {p} = {large}"]

    def converted(self, schema: Any, v: str, base: type, top: bool, also: type | None = None) -> list[str]:
        """The type check of a value of type `base` (or `also`, taken as one), after fastavro's conversion of a
        logical type's value (a datetime, Decimal, UUID...) where it has one; at the top level, only what
        RecordEncoder's checks let through."""
        name, key = base.__name__, logical_key(schema)
        check = [f"    if type({v}) is {also.__name__}: {v} = {name}({v})",
                 f"    elif type({v}) is not {name}: return None"] if also else \
            [f"    if type({v}) is not {name}: return None"]
        if key not in LOGICAL_WRITERS:
            return [f"if type({v}) is not {name}:", *check] if also else [f"if type({v}) is not {name}: return None"]
        convert = f"    {v} = {self.s.const(LOGICAL_WRITERS[key], 'CONVERT')}({v}, {self.s.const(schema, 'SCHEMA')})"
        if top and base is int:  # RecordEncoder's checks: ints only, and aware datetimes for timestamps
            if not str(schema.get("logicalType")).startswith("timestamp"):
                return [f"if type({v}) is not int: return None"]
            return [f"if type({v}) is not int:", f"    if type({v}) is not DATETIME or {v}.tzinfo is None: return None",
                    convert, *check]
        return [f"if type({v}) is not {name}:", convert, *check]

    def union(self, branches: list[Any], v: str) -> Emitted:
        if len(branches) > 64:
            raise Unsupported("a union of more than 64 types")
        resolved = [self.s.resolve(b) for b in branches]
        if sum(kind_of(b) in ("record", "map") for b in resolved) > 1:
            raise Unsupported("a union of more than one record or map type (fastavro picks by the fields present)")
        t = self.s.var("t")
        cases = []
        for python_type, test in _DISPATCH:
            steps = [(cond, index, self.value(resolved[index], v, zigzag(index), known=python_type))
                     for cond, index in _choices(python_type, resolved)]
            if steps:
                cases.append((test.format(v=v, t=t), steps))
        width = max([1, *(len(pieces) for _, steps in cases for _, _, (_, pieces) in steps)])
        targets = [self.s.var("u") for _ in range(width)]
        if not cases:
            return ["return None"], targets
        lines = [f"{t} = type({v})"]
        for number, (test, steps) in enumerate(cases):
            body: list[str] = []
            for step, (cond, index, (branch_lines, pieces)) in enumerate(steps):
                code = [*branch_lines, *_assign(targets, pieces)]
                if cond is None:
                    body += ["else:", *indent(code)] if step else code
                    break
                symbols = resolved[index]["symbols"] if kind_of(resolved[index]) == "enum" else ()
                cond = cond.format(v=v, symbols=self.s.const(frozenset(symbols), "SYMBOLS"))
                body += [f"{'if' if step == 0 else 'elif'} {cond}:", *indent(code)]
            else:
                body.append("else: return None")
            lines += [f"{'if' if number == 0 else 'elif'} {test}:", *indent(body)]
        return [*lines, "else: return None"], targets


def _choices(python_type: type, branches: list[Any]) -> list[tuple[str | None, int]]:
    """The branches fastavro's write_union picks for a value of exactly this type, in its order, each with the
    condition on the value for it (None: always); they stop where only fastavro can tell."""
    steps: list[tuple[str | None, int]] = []
    for index, branch in enumerate(branches):
        kind = kind_of(branch)
        if python_type is str and logical_key(branch) == "int-date":
            return steps  # fastavro would parse the text as a date
        accepted = _ACCEPTS.get((python_type, kind))
        if accepted is None:
            continue
        if accepted == "slow":
            return steps
        if kind == "float":  # fastavro prefers a later double, not to lose precision
            return [*steps, (None, next((i for i, b in enumerate(branches) if i > index and kind_of(b) == "double"),
                                        index))]
        if kind == "enum":
            accepted = "{v} in {symbols}"
        elif kind == "fixed":
            accepted = f"len({{v}}) == {int(branch['size'])}"
        if not accepted:
            return [*steps, (None, index)]
        steps.append((accepted, index))
    return steps


# What fastavro's validation accepts of a value of each type, per branch type: "" always, else a condition
# ("slow": only fastavro can tell); absent: never.
_ACCEPTS: dict[tuple[type, str], str] = {
    (type(None), "null"): "", (bool, "boolean"): "",
    (int, "int"): "-2147483648 <= {v} <= 2147483647",
    (int, "long"): "-9223372036854775808 <= {v} <= 9223372036854775807",
    (int, "float"): "", (int, "double"): "", (float, "float"): "", (float, "double"): "",
    (str, "string"): "", (str, "enum"): "symbols", (bytes, "bytes"): "", (bytes, "fixed"): "size",
    (bytes, "array"): "slow",  # bytes are a Sequence: an array of ints may take them
    (list, "array"): "", (dict, "map"): "", (dict, "record"): "'-type' not in {v}",
}
_DISPATCH: list[tuple[type, str]] = [
    (type(None), "{v} is None"), (str, "{t} is str"), (float, "{t} is float"), (int, "{t} is int"),
    (bool, "{t} is bool"), (bytes, "{t} is bytes"), (list, "{t} is list"), (dict, "{t} is dict")]


def _constant(prefix: bytes) -> list[str]:
    return [repr(prefix)] if prefix else []


def _assign(targets: list[str], pieces: list[str]) -> list[str]:
    return [f"{t} = {p}" for t, p in zip(targets, [*pieces, *["b''"] * (len(targets) - len(pieces))], strict=True)]
