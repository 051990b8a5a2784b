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


def _naming(problems: list[str], field: str) -> list[str]:
    return [p for p in problems if p.startswith(f"field {field!r} ")]


def test_two_type_changes_in_one_edit_each_name_their_own_field_and_types():
    # symbol string -> int and price double -> string: avro reports both in one unordered set.
    v2 = edit(V1, lambda f: (f[0].update(type="int"), f[1].update(type="string")))
    problems = incompatibilities(v2, [V1], "BACKWARD")
    assert len(problems) == 2, problems
    (symbol,) = _naming(problems, "symbol")
    (price,) = _naming(problems, "price")
    assert "changed type from string to int" in symbol
    assert "changed type from double to string" in price


def test_three_incompatibilities_in_one_edit_are_all_reported_with_their_own_reason():
    def change(fields):
        fields[1].update(type="string")  # price: type change
        fields.pop(2)  # quantity: required, removed
        fields.append({"name": "venue", "type": "string"})  # venue: new, no default

    problems = incompatibilities(edit(V1, change), [V1], "BACKWARD")
    assert len(problems) == 3, problems
    (price,) = _naming(problems, "price")
    (quantity,) = _naming(problems, "quantity")
    (venue,) = _naming(problems, "venue")
    assert "changed type from double to string" in price
    assert "is required (no default) and was removed" in quantity
    assert "is new and has no default" in venue
    assert not _naming(problems, "symbol")


def test_a_new_field_without_default_and_a_type_change_keep_their_reasons_apart():
    # New fields come first here, so location order and message order disagree.
    v2 = edit(V1, lambda f: (f.insert(0, {"name": "aaa_venue", "type": "string"}), f[3].update(type="string")))
    problems = incompatibilities(v2, [V1], "BACKWARD")
    assert len(problems) == 2, problems
    (venue,) = _naming(problems, "aaa_venue")
    (quantity,) = _naming(problems, "quantity")
    assert "is new and has no default" in venue and "changed type" not in venue
    assert "changed type from long to string" in quantity


def test_full_reports_each_direction_for_each_field():
    v2 = edit(V1, lambda f: (f[1].update(type="string"), f.pop(2)))
    problems = incompatibilities(v2, [V1], "FULL")
    price = _naming(problems, "price")
    assert len(price) == 2 and any("new schema cannot read" in p for p in price) \
        and any("deployed schema cannot read" in p for p in price)
    (quantity,) = _naming(problems, "quantity")
    assert "required by the deployed schema and missing from the new one" in quantity


def test_fields_of_a_nested_record_are_named_with_their_path():
    def nested(a_type: str, extra: dict) -> str:
        return json.dumps({"type": "record", "name": "Quote", "fields": [
            {"name": "bid", "type": {"type": "record", "name": "Level", "fields": [
                {"name": "price", "type": a_type}, extra]}}]})

    old = nested("double", {"name": "size", "type": "long", "default": 0})
    new = nested("string", {"name": "orders", "type": "int"})
    problems = incompatibilities(new, [old], "BACKWARD")
    assert len(problems) == 2, problems
    (price,) = _naming(problems, "bid.price")
    (orders,) = _naming(problems, "bid.orders")
    assert "changed type from double to string" in price
    assert "is new and has no default" in orders


def test_dropped_enum_symbols_are_named():
    side = {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL", "CROSS"]}
    old = edit(V1, lambda f: f.append({"name": "side", "type": side}))
    new = edit(V1, lambda f: f.append({"name": "side", "type": dict(side, symbols=["BUY"])}))
    (problem,) = incompatibilities(new, [old], "BACKWARD")
    assert problem.startswith("field 'side' (enum Side) drops the symbols SELL, CROSS")


def test_fields_of_a_nullable_nested_record_are_named_with_their_path():
    def with_quote(fields: list) -> str:
        return json.dumps({"type": "record", "name": "Snapshot", "fields": [
            {"name": "quote", "type": ["null", {"type": "record", "name": "Quote", "fields": fields}],
             "default": None}]})

    old = with_quote([{"name": "bid", "type": "double"}])
    new = with_quote([{"name": "bid", "type": "string"}, {"name": "ask", "type": "double"}])
    problems = incompatibilities(new, [old], "BACKWARD")
    assert len(problems) == 2, problems
    (bid,) = _naming(problems, "quote.bid")
    (ask,) = _naming(problems, "quote.ask")
    assert "changed type from double to string" in bid and "is new and has no default" in ask


def test_a_schema_that_is_not_a_record_is_checked_whole():
    (problem,) = incompatibilities('"int"', ['"string"'], "BACKWARD")
    assert problem.startswith("the schema changed type from string to int")
