"""A legacy topic that decommissioning adopts in order to delete it is not held to the design's topic rules."""

from __future__ import annotations

from tests.policy.conftest import topic
from tests.policy.harness import Analyzer


def test_declared_legacy_topics_are_left_to_the_decommission_path(analyzer: Analyzer):
    assert analyzer.analyze(topic("market.trades.raw", 6, 1, {})) == []
    assert analyzer.analyze(topic("market.reference_data", 1, 1, {"cleanup.policy": "compact"})) == []


def test_an_undeclared_flat_topic_still_breaks_the_naming_rule(analyzer: Analyzer):
    names = {v.policy for v in analyzer.analyze(topic("market.orders.raw", 6, 1, {}))}
    assert {"topic-name", "partitions-within-guidelines"} <= names
