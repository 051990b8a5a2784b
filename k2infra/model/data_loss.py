"""Topic config changes that lose data or break writers, as small declarative rules.

Such a change is refused at preview unless topics.yaml acknowledges it (`acknowledged_data_loss`:
the topics, the change, the new value and a reason), in a reviewed change of its own. Partition
decreases and replication changes are refused outright (plan.py): no acknowledgement makes them safe.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass

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
