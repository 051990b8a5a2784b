"""partitions-within-guidelines, reference-data-single-partition (mandatory); symbols-per-partition and
partitions-for-message-rate (advisory), against the design's "Partition Strategy"."""

from __future__ import annotations

import pytest

from policy.design import GUIDELINE_PARTITIONS, partitions_for_symbols, volume_band
from tests.policy.conftest import SHIPPED_TOPICS, exchange_topics, of, topic
from tests.policy.harness import Analyzer, Violation

REFERENCE = {"compression.type": "lz4", "cleanup.policy": "compact"}


def analyze_in(analyzer: Analyzer, name: str, partitions: int, environment: str = "dev",
               config: dict[str, str] | None = None) -> list[Violation]:
    _, asset_class, _, exchange = name.split(".")
    group = exchange_topics(asset_class, exchange, environment)
    return analyzer.analyze(group) + analyzer.analyze(topic(name, partitions, config=config, parent=group))


def with_exchange(**fields: object) -> str:
    """The shipped topics.yaml with ASX's entry changed."""
    lines = "".join(f"        {k}: {v}\n" for k, v in fields.items())
    return SHIPPED_TOPICS.replace('        symbols: 2000\n', lines)


def test_the_guideline_range_is_the_tables_span():
    assert GUIDELINE_PARTITIONS == (10, 200)


@pytest.mark.parametrize("partitions", [10, 30, 40, 200])
def test_counts_within_the_guidelines_pass(analyzer: Analyzer, partitions: int):
    assert of("partitions-within-guidelines", analyze_in(analyzer, "market.crypto.trades.binance", partitions)) == []


@pytest.mark.parametrize("partitions", [1, 9, 201, 400])
def test_counts_outside_the_guidelines_fail(analyzer: Analyzer, partitions: int):
    [found] = of("partitions-within-guidelines", analyze_in(analyzer, "market.crypto.quotes.binance", partitions))
    assert found.level == "mandatory"
    assert (f"market.crypto.quotes.binance: {partitions} partitions is outside the design's guideline range "
            "10-200") in found.message
    assert ("Fix: set asset_classes.crypto.exchanges.binance.partitions (or its overrides.quotes.partitions) in "
            "topics.yaml to a count from 10 to 200") in found.message


def test_an_environment_cap_allows_fewer_in_that_environment_only(analyzer_for):
    capped = SHIPPED_TOPICS.replace("  dev:\n", "  dev:\n    max_partitions: 3\n")
    analyzer = analyzer_for(capped)
    assert of("partitions-within-guidelines", analyze_in(analyzer, "market.equities.trades.asx", 3, "dev")) == []
    assert of("partitions-within-guidelines", analyze_in(analyzer, "market.equities.trades.asx", 3, "prod"))
    # The cap is a ceiling, not a licence: above the guideline range is still refused.
    assert of("partitions-within-guidelines", analyze_in(analyzer, "market.equities.trades.asx", 300, "dev"))


def test_reference_data_is_outside_the_guideline_range(analyzer: Analyzer):
    found = analyze_in(analyzer, "market.equities.reference_data.asx", 1, config=REFERENCE)
    assert of("partitions-within-guidelines", found) == of("reference-data-single-partition", found) == []


@pytest.mark.parametrize("partitions", [2, 4, 30])
def test_reference_data_on_more_than_one_partition_fails(analyzer: Analyzer, partitions: int):
    name = "market.equities.reference_data.asx"
    [found] = of("reference-data-single-partition", analyze_in(analyzer, name, partitions, config=REFERENCE))
    assert found.level == "mandatory"
    assert f"{name}: reference data has {partitions} partitions, not 1" in found.message
    assert ("Fix: set data_types.reference_data.partitions: 1 in topics.yaml; if more are meant, say so for this "
            f"exchange: asset_classes.equities.exchanges.asx.overrides.reference_data.partitions: {partitions}"
            ) in found.message


def test_reference_data_overridden_on_purpose_passes_at_exactly_that_count(analyzer_for):
    analyzer = analyzer_for(with_exchange(symbols=2000, overrides="{reference_data: {partitions: 4}}"))
    name = "market.equities.reference_data.asx"
    assert of("reference-data-single-partition", analyze_in(analyzer, name, 4, config=REFERENCE)) == []
    assert of("reference-data-single-partition", analyze_in(analyzer, name, 6, config=REFERENCE))
    # The override is ASX's: Binance's reference data still has to be 1.
    assert of("reference-data-single-partition",
              analyze_in(analyzer, "market.crypto.reference_data.binance", 4, config=REFERENCE))


def test_symbols_per_partition_at_or_under_the_target_pass(analyzer: Analyzer):
    # The shipped ASX: 2000 symbols over 30 partitions, 67 each; Binance states no symbol count.
    assert of("symbols-per-partition", analyze_in(analyzer, "market.equities.trades.asx", 30)) == []
    assert of("symbols-per-partition", analyze_in(analyzer, "market.equities.trades.asx", 20)) == []
    assert of("symbols-per-partition", analyze_in(analyzer, "market.crypto.trades.binance", 10)) == []


def test_too_many_symbols_per_partition_is_advice(analyzer_for):
    analyzer = analyzer_for(with_exchange(symbols=2800))
    [found] = of("symbols-per-partition", analyze_in(analyzer, "market.equities.quotes.asx", 10))
    assert found.level == "advisory"
    assert ("market.equities.quotes.asx: 2800 symbols over 10 partitions is 280 per partition, above the "
            "design's target of 100") in found.message
    assert "Fix: raise asset_classes.equities.exchanges.asx.partitions to 28 or more" in found.message
    assert of("symbols-per-partition",
              analyze_in(analyzer, "market.equities.reference_data.asx", 1, config=REFERENCE)) == []


@pytest.mark.parametrize(("rate", "band", "recommended"), [
    (1, "Low", (10, 20)), (99, "Low", (10, 20)), (100, "Medium", (30, 50)), (1000, "Medium", (30, 50)),
    (1001, "High", (50, 100)), (5000, "High", (50, 100)), (7000, "High to Very High", (50, 200)),
    (10000, "Very High", (100, 200)), (50000, "Very High", (100, 200)),
])
def test_the_volume_table(rate: int, band: str, recommended: tuple[int, int]):
    assert (volume_band(rate).name, volume_band(rate).partitions) == (band, recommended)


def test_partitions_for_symbols():
    assert [partitions_for_symbols(n) for n in (1, 100, 101, 2000, 2800)] == [1, 1, 2, 20, 28]


@pytest.mark.parametrize(("rate", "partitions"), [(500, 30), (500, 15), (500, 100), (20000, 50), (50, 40)])
def test_partitions_near_the_table_for_the_rate_pass(analyzer_for, rate: int, partitions: int):
    analyzer = analyzer_for(with_exchange(messages_per_second=rate))
    assert of("partitions-for-message-rate", analyze_in(analyzer, "market.equities.trades.asx", partitions)) == []


@pytest.mark.parametrize(("rate", "partitions", "recommended", "fix"), [
    (500, 10, "30-50 for Medium volume (100-1000 messages/s; topics.yaml states 500)",
     "raise asset_classes.equities.exchanges.asx.partitions to 30-50"),
    (20000, 40, "100-200 for Very High volume (10000+ messages/s; topics.yaml states 20000)",
     "raise asset_classes.equities.exchanges.asx.partitions to 100-200"),
    (50, 60, "10-20 for Low volume (<100 messages/s; topics.yaml states 50)",
     "correct asset_classes.equities.exchanges.asx.messages_per_second if it is understated"),
])
def test_partitions_far_from_the_table_is_advice(analyzer_for, rate, partitions, recommended, fix):
    analyzer = analyzer_for(with_exchange(messages_per_second=rate))
    [found] = of("partitions-for-message-rate", analyze_in(analyzer, "market.equities.trades.asx", partitions))
    assert found.level == "advisory"
    assert (f"market.equities.trades.asx: {partitions} partitions is far from the design's table, which "
            f"recommends {recommended}") in found.message
    assert f"Fix: {fix}" in found.message


def test_no_stated_rate_no_advice(analyzer: Analyzer):
    assert of("partitions-for-message-rate", analyze_in(analyzer, "market.equities.trades.asx", 11)) == []
