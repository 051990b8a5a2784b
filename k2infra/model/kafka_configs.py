"""Kafka topic-level config keys, each with the type and range Kafka 4.1 gives it.

Transcribed from Kafka 4.1.1's LogConfig (each key's ConfigDef type and validator; `LogConfig.configKeys()`
lists them): Kafka publishes them only as Java code and HTML docs, and the set is small and stable.
tests/model/test_kafka_configs.py pins a few of Kafka's own values. Knowing them lets `k2 validate` reject a
misspelt key or a value the broker would refuse (or read as something else) before any stack sees it, and
normalise values to the strings the broker reports back, so plans settle without churn.

K2 is stricter than Kafka in a few places, each said in its message: whole numbers are ASCII digits only,
ratios are plain decimals (no NaN), and cleanup.policy must name at least one policy.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

INT_MAX = 2**31 - 1  # Kafka's INT keys are Java ints
LONG_MAX = 2**63 - 1  # and its LONG keys Java longs: a larger number is "Not a number of type LONG"

COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
CLEANUP_POLICIES = ("delete", "compact")  # a list of one or both; K2 writes both as compact,delete
TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")

_WHOLE = re.compile(r"-?[0-9]+")  # ASCII: Python's \d (and Java's parser) also take other scripts' digits
_DURATION = re.compile(r"([0-9]+)\s*(ms|s|m|h|d|w)")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DECIMAL = re.compile(r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]{1,3})?")
_REPLICA = re.compile(r"[0-9]{1,10}:[0-9]{1,10}")
_DIGITS = 20  # more digits than any long: out of range without converting (int() refuses 4300+ digits)


class ConfigValueError(ValueError):
    """A topic config value the broker would refuse."""


@dataclass(frozen=True)
class Whole:
    """An INT or LONG key and its Range validator; `ms` keys also take a duration ('7d', '1h', '500ms')."""

    kafka_type: Literal["INT", "LONG"]
    minimum: int
    maximum: int | None = None  # None: the type's largest
    meaning: str = ""  # what the smallest value means, e.g. "-1: unlimited"
    ms: bool = False
    also: int | None = None  # one value outside the range that Kafka also takes (gzip's -1)

    @property
    def largest(self) -> int:
        if self.maximum is not None:
            return self.maximum
        return INT_MAX if self.kafka_type == "INT" else LONG_MAX

    def accepts(self) -> str:
        numbers = f"a whole number from {self.minimum} to {self.largest}"
        if self.also is not None:
            numbers = f"{self.also} or {numbers}"
        note = f"; {self.meaning}" if self.meaning else ""
        if self.ms:
            return f"{numbers} milliseconds (Kafka's {self.kafka_type}{note}) or a duration like '7d', '1h', '30m'"
        return f"{numbers} (Kafka's {self.kafka_type}{note})"

    def __call__(self, value: object) -> str:
        number, shown = self._number(value)
        if number is None or not (self.minimum <= number <= self.largest or number == self.also):
            raise ConfigValueError(f"must be {self.accepts()}; got {shown}")
        return str(number)

    def _number(self, value: object) -> tuple[int | None, str]:
        """The value as an int (None if it is none) and as shown in a message."""
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None, shown(value)
        if isinstance(value, int):
            return int(value), shown(int(value))
        text = value.strip()
        duration = _DURATION.fullmatch(text) if self.ms else None
        digits = duration.group(1) if duration else text
        if not _WHOLE.fullmatch(digits):
            return None, shown(value)
        if len(digits.lstrip("-")) > _DIGITS:
            return None, f"{shown(value)} (more digits than Kafka's largest {self.kafka_type})"
        if duration is None:
            return int(digits), text
        millis = int(digits) * _DURATION_MS[duration.group(2)]
        return millis, f"{shown(value)} ({millis} ms)"


def shown(value: object) -> str:
    """The value as a message shows it: short, whatever the file holds."""
    if isinstance(value, int) and value.bit_length() > 256:  # repr() refuses ints of 4300+ digits
        return "a number of more than 70 digits"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:36]}...{text[-1]}"


def _choice(options: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        text = value.strip() if isinstance(value, str) else ""
        if text not in options:
            raise ConfigValueError(f"must be one of {', '.join(options)} (as written: Kafka is case-sensitive); "
                                   f"got {shown(value)}")
        return text

    return check


def _cleanup_policy(value: object) -> str:
    """Kafka's LIST of compact and delete, in either order: one spelling (compact,delete) for both."""
    parts = {p.strip() for p in value.split(",")} if isinstance(value, str) else {""}
    if not parts or not parts <= set(CLEANUP_POLICIES) or parts == {""}:
        raise ConfigValueError(f"must be delete, compact or compact,delete (a list of Kafka's policies; an empty "
                               f"one, keeping every record forever, is not one K2 declares); got {shown(value)}")
    return ",".join(p for p in ("compact", "delete") if p in parts)


def _boolean(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    raise ConfigValueError(f"must be true or false (Kafka's BOOLEAN); got {shown(value)}")


def _ratio(value: object) -> str:
    """A DOUBLE from 0 to 1, written as a plain decimal: Java also parses 'NaN', '0x1p-1' and '0.5d'."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(float(value)) if isinstance(value, float) else str(int(value))
    else:
        text = ""
    if not _DECIMAL.fullmatch(text) or not 0 <= float(text) <= 1:
        raise ConfigValueError(f"must be a decimal number between 0 and 1 (Kafka's DOUBLE, e.g. 0.5); "
                               f"got {shown(value)}")
    return text


def _replicas(value: object) -> str:
    """Throttled replicas: '*' or partition:broker pairs, comma-separated (Kafka's ThrottledReplicaListValidator)."""
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else None
    if parts is None or not (parts in ([""], ["*"]) or all(_REPLICA.fullmatch(p) for p in parts)):
        raise ConfigValueError(f"must be '*' or a list of partition:broker pairs such as '0:101,1:102'; "
                               f"got {shown(value)}")
    return ",".join(parts)


def _long(minimum: int, meaning: str = "") -> Whole:
    return Whole("LONG", minimum, meaning=meaning)


def _ms(minimum: int, meaning: str = "") -> Whole:
    return Whole("LONG", minimum, meaning=meaning, ms=True)


def _int(minimum: int, maximum: int | None = None, meaning: str = "") -> Whole:
    return Whole("INT", minimum, maximum, meaning=meaning)


_LOCAL = "-2: as retention, -1: unlimited"
TOPIC_CONFIGS: dict[str, Callable[[object], str]] = {
    "cleanup.policy": _cleanup_policy,
    "compression.gzip.level": Whole("INT", 1, 9, also=-1, meaning="-1: the codec's default"),
    "compression.lz4.level": _int(1, 17),
    "compression.type": _choice(COMPRESSION_TYPES),
    "compression.zstd.level": _int(-131072, 22),
    "delete.retention.ms": _ms(0),
    "file.delete.delay.ms": _ms(0),
    "flush.messages": _long(1),
    "flush.ms": _ms(0),
    "follower.replication.throttled.replicas": _replicas,
    "index.interval.bytes": _int(0),
    "leader.replication.throttled.replicas": _replicas,
    "local.retention.bytes": _long(-2, _LOCAL),
    "local.retention.ms": _ms(-2, _LOCAL),
    "max.compaction.lag.ms": _ms(1),
    "max.message.bytes": _int(0),
    "message.timestamp.after.max.ms": _ms(0),
    "message.timestamp.before.max.ms": _ms(0),
    "message.timestamp.type": _choice(TIMESTAMP_TYPES),
    "min.cleanable.dirty.ratio": _ratio,
    "min.compaction.lag.ms": _ms(0),
    "min.insync.replicas": _int(1),
    "preallocate": _boolean,
    "remote.log.copy.disable": _boolean,
    "remote.log.delete.on.disable": _boolean,
    "remote.storage.enable": _boolean,
    # Kafka takes any long (every negative one is unlimited); K2 takes -1 as the one spelling of unlimited.
    "retention.bytes": _long(-1, "-1: unlimited"),
    "retention.ms": _ms(-1, "-1: unlimited"),
    "segment.bytes": _int(1_048_576),
    "segment.index.bytes": _int(4),
    "segment.jitter.ms": _ms(0),
    "segment.ms": _ms(1),
    "unclean.leader.election.enable": _boolean,
}


def normalise_config(key: str, value: object) -> str:
    """The broker's spelling of `value` for topic config `key`; raises on unknown keys or bad values."""
    check = TOPIC_CONFIGS.get(key)
    if check is None:
        raise ConfigValueError(f"unknown topic config {shown(key)}{suggest(key, TOPIC_CONFIGS)}")
    return check(value)


def conflicts(config: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, message) for each pair of normalised values Kafka refuses together (LogConfig.validateValues)."""
    low, high = config.get("min.compaction.lag.ms", "0"), config.get("max.compaction.lag.ms", str(LONG_MAX))
    if int(low) > int(high):
        return [("min.compaction.lag.ms", f"min.compaction.lag.ms {low} is above max.compaction.lag.ms {high}: "
                 "Kafka refuses the topic; lower the one or raise the other")]
    return []


def suggest(word: str, known: object) -> str:
    """' (did you mean X?)' for a near miss among `known`, else ''."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)  # type: ignore[attr-defined]
    return f" (did you mean {close[0]!r}?)" if close else ""
