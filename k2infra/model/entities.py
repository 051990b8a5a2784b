"""The K2 domain's leaf values as the model derives them: topics, subjects and exchanges (the topology that
holds them is k2infra.model.topology).

Plain frozen values with no behaviour beyond describing themselves: the components, the app helpers
and the CLI all read these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


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
    # With regions: the region whose cluster the exchange's feed is produced in; a topic held in another region
    # is that region's mirror of it (MirrorMaker 2, same name, same partitions).
    home_region: str | None = field(default=None, compare=False)
    mirrored: bool = field(default=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "asset_class": self.asset_class,
            "data_type": self.data_type,
            "exchange": self.exchange,
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "config": dict(sorted(self.config.items())),
        }
        return out | ({"home_region": self.home_region, "mirrored": self.mirrored} if self.home_region else {})


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


def group_by_exchange(topics: Iterable[Topic]) -> dict[tuple[str, str], list[Topic]]:
    """(asset_class, exchange) -> its topics, in the order given."""
    groups: dict[tuple[str, str], list[Topic]] = {}
    for topic in topics:
        groups.setdefault((topic.asset_class, topic.exchange), []).append(topic)
    return groups


