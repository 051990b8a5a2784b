"""The pure parts of plan, verify and the CLI: samples, where two sides differ, the deployed-schema check, errors
that need no cluster."""

from __future__ import annotations

import json
from array import array

import pytest
from fastavro import parse_schema
from typer.testing import CliRunner

from k2infra.cli import app
from k2infra.clients.schema_catalog import SubjectSchema
from k2infra.migration.context import Context, MigrationError, check_mapping
from k2infra.migration.dry_run import _spread
from k2infra.migration.reading import Progress
from k2infra.migration.verify import Verification, _compare, _Side, _where
from k2infra.model import load_topology
from tests.conftest import ROOT, make_project
from tests.migration.legacy_data import with_mapping

runner = CliRunner()


def test_a_sample_spreads_over_the_partitions_as_their_sizes_allow():
    spans = {("t", 0): (0, 100), ("t", 1): (10, 12), ("t", 2): (5, 5), ("t", 3): (0, 40)}
    taken = _spread(spans, 30)
    sizes = {tp: end - start for tp, (start, end) in taken.items()}
    assert sum(sizes.values()) == 30 and sizes[("t", 1)] == 2 and sizes[("t", 2)] == 0
    assert all(start == spans[tp][0] for tp, (start, _) in taken.items())  # from the migration's position
    assert abs(sizes[("t", 0)] - sizes[("t", 3)]) <= 1
    assert _spread(spans, 1000) == spans  # more than there is: everything


def test_where_two_sides_differ_is_named():
    assert _where(array("q", [1, 2, 3]), array("q", [1, 3])) == "missing legacy offset(s) 2"
    assert _where(array("q", [1, 2]), array("q", [1, 2, 2])) == "copied twice: offset(s) 2"
    assert "out of order from the 2. record" in _where(array("q", [1, 2, 3]), array("q", [1, 3, 2]))
    assert _where(array("q", [1, 2]), array("q", [1, 2])) == "same records, different contents (value or timestamp)"


def test_verify_compares_streams_by_offsets_and_digests():
    ours, theirs = _Side(), _Side()
    for side in (ours, theirs):
        side.add(("market.equities.trades.asx", "BHP", "market.trades.raw", 0), 5, 1000, b"\x00v")
    ours.add(("market.equities.trades.asx", "CBA", "market.trades.raw", 1), 7, 1000, b"\x00a")
    theirs.add(("market.equities.trades.asx", "CBA", "market.trades.raw", 1), 7, 1001, b"\x00a")  # timestamp moved
    report = Verification("dev", "k2-migrate.dev", counts={"equities.asx.trades": {"legacy": 2, "copied": 2}})
    _compare(ours, theirs, report)
    assert report.keys == 2 and report.different == 1 and not report.equal
    assert (report.differences[0].key, report.differences[0].detail) == (
        "CBA", "same records, different contents (value or timestamp)")


def test_progress_shows_rate_lag_and_eta(capsys):
    progress = Progress("copied", 1000, every=0.0)
    progress.add(250)
    line = capsys.readouterr().err
    assert "k2 migrate: copied 250 records" in line and "records/s, lag 750, ETA 0:00:" in line


def test_a_mapping_to_a_field_the_deployed_schema_lacks_is_refused(tmp_path):
    topology = load_topology(make_project(tmp_path, with_mapping((ROOT / "topics.yaml").read_text())) / "topics.yaml",
                             "dev")
    trades = next(t for t in topology.legacy if t.name == "market.trades.raw")
    older = json.loads((ROOT / "schemas" / "trade.avsc").read_text())
    older["fields"] = [f for f in older["fields"] if f["name"] != "ingest_time"]  # a deployed version without it
    schema = SubjectSchema("market.equities.trades-value", 3, 1, parse_schema(older), "symbol")
    with pytest.raises(MigrationError) as raised:
        check_mapping(trades, "market.equities.trades.asx", schema)
    assert ("maps to field(s) ingest_time, which market.equities.trades-value version 1 (deployed for "
            "market.equities.trades.asx) lacks") in str(raised.value)


def test_a_wrong_stack_is_named_before_anything_is_asked_of_a_cluster():
    for command in ("plan", "run", "verify"):
        result = runner.invoke(app, ["migrate", command, "--stack", "staging", "--config", str(ROOT / "topics.yaml")])
        assert result.exit_code == 1 and "no environment 'staging'" in result.output, result.output
    result = runner.invoke(app, ["migrate", "cutover", "--stack", "dev", "--config", str(ROOT / "topics.yaml")])
    assert result.exit_code == 2 and "--group" in result.output  # the group to move is required


def test_a_topology_without_legacy_topics_has_nothing_to_migrate(tmp_path):
    text = (ROOT / "topics.yaml").read_text()
    project = make_project(tmp_path, text[:text.index("legacy_topics:")])
    (project / "Pulumi.dev.yaml").write_text("config:\n  k2:bootstrapServers: 127.0.0.1:9\n"
                                             "  k2:schemaRegistryUrl: http://127.0.0.1:9\n")
    result = runner.invoke(app, ["migrate", "plan", "--stack", "dev", "--config", str(project / "topics.yaml")])
    assert result.exit_code == 1 and "declares no legacy_topics: nothing to migrate from" in result.output


def test_the_migration_writes_no_dead_letter_into_kafkas_topics_or_its_own():
    topology = load_topology(ROOT / "topics.yaml", "dev")
    ctx = Context.planned(topology, "dev", {"bootstrap.servers": "127.0.0.1:9"}, "http://127.0.0.1:9")
    for name, message in (("__consumer_offsets", "not a topic the migration may write to"),
                          ("bad name", "not a topic the migration may write to"),
                          ("market.trades.raw", "one of the migration's own topics"),
                          ("market.equities.trades.asx", "one of the migration's own topics")):
        with pytest.raises(MigrationError, match=message):
            ctx.check_dead_letter(name)
    ctx.check_dead_letter("market.legacy.dead-letter")
    ctx.check_dead_letter(None)
