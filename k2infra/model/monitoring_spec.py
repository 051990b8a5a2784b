"""topics.yaml's optional `monitoring:` section: the design's alert thresholds, per environment and exchange.

Every key is optional; what a file leaves out keeps the design's value ("Recommended Alerts"). Later
wins, as for topic settings: the design, `monitoring`, `monitoring.exchanges.X`, `monitoring.environments.E`,
`monitoring.environments.E.exchanges.X`. Broker-wide alerts (disk, an unreachable cluster) are set per
environment only.

    monitoring:
      consumer_lag_critical: {above: 5000, for: 5m}
      exchanges:
        binance: {consumer_lag_critical: {above: 20000}}
      environments:
        dev: {consumer_lag_critical: {for: 1m}}
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from k2infra.model.errors import Problem
from k2infra.model.source import KeyPath, SourceDoc

# Prometheus's duration syntax (2.x): units largest first, each at most once: 1d, 90s, 1h30m, 500ms.
PROM_DURATION = re.compile(r"^(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_MATCHER = r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*'
LABEL_MATCHERS = re.compile(rf"^{_MATCHER}(,{_MATCHER})*,?\s*$")


def _duration(value: str) -> str:
    if not PROM_DURATION.fullmatch(value):
        raise ValueError("must be a Prometheus duration such as 30s, 5m, 1h30m or 1d")
    return value


def _matchers(value: str) -> str:
    if not LABEL_MATCHERS.fullmatch(value):
        raise ValueError('must be PromQL label matchers without braces, such as '
                         'job="kafka-node", mountpoint="/var/lib/kafka"')
    return value


def _fraction(value: float) -> float:
    if not 0 < value < 1:
        raise ValueError("must be a fraction between 0 and 1 (0.7 is 70%)")
    return value


Duration = Annotated[StrictStr, AfterValidator(_duration)]
# Finite: YAML's .inf or .nan would make an alert that never fires, or a rule Prometheus refuses.
Positive = Annotated[StrictInt | StrictFloat, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[StrictInt | StrictFloat, Field(ge=0, allow_inf_nan=False)]
Messages = Annotated[StrictInt, Field(ge=0)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LagSpec(_Spec):
    above: Messages | None = None  # messages behind, summed over a topic's partitions, per consumer group
    for_: Duration | None = Field(None, alias="for")


class ImbalanceSpec(_Spec):
    above: Positive | None = None  # the busiest partition's rate over the topic's mean partition rate, minus 1
    for_: Duration | None = Field(None, alias="for")
    window: Duration | None = None  # the rate() window
    min_partition_rate: NonNegative | None = None  # msgs/s per partition on average: quieter topics are not judged


class RateSpikeSpec(_Spec):
    factor: Positive | None = None  # the topic's rate over its baseline
    baseline: Duration | None = None  # how long ago the baseline rate was measured (PromQL offset)
    window: Duration | None = None
    min_rate: NonNegative | None = None  # msgs/s: a baseline below this counts as this (quiet topics)
    for_: Duration | None = Field(None, alias="for")


class DiskSpec(_Spec):
    above: Annotated[StrictFloat, AfterValidator(_fraction)] | None = None
    for_: Duration | None = Field(None, alias="for")
    # node_exporter's filesystem series of the brokers' log directories.
    selector: Annotated[StrictStr, AfterValidator(_matchers)] | None = None


class ReplicationLagSpec(_Spec):
    above: Messages | None = None  # records MirrorMaker has not copied, per flow and home topic
    seconds: Positive | None = None  # the home topic's newest record against its mirror's newest
    for_: Duration | None = Field(None, alias="for")


class ForSpec(_Spec):
    for_: Duration | None = Field(None, alias="for")


class ExchangeAlertsSpec(_Spec):
    """The thresholds one exchange (or all of them) may change."""

    consumer_lag_warning: LagSpec | None = None
    consumer_lag_critical: LagSpec | None = None
    partition_imbalance: ImbalanceSpec | None = None
    message_rate_spike: RateSpikeSpec | None = None
    topic_missing: ForSpec | None = None
    schema_mismatch: ForSpec | None = None
    replication_lag: ReplicationLagSpec | None = None


class AlertsSpec(ExchangeAlertsSpec):
    broker_disk_usage: DiskSpec | None = None
    cluster_unreachable: ForSpec | None = None


class EnvironmentMonitoringSpec(AlertsSpec):
    exchanges: dict[StrictStr, ExchangeAlertsSpec] = {}


class MonitoringSpec(AlertsSpec):
    exchanges: dict[StrictStr, ExchangeAlertsSpec] = {}
    environments: dict[StrictStr, EnvironmentMonitoringSpec] = {}


# The resolved values: the design's, then whatever topics.yaml sets.

@dataclass(frozen=True)
class Lag:
    above: int
    for_: str


@dataclass(frozen=True)
class Imbalance:
    above: float
    for_: str
    window: str
    min_partition_rate: float


@dataclass(frozen=True)
class RateSpike:
    factor: float
    baseline: str
    window: str
    min_rate: float
    for_: str


@dataclass(frozen=True)
class Disk:
    above: float
    for_: str
    selector: str


@dataclass(frozen=True)
class ReplicationLag:
    above: int
    seconds: float
    for_: str


@dataclass(frozen=True)
class For:
    for_: str


@dataclass(frozen=True)
class Thresholds:
    """Every alert's threshold and duration for one exchange (or the environment's default)."""

    # The design: "Consumer lag > 5000 messages for >5 minutes" (page); "> 1000" (warning; no duration given).
    consumer_lag_warning: Lag = Lag(1000, "5m")
    consumer_lag_critical: Lag = Lag(5000, "5m")
    # "Partition imbalance > 50%" (page); a window and a floor so that sparse traffic is not judged.
    partition_imbalance: Imbalance = Imbalance(0.5, "5m", "5m", 1)
    # "Message rate increase > 3x baseline" (warning): against the same time the day before.
    message_rate_spike: RateSpike = RateSpike(3, "1d", "10m", 10, "10m")
    # "Broker disk usage > 70%" (warning), from node_exporter on the brokers.
    broker_disk_usage: Disk = Disk(0.7, "15m", 'job="kafka-node", fstype!~"tmpfs|ramfs|squashfs"')
    topic_missing: For = For("5m")  # "Topic creation failure" (page)
    schema_mismatch: For = For("5m")  # "Schema registration failure" (page)
    cluster_unreachable: For = For("2m")  # the exporter cannot see the cluster or registry: every alert is blind
    # Not in the design (one region there): an aggregating region's consumers a minute (or 100,000 records)
    # behind the home region, for as long as the consumer-lag alerts wait.
    replication_lag: ReplicationLag = ReplicationLag(100_000, 60, "5m")

    def merged(self, layer: BaseModel | None) -> Thresholds:
        if layer is None:
            return self
        changes: dict[str, Any] = {}
        for name in layer.model_fields_set:
            part = getattr(layer, name)
            if name in {f.name for f in fields(self)} and part is not None:
                values = {k: v for k, v in part.model_dump().items() if v is not None}
                changes[name] = replace(getattr(self, name), **values)
        return replace(self, **changes)


DESIGN = Thresholds()


@dataclass(frozen=True)
class MonitoringSettings:
    """One environment's thresholds: `default` for every exchange, `exchanges` where an exchange differs."""

    default: Thresholds = DESIGN
    exchanges: dict[str, Thresholds] = field(default_factory=dict)

    def for_exchange(self, exchange: str) -> Thresholds:
        return self.exchanges.get(exchange, self.default)


def resolve_monitoring(spec: MonitoringSpec | None, doc: SourceDoc, environment: str, exchanges: list[str],
                       environments: list[str], problems: list[Problem]) -> MonitoringSettings:
    """The environment's settings; problems (unknown exchange or environment, warning above critical) appended."""
    if spec is None:
        return MonitoringSettings()
    root: KeyPath = ("monitoring",)
    for path, name in _exchange_keys(spec):
        if name not in exchanges:
            problems.append(doc.problem(path, f"no exchange {name!r} in asset_classes; known: {', '.join(exchanges)}"))
    for name in spec.environments:
        if environments and name not in environments:
            known = ", ".join(environments)
            problems.append(doc.problem((*root, "environments", name),
                                        f"no environment {name!r} under environments; known: {known}"))
    env = spec.environments.get(environment)
    default = DESIGN.merged(spec).merged(env)
    out = {}
    for name in exchanges:
        merged = DESIGN.merged(spec).merged(spec.exchanges.get(name)).merged(env)
        merged = merged.merged(env.exchanges.get(name) if env else None)
        if merged != default:
            out[name] = merged
    for name, thresholds in [("", default), *out.items()]:
        if thresholds.consumer_lag_warning.above >= thresholds.consumer_lag_critical.above:
            where = f" for exchange {name}" if name else ""
            problems.append(doc.problem(root, f"consumer_lag_warning.above ({thresholds.consumer_lag_warning.above}) "
                                        f"must be below consumer_lag_critical.above "
                                        f"({thresholds.consumer_lag_critical.above}){where} in {environment}"))
    return MonitoringSettings(default, out)


def _exchange_keys(spec: MonitoringSpec) -> Iterator[tuple[KeyPath, str]]:
    for name in spec.exchanges:
        yield ("monitoring", "exchanges", name), name
    for env, env_spec in spec.environments.items():
        for name in env_spec.exchanges:
            yield ("monitoring", "environments", env, "exchanges", name), name
