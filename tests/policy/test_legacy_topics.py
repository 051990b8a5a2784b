"""A legacy topic that decommissioning adopts in order to delete it is not held to the design's topic rules."""

from __future__ import annotations

from tests.policy.conftest import SHIPPED_TOPICS, of, topic
from tests.policy.harness import Analyzer


def test_declared_legacy_topics_are_left_to_the_decommission_path(analyzer: Analyzer):
    assert analyzer.analyze(topic("market.trades.raw", 6, 1, {})) == []
    assert analyzer.analyze(topic("market.reference_data", 1, 1, {"cleanup.policy": "compact"})) == []


def test_an_undeclared_flat_topic_still_breaks_the_naming_rule(analyzer: Analyzer):
    names = {v.policy for v in analyzer.analyze(topic("market.orders.raw", 6, 1, {}))}
    assert {"topic-name", "partitions-within-guidelines"} <= names


def test_a_declared_legacy_topic_outside_the_legacy_shapes_is_held_to_every_rule(analyzer_for):
    text = SHIPPED_TOPICS.replace("  market.trades.raw:\n", "  __consumer_offsets:\n", 1).replace(
        "  market.quotes.raw:\n", "  orders.v1:\n", 1)
    analyzer = analyzer_for(text)
    for name in ("__consumer_offsets", "orders.v1"):
        [found] = of("topic-name", analyzer.analyze(topic(name, 6, 1, {})))
        assert found.level == "mandatory" and f"{name}: the name does not follow" in found.message
    # The shapes are the design's, named after the data type held: market.reference_data is still skipped.
    assert analyzer.analyze(topic("market.reference_data", 1, 1, {"cleanup.policy": "compact"})) == []
