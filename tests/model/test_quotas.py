"""Quotas as code in the model: rates as people write them, an app's quota over its environment's default key by
key, the shipped file's quotas, and a located error (file, line, key) for every malformed one."""

from __future__ import annotations

import pytest

from k2infra.model import TopologyError, load_topology
from k2infra.model.quotas import Quota, parse_rate
from tests.conftest import ROOT, make_project

SHIPPED = (ROOT / "topics.yaml").read_text()
ASX_QUOTA = '    quota: {produce: "10MB/s"}'


def topology(tmp_path, text: str = SHIPPED, environment: str = "prod"):
    return load_topology(make_project(tmp_path, text) / "topics.yaml", environment)


def problem(tmp_path, text: str, environment: str = "prod"):
    with pytest.raises(TopologyError) as raised:
        topology(tmp_path, text, environment)
    [found] = raised.value.problems
    return found


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("text", "rate"), [("10MB/s", 10_000_000), ("512KiB/s", 524_288), ("1.5 GB/s", 1_500_000_000),
                                            ("8MiB/s", 8 * 2**20), ("2048B/s", 2048), (" 1KB/s ", 1000)])
def test_rates_read_as_people_write_them(text: str, rate: int):
    assert parse_rate(text) == rate


@pytest.mark.parametrize(("text", "says"), [("fast", "is not a rate"), ("10MB", "is not a rate"),
                                            ("-1MB/s", "is not a rate"), ("10mb/s", "is not a rate"),
                                            ("1e9B/s", "is not a rate"), ("100B/s", "below 1000 B/s"),
                                            ("900GB/s", "above 100 Gbit/s"), ("9" * 40 + "GB/s", "is not a rate")])
def test_a_malformed_rate_says_what_is_wrong(text: str, says: str):
    wrong = parse_rate(text)
    assert isinstance(wrong, str) and says in wrong


def test_the_shipped_feed_handlers_get_a_produce_quota_and_consumers_a_fetch_quota(tmp_path):
    dev = {a.name: a.quota for a in topology(tmp_path, environment="dev").apps}
    assert dev["asx-feed"] == dev["binance-feed"] == Quota(produce_bytes=10_000_000)
    assert dev["iceberg-writer"] == Quota(fetch_bytes=50_000_000)
    assert dev["asx-market-maker"] is None  # dev sets no default


def test_an_apps_quota_wins_over_its_environments_default_key_by_key(tmp_path):
    prod = {a.name: a.quota for a in topology(tmp_path).apps}
    assert prod["asx-feed"] == Quota(produce_bytes=10_000_000, fetch_bytes=20_000_000)
    assert prod["iceberg-writer"] == Quota(produce_bytes=5_000_000, fetch_bytes=50_000_000)
    assert prod["compliance-monitor"] == Quota(produce_bytes=5_000_000, fetch_bytes=20_000_000)
    assert Quota(1_000_000, None, 25).config() == {"producer_byte_rate": "1000000", "request_percentage": "25"}


def test_a_malformed_app_quota_is_located(tmp_path):
    text = SHIPPED.replace(ASX_QUOTA, '    quota: {produce: "fast"}', 1)
    found = problem(tmp_path, text)
    assert (found.line, found.key) == (line_of(text, 'produce: "fast"'), "apps.asx-feed.quota.produce")
    assert "'fast' is not a rate: write a rate such as 10MB/s" in found.message


def test_a_malformed_environment_default_is_located_once(tmp_path):
    text = SHIPPED.replace('quotas: {produce: "5MB/s"', 'quotas: {produce: "5MB"', 1)
    with pytest.raises(TopologyError) as raised:
        topology(tmp_path, text)
    keys = {(p.key, p.line) for p in raised.value.problems}
    assert keys == {("environments.prod.quotas.produce", line_of(text, 'quotas: {produce: "5MB"'))}


@pytest.mark.parametrize(("quota", "key", "says"), [
    ("{request_percentage: 0}", "apps.asx-feed.quota.request_percentage", "not a share of request time"),
    ("{produce: 10}", "apps.asx-feed.quota.produce", ""),
    ("{bandwidth: 10MB/s}", "apps.asx-feed.quota.bandwidth", ""),
])
def test_a_wrong_value_or_unknown_quota_key_is_located(tmp_path, quota: str, key: str, says: str):
    text = SHIPPED.replace(ASX_QUOTA, f"    quota: {quota}", 1)
    found = problem(tmp_path, text)
    assert found.key == key and found.line == line_of(text, f"    quota: {quota}")
    assert says in found.message
