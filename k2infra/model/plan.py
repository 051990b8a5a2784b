"""The change plan: desired topology vs what the cluster has and what the stack managed before.

Pure: the caller observes the cluster and the stack's previous outputs. The plan refuses the changes
Kafka cannot make in place (fewer partitions, another replication factor) instead of letting the
provider delete and recreate a topic, and it never drops a topic just because its entry left
topics.yaml: such a topic is retained until it is listed for decommissioning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from k2infra.contracts.naming import parse_topic_name
from k2infra.model.entities import Topic, Topology, group_by_exchange


@dataclass(frozen=True)
class ObservedTopic:
    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]  # the topic's own settings, not broker defaults


@dataclass
class Plan:
    create: list[str] = field(default_factory=list)
    adopt: list[str] = field(default_factory=list)  # on the cluster already, not yet managed: imported
    update: list[str] = field(default_factory=list)  # partitions added or config changed, in place
    unchanged: list[str] = field(default_factory=list)
    retain: list[Topic] = field(default_factory=list)  # gone from topics.yaml, kept on the cluster
    delete: list[str] = field(default_factory=list)  # listed for decommissioning
    refused: list[str] = field(default_factory=list)  # would lose data: the whole plan stops
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "create": self.create, "adopt": self.adopt, "update": self.update, "unchanged": self.unchanged,
            "retain": [t.name for t in self.retain], "delete": self.delete,
            "refused": self.refused, "warnings": self.warnings,
        }


def plan_topics(topology: Topology, observed: Mapping[str, ObservedTopic], managed_before: set[str],
                allow_removal: bool = False) -> Plan:
    plan = Plan()
    for topic in topology.topics:
        current = observed.get(topic.name)
        if current is None:
            plan.create.append(topic.name)
            continue
        refusals = _refusals(topic, current)
        if refusals:
            plan.refused += refusals
        elif topic.partitions != current.partitions or dict(topic.config) != dict(current.config):
            plan.update.append(topic.name)
        else:
            plan.unchanged.append(topic.name)
        if topic.name not in managed_before:
            plan.adopt.append(topic.name)
            plan.warnings.append(f"{topic.name} already exists on the cluster: this stack adopts it (import), "
                                 "which needs its partitions and config to match topics.yaml")
    _removed(topology, observed, managed_before, allow_removal, plan)
    return plan


def _refusals(topic: Topic, current: ObservedTopic) -> list[str]:
    out = []
    if topic.partitions < current.partitions:
        out.append(
            f"{topic.name}: partitions {current.partitions} -> {topic.partitions} refused. Kafka cannot remove "
            "partitions, and the provider would delete and recreate the topic, losing its messages and committed "
            f"offsets. Keep partitions: {current.partitions} in topics.yaml; to really shrink, create a new topic, "
            "move producers and consumers to it, then decommission this one."
        )
    if topic.replication_factor != current.replication_factor:
        out.append(
            f"{topic.name}: replication factor {current.replication_factor} -> {topic.replication_factor} refused. "
            "Changing it needs a partition reassignment (kafka-reassign-partitions.sh), which a topic update "
            "cannot do without recreating the topic. Keep the current factor for this environment, or reassign "
            "the partitions first and then change topics.yaml to match."
        )
    return out


def _removed(topology: Topology, observed: Mapping[str, ObservedTopic], managed_before: set[str],
             allow_removal: bool, plan: Plan) -> None:
    desired = {t.name for t in topology.topics}
    decommission = set(topology.decommission)
    for name in sorted(managed_before - desired):
        current = observed.get(name)
        if current is None:
            continue  # already gone from the cluster: nothing to keep or delete
        if name in decommission or allow_removal:
            if topology.protected:
                plan.refused.append(f"{name}: deleting a topic in the protected environment "
                                    f"{topology.environment} is refused. Remove it from "
                                    f"environments.{topology.environment}.decommission, or un-protect the "
                                    "environment in a reviewed change of its own.")
            else:
                plan.delete.append(name)
            continue
        plan.retain.append(_as_topic(current))
        plan.warnings.append(
            f"{name} is no longer in topics.yaml; it is kept on the cluster and in the stack, with its data. "
            f"To delete it, list it under environments.{topology.environment}.decommission.")
    for name in sorted(decommission - managed_before):
        if name in observed:
            plan.warnings.append(f"{name} is listed for decommissioning but this stack does not manage it: "
                                 "left alone")


def _as_topic(current: ObservedTopic) -> Topic:
    try:
        ref = parse_topic_name(current.name)
        asset_class, data_type, exchange = ref.asset_class, ref.data_type, ref.exchange
    except ValueError:  # managed under a name K2 would not derive today: keep it, grouped on its own
        asset_class, data_type, exchange = "", "", current.name
    return Topic(current.name, asset_class, data_type, exchange, current.partitions,
                 current.replication_factor, dict(current.config))


def declared_by_exchange(topology: Topology, plan: Plan) -> dict[tuple[str, str], list[Topic]]:
    """(asset_class, exchange) -> the topics to declare: the desired ones plus those retained."""
    return group_by_exchange([*topology.topics, *plan.retain])
