"""Hypothesis strategies made from an Avro schema: valid records of it, as fastavro takes them, and the odd values
apps also pass (tuples for arrays, datetimes, subclasses, unknown or missing fields) that the generated writers
hand back to fastavro."""

from __future__ import annotations

import collections
import datetime
import decimal
import math
from typing import Any

from hypothesis import strategies as st

from k2infra.clients.avro.source import PRIMITIVES, kind_of

T0 = 1_767_225_600_000_000  # 2026-01-01 in microseconds
UTC = datetime.UTC
ZONES = st.sampled_from([UTC, datetime.timezone(datetime.timedelta(hours=10)),
                         datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))])


class Text(str):
    """A str subclass (an enum.StrEnum member is one): fastavro writes it; the generated writer leaves it to it."""


class Real(float):
    """A float subclass (numpy.float64 is one)."""


class Mode:
    """What values to make: `fast`, only those the generated writer takes as they are (no logical type's object in
    a union); `odd`, also values of other Python types, which it leaves to fastavro."""

    def __init__(self, fast: bool = False, odd: bool = False, in_union: bool = False):
        self.fast, self.odd, self.in_union = fast, odd, in_union


def values(schema: Any, named: dict[str, Any], mode: Mode, top: bool = False) -> st.SearchStrategy[Any]:
    """Values of `schema` (fastavro's parsed form); top: a field of the top-level record, where RecordEncoder takes
    only ints (and aware datetimes for timestamps) for int and long types."""
    if isinstance(schema, str) and schema not in PRIMITIVES:
        schema = named[schema]
    kind = kind_of(schema)
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    if kind == "union":
        inner = Mode(mode.fast, mode.odd, in_union=True)
        return st.one_of([values(s, named, inner) for s in schema])
    if logical and not (mode.fast and mode.in_union):
        found = _logical(schema, kind, logical, top)
        if found is not None:
            return found
    plain = _plain(schema, kind, named, Mode(mode.fast, mode.odd))
    return st.one_of(plain, _odd(kind, plain)) if mode.odd else plain


def record(schema: dict[str, Any], named: dict[str, Any], mode: Mode, top: bool = False) -> st.SearchStrategy:
    required, optional = {}, {}
    for field in schema["fields"]:
        strategy = values(field["type"], named, mode, top)
        needed = "default" not in field and "null" not in field["type"]
        (required if needed else optional)[field["name"]] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def _plain(schema: Any, kind: str, named: dict[str, Any], mode: Mode) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "int":
        return st.one_of(st.integers(-100, 100), st.integers(-(2**31), 2**31 - 1))
    if kind == "long":
        return st.one_of(st.integers(-100, 100), st.integers(T0 - 10**12, T0 + 10**12),
                         st.integers(-(2**63), 2**63 - 1))
    if kind == "float":
        return st.one_of(st.floats(width=32), st.integers(-(2**24), 2**24))
    if kind == "double":
        return st.one_of(st.floats(), st.integers(-(2**53), 2**53))
    if kind == "string":
        return st.one_of(st.text(max_size=20), st.text(min_size=1030, max_size=1040, alphabet="ab€"))
    if kind == "bytes":
        return st.one_of(st.binary(max_size=20), st.binary(min_size=1030, max_size=1040))
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(values(schema["items"], named, mode), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=6), values(schema["values"], named, mode), max_size=3)
    if kind == "record":
        return record(schema, named, mode)
    raise ValueError(f"no strategy for {kind}")


def _logical(schema: dict[str, Any], kind: str, logical: str, top: bool) -> st.SearchStrategy[Any] | None:
    numbers = _plain(schema, kind, {}, Mode()) if kind in ("int", "long") else None
    if logical in ("timestamp-micros", "timestamp-millis") and kind == "long":
        aware = st.datetimes(min_value=datetime.datetime(1900, 1, 1), max_value=datetime.datetime(2200, 1, 1),
                             timezones=ZONES)
        return st.one_of(numbers, aware) if numbers is not None else aware
    if top and numbers is not None:  # RecordEncoder: only ints for other logical types of ints and longs
        return numbers
    if logical == "date" and kind == "int":
        return st.one_of(st.dates(), st.integers(-(10**5), 10**5))
    if (logical, kind) in (("time-millis", "int"), ("time-micros", "long")):
        return st.one_of(st.times(), st.integers(0, 86_399_999))
    if logical == "local-timestamp-micros" and kind == "long":
        return st.one_of(numbers, st.datetimes())
    if logical == "uuid" and kind == "string":
        return st.one_of(st.uuids(), st.uuids().map(str))
    if logical == "decimal" and kind in ("bytes", "fixed"):
        scale, precision = schema.get("scale", 0), schema["precision"]
        bound = decimal.Decimal(10) ** (precision - scale) - decimal.Decimal(1).scaleb(-scale)
        return st.decimals(-bound, bound, places=scale, allow_nan=False, allow_infinity=False)
    return None


def _odd(kind: str, plain: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Values of other Python types that fastavro writes as this type (or refuses)."""
    if kind == "string":
        return plain.map(lambda s: Text(s) if isinstance(s, str) else s)
    if kind in ("float", "double"):
        return st.one_of(st.floats(width=32).map(Real), st.booleans(), st.just(math.inf))
    if kind in ("int", "long"):
        return st.one_of(st.booleans(), st.just(1.5), st.just(2**64))
    if kind == "array":
        return plain.map(lambda items: tuple(items) if isinstance(items, list) else items)
    if kind in ("map", "record"):
        return plain.map(lambda d: collections.OrderedDict(d) if isinstance(d, dict) else d)
    if kind in ("bytes", "fixed"):
        return plain.map(lambda b: bytearray(b) if isinstance(b, bytes) else b)
    return st.one_of(st.none(), st.just("x"))
