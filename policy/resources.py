"""What the rules read from a resource: typed views over the inputs the engine hands the pack.

The engine passes numbers as floats and a provider's inputs as JSON-encoded strings (tlsEnabled is
"true"); the views undo both so that rules compare plain values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k2infra.contracts.naming import TOPIC_NAME
from k2infra.model.errors import one_line

TOPIC = "kafka:index/topic:Topic"
ACL = "kafka:index/acl:Acl"
QUOTA = "kafka:index/quota:Quota"
KAFKA_PROVIDER = "pulumi:providers:kafka"
DYNAMIC = "pulumi-python:dynamic:Resource"
STACK = "pulumi:pulumi:Stack"



def stack_of(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<type>::<name> -> <stack>."""
    return urn.split("::", 1)[0].split(":", 2)[-1]


def as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


@dataclass(frozen=True)
class TopicResource:
    """A kafka topic as declared, with the environment of the stack that declares it."""

    urn: str
    name: str
    partitions: int | None
    replication_factor: int | None
    config: Mapping[str, str]
    environment: str
    asset_class: str | None = None  # the parts of a well-formed name; None when the name is not
    data_type: str | None = None
    exchange: str | None = None

    @classmethod
    def of(cls, urn: str, resource_name: str, props: Mapping[str, Any], environment: str) -> TopicResource:
        name = str(props.get("name") or resource_name)
        parts = TOPIC_NAME.fullmatch(name)
        config = props.get("config") or {}
        return cls(
            urn=urn,
            name=name,
            partitions=as_int(props.get("partitions")),
            replication_factor=as_int(props.get("replicationFactor")),
            config={str(k): str(v) for k, v in config.items()},
            environment=environment,
            **(parts.groupdict() if parts else {}),
        )

    @property
    def exchange_key(self) -> str:
        """Where the exchange's settings live in topics.yaml, for the fix in a message."""
        return f"asset_classes.{self.asset_class}.exchanges.{self.exchange}"


@dataclass(frozen=True)
class SubjectResource:
    urn: str
    subject: str
    compatibility: str
    environment: str

    @classmethod
    def of(cls, urn: str, props: Mapping[str, Any], environment: str) -> SubjectResource:
        return cls(urn, str(props.get("subject") or ""), str(props.get("compatibility") or ""), environment)


def is_schema_subject(resource_type: str, props: Mapping[str, Any]) -> bool:
    # Dynamic resources share one type token; a subject is the one that names a subject and a schema.
    return resource_type == DYNAMIC and "subject" in props and "schema" in props


@dataclass(frozen=True)
class KafkaProvider:
    urn: str
    name: str
    tls: bool
    sasl_username: str
    sasl_password: str
    bootstrap_servers: tuple[str, ...]
    sasl_mechanism: str = "plain"

    @classmethod
    def of(cls, urn: str, name: str, props: Mapping[str, Any]) -> KafkaProvider:
        return cls(urn, name, as_bool(props.get("tlsEnabled")), str(props.get("saslUsername") or ""),
                   str(props.get("saslPassword") or ""), _servers(props.get("bootstrapServers")),
                   str(props.get("saslMechanism") or "plain"))

    @property
    def sasl(self) -> bool:
        # The program always names a mechanism (the provider needs one); SASL is on once it has credentials.
        return bool(self.sasl_username and self.sasl_password)


def _servers(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = value.split(",")
    return tuple(str(v) for v in value or ())


@dataclass(frozen=True)
class AclResource:
    """A kafka.Acl as declared: one binding of an app's principal."""

    urn: str
    principal: str
    resource_type: str
    pattern: str
    name: str
    operation: str

    @classmethod
    def of(cls, urn: str, props: Mapping[str, Any]) -> AclResource:
        return cls(urn, str(props.get("aclPrincipal") or ""), str(props.get("aclResourceType") or ""),
                   str(props.get("resourcePatternTypeFilter") or "Literal"), str(props.get("aclResourceName") or ""),
                   str(props.get("aclOperation") or ""))


def violation(resource: str, problem: str, fix: str) -> str:
    """Every message names the resource, says what is wrong and how to put it right, on one line: a name with
    a newline or another control character is shown escaped (it could forge lines of a CI comment)."""
    return one_line(f"{resource}: {problem}. Fix: {fix}.")
