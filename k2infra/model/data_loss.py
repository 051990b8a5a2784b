"""Topic config changes that lose data or break writers, as small declarative rules.

Such a change is refused at preview unless topics.yaml acknowledges it (`acknowledged_data_loss`:
the topics, the change, the new value and a reason), in a reviewed change of its own. Partition
decreases and replication changes are refused outright (plan.py): no acknowledgement makes them safe.
An acknowledgement says what it accepts: exact names or a pattern no wider than one data type or one
exchange, a retention no shorter than a floor, and a reason in words (the rules below).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from k2infra.contracts.naming import CODE, TOPIC_PREFIX

# Kafka 4.x topic defaults: what a topic without its own value gets (the broker may override them;
# a topic that relies on the broker's default is compared with Kafka's).
KAFKA_DEFAULTS = {
    "retention.ms": "604800000",
    "retention.bytes": "-1",
    "cleanup.policy": "delete",
    "max.message.bytes": "1048588",
    "min.insync.replicas": "1",
    "delete.retention.ms": "86400000",
    "message.timestamp.before.max.ms": "9223372036854775807",
    "message.timestamp.after.max.ms": "3600000",
}


def _limit(value: str) -> float:
    number = int(value)
    return float("inf") if number < 0 else number  # -1: unlimited


def _lowered(old: str, new: str) -> bool:
    return _limit(new) < _limit(old)


def _raised(old: str, new: str) -> bool:
    return int(new) > int(old)


def _changed(old: str, new: str) -> bool:
    return old != new


@dataclass(frozen=True)
class LossRule:
    key: str
    harm: str  # what the change does to data or writers
    applies: Callable[[str, str], bool]  # (old, new) effective values -> does it lose data?


RULES: tuple[LossRule, ...] = (
    LossRule("retention.ms", "deletes every message older than the new limit", _lowered),
    LossRule("retention.bytes", "deletes each partition's oldest segments beyond the new size", _lowered),
    LossRule("cleanup.policy", "delete -> compact keeps only the latest record per key (and refuses records "
             "without a key); compact -> delete expires the latest values after the retention", _changed),
    LossRule("delete.retention.ms", "expires deletion markers sooner: a consumer catching up may miss deletions",
             _lowered),
    LossRule("max.message.bytes", "makes producers of larger records fail", _lowered),
    LossRule("min.insync.replicas", "makes acks=all producers fail whenever fewer replicas are in sync", _raised),
    LossRule("message.timestamp.before.max.ms", "makes producers of older timestamps fail", _lowered),
    LossRule("message.timestamp.after.max.ms", "makes producers of later timestamps fail", _lowered),
)
RULE_KEYS = tuple(r.key for r in RULES)


@dataclass(frozen=True)
class Acknowledgement:
    """One entry of acknowledged_data_loss: who may lose what, to which value, and why."""

    topics: tuple[str, ...]  # names or shell-style patterns (market.*.trades.*)
    change: str
    to: str  # normalised like the topic config
    reason: str
    where: str  # file:line of the entry, for messages

    def covers(self, topic: str, change: str, to: str) -> bool:
        return change == self.change and to == self.to and any(fnmatch.fnmatchcase(topic, p) for p in self.topics)


@dataclass(frozen=True)
class LossChange:
    topic: str
    change: str
    old: str
    new: str
    harm: str
    origin: str  # where the new value comes from in topics.yaml (file:line: key)

    def describe(self) -> str:
        return f"{self.topic}: {self.change} {self.old} -> {self.new} {self.harm}"

    def describe_with_origin(self) -> str:
        return self.describe() + (f" (set at {self.origin})" if self.origin else "")


def losses(topic: str, desired: Mapping[str, str], current: Mapping[str, str],
           origins: Mapping[str, str]) -> list[LossChange]:
    """The changes from `current` to `desired` config that lose data or break writers."""
    out = []
    for rule in RULES:
        old = current.get(rule.key, KAFKA_DEFAULTS[rule.key])
        new = desired.get(rule.key, KAFKA_DEFAULTS[rule.key])
        if old != new and rule.applies(old, new):
            out.append(LossChange(topic, rule.key, old, new, rule.harm, origins.get(rule.key, "")))
    return out


# What an acknowledgement may accept. Its `topics` are exact names, or a pattern that writes out the data type
# (market.*.trades.*) or the exchange (market.*.*.asx): a review can then say which feed loses what, and a
# data type or exchange added later is not pre-approved by a pattern written for others.
_WILDCARDS = frozenset("*?[")
# The shortest retention a cut may be acknowledged down to. 1 hour is the design's shortest retention (NYSE's
# trades and quotes); below it, a consumer down for a restart or a deploy loses data before anyone can react.
# 1 GiB per partition is Kafka's default segment: the broker deletes whole segments, so a smaller limit keeps
# hardly more than the segment being written.
RETENTION_FLOORS = {"retention.ms": (3_600_000, "1 hour"), "retention.bytes": (1 << 30, "1 GiB per partition")}
_TICKET = re.compile(r"\b[A-Z][A-Z0-9_]+-[0-9]+\b")  # K2-142, OPS-7
_WORD = re.compile(r"[^\W\d_]{3,}")  # a word of three letters or more, in any script
REASON_LIMIT = 500  # characters: the reason is echoed in every preview; link the ticket for more


def scope_problem(pattern: str) -> str | None:
    """Why a topic pattern of an acknowledgement is too wide, or None."""
    if not _WILDCARDS & set(pattern):
        return None  # an exact name (that it names a topic is checked where the topics are known)
    parts = pattern.split(".")
    if len(parts) == 4 and parts[0] == TOPIC_PREFIX and any(CODE.fullmatch(p) for p in parts[2:]):
        return None
    return (f"{pattern!r} is wider than one data type or one exchange: list exact topic names, or a pattern that "
            f"writes out the data type ({TOPIC_PREFIX}.*.trades.*) or the exchange ({TOPIC_PREFIX}.*.*.asx)")


def floor_problem(change: str, to: str) -> str | None:
    """Why an acknowledged new value is below what any acknowledgement may accept, or None."""
    if change not in RETENTION_FLOORS or int(to) < 0:  # -1: unlimited, no cut
        return None
    floor, shown = RETENTION_FLOORS[change]
    if int(to) >= floor:
        return None
    return (f"{change} {to} is below {floor} ({shown}), the shortest retention K2 lets an acknowledgement cut to: "
            f"acknowledge {floor} or more")


def reason_problem(reason: str) -> str | None:
    """Why an acknowledgement's reason says nothing a reviewer can check, or None."""
    if len(reason) > REASON_LIMIT:
        return f"is {len(reason)} characters long: keep it under {REASON_LIMIT} (name the ticket for the rest)"
    if _TICKET.search(reason) or len(_WORD.findall(reason)) >= 2:
        return None
    return ("must say why in words: a ticket id (K2-142) or at least two words, e.g. "
            "\"K2-142: trades are archived to Iceberg within minutes\"")
