"""topics.yaml and its schema files as files: what kind of file, how big, where, in which encoding; each refusal a
located error, never a hang or a traceback; and one parse whatever the number of environments."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from k2infra.model import TopologyError, load_topologies, load_topology, source
from k2infra.model.avro_files import SCHEMA_LIMIT
from tests.conftest import ROOT, make_project

SHIPPED = (ROOT / "topics.yaml").read_text()


def problems(topics: Path, environment: str | None = "dev") -> list[str]:
    with pytest.raises(TopologyError) as raised:
        load_topology(topics, environment)
    return [str(p) for p in raised.value.problems]


def with_trades_schema(tmp_path: Path, name: str) -> Path:
    """A project whose crypto trades use the schema file `name` (relative to schemas/)."""
    text = SHIPPED.replace('        trading_hours: "24/7"\n',
                           f'        trading_hours: "24/7"\n    schemas:\n      trades: {name}\n', 1)
    return make_project(tmp_path / "project", text)


def line_of(file: Path, text: str) -> int:
    return next(i for i, line in enumerate(file.read_text().splitlines(), 1) if text in line)


def test_topics_yaml_as_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "topics.yaml"
    os.mkfifo(fifo)
    found: list[list[str]] = []
    reader = threading.Thread(target=lambda: found.append(problems(fifo)), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():
        with open(fifo, "w"):
            pass
        pytest.fail("reading topics.yaml as a FIFO blocked")
    assert found == [[f"{fifo}: is not a regular file (a device, a pipe or a socket): K2 reads only regular files"]]


def test_topics_yaml_as_a_device_is_refused():
    assert problems(Path("/dev/zero")) == [
        "/dev/zero: is not a regular file (a device, a pipe or a socket): K2 reads only regular files"]


def test_topics_yaml_above_its_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "TOPICS_LIMIT", len(SHIPPED) - 1)
    topics = make_project(tmp_path) / "topics.yaml"
    assert problems(topics) == [f"{topics}: the file is 0.0 MB; K2 reads at most 0 MB here"]


def test_the_topics_limit_is_16_mb():
    assert source.TOPICS_LIMIT == 16 * 1024 * 1024


def test_a_non_utf8_byte_in_topics_yaml_names_its_line_and_column(tmp_path):
    project = make_project(tmp_path)
    data = SHIPPED.encode().replace(b'name: "Binance"', b'name: "Bin\xffance"')
    (project / "topics.yaml").write_bytes(data)
    line = data.decode(errors="replace").splitlines().index('        name: "Bin\ufffdance"') + 1
    assert problems(project / "topics.yaml") == [
        f"{project / 'topics.yaml'}:{line}: byte 0xff at column 19 is not UTF-8: save the file as UTF-8"]


def test_a_nul_byte_in_topics_yaml_names_its_line(tmp_path):
    project = make_project(tmp_path, SHIPPED.replace('name: "Binance"', 'name: "Bin\0ance"'))
    line = line_of(project / "topics.yaml", "Bin\0ance")
    assert problems(project / "topics.yaml") == [
        f"{project / 'topics.yaml'}:{line}: character U+0000 at column 19 is not allowed in YAML: remove it"]


def test_a_schema_symlink_out_of_the_repository_is_refused_with_the_line_of_the_mapping(tmp_path):
    outside = tmp_path / "elsewhere.avsc"
    outside.write_text((ROOT / "schemas" / "trade.avsc").read_text())
    project = with_trades_schema(tmp_path, "link.avsc")
    (project / "schemas" / "link.avsc").symlink_to(outside)
    line = line_of(project / "topics.yaml", "trades: link.avsc")
    assert problems(project / "topics.yaml") == [
        f"{project / 'topics.yaml'}:{line}: asset_classes.crypto.schemas.trades: schema file 'link.avsc' is outside "
        "the repository (a symlink leads out of it): give a path inside the directory of topics.yaml, relative to "
        "schemas/"]


def test_a_schema_symlink_to_a_device_is_refused(tmp_path):
    project = with_trades_schema(tmp_path, "zero.avsc")
    (project / "schemas" / "zero.avsc").symlink_to("/dev/zero")
    assert "is outside the repository (a symlink leads out of it)" in problems(project / "topics.yaml")[0]


def test_a_schema_symlink_inside_the_repository_is_followed(tmp_path):
    project = with_trades_schema(tmp_path, "alias.avsc")
    (project / "schemas" / "alias.avsc").symlink_to(project / "schemas" / "trade.avsc")
    subject = next(s for s in load_topology(project / "topics.yaml", "dev").subjects
                   if s.subject == "market.crypto.trades-value")
    assert subject.schema_file == "schemas/trade.avsc"


def test_a_schemas_directory_linked_out_of_the_repository_is_refused(tmp_path):
    project = make_project(tmp_path / "project")
    os.rename(project / "schemas", tmp_path / "shared")
    (project / "schemas").symlink_to(tmp_path / "shared")
    assert len(problems(project / "topics.yaml")) == 3  # one per shared schema file


def test_a_schemas_directory_the_caller_chooses_may_be_elsewhere(tmp_path):
    topics = tmp_path / "topics.yaml"
    topics.write_text(SHIPPED)
    assert len(load_topology(topics, "dev", schemas_dir=ROOT / "schemas").subjects) == 6


def test_a_fifo_as_a_schema_is_refused_without_hanging(tmp_path):
    project = with_trades_schema(tmp_path, "pipe.avsc")
    os.mkfifo(project / "schemas" / "pipe.avsc")
    found: list[list[str]] = []
    reader = threading.Thread(target=lambda: found.append(problems(project / "topics.yaml")), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():
        with open(project / "schemas" / "pipe.avsc", "w"):
            pass
        pytest.fail("reading a FIFO schema blocked")
    assert found == [[f"{project / 'schemas' / 'pipe.avsc'}: is not a regular file (a device, a pipe or a socket): "
                      "K2 reads only regular files"]]


def test_a_schema_above_its_limit_is_refused(tmp_path):
    project = with_trades_schema(tmp_path, "huge.avsc")
    (project / "schemas" / "huge.avsc").write_text(" " * SCHEMA_LIMIT + "{}")
    assert problems(project / "topics.yaml") == [
        f"{project / 'schemas' / 'huge.avsc'}: the file is 1.0 MB; K2 reads at most 1 MB here"]


def test_a_schema_error_never_echoes_more_than_an_excerpt(tmp_path):
    project = with_trades_schema(tmp_path, "leaky.avsc")
    secret = "password=hunter2 " * 100
    (project / "schemas" / "leaky.avsc").write_text(
        '{"type": "record", "name": "X", "fields": [{"nam": "p", "type": "int", "doc": "' + secret + '"}]}')
    (message,) = problems(project / "topics.yaml")
    assert message.count("hunter2") <= 4 and len(message) < len(str(project)) + 200


def environments(count: int) -> str:
    extra = "".join(f"  env{i}:\n    replication_factor: 1\n    min_insync_replicas: 1\n" for i in range(count))
    return SHIPPED.replace("\nenvironments:\n", "\nenvironments:\n" + extra, 1)


def test_every_environment_is_derived_from_one_parse(tmp_path, monkeypatch):
    """Before: one parse per environment, 33 s for 300 of them in a 12 KB file."""
    topics = make_project(tmp_path, environments(300)) / "topics.yaml"
    parses = []
    real = source.parse_yaml
    monkeypatch.setattr(source, "parse_yaml", lambda *args: parses.append(args[0]) or real(*args))
    names = [t.environment for t in load_topologies(topics)]
    assert len(names) == 302 and names[:2] == ["env0", "env1"] and names[-1] == "prod"
    assert parses == [topics]


def test_named_environments_come_from_one_parse_too(tmp_path, monkeypatch):
    parses = []
    real = source.parse_yaml
    monkeypatch.setattr(source, "parse_yaml", lambda *args: parses.append(args[0]) or real(*args))
    assert [t.environment for t in load_topologies(ROOT / "topics.yaml", ["prod", None])] == ["prod", "default"]
    assert len(parses) == 1
