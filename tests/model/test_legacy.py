"""The legacy topics of topics.yaml: declared, checked with file/line/key errors, and never planned as K2's."""

from __future__ import annotations

import dataclasses

import pytest

from k2infra.model import TopologyError, load_topology
from k2infra.model.legacy import KeyPattern
from k2infra.model.plan import ObservedTopic, plan_changes, plan_topics
from tests.conftest import ROOT, make_project
from tests.model.test_plan import names, observed_from

SHIPPED = (ROOT / "topics.yaml").read_text()
LEGACY = ("market.trades.raw", "market.quotes.raw", "market.reference_data")
TRADES_ENTRY = '  market.trades.raw:\n    data_type: trades\n    key: "{exchange}.{symbol}"\n'
NYSE = ('      nyse:\n        name: "New York Stock Exchange"\n        partitions: 10\n')


def with_trades(extra: str) -> str:
    """The shipped file with more keys under legacy_topics.market.trades.raw."""
    assert TRADES_ENTRY in SHIPPED
    return SHIPPED.replace(TRADES_ENTRY, TRADES_ENTRY + extra)


def problems_of(tmp_path, text: str, environment: str = "dev"):
    project = make_project(tmp_path, text)
    with pytest.raises(TopologyError) as raised:
        load_topology(project / "topics.yaml", environment)
    return project / "topics.yaml", raised.value.problems


def test_the_shipped_file_declares_the_designs_three_legacy_topics():
    topology = load_topology(ROOT / "topics.yaml", "dev")
    assert topology.legacy_names == frozenset(LEGACY)
    trades = next(t for t in topology.legacy if t.name == "market.trades.raw")
    assert trades.data_type == "trades" and trades.subject == "market.trades.raw-value"
    assert trades.target_topics == ("market.crypto.trades.binance", "market.equities.trades.asx")
    assert trades.partition_key == "symbol"
    # The exchange value matches the code whatever its case.
    for value, topic in (("ASX", "market.equities.trades.asx"), ("Binance", "market.crypto.trades.binance"),
                         ("asx", "market.equities.trades.asx")):
        found = trades.target_for(value)
        assert found is not None and found.topic == topic
    assert trades.target_for("LSE") is None
    reference = next(t for t in topology.legacy if t.name == "market.reference_data")
    assert reference.target_for("ASX").subject == "market.equities.reference_data-value"  # type: ignore[union-attr]
    # Legacy names are not exchange topics of the topology.
    assert not {t.name for t in topology.topics} & topology.legacy_names


def test_a_mapping_is_checked_against_the_shared_schema(tmp_path):
    text = with_trades("    rename: {qty: quantity, ts: event_time}\n    drop: [venue]\n"
                       "    values: {currency: AUD}\n    record_timestamp: [ingest_time]\n"
                       "    exchanges: {XASX: equities.asx}\n")
    topology = load_topology(make_project(tmp_path, text) / "topics.yaml", "dev")
    trades = next(t for t in topology.legacy if t.name == "market.trades.raw")
    assert dict(trades.rename) == {"qty": "quantity", "ts": "event_time"} and trades.drop == {"venue"}
    assert dict(trades.values) == {"currency": "AUD"} and trades.record_timestamp == ("ingest_time",)
    assert trades.target_for("xasx").topic == "market.equities.trades.asx"  # type: ignore[union-attr]


CASES = [
    # (id, text, the line holding this text, key suffix, message fragment)
    ("unknown-data-type", SHIPPED.replace("    data_type: trades\n", "    data_type: trade\n", 1),
     "data_type: trade", "market.trades.raw.data_type", "did you mean 'trades'"),
    ("rename-to-a-missing-field", with_trades("    rename: {qty: quantty}\n"), "rename:",
     "market.trades.raw.rename.qty", "'quantty' is not a field of the trades schema"),
    ("value-for-a-missing-field", with_trades("    values: {venue: XASX}\n"), "values:",
     "market.trades.raw.values.venue", "'venue' is not a field"),
    ("value-of-the-wrong-type", with_trades("    values: {price: cheap}\n"), "values:",
     "market.trades.raw.values.price", "does not fit field 'price' (double)"),
    ("timestamp-into-a-string", with_trades("    record_timestamp: [trade_id]\n"), "record_timestamp:",
     "market.trades.raw.record_timestamp.[0]", "not a long or timestamp field"),
    ("key-without-symbol", SHIPPED.replace('key: "{exchange}.{symbol}"', 'key: "{exchange}.{trade_id}"', 1),
     'key: "{exchange}.{trade_id}"', "market.trades.raw.key", "must contain {symbol}"),
    ("key-fields-run-together", SHIPPED.replace('key: "{exchange}.{symbol}"', 'key: "{exchange}{symbol}"', 1),
     'key: "{exchange}{symbol}"', "market.trades.raw.key", "nothing between them"),
    ("key-field-not-in-schema", SHIPPED.replace('key: "{exchange}.{symbol}"', 'key: "{venue}.{symbol}"', 1),
     'key: "{venue}.{symbol}"', "market.trades.raw.key", "'venue' is not a field"),
    ("exchange-mapped-to-nothing", with_trades("    exchanges: {XASX: equities.xasx}\n"), "exchanges:",
     "market.trades.raw.exchanges.XASX", "did you mean 'equities.asx'"),
    ("legacy-name-is-an-exchange-topic",
     SHIPPED.replace("  market.trades.raw:\n", "  market.equities.trades.asx:\n"), "  market.equities.trades.asx:",
     "legacy_topics.market.equities.trades.asx", "is an exchange topic"),
    ("not-a-kafka-name", SHIPPED.replace("  market.trades.raw:\n", "  market trades:\n"), "  market trades:",
     "legacy_topics.market trades", "not a Kafka topic name"),
    ("schema-registrys-topic", SHIPPED.replace("  market.trades.raw:\n", "  _schemas:\n"), "  _schemas:",
     "legacy_topics._schemas", "is an internal topic of Kafka or of a tool around it"),
    ("mirrormakers-topic", SHIPPED.replace("  market.trades.raw:\n", "  mm2-offset-syncs.eu.internal:\n"),
     "  mm2-offset-syncs", "legacy_topics.mm2-offset-syncs.eu.internal", "K2 never reads, adopts or deletes it"),
    ("another-teams-topic", SHIPPED.replace("  market.trades.raw:\n", "  orders.v1:\n"), "  orders.v1:",
     "legacy_topics.orders.v1", "(market.trades.raw or market.trades, after its data type trades)"),
    ("legacy-name-with-a-newline", SHIPPED.replace("  market.trades.raw:\n", '  "market.trades.raw\\n":\n'),
     "market.trades.raw\\n", "legacy_topics.market.trades.raw\n", "not a Kafka topic name"),
    ("misspelt-key", with_trades("    renames: {qty: quantity}\n"), "renames:",
     "market.trades.raw.renames", "did you mean 'rename'"),
    ("ambiguous-exchange-code",
     SHIPPED.replace('  crypto:\n    description: "Cryptocurrency spot and derivatives markets"\n    exchanges:\n',
                     '  crypto:\n    description: "Cryptocurrency spot and derivatives markets"\n    exchanges:\n'
                     '      asx:\n        name: "ASX crypto"\n        partitions: 4\n'),
     "  market.trades.raw:", "market.trades.raw.exchanges", "is in asset classes equities and crypto"),
]


@pytest.mark.parametrize(("text", "line_of", "key", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_legacy_declarations_name_file_line_and_key(tmp_path, text, line_of, key, message):
    file, problems = problems_of(tmp_path, text)
    problem = next((p for p in problems if message in p.message), None)
    assert problem is not None, problems
    assert problem.key.endswith(key), problem
    lines = file.read_text().splitlines()
    expected = next(i for i, line in enumerate(lines, 1) if line_of in line and i >= _legacy_start(lines))
    assert problem.line == expected, f"{problem} (expected line {expected})"


def _legacy_start(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines, 1) if line.startswith("legacy_topics:"))


def test_key_patterns_split_keys_back_into_fields():
    key = KeyPattern.compile("{exchange}.{symbol}")
    assert key.parse("ASX.BHP") == {"exchange": "ASX", "symbol": "BHP"}
    assert key.parse("NYSE.BRK.B") == {"exchange": "NYSE", "symbol": "BRK.B"}  # the last field takes the rest
    assert key.parse("BHP") is None and key.parse(".BHP") is None
    assert KeyPattern.compile("{exchange}:{symbol}/raw").parse("Binance:BTCUSDT/raw") == {"exchange": "Binance",
                                                                                        "symbol": "BTCUSDT"}
    for bad in ("{exchange}{symbol}", "plain", "{symbol!r}", "{symbol}.{symbol}"):
        with pytest.raises(ValueError):
            KeyPattern.compile(bad)


def legacy_observed() -> dict[str, ObservedTopic]:
    return {"market.trades.raw": ObservedTopic("market.trades.raw", 6, 1, {}),
            "market.quotes.raw": ObservedTopic("market.quotes.raw", 6, 1, {}),
            "market.reference_data": ObservedTopic("market.reference_data", 1, 1, {"cleanup.policy": "compact"})}


def test_k2_plan_does_not_take_legacy_topics_for_retained_ones():
    topology = load_topology(ROOT / "topics.yaml", "dev")
    observed = {**observed_from(topology), **legacy_observed()}
    # `k2 plan` counts every market.* topic on the cluster as managed, minus the declared legacy ones.
    plan = plan_topics(topology, observed, {n: t for n, t in observed.items() if n not in topology.legacy_names})
    assert plan.retain == [] and plan.release == [] and plan.delete == [] and len(plan.unchanged) == 6
    # The program: the stack's own record never holds them, so they are left alone too.
    plan = plan_changes(topology, observed, names(topology))
    assert plan.retain == [] and plan.adopt == [] and not plan.warnings


def test_a_legacy_topic_is_retired_through_the_decommission_path(tmp_path):
    text = SHIPPED.replace("  dev:\n    replication_factor: 1\n    min_insync_replicas: 1\n",
                           "  dev:\n    replication_factor: 1\n    min_insync_replicas: 1\n"
                           "    decommission: [market.trades.raw, market.reference_data]\n")
    topology = load_topology(make_project(tmp_path, text) / "topics.yaml", "dev")
    observed = {**observed_from(topology), **legacy_observed()}
    # First update: adopted as it is, already released (declared without retain_on_delete).
    first = plan_changes(topology, observed, names(topology), released=frozenset())
    assert sorted(first.adopt) == ["market.reference_data", "market.trades.raw"]
    assert sorted(t.name for t in first.release) == ["market.reference_data", "market.trades.raw"]
    reference = next(t for t in first.release if t.name == "market.reference_data")
    assert (reference.partitions, dict(reference.config)) == (1, {"cleanup.policy": "compact"})
    assert not first.refusing and first.delete == []
    # Second update: the stack manages them, released: deleted.
    managed = {**names(topology), **{n: observed[n] for n in ("market.trades.raw", "market.reference_data")}}
    second = plan_changes(topology, observed, managed, released=frozenset(managed))
    assert sorted(second.delete) == ["market.reference_data", "market.trades.raw"] and second.adopt == []
    # Gone from the cluster: nothing left to do.
    gone = {n: t for n, t in observed.items() if n not in ("market.trades.raw", "market.reference_data")}
    assert plan_changes(topology, gone, names(topology)).release == []


def test_a_protected_environment_never_retires_a_legacy_topic(tmp_path):
    text = SHIPPED.replace("    protected: true", "    protected: true\n    decommission: [market.trades.raw]")
    topology = load_topology(make_project(tmp_path, text) / "topics.yaml", "prod")
    observed = {**observed_from(topology), **legacy_observed()}
    plan = plan_changes(topology, observed, names(topology))
    assert plan.refusing and plan.adopt == [] and plan.release == []
    assert any("market.trades.raw: deleting a topic in the protected environment prod" in r for r in plan.refused)


def test_the_plan_retires_no_legacy_topic_outside_the_legacy_shapes_even_from_a_topology_built_by_hand(tmp_path):
    # `k2 validate` refuses such a declaration; a topology put together in code still cannot make K2 adopt it.
    topology = load_topology(ROOT / "topics.yaml", "dev")
    trades = next(t for t in topology.legacy if t.name == "market.trades.raw")
    crafted = dataclasses.replace(topology, legacy=(dataclasses.replace(trades, name="__consumer_offsets"),),
                                  decommission=("__consumer_offsets",))
    offsets = ObservedTopic("__consumer_offsets", 50, 1, {"cleanup.policy": "compact"})
    plan = plan_changes(crafted, {**observed_from(topology), offsets.name: offsets}, names(topology))
    assert plan.adopt == [] and plan.release == [] and plan.delete == []

