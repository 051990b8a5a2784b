"""The design's dashboard layout, shared by the Grafana dashboard and the terminal view: exchanges in
topics.yaml's order, each with its trades, quotes and reference-data topics in that order."""

from __future__ import annotations

from dataclasses import dataclass

from k2infra.model.entities import Topic
from k2infra.model.topology import Topology

DATA_TYPE_TITLES = {"trades": "Trades", "quotes": "Quotes", "reference_data": "Reference Data"}


@dataclass(frozen=True)
class ExchangeSection:
    asset_class: str
    exchange: str
    name: str  # the exchange's full name, e.g. Australian Securities Exchange
    topics: tuple[Topic, ...]

    @property
    def title(self) -> str:
        return f"Exchange: {self.exchange.upper()} ({self.name})"


def data_type_title(data_type: str) -> str:
    return DATA_TYPE_TITLES.get(data_type, data_type.replace("_", " ").title())


def sections(topology: Topology) -> list[ExchangeSection]:
    order = {dt: i for i, dt in enumerate(DATA_TYPE_TITLES)}
    groups = topology.by_exchange()
    out = []
    for exchange in topology.exchanges:
        topics = groups.get((exchange.asset_class, exchange.code), [])
        ordered = sorted(topics, key=lambda t: (order.get(t.data_type, len(order)), t.data_type))
        out.append(ExchangeSection(exchange.asset_class, exchange.code, exchange.name, tuple(ordered)))
    return out


def compacted(topic: Topic) -> bool:
    return "compact" in topic.config.get("cleanup.policy", "")
