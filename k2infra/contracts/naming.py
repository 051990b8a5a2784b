"""How K2 names things: topics market.{asset_class}.{data_type}.{exchange}, subjects
market.{asset_class}.{data_type}-value, and the codes inside them.

The one place to read "how is a topic named". The model derives names with it, the app helpers
parse them, the policy pack checks them, and the cluster observers select topics by its prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

TOPIC_PREFIX = "market"
# Codes (asset class, data type, exchange) are lower-case words without dots, so a name splits
# unambiguously and consumers can subscribe by pattern.
CODE_PATTERN = r"[a-z][a-z0-9_]*"
CODE = re.compile(rf"^{CODE_PATTERN}$")

TOPIC_PATTERN = f"{TOPIC_PREFIX}.{{asset_class}}.{{data_type}}.{{exchange}}"
TOPIC_NAME = re.compile(
    rf"^{TOPIC_PREFIX}\.(?P<asset_class>{CODE_PATTERN})\.(?P<data_type>{CODE_PATTERN})\.(?P<exchange>{CODE_PATTERN})$")

SUBJECT_SUFFIX = "-value"
# One subject per asset class and data type, shared by the asset class's exchanges.
SUBJECT_PATTERN = f"{TOPIC_PREFIX}.{{asset_class}}.{{data_type}}{SUBJECT_SUFFIX}"
SUBJECT_FIELDS = frozenset({"asset_class", "data_type"})
SUBJECT_NAME = re.compile(
    rf"^{TOPIC_PREFIX}\.(?P<asset_class>{CODE_PATTERN})\.(?P<data_type>{CODE_PATTERN}){SUBJECT_SUFFIX}$")

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
    the names topics.yaml declares under legacy_topics (Topology.legacy_names)."""
    return name.startswith(f"{TOPIC_PREFIX}.")


def parse_topic_name(name: str) -> TopicRef:
    """market.equities.trades.asx -> TopicRef('equities', 'trades', 'asx'); ValueError for other names."""
    match = TOPIC_NAME.match(name)
    if not match:
        raise ValueError(f"{name!r} is not a market-data topic name ({TOPIC_PATTERN})")
    return TopicRef(**match.groupdict())


def subject_name(asset_class: str, data_type: str, pattern: str = SUBJECT_PATTERN) -> str:
    return pattern.format(asset_class=asset_class, data_type=data_type)


# Pulumi type tokens of the K2 components: the policy pack reads the environment from their props.
EXCHANGE_TOPICS_TYPE = "k2:market:ExchangeTopics"
SCHEMA_SUBJECTS_TYPE = "k2:market:SchemaSubjects"
DOCKER_PLATFORM_TYPE = "k2:platform:DockerPlatform"
# Pulumi type tokens of the resources K2 declares (the state reader and the policy pack look for them).
KAFKA_TOPIC_TYPE = "kafka:index/topic:Topic"
DYNAMIC_RESOURCE_TYPE = "pulumi-python:dynamic:Resource"  # the schema subjects
APP_ACCESS_TYPE = "k2:access:AppAccess"
KAFKA_ACL_TYPE = "kafka:index/acl:Acl"
