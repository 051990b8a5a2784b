"""The design's "Recommended Alerts" as a Prometheus rule file, from a topology's monitoring settings.

Every alert carries `severity` (critical: page on-call; warning: monitor, don't page), `exchange` and
`topic` (broker-wide alerts say `all`), and a summary that says what happened and what to do (the
design's "Action" lines). Metrics are the exporter's (`k2 monitor exporter`): kafka_exporter's names,
joined with `k2_topic_info` for the exchange; disk usage is node_exporter's, on the brokers.

Where an exchange has its own thresholds, an alert becomes one rule per distinct setting, each for its
exchanges (`exchange=~"binance"`); the rule with the environment's settings takes every other exchange
(`exchange!~"binance"`), so an exchange added later is covered before topics.yaml names it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from k2infra.model.monitoring_spec import MonitoringSettings, Thresholds
from k2infra.model.topology import Topology

LABELS = "asset_class, data_type, exchange"
OFFSETS = "kafka_topic_partition_current_offset"
BROKER_WIDE = {"exchange": "all", "topic": "all"}


@dataclass(frozen=True)
class Alert:
    """One alert of the design: its name, severity and how to build its rule for some exchanges."""

    name: str
    severity: str  # critical pages, warning does not
    setting: str  # the Thresholds field it reads
    expr: Callable[[Any, str], str]  # (its settings, exchange selector) -> PromQL
    summary: Callable[[Any], str]
    description: Callable[[Any], str]
    per_exchange: bool = True


def info(selector: str) -> str:
    """One k2_topic_info series per topic (deduplicated if several exporters scrape one stack)."""
    return f"max by (topic, {LABELS}) (k2_topic_info{f'{{{selector}}}' if selector else ''})"


def _lag(s: Any, sel: str) -> str:
    return f"kafka_consumergroup_lag_sum\n  * on (topic) group_left ({LABELS}) {info(sel)}\n> {s.above}"


def _rate(window: str, by: str = "topic", offset: str = "") -> str:
    return f"{by} (rate({OFFSETS}[{window}]{f' offset {offset}' if offset else ''}))"


def _imbalance(s: Any, sel: str) -> str:
    busiest, mean = _rate(s.window, "max by (topic)"), _rate(s.window, "avg by (topic)")
    return (f"(\n  (\n    {busiest}\n    / on (topic)\n    {mean}\n    - 1\n  )\n"
            f"  * on (topic) group_left ({LABELS}) {info(sel)}\n  > {s.above}\n)\n"
            f"and on (topic)\n  {mean} >= {s.min_partition_rate}")


def _spike(s: Any, sel: str) -> str:
    now, then = _rate(s.window, "sum by (topic)"), _rate(s.window, "sum by (topic)", s.baseline)
    return (f"(\n  {now}\n  > on (topic)\n  {s.factor} * clamp_min({then}, {s.min_rate})\n)\n"
            f"* on (topic) group_left ({LABELS}) {info(sel)}")


def _disk(s: Any, _: str) -> str:
    sel = s.selector
    return f"1 - node_filesystem_avail_bytes{{{sel}}} / node_filesystem_size_bytes{{{sel}}}\n> {s.above}"


def _missing(_: Any, sel: str) -> str:
    return f"k2_topic_missing\n  * on (topic) group_left ({LABELS}) {info(sel)}\n> 0"


def _schema(_: Any, sel: str) -> str:
    return (f"{info(sel)}\n  * on (asset_class, data_type) group_left (subject)\n"
            f"  max by (subject, asset_class, data_type) (1 - k2_subject_in_sync)\n> 0")


def _replication(s: Any, sel: str) -> str:
    def joined(metric: str) -> str:
        return (f"max by (flow, source_region, topic) ({metric})\n"
                f"  * on (topic) group_left ({LABELS}) {info(sel)}")

    return (f"{joined('k2_replication_seconds_behind')}\n> {s.seconds:g}\nor\n"
            f"{joined('k2_replication_records_behind')}\n> {s.above}")


def _unreachable(_: Any, __: str) -> str:
    return "k2_up == 0 or k2_registry_up == 0"


def _absent(_: Any, __: str) -> str:
    return "absent(k2_up)"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}%"


ALERTS: tuple[Alert, ...] = (
    Alert("K2ConsumerLagCritical", "critical", "consumer_lag_critical", _lag,
          lambda s: "{{ $labels.consumergroup }} is {{ $value | humanize }} messages behind on {{ $labels.topic }} "
                    f"(over {s.above:,} for {s.for_}): scale consumers or investigate slow processing",
          lambda s: f"Consumer lag > {s.above} messages for > {s.for_}: the consumer cannot keep up."),
    Alert("K2ConsumerLagWarning", "warning", "consumer_lag_warning", _lag,
          lambda s: "{{ $labels.consumergroup }} is {{ $value | humanize }} messages behind on {{ $labels.topic }} "
                    f"(over {s.above:,}): monitor, prepare to scale if it increases",
          lambda s: f"Consumer lag > {s.above} messages for > {s.for_}: early warning of degradation."),
    Alert("K2PartitionImbalance", "critical", "partition_imbalance", _imbalance,
          lambda s: "{{ $labels.topic }}'s busiest partition takes {{ $value | humanizePercentage }} more messages "
                    f"than the mean (over {_pct(s.above)} for {s.for_}): review the partition key distribution",
          lambda s: (f"Busiest partition's rate over {s.window} against the topic's mean partition rate; topics "
                     f"averaging under {s.min_partition_rate} msgs/s per partition are not judged. A hot partition "
                     "usually means a popular symbol.")),
    Alert("K2MessageRateSpike", "warning", "message_rate_spike", _spike,
          lambda s: "{{ $labels.topic }} takes {{ $value | humanize }} msgs/s, over "
                    f"{s.factor:g}x its rate {s.baseline} earlier: verify the data source, check for duplicates",
          lambda s: (f"Rate over {s.window} against the same window {s.baseline} earlier (a baseline under "
                     f"{s.min_rate} msgs/s counts as {s.min_rate}); no alert without a baseline.")),
    Alert("K2BrokerDiskUsage", "warning", "broker_disk_usage", _disk,
          lambda s: "{{ $labels.instance }} {{ $labels.mountpoint }} is {{ $value | humanizePercentage }} full "
                    f"(over {_pct(s.above)}): plan retention reduction or storage expansion",
          lambda s: f"node_exporter's filesystem metrics on the brokers ({s.selector}).", per_exchange=False),
    Alert("K2TopicCreationFailure", "critical", "topic_missing", _missing,
          lambda s: "{{ $labels.topic }} is in the stack but missing from the cluster: "
                    "check Kafka broker health and disk space, then `pulumi up`",
          lambda s: f"An expected topic (stack outputs) absent from the cluster's metadata for {s.for_}."),
    Alert("K2SchemaRegistrationFailure", "critical", "schema_mismatch", _schema,
          lambda s: "subject {{ $labels.subject }} (for {{ $labels.topic }}) is missing from the registry or "
                    "not at the stack's version: review schema evolution, fix the compatibility issue",
          lambda s: ("The registry's latest version of the subject is not the one the stack registered "
                     "(stack outputs' subjects: version, schema_id), or the subject is missing.")),
    Alert("K2ReplicationLag", "critical", "replication_lag", _replication,
          lambda s: "{{ $labels.topic }} in this region is behind its home region {{ $labels.source_region }} "
                    f"(flow {{{{ $labels.flow }}}}: over {s.seconds:g}s or {s.above:,} records, for {s.for_}): "
                    "check MirrorMaker's workers and the link to the home region",
          lambda s: ("MirrorMaker 2's lag per flow and home topic (k2_replication_seconds_behind: the home topic's "
                     "newest record time against its mirror's; k2_replication_records_behind: records not copied "
                     "yet). The value is seconds when that is over its threshold, else records.")),
    Alert("K2ClusterUnreachable", "critical", "cluster_unreachable", _unreachable,
          lambda s: "the K2 exporter cannot reach the Kafka cluster or the schema registry "
                    f"(for {s.for_}): every other K2 alert is blind; check the brokers and the registry",
          lambda s: "k2_up or k2_registry_up is 0: the exporter's last scrapes failed.", per_exchange=False),
    Alert("K2ExporterAbsent", "critical", "cluster_unreachable", _absent,
          lambda s: "no K2 exporter is scraped (k2_up is absent): every other K2 alert is blind; start "
                    "`k2 monitor exporter` and check Prometheus's scrape config",
          lambda s: "absent(k2_up) for the configured duration.", per_exchange=False),
)


def rules(topology: Topology) -> dict[str, Any]:
    """The rule file's content for the topology's environment."""
    settings = topology.monitoring
    out = []
    for alert in ALERTS:
        for selector, thresholds in _groups(settings, alert) if alert.per_exchange else [("", settings.default)]:
            s = getattr(thresholds, alert.setting)
            labels = {"severity": alert.severity} | ({} if alert.per_exchange else BROKER_WIDE)
            out.append({
                "alert": alert.name,
                "expr": _block(alert.expr(s, selector)),
                "for": s.for_,
                "labels": labels,
                "annotations": {"summary": alert.summary(s), "description": alert.description(s)},
            })
    return {"groups": [{"name": f"k2-{topology.environment}", "rules": out}]}


def _groups(settings: MonitoringSettings, alert: Alert) -> Iterator[tuple[str, Thresholds]]:
    """(exchange selector, thresholds): the exchanges sharing each distinct setting of this alert."""
    by_value: dict[Hashable, list[str]] = {}
    for exchange, thresholds in settings.exchanges.items():
        value = getattr(thresholds, alert.setting)
        if value != getattr(settings.default, alert.setting):
            by_value.setdefault(value, []).append(exchange)
    own = sorted(e for names in by_value.values() for e in names)
    yield (f'exchange!~"{"|".join(own)}"' if own else ""), settings.default
    for names in by_value.values():
        yield f'exchange=~"{"|".join(sorted(names))}"', settings.exchanges[names[0]]


def _block(text: str) -> str:
    return LiteralScalarString(text + "\n") if "\n" in text else text


def rules_yaml(topology: Topology) -> str:
    yaml = YAML()
    yaml.width = 4096
    buffer = io.StringIO()
    buffer.write(f"# K2 alerts for {topology.environment}, generated by `k2 monitor rules` from "
                 f"{topology.source.name}: do not edit, regenerate.\n")
    yaml.dump(rules(topology), buffer)
    return buffer.getvalue()
