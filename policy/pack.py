"""The K2 rules as a table, and the few lines that turn each row into a pulumi_policy policy.

A rule is a name, a one-line description, an enforcement level, what it applies to and a check that
yields one message per violation (in the spirit of jikkou's declarative validations). The checks are
plain functions over typed views, so the rules read as the design does and test without an engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy import access, compatibility, credentials, naming, partitions, production, topic_config
from policy.context import Deployment
from policy.resources import ACL, TOPIC, AclResource, SubjectResource, TopicResource, is_schema_subject

MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    level: EnforcementLevel
    applies_to: Literal["topic", "subject", "acl"]
    check: Callable[[Any, Deployment], Iterable[str]]


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    level: EnforcementLevel
    check: Callable[[Sequence[PolicyResource], Deployment], Iterable[production.StackViolation]]


RULES: tuple[Rule | StackRule, ...] = (
    Rule("topic-name", "Topics are named market.{asset_class}.{data_type}.{exchange} with codes from "
         "topics.yaml.", MANDATORY, "topic", naming.check_topic_name),
    Rule("reference-data-compacted", "Reference data topics are compacted.",
         MANDATORY, "topic", topic_config.reference_data_compacted),
    Rule("market-events-retention", "Trades and quotes topics state a bounded retention.",
         MANDATORY, "topic", topic_config.market_events_retention),
    Rule("market-events-compression", "Trades and quotes topics use an allowed compression codec.",
         MANDATORY, "topic", topic_config.market_events_compression),
    Rule("topic-config-values", "Topic config keys and values are ones Kafka 4.1 accepts (type and range).",
         MANDATORY, "topic", topic_config.values_kafka_accepts),
    Rule("partitions-within-guidelines", "Partition counts lie within the design's guideline range.",
         MANDATORY, "topic", partitions.guideline_bounds),
    Rule("reference-data-single-partition", "Reference data has 1 partition unless topics.yaml overrides it.",
         MANDATORY, "topic", partitions.reference_data_single),
    # "Production" is every environment topics.yaml protects, whatever its name.
    Rule("prod-replication-factor", "Production topics have 3 replicas or more.",
         MANDATORY, "topic", production.replication_factor),
    Rule("prod-min-insync-replicas", "Production topics need 2 in-sync replicas or more per write.",
         MANDATORY, "topic", production.min_insync_replicas),
    Rule("acl-least-privilege", "App ACLs name market.* topics, groups or transactional ids, never a wildcard.",
         MANDATORY, "acl", access.least_privilege),
    StackRule("prod-app-quota", "Production apps are held to a produce/fetch quota.", MANDATORY,
              access.prod_app_quotas),
    StackRule("prod-kafka-transport-security", "Production Kafka providers use TLS (and SASL only over TLS).",
              MANDATORY, production.transport_security),
    StackRule("prod-no-plaintext-secrets", "Production credentials are secrets, never plain text in config "
              "or outputs.", MANDATORY, credentials.plaintext_secrets),
    StackRule("prod-no-passphrase-secrets", "Production stacks encrypt their secrets with a key service (KMS), "
              "never a passphrase.", MANDATORY, credentials.passphrase_provider),
    Rule("subject-name", "Subjects are named market.{asset_class}.{data_type}-value with codes from "
         "topics.yaml.", MANDATORY, "subject", naming.check_subject_name),
    Rule("subject-backward-compatible", "Subjects are BACKWARD compatible or stricter.",
         MANDATORY, "subject", compatibility.backward_compatible),
    Rule("symbols-per-partition", "At most 100 symbols per partition where topics.yaml states the symbols.",
         ADVISORY, "topic", partitions.symbols_per_partition),
    Rule("partitions-for-message-rate", "Partitions near the design's table for the stated message rate.",
         ADVISORY, "topic", partitions.partitions_for_rate),
)


def k2_policies(deployment: Deployment) -> list[Policy]:
    return [_stack_policy(rule, deployment) if isinstance(rule, StackRule)
            else _resource_policy(rule, deployment) for rule in RULES]


def _resource_policy(rule: Rule, deployment: Deployment) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        deployment.observe(args.resource_type, args.props)
        subject = _view(rule.applies_to, args, deployment)
        if subject is not None:
            for message in rule.check(subject, deployment):
                report(message, None)

    return ResourceValidationPolicy(rule.name, rule.description, validate, enforcement_level=rule.level)


def _view(kind: str, args: ResourceValidationArgs,
          deployment: Deployment) -> TopicResource | SubjectResource | AclResource | None:
    environment = deployment.environment(args.urn)
    if kind == "topic" and args.resource_type == TOPIC:
        topic = TopicResource.of(args.urn, args.name, args.props, environment)
        topology = deployment.topology
        if topology is not None and topic.name in topology.legacy_names:
            return None  # a legacy topic that decommissioning adopts to delete: the design's rules are not for it
        return topic
    if kind == "acl" and args.resource_type == ACL:
        return AclResource.of(args.urn, args.props)
    if kind == "subject" and is_schema_subject(args.resource_type, args.props):
        return SubjectResource.of(args.urn, args.props, environment)
    return None


def _stack_policy(rule: StackRule, deployment: Deployment) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for message, urn in rule.check(args.resources, deployment):
            report(message, urn)

    return StackValidationPolicy(rule.name, rule.description, validate, enforcement_level=rule.level)
