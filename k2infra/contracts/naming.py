"""How K2 names things: topics market.{asset_class}.{data_type}.{exchange}, subjects
market.{asset_class}.{data_type}-value, and the codes inside them.

The one place to read "how is a topic named". The model derives names with it, the app helpers
parse them, the policy pack checks them, and the cluster observers select topics by its prefix.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, get_args

from k2infra.contracts.kafka_names import is_internal_topic, topic_name_problem

TOPIC_PREFIX = "market"
# Every pattern here is used with fullmatch: `^...$` with match lets a trailing newline through.
# Codes (asset class, data type, exchange) are lower-case words without dots, so a name splits
# unambiguously and consumers can subscribe by pattern.
CODE_PATTERN = r"[a-z][a-z0-9_]*"
CODE = re.compile(CODE_PATTERN)

TOPIC_PATTERN = f"{TOPIC_PREFIX}.{{asset_class}}.{{data_type}}.{{exchange}}"
TOPIC_NAME = re.compile(
    rf"{TOPIC_PREFIX}\.(?P<asset_class>{CODE_PATTERN})\.(?P<data_type>{CODE_PATTERN})\.(?P<exchange>{CODE_PATTERN})")

SUBJECT_SUFFIX = "-value"
# One subject per asset class and data type, shared by the asset class's exchanges.
SUBJECT_PATTERN = f"{TOPIC_PREFIX}.{{asset_class}}.{{data_type}}{SUBJECT_SUFFIX}"
SUBJECT_FIELDS = frozenset({"asset_class", "data_type"})
SUBJECT_NAME = re.compile(
    rf"{TOPIC_PREFIX}\.(?P<asset_class>{CODE_PATTERN})\.(?P<data_type>{CODE_PATTERN}){SUBJECT_SUFFIX}")

# The design's legacy flat topics ("Migration from Legacy Topics": market.trades.raw, market.quotes.raw,
# market.reference_data), named after the data type they hold. Only names of these shapes may be declared
# under legacy_topics, so that no listing makes K2 adopt or delete another team's topic.
LEGACY_SHAPES = (f"{TOPIC_PREFIX}.{{data_type}}.raw", f"{TOPIC_PREFIX}.{{data_type}}")
LEGACY_TOPIC_NAME = re.compile(rf"{TOPIC_PREFIX}\.(?P<data_type>{CODE_PATTERN})(?:\.raw)?")

Compatibility = Literal[
    "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"
]
COMPATIBILITY_LEVELS: tuple[str, ...] = get_args(Compatibility)
# Levels under which consumers on the previous schema keep reading new records.
BACKWARD_OR_STRICTER = ("BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")


@dataclass(frozen=True)
class TopicRef:
    """The three codes a topic name is built from."""

    asset_class: str
    data_type: str
    exchange: str

    @property
    def name(self) -> str:
        return topic_name(self.asset_class, self.data_type, self.exchange)


def topic_name(asset_class: str, data_type: str, exchange: str) -> str:
    return f"{TOPIC_PREFIX}.{asset_class}.{data_type}.{exchange}"


def is_market_topic(name: str) -> bool:
    """Named under the market-data prefix (whether or not the rest is well formed).

    The legacy flat topics (market.trades.raw...) are named so too but are not K2's: a plan excludes
    the names topics.yaml declares under legacy_topics (Topology.legacy_names). What K2 may delete is
    narrower: in_k2_namespace."""
    return name.startswith(f"{TOPIC_PREFIX}.")


def parse_topic_name(name: str) -> TopicRef:
    """market.equities.trades.asx -> TopicRef('equities', 'trades', 'asx'); ValueError for other names."""
    match = TOPIC_NAME.fullmatch(name)
    if not match:
        raise ValueError(f"{name!r} is not a market-data topic name ({TOPIC_PATTERN})")
    return TopicRef(**match.groupdict())


def subject_name(asset_class: str, data_type: str, pattern: str = SUBJECT_PATTERN) -> str:
    return pattern.format(asset_class=asset_class, data_type=data_type)


def subject_regex(pattern: str = SUBJECT_PATTERN) -> re.Pattern[str]:
    """The subjects a subject pattern names, whatever their codes (for fullmatch); ValueError for a pattern
    that is not a format string."""
    regex, seen = "", set()
    for literal, field, _, _ in string.Formatter().parse(pattern):
        regex += re.escape(literal)
        if field in seen:
            regex += f"(?P={field})"
        elif field is not None:
            regex += f"(?P<{field}>{CODE_PATTERN})" if field in SUBJECT_FIELDS else "(?!)"
            seen.add(field)
    return re.compile(regex)


def legacy_names_for(data_type: str) -> tuple[str, ...]:
    """The names a legacy topic holding `data_type` may have (LEGACY_SHAPES)."""
    return tuple(shape.format(data_type=data_type) for shape in LEGACY_SHAPES)


def is_legacy_topic_name(name: str, data_type: str | None = None) -> bool:
    """Of a legacy shape (holding `data_type`, if given), and no internal topic's name."""
    match = LEGACY_TOPIC_NAME.fullmatch(name)
    return (match is not None and data_type in (None, match["data_type"]) and not is_internal_topic(name)
            and topic_name_problem(name) is None)


def is_k2_topic_name(name: str) -> bool:
    """An exchange topic's name (TOPIC_PATTERN) that Kafka accepts and that is no internal topic's."""
    return TOPIC_NAME.fullmatch(name) is not None and not is_internal_topic(name) and topic_name_problem(name) is None


def in_k2_namespace(name: str, legacy_names: Collection[str]) -> bool:
    """What K2 may adopt, release or delete: an exchange topic's name, or a legacy topic that topics.yaml declares
    and that has a legacy shape. Never an internal topic, whatever lists it."""
    return is_k2_topic_name(name) or (name in legacy_names and is_legacy_topic_name(name))


# Pulumi type tokens of the K2 components: the policy pack reads the environment from their props.
def region_stack(stack: str, region: str, other: str) -> str:
    """The stack of region `other`, named as `stack` is for `region`: prod-apac -> prod-us-east (docs/regions.md).
    A stack whose name does not end in its region is named <stack>-<other>'s way: its prefix is the whole name."""
    suffix = f"-{region}"
    prefix = stack[: -len(suffix)] if stack.endswith(suffix) and len(stack) > len(suffix) else stack
    return f"{prefix}-{other}"


EXCHANGE_TOPICS_TYPE = "k2:market:ExchangeTopics"
SCHEMA_SUBJECTS_TYPE = "k2:market:SchemaSubjects"
DOCKER_PLATFORM_TYPE = "k2:platform:DockerPlatform"
MIRROR_CONNECTORS_TYPE = "k2:regions:MirrorConnectors"
# Pulumi type tokens of the resources K2 declares (the state reader and the policy pack look for them).
KAFKA_TOPIC_TYPE = "kafka:index/topic:Topic"
DYNAMIC_RESOURCE_TYPE = "pulumi-python:dynamic:Resource"  # the schema subjects
APP_ACCESS_TYPE = "k2:access:AppAccess"
APP_USER_TYPE = "k2:access:AppUser"
KAFKA_USER_TYPE = "kafka:index/userScramCredential:UserScramCredential"
KAFKA_ACL_TYPE = "kafka:index/acl:Acl"
