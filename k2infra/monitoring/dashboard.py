"""The design's "Monitoring Dashboard Layout" as a Grafana dashboard, built with Grafana's own
Foundation SDK (grafana-foundation-sdk), not hand-written JSON.

An overview row (total topics, messages/s, consumer lag, status from the K2 alerts, firing alerts),
then one row per exchange with its trades, quotes and reference-data topics: message rate, consumer
lag per group, partitions and balance (busiest partition against the mean, red over the exchange's
imbalance threshold); in an aggregating region, one row per source region with its flow's lag per topic.
Queries read the exporter's metrics (`k2 monitor exporter`); the Prometheus data source is a dashboard
variable, so the file imports as it is.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from k2infra.model.entities import Topic
from k2infra.model.regions import ReplicationFlow
from k2infra.model.topology import Topology
from k2infra.monitoring.layout import compacted, data_type_title, sections

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
OFFSETS = "kafka_topic_partition_current_offset"
STACK_TOPICS = "max by (topic) (k2_topic_info)"
GROUPS = 'consumergroup=~"$consumergroup"'
K2_ALERTS = 'ALERTS{alertname=~"K2.+", alertstate="firing"'


def _query(expr: str, legend: str = "", instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(DATASOURCE).ref_id("A")
    if legend:
        query = query.legend_format(legend)
    return query.instant() if instant else query


def _steps(*steps: tuple[float | None, str]) -> gd.ThresholdsConfig:
    return gd.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(
        [dm.Threshold(value=v, color=c) for v, c in steps])


def _stat(title: str, expr: str, unit: str = "short", width: int = 5) -> stat.Panel:
    return (stat.Panel().title(title).datasource(DATASOURCE).with_target(_query(expr, instant=True))
            .unit(unit).height(4).span(width).reduce_options(_last()))


def _last() -> Any:
    from grafana_foundation_sdk.builders import common

    return common.ReduceDataOptions().calcs(["lastNotNull"])


def status_expr() -> str:
    """0 healthy, 1 a warning fires, 2 a critical (paging) alert fires: the design's status line."""
    return (f'clamp_max(count({K2_ALERTS}, severity="critical"}}), 1) * 2 '
            f'or clamp_max(count({K2_ALERTS}, severity="warning"}}), 1) or vector(0)')


def overview_panels(topology: Topology) -> list[Any]:
    status = (_stat("Status", status_expr(), width=4)
              .mappings([dm.ValueMap(options={
                  "0": dm.ValueMappingResult(text="Healthy ✅", color="green", index=0),
                  "1": dm.ValueMappingResult(text="Warning ⚠️", color="yellow", index=1),
                  "2": dm.ValueMappingResult(text="Degraded ❌", color="red", index=2)})])
              .thresholds(_steps((None, "green"), (1, "yellow"), (2, "red"))))
    alerts = (table.Panel().title("Firing K2 alerts").datasource(DATASOURCE).height(4).span(24)
              .with_target(_query(f"{K2_ALERTS}}}", instant=True).format(pm.PromQueryFormat.TABLE))
              .no_value("none"))
    return [
        _stat("Total Topics", f"count({STACK_TOPICS})"),
        _stat("Total Messages/sec", f"sum(sum by (topic) (rate({OFFSETS}[$__rate_interval])) "
                                    f"* on (topic) group_left {STACK_TOPICS})", unit="suffix: msgs/s"),
        _stat("Total Consumer Lag", f"sum(kafka_consumergroup_lag_sum{{{GROUPS}}} * on (topic) group_left "
                                    f"{STACK_TOPICS}) or vector(0)", unit="suffix: messages"),
        _stat("Kafka / registry reachable", "min(k2_up) + min(k2_registry_up) or vector(0)")
        .mappings([dm.ValueMap(options={"0": dm.ValueMappingResult(text="no", color="red", index=0),
                                        "1": dm.ValueMappingResult(text="partly", color="red", index=1),
                                        "2": dm.ValueMappingResult(text="yes", color="green", index=2)})]),
        status,
        alerts,
    ]


def topic_panels(topic: Topic, imbalance: float) -> list[Any]:
    name = f'topic="{topic.name}"'
    title = f"{data_type_title(topic.data_type)}: {topic.name}"
    rate = (timeseries.Panel().title(f"{title} — message rate").datasource(DATASOURCE).height(6).span(8)
            .with_target(_query(f"sum(rate({OFFSETS}{{{name}}}[$__rate_interval]))", "msgs/s"))
            .unit("suffix: msgs/s").min(0))
    lag = (timeseries.Panel().title(f"{title} — consumer lag").datasource(DATASOURCE).height(6).span(8)
           .with_target(_query(f"kafka_consumergroup_lag_sum{{{name}, {GROUPS}}}", "{{consumergroup}}"))
           .unit("short").min(0))
    partitions = _stat("Partitions (compacted)" if compacted(topic) else "Partitions",
                       f"kafka_topic_partitions{{{name}}}", width=4).height(6)
    balance = (_stat("Balance: busiest vs mean", f"max(rate({OFFSETS}{{{name}}}[$__rate_interval])) "
                     f"/ avg(rate({OFFSETS}{{{name}}}[$__rate_interval])) - 1", unit="percentunit", width=4)
               .height(6).thresholds(_steps((None, "green"), (imbalance, "red"))).no_value("idle"))
    return [rate, lag, partitions, balance]


def replication_panels(flow: ReplicationFlow) -> list[Any]:
    """A source region's row in an aggregating region's dashboard: its flow's lag per topic, and whether it is seen."""
    name = f'flow="{flow.name}"'
    records = (timeseries.Panel().title(f"{flow.source} → {flow.target} — records behind").datasource(DATASOURCE)
               .height(6).span(10).with_target(_query(f"k2_replication_records_behind{{{name}}}", "{{topic}}"))
               .unit("short").min(0))
    seconds = (timeseries.Panel().title(f"{flow.source} → {flow.target} — seconds behind").datasource(DATASOURCE)
               .height(6).span(10).with_target(_query(f"k2_replication_seconds_behind{{{name}}}", "{{topic}}"))
               .unit("s").min(0))
    seen = (_stat("Flow seen", f"min(k2_replication_up{{{name}}}) or vector(0)", width=4).height(6)
            .mappings([dm.ValueMap(options={"0": dm.ValueMappingResult(text="no", color="red", index=0),
                                            "1": dm.ValueMappingResult(text="yes", color="green", index=1)})]))
    return [records, seconds, seen]


def dashboard(topology: Topology) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (import it, or POST it to /api/dashboards/db)."""
    builder = (gd.Dashboard(f"K2 Kafka Topics ({topology.environment})").uid(f"k2-{topology.environment}")
               .tags(["k2", "kafka", topology.environment]).refresh("30s").time("now-1h", "now").timezone("browser")
               .editable()
               .with_variable(gd.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
               .with_variable(gd.QueryVariable("consumergroup").label("Consumer group").datasource(DATASOURCE)
                              .query("label_values(kafka_consumergroup_lag_sum, consumergroup)")
                              .multi(True).include_all(True).all_value(".*")
                              .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)))
    builder = builder.with_row(gd.Row("K2 Kafka Topics - System Overview"))
    for panel in overview_panels(topology):
        builder = builder.with_panel(panel)
    for section in sections(topology):
        builder = builder.with_row(gd.Row(section.title))
        imbalance = topology.monitoring.for_exchange(section.exchange).partition_imbalance.above
        for topic in section.topics:
            for panel in topic_panels(topic, imbalance):
                builder = builder.with_panel(panel)
    for flow in topology.replication:  # an aggregating region: one row per source region
        builder = builder.with_row(gd.Row(f"Replication from {flow.source} ({len(flow.topics)} topics)"))
        for panel in replication_panels(flow):
            builder = builder.with_panel(panel)
    data = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    for number, panel in enumerate(data["panels"], 1):
        panel["id"] = number  # unique ids, as Grafana's own export has them
    data["annotations"] = {"list": []}
    data["description"] = (f"The K2 design's per-exchange layout for {topology.environment}, generated by "
                           f"`k2 monitor dashboard` from {topology.source.name}; metrics from `k2 monitor exporter`.")
    return data


def expressions(data: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard (targets and variable queries), for checks."""
    out = [t["expr"] for p in data.get("panels", []) for t in p.get("targets", []) if t.get("expr")]
    for variable in data.get("templating", {}).get("list", []):
        query = variable.get("query")
        if variable.get("type") == "query" and isinstance(query, str):
            out.append(query)
    return out
