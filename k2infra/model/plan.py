"""The change plan: desired topology vs what the cluster has and what the stack managed before.

Pure: the caller observes the cluster and reads the stack's state. The plan refuses the changes Kafka
cannot make in place (fewer partitions, another replication factor) instead of letting the provider
delete and recreate a topic; it refuses config changes that lose data or break writers unless
topics.yaml acknowledges them; and it never drops a topic or a subject just because its entry left
topics.yaml: it is retained until listed for decommissioning, and a subject as long as a topic uses it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from k2infra.contracts.kafka_names import collisions, is_internal_topic, metric_name
from k2infra.contracts.naming import (
    SUBJECT_NAME,
    in_k2_namespace,
    is_legacy_topic_name,
    parse_topic_name,
    subject_regex,
)
from k2infra.model.data_loss import Acknowledgement, LossChange, losses
from k2infra.model.entities import Subject, Topic, group_by_exchange
from k2infra.model.topology import Topology


@dataclass(frozen=True)
class ObservedTopic:
    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]  # the topic's own settings, not broker defaults


@dataclass(frozen=True)
class ManagedSubject:
    """A subject as the stack last declared it (from its state)."""

    subject: str
    schema: str
    compatibility: str


@dataclass
class Plan:
    create: list[str] = field(default_factory=list)
    adopt: list[str] = field(default_factory=list)  # on the cluster already, not yet managed: imported
    update: list[str] = field(default_factory=list)  # partitions added or config changed, in place
    unchanged: list[str] = field(default_factory=list)
    retain: list[Topic] = field(default_factory=list)  # gone from topics.yaml, kept on the cluster
    # Listed for decommissioning, still protected by retain_on_delete: this update releases them, the next
    # one deletes them (Pulumi deletes with the protection the state holds, so it takes two steps).
    release: list[Topic] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)  # listed for decommissioning and released
    refused: list[str] = field(default_factory=list)  # would lose data: the whole plan stops
    losses: list[LossChange] = field(default_factory=list)  # lose data or break writers: refused, unacknowledged
    acknowledged: list[tuple[LossChange, Acknowledgement]] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # managed, yet missing from the cluster
    retain_subjects: list[Subject] = field(default_factory=list)
    release_subjects: list[Subject] = field(default_factory=list)
    delete_subjects: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def refusing(self) -> bool:
        return bool(self.refused or self.losses)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "create": self.create, "adopt": self.adopt, "update": self.update, "unchanged": self.unchanged,
            "retain": [t.name for t in self.retain], "release": [t.name for t in self.release],
            "delete": self.delete, "refused": self.refused,
            "losses": [c.describe_with_origin() for c in self.losses],
            "acknowledged": [f"{c.describe()} (acknowledged at {a.where}: {a.reason})" for c, a in self.acknowledged],
            "vanished": self.vanished, "retain_subjects": [s.subject for s in self.retain_subjects],
            "release_subjects": [s.subject for s in self.release_subjects], "delete_subjects": self.delete_subjects,
            "warnings": self.warnings,
        }


def plan_changes(topology: Topology, observed: Mapping[str, ObservedTopic], managed: Mapping[str, ObservedTopic],
                 managed_subjects: Mapping[str, ManagedSubject] | None = None, allow_removal: bool = False,
                 released: Collection[str] | None = None, cluster_names: Collection[str] = ()) -> Plan:
    """Topics, then subjects; `managed` and `managed_subjects` are what the stack declared last time, and
    `released` those of them Pulumi may delete (None: all of them). `observed` holds the cluster's market.*
    topics, `cluster_names` the names of all of its topics (whatever their prefix)."""
    plan = plan_topics(topology, observed, managed, allow_removal, released, cluster_names)
    plan_subjects(topology, managed_subjects or {}, plan, allow_removal, released)
    return plan


def plan_topics(topology: Topology, observed: Mapping[str, ObservedTopic], managed: Mapping[str, ObservedTopic],
                allow_removal: bool = False, released: Collection[str] | None = None,
                cluster_names: Collection[str] = ()) -> Plan:
    plan = Plan()
    colliding = collisions([t.name for t in topology.topics if t.name not in observed],
                           [*observed, *cluster_names])
    for topic in topology.topics:
        current = observed.get(topic.name)
        if topic.name in colliding:
            plan.refused.append(_collision(topic, colliding[topic.name]))
            continue
        if current is None:
            plan.create.append(topic.name)
            if topic.name in managed:
                plan.vanished.append(topic.name)
                plan.warnings.append(f"{topic.name} is managed by this stack but missing from the cluster (deleted "
                                     "outside K2?): its data is gone. `pulumi refresh` then `pulumi up` creates it "
                                     "again, empty")
            continue
        refusals = _refusals(topic, current) + _state_behind(topic, current, managed.get(topic.name))
        changes = losses(topic.name, topic.config, current.config, topic.origins)
        if refusals:
            plan.refused += refusals
        elif changes:
            _acknowledge(topology, changes, plan)
        if not refusals and (topic.partitions != current.partitions or dict(topic.config) != dict(current.config)):
            plan.update.append(topic.name)
        elif not refusals:
            plan.unchanged.append(topic.name)
        if topic.name not in managed:
            plan.adopt.append(topic.name)
            plan.warnings.append(f"{topic.name} already exists on the cluster: this stack adopts it (import), "
                                 "which needs its partitions and config to match topics.yaml")
    _removed(topology, observed, managed, allow_removal, released, plan)
    _stale_acknowledgements(topology, plan)
    return plan


def _collision(topic: Topic, existing: str) -> str:
    return (f"{topic.name}: the cluster has the topic {existing}, which collides with it in Kafka's metrics "
            f"({metric_name(existing)}: '.' and '_' are the same there), so Kafka refuses to create this one. Rename "
            f"the codes in topics.yaml, or retire {existing} first")


def _state_behind(topic: Topic, current: ObservedTopic, recorded: ObservedTopic | None) -> list[str]:
    """A partition increase the cluster has but the state does not: an update killed after Kafka applied it.
    Pulumi would ask Kafka for the same increase again, which Kafka refuses; a targeted refresh records it."""
    if recorded is None or not 0 < recorded.partitions < current.partitions == topic.partitions:
        return []
    return [f"{topic.name}: the stack's state records {recorded.partitions} partitions, but the cluster already has "
            f"{current.partitions}, as topics.yaml asks (an update applied but not recorded: interrupted?). Record "
            f"it first, on this stack: pulumi refresh --yes --target '**::{topic.name}', then rerun"]


def _acknowledge(topology: Topology, changes: list[LossChange], plan: Plan) -> None:
    for change in changes:
        ack = next((a for a in topology.acknowledgements if a.covers(change.topic, change.change, change.new)), None)
        if ack is None:
            plan.losses.append(change)
        else:
            plan.acknowledged.append((change, ack))


def _stale_acknowledgements(topology: Topology, plan: Plan) -> None:
    used = {a.where for _, a in plan.acknowledged}
    for ack in topology.acknowledgements:
        if ack.where not in used:
            plan.warnings.append(f"{ack.where}: acknowledges {ack.change} -> {ack.to} for {', '.join(ack.topics)}, "
                                 "which no topic of this stack is about to change: once every environment has it, "
                                 "remove the entry")


def _refusals(topic: Topic, current: ObservedTopic) -> list[str]:
    out = []
    if topic.partitions < current.partitions:
        out.append(
            f"{topic.name}: partitions {current.partitions} -> {topic.partitions} refused. Kafka cannot remove "
            "partitions, and the provider would delete and recreate the topic, losing its messages and committed "
            f"offsets. Keep partitions: {current.partitions} in topics.yaml; to really shrink, create a new topic, "
            "move producers and consumers to it, then decommission this one."
            + _at(topic, "partitions")
        )
    if topic.replication_factor != current.replication_factor:
        out.append(
            f"{topic.name}: replication factor {current.replication_factor} -> {topic.replication_factor} refused. "
            "Changing it needs a partition reassignment (kafka-reassign-partitions.sh), which a topic update "
            "cannot do without recreating the topic. Keep the current factor for this environment, or reassign "
            "the partitions first and then change topics.yaml to match."
            + _at(topic, "replication_factor")
        )
    return out


def _at(topic: Topic, setting: str) -> str:
    origin = topic.origins.get(setting)
    return f" (set at {origin})" if origin else ""


def _removed(topology: Topology, observed: Mapping[str, ObservedTopic], managed: Mapping[str, ObservedTopic],
             allow_removal: bool, released: Collection[str] | None, plan: Plan) -> None:
    desired = {t.name for t in topology.topics}
    decommission = set(topology.decommission)
    for name in sorted(set(managed) - desired):
        current = observed.get(name)
        if is_internal_topic(name):
            plan.refused.append(_not_ours(name))
            continue
        if not in_k2_namespace(name, topology.legacy_names):
            _keep_foreign(topology, managed[name], name in decommission, allow_removal, plan)
            continue
        if name in decommission or allow_removal:
            if topology.protected:
                plan.refused.append(f"{name}: deleting a topic in the protected environment "
                                    f"{topology.environment} is refused. Remove it from "
                                    f"environments.{topology.environment}.decommission, or un-protect the "
                                    "environment in a reviewed change of its own.")
            elif current is not None and (allow_removal or released is None or name in released):
                plan.delete.append(name)
            elif current is not None:
                plan.release.append(_as_topic(current))
                plan.warnings.append(f"{name} is listed for decommissioning: this update releases it (no longer "
                                     "kept by Pulumi on delete); the next update deletes it")
            continue  # listed and already gone from the cluster: nothing left to keep
        if current is None:
            # Fail closed: still declared from the stack's own record, never silently dropped.
            plan.vanished.append(name)
            plan.warnings.append(f"{name} is retained by this stack but missing from the cluster (deleted outside "
                                 "K2?): it stays in the stack as it was last declared")
        plan.retain.append(_as_topic(current or managed[name]))
        plan.warnings.append(
            f"{name} is no longer in topics.yaml; it is kept on the cluster and in the stack, with its data. "
            f"To delete it, list it under environments.{topology.environment}.decommission.")
    for name in sorted(decommission - set(managed)):
        if name in topology.legacy_names and name in observed and is_legacy_topic_name(name):
            _retire_legacy(topology, observed[name], plan)
        elif name in observed:
            plan.warnings.append(f"{name} is listed for decommissioning but this stack does not manage it: "
                                 "left alone")


def _not_ours(name: str) -> str:
    # Only a crafted or damaged state gets here: topics.yaml cannot make K2 declare an internal topic.
    return (f"{name}: the stack's state holds {name}, an internal topic of Kafka or of a tool around it, as one it "
            "manages. K2 never declares, changes or deletes such a topic: remove it from the state (`pulumi state "
            "delete <urn>`, the URN from `pulumi stack --show-urns`) and check who edited the state")


def _keep_foreign(topology: Topology, recorded: ObservedTopic, listed: bool, allow_removal: bool,
                  plan: Plan) -> None:
    """A topic the state holds under a name outside K2's namespace: never deleted, whatever asks for it (a
    decommission, a throwaway stack). `observed` holds only market.* topics: the record is all there is."""
    name = recorded.name
    if listed or allow_removal:
        plan.refused.append(_foreign(topology, name, "topic", listed))
        return
    plan.retain.append(_as_topic(recorded))
    plan.warnings.append(f"{name} is in this stack's state but not K2's (no exchange topic of topics.yaml's naming "
                         "rule, nor a declared legacy topic): it stays in the stack as it was last declared and is "
                         "never deleted. Remove it from the state if the stack should not manage it")


def _foreign(topology: Topology, name: str, what: str, listed: bool) -> str:
    """Deleting a name outside K2's namespace: refused whatever lists it (a decommission, a throwaway stack)."""
    where = (f"Remove it from environments.{topology.environment}.decommission" if listed else
             "This stack deletes what it manages (k2:allowTopicDeletion), so remove it from the stack's state")
    return (f"{name}: deleting this {what} is refused: it is not K2's (not named by topics.yaml's naming rule, "
            f"nor a declared legacy topic), so K2 never deletes it. {where}")


def _retire_legacy(topology: Topology, current: ObservedTopic, plan: Plan) -> None:
    """A legacy topic (legacy_topics) listed for decommissioning: never managed by a stack, so this update
    adopts it (import, as it is) already released, and the next one deletes it, as for any released topic."""
    if topology.protected:
        plan.refused.append(f"{current.name}: deleting a topic in the protected environment {topology.environment} "
                            f"is refused. Remove it from environments.{topology.environment}.decommission.")
        return
    plan.adopt.append(current.name)
    plan.release.append(_as_topic(current))
    plan.warnings.append(f"{current.name} is a legacy topic listed for decommissioning: this update adopts it "
                         "released, the next update deletes it with its data (`k2 migrate plan` checks that no "
                         "consumer or producer still uses it)")


def plan_subjects(topology: Topology, managed: Mapping[str, ManagedSubject], plan: Plan,
                  allow_removal: bool = False, released: Collection[str] | None = None) -> None:
    """A subject leaves with its last topic: retained while any topic (desired or retained) uses it or until
    it is listed for decommissioning; then deleted softly (old messages stay decodable by id); never in a
    protected environment."""
    desired = {s.subject for s in topology.subjects}
    # Topics on their way out (released or deleted by this update) do not hold their subject back.
    in_use = {topology.subject_of(t) for t in [*topology.topics, *plan.retain]}
    decommission = set(topology.decommission)
    for name in sorted(set(managed) - desired):
        users = sorted(t.name for t in plan.retain if topology.subject_of(t) == name)
        listed = name in decommission or allow_removal
        if listed and name not in in_use:
            if not _is_subject(topology, name):
                plan.refused.append(_foreign(topology, name, "subject", name in decommission))
            elif topology.protected:
                plan.refused.append(f"{name}: deleting a subject in the protected environment "
                                    f"{topology.environment} is refused. Remove it from "
                                    f"environments.{topology.environment}.decommission.")
            elif allow_removal or released is None or name in released:
                plan.delete_subjects.append(name)
            else:
                plan.release_subjects.append(_as_subject(managed[name], []))
                plan.warnings.append(f"{name} is listed for decommissioning: this update releases it; the next "
                                     "update deletes it, softly (old messages stay decodable by id)")
            continue
        plan.retain_subjects.append(_as_subject(managed[name], users))
        why = (f"retained topics still use it ({', '.join(users)})" if users
               else f"to delete it (softly: old messages stay decodable by id), list it under "
                    f"environments.{topology.environment}.decommission")
        plan.warnings.append(f"{name} is no longer in topics.yaml; the subject is kept with its schemas: {why}.")


def _is_subject(topology: Topology, name: str) -> bool:
    try:
        return subject_regex(topology.subject_pattern).fullmatch(name) is not None
    except ValueError:
        return False


def _as_topic(current: ObservedTopic) -> Topic:
    try:
        ref = parse_topic_name(current.name)
        asset_class, data_type, exchange = ref.asset_class, ref.data_type, ref.exchange
    except ValueError:  # managed under a name K2 would not derive today: keep it, grouped on its own
        asset_class, data_type, exchange = "", "", current.name
    return Topic(current.name, asset_class, data_type, exchange, current.partitions,
                 current.replication_factor, dict(current.config))


def _as_subject(managed: ManagedSubject, users: list[str]) -> Subject:
    parts = SUBJECT_NAME.fullmatch(managed.subject)
    asset_class, data_type = (parts["asset_class"], parts["data_type"]) if parts else ("", "")
    return Subject(managed.subject, asset_class, data_type, schema_file="", schema=managed.schema,
                   compatibility=managed.compatibility, partition_key="symbol", topics=tuple(users))


def declared_by_exchange(topology: Topology, plan: Plan) -> dict[tuple[str, str], list[Topic]]:
    """(asset_class, exchange) -> the topics to declare: the desired ones plus those retained or released."""
    return group_by_exchange([*topology.topics, *plan.retain, *plan.release])


def deletable(topology: Topology, plan: Plan, throwaway: bool) -> set[str]:
    """Topics and subjects to declare without retain_on_delete, so that Pulumi's delete reaches the cluster:
    those a decommission releases, or every one of a throwaway stack (never in a protected environment)."""
    if topology.protected:
        return set()
    if throwaway:
        topics = [*topology.topics, *plan.retain, *plan.release]
        subjects = [*topology.subjects, *plan.retain_subjects, *plan.release_subjects]
    else:
        topics, subjects = plan.release, plan.release_subjects
    # Defence in depth: whatever the plan holds, only names in K2's namespace may be declared deletable.
    return ({t.name for t in topics if in_k2_namespace(t.name, topology.legacy_names)}
            | {s.subject for s in subjects if _is_subject(topology, s.subject)})
