"""Fuzzing the model with careless edits of the shipped topics.yaml: whatever the edit, load_topology gives a
Topology or a TopologyError whose every problem names its file, never another exception.

The edits are what a hurried contributor makes: a stray byte, a line lost or pasted twice, a value replaced
by some other YAML scalar, a key misspelt. Derandomized and without an example database, so that every run
(CI's included) tries the same examples; about 20 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k2infra.model import Topology, TopologyError, load_topology
from tests.conftest import make_project
from tests.hostile.inputs import SHIPPED

LINES = SHIPPED.encode("utf-8").splitlines(keepends=True)
# Lines with a `key: value`, where values can be swapped and keys renamed.
KEYED = [n for n, line in enumerate(LINES) if b":" in line and not line.lstrip().startswith(b"#")]
SCALARS = ["~", "null", "true", "no", "on", "yes", "0", "-1", "2147483648", "9" * 30, "1e400", ".nan", ".inf",
           "-.inf", "0x1F", "0o17", "''", '""', "[]", "{}", "[a, [b]]", "{a: 1}", "*undefined", "&anchor x",
           "!!binary aGk=", "!!str 40", "!!python/name:os.system", "!custom 1", "<<", "|", ">-", '"\\x00"',
           '"\\ud800"', '"a\\nb"', '"*"', '"User:ANONYMOUS"', '"../../etc/passwd"', '"/dev/zero"', "1ms",
           '"99999999999999w"', "- a", "a: b", "? x", "@x", "`x", "%x", "#x"]
KEYS = ["partitions", "config", "exchanges", "data_types", "asset_classes", "environments", "decommission",
        "principal", "schemas", "subject_pattern", "<<", "~", "1", "x" * 300, "Ünïcode", '"a\\nb"', "'*'"]

scalar = st.one_of(st.sampled_from(SCALARS), st.integers().map(str), st.floats().map(repr),
                   st.text(max_size=12).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'))
key = st.one_of(st.sampled_from(KEYS), st.from_regex(r"[a-z_.\-]{1,12}", fullmatch=True))


@st.composite
def mutation(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    """One careless edit of `lines` (a new list)."""
    lines = list(lines)
    kind = draw(st.sampled_from(["byte", "delete", "duplicate", "value", "key"]))
    index = draw(st.integers(0, len(lines) - 1))
    if kind == "byte":
        line = bytearray(lines[index])
        position = draw(st.integers(0, max(len(line) - 1, 0)))
        line[position:position + 1] = bytes([draw(st.integers(0, 255))])
        lines[index] = bytes(line)
    elif kind == "delete":
        del lines[index]
    elif kind == "duplicate":
        lines.insert(index, lines[index])
    else:
        keyed = [n for n in KEYED if n < len(lines) and b":" in lines[n]] or [index]
        index = draw(st.sampled_from(keyed))
        head, _, tail = lines[index].partition(b":")
        indent = head[:len(head) - len(head.lstrip())]
        if kind == "value":
            lines[index] = head + b": " + draw(scalar).encode("utf-8", "surrogatepass") + b"\n"
        else:
            lines[index] = indent + draw(key).encode("utf-8") + b":" + tail
    return lines


@st.composite
def careless_edits(draw: st.DrawFn) -> bytes:
    lines = LINES
    for _ in range(draw(st.integers(1, 4))):
        lines = draw(mutation(lines))
    return b"".join(lines)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("fuzz") / "project")


@settings(max_examples=200, deadline=None, database=None, derandomize=True, print_blob=False,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=careless_edits(), environment=st.sampled_from([None, "dev", "prod"]))
def test_a_careless_edit_gives_a_topology_or_located_problems(project: Path, text: bytes,
                                                              environment: str | None) -> None:
    topics = project / "topics.yaml"
    topics.write_bytes(text)
    try:
        result = load_topology(topics, environment)
    except TopologyError as error:
        assert error.problems and str(error)
        for problem in error.problems:
            assert isinstance(problem.file, Path) and str(problem.file), problem
            assert problem.line is None or problem.line >= 1, problem
            assert str(problem).startswith(str(problem.file)), problem
        return
    assert isinstance(result, Topology) and result.topics
