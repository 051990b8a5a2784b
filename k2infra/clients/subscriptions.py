"""The design's subscription patterns: sorted topic lists for consumer.subscribe(), plus a regex pattern.

A list is fixed when it is built; a consumer that must pick up exchanges added after it started
subscribes to the regex instead, which Kafka re-evaluates against the cluster's topics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from k2infra.clients.topic_builder import DataType, TopicBuilder
from k2infra.contracts.naming import CODE_PATTERN, TOPIC_PREFIX
from k2infra.contracts.outputs import StackOutputs


class SubscriptionBuilder:
    def __init__(self, outputs: StackOutputs):
        self.topics = TopicBuilder(outputs)

    def subscribe_to_exchange(self, asset_class: str, exchange: str) -> list[str]:
        """Pattern 1: every data type of one exchange."""
        self.topics.check_exchange(asset_class, exchange)
        return self.topics.select([asset_class], None, [exchange])

    def subscribe_to_asset_class(self, asset_class: str, data_types: Iterable[DataType | str] | None = None,
                                 exchanges: Iterable[str] | None = None) -> list[str]:
        """Patterns 2 and 4: an asset class, optionally narrowed to some data types and exchanges."""
        self.topics.check_asset_class(asset_class)
        dts = None if data_types is None else [self.topics.check_data_type(d) for d in data_types]
        exs = None if exchanges is None else [self.topics.check_exchange(asset_class, e) for e in exchanges]
        return self.topics.select([asset_class], dts, exs)

    def subscribe_to_data_type(self, data_type: DataType | str) -> list[str]:
        """Pattern 3: one data type across every asset class and exchange."""
        return self.topics.select(None, [self.topics.check_data_type(data_type)], None)

    def subscribe_to_specific_topics(self, topics: Iterable[tuple[str, DataType | str, str]]) -> list[str]:
        """Pattern 5: exact (asset_class, data_type, exchange) triples."""
        return sorted({self.topics.build_topic_name(ac, dt, ex) for ac, dt, ex in topics})

    def subscribe_to_pattern(self, asset_class: str | None = None,
                             data_types: Iterable[DataType | str] | None = None) -> list[str]:
        """A one-element list holding a regex subscription ('^…') that also matches exchanges added later.

        Asset class and data types are checked against the topology (a typo would match nothing,
        silently); the exchange part matches any exchange code. Derived topics such as
        market.equities.trades.asx.enriched are not matched.
        """
        ac = re.escape(self.topics.check_asset_class(asset_class)) if asset_class else CODE_PATTERN
        dts = [re.escape(self.topics.check_data_type(d)) for d in data_types] if data_types is not None else []
        dt = f"({'|'.join(sorted(dts))})" if dts else CODE_PATTERN
        # Plain groups only: librdkafka's regex engine (POSIX ERE) has no (?:…).
        return [rf"^{TOPIC_PREFIX}\.{ac}\.{dt}\.{CODE_PATTERN}$"]


def topics_matching(subscription: Sequence[str], topics: Iterable[str]) -> list[str]:
    """Which of `topics` a subscription list (names and '^' patterns, as Kafka reads it) covers."""
    names = {s for s in subscription if not s.startswith("^")}
    patterns = [re.compile(s) for s in subscription if s.startswith("^")]
    return sorted(t for t in topics if t in names or any(p.search(t) for p in patterns))
