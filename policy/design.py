"""The design's numbers (docs/kafka-topic-architecture.md), in one place for every rule.

Names and compatibility levels are not here: they are k2infra.contracts.naming, shared with the program.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REFERENCE_DATA = "reference_data"
MARKET_EVENTS = ("trades", "quotes")  # streams that expire: they need a retention and a fast codec

# lz4 is the design's default, snappy its small-exchange choice; zstd is as fast to decompress.
# gzip and "producer" (whatever each client sends) cost consumers latency the design cannot afford.
ALLOWED_COMPRESSION = ("lz4", "snappy", "zstd")

# The production rules hold in every protected environment (topics.yaml), whatever its name.
PROD_MIN_REPLICATION = 3  # survives one broker down while another restarts
PROD_MIN_INSYNC = 2  # acks=all then means two copies of every trade

TARGET_SYMBOLS_PER_PARTITION = 100
FAR_FACTOR = 2  # "far from the table": below half its lower count or above double its upper count


@dataclass(frozen=True)
class VolumeBand:
    """One row of the design's "Guidelines by Exchange Volume" table, keyed by message rate."""

    name: str
    rates: str
    max_rate: float  # inclusive upper bound of messages/s for this row
    partitions: tuple[int, int]


# The table leaves 5000-10000 msg/s unassigned; it gets the span of its two neighbours.
VOLUME_BANDS = (
    VolumeBand("Low", "<100", 99, (10, 20)),
    VolumeBand("Medium", "100-1000", 1000, (30, 50)),
    VolumeBand("High", "1000-5000", 5000, (50, 100)),
    VolumeBand("High to Very High", "5000-10000", 9999, (50, 200)),
    VolumeBand("Very High", "10000+", math.inf, (100, 200)),
)

# Every count the table recommends lies in this range: the mandatory bounds for market events.
GUIDELINE_PARTITIONS = (
    min(b.partitions[0] for b in VOLUME_BANDS),
    max(b.partitions[1] for b in VOLUME_BANDS),
)


def volume_band(messages_per_second: float) -> VolumeBand:
    return next(b for b in VOLUME_BANDS if messages_per_second <= b.max_rate)


def partitions_for_symbols(symbols: int) -> int:
    """The fewest partitions that keep an exchange at or under the target symbols per partition."""
    return math.ceil(symbols / TARGET_SYMBOLS_PER_PARTITION)
