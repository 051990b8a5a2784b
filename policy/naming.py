"""Names: topics market.{asset_class}.{data_type}.{exchange}, subjects market.{asset_class}.{data_type}-value,
each with lower-case codes that topics.yaml declares, so consumers can subscribe by pattern."""

from __future__ import annotations

import re
from collections.abc import Iterator

from k2infra.contracts.kafka_names import collisions, is_internal_topic, metric_name, topic_name_problem
from k2infra.contracts.naming import SUBJECT_NAME, SUBJECT_PATTERN, TOPIC_PATTERN, TOPIC_PREFIX
from policy.context import Deployment
from policy.resources import SubjectResource, TopicResource, violation


def check_topic_name(topic: TopicResource, deployment: Deployment) -> Iterator[str]:
    if topic.asset_class is None:
        yield violation(topic.name, f"the name does not follow {TOPIC_PATTERN} with lower-case codes",
                        "declare the exchange in topics.yaml and let the program name its topics"
                        f"{_hint(topic.name)}")
        return
    wrong = topic_name_problem(topic.name)
    if wrong is None and is_internal_topic(topic.name):
        wrong = "is named as the topics of Kafka's tools are (MirrorMaker takes it for its own)"
    if wrong is not None:
        yield violation(topic.name, f"the name {wrong}", "choose other codes in topics.yaml")
        return
    yield from _unknown_codes(topic.name, deployment, topic.asset_class, topic.data_type, topic.exchange)
    yield from _collision(topic.name, deployment)


def _collision(name: str, deployment: Deployment) -> Iterator[str]:
    topology = deployment.topology
    if topology is None:
        return  # reported by _unknown_codes
    others = [n for n in [*topology.topic_names, *topology.legacy_names] if n != name]
    other = collisions([name], others).get(name)
    if other is not None:
        yield violation(name, f"it and {other} collide in Kafka's metrics ({metric_name(name)}: '.' and '_' are "
                        "the same there), so Kafka refuses to create the second",
                        f"rename one of their codes in {topology.file.name}")


def check_subject_name(subject: SubjectResource, deployment: Deployment) -> Iterator[str]:
    parts = SUBJECT_NAME.fullmatch(subject.subject)
    if parts is None:
        yield violation(subject.subject or "(unnamed subject)",
                        f"the subject does not follow {SUBJECT_PATTERN} with lower-case codes",
                        f'set schema_registry.subject_pattern: "{SUBJECT_PATTERN}" in topics.yaml')
        return
    yield from _unknown_codes(subject.subject, deployment, parts["asset_class"], parts["data_type"], None)


def _unknown_codes(resource: str, deployment: Deployment, asset_class: str | None, data_type: str | None,
                   exchange: str | None) -> Iterator[str]:
    topology = deployment.topology
    if topology is None:
        yield violation(resource, "its codes cannot be checked against topics.yaml: "
                        f"{deployment.topology_problem}",
                        "run the preview from the project directory, or point K2_TOPICS_FILE at the topology")
        return
    file = topology.file.name
    if asset_class not in topology.asset_classes:
        yield violation(resource, f"asset class {asset_class!r} is not declared in {file} "
                        f"(declared: {_listed(topology.asset_classes)})",
                        f"add asset_classes.{asset_class} to {file}, or use a declared asset class")
        return
    if data_type not in topology.data_types:
        yield violation(resource, f"data type {data_type!r} is not declared in {file} "
                        f"(declared: {_listed(topology.data_types)})",
                        f"add data_types.{data_type} to {file}, or use a declared data type")
    if exchange is not None and exchange not in topology.exchanges(asset_class):
        yield violation(resource, f"exchange {exchange!r} is not declared under asset class {asset_class!r} "
                        f"in {file} (declared: {_listed(topology.exchanges(asset_class))})",
                        f"add asset_classes.{asset_class}.exchanges.{exchange} to {file}, "
                        "or use a declared exchange")


def _hint(name: str) -> str:
    # A name with the right shape but wrong case or separators: show what it would be.
    parts = [re.sub(r"[^a-z0-9_]+", "_", p.lower()).strip("_") for p in re.split(r"[./]", name)]
    if len(parts) == 4 and parts[0] == TOPIC_PREFIX and all(parts):
        return f" (here: {'.'.join(parts)})"
    return ""


def _listed(codes: list[str]) -> str:
    return ", ".join(codes) or "none"
