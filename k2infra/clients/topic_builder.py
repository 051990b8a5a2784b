"""Topic names for apps (the naming rule itself is k2infra.contracts.naming).

Names are only built for what the stack outputs hold, so a typo or an exchange that was never
deployed fails here, with the known names, instead of as a silent "unknown topic" at the broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from k2infra.clients.errors import UnknownNameError
from k2infra.contracts.naming import TopicRef
from k2infra.contracts.outputs import StackOutputs, TopicInfo


class DataType(StrEnum):
    """The design's data types. Builders also accept plain strings, for data types added to topics.yaml later."""

    TRADES = "trades"
    QUOTES = "quotes"
    REFERENCE_DATA = "reference_data"


class TopicBuilder:
    """Builds and checks topic names against the stack's topology."""

    def __init__(self, outputs: StackOutputs):
        self.outputs = outputs
        self._topics: dict[tuple[str, str, str], TopicInfo] = {
            (t.asset_class, t.data_type, t.exchange): t for t in outputs.topics
        }
        self._by_name = {t.name: t for t in outputs.topics}

    @property
    def asset_classes(self) -> list[str]:
        return sorted({t.asset_class for t in self._topics.values()})

    @property
    def data_types(self) -> list[str]:
        return sorted({t.data_type for t in self._topics.values()})

    def exchanges(self, asset_class: str) -> list[str]:
        self.check_asset_class(asset_class)
        return sorted({t.exchange for t in self._topics.values() if t.asset_class == asset_class})

    def check_asset_class(self, asset_class: str) -> str:
        if asset_class not in self.asset_classes:
            raise UnknownNameError("asset class", asset_class, self.asset_classes)
        return asset_class

    def check_data_type(self, data_type: DataType | str) -> str:
        value = str(data_type)
        if value not in self.data_types:
            raise UnknownNameError("data type", value, self.data_types)
        return value

    def check_exchange(self, asset_class: str, exchange: str) -> str:
        known = self.exchanges(asset_class)
        if exchange not in known:
            raise UnknownNameError("exchange", exchange, known, where=f"for asset class {asset_class!r}")
        return exchange

    def topic(self, asset_class: str, data_type: DataType | str, exchange: str) -> TopicInfo:
        """The topic's description in the stack outputs (partitions, replication)."""
        dt = self.check_data_type(data_type)
        self.check_exchange(asset_class, exchange)
        found = self._topics.get((asset_class, dt, exchange))
        if found is None:  # all three are known, but this combination was never deployed
            names = [t.name for t in self._topics.values() if (t.asset_class, t.exchange) == (asset_class, exchange)]
            raise UnknownNameError("topic", TopicRef(asset_class, dt, exchange).name, names)
        return found

    def build_topic_name(self, asset_class: str, data_type: DataType | str, exchange: str) -> str:
        return self.topic(asset_class, data_type, exchange).name

    def describe(self, name: str) -> TopicInfo:
        """The stack's description of a topic given by name."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownNameError("topic", name, self._by_name) from None

    def select(self, asset_classes: Iterable[str] | None = None, data_types: Iterable[str] | None = None,
               exchanges: Iterable[str] | None = None) -> list[str]:
        """Sorted names of the topics in all of the given sets (None: any)."""
        acs, dts, exs = (None if s is None else set(s) for s in (asset_classes, data_types, exchanges))
        return sorted(t.name for t in self._topics.values()
                      if (acs is None or t.asset_class in acs) and (dts is None or t.data_type in dts)
                      and (exs is None or t.exchange in exs))
