"""`k2 monitor --watch`: the design's dashboard layout, live in a terminal (rich), for a box without Grafana.

An overview panel (topics, messages/s, consumer lag, status), then one panel per exchange with its
trades, quotes and reference-data topics: rate, lag, partitions and balance, and the alerts the
design's thresholds (as topics.yaml's `monitoring:` sets them) raise; in an aggregating region, one panel
per flow with its lag per topic. Rates are measured between two
samples `interval` seconds apart, lag is summed over the partitions each group has committed on (as
the exporter reports it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from k2infra.model.health import ExchangeHealth, TopicHealth, assess
from k2infra.model.topology import Topology
from k2infra.monitoring.layout import compacted, data_type_title, sections
from k2infra.monitoring.replication import FlowLag, describe, lag_alerts, replication_thresholds
from k2infra.monitoring.sample import Snapshot

MARKS = {"Healthy": "✅", "Warning": "⚠️", "Degraded": "❌", "Missing": "❌"}
STYLES = {"Healthy": "green", "Warning": "yellow", "Degraded": "red", "Missing": "red"}


@dataclass
class Frame:
    """One refresh: every exchange's health between two samples, and what the cluster lacks."""

    environment: str
    exchanges: list[ExchangeHealth]
    missing: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (asset class, exchange) -> topics
    seconds: float = 0.0
    error: str | None = None
    at: str = field(default_factory=lambda: time.strftime("%H:%M:%S"))
    replication: list[FlowLag] = field(default_factory=list)  # the flows into an aggregating region
    replication_alerts: dict[str, list[str]] = field(default_factory=dict)  # flow -> its alerts

    @property
    def status(self) -> str:
        statuses = {e.status for e in self.exchanges} | ({"Degraded"} if self.missing or self.error else set())
        statuses |= {"Degraded"} if any(self.replication_alerts.values()) else set()
        return next((s for s in ("Degraded", "Warning") if s in statuses), "Healthy")

    @property
    def topics(self) -> list[TopicHealth]:
        return [t for e in self.exchanges for t in e.topics]


def frame(topology: Topology, before: Snapshot, after: Snapshot, groups: Sequence[str] = ()) -> Frame:
    """Health between two samples; `groups` limits the consumer groups shown (default: every group)."""
    if not after.up:
        return Frame(topology.environment, [], error=after.error)
    seconds = max(after.taken_at - before.taken_at, 1e-6)
    previous = before.latest if before.up else after.latest
    committed = {}
    for group, by_topic in after.committed.items():
        if groups and group not in groups:
            continue
        # Partitions the group has not committed on count as caught up, as in the exporter's lag.
        committed[group] = {t: [offsets.get(p, end) for p, end in enumerate(after.latest.get(t, []))]
                            for t, offsets in by_topic.items()}
    report = assess(topology, {t: previous.get(t, ends) for t, ends in after.latest.items()}, after.latest,
                    seconds, committed)
    missing: dict[tuple[str, str], list[str]] = {}
    for key, topics in topology.by_exchange().items():
        gone = [t.name for t in topics if t.name not in after.latest]
        if gone:
            missing[key] = gone
    return Frame(topology.environment, report, missing, seconds)


def with_replication(topology: Topology, view: Frame, flows: list[FlowLag]) -> Frame:
    """The frame with the flows' lag and the alerts their thresholds raise."""
    thresholds = replication_thresholds(topology)
    view.replication = flows
    view.replication_alerts = {f.flow: lag_alerts(f, thresholds) for f in flows}
    return view


def _replication_panels(view: Frame) -> list[RenderableType]:
    panels: list[RenderableType] = []
    for flow in view.replication:
        alerts = view.replication_alerts.get(flow.flow, [])
        status = "Degraded" if alerts else "Healthy"
        body = Text()
        for t in flow.topics:
            body.append(f"{t.topic}: {describe(t)}\n")
        for alert in alerts:
            body.append(f"  ! {alert}\n", "red")
        body.rstrip()
        panels.append(Panel(body, title=f"Replication from {flow.source} ({flow.flow})  {status} {MARKS[status]}",
                            title_align="left", border_style=STYLES[status]))
    return panels


def render(topology: Topology, view: Frame) -> RenderableType:
    """The overview, then one panel per exchange, drawn as the design draws them."""
    total_rate = sum(t.messages_per_second for t in view.topics)
    total_lag = sum(sum(t.lag.values()) for t in view.topics)
    overview = Text.assemble(
        f"Total Topics: {len(topology.topics)}\n", f"Total Messages/sec: {total_rate:,.0f}\n",
        f"Total Consumer Lag: {total_lag:,} messages\n", "Status: ",
        (f"{view.status} {MARKS[view.status]}", STYLES[view.status]))
    measured = f"rates over {view.seconds:.1f}s, " if view.seconds else ""
    parts: list[RenderableType] = [Panel(overview, title=f"K2 Kafka Topics - System Overview ({view.environment})",
                                         title_align="left", border_style=STYLES[view.status],
                                         subtitle=f"{measured}at {view.at}; Ctrl-C to quit", subtitle_align="right")]
    if view.error:
        parts.append(Panel(Text(view.error, style="red"), title="Cluster", title_align="left", border_style="red"))
        return Group(*parts)
    health = {(e.asset_class, e.exchange): e for e in view.exchanges}
    for section in sections(topology):
        key = (section.asset_class, section.exchange)
        exchange = health.get(key)
        by_name = {t.topic: t for t in exchange.topics} if exchange else {}
        status = "Degraded" if key in view.missing else exchange.status if exchange else "Healthy"
        body = Text()
        for topic in section.topics:
            t = by_name.get(topic.name)
            state = "Missing" if t is None else t.status
            body.append(f"{data_type_title(topic.data_type)} Topic: {topic.name}  ")
            body.append(f"{'Missing from the cluster' if t is None else state} {MARKS[state]}\n", STYLES[state])
            if t is None:
                continue
            body.append(f"  • Message Rate: {_rate(t.messages_per_second)}\n"
                        f"  • Consumer Lag: {_lag(t.lag)}\n"
                        f"  • Partitions: {_partitions(t, compacted(topic))}\n")
            for alert in t.alerts:
                body.append(f"    ! {alert}\n", "red" if alert.startswith("critical") else "yellow")
        body.rstrip()
        parts.append(Panel(body, title=f"{section.title}  {status} {MARKS[status]}", title_align="left",
                           border_style=STYLES[status]))
    parts.extend(_replication_panels(view))
    return Group(*parts)


def _rate(value: float) -> str:
    if 0 < value < 1:
        return f"{value * 60:,.1f} msgs/min"
    return f"{value:,.0f} msgs/sec"


def _lag(lag: dict[str, int]) -> str:
    if not lag:
        return "no consumer group"
    groups = ", ".join(f"{group}: {n:,}" for group, n in sorted(lag.items()))
    return f"{sum(lag.values()):,} messages ({groups})"


def _partitions(t: TopicHealth, compacted: bool) -> str:
    if compacted:
        return f"{t.partitions} (compacted)"
    if t.imbalance is None:
        return f"{t.partitions} (no traffic)"
    word = "imbalanced" if any(" partition " in a for a in t.alerts) else "balanced"
    return f"{t.partitions} ({word}: busiest {t.imbalance + 0.0:+.0%} vs mean)"  # + 0.0: no "-0%"


def watch(topology: Topology, sample: Callable[[], Snapshot], interval: float, groups: Sequence[str] = (),
          console: Console | None = None, count: int | None = None,
          replication: Callable[[], list[FlowLag]] | None = None) -> Frame | None:
    """Refresh every `interval` seconds until interrupted (or `count` refreshes); returns the last frame."""
    from rich.live import Live

    console = console or Console(emoji=False)  # a name such as :100: stays text
    before = sample()
    view: Frame | None = None
    waiting = Text(f"K2 {topology.environment}: measuring rates over {interval:g}s…")
    with Live(waiting, console=console, auto_refresh=False, transient=False) as live:
        shown = 0
        try:
            while count is None or shown < count:
                next_at = before.taken_at + interval
                time.sleep(max(next_at - time.monotonic(), 0))
                after = sample()
                view = frame(topology, before, after, groups)
                if replication is not None:
                    view = with_replication(topology, view, replication())
                live.update(render(topology, view), refresh=True)
                before, shown = (after if after.up else before), shown + 1
        except KeyboardInterrupt:
            pass
    return view
