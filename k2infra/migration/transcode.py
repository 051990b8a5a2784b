"""One legacy record -> its exchange topic, its new key and its value under the shared subject, or the reason
it cannot go anywhere. Pure: schemas come from callables (the registry in a run, fakes in unit tests).

A legacy value is Confluent-framed Avro (byte 0, schema id, body) under the legacy subject. It is decoded
with its writer schema, mapped as topics.yaml says (renamed fields, dropped fields, values for fields the
legacy schema lacks, the record's timestamp; defaults fill the rest, as Avro resolution would), routed by
its exchange field (case-insensitively: ASX, Binance) and encoded with the same RecordEncoder apps use.
That is the slow path, which also explains every refusal; where the writer and target schemas encode the
fields alike, the fast path (splice.py) gives the same bytes without decoding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastavro import parse_schema

from k2infra.clients.avro import Reader, reader_for
from k2infra.clients.errors import RecordError
from k2infra.clients.records import RecordEncoder
from k2infra.clients.schema_catalog import SubjectSchema
from k2infra.migration.splice import Layout, NoSplice, Template, layout_of
from k2infra.model.legacy import EXCHANGE_FIELD, LegacyTarget, LegacyTopic, timestamp_unit

_UNSET: Any = object()

# Headers every copied record carries: where it came from (the cutover reads them back).
SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET = "k2-source-topic", "k2-source-partition", "k2-source-offset"
# Headers a dead-lettered record carries, besides the source ones.
REFUSED_REASON, REFUSED_DETAIL = "k2-refused-reason", "k2-refused-detail"

# Why a record cannot be routed, in the order reports list them.
REASONS = {
    "unknown_exchange": "unknown exchange",
    "key_mismatch": "key and record disagree",
    "bad_key": "key does not follow the legacy key pattern",
    "undecodable": "value does not decode",
    "unfit": "does not fit the target schema",
}


@dataclass(frozen=True, slots=True)
class Copy:
    """Where a legacy record goes and what it becomes there."""

    target: LegacyTarget
    key: bytes  # the symbol alone
    value: bytes | None  # None: a tombstone, routed by its key

    @property
    def size(self) -> int:
        return len(self.key) + (len(self.value) if self.value is not None else 0)


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # a key of REASONS
    detail: str

    def __str__(self) -> str:
        return f"{REASONS[self.reason]}: {self.detail}"


class SchemaUnavailable(LookupError):
    """The registry has no schema with a value's id (the value does not decode)."""


WriterSchemas = Callable[[int], str]  # schema id -> the Avro schema's JSON text; SchemaUnavailable if unknown
TargetSchemas = Callable[[str], SubjectSchema]  # exchange topic -> the schema its records are written with


class Transcoder:
    """Transcodes the records of one legacy topic. Caches per writer schema id and per target topic."""

    def __init__(self, legacy: LegacyTopic, writer_schemas: WriterSchemas, target_schemas: TargetSchemas,
                 fast: bool = True):
        self.legacy = legacy
        self.fast = fast  # the byte-level fast path (splice.py) where it applies; False: always decode and encode
        self._layouts: dict[int, Layout | None] = {}
        self._templates: dict[tuple[int, str], tuple[Template, bytes] | None] = {}
        self._writer_schemas = writer_schemas
        self._target_schemas = target_schemas
        self._readers: dict[int, Reader] = {}
        self._encoders: dict[str, tuple[RecordEncoder, dict[str, int]]] = {}
        self._rename = dict(legacy.rename)
        self._drop = legacy.drop
        self._plain = not (self._rename or self._drop)
        self._key_fields = [f for f in legacy.key.fields if f != EXCHANGE_FIELD]
        self._key_bytes = re.compile(legacy.key.regex.pattern.encode("utf-8"), re.DOTALL)
        self._routes: dict[bytes, LegacyTarget | None] = {}  # raw exchange field -> its target
        self._keys: dict[bytes, dict[str, bytes] | None] = {}  # legacy key -> its parts

    def transcode(self, key: bytes | None, value: bytes | None, timestamp_ms: int) -> Copy | Refusal:
        legacy = self.legacy
        if key is None:
            return Refusal("bad_key", f"no key (expected {legacy.key.pattern})")
        if self.fast and value is not None:
            spliced = self._splice(key, value, timestamp_ms)
            if spliced is not None:
                return spliced
        try:
            key_text = key.decode("utf-8")
        except UnicodeDecodeError:
            return Refusal("bad_key", f"key {key[:40]!r} is not UTF-8 text")
        parts = legacy.key.parse(key_text)
        if parts is None:
            return Refusal("bad_key", f"key {key_text!r} does not follow {legacy.key.pattern}")
        if value is None:
            return self._tombstone(key_text, parts)
        record = self._decode(value)
        if isinstance(record, Refusal):
            return record
        if not self._plain:
            record = {self._rename.get(k, k): v for k, v in record.items() if k not in self._drop}
        exchange = record.get(EXCHANGE_FIELD)
        if not isinstance(exchange, str):
            return Refusal("unfit", f"no {EXCHANGE_FIELD} text in the record (got {exchange!r}); map the legacy "
                           f"field to it under {legacy.where}.rename")
        target = legacy.target_for(exchange)
        if target is None:
            return Refusal("unknown_exchange", f"{EXCHANGE_FIELD} {exchange!r} (key {key_text!r}) is no exchange of "
                           f"topics.yaml for {legacy.data_type}; known: {', '.join(sorted(legacy.exchanges))}")
        keyed = parts.get(EXCHANGE_FIELD)
        if keyed is not None and keyed.casefold() != exchange.casefold():
            return Refusal("key_mismatch", f"key {key_text!r} names exchange {keyed!r}, the record {exchange!r}")
        for name in self._key_fields:
            if str(record.get(name)) != parts[name]:
                return Refusal("key_mismatch", f"key {key_text!r} has {name} {parts[name]!r}, the record "
                               f"{record.get(name)!r}")
        record[EXCHANGE_FIELD] = target.exchange
        encoder, stamped = self._encoder(target.topic)
        for name, fill in legacy.values.items():
            if name not in record:
                record[name] = fill
        for name, unit in stamped.items():
            if name not in record:
                record[name] = timestamp_ms * unit
        try:
            encoded = encoder.encode(record)
        except RecordError as err:
            return Refusal("unfit", f"{str(err).removesuffix('; nothing was sent')} (key {key_text!r})")
        symbol = record[legacy.partition_key]
        if not symbol:
            return Refusal("unfit", f"{legacy.partition_key} is empty (key {key_text!r}): it is the new key")
        return Copy(target, symbol.encode("utf-8"), encoded)

    def _splice(self, key: bytes, value: bytes, timestamp_ms: int) -> Copy | None:
        """The fast path, on the bytes, for a record that routes and fits; None: take the slow path (which also
        says why a record is refused)."""
        if len(value) < 5 or value[0] != 0:
            return None
        schema_id = int.from_bytes(value[1:5], "big")
        layout = self._layouts.get(schema_id, _UNSET)
        if layout is _UNSET:
            try:
                layout = self._layouts[schema_id] = layout_of(self._writer_schemas(schema_id), self.legacy)
            except SchemaUnavailable:
                return None
        if layout is None or not isinstance(layout, Layout):
            return None
        parts = self._keys.get(key, _UNSET)
        if parts is _UNSET:  # keys repeat (one per symbol): parsed once each
            match = self._key_bytes.match(key)
            parts = match.groupdict() if match else None
            if len(self._keys) < 100_000:
                self._keys[key] = parts
        if parts is None:
            return None
        legacy = self.legacy
        try:
            bounds = layout.bounds(value)
            exchange = layout.raw(value, bounds, EXCHANGE_FIELD)
            symbol = layout.raw(value, bounds, legacy.partition_key)
            target = self._routes.get(exchange, _UNSET)
            if target is _UNSET:
                target = legacy.target_for(exchange.decode("utf-8"))
                if len(self._routes) < 10_000:
                    self._routes[exchange] = target
            for name in legacy.key.fields:
                keyed = parts[name]
                if name == EXCHANGE_FIELD:
                    if keyed != exchange and keyed.decode("utf-8").casefold() != exchange.decode("utf-8").casefold():
                        return None
                elif keyed != (symbol if name == legacy.partition_key else layout.raw(value, bounds, name)):
                    return None
        except (IndexError, ValueError, KeyError, UnicodeDecodeError):
            return None
        if target is None or not symbol or not isinstance(target, LegacyTarget):
            return None
        template = self._templates.get((schema_id, target.topic), _UNSET)
        if template is _UNSET:
            template = self._templates[(schema_id, target.topic)] = self._template(layout, target)
        if template is None or not isinstance(template, tuple):
            return None
        try:
            body = template[0].body(value, bounds, timestamp_ms)
        except (NoSplice, IndexError, ValueError, UnicodeDecodeError):
            return None
        return Copy(target, symbol, template[1] + body)

    def _template(self, layout: Layout, target: LegacyTarget) -> tuple[Template, bytes] | None:
        schema = self._target_schemas(target.topic)
        try:
            template = Template.build(layout, schema.parsed, self.legacy, target.exchange)
        except (NoSplice, ValueError, KeyError, TypeError):
            return None
        return template, b"\x00" + schema.schema_id.to_bytes(4, "big")

    def _tombstone(self, key_text: str, parts: Mapping[str, str]) -> Copy | Refusal:
        """A null value (a deletion on a compacted topic): routed by its key alone."""
        exchange = parts.get(EXCHANGE_FIELD)
        if exchange is None:
            return Refusal("bad_key", f"a tombstone (null value) is routed by its key, and {self.legacy.key.pattern} "
                           "has no {exchange}")
        target = self.legacy.target_for(exchange)
        if target is None:
            return Refusal("unknown_exchange", f"tombstone with key {key_text!r}: {exchange!r} is no exchange of "
                           f"topics.yaml for {self.legacy.data_type}")
        return Copy(target, parts[self.legacy.partition_key].encode("utf-8"), None)

    def _decode(self, value: bytes) -> dict[str, Any] | Refusal:
        if len(value) < 5 or value[0] != 0:
            return Refusal("undecodable", f"{len(value)} bytes not in the schema-registry wire format (byte 0, "
                           f"schema id, Avro): {value[:24]!r}")
        schema_id = int.from_bytes(value[1:5], "big")
        reader = self._readers.get(schema_id)
        if reader is None:
            try:
                reader = self._readers[schema_id] = self._reader(schema_id)
            except SchemaUnavailable as err:
                return Refusal("undecodable", str(err))
        try:
            record, end = reader(value, 5)
        except Exception as err:  # fastavro's own: EOFError, UnicodeDecodeError, IndexError...
            return Refusal("undecodable", f"Avro body does not decode with schema id {schema_id}: "
                           f"{type(err).__name__}: {err}")
        if not isinstance(record, dict):
            return Refusal("undecodable", f"schema id {schema_id} is not a record schema")
        if end != len(value):
            return Refusal("undecodable", f"{len(value) - end} bytes left after the record: not written "
                           f"with schema id {schema_id}")
        return record

    def _reader(self, schema_id: int) -> Reader:
        text = self._writer_schemas(schema_id)
        try:
            schema = json.loads(text)
        except ValueError:
            raise SchemaUnavailable(f"schema id {schema_id} is not an Avro schema (JSON)") from None
        if self._same_logical_types(schema):
            # Timestamps stay numbers (no datetime round trip): the target fields have the same units.
            schema = without_logical_types(schema)
        try:
            return reader_for(parse_schema(schema))
        except Exception as err:
            raise SchemaUnavailable(f"schema id {schema_id} does not parse: {err}") from None

    def _same_logical_types(self, writer: Any) -> bool:
        """Whether every writer field with a logical type has the same one in every target schema."""
        if not isinstance(writer, dict) or writer.get("type") != "record":
            return False
        targets = [self._target_schemas(t.topic).parsed for t in self.legacy.targets.values()]
        for field in writer.get("fields", []):
            logical = _logical_types(field.get("type"))
            if not logical:
                continue
            name = self._rename.get(field["name"], field["name"])
            for target in targets:
                found = next((f for f in target["fields"] if f["name"] == name), None)
                if found is not None and _logical_types(found["type"]) != logical:
                    return False
        return True

    def _encoder(self, topic: str) -> tuple[RecordEncoder, dict[str, int]]:
        found = self._encoders.get(topic)
        if found is None:
            schema = self._target_schemas(topic)
            fields = {f["name"]: f for f in schema.parsed["fields"]}
            stamped = {}
            for name in self.legacy.record_timestamp:
                unit = timestamp_unit(fields[name]["type"]) if name in fields else None
                if unit is not None:
                    stamped[name] = unit
            found = self._encoders[topic] = (RecordEncoder(schema), stamped)
        return found


def _logical_types(schema: Any) -> frozenset[str]:
    """The logical types anywhere in a field's type."""
    if isinstance(schema, list):
        return frozenset().union(*(_logical_types(s) for s in schema))
    if isinstance(schema, dict):
        found = {schema["logicalType"]} if schema.get("logicalType") else set()
        for key in ("items", "values"):
            found |= _logical_types(schema.get(key))
        for field in schema.get("fields", []):
            found |= _logical_types(field.get("type"))
        return frozenset(found)
    return frozenset()


def without_logical_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [without_logical_types(s) for s in schema]
    return schema


def headers_for(topic: str, partition: int, offset: int) -> list[tuple[str, bytes]]:
    return [(SOURCE_TOPIC, topic.encode()), (SOURCE_PARTITION, str(partition).encode()),
            (SOURCE_OFFSET, str(offset).encode())]


def header(headers: Any, name: str) -> str | None:
    """A header's value as text (the last one of that name); None if absent."""
    found = None
    for key, value in (headers.items() if isinstance(headers, dict) else headers or ()):
        if key == name:
            found = value
    if isinstance(found, bytes):
        return found.decode("utf-8", "replace")
    return found


def source_of(headers: Any) -> tuple[str, int, int] | None:
    """(topic, partition, offset) of the legacy record a copied record came from; None if not a copy."""
    topic, partition, offset = (header(headers, n) for n in (SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET))
    if topic is None or partition is None or offset is None:
        return None
    try:
        return topic, int(partition), int(offset)
    except ValueError:
        return None
