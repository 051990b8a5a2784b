"""Apps -> ACLs: exactly what each app was declared to do, with prefixes only where they are exact."""

from __future__ import annotations

import pytest

from k2infra.model import TopologyError, load_topology
from k2infra.model.access import Binding
from k2infra.model.access_plan import access_changes, grant_key
from tests.conftest import FIXTURES, ROOT, make_project

SHIPPED = (ROOT / "topics.yaml").read_text()


def apps_of(tmp_path, text: str = SHIPPED, environment: str = "prod"):
    return {a.name: a for a in load_topology(make_project(tmp_path, text) / "topics.yaml", environment).apps}


def grants(app) -> set[tuple[str, str, str, str]]:
    return {(b.resource_type, b.pattern, b.name, b.operation) for b in app.bindings}


def test_a_consumer_reads_its_topics_and_its_own_group_only(tmp_path):
    app = apps_of(tmp_path)["asx-market-maker"]
    assert grants(app) == {
        *(("Topic", "Literal", f"market.equities.{dt}.asx", op) for dt in ("trades", "quotes", "reference_data")
          for op in ("Read", "Describe")),
        ("Group", "Literal", "asx-market-maker", "Read"),
    }
    assert all(b.principal == "User:asx-market-maker" and b.permission == "Allow" for b in app.bindings)


def test_a_producer_writes_its_topics_and_joins_no_group(tmp_path):
    app = apps_of(tmp_path)["asx-feed"]
    assert grants(app) == {("Topic", "Literal", f"market.equities.{dt}.asx", op)
                           for dt in ("trades", "quotes", "reference_data") for op in ("Write", "Describe")}
    assert app.group is None


def test_asset_class_and_data_type_subscriptions_use_exact_prefixes(tmp_path):
    apps = apps_of(tmp_path)
    assert {g for g in grants(apps["crypto-arbitrage"]) if g[0] == "Topic"} == {
        ("Topic", "Prefixed", "market.crypto.", "Read"), ("Topic", "Prefixed", "market.crypto.", "Describe")}
    assert {g[2] for g in grants(apps["compliance-monitor"]) if g[0] == "Topic"} == {
        "market.crypto.trades.", "market.equities.trades."}  # one prefix per asset class, never market.*


def test_a_new_exchange_is_covered_by_the_prefixes_without_widening_anything_else(tmp_path):
    before = apps_of(tmp_path / "a")
    nyse = (FIXTURES / "topologies" / "nyse_and_commodities.yaml").read_text()
    block = nyse[nyse.index("      nyse:"):nyse.index("      smallx:")]
    after = apps_of(tmp_path / "b", SHIPPED.replace("\n  crypto:", "\n" + block + "\n  crypto:", 1))
    for name in before:
        assert after[name].bindings == before[name].bindings, name  # not one binding more or less
    assert "market.equities.trades.nyse" in after["compliance-monitor"].consumes  # yet it reads NYSE trades
    assert "market.equities.trades.nyse" not in after["asx-market-maker"].consumes


def test_a_transactional_producer_gets_its_transactional_id(tmp_path):
    text = SHIPPED.replace('    principal: "User:binance-feed"\n',
                           '    principal: "User:binance-feed"\n    transactional_id: binance-feed-tx\n')
    app = apps_of(tmp_path, text)["binance-feed"]
    assert {g for g in grants(app) if g[0] == "TransactionalID"} == {
        ("TransactionalID", "Literal", "binance-feed-tx", "Write"),
        ("TransactionalID", "Literal", "binance-feed-tx", "Describe")}


def test_bindings_have_stable_unique_names(tmp_path):
    apps = apps_of(tmp_path)
    keys = [b.key for a in apps.values() for b in a.bindings]
    assert len(keys) == len(set(keys)) == 46
    assert Binding("a", "User:a", "Topic", "Prefixed", "market.crypto.", "Read").key == \
        "a/Topic/Prefixed/market.crypto./Read"


@pytest.mark.parametrize(("old", "new", "message"), [
    ('principal: "User:crypto-arbitrage"', 'principal: "User:compliance-monitor"',
     "User:compliance-monitor is already the principal of app 'crypto-arbitrage'"),
    ('principal: "User:crypto-arbitrage"', 'principal: "crypto-arbitrage"', "is not a principal Type:name"),
    ("      - {asset_class: crypto}  ", "      - {asset_class: crypto, data_types: [candles]}  ",
     "unknown data type 'candles'"),
    ("      - {asset_class: equities, exchanges: [asx]}             # pattern 1",
     "      - {asset_class: equities, exchanges: [nyse]}             # pattern 1",
     "unknown exchange of equities 'nyse'"),
    ("      - {data_types: [trades]}  ", "      - {}  ", "name an asset_class, data_types, or an explicit list"),
    ("data_types: [trades, quotes, reference_data]\n    produces:\n      - {asset_class: crypto",
     "data_types: [trades]\n    produces:\n      - {asset_class: crypto",
     "grants WRITE on market.crypto.quotes.binance, a quotes topic, but binance-feed produces only trades"),
])
def test_bad_apps_are_refused_naming_file_line_and_key(tmp_path, old, new, message):
    assert old in SHIPPED, old
    with pytest.raises(TopologyError) as caught:
        apps_of(tmp_path, SHIPPED.replace(old, new, 1))
    problem = next(p for p in caught.value.problems if message in p.message)
    assert problem.file.name == "topics.yaml" and problem.line and problem.key.startswith("apps.")


def test_lost_access_and_drift_are_reported(tmp_path):
    apps = list(apps_of(tmp_path).values())
    before = {b.key for a in apps for b in a.bindings} | {"old-app/Topic/Literal/market.crypto.trades.binance/Read"}
    by_hand = Binding("", "User:crypto-arbitrage", "Topic", "Literal", "market.equities.trades.asx", "Read")
    foreign = Binding("", "User:someone", "Topic", "Literal", "internal.audit", "Read")  # not K2's business
    declared = next(b for b in apps[0].bindings)
    warnings = access_changes(apps, before, [by_hand, foreign, Binding("", *grant_key(declared))])
    assert warnings == [
        "old-app loses Read on Topic Literal market.crypto.trades.binance: no longer declared in topics.yaml, the "
        "ACL is removed",
        "drift: an ACL K2 did not declare is on the cluster: User:crypto-arbitrage Allow Read on Topic Literal "
        "market.equities.trades.asx (added by hand? declare it in topics.yaml or remove it)",
    ]
    assert access_changes(apps, {b.key for a in apps for b in a.bindings}, None) == []  # no authorizer: no drift
