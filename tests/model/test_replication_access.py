"""The replication principal as a derived app: its grants in the aggregate (mirrors, MirrorMaker's own topics, the
checkpointed groups, its dedicated workers') and in each home region (reads only), its user where users are
managed; a principal chosen in topics.yaml is checked at its line."""

from __future__ import annotations

import pytest

from k2infra.contracts.replication import dedicated_worker, mirror_topic_names
from k2infra.model import TopologyError, load_topology
from tests.model.test_regions import REGIONAL, regional

MIRROR = "k2-mirror-apac"


def mirror_app(tmp_path, region: str, text: str = REGIONAL):
    topology = load_topology(regional(tmp_path, text), "prod", region=region)
    return topology, next(a for a in topology.apps if a.name == MIRROR)


def grants(app) -> set[tuple[str, str, str]]:
    assert all(b.pattern == "Literal" for b in app.bindings)  # exact names only
    return {(b.resource_type, b.name, b.operation) for b in app.bindings}


def test_in_the_aggregate_it_writes_the_mirrors_and_its_own_topics_only(tmp_path):
    topology, app = mirror_app(tmp_path, "apac")
    assert app.principal == f"User:{MIRROR}"
    mirrors = {t.name for t in topology.topics if t.mirrored}
    written = {name for kind, name, op in grants(app) if kind == "Topic" and op == "Write"}
    own = {n for s in ("us-east", "eu-west") for n in (*mirror_topic_names(s), *dedicated_worker(s).topics)}
    assert written == mirrors | own  # never a home topic of apac (asx)
    created = {name for kind, name, op in grants(app) if op == "Create"}
    assert created == own  # K2 creates the mirrors: MirrorMaker cannot
    groups = {name for kind, name, op in grants(app) if kind == "Group"}
    assert {"crypto-arbitrage", "iceberg-writer", "us-east-mm2", "eu-west-mm2"} <= groups
    assert "asx-market-maker" not in groups  # reads no mirrored topic
    assert {name for kind, name, _ in grants(app) if kind == "TransactionalID"} >= {
        "connect-cluster-us-east-mm2", "us-east-mm2-MirrorSourceConnector-0"}
    assert any(u.app == MIRROR and u.username == MIRROR for u in topology.users)


def test_at_home_it_reads_the_flows_topics_and_describes_the_groups(tmp_path):
    topology, app = mirror_app(tmp_path, "us-east")
    assert {op for _, _, op in grants(app)} == {"Read", "Describe"}
    assert {n for k, n, _ in grants(app) if k == "Topic"} == {t.name for t in topology.topics}
    assert {op for k, _, op in grants(app) if k == "Group"} == {"Describe"}
    assert app.consumes and not app.produces and app.group is None
    assert any(u.app == MIRROR for u in topology.users)


def test_a_principal_of_its_own_from_topics_yaml(tmp_path):
    text = REGIONAL.replace("    aggregates: [us-east, eu-west]\n",
                            "    aggregates: [us-east, eu-west]\n    replication_principal: \"User:mm2-apac\"\n")
    for region in ("apac", "eu-west"):
        _, app = mirror_app(tmp_path / region, region, text)
        assert app.principal == "User:mm2-apac"


@pytest.mark.parametrize(("principal", "problem"), [
    ("User:asx-feed", "is the principal of app 'asx-feed'"),
    ("User:*", "wildcard principal"),
    ("mm2", "is not a principal Type:name"),
])
def test_a_bad_principal_is_refused_at_its_line(tmp_path, principal, problem):
    text = REGIONAL.replace("    aggregates: [us-east, eu-west]\n",
                            f"    aggregates: [us-east, eu-west]\n    replication_principal: \"{principal}\"\n")
    with pytest.raises(TopologyError) as err:
        load_topology(regional(tmp_path, text), "prod", region="apac")
    assert "regions.apac.replication_principal" in str(err.value) and problem in str(err.value)


def test_a_region_aggregating_nothing_has_no_replication_principal(tmp_path):
    text = REGIONAL.replace("    exchanges: [crypto.binance]\n",
                            "    exchanges: [crypto.binance]\n    replication_principal: \"User:x\"\n")
    with pytest.raises(TopologyError) as err:
        load_topology(regional(tmp_path, text), "prod", region="us-east")
    assert "regions.us-east.replication_principal" in str(err.value) and "aggregates no region" in str(err.value)


def test_without_regions_there_is_no_replication_principal(tmp_path):
    from tests.conftest import ROOT
    assert not any(a.name.startswith("k2-mirror-") for a in load_topology(ROOT / "topics.yaml", "prod").apps)
