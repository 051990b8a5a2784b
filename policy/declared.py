"""What topics.yaml declares that a resource cannot say about itself: the known codes, the exchanges'
volumes, the overrides made on purpose and the environments' partition caps.

Read with the model's public reader (k2infra.model.read_spec), so the pack and the program agree on the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from k2infra.contracts.naming import is_legacy_topic_name, topic_name
from k2infra.model import ExchangeSpec, TopologySpec, read_spec


@dataclass(frozen=True)
class DeclaredTopology:
    file: Path
    spec: TopologySpec

    @classmethod
    def load(cls, file: Path) -> DeclaredTopology:
        """Raises k2infra.model.TopologyError naming the file, line and key of any problem."""
        return cls(file, read_spec(file))

    @property
    def asset_classes(self) -> list[str]:
        return list(self.spec.asset_classes)

    @property
    def data_types(self) -> list[str]:
        return list(self.spec.data_types)

    @property
    def legacy_names(self) -> frozenset[str]:
        """The legacy flat topics (legacy_topics): not designed by K2, only retired through decommissioning.
        Only those of the design's legacy shapes: a declared `__consumer_offsets` is held to every rule."""
        return frozenset(name for name, legacy in self.spec.legacy_topics.items()
                         if is_legacy_topic_name(name, legacy.data_type))

    @property
    def topic_names(self) -> list[str]:
        """Every exchange topic the file names, in every environment (the names do not depend on one)."""
        return [topic_name(ac, dt, ex) for ac, acs in self.spec.asset_classes.items() for ex in acs.exchanges
                for dt in self.spec.data_types]

    def exchanges(self, asset_class: str) -> list[str]:
        declared = self.spec.asset_classes.get(asset_class)
        return list(declared.exchanges) if declared else []

    def exchange(self, asset_class: str | None, code: str | None) -> ExchangeSpec | None:
        declared = self.spec.asset_classes.get(asset_class or "")
        return declared.exchanges.get(code or "") if declared else None

    def partitions_override(self, asset_class: str | None, exchange: str | None,
                            data_type: str | None) -> int | None:
        """The count an exchange sets for one data type in its overrides: a departure made on purpose."""
        spec = self.exchange(asset_class, exchange)
        override = spec.overrides.get(data_type or "") if spec else None
        return override.partitions if override else None

    def max_partitions(self, environment: str) -> int | None:
        env = self.spec.environments.get(environment)
        return env.max_partitions if env else None
