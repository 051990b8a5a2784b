"""Deploy a topology without Pulumi: topics with the AdminClient, subjects with the registry client,
and the stack outputs the Pulumi program would export for them."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from k2infra.contracts.outputs import ExchangeInfo, StackOutputs, SubjectInfo, TopicInfo
from k2infra.local import PlatformState
from k2infra.model import load_topology

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = Path(__file__).parent / "topology.yaml"


def deploy(platform: PlatformState, extra_topics: dict[str, int]) -> StackOutputs:
    topology = load_topology(TOPOLOGY, None, schemas_dir=ROOT / "schemas")
    admin = AdminClient({"bootstrap.servers": platform.bootstrap_servers})
    new = [NewTopic(t.name, t.partitions, t.replication_factor, config=dict(t.config)) for t in topology.topics]
    new += [NewTopic(name, count, 1, config={"compression.type": "lz4"}) for name, count in extra_topics.items()]
    for future in admin.create_topics(new).values():
        future.result(timeout=60)
    registry = SchemaRegistryClient({"url": platform.schema_registry_url})
    subjects = []
    for s in topology.subjects:
        registry.register_schema(s.subject, Schema(s.schema, "AVRO"))
        registry.set_compatibility(s.subject, s.compatibility)
        latest = registry.get_latest_version(s.subject)
        subjects.append(SubjectInfo.model_validate({**s.to_dict(), "schema_id": latest.schema_id,
                                                    "version": latest.version}))
    return StackOutputs(
        environment="bench", stack="bench", bootstrap_servers=platform.bootstrap_servers,
        schema_registry_url=platform.schema_registry_url,
        topics=tuple(TopicInfo.model_validate(t.to_dict()) for t in topology.topics),
        subjects=tuple(subjects), exchanges=tuple(ExchangeInfo.model_validate(e.to_dict()) for e in topology.exchanges),
    ).from_source("bench deployment")
