"""What Kafka itself accepts and reserves as names: topic names, the topics of Kafka and of the tools around it,
principals, consumer group and transactional ids.

Defined once, from Kafka 4.x's own rules (org.apache.kafka.common.internals.Topic, KafkaPrincipal, the
StandardAuthorizer) and those of Schema Registry, Connect, MirrorMaker 2 and Streams: `k2 validate`, the plan
and the policy pack all ask here. Each check returns what is wrong, worded to follow the name, or None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TOPIC_MAX_LENGTH = 249  # Topic.MAX_NAME_LENGTH
TOPIC_CHARS = re.compile(r"[a-zA-Z0-9._-]+")  # Topic.LEGAL_CHARS; used with fullmatch, as every pattern here

# Kafka's own topics, Schema Registry's, Connect's default ones and MirrorMaker 2's: never K2's, whoever
# lists them. MirrorMaker 2 takes any name starting with "_" or "." or ending in ".internal" or "-internal"
# for an internal topic; Streams' own topics end in -changelog and -repartition.
INTERNAL_TOPICS = frozenset({"_schemas", "heartbeats", "connect-configs", "connect-offsets", "connect-status"})
INTERNAL_PREFIXES = ("_", ".", "mm2-")  # __consumer_offsets, __transaction_state, _schemas, mm2-offset-syncs.*
INTERNAL_SUFFIXES = (".internal", "-internal", ".heartbeats", "-changelog", "-repartition",
                     "connect-configs", "connect-offsets", "connect-status")

PRINCIPAL_TYPES = ("User",)  # the only type Kafka's principal builders (SASL, TLS) make and its authorizer matches
PRINCIPAL_NAME = re.compile(r"[A-Za-z0-9._@=,+-]+")
ANONYMOUS = "ANONYMOUS"  # KafkaPrincipal.ANONYMOUS: every client of a listener without authentication
WILDCARD = "*"  # in an ACL, a literal "*" is every topic, group, transactional id or (User:*) user
CLIENT_ID = re.compile(r"[A-Za-z0-9._-]+")


def topic_name_problem(name: str) -> str | None:
    """Why Kafka would refuse `name` as a topic name (Topic.validate)."""
    if name in ("", ".", ".."):
        return "is not a topic name Kafka accepts (empty, '.' or '..')"
    if len(name) > TOPIC_MAX_LENGTH:
        return f"is {len(name)} characters long: Kafka allows at most {TOPIC_MAX_LENGTH} in a topic name"
    if not TOPIC_CHARS.fullmatch(name):
        return "has characters Kafka refuses in a topic name (only letters, digits, '.', '_' and '-')"
    return None


# How refusals name such a topic (k2 validate's namespace and legacy checks).
INTERNAL_TOPIC = "an internal topic of Kafka or of a tool around it (Schema Registry, Connect, MirrorMaker, Streams)"


def is_internal_topic(name: str) -> bool:
    """A topic of Kafka itself or of Schema Registry, Connect, MirrorMaker 2 or Streams."""
    return name in INTERNAL_TOPICS or name.startswith(INTERNAL_PREFIXES) or name.endswith(INTERNAL_SUFFIXES)


def metric_name(topic: str) -> str:
    """The topic as Kafka's metric names spell it: '.' and '_' are the same there (Topic.unifyCollisionChars)."""
    return topic.replace(".", "_")


def collisions(names: Iterable[str], others: Iterable[str] = ()) -> dict[str, str]:
    """Each of `names` whose metric name is that of another name (an earlier one of `names`, or one of
    `others`) -> that name. Kafka refuses to create a topic that collides with an existing one."""
    seen = {metric_name(n): n for n in others}
    out = {}
    for name in names:
        first = seen.setdefault(metric_name(name), name)
        if first != name:
            out[name] = first
    return out


def principal_problem(principal: str) -> str | None:
    """Why `principal` may not be an app's principal (Type:name, as the brokers authenticate it)."""
    kind, colon, name = principal.partition(":")
    if not colon or not name:
        return "is not a principal Type:name"
    if kind not in PRINCIPAL_TYPES:
        return (f"has principal type {kind!r}: Kafka's authenticators make {', '.join(PRINCIPAL_TYPES)} "
                "principals only, so a grant to it would reach no client")
    if name == WILDCARD:
        return "is the wildcard principal: its grants would go to every user"
    if name == ANONYMOUS:
        return ("is the principal Kafka gives every unauthenticated client: its grants would go to anyone who "
                "connects without credentials")
    if not PRINCIPAL_NAME.fullmatch(name):
        return "has characters no authenticated name has here (letters, digits and . _ @ = , + - only)"
    return None


def client_id_problem(value: str) -> str | None:
    """Why `value` may not be a consumer group or transactional id granted with a literal ACL."""
    if value == WILDCARD:
        return "is the ACL wildcard: a grant on it is a grant on every one of them"
    if not CLIENT_ID.fullmatch(value) or len(value) > TOPIC_MAX_LENGTH:
        return f"must be letters, digits, '.', '_' and '-' (at most {TOPIC_MAX_LENGTH})"
    return None
