"""Client quotas as code: an app's produce and fetch byte rates and its share of the brokers' request time.

Kafka applies them per authenticated user (`producer_byte_rate`, `consumer_byte_rate`, `request_percentage`), so
one feed handler replaying a day of quotes cannot take every trading app's network and request capacity. Rates are
written as people say them: `10MB/s` (10^6 bytes), `8MiB/s` (2^20), `512KB/s`, `2GB/s`. An app's own `quota`
wins key by key over its environment's `quotas`, so a default can be lifted for one app without repeating the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from k2infra.model.errors import Problem
from k2infra.model.source import KeyPath, SourceDoc
from k2infra.model.spec import QuotaSpec

UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
RATE = re.compile(r"(\d{1,9}(?:\.\d{1,6})?) ?(" + "|".join(UNITS) + r")/s")
# Past a 100 Gbit/s NIC nothing is limited: such a number is a typo (a unit too large), not a quota.
MAX_RATE = 12_500_000_000
MIN_RATE = 1000  # below 1 KB/s a client cannot even fetch its metadata in time
EXAMPLE = "write a rate such as 10MB/s, 512KiB/s or 2GB/s"


@dataclass(frozen=True)
class Quota:
    """The quota Kafka holds a user to; None: that limit is not set."""

    produce_bytes: int | None = None
    fetch_bytes: int | None = None
    request_percentage: float | None = None

    def config(self) -> dict[str, str]:
        """The kafka provider's Quota config (Kafka's names)."""
        pairs = (("producer_byte_rate", self.produce_bytes), ("consumer_byte_rate", self.fetch_bytes),
                 ("request_percentage", self.request_percentage))
        return {key: _number(value) for key, value in pairs if value is not None}

    def to_dict(self) -> dict[str, Any]:
        return {"produce_bytes_per_second": self.produce_bytes, "fetch_bytes_per_second": self.fetch_bytes,
                "request_percentage": self.request_percentage}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_rate(text: str) -> int | str:
    """Bytes per second, or what is wrong with `text`."""
    found = RATE.fullmatch(text.strip())
    if found is None:
        return f"{text!r} is not a rate: {EXAMPLE}"
    rate = int(float(found.group(1)) * UNITS[found.group(2)])
    if rate < MIN_RATE:
        return f"{text.strip()} is below {MIN_RATE} B/s, too little for a client to keep its connection"
    if rate > MAX_RATE:
        return f"{text.strip()} is above 100 Gbit/s, more than any link carries: check the unit"
    return rate


def effective_quota(own: QuotaSpec | None, default: QuotaSpec | None, doc: SourceDoc, own_path: KeyPath,
                    default_path: KeyPath, problems: list[Problem]) -> Quota | None:
    """The app's quota over its environment's defaults, key by key; None when neither sets anything."""
    values: dict[str, Any] = {}
    for spec, path in ((default, default_path), (own, own_path)):
        if spec is None:
            continue
        for key in ("produce", "fetch"):
            text = getattr(spec, key)
            if text is None:
                continue
            rate = parse_rate(text)
            if isinstance(rate, str):
                problems.append(doc.problem((*path, key), rate))
            else:
                values[key] = rate
        if spec.request_percentage is not None:
            if not 0 < spec.request_percentage <= 100 * 64:  # Kafka counts a percentage per I/O and network thread
                problems.append(doc.problem((*path, "request_percentage"), f"{spec.request_percentage} is not a "
                                            "share of request time: write a percentage above 0, such as 25"))
            else:
                values["request"] = spec.request_percentage
    if not values:
        return None
    return Quota(values.get("produce"), values.get("fetch"), values.get("request"))
