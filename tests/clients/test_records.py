"""Records in and out of the registry's wire format: checks that name the field, pinned versions, decoding."""

from __future__ import annotations

import datetime
import json

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from k2infra.clients import (
    ConsumeError,
    RecordDecoder,
    RecordEncoder,
    RecordError,
    SchemaCatalog,
    StackOutputsError,
    load_stack_outputs,
)
from tests.clients.conftest import schema_text
from tests.clients.samples import SAMPLES, quote, trade

TRADES = "market.equities.trades.asx"
UTC = datetime.UTC


def encoder(registry, outputs, topic=TRADES) -> RecordEncoder:
    return RecordEncoder(SchemaCatalog(registry, outputs).for_topic(topic))


def micros(value: int) -> datetime.datetime:
    return datetime.datetime(1970, 1, 1, tzinfo=UTC) + datetime.timedelta(microseconds=value)


@pytest.mark.parametrize("data_type", SAMPLES)
def test_records_round_trip_and_confluents_deserializer_reads_them(deployed, registry, data_type):
    topic = f"market.crypto.{data_type}.binance"
    record = SAMPLES[data_type]("BTCUSDT", "binance", seq=3) if data_type != "reference_data" else \
        SAMPLES[data_type]("BTCUSDT", "binance")
    value = encoder(registry, deployed, topic).encode(record)
    subject = next(s for s in deployed.subjects if topic in s.topics)
    assert value[0] == 0 and int.from_bytes(value[1:5], "big") == subject.schema_id

    decoded = RecordDecoder(SchemaCatalog(registry, deployed)).decode(topic, value)
    stock = AvroDeserializer(registry)(value, SerializationContext(topic, MessageField.VALUE))
    assert decoded == stock
    for name, sent in record.items():
        assert decoded[name] == (micros(sent) if name.endswith("_time") else sent), name
    assert set(decoded) == {f["name"] for f in json.loads(schema_text(data_type))["fields"]}  # defaults filled


def test_aware_datetimes_are_accepted_for_timestamps(deployed, registry):
    at = datetime.datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)
    value = encoder(registry, deployed).encode(trade(event_time=at))
    assert RecordDecoder(SchemaCatalog(registry, deployed)).decode(TRADES, value)["event_time"] == at


BAD_TRADES = [
    ({"price": "45.50"}, "price", "expects a number, got str '45.50'"),
    ({"quantity": True}, "quantity", "expects a number, got bool True"),
    ({"sequence_number": 1.5}, "sequence_number", "expects long (a whole number), got float 1.5"),
    ({"sequence_number": 2**64}, "sequence_number", "expects long"),
    ({"event_time": datetime.datetime(2026, 1, 1)}, "event_time", "naive datetime"),
    ({"event_time": "2026-01-01"}, "event_time", "expects long (a whole number), got str"),
    ({"trade_conditions": "XT"}, "trade_conditions", "expects array, got str 'XT'"),
    ({"trade_conditions": [1]}, "trade_conditions", "expects array of string"),
    ({"side": "SIDEWAYS"}, "side", "expects null or one of BUY, SELL, UNKNOWN, got str 'SIDEWAYS'"),
    ({"currency": 36}, "currency", "expects null or string, got int 36"),
    ({"symbol": 42}, "symbol", "expects string, got int 42"),
    ({"trade_id": None}, "trade_id", "expects string, got NoneType None"),
    ({"venue": "CXA"}, "venue", "not in the schema (fields: symbol, exchange, trade_id"),
]


@pytest.mark.parametrize(("change", "field", "problem"), BAD_TRADES, ids=[b[1] + "-" + str(i) for i, b in
                                                                          enumerate(BAD_TRADES)])
def test_a_record_that_does_not_fit_names_the_field(deployed, registry, change, field, problem):
    with pytest.raises(RecordError) as caught:
        encoder(registry, deployed).encode(trade(**change))
    assert caught.value.field == field
    assert caught.value.subject == "market.equities.trades-value"
    assert problem in str(caught.value)
    assert str(caught.value).endswith("nothing was sent")


def test_a_missing_required_field_is_named(deployed, registry):
    record = trade()
    del record["price"]
    with pytest.raises(RecordError, match="field 'price': is missing and has no default"):
        encoder(registry, deployed).encode(record)


def test_an_out_of_range_int_in_a_union_is_named(deployed, registry):
    with pytest.raises(RecordError, match="field 'bid_orders': expects null or int"):
        encoder(registry, deployed, "market.equities.quotes.asx").encode(quote(bid_orders=2**40))


def test_not_a_mapping_is_refused(deployed, registry):
    with pytest.raises(RecordError, match="record: must be a mapping of field names to values, got list"):
        encoder(registry, deployed).encode([("symbol", "BHP")])


def register_v2(registry, subject="market.equities.trades-value") -> int:
    """A BACKWARD-compatible second version with one optional field, as a later `pulumi up` would add."""
    schema = json.loads(schema_text("trades"))
    schema["fields"].append({"name": "venue", "type": ["null", "string"], "default": None})
    return registry.register_schema(subject, Schema(json.dumps(schema), "AVRO"))


def test_writers_use_the_version_the_stack_names_not_the_latest(deployed, registry, outputs_json):
    v1_id = next(s.schema_id for s in deployed.subjects if s.subject == "market.equities.trades-value")
    v2_id = register_v2(registry)
    assert v2_id != v1_id
    pinned = encoder(registry, deployed).encode(trade())
    assert int.from_bytes(pinned[1:5], "big") == v1_id

    for subject in outputs_json["subjects"]:  # topics.yaml-style outputs: no version, so the latest
        subject.update(schema_id=None, version=None)
    latest = encoder(registry, load_stack_outputs(outputs_json)).encode(trade(venue="CXA"))
    assert int.from_bytes(latest[1:5], "big") == v2_id


def test_readers_decode_newer_writers_into_the_version_the_stack_names(deployed, registry, outputs_json):
    register_v2(registry)
    for subject in outputs_json["subjects"]:
        subject.update(schema_id=None, version=None)
    written_v2 = encoder(registry, load_stack_outputs(outputs_json)).encode(trade(venue="CXA"))

    as_v1 = RecordDecoder(SchemaCatalog(registry, deployed)).decode(TRADES, written_v2)
    assert "venue" not in as_v1 and as_v1["symbol"] == "BHP"
    as_written = RecordDecoder(SchemaCatalog(registry, load_stack_outputs(outputs_json))).decode(TRADES, written_v2)
    assert as_written["venue"] == "CXA"


def test_stale_outputs_naming_another_schema_id_are_refused(outputs_json, deployed, registry):
    for subject in outputs_json["subjects"]:
        subject["schema_id"] = 999
    with pytest.raises(StackOutputsError, match=r"has schema id \d+ in the registry, but the stack outputs say 999: "
                                                r"the outputs are stale"):
        SchemaCatalog(registry, load_stack_outputs(outputs_json)).for_topic(TRADES)


def test_apps_never_register_a_missing_subject(outputs, registry):
    with pytest.raises(StackOutputsError, match=r"market\.equities\.trades-value \(version 1\) is not in the "
                                                r"schema registry: the Pulumi program registers it"):
        SchemaCatalog(registry, outputs).for_topic(TRADES)
    assert registry.get_subjects() == []


@pytest.mark.parametrize(("value", "problem"), [
    (b"\x01\x00\x00\x00\x03abc", "not in the schema-registry wire format"),
    (b"\x00\x00", "value of 2 bytes"),
])
def test_values_not_in_the_wire_format_are_refused(deployed, registry, value, problem):
    with pytest.raises(ConsumeError, match=problem):
        RecordDecoder(SchemaCatalog(registry, deployed)).decode(TRADES, value)


def test_a_tombstone_decodes_to_none(deployed, registry):
    assert RecordDecoder(SchemaCatalog(registry, deployed)).decode("market.equities.reference_data.asx", None) is None

