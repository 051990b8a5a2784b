"""A record schema's reader as generated Python: straight-line code per field, compiled once.

The function reads one record of the writer schema from a value (bytes) at a position and returns it with the
position after it, as fastavro.schemaless_reader reads it (no reader schema: the writer's own shape; what follows
is not read). On anything unusual (a truncated body, a negative length, a union index out of range, a varint
beyond 64 bits) the generated code raises and the function asks fastavro instead: what fastavro decides, it still
decides, with its own result or error.
"""

from __future__ import annotations

import datetime
import io
import struct
from collections.abc import Callable
from typing import Any

from fastavro import schemaless_reader
from fastavro.read import LOGICAL_READERS

from k2infra.clients.avro.binary import HIGH_VALUES, read_long
from k2infra.clients.avro.source import Source, Unsupported, indent, kind_of, logical_key

Reader = Callable[[bytes, int], tuple[Any, int]]

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)  # fastavro's: epoch + timedelta(microseconds=...)
_SMALL = tuple((c >> 1) ^ -(c & 1) for c in range(128))  # a one-byte varint's value
_SIZED = tuple(1 + (c >> 1) if c < 128 and not c & 1 else 0 for c in range(256))  # one-byte length + 1, else 0
# epoch + timedelta(microseconds=n) as fastavro has it; a timedelta multiplied is the same value, made faster.
_TIMESTAMPS = {"long-timestamp-micros": "EPOCH + MICROSECOND * {t}",
               "long-timestamp-millis": "EPOCH + MILLISECOND * {t}"}


def compile_reader(schema: Any) -> Reader:
    """Unsupported for a construct the generated code does not handle. The reader it gives asks fastavro
    whenever the generated code raises."""
    if kind_of(schema) != "record":
        raise Unsupported("not a record schema")
    source = Source(schema)
    source.names.update(SMALL=_SMALL, SIZED=_SIZED, LONG=read_long, HIGH=HIGH_VALUES, LENGTH=_length, EPOCH=EPOCH,
                        MICROSECOND=datetime.timedelta(microseconds=1), MILLISECOND=datetime.timedelta(milliseconds=1),
                        FASTAVRO=fastavro_reader(schema))
    body = _ReaderSource(source).value(schema, "record")
    lines = ["def read(v, start):", "    try:", "        i = start", *indent(body, 2), "        if i > len(v):",
             "            raise EOFError('the body ends inside its last value')", "        return record, i",
             "    except Exception:  # fastavro reads it or says why not", "        return FASTAVRO(v, start)"]
    return source.compile(lines, "read", f"reader of {schema.get('name')}")


def fastavro_reader(writer: Any, reader: Any = None) -> Reader:
    """fastavro's schemaless_reader as a Reader (with schema resolution when `reader` is given)."""
    def read(value: bytes, start: int) -> tuple[Any, int]:
        body = io.BytesIO(value)
        body.seek(start)
        return schemaless_reader(body, writer, reader), body.tell()
    return read


def _length(v: bytes, i: int) -> tuple[int, int]:
    size, i = read_long(v, i)
    if size < 0:
        raise ValueError("negative length")
    return size, i


class _ReaderSource:
    def __init__(self, source: Source):
        self.s = source

    def value(self, schema: Any, t: str) -> list[str]:
        """Lines reading one value at v[i] into variable t, advancing i."""
        schema = self.s.resolve(schema)
        kind = kind_of(schema)
        read = getattr(self, f"_{kind}", None)
        if read is None:
            raise Unsupported(f"type {kind}")
        lines: list[str] = read(schema, t)
        key = logical_key(schema)
        if key in _TIMESTAMPS:
            lines.append(f"{t} = {_TIMESTAMPS[key].format(t=t)}")
        elif key in LOGICAL_READERS:
            function = self.s.const(LOGICAL_READERS[key], "LOGICAL")
            lines.append(f"{t} = {function}({t}, {self.s.const(schema, 'SCHEMA')}, None)")
        return lines

    def _null(self, schema: Any, t: str) -> list[str]:
        return [f"{t} = None"]

    def _boolean(self, schema: Any, t: str) -> list[str]:
        return [f"{t} = v[i] != 0", "i += 1"]  # fastavro: anything but 0 is true

    def _int(self, schema: Any, t: str) -> list[str]:
        return ["c = v[i]", f"if c < 128: {t} = SMALL[c]; i += 1", f"else: {t}, i = LONG(v, i)"]

    def _long(self, schema: Any, t: str) -> list[str]:
        """binary.read_long inline for a long of four bytes or more whose high bytes were seen (a timestamp)."""
        return ["c = v[i]", f"if c < 128: {t} = SMALL[c]; i += 1", "else:", "    d = v[i + 1]",
                "    if d > 127 and (e := v[i + 2]) > 127 and (h := HIGH.get(v[i + 3:i + 8])) is not None:",
                f"        {t} = h[0] | ((c & 127 | (d & 127) << 7 | (e & 127) << 14) >> 1)",
                f"        if c & 1: {t} = ~{t}", "        i += 3 + h[1]", f"    else: {t}, i = LONG(v, i)"]

    def _double(self, schema: Any, t: str) -> list[str]:
        return self.numbers([schema], [t])

    _float = _double

    def numbers(self, schemas: list[Any], targets: list[str]) -> list[str]:
        fmt = "<" + "".join("d" if kind_of(s) == "double" else "f" for s in schemas)
        unpack = self.s.const(struct.Struct(fmt).unpack_from, "UNPACK")
        return [f"{', '.join(targets)}, = {unpack}(v, i)", f"i += {struct.calcsize(fmt)}"]

    def _string(self, schema: Any, t: str) -> list[str]:
        return self.sized(t, ".decode()")

    def _bytes(self, schema: Any, t: str) -> list[str]:
        return self.sized(t, "")

    def sized(self, t: str, decode: str) -> list[str]:
        """A string's or bytes' content (ending past the end of v if it is cut short: the final check notices)."""
        n = self.s.var("n")
        return [f"{n} = SIZED[v[i]]", f"if {n}: j = i + {n}; {t} = v[i + 1:j]{decode}; i = j",
                f"else: {n}, i = LENGTH(v, i); j = i + {n}; {t} = v[i:j]{decode}; i = j"]

    def _fixed(self, schema: Any, t: str) -> list[str]:
        return [f"{t} = v[i:i + {int(schema['size'])}]", f"i += {int(schema['size'])}"]

    def _enum(self, schema: Any, t: str) -> list[str]:
        listed = tuple(schema["symbols"])  # indexed as fastavro does (a list: -1 is the last)
        symbols = self.s.const(listed, "SYMBOLS")
        by_byte = self.s.const({c: listed[n] for c, n in enumerate(_SMALL) if -len(listed) <= n < len(listed)},
                               "SYMBOL")
        return ["c = v[i]", f"if c < 128: {t} = {by_byte}[c]; i += 1",
                f"else: {t}, i = LONG(v, i); {t} = {symbols}[{t}]"]

    def _union(self, branches: list[Any], t: str) -> list[str]:
        if len(branches) > 64:
            raise Unsupported("a union of more than 64 types")
        lines = ["c = v[i]", "i += 1"]
        for index, branch in enumerate(branches):
            lines += [f"{'if' if index == 0 else 'elif'} c == {2 * index}:", *indent(self.value(branch, t))]
        return [*lines, "else: raise IndexError('union index')"]  # fastavro reads other indexes its own way

    def _array(self, schema: Any, t: str) -> list[str]:
        y = self.s.var("y")
        return self.blocks(t, "[]", self.value(schema["items"], y), [f"{t}.append({y})"])

    def _map(self, schema: Any, t: str) -> list[str]:
        key, y = self.s.var("key"), self.s.var("y")
        return self.blocks(t, "{}", [*self._string("string", key), *self.value(schema["values"], y)],
                           [f"{t}[{key}] = {y}"])

    def blocks(self, t: str, empty: str, item: list[str], store: list[str]) -> list[str]:
        """An array or map: blocks of items, each with its count (negative: followed by its size in bytes)."""
        n = self.s.var("n")
        loop = ["while True:", f"    {n} = SMALL[c] if c < 128 else -1",
                f"    if {n} >= 0: i += 1", f"    else: {n}, i = LONG(v, i)", f"    if {n} == 0: break",
                f"    if {n} < 0:", f"        {n} = -{n}", "        i = LONG(v, i)[1]",
                f"    for _ in range({n}):", *indent([*item, *store], 2), "    c = v[i]"]
        return [f"{t} = {empty}", "c = v[i]", "if c == 0: i += 1", "else:", *indent(loop)]

    def _record(self, schema: Any, t: str) -> list[str]:
        self.s.enter(schema)
        lines: list[str] = []
        names: list[str] = []
        run: list[tuple[Any, str]] = []  # consecutive floats and doubles: unpacked in one call
        for field in schema["fields"]:
            kind = self.s.resolve(field["type"])
            target = self.s.var("f")
            names.append(f"{field['name']!r}: {target}")
            if kind_of(kind) in ("float", "double") and logical_key(kind) is None:
                run.append((kind, target))
                continue
            if run:
                lines += self.numbers(*map(list, zip(*run, strict=True)))
                run.clear()
            lines += self.value(kind, target)
        if run:
            lines += self.numbers(*map(list, zip(*run, strict=True)))
        self.s.leave()
        return [*lines, f"{t} = {{{', '.join(names)}}}"]
