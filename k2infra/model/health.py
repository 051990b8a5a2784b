"""Per-exchange health from two samples of the cluster's offsets: the design's dashboard and alerts.

Pure: the caller samples end offsets (and consumer groups' committed offsets) twice, some seconds
apart. Thresholds are the design's "Recommended Alerts", as topics.yaml's `monitoring:` sets them for the
topology's environment and each exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from k2infra.model.monitoring_spec import DESIGN, Thresholds
from k2infra.model.topology import Topology

LAG_CRITICAL = DESIGN.consumer_lag_critical.above  # "Consumer lag > 5000 messages ... page on-call"
LAG_WARNING = DESIGN.consumer_lag_warning.above  # "Consumer lag > 1000 messages: early warning"
IMBALANCE = DESIGN.partition_imbalance.above  # "Partition imbalance > 50%": the busiest partition over the mean

Offsets = Mapping[str, list[int]]  # topic -> end offset per partition


@dataclass
class TopicHealth:
    topic: str
    data_type: str
    partitions: int
    messages_per_second: float
    lag: dict[str, int] = field(default_factory=dict)  # consumer group -> messages behind
    imbalance: float | None = None  # busiest partition's rate over the mean, minus 1
    alerts: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if any(a.startswith("critical") for a in self.alerts):
            return "Degraded"
        return "Warning" if self.alerts else "Healthy"


@dataclass
class ExchangeHealth:
    asset_class: str
    exchange: str
    topics: list[TopicHealth]

    @property
    def status(self) -> str:
        statuses = {t.status for t in self.topics}
        return next((s for s in ("Degraded", "Warning") if s in statuses), "Healthy")

    def to_dict(self) -> dict[str, Any]:
        return {"asset_class": self.asset_class, "exchange": self.exchange, "status": self.status,
                "topics": [{**t.__dict__, "status": t.status} for t in self.topics]}


def assess(topology: Topology, before: Offsets, after: Offsets, seconds: float,
           committed: Mapping[str, Offsets] | None = None) -> list[ExchangeHealth]:
    """Health per exchange; `committed` is group -> topic -> committed offset per partition."""
    out = []
    for (asset_class, exchange), topics in topology.by_exchange().items():
        limits = topology.monitoring.for_exchange(exchange)
        health = [_topic(t.name, t.data_type, before, after, seconds, committed or {}, limits) for t in topics
                  if t.name in after]
        out.append(ExchangeHealth(asset_class, exchange, health))
    return out


def _topic(name: str, data_type: str, before: Offsets, after: Offsets, seconds: float,
           committed: Mapping[str, Offsets], limits: Thresholds = DESIGN) -> TopicHealth:
    ends = after[name]
    rates = [(end - start) / seconds for start, end in zip(before.get(name, ends), ends, strict=False)]
    health = TopicHealth(name, data_type, len(ends), round(sum(rates), 1))
    mean = sum(rates) / len(rates) if rates else 0
    imbalance, lag_warning, lag_critical = (limits.partition_imbalance, limits.consumer_lag_warning.above,
                                            limits.consumer_lag_critical.above)
    if mean > 0 and len(rates) > 1:
        health.imbalance = round(max(rates) / mean - 1, 2)
        # Topics too quiet to judge (under min_partition_rate msgs/s per partition) get no alert.
        if health.imbalance > imbalance.above and mean >= imbalance.min_partition_rate:
            busiest = rates.index(max(rates))
            health.alerts.append(f"critical: partition {busiest} takes {max(rates):.0f} msgs/s against a mean of "
                                 f"{mean:.1f} ({health.imbalance:.0%} over): review the key distribution")
    for group, offsets in committed.items():
        if name not in offsets:
            continue
        lag = sum(max(end - max(done, 0), 0) for end, done in zip(ends, offsets[name], strict=False))
        health.lag[group] = lag
        if lag > lag_critical:
            health.alerts.append(f"critical: group {group} is {lag} messages behind (> {lag_critical}): scale the "
                                 "consumers or look for slow processing")
        elif lag > lag_warning:
            health.alerts.append(f"warning: group {group} is {lag} messages behind (> {lag_warning})")
    return health
