"""The Grafana dashboard: the design's layout (overview, then per exchange its trades, quotes and reference data:
rate, lag, partitions, balance), import-ready, and every query valid PromQL (promtool parses them)."""

from __future__ import annotations

import json
import subprocess

from ruamel.yaml import YAML

from k2infra.model import load_topology
from k2infra.monitoring.dashboard import dashboard, expressions
from tests.conftest import ROOT
from tests.monitoring.conftest import topology_with

TOPO = load_topology(ROOT / "topics.yaml", "dev")


def rows(data):
    """Row title -> the panels under it, in order."""
    out: dict[str, list] = {}
    current = None
    for panel in data["panels"]:
        if panel["type"] == "row":
            current = out.setdefault(panel["title"], [])
        else:
            current.append(panel)
    return out


def test_the_designs_layout_overview_then_one_row_per_exchange():
    data = dashboard(TOPO)
    layout = rows(data)
    assert list(layout) == ["K2 Kafka Topics - System Overview", "Exchange: ASX (Australian Securities Exchange)",
                            "Exchange: BINANCE (Binance)"]
    assert [p["title"] for p in layout["K2 Kafka Topics - System Overview"]] == [
        "Total Topics", "Total Messages/sec", "Total Consumer Lag", "Kafka / registry reachable", "Status",
        "Firing K2 alerts"]
    asx = [p["title"] for p in layout["Exchange: ASX (Australian Securities Exchange)"]]
    assert asx == [
        "Trades: market.equities.trades.asx — message rate", "Trades: market.equities.trades.asx — consumer lag",
        "Partitions", "Balance: busiest vs mean",
        "Quotes: market.equities.quotes.asx — message rate", "Quotes: market.equities.quotes.asx — consumer lag",
        "Partitions", "Balance: busiest vs mean",
        "Reference Data: market.equities.reference_data.asx — message rate",
        "Reference Data: market.equities.reference_data.asx — consumer lag",
        "Partitions (compacted)", "Balance: busiest vs mean"]
    partitions = layout["Exchange: BINANCE (Binance)"][2]
    assert partitions["targets"][0]["expr"] == 'kafka_topic_partitions{topic="market.crypto.trades.binance"}'


def test_import_ready_unique_ids_a_datasource_variable_and_no_overlapping_panels():
    data = json.loads(json.dumps(dashboard(TOPO)))
    assert data["uid"] == "k2-dev" and data["title"] == "K2 Kafka Topics (dev)" and data["schemaVersion"] >= 36
    assert data.get("id") is None  # Grafana gives it one on import
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in data["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, panel["title"]
        cells |= mine
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"} and target["refId"] == "A"


def test_every_query_is_valid_promql(tmp_path, promtool):
    """promtool parses each query (Grafana's variables filled in) as a recording rule."""
    exprs = expressions(dashboard(TOPO))
    assert len(exprs) == 6 * 4 + 5 + 1 + 1  # per topic, overview stats, alerts table, the group variable
    queries = [e.replace("$__rate_interval", "1m").replace("$consumergroup", ".*") for e in exprs
               if not e.startswith("label_values(")]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"k2:dashboard:q{i}", "expr": q}
                                                         for i, q in enumerate(queries)]}]}
    with open(tmp_path / "queries.yml", "w") as out:
        YAML().dump(rules, out)
    done = subprocess.run([promtool, "check", "rules", "queries.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_balance_panels_turn_red_at_the_exchanges_own_threshold(tmp_path):
    topo = topology_with(tmp_path, "monitoring:\n  exchanges:\n    binance: {partition_imbalance: {above: 2}}\n")
    layout = rows(dashboard(topo))

    def red_from(row: str) -> float:
        (balance, *_) = [p for p in layout[row] if p["title"].startswith("Balance")]
        steps = balance["fieldConfig"]["defaults"]["thresholds"]["steps"]
        return next(s["value"] for s in steps if s["color"] == "red")

    assert red_from("Exchange: ASX (Australian Securities Exchange)") == 0.5
    assert red_from("Exchange: BINANCE (Binance)") == 2



def test_an_aggregating_region_has_a_row_per_source_region_with_valid_queries(tmp_path, promtool):
    from tests.model.test_regions import regional

    apac = load_topology(regional(tmp_path), "prod", region="apac")
    data = dashboard(apac)
    layout = rows(data)
    replication = [title for title in layout if title.startswith("Replication from")]
    assert replication == [f"Replication from {f.source} ({len(f.topics)} topics)" for f in apac.replication]
    assert {f.source for f in apac.replication} == {"us-east", "eu-west"}
    (records, seconds, seen) = layout[replication[0]]
    flow = apac.replication[0].name
    assert records["targets"][0]["expr"] == f'k2_replication_records_behind{{flow="{flow}"}}'
    assert seconds["targets"][0]["expr"] == f'k2_replication_seconds_behind{{flow="{flow}"}}'
    assert seconds["fieldConfig"]["defaults"]["unit"] == "s" and seen["title"] == "Flow seen"
    queries = [e for e in expressions(data) if "k2_replication" in e]
    rules = {"groups": [{"name": "q", "rules": [{"record": f"k2:q{i}", "expr": q} for i, q in enumerate(queries)]}]}
    with open(tmp_path / "queries.yml", "w") as out:
        YAML().dump(rules, out)
    done = subprocess.run([promtool, "check", "rules", "queries.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
