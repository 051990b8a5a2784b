"""What a stack manages, read from its own state (`pulumi stack export`), not from its outputs.

Pure: the caller runs the export. Only resources the state holds as live count (a resource pending
deletion does not); each topic and subject keeps the inputs it was last declared with, so a retained
one can be declared again exactly as it was even when the cluster no longer has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from k2infra.contracts.naming import DYNAMIC_RESOURCE_TYPE, KAFKA_ACL_TYPE, KAFKA_TOPIC_TYPE, KAFKA_USER_TYPE
from k2infra.model.plan import ManagedSubject, ObservedTopic

ENGINE_OBJECT_TYPES = ("docker:index/container:Container", "docker:index/volume:Volume", "docker:index/network:Network")


@dataclass(frozen=True)
class StackRecord:
    topics: dict[str, ObservedTopic] = field(default_factory=dict)
    subjects: dict[str, ManagedSubject] = field(default_factory=dict)
    containers: tuple[str, ...] = ()  # docker mode: the platform's containers, once created
    # Topics and subjects whose deletion by Pulumi would reach the cluster (no retain_on_delete in state):
    # those a decommission released in an earlier update, or those of a throwaway stack.
    released: frozenset[str] = frozenset()
    acls: frozenset[str] = frozenset()  # binding keys (k2infra.model.access.Binding.key) the stack declared
    # docker mode: the names of the networks, volumes and containers the stack created on the engine
    engine_objects: frozenset[str] = frozenset()
    users: dict[str, str] = field(default_factory=dict)  # app -> the SCRAM user the stack declared for it

    @property
    def empty(self) -> bool:
        return not (self.topics or self.subjects or self.containers)


def parse_export(export: Mapping[str, Any]) -> StackRecord:
    """`pulumi stack export` JSON -> what the stack manages. ValueError if it is not a stack export."""
    deployment = export.get("deployment")
    if not isinstance(deployment, Mapping):
        raise ValueError("not the JSON of `pulumi stack export` (no deployment)")
    record = StackRecord()
    containers, released, acls, engine_objects = [], set(), set(), set()
    users: dict[str, str] = {}
    for resource in deployment.get("resources") or []:
        if resource.get("delete") or resource.get("pendingReplacement"):
            continue
        kind, inputs = resource.get("type"), resource.get("inputs") or {}
        outputs = resource.get("outputs") or {}
        if kind == KAFKA_TOPIC_TYPE and inputs.get("name"):
            config = {str(k): str(v) for k, v in (inputs.get("config") or {}).items()}
            if not resource.get("retainOnDelete"):
                released.add(inputs["name"])
            record.topics[inputs["name"]] = ObservedTopic(inputs["name"], int(inputs.get("partitions") or 0),
                                                          int(inputs.get("replicationFactor") or 0), config)
        elif kind == DYNAMIC_RESOURCE_TYPE and isinstance(inputs.get("subject"), str) and "schema" in inputs:
            if not resource.get("retainOnDelete"):
                released.add(inputs["subject"])
            level = outputs.get("compatibility") or inputs.get("compatibility")
            record.subjects[inputs["subject"]] = ManagedSubject(inputs["subject"], str(inputs["schema"]), str(level))
        elif kind == KAFKA_USER_TYPE and inputs.get("username"):
            users[str(resource.get("urn", "")).rsplit("::", 1)[-1].rsplit("/", 1)[0]] = str(inputs["username"])
        elif kind == KAFKA_ACL_TYPE:
            acls.add(str(resource.get("urn", "")).rsplit("::", 1)[-1])
        elif kind in ENGINE_OBJECT_TYPES:
            if kind == "docker:index/container:Container":
                containers.append(str(resource.get("urn")))
            if inputs.get("name"):
                engine_objects.add(str(inputs["name"]))
    return StackRecord(record.topics, record.subjects, tuple(containers), frozenset(released), frozenset(acls),
                       frozenset(engine_objects), users)
