"""What a retention cut deletes, as the refusal words it (the measurement itself runs in tests/e2e/test_safety)."""

from __future__ import annotations

import pytest

from k2infra.model.data_loss import LossChange
from k2infra.observed.measure import RetentionCut, byte_size, measured


@pytest.mark.parametrize(("count", "shown"), [(0, "0 bytes"), (1023, "1,023 bytes"), (30_600, "29.9 KB"),
                                              (5 * 1024**2, "5.0 MB"), (3 * 1024**3, "3.0 GB"),
                                              (5000 * 1024**3, "5,000.0 GB")])
def test_sizes_are_shown_in_the_largest_fitting_unit(count, shown):
    assert byte_size(count) == shown


@pytest.mark.parametrize(("count", "shown"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (30_600, "29.9 KB"),
                                              (5000 * 1024**3, "5000.0 GB")])
def test_the_dry_runs_table_says_b_and_groups_no_digits(count, shown):  # k2 migrate plan's sizes, as before
    assert byte_size(count, unit="B", grouped=False) == shown


def test_a_cut_says_how_much_of_the_topic_it_deletes():
    cut = RetentionCut("market.equities.trades.asx", 300, 500, 30_600)
    assert cut.describe() == ("300 of its 500 messages (about 29.9 KB) are older than the new limit and would be "
                              "deleted")


@pytest.mark.parametrize(("change", "partitions"), [
    (LossChange("t", "cleanup.policy", "compact", "delete", "", ""), 3),  # not a retention cut
    (LossChange("t", "retention.ms", "-1", "-1", "", ""), 3),  # unlimited: nothing to count
    (LossChange("t", "retention.ms", "604800000", "3600000", "", ""), None),  # not on the cluster
])
def test_only_retention_cuts_of_existing_topics_are_measured(change, partitions):
    assert measured(change, {"bootstrap.servers": "127.0.0.1:1"}, partitions) == ""
