"""Kafka topic-level config keys and what values each accepts (Apache Kafka 4.x).

Written by hand: Kafka publishes these only as Java code and HTML docs, and the set is small and
stable. Knowing them lets `k2 validate` reject a misspelt key or a bad value before the broker does,
and normalise values to the strings the broker reports back, so plans settle without churn.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
CLEANUP_POLICIES = ("delete", "compact", "compact,delete")
TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")

_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d|w)$")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


class ConfigValueError(ValueError):
    """A topic config value the broker would refuse."""


Normaliser = Callable[[object], str]


def _integer(minimum: int) -> Normaliser:
    def check(value: object) -> str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConfigValueError(f"must be a whole number, got {value!r}")
        text = str(value).strip()
        if not re.fullmatch(r"-?\d+", text):
            raise ConfigValueError(f"must be a whole number, got {value!r}")
        if int(text) < minimum:
            raise ConfigValueError(f"must be {minimum} or more, got {text}")
        return str(int(text))

    return check


def _milliseconds(minimum: int) -> Normaliser:
    """Milliseconds, also written as a duration such as '7d', '1h' or '500ms'."""
    as_int = _integer(minimum)

    def check(value: object) -> str:
        match = _DURATION.match(value.strip()) if isinstance(value, str) else None
        if match:
            return str(int(match.group(1)) * _DURATION_MS[match.group(2)])
        try:
            return as_int(value)
        except ConfigValueError:
            raise ConfigValueError(
                f"must be milliseconds (a whole number, -1 for unlimited where allowed) "
                f"or a duration like '7d', '1h', '30m'; got {value!r}"
            ) from None

    return check


def _choice(options: tuple[str, ...]) -> Normaliser:
    def check(value: object) -> str:
        text = str(value).strip()
        if text == "delete,compact":  # the broker accepts either order; keep one spelling
            text = "compact,delete"
        if text not in options:
            raise ConfigValueError(f"must be one of {', '.join(options)}; got {value!r}")
        return text

    return check


def _boolean(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if str(value).strip().lower() in ("true", "false"):
        return str(value).strip().lower()
    raise ConfigValueError(f"must be true or false, got {value!r}")


def _ratio(value: object) -> str:
    try:
        number = float(str(value))
    except ValueError:
        raise ConfigValueError(f"must be a number between 0 and 1, got {value!r}") from None
    if not 0 <= number <= 1:
        raise ConfigValueError(f"must be between 0 and 1, got {value!r}")
    return str(value)


def _text(value: object) -> str:
    return str(value)


TOPIC_CONFIGS: dict[str, Normaliser] = {
    "cleanup.policy": _choice(CLEANUP_POLICIES),
    "compression.type": _choice(COMPRESSION_TYPES),
    "compression.gzip.level": _integer(-1),
    "compression.lz4.level": _integer(1),
    "compression.zstd.level": _integer(-131072),
    "delete.retention.ms": _milliseconds(0),
    "file.delete.delay.ms": _milliseconds(0),
    "flush.messages": _integer(1),
    "flush.ms": _milliseconds(0),
    "follower.replication.throttled.replicas": _text,
    "index.interval.bytes": _integer(0),
    "leader.replication.throttled.replicas": _text,
    "local.retention.bytes": _integer(-2),
    "local.retention.ms": _milliseconds(-2),
    "max.compaction.lag.ms": _milliseconds(1),
    "max.message.bytes": _integer(0),
    "message.timestamp.after.max.ms": _milliseconds(0),
    "message.timestamp.before.max.ms": _milliseconds(0),
    "message.timestamp.type": _choice(TIMESTAMP_TYPES),
    "min.cleanable.dirty.ratio": _ratio,
    "min.compaction.lag.ms": _milliseconds(0),
    "min.insync.replicas": _integer(1),
    "preallocate": _boolean,
    "remote.storage.enable": _boolean,
    "retention.bytes": _integer(-1),
    "retention.ms": _milliseconds(-1),
    "segment.bytes": _integer(1_048_576),
    "segment.index.bytes": _integer(4),
    "segment.jitter.ms": _milliseconds(0),
    "segment.ms": _milliseconds(1),
    "unclean.leader.election.enable": _boolean,
}


def normalise_config(key: str, value: object) -> str:
    """The broker's spelling of `value` for topic config `key`; raises on unknown keys or bad values."""
    check = TOPIC_CONFIGS.get(key)
    if check is None:
        raise ConfigValueError(f"unknown topic config {key!r}{suggest(key, TOPIC_CONFIGS)}")
    return check(value)


def suggest(word: str, known: object) -> str:
    """' (did you mean X?)' for a near miss among `known`, else ''."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)  # type: ignore[attr-defined]
    return f" (did you mean {close[0]!r}?)" if close else ""
