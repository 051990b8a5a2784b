"""Per-exchange health from offset samples, with the design's alert thresholds."""

from __future__ import annotations

from k2infra.model import load_topology
from k2infra.model.health import assess
from tests.conftest import ROOT

TOPO = load_topology(ROOT / "topics.yaml", "dev")
ASX_TRADES, BINANCE_QUOTES = "market.equities.trades.asx", "market.crypto.quotes.binance"


def offsets(**ends: list[int]) -> dict[str, list[int]]:
    base = {t.name: [0] * t.partitions for t in TOPO.topics}
    return base | {name.replace("__", "."): value for name, value in ends.items()}


def by_topic(report):
    return {t.topic: t for e in report for t in e.topics}


def test_an_idle_cluster_is_healthy():
    report = assess(TOPO, offsets(), offsets(), 5.0)
    assert [e.status for e in report] == ["Healthy", "Healthy"]
    assert all(t.messages_per_second == 0 and t.imbalance is None for t in by_topic(report).values())


def test_rates_are_per_second_over_the_window():
    after = {ASX_TRADES: [100] * 30}
    report = assess(TOPO, offsets(), offsets() | after, 2.0)
    trades = by_topic(report)[ASX_TRADES]
    assert trades.messages_per_second == 1500.0 and trades.imbalance == 0.0 and trades.status == "Healthy"


def test_a_hot_partition_degrades_its_exchange():
    after = {ASX_TRADES: [500] + [10] * 29}
    report = assess(TOPO, offsets(), offsets() | after, 1.0)
    asx = next(e for e in report if e.exchange == "asx")
    assert asx.status == "Degraded"
    (alert,) = by_topic(report)[ASX_TRADES].alerts
    assert alert.startswith("critical: partition 0 takes 500 msgs/s")
    assert next(e for e in report if e.exchange == "binance").status == "Healthy"


def test_consumer_lag_thresholds():
    ends = {BINANCE_QUOTES: [200] * 40}
    for committed_each, status, lag in ((200, "Healthy", 0), (160, "Warning", 1600), (0, "Degraded", 8000)):
        committed = {"iceberg-writer": {BINANCE_QUOTES: [committed_each] * 40}}
        topic = by_topic(assess(TOPO, offsets() | ends, offsets() | ends, 1.0, committed))[BINANCE_QUOTES]
        assert (topic.status, topic.lag["iceberg-writer"]) == (status, lag)


def test_nothing_committed_counts_as_everything_behind():
    ends = {BINANCE_QUOTES: [150] * 40}
    committed = {"new-group": {BINANCE_QUOTES: [-1] * 40}}
    topic = by_topic(assess(TOPO, offsets() | ends, offsets() | ends, 1.0, committed))[BINANCE_QUOTES]
    assert topic.lag["new-group"] == 6000 and topic.status == "Degraded"
