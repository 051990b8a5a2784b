"""The topology: every topic, subject and exchange topics.yaml derives for one environment, with the
environment's apps, legacy topics, acknowledgements and alert thresholds.

Its own module, above the leaf values (k2infra.model.entities) and the apps and legacy topics that refer to
them, so that nothing imports in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2infra.contracts.naming import SUBJECT_PATTERN, subject_name
from k2infra.model.access import App
from k2infra.model.data_loss import Acknowledgement
from k2infra.model.entities import Exchange, Subject, Topic, group_by_exchange
from k2infra.model.errors import Problem
from k2infra.model.legacy import LegacyTopic
from k2infra.model.monitoring_spec import MonitoringSettings
from k2infra.model.regions import ReplicationFlow
from k2infra.model.users import AppUser


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
    users: tuple[AppUser, ...] = ()  # the apps' SCRAM users, where the environment manages users
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings, compare=False)  # alert thresholds
    # The flat topics from before the exchange topics (legacy_topics): `k2 migrate` copies from them; they
    # are not K2's topics even though their names start with market.
    legacy: tuple[LegacyTopic, ...] = ()
    # What the environment changes in what topics.yaml asks (a max_partitions cap), located: `k2 validate`,
    # `k2 plan` and the preview print them, so that nothing is changed silently.
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
    # With regions (k2infra/model/regions.py): the stack's region, and the MirrorMaker 2 flows into it.
    region: str | None = None
    replication: tuple[ReplicationFlow, ...] = ()
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
        regions = {"region": self.region, "replication": [vars(f) for f in self.replication]} if self.region else {}
        return {
            "environment": self.environment,
            **regions,
            "topics": [t.to_dict() for t in self.topics],
            "subjects": [s.to_dict(with_schemas) for s in self.subjects],
            "exchanges": [e.to_dict() for e in self.exchanges],
        }
