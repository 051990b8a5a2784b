"""The shipped topics.yaml and the design's growth cases derive exactly the expected topology.

Golden files (kafka-gitops style) hold the whole derived plan, so a review of a change to the model
shows every topic and subject it moves. Regenerate with K2_UPDATE_GOLDEN=1 and read the diff.
"""

from __future__ import annotations

import json

import pytest

from k2infra.model import load_topology
from tests.conftest import FIXTURES, ROOT, make_project
from tests.golden import check_golden

DESIGN_TABLE = {  # the design's "Current Implementation" table
    "market.equities.trades.asx": (30, "delete"),
    "market.equities.quotes.asx": (30, "delete"),
    "market.equities.reference_data.asx": (1, "compact"),
    "market.crypto.trades.binance": (40, "delete"),
    "market.crypto.quotes.binance": (40, "delete"),
    "market.crypto.reference_data.binance": (1, "compact"),
}


def test_shipped_topology_matches_the_design_table():
    topo = load_topology(ROOT / "topics.yaml", "dev")
    assert {t.name: (t.partitions, t.config["cleanup.policy"]) for t in topo.topics} == DESIGN_TABLE
    for topic in topo.topics:
        assert topic.config["compression.type"] == "lz4"
        assert topic.replication_factor == 1
        if topic.data_type != "reference_data":
            assert topic.config["retention.ms"] == str(7 * 24 * 3600 * 1000)


def test_shipped_subjects_are_shared_per_asset_class():
    topo = load_topology(ROOT / "topics.yaml", "dev")
    assert [s.subject for s in topo.subjects] == sorted(
        f"market.{ac}.{dt}-value" for ac in ("equities", "crypto") for dt in ("trades", "quotes", "reference_data")
    )
    trades = next(s for s in topo.subjects if s.subject == "market.crypto.trades-value")
    assert trades.topics == ("market.crypto.trades.binance",)
    assert trades.schema_file == "schemas/trade.avsc"
    assert all(s.compatibility == "BACKWARD" for s in topo.subjects)
    assert json.loads(trades.schema)["name"] == "Trade"


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_shipped_topology_golden(environment):
    check_golden(f"shipped-{environment}", load_topology(ROOT / "topics.yaml", environment).to_dict())


def test_prod_settings_come_from_the_environment():
    topo = load_topology(ROOT / "topics.yaml", "prod")
    assert {t.replication_factor for t in topo.topics} == {3}
    assert {t.config["min.insync.replicas"] for t in topo.topics} == {"2"}
    assert topo.protected


def test_adding_an_exchange_and_an_asset_class_is_a_config_edit(tmp_path):
    project = make_project(tmp_path, FIXTURES / "topologies" / "nyse_and_commodities.yaml")
    topo = load_topology(project / "topics.yaml", "dev")
    nyse = {t.data_type: t for t in topo.topics if t.exchange == "nyse"}
    assert {t.name for t in nyse.values()} == {
        "market.equities.trades.nyse", "market.equities.quotes.nyse", "market.equities.reference_data.nyse"}
    assert nyse["trades"].partitions == 100 and nyse["trades"].config["retention.ms"] == "3600000"
    assert nyse["quotes"].config["retention.ms"] == "3600000"
    assert nyse["reference_data"].partitions == 1 and "retention.ms" not in nyse["reference_data"].config
    small = topo.topic("market.equities.trades.smallx")
    assert (small.partitions, small.config["compression.type"]) == (10, "snappy")
    # Other exchanges keep the data type's settings.
    assert topo.topic("market.equities.trades.asx").config["retention.ms"] == "604800000"
    cme = [t.name for t in topo.topics if t.asset_class == "commodities"]
    assert sorted(cme) == ["market.commodities.quotes.cme", "market.commodities.reference_data.cme",
                           "market.commodities.trades.cme"]
    subjects = {s.subject: s for s in topo.subjects}
    assert len(subjects) == 9
    assert subjects["market.equities.trades-value"].topics == (
        "market.equities.trades.asx", "market.equities.trades.nyse", "market.equities.trades.smallx")
    check_golden("nyse-and-commodities-dev", topo.to_dict())


def test_an_asset_class_can_bring_its_own_schema(tmp_path):
    text = (ROOT / "topics.yaml").read_text().replace(
        '    description: "Cryptocurrency spot and derivatives markets"',
        '    description: "Cryptocurrency spot and derivatives markets"\n    schemas:\n      trades: crypto_trade.avsc')
    project = make_project(tmp_path, text)
    schema = json.loads((ROOT / "schemas" / "trade.avsc").read_text())
    schema["name"] = "CryptoTrade"
    (project / "schemas" / "crypto_trade.avsc").write_text(json.dumps(schema))
    topo = load_topology(project / "topics.yaml", "dev")
    subjects = {s.subject: s for s in topo.subjects}
    assert subjects["market.crypto.trades-value"].schema_file == "schemas/crypto_trade.avsc"
    assert subjects["market.equities.trades-value"].schema_file == "schemas/trade.avsc"


def test_environment_can_cap_partitions(tmp_path):
    text = (ROOT / "topics.yaml").read_text().replace(
        "  dev:\n    replication_factor: 1", "  dev:\n    max_partitions: 8\n    replication_factor: 1")
    topo = load_topology(make_project(tmp_path, text) / "topics.yaml", "dev")
    assert {t.name: t.partitions for t in topo.topics}["market.crypto.trades.binance"] == 8
    assert topo.topic("market.equities.reference_data.asx").partitions == 1
    # Stated, not silent: one warning at the cap, naming what it changes.
    [warning] = topo.warnings
    line = next(i for i, text in enumerate(text.splitlines(), 1) if "max_partitions: 8" in text)
    assert str(warning).endswith(
        f"topics.yaml:{line}: environments.dev.max_partitions: caps 4 topics of dev at 8 partitions, fewer than "
        "topics.yaml gives them: market.equities.trades.asx (30), market.equities.quotes.asx (30), "
        "market.crypto.trades.binance (40), market.crypto.quotes.binance (40)")
    assert load_topology(make_project(tmp_path / "p", text) / "topics.yaml", "prod").warnings == ()


def test_the_largest_values_kafka_takes_are_kept(tmp_path):
    text = (ROOT / "topics.yaml").read_text().replace(
        'retention.ms: "604800000"   # 7 days',
        "retention.ms: 9223372036854775807\n      segment.bytes: 2147483647\n      min.cleanable.dirty.ratio: 1", 1)
    topology = load_topology(make_project(tmp_path, text) / "topics.yaml", "dev")
    config = topology.topic("market.equities.trades.asx").config
    assert (config["retention.ms"], config["segment.bytes"], config["min.cleanable.dirty.ratio"]) == (
        "9223372036854775807", "2147483647", "1")


def test_durations_are_normalised_to_milliseconds(tmp_path):
    text = (ROOT / "topics.yaml").read_text().replace('retention.ms: "604800000"   # 7 days', "retention.ms: 7d", 1)
    topo = load_topology(make_project(tmp_path, text) / "topics.yaml", "dev")
    assert topo.topic("market.equities.trades.asx").config["retention.ms"] == "604800000"


def test_by_exchange_groups_topics():
    groups = load_topology(ROOT / "topics.yaml", "dev").by_exchange()
    assert sorted(groups) == [("crypto", "binance"), ("equities", "asx")]
    assert [t.data_type for t in groups[("equities", "asx")]] == ["quotes", "reference_data", "trades"]
