"""The stack outputs an app reads: cluster addresses, topics, subjects and exchanges.

Parsed from the JSON of `pulumi stack output --json`, checked key by key so that a missing or
malformed output is named, and keys the program may add later are ignored (apps outlive stacks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from k2infra.clients.errors import StackOutputsError

HINT = "expected the JSON that `pulumi stack output --json` prints for a K2 stack"


@dataclass(frozen=True)
class TopicInfo:
    name: str
    asset_class: str
    data_type: str
    exchange: str
    partitions: int
    replication_factor: int | None = None


@dataclass(frozen=True)
class SubjectInfo:
    subject: str
    asset_class: str
    data_type: str
    partition_key: str = "symbol"
    # The registered schema the stack deployed; None (topics.yaml source) means the latest version.
    schema_id: int | None = None
    version: int | None = None
    compatibility: str | None = None
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExchangeInfo:
    code: str
    asset_class: str
    name: str | None = None
    country: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class StackOutputs:
    source: str  # where these came from, for error messages
    topics: tuple[TopicInfo, ...]
    subjects: tuple[SubjectInfo, ...]
    exchanges: tuple[ExchangeInfo, ...]
    bootstrap_servers: str | None = None
    schema_registry_url: str | None = None
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    environment: str | None = None
    stack: str | None = None

    def with_cluster(self, bootstrap_servers: str, schema_registry_url: str) -> StackOutputs:
        """The same topology on a given cluster: for tools and tests that have topics.yaml but no stack."""
        return dataclasses.replace(self, bootstrap_servers=bootstrap_servers, schema_registry_url=schema_registry_url)

    def require_cluster(self) -> tuple[str, str]:
        """(bootstrap servers, registry URL), or an error naming what is missing from the source."""
        missing = [k for k in ("bootstrap_servers", "schema_registry_url") if not getattr(self, k)]
        if missing:
            raise StackOutputsError(
                f"{self.source}: no {' and no '.join(missing)}: producers and consumers need the stack "
                "outputs of a deployed stack (set K2_STACK_OUTPUTS or pass source=...), or "
                "outputs.with_cluster(bootstrap_servers, schema_registry_url)")
        return self.bootstrap_servers, self.schema_registry_url  # type: ignore[return-value]


def parse_outputs(data: object, source: str) -> StackOutputs:
    """Check and convert the outputs mapping; StackOutputsError lists every missing or malformed key."""
    if not isinstance(data, Mapping):
        raise StackOutputsError(f"{source}: not a JSON object but {type(data).__name__}; {HINT}")
    if not data:
        raise StackOutputsError(f"{source}: no outputs at all: has the stack been deployed (`pulumi up`)?")
    problems: list[str] = []
    top = _Reader(data, "", problems)
    outputs = StackOutputs(
        source=source,
        bootstrap_servers=top.text("bootstrap_servers"),
        schema_registry_url=top.text("schema_registry_url"),
        security_protocol=top.text("security_protocol", required=False) or "PLAINTEXT",
        sasl_mechanism=top.text("sasl_mechanism", required=False),
        environment=top.text("environment", required=False),
        stack=top.text("stack", required=False),
        topics=tuple(_topic(r) for r in top.records("topics")),
        subjects=tuple(_subject(r) for r in top.records("subjects")),
        exchanges=tuple(_exchange(r) for r in top.records("exchanges", required=False)),
    )
    if problems:
        raise StackOutputsError(f"{source}: {'; '.join(problems)} ({HINT})")
    if not outputs.exchanges:  # older stacks: the exchanges are implied by the topics
        codes = dict.fromkeys((t.exchange, t.asset_class) for t in outputs.topics)
        outputs = dataclasses.replace(outputs, exchanges=tuple(ExchangeInfo(c, a) for c, a in codes))
    return outputs


def _topic(r: _Reader) -> TopicInfo:
    return TopicInfo(r.text("name"), r.text("asset_class"), r.text("data_type"), r.text("exchange"),
                     r.count("partitions"), r.count("replication_factor", required=False))


def _subject(r: _Reader) -> SubjectInfo:
    return SubjectInfo(r.text("subject"), r.text("asset_class"), r.text("data_type"),
                       partition_key=r.text("partition_key", required=False) or "symbol",
                       schema_id=r.count("schema_id", required=False), version=r.count("version", required=False),
                       compatibility=r.text("compatibility", required=False),
                       topics=tuple(r.texts("topics")))


def _exchange(r: _Reader) -> ExchangeInfo:
    return ExchangeInfo(r.text("code"), r.text("asset_class"), r.text("name", required=False),
                        r.text("country", required=False), r.text("timezone", required=False))


class _Reader:
    """Typed access to one JSON object that records, rather than raises, each problem it meets."""

    def __init__(self, data: Mapping[str, Any], where: str, problems: list[str]):
        self.data, self.where, self.problems = data, where, problems

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            self.problems.append(f"{self.where}{key} is missing")
        return value

    def _bad(self, key: str, expected: str, value: Any) -> None:
        self.problems.append(f"{self.where}{key} must be {expected}, got {value!r}")

    def text(self, key: str, required: bool = True) -> Any:
        value = self._get(key, required)
        if value is not None and not (isinstance(value, str) and value):
            self._bad(key, "non-empty text", value)
        return value

    def count(self, key: str, required: bool = True) -> Any:
        value = self._get(key, required)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            self._bad(key, "a whole number", value)
        return value

    def texts(self, key: str) -> list[str]:
        value = self._get(key, required=False) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._bad(key, "a list of names", value)
            return []
        return value

    def records(self, key: str, required: bool = True) -> list[_Reader]:
        value = self._get(key, required)
        if value is None:
            return []
        if not isinstance(value, Sequence) or isinstance(value, str):
            self._bad(key, "a list", value)
            return []
        readers = []
        for index, item in enumerate(value):
            where = f"{self.where}{key}[{index}]."
            if isinstance(item, Mapping):
                readers.append(_Reader(item, where, self.problems))
            else:
                self.problems.append(f"{where[:-1]} must be an object, got {item!r}")
        return readers
