"""Avro's binary encoding, the parts the compiled codecs and the migration's byte-level splice share: zig-zag
varints (ints, longs, lengths, counts, union and enum indexes), named types and one value as fastavro writes it."""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from typing import Any

from fastavro import parse_schema, schemaless_writer

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def zigzag(value: int) -> bytes:
    """The varint of a long; ValueError outside a long's range (fastavro refuses those too).

    Past four bytes, the bytes above the lowest three are looked up by their value: those of a timestamp change
    about once a second, so they are encoded once for many records (the generated writers do the same inline)."""
    n = (value << 1) ^ (value >> 63)
    if n < 0x80:  # only for -64..63: outside a long's range n is at least 2**64
        return bytes((n,))
    if n < 0x10000000:  # up to 4 bytes in small ints (one 30-bit digit each)
        if n < 0x4000:
            return bytes((n & 0x7F | 0x80, n >> 7))
        if n < 0x200000:
            return bytes((n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14))
        return bytes((n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14 & 0x7F | 0x80, n >> 21))
    if not LONG_MIN <= value <= LONG_MAX:
        raise ValueError(f"{value} is out of the range of a long")
    high = HIGH_BYTES.get(n >> 21) or high_bytes(n >> 21)
    low = n & 0x1FFFFF
    return THREE_BYTES(low & 0x7F | 0x80, low >> 7 & 0x7F | 0x80, low >> 14 | 0x80) + high


THREE_BYTES = struct.Struct("<BBB").pack
HIGH_BYTES: dict[int, bytes] = {}  # a long's zig-zag value above its low 21 bits -> the varint bytes it adds


def high_bytes(high: int) -> bytes:
    out, rest = bytearray(), high
    while rest > 0x7F:
        out.append(rest & 0x7F | 0x80)
        rest >>= 7
    out.append(rest)
    if len(HIGH_BYTES) >= 4096:  # bounded: values far apart (not timestamps) would fill it
        HIGH_BYTES.clear()
    found = HIGH_BYTES[high] = bytes(out)
    return found


def read_long(body: bytes, i: int) -> tuple[int, int]:
    """The varint at i: (value, position after it). IndexError past the end; ValueError beyond 64 bits.

    Past three bytes, the rest of a long (up to five bytes more) is looked up by its bytes: those of a timestamp
    change about once a second, so they are decoded once for many records."""
    b0 = body[i]
    if b0 < 0x80:
        return (b0 >> 1) ^ -(b0 & 1), i + 1
    b1 = body[i + 1]
    if b1 < 0x80:
        n = b0 & 0x7F | b1 << 7
        return (n >> 1) ^ -(n & 1), i + 2
    b2 = body[i + 2]
    low = b0 & 0x7F | (b1 & 0x7F) << 7 | (b2 & 0x7F) << 14
    if b2 < 0x80:
        return (low >> 1) ^ -(low & 1), i + 3
    key = body[i + 3:i + 8]
    high = HIGH_VALUES.get(key)
    if high is None:
        high = _high(key)
        if high is None:  # longer than eight bytes
            return _read_long_loop(body, i)
    x = high[0] | low >> 1  # the high part has no bits below 20: | adds
    return (~x if low & 1 else x), i + 3 + high[1]


HIGH_VALUES: dict[bytes, tuple[int, int]] = {}  # bytes 3-7 of a varint -> (their value, zig-zag halved; their count)


def _high(key: bytes) -> tuple[int, int] | None:
    value = 0
    for count, byte in enumerate(key):
        value |= (byte & 0x7F) << (21 + 7 * count)
        if byte < 0x80:
            if len(HIGH_VALUES) >= 4096:  # keys of shorter varints hold the next value's bytes: bounded
                HIGH_VALUES.clear()
            found = HIGH_VALUES[key] = (value >> 1, count + 1)
            return found
    return None


def _read_long_loop(body: bytes, i: int) -> tuple[int, int]:
    n, shift = 0, 0
    while True:
        byte = body[i]
        i += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError("a varint of more than 10 bytes")
    if n >> 64:
        raise ValueError("a varint beyond 64 bits")
    return (n >> 1) ^ -(n & 1), i


def skip_long(body: bytes, i: int) -> int:
    while body[i] & 0x80:
        i += 1
    return i + 1


def named_types(schema: Any, namespace: str | None = None, named: dict[str, Any] | None = None) -> dict[str, Any]:
    """The named types (records, enums, fixed) of a schema, under their full and short names."""
    named = {} if named is None else named
    if isinstance(schema, list):
        for s in schema:
            named_types(s, namespace, named)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "error", "enum", "fixed"):
            space = schema.get("namespace", namespace)
            name = schema["name"]
            full = name if "." in name or not space else f"{space}.{name}"
            named[full] = named[name.rsplit(".", 1)[-1]] = schema
            namespace = space
        for f in schema.get("fields", []):
            named_types(f["type"], namespace, named)
        for key in ("items", "values"):
            if key in schema:
                named_types(schema[key], namespace, named)
    return named


def encoded(schema: Any, value: Any, named: Mapping[str, Any]) -> bytes:
    """One value of a field's type, as fastavro writes it in a record (a default, a constant)."""
    wrapper = {"type": "record", "name": "_K2Field", "fields": [{"name": "v", "type": inline(schema, named)}]}
    out = io.BytesIO()
    schemaless_writer(out, parse_schema(wrapper, _write_hint=False), {"v": value})
    return out.getvalue()


def inline(schema: Any, named: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> Any:
    """A type with the named types it refers to written out (once each), so that it stands alone."""
    if isinstance(schema, str) and schema in named and schema not in seen:
        return inline(named[schema], named, seen | {schema})
    if isinstance(schema, list):
        return [inline(s, named, seen) for s in schema]
    if isinstance(schema, dict) and schema.get("type") in ("record", "error"):
        inner = seen | {schema["name"]}
        return {**schema, "fields": [{**f, "type": inline(f["type"], named, inner)} for f in schema["fields"]]}
    if isinstance(schema, dict) and schema.get("type") in ("array", "map"):
        key = "items" if schema["type"] == "array" else "values"
        return {**schema, key: inline(schema[key], named, seen)}
    return schema
