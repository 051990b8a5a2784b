"""The legacy flat topics of topics.yaml (`legacy_topics`): what each holds and how its records map to the
exchange topics and the shared schemas. Pure: `k2 migrate` does the copying (k2infra/migration).

A legacy topic is not an exchange topic even though its name starts with `market.`: the topology exposes
the declared names (Topology.legacy_names) so that planning never takes one for a topic K2 manages.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from fastavro.validation import validate

from k2infra.contracts.kafka_names import INTERNAL_TOPIC, is_internal_topic, topic_name_problem
from k2infra.contracts.naming import LEGACY_SHAPES, is_legacy_topic_name, legacy_names_for
from k2infra.model.entities import Subject, Topic
from k2infra.model.errors import Problem
from k2infra.model.kafka_configs import suggest
from k2infra.model.source import KeyPath, SourceDoc
from k2infra.model.spec import LegacyTopicSpec, TopologySpec

EXCHANGE_FIELD = "exchange"  # the shared schemas' field naming the exchange (its topic code, lower case)
TIMESTAMP_UNITS = {"timestamp-millis": 1, "timestamp-micros": 1000, "timestamp-nanos": 1_000_000}


@dataclass(frozen=True)
class LegacyTarget:
    """One exchange topic a legacy topic's records go to, and the subject they are written under."""

    topic: str
    asset_class: str
    exchange: str
    subject: str


@dataclass(frozen=True)
class KeyPattern:
    """How a legacy key was built, e.g. {exchange}.{symbol}: parses ASX.BHP into its fields."""

    pattern: str
    fields: tuple[str, ...]
    regex: re.Pattern[str] = field(compare=False)

    @classmethod
    def compile(cls, pattern: str) -> KeyPattern:
        """ValueError if the pattern cannot be parsed back (two fields with nothing between them)."""
        parts = list(string.Formatter().parse(pattern))
        names = [name for _, name, _, _ in parts if name is not None]
        if not names:
            raise ValueError("names no field; write it as the legacy producer built it, e.g. {exchange}.{symbol}")
        if any(not name.isidentifier() for name in names):
            raise ValueError(f"field names must be plain names, got {names}")
        if len(set(names)) != len(names):
            raise ValueError("names a field twice")
        regex = ""
        for index, (literal, name, spec, conversion) in enumerate(parts):
            if spec or conversion:
                raise ValueError("takes no format specs or conversions")
            if index and not literal and name is not None:
                raise ValueError("has two fields with nothing between them: a key could not be split back")
            regex += re.escape(literal)
            if name is not None:
                last = index == len(parts) - 1 or all(n is None for _, n, _, _ in parts[index + 1:])
                regex += f"(?P<{name}>.+)" if last else f"(?P<{name}>.+?)"
        return cls(pattern, tuple(names), re.compile(regex, re.DOTALL))

    def parse(self, key: str) -> dict[str, str] | None:
        match = self.regex.fullmatch(key)
        return match.groupdict() if match else None


@dataclass(frozen=True)
class LegacyTopic:
    name: str
    data_type: str
    subject: str  # where the legacy producers registered their schema
    key: KeyPattern
    partition_key: str  # the shared schema's partition key: the new topics' record key
    # casefolded legacy exchange value -> (asset_class, exchange code); the codes themselves by default
    exchanges: Mapping[str, tuple[str, str]]
    targets: Mapping[tuple[str, str], LegacyTarget]  # (asset_class, exchange) -> its topic for this data type
    rename: Mapping[str, str] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()
    values: Mapping[str, Any] = field(default_factory=dict)
    record_timestamp: tuple[str, ...] = ()
    where: str = ""  # file:line: key, for messages

    def target_for(self, exchange_value: str) -> LegacyTarget | None:
        """The exchange topic for a legacy record's exchange value (ASX, Binance), case-insensitively."""
        found = self.exchanges.get(exchange_value.casefold())
        return self.targets.get(found) if found else None

    @property
    def target_topics(self) -> tuple[str, ...]:
        return tuple(sorted(t.topic for t in self.targets.values()))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "data_type": self.data_type, "subject": self.subject, "key": self.key.pattern,
                "targets": list(self.target_topics), "rename": dict(self.rename), "drop": sorted(self.drop),
                "values": dict(self.values), "record_timestamp": list(self.record_timestamp)}


def derive_legacy(spec: TopologySpec, doc: SourceDoc, topics: Iterable[Topic], subjects: Iterable[Subject],
                  problems: list[Problem]) -> tuple[LegacyTopic, ...]:
    """The declared legacy topics, checked against the topology and its shared schemas; problems collected."""
    topics, subjects = list(topics), list(subjects)
    declared = {t.name for t in topics}
    out = []
    for name, legacy in spec.legacy_topics.items():
        path: KeyPath = ("legacy_topics", name)
        before = len(problems)
        if name in declared:
            problems.append(doc.problem(path, "is an exchange topic this topology declares; a legacy topic is one "
                                        "`k2 migrate` copies from"))
        else:
            _check_name(doc, path, name, legacy.data_type if legacy.data_type in spec.data_types else None,
                        problems)
        if legacy.data_type not in spec.data_types:
            problems.append(doc.problem((*path, "data_type"), f"unknown data type {legacy.data_type!r}"
                                        f"{suggest(legacy.data_type, spec.data_types)}; known: "
                                        f"{', '.join(spec.data_types)}"))
            continue
        schemas = {s.asset_class: json.loads(s.schema) for s in subjects if s.data_type == legacy.data_type}
        if not schemas:
            continue  # the shared schemas have problems of their own, reported already
        topic = _Checker(doc, path, legacy, schemas, problems).check(spec, topics)
        if topic is not None and len(problems) == before:
            out.append(topic)
    return tuple(out)


def _check_name(doc: SourceDoc, path: KeyPath, name: str, data_type: str | None, problems: list[Problem]) -> None:
    """Only the design's legacy shapes: K2 adopts and deletes a legacy topic, so no other team's may be one."""
    if is_internal_topic(name):
        problems.append(doc.problem(path, f"{name!r} is {INTERNAL_TOPIC}, not a legacy topic: K2 never "
                                    "reads, adopts or deletes it"))
    elif (wrong := topic_name_problem(name)) is not None:
        problems.append(doc.problem(path, f"not a Kafka topic name: {name!r} {wrong}"))
    elif not is_legacy_topic_name(name, data_type):
        shapes = " or ".join(legacy_names_for(data_type) if data_type else LEGACY_SHAPES)
        problems.append(doc.problem(path, f"{name!r} is not named as the design's legacy topics are ({shapes}"
                                    f"{f', after its data type {data_type}' if data_type else ''}): K2 copies from, "
                                    "adopts and deletes only these, never another team's topic"))


@dataclass
class _Checker:
    doc: SourceDoc
    path: KeyPath
    spec: LegacyTopicSpec
    schemas: dict[str, dict[str, Any]]  # asset class -> its shared schema for this data type
    problems: list[Problem]

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.doc.problem((*self.path, *path), message))

    def fields(self, asset_class: str) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in self.schemas[asset_class]["fields"]}

    def lacking(self, name: str) -> list[str]:
        """The asset classes whose shared schema has no field `name`."""
        return [ac for ac in self.schemas if name not in self.fields(ac)]

    def check_field(self, path: KeyPath, name: str, what: str) -> bool:
        missing = self.lacking(name)
        if missing:
            known = sorted(self.fields(missing[0]))
            schema = self.schemas[missing[0]]["name"]
            self.problem(path, f"{what} {name!r} is not a field of the {self.spec.data_type} schema ({schema}) of "
                         f"{', '.join(missing)}{suggest(name, known)}; its fields: {', '.join(known)}")
        return not missing

    def check(self, spec: TopologySpec, topics: list[Topic]) -> LegacyTopic | None:
        legacy = self.spec
        name = str(self.path[-1])
        targets = {(t.asset_class, t.exchange): t for t in self._targets(spec, topics)}
        partition_key = spec.data_types[legacy.data_type].partition_key
        key = self._key(partition_key)
        exchanges = self._exchanges(spec, targets)
        self._mapping()
        if key is None:
            return None
        return LegacyTopic(
            name=name, data_type=legacy.data_type, subject=legacy.subject or f"{name}-value", key=key,
            partition_key=partition_key, exchanges=MappingProxyType(exchanges), targets=MappingProxyType(targets),
            rename=MappingProxyType(dict(legacy.rename)), drop=frozenset(legacy.drop),
            values=MappingProxyType(dict(legacy.values)), record_timestamp=tuple(legacy.record_timestamp),
            where=self.doc.where(self.path))

    def _targets(self, spec: TopologySpec, topics: list[Topic]) -> Iterable[LegacyTarget]:
        pattern = spec.schema_registry.subject_pattern
        for t in topics:
            if t.data_type == self.spec.data_type:
                try:
                    subject = pattern.format(asset_class=t.asset_class, data_type=t.data_type)
                except (KeyError, IndexError, ValueError):
                    continue  # reported by check_subject_pattern
                yield LegacyTarget(t.name, t.asset_class, t.exchange, subject)

    def _key(self, partition_key: str) -> KeyPattern | None:
        try:
            key = KeyPattern.compile(self.spec.key)
        except ValueError as err:
            self.problem(("key",), f"{self.spec.key!r} {err}")
            return None
        ok = all([self.check_field(("key",), f, "key field") for f in key.fields])
        if partition_key not in key.fields:
            self.problem(("key",), f"{self.spec.key!r} must contain {{{partition_key}}}, the partition key of the "
                         "new topics, so that a record's key can be checked against its fields")
            ok = False
        return key if ok else None

    def _exchanges(self, spec: TopologySpec, targets: Mapping[tuple[str, str], LegacyTarget]
                   ) -> dict[str, tuple[str, str]]:
        by_code: dict[str, list[str]] = {}
        for asset_class, exchange in targets:
            by_code.setdefault(exchange.casefold(), []).append(asset_class)
        explicit: dict[str, tuple[str, str]] = {}
        for value, where in self.spec.exchanges.items():
            asset_class, _, exchange = where.partition(".")
            if (asset_class, exchange) not in targets:
                known = [f"{ac}.{ex}" for ac, ex in targets]
                self.problem(("exchanges", value), f"{where!r} is not an exchange of topics.yaml, written "
                             f"asset_class.exchange{suggest(where, known)}; known: {', '.join(known)}")
                continue
            explicit[value.casefold()] = (asset_class, exchange)
        out: dict[str, tuple[str, str]] = {}
        for code, asset_classes in by_code.items():
            if len(asset_classes) == 1:
                out[code] = (asset_classes[0], code)
            elif code not in explicit:
                self.problem(("exchanges",), f"exchange code {code!r} is in asset classes "
                             f"{' and '.join(asset_classes)}: map the legacy value to one, e.g. "
                             f"exchanges: {{{code.upper()}: {asset_classes[0]}.{code}}}")
        return out | explicit

    def _mapping(self) -> None:
        legacy = self.spec
        seen: dict[str, str] = {}
        for old, new in legacy.rename.items():
            if self.check_field(("rename", old), new, "rename target") and new in seen:
                self.problem(("rename", old), f"{seen[new]!r} is renamed to {new!r} too")
            seen[new] = old
            if old in legacy.drop:
                self.problem(("drop",), f"{old!r} is both renamed and dropped")
        for name, value in legacy.values.items():
            if self.check_field(("values", name), name, "value for"):
                self._check_value(name, value)
        for index, name in enumerate(legacy.record_timestamp):
            if not self.check_field(("record_timestamp", index), name, "timestamp field"):
                continue
            if name in legacy.values:
                self.problem(("record_timestamp", index), f"{name!r} also has a value under values: keep one")
            for ac in self.schemas:
                if timestamp_unit(self.fields(ac)[name]["type"]) is None:
                    self.problem(("record_timestamp", index), f"{name!r} is not a long or timestamp field in the "
                                 f"{ac} schema: it cannot hold the record's timestamp")
                    break

    def _check_value(self, name: str, value: Any) -> None:
        for ac in self.schemas:
            field_type = self.fields(ac)[name]["type"]
            named = {s["name"]: s for s in _named_types(self.schemas[ac])}
            if not validate(value, _inline(field_type, named), raise_errors=False):
                self.problem(("values", name), f"{value!r} does not fit field {name!r} ({_describe(field_type)}) "
                             f"of the {ac} schema")
                return


def timestamp_unit(schema: Any) -> int | None:
    """How many of a field's units make a millisecond (a Kafka timestamp): 1000 for timestamp-micros, 1 for
    a plain long (taken as milliseconds); None when the field cannot hold a timestamp."""
    if isinstance(schema, list):
        units = [u for s in schema if (u := timestamp_unit(s)) is not None]
        return units[0] if units else None
    if isinstance(schema, dict):
        if schema.get("type") != "long":
            return None
        return TIMESTAMP_UNITS.get(schema.get("logicalType", ""), 1)
    return 1 if schema == "long" else None


def _named_types(schema: Any) -> Iterable[dict[str, Any]]:
    if isinstance(schema, list):
        for s in schema:
            yield from _named_types(s)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            yield schema
        for f in schema.get("fields", []):
            yield from _named_types(f["type"])
        for key in ("items", "values"):
            if key in schema:
                yield from _named_types(schema[key])


def _inline(schema: Any, named: Mapping[str, Any]) -> Any:
    """A field's type with named references replaced by their definitions (for validating it alone)."""
    if isinstance(schema, str):
        return named.get(schema, schema)
    if isinstance(schema, list):
        return [_inline(s, named) for s in schema]
    return schema


def _describe(schema: Any) -> str:
    if isinstance(schema, list):
        return " or ".join(_describe(s) for s in schema)
    if isinstance(schema, dict):
        return str(schema.get("logicalType") or schema.get("name") or schema.get("type"))
    return str(schema)
