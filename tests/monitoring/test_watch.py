"""`k2 monitor --watch`: the design's layout in a terminal, from two samples of the cluster."""

from __future__ import annotations

from rich.console import Console

from k2infra.model import load_topology
from k2infra.monitoring.sample import PartitionState, Snapshot
from k2infra.monitoring.watch import frame, render, watch
from tests.conftest import ROOT

TOPO = load_topology(ROOT / "topics.yaml", "dev")
ASX_TRADES, BINANCE_QUOTES = "market.equities.trades.asx", "market.crypto.quotes.binance"


def snapshot(at: float, ends: dict[str, list[int]] | None = None, committed=None, skip=()) -> Snapshot:
    s = Snapshot(at, brokers=1)
    for t in TOPO.topics:
        if t.name in skip:
            continue
        s.partitions[t.name] = [PartitionState(1, 1, 1)] * t.partitions
        s.latest[t.name] = list((ends or {}).get(t.name, [0] * t.partitions))
        s.earliest[t.name] = [0] * t.partitions
    s.committed = committed or {}
    return s


def text(view) -> str:
    console = Console(record=True, width=100, color_system=None)
    console.print(render(TOPO, view))
    return console.export_text()


def test_an_idle_cluster_is_healthy_in_the_designs_layout():
    shown = text(frame(TOPO, snapshot(0), snapshot(5)))
    assert "K2 Kafka Topics - System Overview (dev)" in shown
    assert "Total Topics: 6" in shown and "Total Messages/sec: 0" in shown and "Status: Healthy ✅" in shown
    assert shown.index("Exchange: ASX (Australian Securities Exchange)") < shown.index("Exchange: BINANCE (Binance)")
    asx = shown[shown.index("Exchange: ASX"):shown.index("Exchange: BINANCE")]
    assert asx.index("Trades Topic: market.equities.trades.asx") < asx.index("Quotes Topic") < \
        asx.index("Reference Data Topic: market.equities.reference_data.asx")
    assert "• Partitions: 1 (compacted)" in asx and "• Partitions: 30 (no traffic)" in asx
    assert "• Consumer Lag: no consumer group" in asx


def test_rates_lag_and_a_hot_partition():
    before = snapshot(10.0, {ASX_TRADES: [0] * 30, BINANCE_QUOTES: [100] * 40})
    after = snapshot(12.0, {ASX_TRADES: [2000] + [20] * 29, BINANCE_QUOTES: [300] * 40},
                     {"iceberg-writer": {BINANCE_QUOTES: {p: 100 for p in range(40)}}})
    view = frame(TOPO, before, after)
    assert view.status == "Degraded" and view.seconds == 2.0
    shown = text(view)
    assert "Total Messages/sec: 5,290" in shown  # (2000 + 29 * 20) / 2 + 40 * 200 / 2
    assert "Total Consumer Lag: 8,000 messages" in shown
    assert "• Message Rate: 1,290 msgs/sec" in shown
    assert "• Partitions: 30 (imbalanced: busiest +2226% vs mean)" in shown
    assert "! critical: partition 0 takes 1000 msgs/s" in shown
    assert "• Consumer Lag: 8,000 messages (iceberg-writer: 8,000)" in shown
    assert "critical: group iceberg-writer is 8000 messages behind (> 5000)" in shown
    assert "Exchange: BINANCE (Binance)  Degraded ❌" in shown


def test_a_group_filter_and_uncommitted_partitions():
    after = snapshot(2, {BINANCE_QUOTES: [50] * 40},
                     {"a": {BINANCE_QUOTES: {0: 0}}, "b": {BINANCE_QUOTES: {p: 0 for p in range(40)}}})
    view = frame(TOPO, snapshot(0), after, groups=["a"])
    quotes = next(t for t in view.topics if t.topic == BINANCE_QUOTES)
    assert quotes.lag == {"a": 50}  # its one committed partition; b is not shown


def test_a_missing_topic_and_an_unreachable_cluster():
    view = frame(TOPO, snapshot(0), snapshot(5, skip={ASX_TRADES}))
    assert "Trades Topic: market.equities.trades.asx  Missing from the cluster ❌" in text(view)
    assert view.status == "Degraded"
    down = frame(TOPO, snapshot(0), Snapshot(5, error="cannot reach Kafka at 127.0.0.1:1: timed out"))
    shown = text(down)
    assert "cannot reach Kafka at 127.0.0.1:1" in shown and "Status: Degraded" in shown


def test_watch_refreshes_until_its_count():
    samples = iter([snapshot(0.0), snapshot(0.01, {ASX_TRADES: [1] * 30}), snapshot(0.02, {ASX_TRADES: [2] * 30})])
    console = Console(record=True, width=100, color_system=None)
    last = watch(TOPO, lambda: next(samples), interval=0.01, console=console, count=2)
    assert last is not None and last.seconds > 0
    assert "Exchange: BINANCE (Binance)" in console.export_text()
