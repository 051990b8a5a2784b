"""Regions in topics.yaml: each region's stack holds its home exchanges' topics and a mirror of every topic homed in
a region it aggregates (same name, same partitions and configs), with one replication flow per aggregated region;
bad input is refused at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from k2infra.model import TopologyError, load_topology
from tests.conftest import ROOT, make_project

LSE = ('      lse:\n        name: "London Stock Exchange"\n        partitions: 20\n        country: "GB"\n'
       '        timezone: "Europe/London"\n\n  crypto:\n')
REGIONS = """
regions:
  apac:
    description: "Aggregates every exchange for the Sydney desks"
    exchanges: [equities.asx]
    aggregates: [us-east, eu-west]
  us-east:
    exchanges: [crypto.binance]
  eu-west:
    exchanges: [equities.lse]
"""
REGIONAL = (ROOT / "topics.yaml").read_text().replace("\n  crypto:\n", "\n" + LSE, 1) + REGIONS


def regional(tmp_path: Path, text: str = REGIONAL) -> Path:
    assert text != (ROOT / "topics.yaml").read_text()
    return make_project(tmp_path / "project", text) / "topics.yaml"


def names(topology) -> set[str]:
    return {t.name for t in topology.topics}


def test_a_home_region_holds_only_its_exchanges(tmp_path):
    us_east = load_topology(regional(tmp_path), "prod", region="us-east")
    assert names(us_east) == {f"market.crypto.{dt}.binance" for dt in ("trades", "quotes", "reference_data")}
    assert {s.subject for s in us_east.subjects} == {f"market.crypto.{dt}-value"
                                                     for dt in ("trades", "quotes", "reference_data")}
    assert all(t.home_region == "us-east" and not t.mirrored for t in us_east.topics)
    assert us_east.replication == () and us_east.region == "us-east"


def test_the_aggregate_mirrors_each_home_topic_with_its_partitions_and_configs(tmp_path):
    path = regional(tmp_path)
    apac = load_topology(path, "prod", region="apac")
    every = load_topology(path, "prod")
    assert names(apac) == names(every)  # it aggregates every other region
    homes = {"us-east": load_topology(path, "prod", region="us-east"),
             "eu-west": load_topology(path, "prod", region="eu-west")}
    for topic in apac.topics:
        if topic.exchange == "asx":
            assert (topic.home_region, topic.mirrored) == ("apac", False)
            continue
        home = homes[topic.home_region].topic(topic.name)  # type: ignore[index]
        assert topic.mirrored and (topic.partitions, topic.config) == (home.partitions, home.config)
    flows = {f.source: f for f in apac.replication}
    assert set(flows) == {"us-east", "eu-west"} and all(f.target == "apac" for f in flows.values())
    assert flows["eu-west"].topics == tuple(sorted(f"market.equities.{dt}.lse"
                                                   for dt in ("trades", "quotes", "reference_data")))
    assert flows["us-east"].name == "us-east->apac"


def test_a_new_exchange_is_an_edit_of_topics_yaml_only(tmp_path):
    euronext = ('      euronext:\n        name: "Euronext"\n        partitions: 12\n\n  crypto:\n')
    text = REGIONAL.replace("\n  crypto:\n", "\n" + euronext, 1).replace("[equities.lse]",
                                                                          "[equities.lse, equities.euronext]")
    path = regional(tmp_path, text)
    eu_west, apac = (load_topology(path, "prod", region=r) for r in ("eu-west", "apac"))
    assert "market.equities.trades.euronext" in names(eu_west)
    mirrored = apac.topic("market.equities.trades.euronext")
    assert mirrored.mirrored and mirrored.partitions == 12
    assert "market.equities.trades.euronext" in next(f for f in apac.replication if f.source == "eu-west").topics


def test_a_stack_without_a_region_holds_everything_marked_with_its_home(tmp_path):
    every = load_topology(regional(tmp_path), "dev")
    assert every.region is None and every.replication == ()
    assert {t.exchange: t.home_region for t in every.topics} == {"asx": "apac", "lse": "eu-west",
                                                                 "binance": "us-east"}


@pytest.mark.parametrize(("edit", "region", "key", "message"), [
    (("[crypto.binance]", "[crypto.binance, equities.asx]"), "apac", "regions.us-east.exchanges.[1]",
     "equities.asx is already homed in region apac"),
    (("[crypto.binance]", "[]"), "apac", "asset_classes.crypto.exchanges.binance",
     "crypto.binance is homed in no region"),
    (("[equities.lse]", "[equities.lsx]"), "apac", "regions.eu-west.exchanges.[0]",
     "unknown exchange 'equities.lsx' (did you mean 'equities.lse'?)"),
    (("aggregates: [us-east, eu-west]", "aggregates: [us-east, eu-wset]"), "apac", "regions.apac.aggregates.[1]",
     "unknown region 'eu-wset' (did you mean 'eu-west'?)"),
    (("aggregates: [us-east, eu-west]", "aggregates: [us-east, apac]"), "apac", "regions.apac.aggregates.[1]",
     "region apac aggregates itself"),
    (("    exchanges: [crypto.binance]\n", "    exchanges: [crypto.binance]\n    aggregates: [apac]\n"), "apac",
     "regions.us-east.aggregates.[0]", "replication cycle: apac -> us-east -> apac"),
    (("  us-east:\n", "  US_East:\n"), None, "regions.US_East", "region 'US_East': lower-case letters"),
    (None, "ap-south", "regions", "no region 'ap-south' (the stack's k2:region)"),
])
def test_bad_regions_are_refused_at_their_line(tmp_path, edit, region, key, message):
    text = REGIONAL.replace(*edit, 1) if edit else REGIONAL
    path = regional(tmp_path, text)
    with pytest.raises(TopologyError) as raised:
        load_topology(path, "prod", region=region)
    problem = next((p for p in raised.value.problems if message in p.message), None)
    assert problem is not None, raised.value.problems
    assert problem.key == key and problem.line is not None and problem.file.name == "topics.yaml"


def test_a_region_without_regions_in_the_file_is_refused(tmp_path):
    with pytest.raises(TopologyError, match=r"the stack's region is 'apac' .k2:region., but topics.yaml declares "
                                            r"no regions"):
        load_topology(ROOT / "topics.yaml", "prod", region="apac")


def test_a_long_chain_and_a_dense_web_of_regions_are_checked_quickly(tmp_path):
    """Hostile input: 64 regions, each aggregating every later one (no cycle), then one edge back (a cycle)."""
    names_ = [f"r{i}" for i in range(64)]
    web = "".join(f"  {n}:\n    exchanges: [{'equities.asx' if i == 0 else 'crypto.binance' if i == 1 else ''}]\n"
                  f"    aggregates: [{', '.join(names_[i + 1:])}]\n" for i, n in enumerate(names_))
    text = (ROOT / "topics.yaml").read_text() + "\nregions:\n" + web.replace("exchanges: []\n", "exchanges: []\n")
    path = regional(tmp_path, text.replace("  r63:\n    exchanges: []\n    aggregates: []\n",
                                           "  r63:\n    exchanges: []\n    aggregates: [r0]\n"))
    with pytest.raises(TopologyError) as raised:
        load_topology(path, "prod", region="r0")
    assert any("replication cycle" in p.message for p in raised.value.problems)


# --- the apps in each region: reads wherever the region holds the topic, writes on home topics only ------------
EQUITIES_FEED = ('  equities-feed:\n    principal: "User:equities-feed"\n    data_types: [trades]\n'
                 '    produces:\n      - {asset_class: equities, data_types: [trades]}\n')
WITH_FEED = REGIONAL.replace("\napps:\n", "\napps:\n" + EQUITIES_FEED, 1)


def grants(topology, app: str) -> set[tuple[str, str, str]]:
    found = next((a for a in topology.apps if a.name == app), None)
    assert found is not None, f"{app} is not in region {topology.region}"
    return {(b.pattern, b.name, b.operation) for b in found.bindings if b.resource_type == "Topic"}


def test_an_app_is_only_where_its_topics_are(tmp_path):
    us_east = load_topology(regional(tmp_path, WITH_FEED), "prod", region="us-east")
    apps = {a.name for a in us_east.apps}
    assert {"asx-feed", "asx-market-maker", "equities-analytics", "equities-feed"}.isdisjoint(apps)
    assert {"binance-feed", "iceberg-writer", "crypto-arbitrage", "reference-loader"} <= apps
    assert grants(us_east, "reference-loader") == {("Literal", "market.crypto.reference_data.binance", op)
                                                   for op in ("Read", "Describe")}
    assert {name for _, name, _ in grants(us_east, "iceberg-writer")} == {"market.crypto.trades.",
                                                                           "market.crypto.quotes."}
    assert {u.app for u in us_east.users} == apps  # prod manages users: only the apps that are there


def test_nobody_but_the_replication_principal_may_write_a_mirror(tmp_path):
    apac = load_topology(regional(tmp_path, WITH_FEED), "prod", region="apac")
    assert "binance-feed" not in {a.name for a in apac.apps}  # every topic it writes is a mirror here
    writes = {(p, n) for p, n, op in grants(apac, "equities-feed") if op == "Write"}
    assert writes == {("Literal", "market.equities.trades.asx")}  # its prefix would cover the lse mirror
    mirrored = {t.name for t in apac.topics if t.mirrored}
    for app in apac.apps:
        for binding in app.bindings:
            if binding.operation == "Write" and binding.resource_type == "Topic":
                assert binding.pattern == "Literal", binding
                assert binding.name not in mirrored or binding.principal == "User:k2-mirror-apac", binding
    reads = grants(apac, "iceberg-writer")
    assert ("Prefixed", "market.equities.trades.", "Read") in reads  # home asx and mirrored lse alike


def test_a_region_without_mirrors_keeps_a_producers_prefix(tmp_path):
    eu_west = load_topology(regional(tmp_path, WITH_FEED), "prod", region="eu-west")
    assert ("Prefixed", "market.equities.trades.", "Write") in grants(eu_west, "equities-feed")
