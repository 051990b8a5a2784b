"""The K2 domain as the model derives it: topics, subjects, exchanges and the topology that holds them.

Plain frozen values with no behaviour beyond describing themselves: the components, the app helpers
and the CLI all read these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from k2infra.contracts.naming import SUBJECT_PATTERN, subject_name
from k2infra.model.data_loss import Acknowledgement
from k2infra.model.monitoring import MonitoringSettings

if TYPE_CHECKING:
    from k2infra.model.access import App

if TYPE_CHECKING:
    from k2infra.model.legacy import LegacyTopic


@dataclass(frozen=True)
class Topic:
    name: str
    asset_class: str
    data_type: str
    exchange: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]
    # Where each setting comes from in topics.yaml ("partitions", "replication_factor", config keys ->
    # file:line: key), so a refusal points at the line to edit.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "asset_class": self.asset_class,
            "data_type": self.data_type,
            "exchange": self.exchange,
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "config": dict(sorted(self.config.items())),
        }


@dataclass(frozen=True)
class Subject:
    subject: str
    asset_class: str
    data_type: str
    schema_file: str
    schema: str
    compatibility: str
    partition_key: str
    topics: tuple[str, ...]

    def to_dict(self, with_schema: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "subject": self.subject,
            "asset_class": self.asset_class,
            "data_type": self.data_type,
            "schema_file": self.schema_file,
            "compatibility": self.compatibility,
            "partition_key": self.partition_key,
            "topics": list(self.topics),
        }
        if with_schema:
            out["schema"] = self.schema
        return out


@dataclass(frozen=True)
class Exchange:
    code: str
    asset_class: str
    name: str
    country: str | None
    timezone: str | None
    symbols: int | None
    messages_per_second: int | None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Topology:
    environment: str
    source: Path
    topics: tuple[Topic, ...]
    subjects: tuple[Subject, ...]
    exchanges: tuple[Exchange, ...]
    protected: bool = False
    decommission: tuple[str, ...] = ()
    acknowledgements: tuple[Acknowledgement, ...] = ()
    subject_pattern: str = SUBJECT_PATTERN
    apps: tuple[App, ...] = ()
    access_control: bool = False  # whether this environment's brokers enforce the apps' ACLs
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings, compare=False)  # alert thresholds
    # The flat topics from before the exchange topics (legacy_topics): `k2 migrate` copies from them; they
    # are not K2's topics even though their names start with market.
    legacy: tuple[LegacyTopic, ...] = ()
    _by_name: dict[str, Topic] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({t.name: t for t in self.topics})

    def topic(self, name: str) -> Topic:
        return self._by_name[name]

    @property
    def legacy_names(self) -> frozenset[str]:
        """The declared legacy topics: never planned as topics this stack manages or retains."""
        return frozenset(t.name for t in self.legacy)

    @property
    def asset_classes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.asset_class for t in self.topics))

    @property
    def data_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.data_type for t in self.topics))

    def subject_of(self, topic: Topic) -> str:
        """The subject a topic's records are written under (shared by its asset class's exchanges)."""
        return subject_name(topic.asset_class, topic.data_type, self.subject_pattern)

    def by_exchange(self) -> dict[tuple[str, str], list[Topic]]:
        """(asset_class, exchange) -> that exchange's topics, in topic-name order."""
        return group_by_exchange(self.topics)

    def to_dict(self, with_schemas: bool = False) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "topics": [t.to_dict() for t in self.topics],
            "subjects": [s.to_dict(with_schemas) for s in self.subjects],
            "exchanges": [e.to_dict() for e in self.exchanges],
        }


def group_by_exchange(topics: Iterable[Topic]) -> dict[tuple[str, str], list[Topic]]:
    """(asset_class, exchange) -> its topics, in the order given."""
    groups: dict[tuple[str, str], list[Topic]] = {}
    for topic in topics:
        groups.setdefault((topic.asset_class, topic.exchange), []).append(topic)
    return groups


