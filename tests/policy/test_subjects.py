"""subject-backward-compatible: BACKWARD or stricter, so consumers on the previous schema keep reading."""

from __future__ import annotations

import pytest

from tests.policy.conftest import of, subject
from tests.policy.harness import Analyzer, Resource


@pytest.mark.parametrize("level", ["BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"])
def test_backward_or_stricter_passes(analyzer: Analyzer, level: str):
    assert of("subject-backward-compatible", analyzer.analyze(subject("market.crypto.trades-value", level))) == []


@pytest.mark.parametrize(("level", "shown"), [("FORWARD", "FORWARD"), ("FORWARD_TRANSITIVE", "FORWARD_TRANSITIVE"),
                                              ("NONE", "NONE"), ("", "unset")])
def test_weaker_levels_fail(analyzer: Analyzer, level: str, shown: str):
    [found] = of("subject-backward-compatible", analyzer.analyze(subject("market.crypto.trades-value", level)))
    assert found.level == "mandatory"
    assert f"market.crypto.trades-value: compatibility is {shown}" in found.message
    assert "Fix: set schema_registry.compatibility: BACKWARD in topics.yaml" in found.message


def test_other_dynamic_resources_are_not_subjects(analyzer: Analyzer):
    other = Resource("pulumi-python:dynamic:Resource", "something", {"compatibility": "NONE", "url": "x"})
    found = analyzer.analyze(other)
    assert of("subject-backward-compatible", found) == of("subject-name", found) == []
