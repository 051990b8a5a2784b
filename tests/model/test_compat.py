"""Offline schema compatibility: the design's evolution example passes, data-breaking changes fail
with the field named."""

from __future__ import annotations

import json

import pytest

from k2infra.model.compat import incompatibilities
from tests.conftest import ROOT

# The design's "Evolution Example", version 1 and version 2.
V1 = json.dumps({"type": "record", "name": "Trade", "fields": [
    {"name": "symbol", "type": "string"}, {"name": "price", "type": "double"}, {"name": "quantity", "type": "long"}]})
V2 = json.dumps({"type": "record", "name": "Trade", "fields": [
    *json.loads(V1)["fields"], {"name": "trade_condition", "type": ["null", "string"], "default": None}]})


def edit(schema: str, change) -> str:
    data = json.loads(schema)
    change(data["fields"])
    return json.dumps(data)


def test_design_version_2_is_backward_compatible():
    assert incompatibilities(V2, [V1], "BACKWARD") == []


def test_adding_a_required_field_fails_naming_it():
    v2 = edit(V1, lambda f: f.append({"name": "venue", "type": "string"}))
    (problem,) = incompatibilities(v2, [V1], "BACKWARD")
    assert "'venue'" in problem and "no default" in problem


def test_changing_a_type_fails_naming_the_field():
    v2 = edit(V1, lambda f: f[1].update(type="string"))
    (problem,) = incompatibilities(v2, [V1], "BACKWARD")
    assert "'price'" in problem and "changed type" in problem


def test_removing_a_required_field_fails_naming_it():
    v2 = edit(V1, lambda f: f.pop(2))
    (problem,) = incompatibilities(v2, [V1], "BACKWARD")
    assert "'quantity'" in problem and "removed" in problem


def test_removing_an_optional_field_passes():
    assert incompatibilities(V1, [V2], "BACKWARD") == []


def test_widening_a_type_is_allowed_by_avro_promotion():
    v2 = edit(V1, lambda f: f[2].update(type="double"))  # long -> double: readers promote
    assert incompatibilities(v2, [V1], "BACKWARD") == []


@pytest.mark.parametrize("level,expected", [("BACKWARD", 0), ("BACKWARD_TRANSITIVE", 1)])
def test_transitive_levels_check_every_version_not_just_the_latest(level, expected):
    without_quantity = edit(V1, lambda f: f.pop(2))
    quantity_as_text = edit(without_quantity, lambda f: f.append({"name": "quantity", "type": "string",
                                                                  "default": ""}))
    # Compatible with the latest version, not with the first, which had quantity as a long.
    problems = incompatibilities(quantity_as_text, [V1, without_quantity], level)
    assert len(problems) == expected, problems


def test_forward_and_full():
    v2 = edit(V1, lambda f: f.append({"name": "venue", "type": "string"}))
    assert incompatibilities(v2, [V1], "FORWARD") == []
    assert incompatibilities(v2, [V1], "FULL")
    assert incompatibilities(v2, [V1], "NONE") == []


def test_shipped_schemas_are_compatible_with_themselves():
    for file in (ROOT / "schemas").glob("*.avsc"):
        text = file.read_text()
        assert incompatibilities(text, [text], "BACKWARD_TRANSITIVE") == []
