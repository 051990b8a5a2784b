"""What topics.yaml declares that a resource cannot say about itself: the known codes, the exchanges'
volumes, the overrides made on purpose and the environments' partition caps.

Read with the model's public reader (k2infra.model.read_spec), so the pack and the program agree on the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from k2infra.contracts.naming import is_legacy_topic_name, topic_name
from k2infra.model import ExchangeSpec, TopologySpec, load_topology, read_spec
from k2infra.model.replication_access import default_principal, replication_app_name

Grant = tuple[str, str, str, str]  # resource type, pattern, name, operation


@dataclass(frozen=True)
class DeclaredTopology:
    file: Path
    spec: TopologySpec
    _grants: dict[str, dict[str, frozenset[Grant]]] = field(default_factory=dict, compare=False, repr=False)

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

    @property
    def replication_principals(self) -> dict[str, str]:
        """Principal -> the aggregating region MirrorMaker writes into as it."""
        return {(r.replication_principal or default_principal(name)): name
                for name, r in self.spec.regions.items() if r.aggregates}

    def region_of(self, stack: str) -> str | None:
        """The region a stack is named for (`prod-apac`: apac, as k2infra.contracts.naming.region_stack names
        them); None when its name says none."""
        return max((r for r in self.spec.regions if stack.endswith(f"-{r}")), key=len, default=None)

    def replication_grants(self, environment: str, region: str | None = None) -> dict[str, frozenset[Grant]]:
        """Principal -> every grant the program derives for it in `environment`, in `region`'s stack (None: any
        region's; the model's own derivation: raises TopologyError, located, when it cannot be derived)."""
        key = f"{environment}/{region or ''}"
        if key not in self._grants:
            apps = {replication_app_name(r) for r in self.replication_principals.values()}
            found: dict[str, set[Grant]] = {}
            for name in [region] if region else self.spec.regions:
                for app in load_topology(self.file, environment, region=name).apps:
                    if app.name in apps:
                        found.setdefault(app.principal, set()).update(
                            (b.resource_type, b.pattern, b.name, b.operation) for b in app.bindings)
            self._grants[key] = {p: frozenset(g) for p, g in found.items()}
        return self._grants[key]
