"""The `k2` command, as a user runs it (no cluster needed)."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from k2infra.cli import app, environment_of
from tests.conftest import ROOT, make_project

runner = CliRunner()


def test_topology_json_lists_topics_and_subjects():
    result = runner.invoke(app, ["topology", "--config", str(ROOT / "topics.yaml"), "--stack", "prod", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["environment"] == "prod"
    trades = next(t for t in data["topics"] if t["name"] == "market.crypto.trades.binance")
    assert trades == {"name": "market.crypto.trades.binance", "asset_class": "crypto", "data_type": "trades",
                      "exchange": "binance", "partitions": 40, "replication_factor": 3,
                      "config": {"cleanup.policy": "delete", "compression.type": "lz4",
                                 "min.insync.replicas": "2", "retention.ms": "604800000"}}
    subject = next(s for s in data["subjects"] if s["subject"] == "market.equities.quotes-value")
    assert subject["schema_file"] == "schemas/quote.avsc" and subject["compatibility"] == "BACKWARD"


def test_topology_table_for_people():
    result = runner.invoke(app, ["topology", "--config", str(ROOT / "topics.yaml")])
    assert result.exit_code == 0
    assert "market.equities.reference_data.asx" in result.output and "6 subjects" in result.output


def test_validate_passes_the_shipped_file_for_every_environment():
    result = runner.invoke(app, ["validate", "--config", str(ROOT / "topics.yaml")])
    assert result.exit_code == 0, result.output
    assert "OK for dev" in result.output and "OK for prod" in result.output


def test_validate_fails_naming_file_line_and_key(tmp_path):
    project = make_project(tmp_path, (ROOT / "topics.yaml").read_text().replace("partitions: 40", "partitions: 0"))
    # A real process, as a user or CI would run it: exit code and stderr.
    done = subprocess.run([sys.executable, "-m", "k2infra.cli", "validate", "--config", str(project / "topics.yaml")],
                          capture_output=True, text=True)
    assert done.returncode == 1
    line = next(i for i, text in enumerate((project / "topics.yaml").read_text().splitlines(), 1)
                if "partitions: 0" in text)
    assert f"topics.yaml:{line}: asset_classes.crypto.exchanges.binance.partitions: must be 1 or more" in done.stderr


def test_an_error_on_line_100_prints_its_line_number_not_an_emoji(tmp_path):
    # Rich read ":100:" as an emoji code (topics.yaml💯) until the consoles were made emoji-free.
    text = (ROOT / "topics.yaml").read_text()
    project = make_project(tmp_path, "# padding\n" * 99 + "bogus_key: 1\n" + text)
    done = subprocess.run([sys.executable, "-m", "k2infra.cli", "validate", "--config", str(project / "topics.yaml")],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "topics.yaml:100: bogus_key: unknown key" in done.stderr and "\U0001f4af" not in done.stderr


def test_stack_name_maps_to_its_environment(tmp_path):
    (tmp_path / "topics.yaml").write_text("")
    (tmp_path / "Pulumi.staging.yaml").write_text("config:\n  k2:environment: prod\n")
    assert environment_of("staging", tmp_path / "topics.yaml") == "prod"
    assert environment_of("dev", tmp_path / "topics.yaml") == "dev"
    assert environment_of(None, tmp_path / "topics.yaml") is None


def test_local_status_says_when_nothing_runs(tmp_path):
    result = runner.invoke(app, ["local", "status", "--dir", str(tmp_path)])
    assert result.exit_code == 3 and "not running" in result.output


def test_local_down_wipe_refuses_a_directory_that_is_not_a_platform(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work\n")
    # A real process, as a user runs it: exit code and stderr.
    done = subprocess.run([sys.executable, "-m", "k2infra.cli", "local", "down", "--wipe", "--dir", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    message = " ".join(done.stderr.split())  # the console may wrap long lines
    assert message.startswith(f"k2 local down failed: refusing to wipe {tmp_path}: it has no k2-platform.json "
                              "and holds thesis.tex.")
    assert "nothing was stopped or removed" in message
    assert (tmp_path / "thesis.tex").read_text() == "years of work\n"


def test_local_up_refuses_a_directory_that_is_not_a_platform(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work\n")
    result = runner.invoke(app, ["local", "up", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "refusing to start a platform in" in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


def test_validate_names_the_byte_a_file_cannot_decode_without_a_traceback(tmp_path):
    project = make_project(tmp_path)
    (project / "topics.yaml").write_bytes((ROOT / "topics.yaml").read_bytes().replace(b"Binance", b"Bin\xffance", 1))
    done = subprocess.run([sys.executable, "-m", "k2infra.cli", "validate", "--config", str(project / "topics.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "topics.yaml:22: byte 0xff at column 19 is not UTF-8: save the file as UTF-8" in done.stderr


def test_validate_names_an_unreadable_stack_file(tmp_path):
    project = make_project(tmp_path)
    (project / "Pulumi.dev.yaml").write_bytes(b"config:\n  k2:environment: d\xe9v\n")
    result = runner.invoke(app, ["validate", "--config", str(project / "topics.yaml"), "--stack", "dev"])
    assert result.exit_code == 1
    assert f"k2: {project / 'Pulumi.dev.yaml'}:2: byte 0xe9 at column 20 is not UTF-8" in result.output


def test_validate_parses_once_for_hundreds_of_environments(tmp_path, monkeypatch):
    from k2infra.model import source

    extra = "".join(f"  env{i}:\n    replication_factor: 1\n" for i in range(300))
    project = make_project(tmp_path, (ROOT / "topics.yaml").read_text().replace(
        "\nenvironments:\n", "\nenvironments:\n" + extra, 1))
    parses = []
    real = source.parse_yaml
    monkeypatch.setattr(source, "parse_yaml", lambda *args: parses.append(args[0]) or real(*args))
    result = runner.invoke(app, ["validate", "--config", str(project / "topics.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.count(": OK for ") == 302 and len(parses) == 1
