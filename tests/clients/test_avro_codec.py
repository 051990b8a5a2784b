"""The generated Avro writers and readers (k2infra.clients.avro) give exactly fastavro's bytes and records: for the
shipped schemas and synthetic ones with every construct, on records Hypothesis makes from the schema; whatever they
do not take as it is goes to fastavro, so RecordEncoder's results and errors are the same with or without them.
Derandomized and without an example database: every run tries the same examples, in a few seconds."""

from __future__ import annotations

import datetime
import decimal
import io
import json
import logging
import math
import re
import uuid
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from k2infra.clients import RecordEncoder, RecordError
from k2infra.clients.avro import reader_for, writer_for
from k2infra.clients.schema_catalog import SubjectSchema
from tests.clients.avro_values import T0, Mode, Real, Text, record
from tests.conftest import ROOT

PROFILE = settings(max_examples=60, deadline=None, database=None, derandomize=True, print_blob=False,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LEG = {"type": "record", "name": "Leg", "fields": [
    {"name": "venue", "type": "string"}, {"name": "qty", "type": ["null", "int"], "default": None}]}
EVERYTHING = {"type": "record", "name": "Everything", "namespace": "k2.test", "fields": [
    {"name": "n", "type": "null"},
    {"name": "flag", "type": "boolean"},
    {"name": "i", "type": "int"},
    {"name": "l", "type": "long"},
    {"name": "f", "type": "float"},
    {"name": "d", "type": "double"},
    {"name": "d2", "type": {"type": "double"}},
    {"name": "s", "type": "string"},
    {"name": "b", "type": "bytes"},
    {"name": "fx", "type": {"type": "fixed", "name": "Id", "size": 4}},
    {"name": "e", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}},
    {"name": "e2", "type": "Colour"},
    {"name": "longs", "type": {"type": "array", "items": "long"}},
    {"name": "grid", "type": {"type": "array", "items": {"type": "array", "items": ["null", "string"]}}},
    {"name": "prices", "type": {"type": "map", "values": "double"}},
    {"name": "legs", "type": {"type": "map", "values": LEG}},
    {"name": "leg", "type": "Leg"},
    {"name": "maybe_leg", "type": ["null", "Leg"], "default": None},
    {"name": "any", "type": ["null", "int", "long", "float", "double", "string", "bytes", "boolean"]},
    {"name": "shape", "type": ["string", "Colour", "Id", {"type": "array", "items": "int"},
                               {"type": "map", "values": "string"}]},
    {"name": "single", "type": ["float", "null", "double"], "default": 1.5},
    {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "maybe_ts", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}], "default": None},
    {"name": "local_ts", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "t_ms", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "t_us", "type": {"type": "long", "logicalType": "time-micros"}},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 4}},
    {"name": "amount", "type": {"type": "fixed", "name": "Amount", "size": 8, "logicalType": "decimal",
                                "precision": 15, "scale": 2}},
    {"name": "maybe_price", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 6,
                                              "scale": 2}], "default": None},
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "note", "type": "string", "default": "none"},
    {"name": "count", "type": "long", "default": 7},
    {"name": "ratio", "type": "double", "default": 0},
    {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
    {"name": "nullable", "type": ["null", "string"]},  # no default: a missing one is written as null
]}
UNIONS = {"type": "record", "name": "Unions", "fields": [
    {"name": "number", "type": ["null", "int", "long", "double"]},
    {"name": "narrow", "type": ["float", "double"]},
    {"name": "text", "type": ["null", {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}, "string"]},
    {"name": "blob", "type": [{"type": "fixed", "name": "Four", "size": 4}, "bytes"]},
    {"name": "record_or_null", "type": ["null", {"type": "record", "name": "Inner", "fields": [
        {"name": "x", "type": "long"}, {"name": "side", "type": ["null", "Side"], "default": None}]}]},
]}
# Unions where only fastavro can tell the branch of some values: text that may be a date, bytes that may be ints.
HANDED_ON = {"type": "record", "name": "HandedOn", "fields": [
    {"name": "date_or_text", "type": ["null", {"type": "int", "logicalType": "date"}, "string"], "default": None},
    {"name": "ints_or_bytes", "type": [{"type": "array", "items": "int"}, "bytes"], "default": []},
]}
SCHEMAS = {**{p.stem: json.loads(p.read_text()) for p in sorted((ROOT / "schemas").glob("*.avsc"))},
           "everything": EVERYTHING, "unions": UNIONS, "handed_on": HANDED_ON}
FAST = [name for name in SCHEMAS if name != "handed_on"]
PARSED = {name: parse_schema(schema) for name, schema in SCHEMAS.items()}
HEADER = b"\x00\x00\x00\x00\x07"


def fastavro_bytes(schema: Any, value: Any) -> bytes | None:
    out = io.BytesIO()
    try:
        schemaless_writer(out, schema, value)
    except Exception:
        return None
    return out.getvalue()


def outcome(call: Any) -> Any:
    """What a call gives: its result, or its exception's type and message (objects' addresses aside)."""
    try:
        return call()
    except Exception as err:
        return type(err), re.sub(r" at 0x[0-9a-f]+", "", str(err))


def fastavro_read(schema: Any, value: bytes, start: int) -> tuple[Any, int]:
    body = io.BytesIO(value)
    body.seek(start)
    return schemaless_reader(body, schema, None), body.tell()


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down, dicts in the same order; NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (decimal.Decimal, datetime.datetime)):
        return a == b and str(a) == str(b)
    return bool(a == b)


def encoder(name: str, fast: bool = True) -> RecordEncoder:
    found = RecordEncoder(SubjectSchema("k2.test-value", 7, 1, PARSED[name], "symbol"))
    if not fast:
        found._write = None  # RecordEncoder as it was: checks, then fastavro
    return found


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_schema_here_has_generated_code(name, caplog):
    with caplog.at_level(logging.WARNING, logger="k2infra.clients.avro"):
        assert writer_for(PARSED[name]) is not None
        reader_for(PARSED[name])
    assert caplog.records == []


@pytest.mark.parametrize("name", FAST)
@PROFILE
@given(data=st.data())
def test_the_writer_gives_fastavros_bytes_for_the_values_it_takes(name, data):
    schema = PARSED[name]
    value = data.draw(record(schema, schema["__named_schemas"], Mode(fast=True), top=True))
    expected = fastavro_bytes(schema, value)
    assert expected is not None
    assert writer_for(schema)(value, HEADER) == HEADER + expected
    assert encoder(name).encode(value) == HEADER + expected


@pytest.mark.parametrize("name", SCHEMAS)
@PROFILE
@given(data=st.data())
def test_any_other_value_is_written_or_refused_as_fastavro_and_the_checks_do(name, data):
    schema = PARSED[name]
    value = data.draw(record(schema, schema["__named_schemas"], Mode(odd=True)))
    change = data.draw(st.sampled_from(["none", "unknown field", "drop a field"]))
    if change == "unknown field":
        value["venue"] = "CXA"
    elif change == "drop a field" and value:
        value.pop(data.draw(st.sampled_from(sorted(value))))
    written, expected = writer_for(schema)(value, HEADER), fastavro_bytes(schema, value)
    assert written is None or (expected is not None and written == HEADER + expected)
    assert outcome(lambda: encoder(name).encode(value)) == outcome(lambda: encoder(name, fast=False).encode(value))


@pytest.mark.parametrize("name", SCHEMAS)
@PROFILE
@given(data=st.data())
def test_the_reader_gives_fastavros_records(name, data):
    schema = PARSED[name]
    value = data.draw(record(schema, schema["__named_schemas"], Mode()))
    body = fastavro_bytes(schema, value)
    assume(body is not None)
    framed = HEADER + body + data.draw(st.binary(max_size=3))  # what follows the record is not read
    got = outcome(lambda: reader_for(schema)(framed, 5))
    assert same(got, outcome(lambda: fastavro_read(schema, framed, 5)))  # both fail past year 9999


@pytest.mark.parametrize("name", FAST)
@PROFILE
@given(data=st.data())
def test_a_cut_or_garbled_body_reads_or_fails_as_with_fastavro(name, data):
    schema = PARSED[name]
    value = data.draw(record(schema, schema["__named_schemas"], Mode(fast=True), top=True))
    body = writer_for(schema)(value, b"")
    assert body is not None
    cut = data.draw(st.integers(0, len(body)))
    garbled = bytearray(body[:cut])
    if garbled and data.draw(st.booleans()):
        garbled[data.draw(st.integers(0, len(garbled) - 1))] = data.draw(st.integers(0, 255))
    garbled += data.draw(st.binary(max_size=12))
    got = outcome(lambda: reader_for(schema)(bytes(garbled), 0))
    expected = outcome(lambda: fastavro_read(schema, bytes(garbled), 0))
    assert same(got, expected), (got, expected)


# (field, value, whether the generated writer writes it itself); the others it hands to fastavro
UNION_CASES = [
    ("number", 5, True), ("number", -(2**31), True), ("number", 2**40, True), ("number", 2**63, True),
    ("number", 1.5, True), ("number", True, False), ("number", "5", False), ("narrow", 1.5, True), ("narrow", 3, True),
    ("text", "BUY", True), ("text", "HOLD", True), ("text", Text("SELL"), False), ("blob", b"abcd", True),
    ("blob", b"abc", True), ("blob", bytearray(b"abcd"), False), ("record_or_null", {"x": 1}, True),
    ("record_or_null", {"x": 1, "-type": "Inner"}, False), ("record_or_null", {"x": 1, "-type": "Other"}, False),
    ("record_or_null", {"x": 1, "side": "SELL", "extra": 0}, True), ("record_or_null", None, True),
]
HANDED_ON_CASES = [
    ("date_or_text", "2026-01-02", False), ("date_or_text", "BHP", False), ("date_or_text", 20000, True),
    ("date_or_text", datetime.date(2026, 1, 2), False), ("ints_or_bytes", b"\x01\x02", False),
    ("ints_or_bytes", [1, 2], True),
]


@pytest.mark.parametrize(("name", "field", "value", "itself"),
                         [("unions", *c) for c in UNION_CASES] + [("handed_on", *c) for c in HANDED_ON_CASES],
                         ids=[f"{c[0]}-{c[1]!r}" for c in UNION_CASES + HANDED_ON_CASES])
def test_a_union_takes_the_branch_fastavro_picks(name, field, value, itself):
    base = {"number": None, "narrow": 0.5, "text": None, "blob": b"", "record_or_null": None} \
        if name == "unions" else {}
    written = writer_for(PARSED[name])({**base, field: value}, b"")
    expected = fastavro_bytes(PARSED[name], {**base, field: value})
    assert (written is not None) == itself
    assert written is None or written == expected


GOOD = {"flag": True, "i": 1, "l": T0, "f": 0.5, "d": 1.0, "d2": 2.0, "s": "x", "b": b"", "fx": b"abcd", "e": "RED",
        "e2": "BLUE", "longs": [], "grid": [], "prices": {}, "legs": {}, "leg": {"venue": "asx"}, "any": None,
        "shape": "x", "ts_us": T0, "ts_ms": T0 // 1000, "local_ts": T0, "day": 1, "t_ms": 0, "t_us": 0,
        "price": b"\x01", "amount": b"\x00" * 8, "id": "x"}


@pytest.mark.parametrize(("field", "value", "itself"), [
    ("i", 2**31, False), ("l", 2**63, False), ("f", 1e300, False), ("d", True, False), ("s", "\ud800", False),
    ("fx", b"abc", False), ("e", "PURPLE", False), ("longs", (1, 2), False), ("longs", [1, "2"], False),
    ("day", datetime.date(2026, 1, 2), False), ("ts_us", datetime.datetime(2026, 1, 1), False),
    ("ts_us", datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), True), ("price", decimal.Decimal("1.23456"), False),
    ("price", decimal.Decimal("1.2345"), True), ("leg", {"qty": 1}, False), ("id", uuid.UUID(int=5), True),
])
def test_whatever_the_writer_hands_to_fastavro_gives_what_the_helpers_gave_before(field, value, itself):
    schema = PARSED["everything"]
    assert writer_for(schema)(GOOD, b"") == fastavro_bytes(schema, GOOD)
    assert (writer_for(schema)({**GOOD, field: value}, b"") is not None) == itself
    assert outcome(lambda: encoder("everything").encode({**GOOD, field: value})) == \
        outcome(lambda: encoder("everything", fast=False).encode({**GOOD, field: value}))


def test_errors_name_the_field_as_before():
    with pytest.raises(RecordError, match="field 'i': expects int \\(32 bits\\), got 2147483648"):
        encoder("everything").encode({"i": 2**31})
    with pytest.raises(RecordError, match="field 'venue': not in the schema"):
        encoder("trade").encode({"venue": "CXA"})


def recursive(name: str) -> Any:
    return parse_schema({"type": "record", "name": name, "fields": [
        {"name": "value", "type": "long"}, {"name": "next", "type": ["null", name], "default": None}]})


def test_a_schema_the_generated_code_cannot_handle_is_left_to_fastavro_with_one_warning(caplog):
    schema = recursive(f"Chain{uuid.uuid4().hex}")
    chain = {"value": 1, "next": {"value": 2, "next": None}}
    with caplog.at_level(logging.WARNING, logger="k2infra.clients.avro"):
        assert writer_for(schema) is None and writer_for(schema) is None
        read = reader_for(schema)
        assert reader_for(schema) is read
        encoded = RecordEncoder(SubjectSchema("k2.test-value", 7, 1, schema, "value")).encode(chain)
        assert read(encoded, 5) == (chain, len(encoded))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings  # one for writing, one for reading
    assert all("recursive type" in w and "fastavro" in w for w in warnings)


def test_a_union_of_two_records_is_written_by_fastavro_and_read_by_generated_code(caplog):
    name = f"Either{uuid.uuid4().hex}"
    schema = parse_schema({"type": "record", "name": name, "fields": [{"name": "either", "type": [
        {"type": "record", "name": "A", "fields": [{"name": "a", "type": "int"}]},
        {"type": "record", "name": "B", "fields": [{"name": "b", "type": "int"}]}]}]})
    with caplog.at_level(logging.WARNING, logger="k2infra.clients.avro"):
        assert writer_for(schema) is None
        body = fastavro_bytes(schema, {"either": {"b": 3}})
        assert reader_for(schema)(body, 0) == ({"either": {"b": 3}}, len(body))
    assert ["more than one record or map" in r.getMessage() for r in caplog.records] == [True]


def test_equal_schemas_share_their_code():
    assert writer_for(parse_schema(SCHEMAS["trade"])) is writer_for(PARSED["trade"])
    assert reader_for(parse_schema(SCHEMAS["trade"])) is reader_for(PARSED["trade"])


def test_another_reader_schema_is_resolved_by_fastavro():
    writer = PARSED["trade"]
    newer = parse_schema({**SCHEMAS["trade"], "fields": [*SCHEMAS["trade"]["fields"],
                                                         {"name": "venue", "type": "string", "default": "?"}]})
    body = fastavro_bytes(writer, {"symbol": "BHP", "exchange": "asx", "trade_id": "1", "price": 1.0,
                                   "quantity": 2.0, "event_time": T0, "ingest_time": T0, "sequence_number": 1})
    record_, end = reader_for(writer, newer)(body, 0)
    assert record_["venue"] == "?" and end == len(body)
    assert record_ == schemaless_reader(io.BytesIO(body), writer, newer)


def test_a_float_subclass_and_a_str_subclass_take_fastavro():
    value = {"symbol": Text("BHP"), "exchange": "asx", "trade_id": "1", "price": Real(1.5), "quantity": 2.0,
             "event_time": T0, "ingest_time": T0, "sequence_number": 1}
    assert writer_for(PARSED["trade"])(value, b"") is None
    assert encoder("trade").encode(value) == HEADER + fastavro_bytes(PARSED["trade"], value)
