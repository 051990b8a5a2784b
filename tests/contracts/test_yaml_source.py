"""YAML as K2 reads it: the same data and lines from libyaml's events and from ruamel.yaml's, as ruamel.yaml's round
trip gave before; and what would make a small file huge, deep or ambiguous refused with its line."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from k2infra.contracts import yaml_source
from k2infra.contracts.input_files import InputFileError
from k2infra.contracts.yaml_source import MAX_DEPTH, libyaml_events, parse_yaml, ruamel_events
from tests.conftest import ROOT

BACKENDS = [pytest.param(ruamel_events, id="ruamel")]
if yaml_source.LIBYAML:
    BACKENDS.insert(0, pytest.param(libyaml_events, id="libyaml"))
FILE = Path("topics.yaml")


def parsed(text: str, events) -> object:
    return parse_yaml(FILE, text, events).data


def refused(text: str, events) -> InputFileError:
    with pytest.raises(InputFileError) as raised:
        parse_yaml(FILE, text, events)
    return raised.value


def test_operator_installs_parse_with_libyaml():
    """PyYAML (with libyaml) comes with Pulumi: the fast parser is the one the k2 command and the program use."""
    assert yaml_source.DEFAULT_EVENTS is libyaml_events


@pytest.mark.parametrize("events", BACKENDS)
@pytest.mark.parametrize("name", ["topics.yaml", "bench/topology.yaml", "Pulumi.yaml", "Pulumi.prod.yaml"])
def test_the_shipped_files_read_as_ruamel_round_trip_read_them(name, events):
    """The same data, and the same line for every key and item, as the round-trip loader K2 used before."""
    text = (ROOT / name).read_text()
    located = parse_yaml(ROOT / name, text, events)
    expected = YAML(typ="rt").load(text)
    assert located.data == expected
    assert located.lines == dict(round_trip_lines(expected, ()))


def round_trip_lines(node, path):
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            yield (*path, key), node.lc.key(key)[0] + 1
            yield from round_trip_lines(value, (*path, key))
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            yield (*path, index), node.lc.item(index)[0] + 1
            yield from round_trip_lines(value, (*path, index))


SCALARS = ["NO", "yes", "on", "1_000", "012", "0o12", "0x1f", "1:30", "2024-01-01", ".inf", "~", "", "1e3", "True",
           "1.5", "'7'", '"q"', "!!str 5", "!!int 5", "=", "<<", "name", "null", "tRue", "1__0", "0b101"]


@pytest.mark.parametrize("events", BACKENDS)
@pytest.mark.parametrize("scalar", SCALARS)
def test_scalars_resolve_as_yaml_1_2(scalar, events):
    """`country: NO` stays Norway (YAML 1.1 would make it false); numbers as ruamel.yaml reads them."""
    value = parsed(f"a: {scalar}\n", events)["a"]  # type: ignore[index]
    expected = YAML(typ="safe", pure=True).load(f"a: {scalar}\n")["a"] if scalar not in ("=", "<<") else scalar
    assert (value, type(value)) == (expected, type(expected))


@pytest.mark.parametrize("events", BACKENDS)
def test_each_key_and_item_has_its_line(events):
    located = parse_yaml(FILE, "a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\n", events)
    assert located.lines == {("a",): 1, ("a", "b"): 2, ("a", "c"): 3, ("a", "c", 0): 4, ("a", "c", 1): 5,
                             ("a", "c", 1, "d"): 5}


@pytest.mark.parametrize("events", BACKENDS)
@pytest.mark.parametrize(("text", "line", "path", "message"), [
    ("a: 1\nb: &x [1]\nc: *x\n", 2, ("b",), "anchor &x: YAML anchors and aliases are not accepted"),
    ("a: [1, *x]\n", 1, ("a", 1), "alias *x: YAML anchors and aliases are not accepted"),  # without its anchor
    ("a:\n  b: 1\n  b: 2\n", 3, ("a", "b"), "duplicate key 'b': YAML keeps only one of them"),
    ("a: 1\n0x1: 2\n1: 3\n", 3, (1,), "duplicate key 1"),
    ("a: !!binary aGk=\n", 1, ("a",), "the YAML tag !!binary is not accepted"),
    ("a: !!set {x}\n", 1, ("a",), "the YAML tag !!set is not accepted"),
    ("a: !python/object:os.system x\n", 1, ("a",), "the YAML tag !python/object:os.system is not accepted"),
    ("a: !!int ten\n", 1, ("a",), "'ten' is not a valid int"),
    ("a: 2024-13-45\n", 1, ("a",), "'2024-13-45' is not a valid timestamp"),
    ("a: " + "9" * 5000 + "\n", 1, ("a",), "is not a valid int"),
    ("a: 1\n---\nb: 2\n", 2, (), "a second YAML document (---): the file must hold exactly one"),
    ("a:\n  ? [x]\n  : 1\n", 2, ("a",), "a key must be a plain value, not a mapping or a list"),
    ("a: 1\nb: \"x\0\"\n", 2, (), "character U+0000 at column 6 is not allowed in YAML"),
    ("a: 1\nb: \x1b[31m\n", 2, (), "character U+001B at column 4 is not allowed in YAML"),
    ("a:\n  b: [1\n", 3, (), "YAML syntax error"),
])
def test_what_yaml_would_make_huge_or_ambiguous_is_refused_with_its_line(text, line, path, message, events):
    err = refused(text, events)
    assert (err.line, err.message.startswith(message) or message in err.message) == (line, True), err
    if path:
        assert err.path == path


@pytest.mark.parametrize("events", BACKENDS)
@pytest.mark.parametrize("flow", [True, False])
def test_nesting_is_limited_before_it_can_recurse(events, flow):
    depth = 100_000 if flow else MAX_DEPTH + 1
    text = ("a: " + "[" * depth + "]" * depth + "\n" if flow else
            "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + f"{'  ' * depth}v\n")
    err = refused(text, events)
    assert (err.line, err.message) == (1 if flow else MAX_DEPTH + 1,
                                       f"nested more than {MAX_DEPTH} levels deep: K2's files need a handful")
    parsed("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n", events)  # the limit itself is fine


@pytest.mark.parametrize("events", BACKENDS)
def test_a_byte_order_mark_is_allowed(events):
    assert parsed("\ufeffa: 1\n", events) == {"a": 1}


@pytest.mark.parametrize("events", BACKENDS)
def test_an_empty_file_is_no_data(events):
    assert parsed("# only a comment\n", events) is None


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "bomb:\n" + "".join(f"  {line}\n" for line in lines)


def run_bounded(args: list[str], memory: int = 512 * 1024 * 1024, seconds: int = 60) -> subprocess.CompletedProcess:
    """A real process under a memory limit (ulimit -v) and a time limit: what a hostile input may cost."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(args, capture_output=True, text=True, timeout=seconds, preexec_fn=limit, check=False)


def test_a_billion_laughs_is_refused_at_its_first_anchor_in_bounded_time_and_memory(tmp_path):
    """Before: 2.8 GB and over 60 s expanding the aliases. Now the first anchor ends the parse."""
    topics = tmp_path / "topics.yaml"
    topics.write_text((ROOT / "topics.yaml").read_text() + billion_laughs())
    line = topics.read_text().splitlines().index(billion_laughs().splitlines()[1]) + 1
    done = run_bounded([sys.executable, "-m", "k2infra.cli", "validate", "--config", str(topics)])
    assert done.returncode == 1, done.stderr
    assert f"topics.yaml:{line}: bomb.a0: anchor &a0: YAML anchors and aliases are not accepted" in done.stderr
    assert "Traceback" not in done.stderr
